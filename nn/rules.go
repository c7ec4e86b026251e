package nn

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
)

// rule is the backward rule of one op: which arguments' values it reads, and
// how it turns the gradients of the op's outputs into contributions to the
// gradients of its inputs. Rules are written only with ops of the
// catalogue, so they run on every backend.
type rule struct {
	// saves reports whether the rule reads the value of argument i of a
	// recorded call (the tape then keeps a handle of it).
	saves func(e *entry, i int, t *Tape) bool
	// grad applies the rule; nil for ops that are not differentiable.
	grad func(g *gradCtx) error
}

// savesArgs returns a saves function for the arguments at the given indices.
func savesArgs(idx ...int) func(e *entry, i int, t *Tape) bool {
	return func(e *entry, i int, t *Tape) bool {
		for _, k := range idx {
			if i == k {
				return true
			}
		}
		return false
	}
}

// tracked reports whether input argument i of e depends on a watched tensor.
func (t *Tape) trackedArg(e *entry, i int) bool {
	a := &e.args[i]
	return !a.isNil && a.role != backend.Out && t.tracked[a.in]
}

// savesTheOther is the saves rule of a product of arguments 1 and 2: each
// one's value is needed for the other's gradient.
func savesTheOther(e *entry, i int, t *Tape) bool {
	switch i {
	case 1:
		return t.trackedArg(e, 2)
	case 2:
		return t.trackedArg(e, 1)
	}
	return false
}

