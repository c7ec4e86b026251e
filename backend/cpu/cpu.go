// Package cpu holds two CPU backends over one set of handles.
//
// The reference backend ("cpu-ref", NewReference) writes every op of the
// catalogue plainly in Go, readable as the op's specification, with matrix
// products through gonum's blas32 and reductions accumulated in float64. It
// is what every other backend is checked against.
//
// The fast backend ("cpu", New) is the one to train with: matrix products
// through OpenBLAS, loaded at run time when it is installed (pure-Go gonum
// otherwise, with a one-line notice), kernels that make one pass over memory
// and compute in float32, work split across goroutines sized to the cores,
// and a memory pool so that a warm training step allocates nothing. It is
// itself a backend under test: the conformance suite checks it against the
// float64 statement of the ops, like the reference.
//
// Ops run synchronously when Run is called, which the asynchronous contract
// allows (a queue of length zero).
package cpu

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/openblas"
)

func init() {
	for _, d := range []struct {
		name, doc string
		open      func() *Backend
	}{
		{"cpu", "fast CPU backend: OpenBLAS matmul (pure-Go gonum without it), fused one-pass kernels, memory pool", New},
		{"cpu-ref", "reference CPU backend: every op in plain Go, gonum blas32 matmul, float64 reductions", NewReference},
	} {
		backend.Register(backend.Driver{
			Name: d.name,
			Doc:  d.doc,
			Open: func(arg string) (backend.Backend, error) {
				if arg != "" {
					return nil, fmt.Errorf("%s: unexpected argument %q (the %s backend takes none)", d.name, arg, d.name)
				}
				return d.open(), nil
			},
			Devices: func() ([]backend.Info, error) { return []backend.Info{d.open().Info()}, nil },
		})
	}
}

// Backend is a CPU backend. The zero value is not usable; call New or
// NewReference.
type Backend struct {
	backend.Sticky
	closed  bool
	threads int
	ref     bool // the reference kernels, plain allocation
	kernels map[backend.Op]kernel
	blas    bool      // matrix products through OpenBLAS
	pool    pool      // fast backend only
	scratch []float64 // per-chunk partial sums, reused
}

// New returns the fast CPU backend, using GOMAXPROCS goroutines. Matrix
// products go through OpenBLAS when the library can be loaded (see package
// openblas for where it is looked up); otherwise through pure-Go gonum, and
// the first New of the process says so in one line on standard error.
func New() *Backend {
	b := &Backend{threads: runtime.GOMAXPROCS(0), kernels: fastKernels}
	if err := openblas.Load(); err == nil {
		b.blas = true
	} else {
		noticeOnce.Do(func() {
			fmt.Fprintf(notice, "cpu: OpenBLAS not loaded (%v); matrix products use pure-Go gonum, several times slower: install libopenblas0\n", err)
		})
	}
	return b
}

// NewReference returns the reference CPU backend: the plain kernels, using
// GOMAXPROCS goroutines.
func NewReference() *Backend {
	return &Backend{threads: runtime.GOMAXPROCS(0), ref: true, kernels: refKernels}
}

var (
	noticeOnce sync.Once
	notice     io.Writer = os.Stderr
)

// Stats returns the counters of the fast backend's memory pool (zero for the
// reference backend).
func (b *Backend) Stats() PoolStats { return b.pool.Stats() }

// buffer is the Storage.Impl of a CPU tensor: the data, and for guarded
// tensors the whole slice with the guard elements around it.
type buffer struct {
	f     []float32
	i     []int32
	whole []float32 // guarded F32 tensors only
	wholI []int32   // guarded I32 tensors only
	blk   *block    // the pool's block (fast backend, unguarded tensors)
}

// guardLen is the number of guard elements on each side of a guarded tensor.
const guardLen = 64

// guardF32 and guardI32 are the guard patterns; a write of any real value is
// very unlikely to reproduce them bit for bit.
var (
	guardF32 = float32FromBits(0x7fa5a5a5) // a NaN payload
	guardI32 = int32(-0x5a5a5a5b)
)

