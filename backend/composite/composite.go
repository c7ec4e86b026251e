// Package composite runs the op catalogue on several backends as one: each
// call runs on the first backend of a list that supports it — its op, its
// dtypes and its shapes, as the backend's Info and Device.Supports say — and
// a tensor is copied to another backend only when an op there reads it and
// the copy there is not current. It is what lets a plugin that implements
// one op train: `--backend 'plugin:mine?ops=matmul,cpu'` runs the plugin's
// matmul and everything else on the CPU, and `--backend vulkan,cpu` runs on
// the CPU the few shapes a Vulkan driver refuses. As ggml's backend
// scheduler, without a graph: the decision is made call by call, in order.
//
// Importing the package lets backend.Open take specs joined by ","
// ("vulkan,cpu"). The composite is a backend.Device under a backend.Front,
// so the contract is kept once, by the Front, for the composite as a whole;
// the composite drives each member's Device directly for the calls the
// Front validated (no member validates a call again) and its Front for
// allocation and copies.
//
// Where a tensor lives and when it moves (docs/ARCHITECTURE.md, "Composite
// backends"):
//
//   - Host writes are kept on the host until an op needs the tensor, then
//     written to that op's backend (to every backend that holds a copy of a
//     tensor already placed).
//   - An op's output is current only on the backend that ran the op; other
//     copies become stale and are rewritten only when an op there reads the
//     tensor again. Outputs are never copied back by themselves.
//   - A copy from A to B is a Read on A and a Write on B. The Write is queued
//     in B's stream with B's ops, so B never waits; the Read waits for the
//     work queued on A, which is what a copy out of an asynchronous device
//     costs without device-to-device transfers in the contract.
//   - Placement: the first backend that supports the call, except that a
//     call updating a tensor in place (an inout argument: adamw's parameter,
//     ema's target) runs on the backend whose matmuls read that tensor, when
//     that backend supports it — so parameters and their optimiser state
//     stay where their matmuls run (ggml: weights pin their consumers).
package composite

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/ijepa-go/ijepa/backend"
)

func init() { backend.RegisterComposite(Open) }

// maxMembers bounds the backends of one composite (a tensor's current
// copies are a bit mask).
const maxMembers = 32

// Open opens each spec with backend.Open and returns the composite of them,
// in order of preference. Each member must be a *backend.Front (every
// registered backend is one).
func Open(specs []string) (backend.Backend, error) {
	var opened []backend.Backend
	for _, s := range specs {
		var err error
		var b backend.Backend
		if s == "" {
			err = errors.New("composite: an empty backend spec between commas")
		} else {
			b, err = backend.Open(s)
		}
		if err != nil {
			for _, b := range opened {
				b.Close()
			}
			return nil, err
		}
		opened = append(opened, b)
	}
	return New(opened...)
}

// New returns the composite of opened backends, in order of preference; it
// takes them over (closing the composite closes them) and closes them all
// if it fails. Each must be a *backend.Front on which nothing was
// allocated.
func New(bs ...backend.Backend) (backend.Backend, error) {
	d, err := newDevice(bs)
	if err != nil {
		for _, b := range bs {
			b.Close()
		}
		return nil, err
	}
	return backend.NewFront(d), nil
}

// member is one backend of a composite.
type member struct {
	name  string
	front *backend.Front  // allocation, writes, reads, releases, syncs
	dev   backend.Device  // Supports and Run, for calls the composite's Front validated
	info  backend.Info    // as the member's Front reported it
	ops   []bool          // info.Ops by op
	guard backend.Guarder // front, when the member has guards
	// queued says that work was queued on the member since it was last
	// read or synchronised.
	queued bool
	stats  MemberStats
}

// named puts the member's name in front of an error that lacks it (an
// OpError from a plugin names the op, not the backend).
func (m *member) named(err error) error {
	if err == nil || strings.HasPrefix(err.Error(), m.name+":") {
		return err
	}
	return fmt.Errorf("%s: %w", m.name, err)
}

// supports reports whether the member runs c: an op it lists, dtypes it
// has, and a shape its device accepts. why says why not.
func (m *member) supports(c backend.Call) (ok bool, why string) {
	if !m.ops[c.Op] {
		return false, "no " + c.Op.String()
	}
	for _, t := range c.Args {
		if t != nil && !m.info.SupportsDType(t.DType()) {
			return false, "no " + t.DType().String()
		}
	}
	if err := m.dev.Supports(c); err != nil {
		return false, strings.TrimPrefix(err.Error(), backend.ErrUnsupported.Error()+": ")
	}
	return true, ""
}

