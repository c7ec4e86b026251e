package backend

import (
	"errors"
	"fmt"
	"math"
)

// check validates a call against the op table on the host: a known op, the
// right number of arguments, live tensors of the right dtypes, shapes that fit
// the op's rule, attributes in their domain, no storage shared between an
// output and another argument (except where the op allows it in place), and,
// with values set, index values in range (as last written from the host).
// The error is an *OpError. Only the Front calls it, once per call.
func check(c Call, values bool) error {
	if !c.Op.Valid() {
		return &OpError{Op: c.Op, Args: fmt.Sprintf("%d args", len(c.Args)), Err: fmt.Errorf("unknown op %d", uint16(c.Op))}
	}
	if err := checkArgs(c, values); err != nil {
		return NewOpError(c, err)
	}
	if err := specs[c.Op].check(c); err != nil {
		return NewOpError(c, err)
	}
	if values && specs[c.Op].indexed {
		if err := checkIndices(c); err != nil {
			return NewOpError(c, err)
		}
	}
	return nil
}

// Expand returns, for each of n arguments of a call of o, its Arg (a
// variadic Arg repeated for each of its tensors). n must satisfy the op's
// argument count.
func (o Op) Expand(n int) []Arg {
	s := specs[o]
	out := make([]Arg, n)
	for i := range out {
		out[i] = specAt(s, n, i)
	}
	return out
}

// specAt returns the Arg spec of argument i of a call with n arguments (a
// variadic spec stands for the extra ones) without allocating.
func specAt(s Spec, n, i int) Arg {
	extra := n - len(s.Args)
	for v, a := range s.Args {
		if !a.Variadic {
			continue
		}
		switch {
		case i < v:
			return s.Args[i]
		case i <= v+extra:
			return a
		default:
			return s.Args[i-extra]
		}
	}
	return s.Args[i]
}

func checkArgs(c Call, values bool) error {
	s := specs[c.Op]
	variadic := false
	for _, a := range s.Args {
		variadic = variadic || a.Variadic
	}
	if variadic && len(c.Args) < len(s.Args) || !variadic && len(c.Args) != len(s.Args) {
		want := fmt.Sprint(len(s.Args))
		if variadic {
			want = "at least " + want
		}
		return fmt.Errorf("%w: %d tensor arguments, want %s: %s", ErrShape, len(c.Args), want, c.Op.Signature())
	}
	// Argument names are built only for an error message: check runs on
	// every op.
	name := func(i int) string { return c.Op.argNames(len(c.Args))[i] }
	for i, t := range c.Args {
		a := specAt(s, len(c.Args), i)
		if t == nil {
			if a.Optional {
				continue
			}
			return fmt.Errorf("argument %s is nil", name(i))
		}
		if t.Released() {
			return fmt.Errorf("argument %s: %w", name(i), ErrReleased)
		}
		if t.DType() != a.DType {
			return fmt.Errorf("%w: argument %s is %v, want %v", ErrShape, name(i), t.DType(), a.DType)
		}
	}
	// Outputs share no storage with other arguments, unless the op runs in
	// place and the shapes agree.
	for i, t := range c.Args {
		if t == nil || specAt(s, len(c.Args), i).Role == In {
			continue
		}
		for j, u := range c.Args {
			if j == i || u == nil || u.store != t.store {
				continue
			}
			if s.InPlace && specAt(s, len(c.Args), j).Role == In && u.Shape().Equal(t.Shape()) {
				continue
			}
			return fmt.Errorf("%w: output %s shares storage with argument %s", ErrShape, name(i), name(j))
		}
	}
	return nil
}

// checkIndices checks the values of every index argument of a call against
// the rows they address (Arg.Rows), as last written from the host. The
// call's shapes passed the op's check.
func checkIndices(c Call) error {
	for i, a := range specs[c.Op].Args {
		if a.DType != I32 {
			continue
		}
		lo, hi, ok := c.Args[i].Storage().IndexRange()
		rows := c.Args[a.Rows].Shape()[0]
		if !ok {
			return fmt.Errorf("%w: the index tensor %s was never written from the host", ErrIndex, a.Name)
		}
		if lo < 0 || int(hi) >= rows {
			return fmt.Errorf("%w: indices span [%d,%d], rows are [0,%d)", ErrIndex, lo, hi, rows)
		}
	}
	return nil
}

func shapeErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrShape, fmt.Sprintf(format, a...))
}

func checkMatMul(c Call) error {
	cc, a, b := c.Args[0].Shape(), c.Args[1].Shape(), c.Args[2].Shape()
	r := len(a)
	if r < 2 || r > 3 || len(b) != r || len(cc) != r {
		return shapeErr("a, b and c must all be rank 2 or all rank 3")
	}
	if r == 3 && (a[0] != b[0] || a[0] != cc[0]) {
		return shapeErr("batch sizes differ: a %d, b %d, c %d", a[0], b[0], cc[0])
	}
	m, ka := a[r-2], a[r-1]
	if c.Attrs.TransA {
		m, ka = ka, m
	}
	kb, n := b[r-2], b[r-1]
	if c.Attrs.TransB {
		kb, n = n, kb
	}
	if ka != kb {
		return shapeErr("inner dimensions differ: op(a) is %dx%d, op(b) is %dx%d", m, ka, kb, n)
	}
	if cc[r-2] != m || cc[r-1] != n {
		return shapeErr("c is %dx%d, want %dx%d", cc[r-2], cc[r-1], m, n)
	}
	return nil
}

