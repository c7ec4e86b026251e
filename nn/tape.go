// Package nn is reverse-mode automatic differentiation over the ops of the
// backend contract, and the layers, optimiser, schedules and parameter I/O
// of a Vision Transformer built on it.
//
// Autodiff is a decorator: a Tape wraps any backend.Backend and is itself a
// backend.Backend. Ops run through it execute on the wrapped backend at once
// and, when one of their inputs depends on a watched tensor, are recorded.
// Backward walks the record in reverse and applies one backward rule per op
// (the table in rules.go), expressed again as ops of the catalogue, so every
// backend — cpu, vulkan, plugins — gets gradients from the same rules.
// Layer code is written once against backend.Backend: given a Tape it is
// differentiated, given the plain backend it runs forward only.
//
// Values are tracked by storage and version: every op that writes a storage
// bumps its version, so tensors written in place (a bias added into a matmul
// result, a residual added into a projection, a scatter-add into a buffer)
// get the right gradients, and a value a backward rule needs that was
// overwritten after the forward used it is reported instead of silently
// giving a wrong gradient.
//
// Memory: the tape keeps its own handle (a backend.Reshape of the same
// storage) of each tensor a backward rule will read, so callers release
// their handles as soon as the forward is done with them. Backward releases
// each saved handle once the rule that reads it has run, and the gradients of
// intermediate values once they have been propagated, so memory falls as the
// backward pass proceeds. Reset releases whatever is left.
package nn

import (
	"errors"
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
)

// key names one version of one storage: the value a tensor held between two
// writes.
type key struct {
	s *backend.Storage
	v int
}

// argRec is what the tape remembers of one argument of a recorded call.
type argRec struct {
	role  backend.Role
	shape backend.Shape
	dtype backend.DType
	isNil bool
	in    key // the version read (In and InOut)
	out   key // the version written (Out and InOut)
	// saved is the tape's own handle of the argument when its rule reads
	// the value; savedVer is the version that value must still have.
	saved    *backend.Tensor
	savedVer int
	// recast, in place of saved, is a handle of the watched tensor whose
	// cast the argument is (see castOf): the rule reads a fresh cast of it.
	recast *backend.Tensor
}

// entry is one recorded call.
type entry struct {
	op    backend.Op
	attrs backend.Attrs
	args  []argRec
}

// grad is the gradient of one key being accumulated.
type grad struct {
	t *backend.Tensor
	// fresh means t holds no value yet: the first contribution writes it.
	fresh bool
	// leaf gradients belong to the caller of Watch: they are written, never
	// released, and zero-filled when no gradient reaches them.
	leaf bool
}

// castSrc is the watched tensor a recorded cast read, at the version it
// read.
type castSrc struct {
	x   *backend.Tensor
	ver int
}

// Tape records differentiable ops run through it; see the package comment.
// A Tape is used by one goroutine at a time.
type Tape struct {
	b        backend.Backend
	versions map[*backend.Storage]int
	tracked  map[key]bool
	leaves   map[key]*backend.Tensor
	entries  []entry
	// castOf maps the value a recorded cast wrote from a watched tensor to
	// the tape's handle of that tensor (at the version cast).
	castOf map[key]castSrc
	// onGrad, when set, is called by Backward with each watched tensor's
	// gradient as soon as it is final (OnGrad).
	onGrad func(g *backend.Tensor) error
}

// NewTape returns a tape over b. The tape does not own b: Close resets the
// tape and leaves b open.
func NewTape(b backend.Backend) *Tape {
	t := &Tape{b: b}
	t.Reset()
	return t
}

// Backend returns the wrapped backend.
func (t *Tape) Backend() backend.Backend { return t.b }

// Reset releases every handle the tape holds and forgets everything it
// recorded and watched; the tape can then record a new computation.
func (t *Tape) Reset() {
	for i := range t.entries {
		t.releaseSaved(&t.entries[i])
	}
	t.entries = nil
	for _, c := range t.castOf {
		t.b.Release(c.x)
	}
	t.castOf = map[key]castSrc{}
	t.versions = map[*backend.Storage]int{}
	t.tracked = map[key]bool{}
	t.leaves = map[key]*backend.Tensor{}
	t.onGrad = nil
}

func (t *Tape) releaseSaved(e *entry) {
	for i := range e.args {
		if e.args[i].saved != nil {
			t.b.Release(e.args[i].saved)
			e.args[i].saved = nil
		}
		if e.args[i].recast != nil {
			t.b.Release(e.args[i].recast)
			e.args[i].recast = nil
		}
	}
}

