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
// reshaped views). The Front that allocated it owns it; the device keeps its
// own data in Impl. The handles count references so that the memory is freed
// when the last handle is released.
type Storage struct {
	// ID is unique within the process; the plugin protocol uses it as the
	// client-assigned tensor id.
	ID uint64
	// DType and Len (in elements) describe the memory.
	DType DType
	Len   int
	// Impl is the device's own representation of the memory (what
	// Device.Alloc returned); nil when the allocation failed.
	Impl any

	owner *Front // nil for placeholders
	refs  atomic.Int32

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

// newTensor makes the first handle of a new storage owned by owner, without
// memory (the Front asks its device for it).
func newTensor(dt DType, shape Shape, owner *Front) *Tensor {
	st := &Storage{ID: nextStorageID.Add(1), DType: dt, Len: shape.NumElements(), owner: owner}
	st.refs.Store(1)
	return &Tensor{shape: shape.Clone(), dtype: dt, store: st}
}

// Placeholder returns a tensor of a dtype and shape with no memory and no
// backend: an argument of a Supports query, or of a test of the op table's
// checks. Running an op on it is an error.
func Placeholder(dt DType, shape ...int) *Tensor { return newTensor(dt, shape, nil) }

// Shape returns the tensor's shape. The caller must not modify it.
func (t *Tensor) Shape() Shape { return t.shape }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// NumElements returns the number of elements.
func (t *Tensor) NumElements() int { return t.shape.NumElements() }

// Bytes returns the size of the tensor's data in bytes.
func (t *Tensor) Bytes() int { return t.NumElements() * t.dtype.Size() }

// Storage returns the memory behind the handle (for devices).
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
// freed when the last one is released. An error (a released handle, a shape
// of another size) is sticky on the tensor's backend, and the handle
// returned then has no memory. Reshape of nil is nil. It panics for a
// placeholder, which has no backend to record the error.
func Reshape(t *Tensor, shape ...int) *Tensor {
	if t == nil {
		return nil
	}
	s := Shape(shape)
	var err error
	switch {
	case t.Released():
		err = fmt.Errorf("reshape of %v: %w", t, ErrReleased)
	case s.Validate() != nil:
		err = fmt.Errorf("reshape of %v: %v", t, s.Validate())
	case s.NumElements() != t.NumElements():
		err = fmt.Errorf("reshape of %v to %v: %d elements cannot become %d", t, s, t.NumElements(), s.NumElements())
	}
	owner := t.store.owner
	if err != nil {
		if owner == nil {
			panic("backend: " + err.Error())
		}
		owner.fail(prefix(owner.name, err))
		return newTensor(t.dtype, s, owner)
	}
	t.store.refs.Add(1)
	return &Tensor{shape: s.Clone(), dtype: t.dtype, store: t.store}
}

// drop marks the handle released and reports whether it was the last live
// handle of its storage, in which case the memory is to be freed. Dropping a
// handle twice does nothing the second time.
func (t *Tensor) drop() (last bool) {
	if t == nil || t.released.Swap(true) {
		return false
	}
	return t.store.refs.Add(-1) == 0
}

// noteWrite records what the host wrote into the tensor, for checks that
// need it (the index range of I32 tensors).
func (t *Tensor) noteWrite(src []byte) {
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
