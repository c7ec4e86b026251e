package naive

import (
	"github.com/ijepa-go/ijepa/backend"
)

// device runs the naive float64 ops behind the backend.Device interface:
// tensors are stored as float64 (indices too), writes widen float32 exactly,
// reads round to float32.
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
		DTypes: []backend.DType{backend.F32, backend.I32}, Ops: have}
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
	if t.DType() == backend.I32 {
		for i, v := range backend.BytesI32(src) {
			d[i] = float64(v)
		}
		return nil
	}
	for i, v := range backend.BytesF32(src) {
		d[i] = float64(v)
	}
	return nil
}

// Read rounds t into dst.
func (device) Read(t *backend.Tensor, dst []byte) error {
	d := data(t)
	if t.DType() == backend.I32 {
		out := backend.BytesI32(dst)
		for i, v := range d {
			out[i] = int32(v)
		}
		return nil
	}
	out := backend.BytesF32(dst)
	for i, v := range d {
		out[i] = float32(v)
	}
	return nil
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
	return Exec(c.Op, args, shapes, c.Attrs)
}

// Sync has nothing to wait for: ops run inside Run.
func (device) Sync() error { return nil }

// Err reports no faults.
func (device) Err() error { return nil }

// Close has nothing to free.
func (device) Close() error { return nil }
