// Package simgpu is a backend that computes the ops of the catalogue the way
// a GPU runs command buffers, so that the conformance suite's checks of
// asynchronous hazards can be tested without a GPU, and with faults planted
// on purpose.
//
// Tensors are suballocations of one arena (as the Vulkan backend's spans of
// its memory blocks), in size classes of powers of two: the memory of a
// released tensor goes back to a free list once the queued work using it
// has run, and the next tensor of its class gets it. Ops are queued and run
// only when the host waits (Read, Sync, Close), with the float64 statement
// of each op (package conformance/naive). Queued commands are separated into
// barrier intervals by access tracking as the Vulkan backend does it
// (backend/vulkan/stream.go): a command that reads memory written since the
// last barrier, or writes memory read or written since, starts a new
// interval. Within an interval a GPU may run commands in any order, and this
// device runs them last to first, so that a command missing a barrier runs
// before what it depends on. Host writes go straight into the arena, as into
// mapped memory, after waiting for queued work that uses the tensor.
//
// With no fault the device computes what the naive reference computes.
// Each Fault is one real bug of an asynchronous backend.
package simgpu

import (
	"fmt"
	"math/bits"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance/naive"
)

// Fault is a bug planted in the device.
type Fault int

// The faults.
const (
	// None is the correct device.
	None Fault = iota
	// ReuseEarly hands a released tensor's memory to the next tensor
	// allocated at once, while queued commands still use it: the new
	// tensor's memory is tracked apart from the old one's, so no barrier
	// orders the new tensor's writes after the old one's queued reads.
	ReuseEarly
	// DropWAR drops the barrier before a command that writes memory
	// that a command of the current interval reads (write after read):
	// the write may run before the read.
	DropWAR
)

var faultNames = map[Fault]string{None: "none", ReuseEarly: "reuse-early", DropWAR: "drop-war"}

// String names the fault.
func (f Fault) String() string { return faultNames[f] }

// New returns the device with a fault (None for the correct one) behind a
// backend.Front. Its Info.Backend is "simgpu", or "simgpu-" and the fault.
func New(f Fault) *backend.Front {
	return backend.NewFront(&device{fault: f, free: map[int][]int{}, interval: 1})
}

// mem is the Storage.Impl of a tensor: its place in the arena and the
// barrier interval in which a queued command last read and wrote it.
type mem struct {
	off, n, class int
	read, write   int  // intervals
	queued        bool // used by a queued command
}

// command is one queued command of a barrier interval.
type command struct {
	interval int
	run      func() error
	what     string
}

type device struct {
	fault Fault
	arena []float64
	queue []command
	// interval is the current barrier interval.
	interval int
	// free holds the offsets of free memory by size class; pending is
	// memory released while queued commands used it, free after them.
	free    map[int][]int
	pending []*mem
	// touched is the memory queued commands use.
	touched []*mem
	err     error
}

// Info describes the device.
func (d *device) Info() backend.Info {
	name := "simgpu"
	if d.fault != None {
		name += "-" + d.fault.String()
	}
	return backend.Info{Backend: name, Kind: "other",
		Device: "float64 ops queued as a GPU runs command buffers, each barrier interval last to first",
		DTypes: []backend.DType{backend.F32, backend.I32}, Ops: naive.New().Info().Ops}
}

// data returns m's elements in the arena (valid until the arena grows).
func (d *device) data(m *mem) []float64 { return d.arena[m.off : m.off+m.n] }

// Alloc hands out free memory of the tensor's size class, or grows the
// arena.
func (d *device) Alloc(t *backend.Tensor, _ bool) (any, error) {
	n := t.NumElements()
	class := bits.Len(uint(n - 1))
	m := &mem{n: n, class: class}
	if l := d.free[class]; len(l) > 0 {
		m.off, d.free[class] = l[len(l)-1], l[:len(l)-1]
		return m, nil
	}
	m.off = len(d.arena)
	d.arena = append(d.arena, make([]float64, 1<<class)...)
	return m, nil
}

// Free returns the memory to its free list once no queued command uses it
// (at once with ReuseEarly).
func (d *device) Free(s *backend.Storage) {
	m := s.Impl.(*mem)
	if m.queued && d.fault != ReuseEarly {
		d.pending = append(d.pending, m)
		return
	}
	d.free[m.class] = append(d.free[m.class], m.off)
}

