package nn

import (
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
)

// opCase is a gradient check of one op's backward rule: leaves, and a loss
// built from the op (and, where the op has no scalar output, a dot product
// with a fixed random tensor).
type opCase struct {
	name  string
	build func(t *testing.T, be backend.Backend) ([]leaf, func(b backend.Backend) (*backend.Tensor, error))
}

// alloc allocates in a loss function; allocation of these tiny shapes only
// fails on a broken backend.
func alloc(b backend.Backend, shape ...int) *backend.Tensor {
	x := b.New(backend.F32, shape...)
	return x
}

func opCases() []opCase {
	var cases []opCase
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		ta, tb := tr[0], tr[1]
		cases = append(cases, opCase{name: "matmul/ta=" + b2s(ta) + "/tb=" + b2s(tb), build: func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			as, bs := []int{3, 4}, []int{4, 5}
			if ta {
				as = []int{4, 3}
			}
			if tb {
				bs = []int{5, 4}
			}
			a, bb := randT(t, be, r, 0, 1, as...), randT(t, be, r, 0, 1, bs...)
			w := randT(t, be, r, 0, 1, 3, 5)
			return []leaf{{"a", a}, {"b", bb}}, func(b backend.Backend) (*backend.Tensor, error) {
				c := alloc(b, 3, 5)
				backend.MatMul(b, c, a, bb, ta, tb, 0.7, 0)
				return dotLoss(b, c, w)
			}
		}})
	}
	cases = append(cases,
		opCase{"matmul/batched", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			a, bb := randT(t, be, r, 0, 1, 2, 3, 4), randT(t, be, r, 0, 1, 2, 5, 4)
			w := randT(t, be, r, 0, 1, 2, 3, 5)
			return []leaf{{"a", a}, {"b", bb}}, func(b backend.Backend) (*backend.Tensor, error) {
				c := alloc(b, 2, 3, 5)
				backend.MatMul(b, c, a, bb, false, true, 1, 0)
				return dotLoss(b, c, w)
			}
		}},
		opCase{"matmul/beta", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			a, bb, c0 := randT(t, be, r, 0, 1, 3, 4), randT(t, be, r, 0, 1, 4, 5), randT(t, be, r, 0, 1, 3, 5)
			w := randT(t, be, r, 0, 1, 3, 5)
			return []leaf{{"a", a}, {"b", bb}, {"c", c0}}, func(b backend.Backend) (*backend.Tensor, error) {
				c := alloc(b, 3, 5)
				backend.Copy(b, c, c0)
				backend.MatMul(b, c, a, bb, false, false, 1.3, 0.5)
				return dotLoss(b, c, w)
			}
		}},
		broadcastCase("add/row", backend.OpAdd, []int{2, 3, 4}, []int{4}),
		broadcastCase("add/plane", backend.OpAdd, []int{2, 3, 4}, []int{3, 4}),
		broadcastCase("add/same", backend.OpAdd, []int{3, 4}, []int{3, 4}),
		broadcastCase("mul/row", backend.OpMul, []int{2, 3, 4}, []int{4}),
		broadcastCase("mul/same", backend.OpMul, []int{3, 4}, []int{3, 4}),
		opCase{"add/inplace-same-operand", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x, w := randT(t, be, r, 0, 1, 3, 4), randT(t, be, r, 0, 1, 3, 4)
			return []leaf{{"x", x}}, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 3, 4)
				backend.Mul(b, y, x, x) // y = x^2
				backend.Add(b, y, y, y) // y = 2x^2, in place
				return dotLoss(b, y, w)
			}
		}},
		unaryCase("scale", []int{3, 4}, func(b backend.Backend, y, x *backend.Tensor) { backend.Scale(b, y, x, 1.7) }),
		opCase{"axpy", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x, y0, w := randT(t, be, r, 0, 1, 3, 4), randT(t, be, r, 0, 1, 3, 4), randT(t, be, r, 0, 1, 3, 4)
			return []leaf{{"x", x}, {"y", y0}}, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 3, 4)
				backend.Copy(b, y, y0)
				backend.Axpy(b, y, x, -0.6)
				return dotLoss(b, y, w)
			}
		}},
		opCase{"colsum", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x, w := randT(t, be, r, 0, 1, 2, 3, 4), randT(t, be, r, 0, 1, 3, 4)
			return []leaf{{"x", x}}, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 3, 4)
				backend.ColSum(b, y, x)
				return dotLoss(b, y, w)
			}
		}},
		layerNormCase("layernorm/affine", true),
		layerNormCase("layernorm/plain", false),
		unaryCase("softmax", []int{4, 7}, func(b backend.Backend, y, x *backend.Tensor) { backend.Softmax(b, y, x, 0.8) }),
		unaryCase("gelu", []int{4, 7}, func(b backend.Backend, y, x *backend.Tensor) { backend.GELU(b, y, x) }),
		opCase{"gather", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x, w := randT(t, be, r, 0, 1, 5, 3), randT(t, be, r, 0, 1, 2, 4, 3)
			ix := idxT(t, be, []int32{4, 0, 0, 2, 1, 4, 4, 3}, 2, 4)
			return []leaf{{"x", x}}, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 2, 4, 3)
				backend.Gather(b, y, x, ix)
				return dotLoss(b, y, w)
			}
		}},
		opCase{"scatter_add", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x, y0, w := randT(t, be, r, 0, 1, 6, 3), randT(t, be, r, 0, 1, 4, 3), randT(t, be, r, 0, 1, 4, 3)
			ix := idxT(t, be, []int32{3, 0, 3, 1, 3, 0}, 6)
			return []leaf{{"x", x}, {"y", y0}}, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 4, 3)
				backend.Copy(b, y, y0)
				backend.ScatterAdd(b, y, x, ix)
				return dotLoss(b, y, w)
			}
		}},
		opCase{"split_heads", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x := randT(t, be, r, 0, 1, 2, 3, 12)
			w := []*backend.Tensor{randT(t, be, r, 0, 1, 2, 2, 3, 2), randT(t, be, r, 0, 1, 2, 2, 3, 2)}
			return []leaf{{"x", x}}, func(b backend.Backend) (*backend.Tensor, error) {
				q, k, v := alloc(b, 2, 2, 3, 2), alloc(b, 2, 2, 3, 2), alloc(b, 2, 2, 3, 2)
				backend.SplitHeads(b, x, 2, q, k, v)
				b.Release(k) // an output that gets no gradient
				l1, err := dotLoss(b, q, w[0])
				if err != nil {
					return nil, err
				}
				l2, err := dotLoss(b, v, w[1])
				if err != nil {
					return nil, err
				}
				backend.Axpy(b, l1, l2, 2)
				b.Release(l2)
				return l1, nil
			}
		}},
		opCase{"merge_heads", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			p, q := randT(t, be, r, 0, 1, 2, 3, 4, 2), randT(t, be, r, 0, 1, 2, 3, 4, 2)
			w := randT(t, be, r, 0, 1, 2, 4, 12)
			return []leaf{{"in0", p}, {"in1", q}}, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 2, 4, 12)
				backend.MergeHeads(b, y, 3, p, q)
				return dotLoss(b, y, w)
			}
		}},
		opCase{"patchify", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			img, w := randT(t, be, r, 0, 1, 2, 3, 4, 6), randT(t, be, r, 0, 1, 2, 6, 12)
			return []leaf{{"img", img}}, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 2, 6, 12)
				backend.Patchify(b, y, img, 2)
				return dotLoss(b, y, w)
			}
		}},
		lossCase("smooth_l1/beta1", func(b backend.Backend, l, p, q *backend.Tensor) { backend.SmoothL1(b, l, p, q, 1) }),
		lossCase("smooth_l1/beta0.5", func(b backend.Backend, l, p, q *backend.Tensor) { backend.SmoothL1(b, l, p, q, 0.5) }),
		lossCase("mse", func(b backend.Backend, l, p, q *backend.Tensor) { backend.MSE(b, l, p, q) }),
		opCase{"sum", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x := randT(t, be, r, 0, 1, 3, 5)
			return []leaf{{"x", x}}, func(b backend.Backend) (*backend.Tensor, error) {
				l := alloc(b, 1)
				backend.Sum(b, l, x)
				return l, nil
			}
		}},
		opCase{"sumsq", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x := randT(t, be, r, 0, 1, 3, 5)
			return []leaf{{"x", x}}, func(b backend.Backend) (*backend.Tensor, error) {
				l := alloc(b, 1)
				backend.SumSq(b, l, x)
				return l, nil
			}
		}},
		opCase{"copy/reshaped", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			r := testRand(t.Name())
			x, w := randT(t, be, r, 0, 1, 3, 4), randT(t, be, r, 0, 1, 2, 6)
			return []leaf{{"x", x}}, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 2, 6)
				backend.Copy(b, y, x)
				return dotLoss(b, y, w)
			}
		}},
	)
	return cases
}