// rules is the table of backward rules, one per op of the catalogue. Ops
// whose grad is nil are not differentiable; running them on tracked inputs
// is fine as long as no gradient flows back through them. The rules written
// here are those the catalogue cannot state; init adds the rule of every op
// whose gradient op the catalogue names (Spec.GradOf, see derivedRule), and
// makes the gradient ops themselves not differentiable.
var rules = map[backend.Op]rule{
	// c = Alpha*op(a)@op(b) + Beta*c_old.
	backend.OpMatMul: {
		saves: savesTheOther,
		grad: func(g *gradCtx) error {
			dc := g.out(0)
			at := g.e.attrs
			alpha := at.Alpha
			g.matmulInto(1, func(da *backend.Tensor, beta float64) {
				b := g.value(2)
				if !at.TransA { // da = dc @ op(b)^T
					backend.MatMul(g.b(), da, dc, b, false, !at.TransB, alpha, beta)
				} else { // da = op(b) @ dc^T
					backend.MatMul(g.b(), da, b, dc, at.TransB, true, alpha, beta)
				}
			})
			g.matmulInto(2, func(db *backend.Tensor, beta float64) {
				a := g.value(1)
				if !at.TransB { // db = op(a)^T @ dc
					backend.MatMul(g.b(), db, a, dc, !at.TransA, false, alpha, beta)
				} else { // db = dc^T @ op(a)
					backend.MatMul(g.b(), db, dc, a, true, at.TransA, alpha, beta)
				}
			})
			if at.Beta != 0 {
				g.axpy(0, dc, at.Beta)
			}
			return nil
		},
	},
	// y = a + b, b broadcast over a's leading dims.
	backend.OpAdd: {grad: func(g *gradCtx) error {
		dy := g.out(0)
		g.axpy(1, dy, 1)
		addBroadcastGrad(g, 2, dy)
		return nil
	}},
	// y = a * b, b broadcast.
	backend.OpMul: {
		saves: savesTheOther,
		grad: func(g *gradCtx) error {
			dy := g.out(0)
			g.write(1, func(da *backend.Tensor) { backend.Mul(g.b(), da, dy, g.value(2)) })
			if g.needs(2) {
				p := g.tmp(dy.Shape())
				backend.Mul(g.b(), p, dy, g.value(1))
				addBroadcastGrad(g, 2, p)
			}
			return nil
		},
	},
	// y = Alpha*x.
	backend.OpScale: {grad: func(g *gradCtx) error {
		g.axpy(1, g.out(0), g.e.attrs.Alpha)
		return nil
	}},
	// y = y_old + Alpha*x.
	backend.OpAxpy: {grad: func(g *gradCtx) error {
		dy := g.out(0)
		g.axpy(1, dy, g.e.attrs.Alpha)
		g.axpy(0, dy, 1)
		return nil
	}},
	// y[j] = sum_r x[r,j]: dx[r,j] = dy[j].
	backend.OpColSum: {grad: func(g *gradCtx) error {
		dy := g.out(0)
		g.accumulate(1, func(dx *backend.Tensor) { backend.Add(g.b(), dx, dx, dy) })
		return nil
	}},
	// y[idx[r]] += x[r]: dx[r] = dy[idx[r]], dy_old = dy.
	backend.OpScatterAdd: {saves: savesArgs(2), grad: func(g *gradCtx) error {
		dy, ix := g.out(0), g.value(2)
		g.write(1, func(dx *backend.Tensor) { backend.Gather(g.b(), dx, dy, ix) })
		g.axpy(0, dy, 1)
		return nil
	}},
	// y[b, i*Wp+j, c*P*P+u*P+v] = img[b,c,i*P+u,j*P+v]. Its adjoint is the
	// inverse permutation, composed from two merge_heads: patchify is
	// img [B*C*Hp, P, Wp, P] -> split -> [B*C*Hp, Wp, P, P] = [B, C, N, P*P]
	// -> split -> [B, N, C, P*P].
	backend.OpPatchify: {grad: func(g *gradCtx) error {
		dy := g.out(0)
		s := g.shape(1)
		bsz, c, h, w := s[0], s[1], s[2], s[3]
		p := g.e.attrs.Patch
		hp, wp := h/p, w/p
		g.write(1, func(dimg *backend.Tensor) {
			mid := g.tmp(backend.Shape{bsz, c, hp * wp * p * p})
			// dy [B, N, C*PP] = merge of [B, C, N, PP] with Heads = C.
			backend.SplitHeads(g.b(), g.view(dy, backend.Shape{bsz, hp * wp, c * p * p}), c, g.view(mid, backend.Shape{bsz, c, hp * wp, p * p}))
			// [B*C*Hp, Wp, P, P] -> [B*C*Hp, P, Wp*P]: y[b,t,h,e] with
			// T = P (u), H = Wp (j), E = P (v).
			backend.MergeHeads(g.b(), g.view(dimg, backend.Shape{bsz * c * hp, p, wp * p}), wp, g.view(mid, backend.Shape{bsz * c * hp, wp, p, p}))
		})
		return nil
	}},
	backend.OpSmoothL1: {saves: savesArgs(1, 2), grad: func(g *gradCtx) error {
		lossGrad(g, func(d, dl, p, t *backend.Tensor) { backend.SmoothL1Bwd(g.b(), d, dl, p, t, g.e.attrs.Beta) })
		return nil
	}},
	backend.OpMSE: {saves: savesArgs(1, 2), grad: func(g *gradCtx) error {
		lossGrad(g, func(d, dl, p, t *backend.Tensor) { backend.MSEBwd(g.b(), d, dl, p, t) })
		return nil
	}},
	// y[0] = sum(x): dx = dy[0] everywhere.
	backend.OpSum: {grad: func(g *gradCtx) error {
		dy := g.out(0)
		n := g.shape(1).NumElements()
		g.accumulate(1, func(dx *backend.Tensor) {
			v := g.view(dx, backend.Shape{n, 1})
			backend.Add(g.b(), v, v, dy)
		})
		return nil
	}},
	// y[0] = sum(x^2): dx = 2*x*dy[0].
	backend.OpSumSq: {saves: savesArgs(1), grad: func(g *gradCtx) error {
		dy := g.out(0)
		n := g.shape(1).NumElements()
		if !g.needs(1) {
			return nil
		}
		x := g.value(1)
		if g.err != nil {
			return nil
		}
		p := g.tmp(backend.Shape{n, 1})
		backend.Mul(g.b(), p, g.view(x, backend.Shape{n, 1}), dy)
		g.axpy(1, p, 2)
		return nil
	}},
	// y = x (same number of elements).
	backend.OpCopy: {grad: func(g *gradCtx) error {
		g.axpy(1, g.out(0), 1)
		return nil
	}},
	// fill has no inputs and is never recorded; adamw and ema are updates,
	// not differentiable.
	backend.OpFill:  {},
	backend.OpAdamW: {},
	backend.OpEMA:   {},
}

// addBroadcastGrad adds the gradient of a broadcast operand (argument i, of
// a shape that is a trailing part of dy's) to its gradient: dy itself when
// the shapes match, else its column sums.
func addBroadcastGrad(g *gradCtx, i int, dy *backend.Tensor) {
	if !g.needs(i) {
		return
	}
	if g.shape(i).NumElements() == dy.NumElements() {
		g.axpy(i, dy, 1)
		return
	}
	g.write(i, func(db *backend.Tensor) { backend.ColSum(g.b(), db, dy) })
}