// device is the composite's backend.Device.
type device struct {
	members []*member
	info    backend.Info
	// The call Supports was last asked about and the first member that
	// runs it: the Front asks Supports right before every Run, with the
	// same call.
	asked struct {
		op    backend.Op
		arg0  *backend.Tensor
		n     int
		first int
	}
	buf    []byte // staging of copies between members
	closed bool
}

var _ backend.GuardDevice = (*device)(nil)

func newDevice(bs []backend.Backend) (*device, error) {
	if len(bs) < 2 || len(bs) > maxMembers {
		return nil, fmt.Errorf("composite: %d backends; want 2 to %d", len(bs), maxMembers)
	}
	d := &device{}
	nops := len(backend.Ops()) + 1
	var names, devices []string
	guards := true
	for _, b := range bs {
		f, ok := b.(*backend.Front)
		if !ok {
			return nil, fmt.Errorf("composite: %s is not a backend.Front", b.Info().Backend)
		}
		m := &member{front: f, dev: f.Device(), info: f.Info(), ops: make([]bool, nops)}
		m.name = m.info.Backend
		m.stats.Name = m.name
		for _, op := range m.info.Ops {
			if op.Valid() {
				m.ops[op] = true
			}
		}
		if m.info.Guards {
			m.guard = f
		} else {
			guards = false
		}
		d.members = append(d.members, m)
		names = append(names, m.name)
		devices = append(devices, m.info.Device)
	}
	first := d.members[0].info
	d.info = backend.Info{
		Backend: strings.Join(names, ","),
		Device:  strings.Join(devices, " + "),
		Kind:    first.Kind,
		Guards:  guards,
	}
	for i, m := range d.members {
		in := m.info
		d.info.Memory = minKnown(d.info.Memory, in.Memory)
		d.info.MaxTensorBytes = minKnown(d.info.MaxTensorBytes, in.MaxTensorBytes)
		for _, dt := range in.DTypes {
			if !d.info.SupportsDType(dt) {
				d.info.DTypes = append(d.info.DTypes, dt)
			}
		}
		d.info.Limits = append(d.info.Limits, [2]string{fmt.Sprintf("backend %d", i+1), fmt.Sprintf("%s: %s, %d ops", m.name, in.Device, len(in.Ops))})
		for _, l := range in.Limits {
			d.info.Limits = append(d.info.Limits, [2]string{m.name + " " + l[0], l[1]})
		}
	}
	for _, op := range backend.Ops() {
		for _, m := range d.members {
			if m.ops[op] {
				d.info.Ops = append(d.info.Ops, op)
				break
			}
		}
	}
	return d, nil
}

// minKnown returns the smaller of two sizes where 0 means unknown.
func minKnown(a, b int64) int64 {
	if a == 0 || b > 0 && b < a {
		return b
	}
	return a
}

// tensor is the Storage.Impl of a composite tensor: a copy on each member
// that ever needed it, which of them are current, and host data not yet
// placed.
type tensor struct {
	dtype   backend.DType
	shape   backend.Shape // the shape the storage was allocated with
	guarded bool
	copies  []*backend.Tensor // by member; nil where none
	valid   uint32            // members whose copy is current
	// host is the data last written from the host while no member holds
	// a copy; nil once placed or overwritten by an op.
	host []byte
	// home is the member whose matmul read the tensor last, -1 if none.
	home int
}

func impl(t *backend.Tensor) *tensor { return t.Storage().Impl.(*tensor) }

// Info describes the composite: the members' names joined by ",", the
// union of their ops and dtypes, the smallest of their limits.
func (d *device) Info() backend.Info { return d.info }

// Alloc records the tensor; memory is allocated on a member when an op
// there first uses it.
func (d *device) Alloc(t *backend.Tensor, guarded bool) (any, error) {
	return &tensor{dtype: t.DType(), shape: t.Shape().Clone(), guarded: guarded,
		copies: make([]*backend.Tensor, len(d.members)), home: -1}, nil
}