// MatMulDims returns the geometry of a matmul call that passed its check:
// the number of products (1 for rank 2, else the batch size) and the sizes
// of each, op(a) m x k times op(b) k x n.
func MatMulDims(c Call) (batch, m, n, k int) {
	cs, as := c.Args[0].Shape(), c.Args[1].Shape()
	r := len(cs)
	batch = 1
	if r == 3 {
		batch = cs[0]
	}
	m, n, k = cs[r-2], cs[r-1], as[r-1]
	if c.Attrs.TransA {
		k = as[r-2]
	}
	return batch, m, n, k
}

// isSuffix reports whether s equals the last len(s) dims of of.
func isSuffix(s, of Shape) bool {
	if len(s) > len(of) {
		return false
	}
	return s.Equal(of[len(of)-len(s):])
}

func checkBroadcast(c Call) error {
	y, a, b := c.Args[0].Shape(), c.Args[1].Shape(), c.Args[2].Shape()
	if !y.Equal(a) {
		return shapeErr("y must have a's shape")
	}
	if !isSuffix(b, a) {
		return shapeErr("b must have a's shape or a trailing part of it")
	}
	return nil
}

func checkSameShape(c Call) error {
	first := c.Args[0].Shape()
	for _, t := range c.Args[1:] {
		if !t.Shape().Equal(first) {
			return shapeErr("all arguments must have one shape")
		}
	}
	return nil
}

func checkColSum(c Call) error {
	if !isSuffix(c.Args[0].Shape(), c.Args[1].Shape()) {
		return shapeErr("y's shape must be a trailing part of x's")
	}
	return nil
}

func checkLayerNorm(c Call) error {
	y, mean, rstd, x, gamma, beta := c.Args[0], c.Args[1], c.Args[2], c.Args[3], c.Args[4], c.Args[5]
	if !y.Shape().Equal(x.Shape()) {
		return shapeErr("y must have x's shape")
	}
	cols := x.Shape()[len(x.Shape())-1]
	rows := x.NumElements() / cols
	if mean.NumElements() != rows || rstd.NumElements() != rows || len(mean.Shape()) != 1 || len(rstd.Shape()) != 1 {
		return shapeErr("mean and rstd must be [%d], one per row", rows)
	}
	if (gamma == nil) != (beta == nil) {
		return shapeErr("gamma and beta must be both given or both nil")
	}
	if gamma != nil && (!gamma.Shape().Equal(Shape{cols}) || !beta.Shape().Equal(Shape{cols})) {
		return shapeErr("gamma and beta must be [%d]", cols)
	}
	return checkEps(c.Attrs.Eps)
}

func checkEps(eps float64) error {
	if !(eps >= 0) || math.IsInf(eps, 0) {
		return fmt.Errorf("Eps %v must be finite and not negative", eps)
	}
	return nil
}

func checkLayerNormBwd(c Call) error {
	dx, dgamma, dbeta, dy, x, mean, rstd, gamma := c.Args[0], c.Args[1], c.Args[2], c.Args[3], c.Args[4], c.Args[5], c.Args[6], c.Args[7]
	if !dx.Shape().Equal(x.Shape()) || !dy.Shape().Equal(x.Shape()) {
		return shapeErr("dx and dy must have x's shape")
	}
	cols := x.Shape()[len(x.Shape())-1]
	rows := x.NumElements() / cols
	if mean.NumElements() != rows || rstd.NumElements() != rows || len(mean.Shape()) != 1 || len(rstd.Shape()) != 1 {
		return shapeErr("mean and rstd must be [%d], one per row", rows)
	}
	want := Shape{cols}
	if gamma == nil && (dgamma != nil || dbeta != nil) {
		return shapeErr("dgamma and dbeta need gamma")
	}
	for _, t := range []*Tensor{gamma, dgamma, dbeta} {
		if t != nil && !t.Shape().Equal(want) {
			return shapeErr("gamma, dgamma and dbeta must be [%d]", cols)
		}
	}
	return nil
}

// rowsShape returns idx's shape followed by the dims of x after the first.
func rowsShape(idx, x Shape) Shape {
	return append(idx.Clone(), x[1:]...)
}

func checkGather(c Call) error {
	y, x, ix := c.Args[0], c.Args[1], c.Args[2]
	if want := rowsShape(ix.Shape(), x.Shape()); !y.Shape().Equal(want) {
		return shapeErr("y must be %v (idx's shape, then x's dims after the first)", want)
	}
	return nil
}