// access records that the next command reads and writes the given memory,
// and starts a new barrier interval first where it conflicts with a command
// of the current one.
func (d *device) access(reads, writes []*mem) {
	need := false
	for _, m := range reads {
		need = need || m.write == d.interval
	}
	for _, m := range writes {
		need = need || m.write == d.interval || m.read == d.interval && d.fault != DropWAR
	}
	if need {
		d.interval++
	}
	for _, m := range reads {
		m.read = d.interval
	}
	for _, m := range writes {
		m.write = d.interval
	}
	for _, m := range append(reads, writes...) {
		if !m.queued {
			m.queued = true
			d.touched = append(d.touched, m)
		}
	}
}

// Write copies src into the arena at once, after the queued commands
// that use t's memory have run (a mapped-memory write).
func (d *device) Write(t *backend.Tensor, src []byte) error {
	m := t.Storage().Impl.(*mem)
	if m.queued {
		if err := d.Sync(); err != nil {
			return err
		}
	}
	v := d.data(m)
	if t.DType() == backend.I32 {
		for i, x := range backend.BytesI32(src) {
			v[i] = float64(x)
		}
	} else {
		for i, x := range backend.BytesF32(src) {
			v[i] = float64(x)
		}
	}
	return nil
}

// Read runs the queue, then rounds t into dst.
func (d *device) Read(t *backend.Tensor, dst []byte) error {
	if err := d.Sync(); err != nil {
		return err
	}
	v := d.data(t.Storage().Impl.(*mem))
	if t.DType() == backend.I32 {
		out := backend.BytesI32(dst)
		for i, x := range v {
			out[i] = int32(x)
		}
	} else {
		out := backend.BytesF32(dst)
		for i, x := range v {
			out[i] = float32(x)
		}
	}
	return nil
}

// Supports accepts every call of the ops Info lists.
func (d *device) Supports(backend.Call) error { return nil }

// Run queues the call; the op's argument roles say what it reads and
// writes.
func (d *device) Run(c backend.Call) error {
	specs := c.Op.Expand(len(c.Args))
	var reads, writes []*mem
	ms := make([]*mem, len(c.Args))
	shapes := make([]backend.Shape, len(c.Args))
	for i, t := range c.Args {
		if t == nil {
			continue
		}
		m := t.Storage().Impl.(*mem)
		ms[i], shapes[i] = m, t.Shape().Clone()
		if specs[i].Role != backend.Out {
			reads = append(reads, m)
		}
		if specs[i].Role != backend.In {
			writes = append(writes, m)
		}
	}
	d.access(reads, writes)
	op, at := c.Op, c.Attrs
	d.queue = append(d.queue, command{d.interval, func() error {
		args := make([][]float64, len(ms))
		for i, m := range ms {
			if m != nil {
				args[i] = d.data(m)
			}
		}
		// Indices in memory a fault overwrote may be out of range: a
		// device fault, as a GPU's out-of-bounds read would be.
		for i, a := range specs {
			if a.DType != backend.I32 {
				continue
			}
			for _, x := range args[i] {
				if x < 0 || x >= float64(shapes[a.Rows][0]) {
					return fmt.Errorf("index %g out of range [0,%d): %w", x, shapes[a.Rows][0], backend.ErrIndex)
				}
			}
		}
		return naive.Exec(op, args, shapes, at)
	}, c.Op.String() + "(" + backend.NewOpError(c, nil).Args + ")"})
	return nil
}

// Sync runs every queued command, the barrier intervals in order and the
// commands of each last to first, then frees the memory released
// meanwhile.
func (d *device) Sync() error {
	q := d.queue
	d.queue = nil
	for start := 0; start < len(q); {
		end := start
		for end < len(q) && q[end].interval == q[start].interval {
			end++
		}
		for i := end - 1; i >= start && d.err == nil; i-- {
			if err := q[i].run(); err != nil {
				d.err = fmt.Errorf("simgpu: %s: %w", q[i].what, err)
			}
		}
		start = end
	}
	// Nothing is queued: no later command conflicts with these.
	d.interval++
	for _, m := range d.touched {
		m.queued = false
	}
	d.touched = d.touched[:0]
	for _, m := range d.pending {
		d.free[m.class] = append(d.free[m.class], m.off)
	}
	d.pending = nil
	return d.err
}

// Err returns the first error of a command that ran.
func (d *device) Err() error { return d.err }

// Close runs the queue.
func (d *device) Close() error { return d.Sync() }
