package naive

import (
	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/half"
)

// device runs the naive float64 ops behind the backend.Device interface:
// tensors are stored as float64 (indices too), writes widen their dtype
// exactly, each op's outputs are rounded once to their dtypes (so the stored
// float64 is always a value of the tensor's dtype), and reads narrow
// exactly.
type device struct{}

// New returns a naive float64 backend.
func New() *backend.Front { return backend.NewFront(device{}) }

// Info describes the naive backend; its ops are those with a statement here.
func (device) Info() backend.Info {
	var have []backend.Op
	for _, op := range backend.Ops() {
		if ops[op] != nil {
			have = append(have, op)
		}
	}
	return backend.Info{Backend: "naive", Device: "float64 reference loops", Kind: "cpu",
		DTypes: []backend.DType{backend.F32, backend.F16, backend.BF16, backend.I32}, Ops: have}
}

// Alloc allocates a zeroed float64 array.
func (device) Alloc(t *backend.Tensor, _ bool) (any, error) {
	return make([]float64, t.NumElements()), nil
}

// Free leaves the memory to the garbage collector.
func (device) Free(*backend.Storage) {}

func data(t *backend.Tensor) []float64 { return t.Storage().Impl.([]float64) }

// Write widens src into t.
func (device) Write(t *backend.Tensor, src []byte) error {
	d := data(t)
	switch t.DType() {
	case backend.I32:
		for i, v := range backend.BytesI32(src) {
			d[i] = float64(v)
		}
	case backend.F16:
		for i, v := range backend.BytesU16(src) {
			d[i] = float64(half.F16ToFloat32(v))
		}
	case backend.BF16:
		for i, v := range backend.BytesU16(src) {
			d[i] = float64(half.BF16ToFloat32(v))
		}
	default:
		for i, v := range backend.BytesF32(src) {
			d[i] = float64(v)
		}
	}
	return nil
}

// Read copies t into dst; the values are already of t's dtype.
func (device) Read(t *backend.Tensor, dst []byte) error {
	d := data(t)
	switch t.DType() {
	case backend.I32:
		out := backend.BytesI32(dst)
		for i, v := range d {
			out[i] = int32(v)
		}
	case backend.F16:
		out := backend.BytesU16(dst)
		for i, v := range d {
			out[i] = half.F16FromFloat64(v)
		}
	case backend.BF16:
		out := backend.BytesU16(dst)
		for i, v := range d {
			out[i] = half.BF16FromFloat64(v)
		}
	default:
		out := backend.BytesF32(dst)
		for i, v := range d {
			out[i] = float32(v)
		}
	}
	return nil
}

// Round rounds v, in place, once to the nearest values of dtype dt (to
// nearest, ties to even; float32, f16 or bf16), as every output of an op is
// rounded. Indices are left as they are.
func Round(dt backend.DType, v []float64) {
	switch dt {
	case backend.F32:
		for i, x := range v {
			v[i] = float64(float32(x))
		}
	case backend.F16:
		for i, x := range v {
			v[i] = float64(half.F16ToFloat32(half.F16FromFloat64(x)))
		}
	case backend.BF16:
		for i, x := range v {
			v[i] = float64(half.BF16ToFloat32(half.BF16FromFloat64(x)))
		}
	}
}

// Supports accepts every call of the ops Info lists.
func (device) Supports(backend.Call) error { return nil }

// Run executes a call.
func (device) Run(c backend.Call) error {
	args := make([][]float64, len(c.Args))
	shapes := make([]backend.Shape, len(c.Args))
	for i, t := range c.Args {
		if t != nil {
			args[i], shapes[i] = data(t), t.Shape()
		}
	}
	if err := Exec(c.Op, args, shapes, c.Attrs); err != nil {
		return err
	}
	specs := c.Op.Expand(len(c.Args))
	for i, t := range c.Args {
		if t != nil && specs[i].Role != backend.In {
			Round(t.DType(), args[i])
		}
	}
	return nil
}

// Sync has nothing to wait for: ops run inside Run.
func (device) Sync() error { return nil }

// Err reports no faults.
func (device) Err() error { return nil }

// Close has nothing to free.
func (device) Close() error { return nil }
