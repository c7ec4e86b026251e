package backend_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

// host makes tensors without a backend: Check needs only shapes, dtypes and
// the host-written index range.
func host(dt backend.DType, shape ...int) *backend.Tensor {
	return backend.NewTensor(dt, shape, nil)
}

func f32(shape ...int) *backend.Tensor { return host(backend.F32, shape...) }

func indices(v ...int32) *backend.Tensor {
	t := host(backend.I32, len(v))
	t.NoteWrite(backend.I32Bytes(v))
	return t
}

func TestCheck(t *testing.T) {
	shared := f32(4, 4)
	released := f32(3)
	released.Drop()
	tests := []struct {
		name string
		call backend.Call
		err  error  // nil: the call is valid
		msg  string // a part of the message
	}{
		{"matmul ok", backend.Call{Op: backend.OpMatMul, Args: []*backend.Tensor{f32(2, 4), f32(2, 3), f32(4, 3)}, Attrs: backend.Attrs{TransB: true}}, nil, ""},
		{"matmul inner", backend.Call{Op: backend.OpMatMul, Args: []*backend.Tensor{f32(2, 4), f32(2, 3), f32(4, 3)}}, backend.ErrShape, "inner dimensions differ: op(a) is 2x3, op(b) is 4x3"},
		{"matmul ranks", backend.Call{Op: backend.OpMatMul, Args: []*backend.Tensor{f32(2, 2, 4), f32(2, 3), f32(3, 4)}}, backend.ErrShape, "rank"},
		{"matmul batch", backend.Call{Op: backend.OpMatMul, Args: []*backend.Tensor{f32(2, 2, 4), f32(3, 2, 3), f32(2, 3, 4)}}, backend.ErrShape, "batch sizes differ"},
		{"add suffix", backend.Call{Op: backend.OpAdd, Args: []*backend.Tensor{f32(2, 3, 4), f32(2, 3, 4), f32(3, 4)}}, nil, ""},
		{"add not suffix", backend.Call{Op: backend.OpAdd, Args: []*backend.Tensor{f32(2, 3, 4), f32(2, 3, 4), f32(2, 3)}}, backend.ErrShape, "trailing part"},
		{"add in place", backend.Call{Op: backend.OpAdd, Args: []*backend.Tensor{shared, shared, f32(4)}}, nil, ""},
		{"softmax aliasing", backend.Call{Op: backend.OpSoftmax, Args: []*backend.Tensor{shared, shared}}, backend.ErrShape, "shares storage"},
		{"dtype", backend.Call{Op: backend.OpGELU, Args: []*backend.Tensor{f32(3), host(backend.I32, 3)}}, backend.ErrShape, "argument x is i32, want f32"},
		{"released", backend.Call{Op: backend.OpGELU, Args: []*backend.Tensor{f32(3), released}}, backend.ErrReleased, "argument x"},
		{"nil required", backend.Call{Op: backend.OpGELU, Args: []*backend.Tensor{f32(3), nil}}, nil, "argument x is nil"},
		{"arg count", backend.Call{Op: backend.OpGELU, Args: []*backend.Tensor{f32(3)}}, backend.ErrShape, "1 tensor arguments, want 2"},
		{"gather range", backend.Call{Op: backend.OpGather, Args: []*backend.Tensor{f32(2, 5), f32(3, 5), indices(0, 3)}}, backend.ErrIndex, "indices span [0,3], rows are [0,3)"},
		{"gather negative", backend.Call{Op: backend.OpGather, Args: []*backend.Tensor{f32(2, 5), f32(3, 5), indices(-1, 0)}}, backend.ErrIndex, "[-1,0]"},
		{"gather unwritten", backend.Call{Op: backend.OpGather, Args: []*backend.Tensor{f32(2, 5), f32(3, 5), host(backend.I32, 2)}}, backend.ErrIndex, "never written"},
		{"gather shape", backend.Call{Op: backend.OpGather, Args: []*backend.Tensor{f32(2, 4), f32(3, 5), indices(0, 1)}}, backend.ErrShape, "y must be [2,5]"},
		{"layernorm affine pair", backend.Call{Op: backend.OpLayerNorm, Args: []*backend.Tensor{f32(2, 5), f32(2), f32(2), f32(2, 5), f32(5), nil}}, backend.ErrShape, "both given or both nil"},
		{"layernorm eps", backend.Call{Op: backend.OpLayerNorm, Args: []*backend.Tensor{f32(2, 5), f32(2), f32(2), f32(2, 5), nil, nil}, Attrs: backend.Attrs{Eps: -1}}, nil, "Eps -1"},
		{"split heads ok", backend.Call{Op: backend.OpSplitHeads, Args: []*backend.Tensor{f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 5, 36)}, Attrs: backend.Attrs{Heads: 3}}, nil, ""},
		{"split heads names", backend.Call{Op: backend.OpSplitHeads, Args: []*backend.Tensor{f32(2, 3, 5, 4), f32(2, 3, 5, 5), f32(2, 5, 24)}, Attrs: backend.Attrs{Heads: 3}}, backend.ErrShape, "out1=f32[2,3,5,5]"},
		{"patchify", backend.Call{Op: backend.OpPatchify, Args: []*backend.Tensor{f32(1, 4, 12), f32(1, 3, 4, 5)}, Attrs: backend.Attrs{Patch: 2}}, backend.ErrShape, "not a multiple of patch 2"},
		{"smooth l1 beta", backend.Call{Op: backend.OpSmoothL1, Args: []*backend.Tensor{f32(1), f32(3), f32(3)}}, nil, "Beta 0"},
		{"adamw step", backend.Call{Op: backend.OpAdamW, Args: []*backend.Tensor{f32(3), f32(3), f32(3), f32(3)}, Attrs: backend.Attrs{Beta1: 0.9, Beta2: 0.999}}, nil, "Step 0"},
		{"unknown op", backend.Call{Op: 999}, nil, "unknown op 999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := backend.Check(tc.call)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check = nil, want an error containing %q", tc.msg)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("Check = %v, want errors.Is %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Check = %q, want it to contain %q", err, tc.msg)
			}
			if tc.call.Op.Valid() && !strings.HasPrefix(err.Error(), tc.call.Op.String()+"(") {
				t.Errorf("Check = %q, want it to start with the op and its arguments", err)
			}
		})
	}
}

