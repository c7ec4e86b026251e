package backend

// Device is what a backend implements: device work only. A Front wraps a
// Device and keeps every promise of the contract for it — validation of each
// call against the op table, sticky errors for every call, the closed state,
// tensor ownership and the record of host writes — so a Device method is only
// ever called with arguments that passed those checks: a valid call of an op
// the device lists in Info.Ops, live tensors this device allocated (their
// Storage().Impl is what Alloc returned), and byte slices of the right size.
// As database/sql over database/sql/driver, or ggml_backend over
// ggml_backend_i.
//
// Errors a Device returns become the Front's sticky error: Run's are wrapped
// in an *OpError naming the call, unless they are one already. A Device is
// used by one goroutine at a time.
type Device interface {
	// Info describes the device and what it supports. The Front reads it
	// once, when it is made.
	Info() Info

	// Alloc allocates the memory of t, a new tensor (a dtype the device
	// lists in Info.DTypes, a valid shape within Info.MaxTensorBytes), and
	// returns what the Front stores in t.Storage().Impl. guarded asks for
	// guard regions around the data (only when Info.Guards is set; the
	// device then implements GuardDevice).
	Alloc(t *Tensor, guarded bool) (impl any, err error)

	// Free frees the memory of a storage whose last handle was released
	// (also after Close, for devices that hand memory back then).
	Free(s *Storage)

	// Write copies src, the whole tensor's data, into t; it may queue the
	// copy, but must not keep src.
	Write(t *Tensor, src []byte) error

	// Read waits for queued work and copies t's data into dst.
	Read(t *Tensor, dst []byte) error

	// Supports reports, without queuing anything, whether the device runs
	// the call: nil, or an error wrapping ErrUnsupported that says why (an
	// op, a dtype or a shape the device refuses, such as a loop longer than
	// its driver allows). It looks only at the op, the attributes and the
	// arguments' dtypes and shapes, never at their memory: a composite
	// backend asks it with tensors of another device. The Front asks it
	// before every Run.
	Supports(c Call) error

	// Run queues a call that passed validation and Supports.
	Run(c Call) error

	// Sync waits for all queued work and returns the first error it found.
	Sync() error

	// Err returns a fault found without waiting (a failed submission, a
	// plugin process that died), or nil. The Front asks it before each
	// call and makes it sticky.
	Err() error

	// Close waits for queued work and frees every resource. Free may still
	// be called afterwards for tensors the caller releases later.
	Close() error
}

// GuardDevice is a Device that can surround a tensor's memory with guard
// regions (Alloc with guarded set), so that the conformance suite catches
// writes out of bounds. A device that implements it says so in Info.Guards.
type GuardDevice interface {
	Device
	// CheckGuards waits for queued work and reports an error if a guard
	// element of t, allocated with guards, was overwritten.
	CheckGuards(t *Tensor) error
}