func checkScatterAdd(c Call) error {
	y, x, ix := c.Args[0], c.Args[1], c.Args[2]
	if want := rowsShape(ix.Shape(), y.Shape()); !x.Shape().Equal(want) {
		return shapeErr("x must be %v (idx's shape, then y's dims after the first)", want)
	}
	return nil
}

func checkHeads(c Call) error {
	h := c.Attrs.Heads
	if h <= 0 {
		return fmt.Errorf("Heads %d must be positive", h)
	}
	var packed *Tensor
	var parts []*Tensor
	if c.Op == OpSplitHeads {
		packed, parts = c.Args[len(c.Args)-1], c.Args[:len(c.Args)-1]
	} else {
		packed, parts = c.Args[0], c.Args[1:]
	}
	p := packed.Shape()
	if len(p) != 3 {
		return shapeErr("the packed tensor must be [B,T,G*H*E]")
	}
	g := len(parts)
	if p[2]%(g*h) != 0 {
		return shapeErr("the packed tensor's last dim %d is not a multiple of G*Heads = %d*%d", p[2], g, h)
	}
	want := Shape{p[0], h, p[1], p[2] / (g * h)}
	for _, t := range parts {
		if !t.Shape().Equal(want) {
			return shapeErr("each head tensor must be %s ([B,Heads,T,E])", want.String())
		}
	}
	return nil
}

func checkPatchify(c Call) error {
	y, img := c.Args[0].Shape(), c.Args[1].Shape()
	p := c.Attrs.Patch
	if p <= 0 {
		return fmt.Errorf("Patch %d must be positive", p)
	}
	if len(img) != 4 {
		return shapeErr("img must be [B,C,H,W]")
	}
	if img[2]%p != 0 || img[3]%p != 0 {
		return shapeErr("image %dx%d is not a multiple of patch %d", img[2], img[3], p)
	}
	want := Shape{img[0], (img[2] / p) * (img[3] / p), img[1] * p * p}
	if !y.Equal(want) {
		return shapeErr("y must be %v", want)
	}
	return nil
}

func checkScalar(t *Tensor, name string) error {
	if !t.Shape().Equal(Shape{1}) {
		return shapeErr("%s must be [1]", name)
	}
	return nil
}

func checkBeta(c Call) error {
	if c.Op == OpSmoothL1 || c.Op == OpSmoothL1Bwd {
		if !(c.Attrs.Beta > 0) || math.IsInf(c.Attrs.Beta, 0) {
			return fmt.Errorf("Beta %v must be positive and finite", c.Attrs.Beta)
		}
	}
	return nil
}

func checkLoss(c Call) error {
	if err := checkScalar(c.Args[0], "loss"); err != nil {
		return err
	}
	if !c.Args[1].Shape().Equal(c.Args[2].Shape()) {
		return shapeErr("pred and target must have one shape")
	}
	return checkBeta(c)
}

func checkLossBwd(c Call) error {
	if err := checkScalar(c.Args[1], "dloss"); err != nil {
		return err
	}
	d, p, t := c.Args[0].Shape(), c.Args[2].Shape(), c.Args[3].Shape()
	if !d.Equal(p) || !p.Equal(t) {
		return shapeErr("dpred, pred and target must have one shape")
	}
	return checkBeta(c)
}

func checkReduce(c Call) error { return checkScalar(c.Args[0], "y") }

func checkAdamW(c Call) error {
	if err := checkSameShape(c); err != nil {
		return err
	}
	a := c.Attrs
	if a.Step < 1 {
		return fmt.Errorf("Step %d must be at least 1", a.Step)
	}
	for _, v := range []struct {
		name string
		x    float64
	}{{"Beta1", a.Beta1}, {"Beta2", a.Beta2}} {
		if !(v.x >= 0 && v.x < 1) {
			return fmt.Errorf("%s %v must be in [0,1)", v.name, v.x)
		}
	}
	if math.IsNaN(a.LR) || math.IsInf(a.LR, 0) || math.IsNaN(a.WeightDecay) || math.IsInf(a.WeightDecay, 0) {
		return errors.New("LR and WeightDecay must be finite")
	}
	return checkEps(a.Eps)
}

func checkFill(c Call) error { return nil }

func checkCopy(c Call) error {
	y, x := c.Args[0], c.Args[1]
	if y.NumElements() != x.NumElements() {
		return shapeErr("y has %d elements, x has %d", y.NumElements(), x.NumElements())
	}
	return nil
}

// checkData validates the data of a Write ("write to") or a Read ("read
// of") on the host: a live tensor and exactly t.Bytes() bytes.
func checkData(what string, t *Tensor, n int) error {
	switch {
	case t == nil:
		return fmt.Errorf("%s a nil tensor", what)
	case t.Released():
		return fmt.Errorf("%s %v: %w", what, t, ErrReleased)
	case n != t.Bytes():
		return fmt.Errorf("%s %v: %d bytes, want %d", what, t, n, t.Bytes())
	}
	return nil
}

// checkNew validates the arguments of New.
func checkNew(dt DType, shape Shape) error {
	if !dt.Valid() {
		return fmt.Errorf("invalid dtype %v", dt)
	}
	return shape.Validate()
}