// Watch marks x as a leaf of differentiation: ops that read it are recorded,
// and Backward writes dL/dx into g, a tensor with x's number of elements (0
// where no gradient reaches x). Watch x before running the ops that read it.
func (t *Tape) Watch(x, g *backend.Tensor) error {
	if x == nil || g == nil || x.Released() || g.Released() {
		return fmt.Errorf("nn: watch: nil or released tensor (x %v, grad %v)", x, g)
	}
	if x.NumElements() != g.NumElements() || g.DType() != x.DType() {
		return fmt.Errorf("nn: watch: gradient %v does not fit %v", g, x)
	}
	k := key{x.Storage(), t.versions[x.Storage()]}
	t.tracked[k] = true
	t.leaves[k] = g
	return nil
}

// OnGrad sets f to be called by the next Backward once for every watched
// tensor, with the gradient given to Watch, as soon as that gradient is
// final: after the rule of the earliest recorded op that read the watched
// tensor, or at the end for one no op read (zero-filled). The ops that
// write it may still be queued on the backend (a Read waits for them). An
// error from f stops Backward with it. Data-parallel training starts a
// gradient's all-reduce from f, while the rest of the backward pass runs.
// Reset (and so Backward's end) clears f.
func (t *Tape) OnGrad(f func(g *backend.Tensor) error) { t.onGrad = f }

// Info describes the wrapped backend.
func (t *Tape) Info() backend.Info { return t.b.Info() }

// New allocates on the wrapped backend.
func (t *Tape) New(dt backend.DType, shape ...int) *backend.Tensor { return t.b.New(dt, shape...) }

// Supports asks the wrapped backend.
func (t *Tape) Supports(c backend.Call) error { return t.b.Supports(c) }

// Write writes through to the wrapped backend; the write is a new version of
// the tensor's storage.
func (t *Tape) Write(x *backend.Tensor, src []byte) {
	if x != nil {
		t.versions[x.Storage()]++
	}
	t.b.Write(x, src)
}

// Read reads from the wrapped backend.
func (t *Tape) Read(x *backend.Tensor, dst []byte) error { return t.b.Read(x, dst) }

// Sync synchronises the wrapped backend.
func (t *Tape) Sync() error { return t.b.Sync() }

// Err returns the wrapped backend's sticky error.
func (t *Tape) Err() error { return t.b.Err() }

// Release releases the caller's handle. A value a backward rule needs stays
// alive through the tape's own handle.
func (t *Tape) Release(x *backend.Tensor) { t.b.Release(x) }

// Close resets the tape (releasing every handle it holds). It does not close
// the wrapped backend, which belongs to the caller.
func (t *Tape) Close() error {
	t.Reset()
	return t.b.Err()
}

// Run runs c on the wrapped backend and records it when one of its inputs
// depends on a watched tensor. The wrapped backend validates the call; a
// call it refuses is not recorded (its error is sticky).
func (t *Tape) Run(c backend.Call) {
	t.b.Run(c)
	if t.b.Err() != nil {
		return
	}
	specs := c.Op.Expand(len(c.Args))
	e := entry{op: c.Op, attrs: c.Attrs, args: make([]argRec, len(c.Args))}
	record := false
	for i, x := range c.Args {
		a := &e.args[i]
		a.role = specs[i].Role
		if x == nil {
			a.isNil = true
			continue
		}
		a.shape = x.Shape().Clone()
		a.dtype = x.DType()
		if a.role != backend.Out {
			a.in = key{x.Storage(), t.versions[x.Storage()]}
			if specs[i].DType != backend.I32 && t.tracked[a.in] {
				record = true
			}
		}
	}
	// Bump the version of every written storage once, even when a call
	// names it twice (an in-place op).
	bumped := map[*backend.Storage]bool{}
	for i, x := range c.Args {
		if x == nil || e.args[i].role == backend.In || bumped[x.Storage()] {
			continue
		}
		bumped[x.Storage()] = true
		t.versions[x.Storage()]++
	}
	for i, x := range c.Args {
		if x != nil && e.args[i].role != backend.In {
			e.args[i].out = key{x.Storage(), t.versions[x.Storage()]}
		}
	}
	if !record {
		return
	}
	r := rules[c.Op]
	for i, x := range c.Args {
		a := &e.args[i]
		if x == nil || r.saves == nil || !r.saves(&e, i, t) {
			continue
		}
		if c, ok := t.castOf[a.in]; ok && a.role == backend.In {
			// A cast of a watched tensor (a parameter's 16-bit copy
			// under autocast) is cast again when the rule runs: the
			// same bits, without holding the copy from the forward
			// pass to the backward pass.
			a.recast = backend.Reshape(c.x, c.x.Shape()...)
			a.savedVer = c.ver
			continue
		}
		a.saved = backend.Reshape(x, x.Shape()...)
		a.savedVer = a.in.v
		if a.role != backend.In {
			a.savedVer = a.out.v
		}
	}
	if c.Op == backend.OpCast {
		if _, leaf := t.leaves[e.args[1].in]; leaf {
			x := c.Args[1]
			t.castOf[e.args[0].out] = castSrc{x: backend.Reshape(x, x.Shape()...), ver: e.args[1].in.v}
		}
	}
	for i := range e.args {
		if !e.args[i].isNil && e.args[i].role != backend.In {
			t.tracked[e.args[i].out] = true
		}
	}
	t.entries = append(t.entries, e)
}

