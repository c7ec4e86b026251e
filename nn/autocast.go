package nn

import (
	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// Autocast returns be under precision p, as PyTorch's autocast context: the
// layers of this package, given it, compute each op in the dtype the
// autocast policy (package amp) gives it, casting their inputs and
// parameters with the cast op, whose backward rule casts the gradients
// back. Parameters, and so their gradients and the optimiser, stay float32.
// Under FP32 it returns be itself. Wrap the outermost backend the layers
// get (a Tape inside it records the casts).
func Autocast(be backend.Backend, p amp.Precision) backend.Backend {
	if p == amp.FP32 || p == 0 {
		return be
	}
	return autocast{Backend: be, p: p}
}

// autocast is a backend under a precision: every call goes through to the
// wrapped backend; layers read the precision (precisionOf).
type autocast struct {
	backend.Backend
	p amp.Precision
}

// PrecisionOf returns the precision layers compute in on be: the one
// Autocast gave it, else FP32.
func PrecisionOf(be backend.Backend) amp.Precision {
	if a, ok := be.(autocast); ok {
		return a.p
	}
	return amp.FP32
}

// dtypeFor returns the dtype op computes in on be given its floating
// inputs.
func dtypeFor(be backend.Backend, op backend.Op, inputs ...*backend.Tensor) backend.DType {
	ds := make([]backend.DType, 0, len(inputs))
	for _, t := range inputs {
		if t != nil {
			ds = append(ds, t.DType())
		}
	}
	return PrecisionOf(be).DType(op, ds...)
}

// Sum returns a + b (b of a's shape or a trailing part of it, broadcast) in
// the dtype the policy gives add, consuming a: the sum is added into a in
// place when a has that dtype, else into a new tensor (a cast of a) and a
// is released. Residual streams and position rows are added so: under
// autocast a 16-bit branch output plus the float32 stream is float32.
func Sum(be backend.Backend, a, b *backend.Tensor) *backend.Tensor {
	dt := dtypeFor(be, backend.OpAdd, a, b)
	s := &backend.Temps{B: be}
	defer s.Release()
	y := a
	if a.DType() != dt {
		y = be.New(dt, a.Shape()...)
		backend.Cast(be, y, a)
		be.Release(a)
	}
	backend.Add(be, y, y, s.Cast(b, dt))
	return y
}
