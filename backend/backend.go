// Package backend is the contract between the I-JEPA trainer and the devices
// that compute it: a Backend interface over a small, closed catalogue of tensor
// ops (see Op and the table in ops.go), tensor handles, capabilities, sticky
// errors and a registry that opens a backend by name.
//
// Ops are asynchronous. Run, Write and Release may queue work and return
// before it is done (the Vulkan backend records command buffers, a plugin
// client streams ops without waiting for replies). Read and Sync synchronise.
// The first error — a bad shape found on the host, an index out of range, a
// device fault — is sticky: later queued work is skipped, and the error is
// returned by the next Read or Sync (and by Err), naming the op and the shapes
// that failed. A backend therefore never panics on bad input.
package backend

import (
	"errors"
	"fmt"
	"strings"
)

// APIVersion is the version of this contract's interfaces and of the plugin
// protocol. It changes whenever the Backend or Device interface or the
// protocol changes; the plugin protocol refuses a plugin built for another
// version. The op catalogue is versioned by CatalogueHash instead, which the
// plugin handshake compares too, so adding an op does not touch it.
const APIVersion = 2

// Backend is a device that holds tensors and runs the ops of the catalogue.
// Every backend package returns a *Front, which implements it over the
// package's Device; nn.Tape implements it over another Backend.
// Implementations must be safe for use by one goroutine at a time; they need
// not be safe for concurrent use.
//
// Every call that can fail records its error as the sticky error (New,
// Write, Run, Release, and Reshape through the tensor's backend) rather than
// returning it, so code that builds a computation checks for errors once, at
// a Read or Sync.
type Backend interface {
	// Info describes the device and what it supports.
	Info() Info

	// New allocates a tensor. Its contents are undefined until written.
	// It always returns a handle; after an error (an invalid dtype or
	// shape, a dtype the device lacks, memory exhausted, or an earlier
	// sticky error) the handle has no memory and the error is sticky.
	New(dt DType, shape ...int) *Tensor

	// Write queues a copy of src, the whole tensor's data in the host's
	// byte order, into t. The data is copied before Write returns, so the
	// caller may reuse src.
	Write(t *Tensor, src []byte)

	// Read waits for all queued work, then copies t's data into dst, which
	// must hold exactly t.Bytes() bytes. It returns the sticky error, if any.
	Read(t *Tensor, dst []byte) error

	// Run validates the call (see Supports) and queues it. Errors are
	// recorded as the sticky error.
	Run(c Call)

	// Supports reports, without running anything and without a sticky
	// error, whether Run would accept the call: nil, an error wrapping
	// ErrUnsupported for an op, dtype or shape the device refuses, or the
	// error of an invalid call. Index values are not checked. Its
	// arguments may be placeholders (Placeholder) or tensors of another
	// backend.
	Supports(c Call) error

	// Sync waits for all queued work and returns the sticky error.
	Sync() error

	// Err returns the sticky error known so far without waiting.
	Err() error

	// Release drops a tensor handle. The memory is freed, once queued work
	// that uses it is done, when the last handle of its storage is
	// released. Releasing a handle twice does nothing.
	Release(t *Tensor)

	// Close waits for queued work, frees every resource and returns the
	// sticky error. The backend must not be used afterwards.
	Close() error
}

// Guarder is implemented by backends that can surround a tensor's memory with
// guard regions (where Info.Guards is set), so that the conformance suite
// catches writes out of bounds.
type Guarder interface {
	// NewGuarded allocates a tensor with guard elements before and after
	// its data, filled with a known pattern; errors are sticky as New's.
	NewGuarded(dt DType, shape ...int) *Tensor
	// CheckGuards synchronises and reports an error if any guard element
	// of t was overwritten.
	CheckGuards(t *Tensor) error
}