// Info describes the CPU backend.
func (b *Backend) Info() backend.Info {
	name, mm := "cpu", "gonum blas32 (pure Go)"
	if b.ref {
		name = "cpu-ref"
	} else if b.blas {
		mm = fmt.Sprintf("OpenBLAS, one thread per call, products split across %d goroutines (%s)", b.threads, openblas.Library())
	}
	ops := make([]backend.Op, 0, len(b.kernels))
	for _, op := range backend.Ops() {
		if b.kernels[op] != nil {
			ops = append(ops, op)
		}
	}
	return backend.Info{
		Backend: name,
		Device:  fmt.Sprintf("%s (%d threads)", cpuModel(), b.threads),
		Kind:    "cpu",
		Memory:  totalMemory(),
		DTypes:  []backend.DType{backend.F32, backend.I32},
		Ops:     ops,
		Limits:  [][2]string{{"threads", fmt.Sprint(b.threads)}, {"matmul", mm}},
	}
}

// New allocates a tensor. The reference backend zeroes it; the fast backend
// may hand out memory of a released tensor, with its old contents (the
// contract leaves them undefined).
func (b *Backend) New(dt backend.DType, shape ...int) (*backend.Tensor, error) {
	if err := b.alloc(dt, shape); err != nil {
		return nil, err
	}
	n := backend.Shape(shape).NumElements()
	buf := &buffer{}
	if !b.ref {
		buf.blk = b.pool.get(4 * n) // F32 and I32 are both 4 bytes
		p := unsafe.Pointer(&buf.blk.mem[0])
		if dt == backend.F32 {
			buf.f = unsafe.Slice((*float32)(p), n)
		} else {
			buf.i = unsafe.Slice((*int32)(p), n)
		}
	} else if dt == backend.F32 {
		buf.f = make([]float32, n)
	} else {
		buf.i = make([]int32, n)
	}
	return backend.NewTensor(dt, shape, buf), nil
}

func (b *Backend) alloc(dt backend.DType, shape []int) error {
	if b.closed {
		return fmt.Errorf("cpu: new: %w", backend.ErrClosed)
	}
	if err := backend.CheckNew(dt, shape); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	if dt != backend.F32 && dt != backend.I32 {
		return fmt.Errorf("cpu: new %v%v: %w", dt, backend.Shape(shape), backend.ErrUnsupported)
	}
	return nil
}

// NewGuarded allocates a tensor with guardLen guard elements on each side.
func (b *Backend) NewGuarded(dt backend.DType, shape ...int) (*backend.Tensor, error) {
	if err := b.alloc(dt, shape); err != nil {
		return nil, err
	}
	n := backend.Shape(shape).NumElements()
	buf := &buffer{}
	if dt == backend.F32 {
		buf.whole = make([]float32, n+2*guardLen)
		for k := range buf.whole {
			buf.whole[k] = guardF32
		}
		buf.f = buf.whole[guardLen : guardLen+n : guardLen+n]
		clear(buf.f)
	} else {
		buf.wholI = make([]int32, n+2*guardLen)
		for k := range buf.wholI {
			buf.wholI[k] = guardI32
		}
		buf.i = buf.wholI[guardLen : guardLen+n : guardLen+n]
		clear(buf.i)
	}
	return backend.NewTensor(dt, shape, buf), nil
}