// Backward computes the gradient of loss, a one-element tensor computed
// through the tape, with respect to every watched tensor, writing it into the
// gradient given to Watch. It consumes the record: the tape's saved handles
// and intermediate gradients are released as the walk proceeds, and the tape
// is reset at the end. It returns the first error of the tape or the backend.
func (t *Tape) Backward(loss *backend.Tensor) error { return t.BackwardScaled(loss, 1) }

// BackwardScaled is Backward for the loss multiplied by scale (a GradScaler's
// loss scaling): every gradient it writes is scale times the gradient of
// loss, without an op on the loss itself.
func (t *Tape) BackwardScaled(loss *backend.Tensor, scale float64) error {
	defer t.Reset()
	if err := t.b.Err(); err != nil {
		return err
	}
	if loss == nil || loss.Released() || loss.NumElements() != 1 {
		return fmt.Errorf("nn: backward: the loss must be a live one-element tensor, got %v", loss)
	}
	lk := key{loss.Storage(), t.versions[loss.Storage()]}
	if !t.tracked[lk] {
		return errors.New("nn: backward: the loss does not depend on any watched tensor")
	}
	grads := map[key]*grad{}
	for k, g := range t.leaves {
		grads[k] = &grad{t: g, fresh: true, leaf: true}
	}
	seed := t.b.New(loss.DType(), loss.Shape()...)
	backend.Fill(t.b, seed, scale)
	if lg, ok := grads[lk]; ok { // the loss is itself a leaf
		backend.Copy(t.b, lg.t, seed)
		lg.fresh = false
		t.b.Release(seed)
	} else {
		grads[lk] = &grad{t: seed}
	}
	final := t.finalAt()
	for i := len(t.entries) - 1; i >= 0; i-- {
		e := &t.entries[i]
		err := t.backwardEntry(e, grads)
		t.releaseSaved(e)
		if err == nil {
			err = t.b.Err()
		}
		if err == nil {
			err = t.gradsDone(final[i], grads)
		}
		if err != nil {
			t.releaseGrads(grads)
			return err
		}
	}
	for _, g := range grads {
		if g.leaf && g.fresh {
			backend.Fill(t.b, g.t, 0)
			g.fresh = false
			if t.onGrad != nil {
				if err := t.onGrad(g.t); err != nil {
					t.releaseGrads(grads)
					return err
				}
			}
		}
	}
	t.releaseGrads(grads)
	return t.b.Err()
}

// finalAt maps each recorded op's index to the watched values whose
// gradients are final once its rule has run: those it is the earliest
// reader of. It is nil without an OnGrad callback.
func (t *Tape) finalAt() map[int][]key {
	if t.onGrad == nil {
		return nil
	}
	seen := map[key]bool{}
	at := map[int][]key{}
	for i := range t.entries {
		for _, a := range t.entries[i].args {
			if a.isNil || a.role == backend.Out || seen[a.in] {
				continue
			}
			if _, leaf := t.leaves[a.in]; leaf {
				seen[a.in] = true
				at[i] = append(at[i], a.in)
			}
		}
	}
	return at
}

