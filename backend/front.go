package backend

import (
	"errors"
	"fmt"
)

// Front is the Backend every device is used through: it owns everything the
// contract promises over a Device, which does device work only (see Device).
//
//   - Validation, once per call: Run checks the call against the op table
//     (argument count, live handles, dtypes, shapes, attributes, aliasing,
//     index ranges as last written from the host), that every tensor is
//     this Front's, and that the device supports the op and asks the device
//     about the call (Device.Supports) before it queues anything.
//   - Sticky errors for every call: New, Write, Run, Release and Reshape
//     (through the tensor's owner) record their error instead of returning
//     it; later work is skipped and Read, Sync, Err and Close return it.
//     New always returns a handle, with no memory behind it after an error.
//   - The closed state, tensor ownership, and the range of the values last
//     written into index tensors (which validation needs).
//
// Backend packages return a *Front over their device (cpu.New, vulkan.Open,
// plugin.Open); nothing else needs to know that a Front is not just a
// Backend. A Front is used by one goroutine at a time.
type Front struct {
	dev   Device
	guard GuardDevice // dev, when it has guards
	info  Info
	name  string
	ops   [numOps]bool // info.Ops as a table
	err   error
	// closed is set by Close.
	closed bool
	// validated counts the calls validated (Run and Supports).
	validated uint64
}

var (
	_ Backend = (*Front)(nil)
	_ Guarder = (*Front)(nil)
)

// NewFront returns the Front of a device. Info.Guards stands only where the
// device implements GuardDevice (a wrapper that embeds a Device loses it).
func NewFront(dev Device) *Front {
	f := &Front{dev: dev, info: dev.Info()}
	f.name = f.info.Backend
	for _, op := range f.info.Ops {
		if op.Valid() {
			f.ops[op] = true
		}
	}
	if g, ok := dev.(GuardDevice); ok && f.info.Guards {
		f.guard = g
	}
	f.info.Guards = f.guard != nil
	return f
}

// Device returns the device under the Front (for the device's own tests and
// statistics).
func (f *Front) Device() Device { return f.dev }

// Validated returns the number of calls the Front has validated (every Run
// and every Supports query).
func (f *Front) Validated() uint64 { return f.validated }

// Info describes the device, as its Device said when the Front was made.
func (f *Front) Info() Info { return f.info }

// fail records err as the sticky error unless one is recorded already.
func (f *Front) fail(err error) {
	if f.err == nil && err != nil {
		f.err = err
	}
}

// Err returns the sticky error, or a fault the device found meanwhile
// (which becomes the sticky error), without waiting.
func (f *Front) Err() error {
	if f.err == nil {
		f.fail(f.dev.Err())
	}
	return f.err
}

// owns reports an error unless t is one of this Front's tensors.
func (f *Front) owns(t *Tensor, what string) error {
	if t.store.owner != f {
		return fmt.Errorf("%s: %s %v, a tensor of another backend", f.name, what, t)
	}
	return nil
}

// New allocates a tensor; see Backend.New.
func (f *Front) New(dt DType, shape ...int) *Tensor { return f.alloc(dt, shape, false) }

// NewGuarded allocates a tensor with guard regions around its data, where
// Info.Guards says the device has them (an unsupported error otherwise).
func (f *Front) NewGuarded(dt DType, shape ...int) *Tensor { return f.alloc(dt, shape, true) }

func (f *Front) alloc(dt DType, shape Shape, guarded bool) *Tensor {
	t := newTensor(dt, shape, f)
	if f.Err() != nil {
		return t
	}
	var err error
	switch {
	case f.closed:
		err = ErrClosed
	case guarded && f.guard == nil:
		err = fmt.Errorf("guard regions: %w", ErrUnsupported)
	default:
		err = checkNew(dt, shape)
	}
	if err == nil && !f.info.SupportsDType(dt) {
		err = ErrUnsupported
	}
	if bytes := int64(t.NumElements()) * int64(dt.Size()); err == nil && f.info.MaxTensorBytes > 0 && bytes > f.info.MaxTensorBytes {
		err = fmt.Errorf("%d bytes is more than the largest tensor the device holds (%d bytes): %w", bytes, f.info.MaxTensorBytes, ErrUnsupported)
	}
	if err == nil {
		t.store.Impl, err = f.dev.Alloc(t, guarded)
		if err == nil && t.store.Impl == nil {
			err = errors.New("the device gave no memory")
		}
	}
	if err != nil {
		f.fail(fmt.Errorf("%s: new %v%v: %w", f.name, dt, shape, err))
	}
	return t
}

