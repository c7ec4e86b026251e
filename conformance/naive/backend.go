package naive

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
)

// Backend runs the naive float64 ops behind the backend.Backend interface:
// tensors are stored as float64 (indices too), writes widen float32 exactly,
// reads round to float32.
type Backend struct{ backend.Sticky }

// New returns a naive float64 backend.
func New() *Backend { return &Backend{} }

// Info describes the naive backend.
func (b *Backend) Info() backend.Info {
	return backend.Info{Backend: "naive", Device: "float64 reference loops", Kind: "cpu",
		DTypes: []backend.DType{backend.F32, backend.I32}, Ops: backend.Ops()}
}

// New allocates a zeroed tensor.
func (b *Backend) New(dt backend.DType, shape ...int) (*backend.Tensor, error) {
	if err := backend.CheckNew(dt, shape); err != nil {
		return nil, fmt.Errorf("naive: %w", err)
	}
	if dt != backend.F32 && dt != backend.I32 {
		return nil, fmt.Errorf("naive: %v: %w", dt, backend.ErrUnsupported)
	}
	return backend.NewTensor(dt, shape, make([]float64, backend.Shape(shape).NumElements())), nil
}

// Data returns the float64 storage of a tensor of this backend.
func Data(t *backend.Tensor) []float64 { return t.Storage().Impl.([]float64) }

// Write widens src into t.
func (b *Backend) Write(t *backend.Tensor, src []byte) {
	if err := backend.CheckWrite(t, src); err != nil {
		b.Set(fmt.Errorf("naive: %w", err))
		return
	}
	t.NoteWrite(src)
	d := Data(t)
	if t.DType() == backend.I32 {
		for i, v := range backend.BytesI32(src) {
			d[i] = float64(v)
		}
		return
	}
	for i, v := range backend.BytesF32(src) {
		d[i] = float64(v)
	}
}

// Read rounds t into dst.
func (b *Backend) Read(t *backend.Tensor, dst []byte) error {
	if err := b.Err(); err != nil {
		return err
	}
	if err := backend.CheckRead(t, dst); err != nil {
		return fmt.Errorf("naive: %w", err)
	}
	d := Data(t)
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

// Run checks and executes a call.
func (b *Backend) Run(c backend.Call) {
	if b.Err() != nil {
		return
	}
	if err := backend.Check(c); err != nil {
		b.Set(err)
		return
	}
	args := make([][]float64, len(c.Args))
	shapes := make([]backend.Shape, len(c.Args))
	for i, t := range c.Args {
		if t != nil {
			args[i], shapes[i] = Data(t), t.Shape()
		}
	}
	if err := Exec(c.Op, args, shapes, c.Attrs); err != nil {
		b.Set(backend.NewOpError(c, err))
	}
}

// Sync returns the sticky error.
func (b *Backend) Sync() error { return b.Err() }

// Release drops a handle.
func (b *Backend) Release(t *backend.Tensor) { t.Drop() }

// Close returns the sticky error.
func (b *Backend) Close() error { return b.Err() }
