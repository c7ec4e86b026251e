// Package cpu is the reference backend: every op of the catalogue written
// plainly in Go, readable as the op's specification, with matrix products
// through gonum's blas32 and the larger loops split across goroutines.
//
// Ops run synchronously when Run is called, which the asynchronous contract
// allows (a queue of length zero). Reductions accumulate in float64, so the
// backend is also a precise reference for the others.
package cpu

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
)

func init() {
	backend.Register(backend.Driver{
		Name: "cpu",
		Doc:  "reference backend: plain Go kernels, gonum blas32 matmul, goroutine-parallel",
		Open: func(arg string) (backend.Backend, error) {
			if arg != "" {
				return nil, fmt.Errorf("cpu: unexpected argument %q (the cpu backend takes none)", arg)
			}
			return New(), nil
		},
		Devices: func() ([]backend.Info, error) { return []backend.Info{New().Info()}, nil },
	})
}

// Backend is the CPU backend. The zero value is not usable; call New.
type Backend struct {
	backend.Sticky
	closed  bool
	threads int
}

// New returns a CPU backend that uses GOMAXPROCS goroutines.
func New() *Backend { return &Backend{threads: runtime.GOMAXPROCS(0)} }

// buffer is the Storage.Impl of a CPU tensor: the data, and for guarded
// tensors the whole slice with the guard elements around it.
type buffer struct {
	f     []float32
	i     []int32
	whole []float32 // guarded F32 tensors only
	wholI []int32   // guarded I32 tensors only
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
	return backend.Info{
		Backend: "cpu",
		Device:  fmt.Sprintf("%s (%d threads)", cpuModel(), b.threads),
		Kind:    "cpu",
		Memory:  totalMemory(),
		DTypes:  []backend.DType{backend.F32, backend.I32},
		Ops:     backend.Ops(),
		Limits:  [][2]string{{"threads", fmt.Sprint(b.threads)}, {"matmul", "gonum blas32 (pure Go)"}},
	}
}

// New allocates a zeroed tensor.
func (b *Backend) New(dt backend.DType, shape ...int) (*backend.Tensor, error) {
	if err := b.alloc(dt, shape); err != nil {
		return nil, err
	}
	n := backend.Shape(shape).NumElements()
	buf := &buffer{}
	if dt == backend.F32 {
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

// Release drops a handle; the Go garbage collector reclaims the memory once
// the last handle is dropped.
func (b *Backend) Release(t *backend.Tensor) {
	if t.Drop() {
		t.Storage().Impl = nil
	}
}

// Close marks the backend closed and returns the sticky error.
func (b *Backend) Close() error {
	b.closed = true
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