// Free releases every member's copy.
func (d *device) Free(s *backend.Storage) {
	ct := s.Impl.(*tensor)
	for k, c := range ct.copies {
		if c != nil {
			d.members[k].front.Release(c)
		}
	}
	ct.copies, ct.host, ct.valid = nil, nil, 0
}

// Write writes src into every copy a member holds, or keeps it on the host
// until an op places the tensor.
func (d *device) Write(t *backend.Tensor, src []byte) error {
	ct := impl(t)
	ct.valid, ct.host = 0, nil
	for k, c := range ct.copies {
		if c == nil {
			continue
		}
		m := d.members[k]
		m.front.Write(c, src)
		if err := m.front.Err(); err != nil {
			return m.named(err)
		}
		m.queued = true
		ct.valid |= 1 << k
	}
	if ct.valid == 0 {
		ct.host = append([]byte(nil), src...)
	}
	return nil
}

// Read reads the tensor from the host data or a member with a current copy.
func (d *device) Read(t *backend.Tensor, dst []byte) error {
	ct := impl(t)
	if ct.host != nil {
		copy(dst, ct.host)
		return nil
	}
	j := d.source(ct)
	if j < 0 { // never written: the contents are undefined
		clear(dst)
		return nil
	}
	m := d.members[j]
	if err := m.front.Read(ct.copies[j], dst); err != nil {
		return m.named(err)
	}
	m.queued = false
	return nil
}

// source returns a member with a current copy of ct, preferring one with
// no queued work (whose Read does not wait), or -1.
func (d *device) source(ct *tensor) int {
	best := -1
	for v := ct.valid; v != 0; v &= v - 1 {
		k := bits.TrailingZeros32(v)
		if !d.members[k].queued {
			return k
		}
		if best < 0 {
			best = k
		}
	}
	return best
}

// Supports reports whether some member runs the call.
func (d *device) Supports(c backend.Call) error {
	if d.first(c) >= 0 {
		return nil
	}
	var why []string
	for _, m := range d.members {
		_, w := m.supports(c)
		why = append(why, m.name+": "+w)
	}
	return fmt.Errorf("%w: no backend of %s runs it (%s)", backend.ErrUnsupported, d.info.Backend, strings.Join(why, "; "))
}

// first returns the first member that runs c, or -1, and remembers the
// answer for a Run of the same call.
func (d *device) first(c backend.Call) int {
	k := -1
	for i, m := range d.members {
		if ok, _ := m.supports(c); ok {
			k = i
			break
		}
	}
	d.asked.op, d.asked.n, d.asked.first = c.Op, len(c.Args), k
	d.asked.arg0 = nil
	if len(c.Args) > 0 {
		d.asked.arg0 = c.Args[0]
	}
	return k
}

// place chooses the member that runs c, given the first that supports it:
// that one, unless c updates in place a tensor whose matmuls run on another
// member that supports c.
func (d *device) place(c backend.Call, roles []backend.Arg, first int) int {
	for i, a := range roles {
		if a.Role != backend.InOut || c.Args[i] == nil {
			continue
		}
		if h := impl(c.Args[i]).home; h >= 0 && h != first {
			if ok, _ := d.members[h].supports(c); ok {
				return h
			}
		}
	}
	return first
}

// reads reports whether argument i of c (of role a) is read: In and InOut
// arguments, except matmul's c when Beta is 0.
func reads(c backend.Call, i int, a backend.Arg) bool {
	switch {
	case a.Role == backend.Out:
		return false
	case c.Op == backend.OpMatMul && i == 0:
		return c.Attrs.Beta != 0
	}
	return true
}