// Info describes a backend's device and capabilities.
type Info struct {
	// Backend is the registry name the backend was opened with ("cpu",
	// "vulkan", "plugin:./ijepa-backend-cpu").
	Backend string
	// Device is a human-readable device name ("llvmpipe (LLVM 15.0.6, 256
	// bits)", "cpu: 2 threads").
	Device string
	// Kind is the kind of device: "cpu", "discrete-gpu", "integrated-gpu",
	// "virtual-gpu" or "other".
	Kind string
	// Memory is the memory available for tensors in bytes, 0 if unknown.
	Memory int64
	// MaxTensorBytes is the largest single tensor in bytes, 0 if unlimited.
	MaxTensorBytes int64
	// DTypes lists the element types New accepts.
	DTypes []DType
	// Ops lists the ops Run accepts (for every dtype in DTypes that the op
	// table allows).
	Ops []Op
	// Guards says that NewGuarded surrounds tensors with guard regions.
	Guards bool
	// Limits lists further device facts worth showing to a user, in order
	// ("subgroup size", "8").
	Limits [][2]string
}

// SupportsDType reports whether the backend allocates tensors of type dt.
func (i Info) SupportsDType(dt DType) bool {
	for _, d := range i.DTypes {
		if d == dt {
			return true
		}
	}
	return false
}

// Call is one op invocation: the op, its tensor arguments in the order of the
// op's row in the table (Op.Spec), and its attributes.
type Call struct {
	Op    Op
	Args  []*Tensor
	Attrs Attrs
}

// Attrs are the scalar parameters of a call. Each op reads only the fields
// its row in the op table names and ignores the others. Scalars are
// float64 on the host: a backend derives further scalars (1-m for the EMA,
// the Adam bias corrections) in float64 and rounds them to float32 before the
// elementwise arithmetic, as PyTorch does with Python scalars.
type Attrs struct {
	// TransA and TransB transpose matmul's operands.
	TransA, TransB bool
	// Alpha is the multiplier of matmul's product, of scale and of axpy,
	// the input scale of softmax and softmax_bwd, and the value of fill.
	Alpha float64
	// Beta is the multiplier of matmul's previous output, and the switch
	// point of the smooth-L1 loss.
	Beta float64
	// Eps is the epsilon of layer norm and of AdamW.
	Eps float64
	// Heads is the number of attention heads of split_heads and
	// merge_heads.
	Heads int
	// Patch is the patch side of patchify.
	Patch int
	// LR, Beta1, Beta2, WeightDecay and Step are AdamW's learning rate,
	// moment decays, decoupled weight decay and 1-based step number.
	LR, Beta1, Beta2, WeightDecay float64
	Step                          int
	// Momentum is the EMA momentum m of ema.
	Momentum float64
}

// Sentinel errors; wrap-checked with errors.Is.
var (
	// ErrUnsupported is returned for an op or dtype the backend does not
	// implement. The conformance suite reports it apart from failures.
	ErrUnsupported = errors.New("not supported by this backend")
	// ErrReleased is returned when a released tensor handle is used.
	ErrReleased = errors.New("tensor was released")
	// ErrShape is returned for shapes or dtypes that do not fit the op.
	ErrShape = errors.New("shape mismatch")
	// ErrIndex is returned for an index outside the rows it indexes.
	ErrIndex = errors.New("index out of range")
	// ErrClosed is returned for use of a closed backend.
	ErrClosed = errors.New("backend is closed")
)

// OpError is the error of one call: the op, the shapes of its arguments, and
// what went wrong.
type OpError struct {
	Op   Op
	Args string // "c=f32[3,4] a=f32[3,5] b=f32[5,4]"
	Err  error
}

// Error formats the error as "matmul(c=f32[3,4] a=f32[3,5] b=f32[6,4]): ...".
func (e *OpError) Error() string { return fmt.Sprintf("%v(%s): %v", e.Op, e.Args, e.Err) }

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// NewOpError wraps err with the op and a description of the call's arguments.
func NewOpError(c Call, err error) *OpError {
	return &OpError{Op: c.Op, Args: describeArgs(c), Err: err}
}

func describeArgs(c Call) string {
	names := c.Op.argNames(len(c.Args))
	parts := make([]string, len(c.Args))
	for i, t := range c.Args {
		parts[i] = names[i] + "=" + t.String()
	}
	return strings.Join(parts, " ")
}