// gradsDone hands the final gradients of keys to the OnGrad callback, a
// gradient no rule wrote zero-filled first.
func (t *Tape) gradsDone(keys []key, grads map[key]*grad) error {
	for _, k := range keys {
		g := grads[k]
		if g.fresh {
			backend.Fill(t.b, g.t, 0)
			g.fresh = false
		}
		if err := t.onGrad(g.t); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tape) releaseGrads(grads map[key]*grad) {
	for k, g := range grads {
		if !g.leaf {
			t.b.Release(g.t)
		}
		delete(grads, k)
	}
}

// backwardEntry applies the rule of one recorded call.
func (t *Tape) backwardEntry(e *entry, grads map[key]*grad) error {
	ctx := &gradCtx{t: t, e: e, grads: grads, outs: make([]*backend.Tensor, len(e.args))}
	anyGrad := false
	for i := range e.args {
		a := &e.args[i]
		if a.isNil || a.role == backend.In {
			continue
		}
		g, ok := grads[a.out]
		if !ok || g.fresh {
			continue
		}
		delete(grads, a.out)
		ctx.owned = append(ctx.owned, g.t)
		ctx.outs[i] = ctx.view(g.t, a.shape)
		anyGrad = true
	}
	defer ctx.cleanup()
	if !anyGrad {
		return nil
	}
	for i := range e.args {
		a := &e.args[i]
		v := a.saved
		if v == nil {
			v = a.recast
		}
		if v != nil && t.versions[v.Storage()] != a.savedVer {
			return fmt.Errorf("nn: backward of %v: argument %s (%v) was overwritten after the forward used it",
				e.op, argName(e, i), a.shape)
		}
	}
	r := rules[e.op]
	if r.grad == nil {
		return fmt.Errorf("nn: backward: op %v has no gradient (it is not differentiable)", e.op)
	}
	if err := r.grad(ctx); err != nil {
		return fmt.Errorf("nn: backward of %v: %w", e.op, err)
	}
	return ctx.err
}

func argName(e *entry, i int) string {
	specs := e.op.Expand(len(e.args))
	name := specs[i].Name
	if specs[i].Variadic {
		name = fmt.Sprintf("%s#%d", name, i)
	}
	return name
}

// gradCtx is what a backward rule works with: the gradients of the call's
// outputs, its saved inputs, and ways to add a contribution to the gradient
// of an input.
type gradCtx struct {
	t     *Tape
	e     *entry
	grads map[key]*grad
	// outs[i] is the gradient of output argument i shaped as the argument,
	// nil when none reached it.
	outs []*backend.Tensor
	// owned are handles released after the rule: output gradients taken
	// from the map, views and scratch tensors.
	owned []*backend.Tensor
	// recast holds the arguments cast again for this rule (value).
	recast map[int]*backend.Tensor
	// given is true once an output gradient's storage was handed on as
	// an input's gradient (at most once per rule).
	given bool
	err   error
}

func (g *gradCtx) b() backend.Backend { return g.t.b }

func (g *gradCtx) fail(err error) {
	if g.err == nil && err != nil {
		g.err = err
	}
}

func (g *gradCtx) cleanup() {
	for _, h := range g.owned {
		g.t.b.Release(h)
	}
	g.owned = nil
}

// view returns a handle of x with the given shape: x itself when the shape
// matches, else a reshaped handle released after the rule.
func (g *gradCtx) view(x *backend.Tensor, shape backend.Shape) *backend.Tensor {
	if x.Shape().Equal(shape) {
		return x
	}
	v := backend.Reshape(x, shape...)
	g.owned = append(g.owned, v)
	return v
}

// tmp allocates a scratch tensor released after the rule.
func (g *gradCtx) tmp(dt backend.DType, shape backend.Shape) *backend.Tensor {
	x := g.t.b.New(dt, shape...)
	g.owned = append(g.owned, x)
	return x
}

// out returns the gradient of output argument i, nil if none.
func (g *gradCtx) out(i int) *backend.Tensor { return g.outs[i] }

// value returns the saved value of argument i; an argument that was a cast
// of a watched tensor is cast again into a scratch tensor released after
// the rule.
func (g *gradCtx) value(i int) *backend.Tensor {
	a := &g.e.args[i]
	if a.saved == nil && a.recast != nil {
		if x, ok := g.recast[i]; ok {
			return x
		}
		x := g.tmp(a.dtype, a.shape)
		backend.Cast(g.b(), x, g.view(a.recast, a.shape))
		if g.recast == nil {
			g.recast = map[int]*backend.Tensor{}
		}
		g.recast[i] = x
		return x
	}
	s := a.saved
	if s == nil {
		g.fail(fmt.Errorf("nn: backward of %v: the rule reads argument %d, which was not saved", g.e.op, i))
	}
	return s
}

// shape returns the shape of argument i.
func (g *gradCtx) shape(i int) backend.Shape { return g.e.args[i].shape }

// dtype returns the dtype of argument i: a gradient has its value's dtype.
func (g *gradCtx) dtype(i int) backend.DType { return g.e.args[i].dtype }

// needs reports whether argument i is an input whose value depends on a
// watched tensor, so that it needs a gradient.
func (g *gradCtx) needs(i int) bool {
	a := &g.e.args[i]
	return !a.isNil && a.role != backend.Out && g.t.tracked[a.in]
}

// slot returns the gradient accumulator of input argument i, creating it if
// needed (allocated with the argument's shape and dtype, fresh).
func (g *gradCtx) slot(i int) *grad {
	a := &g.e.args[i]
	s, ok := g.grads[a.in]
	if !ok {
		s = &grad{t: g.t.b.New(a.dtype, a.shape...), fresh: true}
		g.grads[a.in] = s
	}
	return s
}

// target returns the gradient accumulator of input i and a handle of it
// shaped as the input, or false when no gradient is wanted (input i does
// not depend on a watched tensor, or the rule failed).
func (g *gradCtx) target(i int) (*grad, *backend.Tensor, bool) {
	if g.err != nil || !g.needs(i) {
		return nil, nil, false
	}
	s := g.slot(i)
	return s, g.view(s.t, g.shape(i)), true
}

// dest returns where a contribution to the gradient of input i that an op
// writes (not accumulates) should go, and a function to call after the op:
// the gradient itself when fresh, else a scratch that finish adds to it.
// It returns nil when no gradient is wanted.
func (g *gradCtx) dest(i int) (*backend.Tensor, func()) {
	s, dst, ok := g.target(i)
	switch {
	case !ok:
		return nil, func() {}
	case s.fresh:
		s.fresh = false
		return dst, func() {}
	}
	tmp := g.tmp(g.dtype(i), g.shape(i))
	return tmp, func() { backend.Axpy(g.b(), dst, tmp, 1) }
}

// write adds a contribution to the gradient of input i computed by f, which
// overwrites its argument (shaped as input i).
func (g *gradCtx) write(i int, f func(dst *backend.Tensor)) {
	if d, finish := g.dest(i); d != nil {
		f(d)
		finish()
	}
}

// accumulate adds a contribution to the gradient of input i computed by f,
// which adds into its argument (shaped as input i); a fresh gradient is
// zero-filled first.
func (g *gradCtx) accumulate(i int, f func(dst *backend.Tensor)) {
	s, dst, ok := g.target(i)
	if !ok {
		return
	}
	if s.fresh {
		backend.Fill(g.b(), dst, 0)
		s.fresh = false
	}
	f(dst)
}

// matmulInto adds a contribution computed by a matmul to the gradient of
// input i: f receives the destination and the Beta to use (0 to write a
// fresh gradient, 1 to accumulate).
func (g *gradCtx) matmulInto(i int, f func(dst *backend.Tensor, beta float64)) {
	s, dst, ok := g.target(i)
	if !ok {
		return
	}
	beta := 1.0
	if s.fresh {
		beta, s.fresh = 0, false
	}
	f(dst, beta)
}

// axpy adds alpha*x to the gradient of input i. When alpha is 1 and the
// gradient is a fresh intermediate, x's storage itself becomes the gradient
// (no copy), at most once per rule and only for x an output gradient of this
// rule, which nothing else writes.
func (g *gradCtx) axpy(i int, x *backend.Tensor, alpha float64) {
	if g.err != nil || !g.needs(i) {
		return
	}
	a := &g.e.args[i]
	s, ok := g.grads[a.in]
	if !ok && alpha == 1 && !g.given && g.isOut(x) {
		g.grads[a.in] = &grad{t: backend.Reshape(x, a.shape...)}
		g.given = true
		return
	}
	if !ok {
		s = g.slot(i)
	}
	dst, xv := g.view(s.t, a.shape), g.view(x, a.shape)
	switch {
	case !s.fresh:
		backend.Axpy(g.b(), dst, xv, alpha)
	case alpha == 1:
		backend.Copy(g.b(), dst, xv)
	default:
		backend.Scale(g.b(), dst, xv, alpha)
	}
	s.fresh = false
}

// isOut reports whether x is one of this rule's output gradients.
func (g *gradCtx) isOut(x *backend.Tensor) bool {
	for _, o := range g.outs {
		if o != nil && o.Storage() == x.Storage() {
			return true
		}
	}
	return false
}