// CheckGuards reports whether any guard element of t was overwritten.
func (b *Backend) CheckGuards(t *backend.Tensor) error {
	buf, err := b.buf(t)
	if err != nil {
		return err
	}
	n := t.Storage().Len
	bad := func(k int) error {
		where := "before"
		if k >= guardLen {
			where = "after"
			k -= guardLen + n
		} else {
			k = guardLen - k
		}
		return fmt.Errorf("cpu: guard of %v overwritten %d elements %s the data", t, k, where)
	}
	switch {
	case buf.whole != nil:
		for k, v := range buf.whole {
			if (k < guardLen || k >= guardLen+n) && float32Bits(v) != float32Bits(guardF32) {
				return bad(k)
			}
		}
	case buf.wholI != nil:
		for k, v := range buf.wholI {
			if (k < guardLen || k >= guardLen+n) && v != guardI32 {
				return bad(k)
			}
		}
	default:
		return fmt.Errorf("cpu: %v was not allocated with guards", t)
	}
	return nil
}

func (b *Backend) buf(t *backend.Tensor) (*buffer, error) {
	buf, ok := t.Storage().Impl.(*buffer)
	if !ok {
		return nil, fmt.Errorf("cpu: %v belongs to another backend", t)
	}
	return buf, nil
}

// Write copies src into t.
func (b *Backend) Write(t *backend.Tensor, src []byte) {
	if b.Err() != nil {
		return
	}
	if b.closed {
		b.Set(fmt.Errorf("cpu: write: %w", backend.ErrClosed))
		return
	}
	if err := backend.CheckWrite(t, src); err != nil {
		b.Set(fmt.Errorf("cpu: %w", err))
		return
	}
	buf, err := b.buf(t)
	if err != nil {
		b.Set(err)
		return
	}
	t.NoteWrite(src)
	if buf.f != nil {
		copy(buf.f, backend.BytesF32(src))
	} else {
		copy(buf.i, backend.BytesI32(src))
	}
}

// Read copies t into dst and returns the sticky error.
func (b *Backend) Read(t *backend.Tensor, dst []byte) error {
	if err := b.Err(); err != nil {
		return err
	}
	if b.closed {
		return fmt.Errorf("cpu: read: %w", backend.ErrClosed)
	}
	if err := backend.CheckRead(t, dst); err != nil {
		return fmt.Errorf("cpu: %w", err)
	}
	buf, err := b.buf(t)
	if err != nil {
		return err
	}
	if buf.f != nil {
		copy(backend.BytesF32(dst), buf.f)
	} else {
		copy(backend.BytesI32(dst), buf.i)
	}
	return nil
}

// Run checks and executes one call.
func (b *Backend) Run(c backend.Call) {
	if b.Err() != nil {
		return
	}
	if b.closed {
		b.Set(backend.NewOpError(c, backend.ErrClosed))
		return
	}
	if err := backend.Check(c); err != nil {
		b.Set(err)
		return
	}
	for _, t := range c.Args {
		if t == nil {
			continue
		}
		if _, err := b.buf(t); err != nil {
			b.Set(backend.NewOpError(c, err))
			return
		}
	}
	if err := b.exec(c); err != nil {
		b.Set(backend.NewOpError(c, err))
	}
}

// Sync returns the sticky error; the CPU backend has nothing queued.
func (b *Backend) Sync() error { return b.Err() }

// Release drops a handle. When it was the storage's last, the reference
// backend leaves the memory to the garbage collector and the fast backend
// keeps it for the next New (or gives it back to the system once closed).
func (b *Backend) Release(t *backend.Tensor) {
	if !t.Drop() {
		return
	}
	st := t.Storage()
	if buf, ok := st.Impl.(*buffer); ok && buf.blk != nil {
		buf.f, buf.i = nil, nil
		if b.closed {
			b.pool.live -= int64(len(buf.blk.mem))
			b.pool.req -= int64(buf.blk.req)
			release(buf.blk)
		} else {
			b.pool.put(buf.blk)
		}
		buf.blk = nil
	}
	st.Impl = nil
}

// Close marks the backend closed, gives the pooled memory back to the system
// and returns the sticky error. Tensors still live are given back as they are
// released.
func (b *Backend) Close() error {
	b.closed = true
	b.pool.drain()
	return b.Err()
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func totalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(s.Text(), "MemTotal: %d kB", &kb); n == 1 {
			return kb << 10
		}
	}
	return 0
}
