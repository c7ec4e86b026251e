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
		open      func() *backend.Front
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

// device is a CPU device, the fast one or the reference; the Front over it
// validates every call, so its methods only compute.
type device struct {
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
func New() *backend.Front {
	b := &device{threads: runtime.GOMAXPROCS(0), kernels: fastKernels}
	if err := openblas.Load(); err == nil {
		b.blas = true
	} else {
		noticeOnce.Do(func() {
			fmt.Fprintf(notice, "cpu: OpenBLAS not loaded (%v); matrix products use pure-Go gonum, several times slower: install libopenblas0\n", err)
		})
	}
	return backend.NewFront(b)
}

// NewReference returns the reference CPU backend: the plain kernels, using
// GOMAXPROCS goroutines.
func NewReference() *backend.Front {
	return backend.NewFront(&device{threads: runtime.GOMAXPROCS(0), ref: true, kernels: refKernels})
}

var (
	noticeOnce sync.Once
	notice     io.Writer = os.Stderr
)

// Stats returns the counters of the memory pool of b, a fast CPU backend
// (zero for the reference backend and for any other backend).
func Stats(b backend.Backend) PoolStats {
	if f, ok := b.(*backend.Front); ok {
		if d, ok := f.Device().(*device); ok {
			return d.pool.Stats()
		}
	}
	return PoolStats{}
}

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
func (b *device) Info() backend.Info {
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
		Guards:  true,
		Limits:  [][2]string{{"threads", fmt.Sprint(b.threads)}, {"matmul", mm}},
	}
}

// Alloc allocates a tensor's memory. The reference backend zeroes it; the
// fast backend may hand out memory of a released tensor, with its old
// contents (the contract leaves them undefined). A guarded tensor has
// guardLen guard elements on each side.
func (b *device) Alloc(t *backend.Tensor, guarded bool) (any, error) {
	n := t.NumElements()
	buf := &buffer{}
	f32 := t.DType() == backend.F32
	switch {
	case guarded && f32:
		buf.whole = make([]float32, n+2*guardLen)
		for k := range buf.whole {
			buf.whole[k] = guardF32
		}
		buf.f = buf.whole[guardLen : guardLen+n : guardLen+n]
		clear(buf.f)
	case guarded:
		buf.wholI = make([]int32, n+2*guardLen)
		for k := range buf.wholI {
			buf.wholI[k] = guardI32
		}
		buf.i = buf.wholI[guardLen : guardLen+n : guardLen+n]
		clear(buf.i)
	case !b.ref:
		buf.blk = b.pool.get(4 * n) // F32 and I32 are both 4 bytes
		p := unsafe.Pointer(&buf.blk.mem[0])
		if f32 {
			buf.f = unsafe.Slice((*float32)(p), n)
		} else {
			buf.i = unsafe.Slice((*int32)(p), n)
		}
	case f32:
		buf.f = make([]float32, n)
	default:
		buf.i = make([]int32, n)
	}
	return buf, nil
}

// CheckGuards reports whether any guard element of t was overwritten.
func (b *device) CheckGuards(t *backend.Tensor) error {
	buf := t.Storage().Impl.(*buffer)
	n := t.Storage().Len
	bad := func(k int) error {
		where := "before"
		if k >= guardLen {
			where = "after"
			k -= guardLen + n
		} else {
			k = guardLen - k
		}
		return fmt.Errorf("guard of %v overwritten %d elements %s the data", t, k, where)
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
		return fmt.Errorf("%v was not allocated with guards", t)
	}
	return nil
}

// Write copies src into t.
func (b *device) Write(t *backend.Tensor, src []byte) error {
	buf := t.Storage().Impl.(*buffer)
	if buf.f != nil {
		copy(buf.f, backend.BytesF32(src))
	} else {
		copy(buf.i, backend.BytesI32(src))
	}
	return nil
}

// Read copies t into dst.
func (b *device) Read(t *backend.Tensor, dst []byte) error {
	buf := t.Storage().Impl.(*buffer)
	if buf.f != nil {
		copy(backend.BytesF32(dst), buf.f)
	} else {
		copy(backend.BytesI32(dst), buf.i)
	}
	return nil
}

// Supports accepts every call of the ops Info lists.
func (b *device) Supports(backend.Call) error { return nil }

// Run executes one call at once.
func (b *device) Run(c backend.Call) error { return b.kernels[c.Op](b, c) }

// Sync has nothing to wait for: ops run inside Run.
func (b *device) Sync() error { return nil }

// Err reports no faults: the CPU device has none apart from Run's errors.
func (b *device) Err() error { return nil }

// Free frees a storage: the reference backend leaves the memory to the
// garbage collector; the fast backend keeps it for the next Alloc, or gives
// it back to the system once closed.
func (b *device) Free(st *backend.Storage) {
	buf, ok := st.Impl.(*buffer)
	if !ok || buf.blk == nil {
		return
	}
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

// Close gives the pooled memory back to the system. Tensors still live are
// given back as they are released.
func (b *device) Close() error {
	b.closed = true
	b.pool.drain()
	return nil
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