// lossGrad applies the rule of a loss op (loss = f(pred, target)), given the
// op's backward: dpred = bwd(dloss, pred, target), dtarget = -dpred.
func lossGrad(g *gradCtx, bwd func(dpred, dloss, pred, target *backend.Tensor)) {
	dl := g.out(0)
	p, t := g.value(1), g.value(2)
	if g.err != nil {
		return
	}
	if g.needs(2) {
		d := g.tmp(g.shape(1))
		bwd(d, dl, p, t)
		g.axpy(1, d, 1)
		g.axpy(2, d, -1)
		return
	}
	g.write(1, func(d *backend.Tensor) { bwd(d, dl, p, t) })
}

// derivedRule is the backward rule of an op whose gradient op g the
// catalogue names (g's GradOf is the op): the values g reads are saved, its
// upstream arguments are the gradients of the op's outputs (zero for an
// output no gradient reached), and its gradient arguments receive the
// gradients of the op's inputs: written into a fresh gradient or through a
// scratch added to it, added into for an argument g accumulates into, a
// scratch (or nothing, if g allows it) where no gradient is wanted.
func derivedRule(g backend.Op) rule {
	fwdArgs := len(g.Spec().GradOf.Spec().Args)
	call := func(m int) (int, []backend.Bind) {
		n := m - fwdArgs + len(g.Spec().Args)
		_, _, binds := g.GradCall(n)
		return n, binds
	}
	return rule{
		saves: func(e *entry, i int, t *Tape) bool {
			_, binds := call(len(e.args))
			for _, b := range binds {
				if b.Kind == backend.Value && b.Arg == i {
					return true
				}
			}
			return false
		},
		grad: func(gc *gradCtx) error {
			n, binds := call(len(gc.e.args))
			gspecs := g.Expand(n)
			args := make([]*backend.Tensor, n)
			upstream := make([]bool, len(gc.e.args))
			var finish []func()
			for j, b := range binds {
				fa := &gc.e.args[b.Arg]
				switch {
				case fa.isNil:
				case b.Kind == backend.Value:
					args[j] = gc.value(b.Arg)
				case b.Kind == backend.Upstream:
					upstream[b.Arg] = true
					if args[j] = gc.out(b.Arg); args[j] == nil {
						args[j] = gc.tmp(fa.shape)
						backend.Fill(gc.b(), args[j], 0)
					}
				default:
					var fin func()
					args[j], fin = gc.gradArg(b.Arg, gspecs[j])
					finish = append(finish, fin)
				}
			}
			for i := range gc.e.args {
				if gc.out(i) != nil && !upstream[i] {
					return fmt.Errorf("no gradient flows through its %s", argName(gc.e, i))
				}
			}
			if gc.err != nil {
				return nil
			}
			gc.b().Run(backend.Call{Op: g, Args: args, Attrs: gc.e.attrs})
			for _, f := range finish {
				f()
			}
			return nil
		},
	}
}

// gradArg returns the tensor a gradient op writes the gradient of input i
// into (spec is that argument of the gradient op), and what to do after the
// op: the gradient itself (zero-filled first when fresh, for an argument the
// op adds into), a scratch added to it afterwards, or, where no gradient is
// wanted, a scratch or nil for an optional argument.
func (g *gradCtx) gradArg(i int, spec backend.Arg) (*backend.Tensor, func()) {
	nop := func() {}
	switch {
	case g.needs(i) && spec.Role == backend.InOut:
		var dst *backend.Tensor
		g.accumulate(i, func(d *backend.Tensor) { dst = d })
		return dst, nop
	case g.needs(i):
		return g.dest(i)
	case spec.Optional:
		return nil, nop
	}
	t := g.tmp(g.shape(i))
	if spec.Role == backend.InOut {
		backend.Fill(g.b(), t, 0)
	}
	return t, nop
}

func init() {
	for _, op := range backend.Ops() {
		if g := op.Spec().GradOf; g != 0 {
			if _, ok := rules[g]; !ok {
				rules[g] = derivedRule(op)
			}
		}
	}
	for _, op := range backend.Ops() {
		if _, ok := rules[op]; !ok && op.Spec().GradOf != 0 {
			rules[op] = rule{} // a gradient op: no second derivatives
		}
	}
	for _, op := range backend.Ops() {
		if _, ok := rules[op]; !ok {
			panic(fmt.Sprintf("nn: op %v has no backward rule: write one in nn/rules.go, or name its gradient op in the catalogue (Spec.GradOf)", op))
		}
	}
}