func TestReshape(t *testing.T) {
	x := f32(2, 6)
	v, err := backend.Reshape(x, 3, 4)
	if err != nil || v.Storage() != x.Storage() {
		t.Fatalf("Reshape = %v, %v; want a view of the same storage", v, err)
	}
	if _, err := backend.Reshape(x, 5); err == nil || !strings.Contains(err.Error(), "12 elements cannot become 5") {
		t.Errorf("Reshape to 5 elements = %v", err)
	}
	if x.Drop() {
		t.Error("dropping the first of two handles freed the storage")
	}
	if !v.Drop() {
		t.Error("dropping the last handle did not free the storage")
	}
	if v.Drop() {
		t.Error("dropping a handle twice freed the storage twice")
	}
}

func TestOpNames(t *testing.T) {
	for _, op := range backend.Ops() {
		got, err := backend.ParseOp(op.String())
		if err != nil || got != op {
			t.Errorf("ParseOp(%q) = %v, %v", op, got, err)
		}
		if op.Spec().Semantics == "" {
			t.Errorf("%v has no semantics", op)
		}
	}
	if _, err := backend.ParseOp("conv2d"); err == nil {
		t.Error("ParseOp(conv2d) succeeded")
	}
}

// Check runs on every op, more than once on the plugin path: a valid call
// costs no allocation.
func TestCheckDoesNotAllocate(t *testing.T) {
	for _, c := range []backend.Call{
		{Op: backend.OpMatMul, Args: []*backend.Tensor{f32(2, 4), f32(2, 3), f32(4, 3)}, Attrs: backend.Attrs{TransB: true}},
		{Op: backend.OpSplitHeads, Args: []*backend.Tensor{f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 5, 36)}, Attrs: backend.Attrs{Heads: 3}},
		{Op: backend.OpLayerNorm, Args: []*backend.Tensor{f32(2, 5), f32(2), f32(2), f32(2, 5), f32(5), f32(5)}, Attrs: backend.Attrs{Eps: 1e-6}},
	} {
		if n := testing.AllocsPerRun(100, func() { _ = backend.Check(c) }); n > 0 {
			t.Errorf("Check of a valid %v call allocates %v times", c.Op, n)
		}
	}
}
