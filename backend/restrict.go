package backend

import (
	"fmt"
	"strings"
)

// Restrict returns b limited to some of its ops: a testing aid that makes any
// backend partial, so that a composite of backends ("A?ops=matmul,B", see
// Open) can be tried without writing a partial backend. Open gives it as the
// spec suffix "?ops=OP+OP" ("cpu-ref?ops=matmul+gelu", "plugin:cpu?ops=matmul").
// The result's Info lists only those ops, its Backend name carries the
// suffix (ops in catalogue order), and its device refuses every other op in
// Supports. b must be a *Front (every registered backend is one) on which
// nothing was allocated yet; it is taken over, so close only the result.
func Restrict(b Backend, ops []Op) (Backend, error) {
	f, ok := b.(*Front)
	if !ok {
		return nil, fmt.Errorf("backend: %s cannot be restricted to some ops (it is not a backend.Front)", b.Info().Backend)
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("backend: %s?ops=: no op named", f.name)
	}
	r := &restricted{Device: f.dev}
	for _, op := range ops {
		if !op.Valid() {
			return nil, fmt.Errorf("backend: %s?ops=: invalid op %d", f.name, uint16(op))
		}
		if !f.ops[op] {
			return nil, fmt.Errorf("backend: %s?ops=: %s does not run %v", f.name, f.name, op)
		}
		r.ops[op] = true
	}
	r.info = f.info
	r.info.Ops = nil
	var names []string
	for _, op := range Ops() {
		if r.ops[op] {
			r.info.Ops = append(r.info.Ops, op)
			names = append(names, op.String())
		}
	}
	r.info.Backend = f.name + "?ops=" + strings.Join(names, "+")
	r.guard = f.guard
	r.info.Guards = f.guard != nil
	return NewFront(r), nil
}

// ParseOps parses the op list of a "?ops=" suffix: op names joined by "+"
// ("matmul+gelu+gelu_bwd").
func ParseOps(list string) ([]Op, error) {
	var ops []Op
	for _, name := range strings.Split(list, "+") {
		op, err := ParseOp(name)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// restricted is a Device limited to some of its ops (Restrict).
type restricted struct {
	Device
	info  Info
	ops   [numOps]bool
	guard GuardDevice // the device, when it has guards
}

var _ GuardDevice = (*restricted)(nil)

// Info is the device's, with only the kept ops and the suffixed name.
func (r *restricted) Info() Info { return r.info }

// Supports refuses the ops not kept, then asks the device.
func (r *restricted) Supports(c Call) error {
	if !c.Op.Valid() || !r.ops[c.Op] {
		return fmt.Errorf("%w: %s leaves %v out", ErrUnsupported, r.info.Backend, c.Op)
	}
	return r.Device.Supports(c)
}

// CheckGuards asks the device (only called where Info.Guards is set).
func (r *restricted) CheckGuards(t *Tensor) error {
	if r.guard == nil {
		return fmt.Errorf("guard regions: %w", ErrUnsupported)
	}
	return r.guard.CheckGuards(t)
}
