package backend

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Shape is the size of each dimension of a tensor, outermost first. Tensors
// are row-major and contiguous: the last dimension varies fastest.
type Shape []int

// NumElements returns the product of the dimensions (1 for a scalar shape).
func (s Shape) NumElements() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether s and o have the same rank and dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// String formats the shape as "[2,3,4]".
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Clone returns a copy of s that shares no memory with it.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Validate reports an error when a dimension is not positive or the shape is
// empty.
func (s Shape) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("shape has no dimensions")
	}
	for _, d := range s {
		if d <= 0 {
			return fmt.Errorf("shape %v has a dimension %d that is not positive", s, d)
		}
	}
	return nil
}

var nextStorageID atomic.Uint64

// Storage is the memory behind one or more tensor handles (a tensor and its
// reshaped views). Backends create it through NewTensor and keep their own
// data in Impl; the handles count references so that the memory is freed when
// the last handle is released.
type Storage struct {
	// ID is unique within the process; the plugin protocol uses it as the
	// client-assigned tensor id.
	ID uint64
	// DType and Len (in elements) describe the memory.
	DType DType
	Len   int
	// Impl is the backend's own representation of the memory.
	Impl any

	refs atomic.Int32

	// The range of the values last written from the host into an I32
	// tensor, so that gather and scatter-add indices are checked on the host
	// before anything is queued.
	idxMin, idxMax int32
	idxKnown       bool
}

// IndexRange returns the smallest and largest value last written into an I32
// storage from the host, and whether any was written.
func (s *Storage) IndexRange() (lo, hi int32, ok bool) { return s.idxMin, s.idxMax, s.idxKnown }

// Tensor is a handle to a tensor owned by one backend: a shape and a dtype
// over a Storage. Handles are cheap; Reshape makes another handle over the same
// storage. A handle is dead once released; using it is an error.
type Tensor struct {
	shape    Shape
	dtype    DType
	store    *Storage
	released atomic.Bool
}

// NewTensor makes the first handle of a new storage. It is meant for backend
// implementations; users allocate through Backend.New.
func NewTensor(dt DType, shape Shape, impl any) *Tensor {
	st := &Storage{ID: nextStorageID.Add(1), DType: dt, Len: shape.NumElements(), Impl: impl}
	st.refs.Store(1)
	return &Tensor{shape: shape.Clone(), dtype: dt, store: st}
}

// NewTensorWithID is NewTensor with a storage id chosen by the caller (a
// plugin server mirrors the client's ids).
func NewTensorWithID(id uint64, dt DType, shape Shape, impl any) *Tensor {
	t := NewTensor(dt, shape, impl)
	t.store.ID = id
	return t
}

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor) Shape() Shape { return t.shape }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// NumElements returns the number of elements.
func (t *Tensor) NumElements() int { return t.shape.NumElements() }

// Bytes returns the size of the tensor's data in bytes.
func (t *Tensor) Bytes() int { return t.NumElements() * t.dtype.Size() }

// Storage returns the memory behind the handle (for backend implementations).
func (t *Tensor) Storage() *Storage { return t.store }

// Released reports whether this handle was released.
func (t *Tensor) Released() bool { return t.released.Load() }

// String formats the handle as "f32[2,3]".
func (t *Tensor) String() string {
	if t == nil {
		return "nil"
	}
	s := t.dtype.String() + t.shape.String()
	if t.Released() {
		s += "(released)"
	}
	return s
}

// Reshape returns a new handle over the same storage with another shape of the
// same number of elements. Release each handle separately; the storage is
// freed when the last one is released.
func Reshape(t *Tensor, shape ...int) (*Tensor, error) {
	if t == nil {
		return nil, fmt.Errorf("backend: reshape of a nil tensor")
	}
	if t.Released() {
		return nil, fmt.Errorf("backend: reshape of %v: %w", t, ErrReleased)
	}
	s := Shape(shape)
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("backend: reshape of %v: %v", t, err)
	}
	if s.NumElements() != t.NumElements() {
		return nil, fmt.Errorf("backend: reshape of %v to %v: %d elements cannot become %d", t, s, t.NumElements(), s.NumElements())
	}
	t.store.refs.Add(1)
	return &Tensor{shape: s.Clone(), dtype: t.dtype, store: t.store}, nil
}

// MustReshape is Reshape for shapes the caller has already checked; it panics
// on error.
func MustReshape(t *Tensor, shape ...int) *Tensor {
	r, err := Reshape(t, shape...)
	if err != nil {
		panic(err)
	}
	return r
}

// Drop marks the handle released and reports whether it was the last live
// handle of its storage, in which case the backend frees the memory. Dropping
// a handle twice does nothing the second time. It is meant for backend
// implementations of Release.
func (t *Tensor) Drop() (last bool) {
	if t == nil || t.released.Swap(true) {
		return false
	}
	return t.store.refs.Add(-1) == 0
}

// NoteWrite records what the host wrote into the tensor, for checks that
// need it (the index range of I32 tensors). Backends call it from Write.
func (t *Tensor) NoteWrite(src []byte) {
	if t.dtype != I32 {
		return
	}
	idx := BytesI32(src)
	if len(idx) == 0 {
		return
	}
	lo, hi := idx[0], idx[0]
	for _, v := range idx[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	t.store.idxMin, t.store.idxMax, t.store.idxKnown = lo, hi, true
}