func b2s(v bool) string {
	if v {
		return "t"
	}
	return "f"
}

func broadcastCase(name string, op backend.Op, as, bs []int) opCase {
	return opCase{name, func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
		r := testRand(t.Name())
		a, bb, w := randT(t, be, r, 0, 1, as...), randT(t, be, r, 0, 1, bs...), randT(t, be, r, 0, 1, as...)
		return []leaf{{"a", a}, {"b", bb}}, func(b backend.Backend) (*backend.Tensor, error) {
			y := alloc(b, as...)
			b.Run(backend.Call{Op: op, Args: []*backend.Tensor{y, a, bb}})
			return dotLoss(b, y, w)
		}
	}}
}

func unaryCase(name string, shape []int, f func(b backend.Backend, y, x *backend.Tensor)) opCase {
	return opCase{name, func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
		r := testRand(t.Name())
		x, w := randT(t, be, r, 0, 1, shape...), randT(t, be, r, 0, 1, shape...)
		return []leaf{{"x", x}}, func(b backend.Backend) (*backend.Tensor, error) {
			y := alloc(b, shape...)
			f(b, y, x)
			return dotLoss(b, y, w)
		}
	}}
}

func layerNormCase(name string, affine bool) opCase {
	return opCase{name, func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
		r := testRand(t.Name())
		x, w := randT(t, be, r, 0.3, 1, 5, 6), randT(t, be, r, 0, 1, 5, 6)
		leaves := []leaf{{"x", x}}
		var g, bb *backend.Tensor
		if affine {
			g, bb = randT(t, be, r, 1, 0.3, 6), randT(t, be, r, 0, 0.3, 6)
			leaves = append(leaves, leaf{"gamma", g}, leaf{"beta", bb})
		}
		return leaves, func(b backend.Backend) (*backend.Tensor, error) {
			y, m, s := alloc(b, 5, 6), alloc(b, 5), alloc(b, 5)
			backend.LayerNorm(b, y, m, s, x, g, bb, 1e-5)
			b.Release(m)
			b.Release(s)
			return dotLoss(b, y, w)
		}
	}}
}