// Write queues a copy of src into t; see Backend.Write.
func (f *Front) Write(t *Tensor, src []byte) {
	if f.Err() != nil {
		return
	}
	err := checkData("write to", t, len(src))
	switch {
	case f.closed:
		err = fmt.Errorf("write: %w", ErrClosed)
	case err == nil:
		err = f.owns(t, "write to")
		if err == nil {
			t.noteWrite(src)
			if err = f.dev.Write(t, src); err != nil {
				err = fmt.Errorf("write to %v: %w", t, err)
			}
		}
	}
	if err != nil {
		f.fail(prefix(f.name, err))
	}
}

// prefix puts the backend's name in front of an error that lacks it.
func prefix(name string, err error) error {
	if err == nil {
		return nil
	}
	var oe *OpError
	if errors.As(err, &oe) || len(err.Error()) > len(name) && err.Error()[:len(name)+1] == name+":" {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Read waits for queued work and copies t into dst; see Backend.Read. An
// invalid argument is returned without becoming sticky; a failure of the
// device is sticky.
func (f *Front) Read(t *Tensor, dst []byte) error {
	if err := f.Err(); err != nil {
		return err
	}
	if f.closed {
		return fmt.Errorf("%s: read: %w", f.name, ErrClosed)
	}
	if err := checkData("read of", t, len(dst)); err != nil {
		return prefix(f.name, err)
	}
	if err := f.owns(t, "read of"); err != nil {
		return err
	}
	if err := f.dev.Read(t, dst); err != nil {
		f.fail(prefix(f.name, err))
		return f.err
	}
	return nil
}

// validate checks a call on the host: against the op table (index values
// too when values is set), ownership (for a Run) and the device's support.
func (f *Front) validate(c Call, run bool) error {
	f.validated++
	if err := check(c, run); err != nil {
		return err
	}
	if !f.ops[c.Op] {
		return NewOpError(c, fmt.Errorf("%w (%s)", ErrUnsupported, f.name))
	}
	for _, t := range c.Args {
		if t == nil {
			continue
		}
		if !f.info.SupportsDType(t.dtype) {
			return NewOpError(c, fmt.Errorf("%v: %w (%s)", t.dtype, ErrUnsupported, f.name))
		}
		if run && t.store.owner != f {
			return NewOpError(c, fmt.Errorf("%v is a tensor of another backend", t))
		}
	}
	if err := f.dev.Supports(c); err != nil {
		return NewOpError(c, err)
	}
	return nil
}

// Supports reports whether the backend runs the call, without running it
// and without a sticky error: the call is checked against the op table
// (except the index values, which a query has not written) and the device
// is asked (Device.Supports). The arguments may be placeholders
// (Placeholder) or tensors of another backend.
func (f *Front) Supports(c Call) error { return f.validate(c, false) }

// Run validates the call and queues it on the device; errors are sticky.
func (f *Front) Run(c Call) {
	if f.Err() != nil {
		return
	}
	if f.closed {
		f.fail(NewOpError(c, ErrClosed))
		return
	}
	if err := f.validate(c, true); err != nil {
		f.fail(err)
		return
	}
	if err := f.dev.Run(c); err != nil {
		var oe *OpError
		if !errors.As(err, &oe) {
			err = NewOpError(c, err)
		}
		f.fail(err)
	}
}

// Sync waits for queued work and returns the sticky error.
func (f *Front) Sync() error {
	if err := f.Err(); err != nil {
		return err
	}
	if f.closed {
		return fmt.Errorf("%s: sync: %w", f.name, ErrClosed)
	}
	f.fail(f.dev.Sync())
	return f.err
}

// Release drops a handle; the device frees the memory when it was the last
// handle of its storage. Releasing a handle twice does nothing.
func (f *Front) Release(t *Tensor) {
	if t == nil {
		return
	}
	if err := f.owns(t, "release of"); err != nil {
		f.fail(err)
		return
	}
	if !t.drop() {
		return
	}
	if t.store.Impl != nil {
		f.dev.Free(t.store)
		t.store.Impl = nil
	}
}

// CheckGuards waits for queued work and reports an error if a guard region
// of t was overwritten. The error is not sticky: it is a finding about the
// device's kernels, not a fault.
func (f *Front) CheckGuards(t *Tensor) error {
	if err := f.Err(); err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("%s: guard check of a nil tensor", f.name)
	}
	if err := f.owns(t, "guard check of"); err != nil {
		return err
	}
	if f.guard == nil {
		return fmt.Errorf("%s: guard regions: %w", f.name, ErrUnsupported)
	}
	return prefix(f.name, f.guard.CheckGuards(t))
}

// Close waits for queued work, frees the device and returns the sticky
// error. Later calls fail with ErrClosed; Release still works.
func (f *Front) Close() error {
	if f.closed {
		return f.Err()
	}
	f.Err()
	f.closed = true
	f.fail(f.dev.Close())
	return f.err
}