// Run runs the call on its member, copying there the arguments it reads
// whose copy there is not current.
func (d *device) Run(c backend.Call) error {
	first := d.asked.first
	if d.asked.op != c.Op || d.asked.n != len(c.Args) || len(c.Args) > 0 && d.asked.arg0 != c.Args[0] {
		first = d.first(c)
	}
	if first < 0 {
		return d.Supports(c)
	}
	roles := c.Op.Expand(len(c.Args))
	k := d.place(c, roles, first)
	m := d.members[k]
	args := make([]*backend.Tensor, len(c.Args))
	var views []*backend.Tensor
	for i, t := range c.Args {
		if t == nil {
			continue
		}
		ct := impl(t)
		mt, err := d.copyOn(ct, k)
		if err != nil {
			return backend.NewOpError(c, fmt.Errorf("on %s: %s: %w", m.name, roles[i].Name, err))
		}
		// An output's host data is placed too: it costs no wait, and an
		// output left unwritten by the op keeps what the host wrote
		// (conformance fills outputs with NaN to catch exactly that).
		if reads(c, i, roles[i]) || ct.host != nil {
			if err := d.fetch(ct, k); err != nil {
				return backend.NewOpError(c, fmt.Errorf("on %s: copying %s there: %w", m.name, roles[i].Name, err))
			}
		}
		if !t.Shape().Equal(ct.shape) {
			mt = backend.Reshape(mt, t.Shape()...)
			views = append(views, mt)
		}
		args[i] = mt
	}
	err := m.dev.Run(backend.Call{Op: c.Op, Args: args, Attrs: c.Attrs})
	for _, v := range views {
		m.front.Release(v)
	}
	if err != nil {
		var oe *backend.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return backend.NewOpError(c, fmt.Errorf("on %s: %w", m.name, err))
	}
	m.queued = true
	m.stats.count(c.Op)
	for i, t := range c.Args {
		if t != nil && roles[i].Role != backend.In {
			ct := impl(t)
			ct.valid, ct.host = 1<<k, nil
		}
	}
	if c.Op == backend.OpMatMul {
		impl(c.Args[1]).home, impl(c.Args[2]).home = k, k
	}
	return nil
}

// copyOn returns ct's copy on member k, allocating it there first.
func (d *device) copyOn(ct *tensor, k int) (*backend.Tensor, error) {
	if c := ct.copies[k]; c != nil {
		return c, nil
	}
	m := d.members[k]
	var c *backend.Tensor
	if ct.guarded {
		c = m.front.NewGuarded(ct.dtype, ct.shape...)
	} else {
		c = m.front.New(ct.dtype, ct.shape...)
	}
	if err := m.front.Err(); err != nil {
		return nil, m.named(err)
	}
	ct.copies[k] = c
	return c, nil
}

// fetch makes ct's copy on member k current: from the host data, or by a
// copy from a member whose copy is current.
func (d *device) fetch(ct *tensor, k int) error {
	if ct.valid&(1<<k) != 0 {
		return nil
	}
	dst := d.members[k]
	if ct.host != nil {
		dst.front.Write(ct.copies[k], ct.host)
		dst.queued = true
		ct.valid |= 1 << k
		return dst.named(dst.front.Err())
	}
	j := d.source(ct)
	if j < 0 { // never written: nothing to copy
		ct.valid |= 1 << k
		return nil
	}
	src := d.members[j]
	n := ct.copies[j].Bytes()
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	buf := d.buf[:n]
	start := time.Now()
	if err := src.front.Read(ct.copies[j], buf); err != nil {
		return fmt.Errorf("from %w", src.named(err))
	}
	src.queued = false
	dst.front.Write(ct.copies[k], buf)
	if err := dst.front.Err(); err != nil {
		return dst.named(err)
	}
	dst.queued = true
	ct.valid |= 1 << k
	src.stats.CopiesOut++
	src.stats.BytesOut += int64(n)
	dst.stats.CopiesIn++
	dst.stats.BytesIn += int64(n)
	dst.stats.CopyTime += time.Since(start)
	return nil
}

// Sync waits for every member with queued work.
func (d *device) Sync() error {
	var first error
	for _, m := range d.members {
		if !m.queued {
			continue
		}
		if err := m.front.Sync(); err != nil && first == nil {
			first = m.named(err)
		}
		m.queued = false
	}
	return first
}

// Err returns the first member's fault, if any.
func (d *device) Err() error {
	for _, m := range d.members {
		if err := m.front.Err(); err != nil {
			return m.named(err)
		}
	}
	return nil
}

// Close closes every member.
func (d *device) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	var first error
	for _, m := range d.members {
		if err := m.front.Close(); err != nil && first == nil {
			first = m.named(err)
		}
	}
	return first
}

// CheckGuards checks the guards of every copy of t.
func (d *device) CheckGuards(t *backend.Tensor) error {
	ct := impl(t)
	for k, c := range ct.copies {
		if c == nil {
			continue
		}
		if err := d.members[k].guard.CheckGuards(c); err != nil {
			return d.members[k].named(err)
		}
	}
	return nil
}