func lossCase(name string, f func(b backend.Backend, l, p, q *backend.Tensor)) opCase {
	return opCase{name, func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
		r := testRand(t.Name())
		// Differences of spread 1.4: both branches of smooth L1 are used.
		p, q := randT(t, be, r, 0, 1, 4, 6), randT(t, be, r, 0, 1, 4, 6)
		return []leaf{{"pred", p}, {"target", q}}, func(b backend.Backend) (*backend.Tensor, error) {
			l := alloc(b, 1)
			f(b, l, p, q)
			return l, nil
		}
	}}
}

// TestOpRules checks the backward rule of every differentiable op against
// finite differences: by the cases above, or, for an op whose rule is
// derived from the catalogue and has no case above, by derivedCase.
func TestOpRules(t *testing.T) {
	covered := map[backend.Op]bool{}
	cases := opCases()
	for _, op := range backend.Ops() {
		for _, c := range cases {
			covered[op] = covered[op] || opName(c.name) == op.String()
		}
		if rules[op].grad == nil || covered[op] {
			continue
		}
		if c, ok := derivedCase(op); ok {
			cases = append(cases, c)
			covered[op] = true
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			be := newCPU(t)
			leaves, loss := c.build(t, be)
			gradCheck(t, be, leaves, loss, gcTol)
		})
	}
	for _, op := range backend.Ops() {
		if rules[op].grad != nil && !covered[op] {
			t.Errorf("op %v has a backward rule but no gradient check", op)
		}
	}
}

// derivedCase is the gradient check of an op with one output (its first
// argument) and inputs only: the op on one of its conformance cases (the
// first whose arguments have 8 to 256 elements) from the suite's inputs,
// its output dotted with a random tensor, differentiated with respect to
// its float inputs.
func derivedCase(op backend.Op) (opCase, bool) {
	for _, c := range conformance.Cases() {
		if c.Op != op {
			continue
		}
		specs := op.Expand(len(c.Shapes))
		fits := specs[0].Role == backend.Out
		for i, s := range c.Shapes {
			fits = fits && s != nil && s.NumElements() >= 8 && s.NumElements() <= 256 && (i == 0 || specs[i].Role == backend.In)
		}
		if !fits {
			continue
		}
		return opCase{op.String() + "/from-conformance", func(t *testing.T, be backend.Backend) ([]leaf, func(backend.Backend) (*backend.Tensor, error)) {
			v := conformance.Inputs(c, 1)
			args := make([]*backend.Tensor, len(c.Shapes))
			var leaves []leaf
			for i := 1; i < len(args); i++ {
				if v.I[i] != nil {
					args[i] = backend.FromI32(be, v.I[i], c.Shapes[i]...)
					continue
				}
				args[i] = backend.FromF32(be, v.F[i], c.Shapes[i]...)
				leaves = append(leaves, leaf{specs[i].Name, args[i]})
			}
			w := randT(t, be, testRand(t.Name()), 0, 1, c.Shapes[0]...)
			return leaves, func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, c.Shapes[0]...)
				b.Run(backend.Call{Op: op, Args: append([]*backend.Tensor{y}, args[1:]...), Attrs: c.Attrs})
				return dotLoss(b, y, w)
			}
		}}, true
	}
	return opCase{}, false
}

func opName(caseName string) string {
	for i, c := range caseName {
		if c == '/' {
			return caseName[:i]
		}
	}
	return caseName
}
