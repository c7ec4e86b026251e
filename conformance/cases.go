// Package conformance checks that a backend computes what the reference
// computes: every op of the catalogue on a table of cases (odd primes, sizes
// that are not multiples of any workgroup size, sizes past the 65,535
// workgroup-count limit, every parameter combination that changes the code
// path), from deterministic inputs derived from one logged seed, compared by
// normalised mean squared error with a per-op bound, with NaN/Inf checks and
// guard regions around every tensor where the backend supports them.
//
// The suite takes any backend.Backend: the CPU reference is checked against
// the naive float64 statement of the ops (package naive), and every other
// backend — Vulkan, plugins — against the CPU reference. Backward ops are
// also checked against central finite differences of their forward op.
package conformance

import (
	"fmt"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
)

// Case is one conformance test: an op, the shape of each of its arguments
// (in the order of the op's row in the table; nil for an absent optional
// argument), and its attributes. A case's name alone reproduces it.
type Case struct {
	Op     backend.Op
	Shapes []backend.Shape
	Attrs  backend.Attrs
}

// Name formats the case as "matmul(c=[5,11] a=[5,7] b=[11,7]; TransB Alpha=1)".
func (c Case) Name() string {
	names := argNames(c)
	parts := make([]string, 0, len(c.Shapes))
	for i, s := range c.Shapes {
		if s == nil {
			continue
		}
		parts = append(parts, names[i]+"="+s.String())
	}
	name := c.Op.String() + "(" + strings.Join(parts, " ")
	if at := backend.FormatAttrs(c.Op, c.Attrs); at != "" {
		name += "; " + at
	}
	return name + ")"
}

func argNames(c Case) []string {
	specs := c.Op.Expand(len(c.Shapes))
	names := make([]string, len(specs))
	count := map[string]int{}
	for i, a := range specs {
		names[i] = a.Name
		if a.Variadic {
			names[i] = fmt.Sprintf("%s%d", a.Name, count[a.Name])
			count[a.Name]++
		}
	}
	return names
}

// S is shorthand for a shape literal.
func S(d ...int) backend.Shape { return backend.Shape(d) }

// Shapes shared by many op families: tiny, odd primes, a ViT-like row, and
// one past the 65,535 limit on workgroup counts in one dimension.
var (
	elementShapes = []backend.Shape{S(1), S(7), S(13, 17), S(3, 5, 64), S(2, 9, 384), S(70003, 3)}
	rowShapes     = []backend.Shape{S(1, 1), S(1, 7), S(13, 17), S(3, 5, 64), S(2, 3, 384), S(4, 197), S(70001, 5)}
	lossShapes    = []backend.Shape{S(1), S(7), S(13, 17), S(4, 11, 96)}
)

// Cases returns the whole table, in catalogue order.
func Cases() []Case {
	var cs []Case
	add := func(op backend.Op, a backend.Attrs, shapes ...backend.Shape) {
		cs = append(cs, Case{Op: op, Shapes: shapes, Attrs: a})
	}

	// matmul: [z,]m,k,n over every transpose and both alpha/beta paths.
	for _, d := range [][4]int{{0, 1, 1, 1}, {0, 7, 13, 5}, {0, 64, 64, 64}, {0, 67, 129, 33}, {3, 5, 7, 11}, {2, 16, 96, 17}, {0, 257, 384, 65}} {
		z, m, k, n := d[0], d[1], d[2], d[3]
		shape := func(r, c int) backend.Shape {
			if z == 0 {
				return S(r, c)
			}
			return S(z, r, c)
		}
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range [][2]float64{{1, 0}, {0.5, 1.5}} {
					as, bs := shape(m, k), shape(k, n)
					if ta {
						as = shape(k, m)
					}
					if tb {
						bs = shape(n, k)
					}
					add(backend.OpMatMul, backend.Attrs{TransA: ta, TransB: tb, Alpha: ab[0], Beta: ab[1]}, shape(m, n), as, bs)
				}
			}
		}
	}

	// Elementwise with row broadcast: b is a's shape, its trailing dims, or
	// its last dim.
	for _, op := range []backend.Op{backend.OpAdd, backend.OpMul} {
		for _, s := range elementShapes {
			for _, b := range suffixes(s) {
				add(op, backend.Attrs{}, s, s, b)
			}
		}
	}
	for _, s := range elementShapes {
		for _, alpha := range []float64{0.5, -2} {
			add(backend.OpScale, backend.Attrs{Alpha: alpha}, s, s)
			add(backend.OpAxpy, backend.Attrs{Alpha: alpha}, s, s)
		}
		for _, y := range suffixes(s)[1:] {
			add(backend.OpColSum, backend.Attrs{}, y, s)
		}
	}
	add(backend.OpColSum, backend.Attrs{}, S(3), S(1031, 3))

	// Row ops over the last dim.
	for _, s := range rowShapes {
		c, rows := s[len(s)-1], s.NumElements()/s[len(s)-1]
		for _, eps := range []float64{1e-6, 1e-5} {
			add(backend.OpLayerNorm, backend.Attrs{Eps: eps}, s, S(rows), S(rows), s, S(c), S(c))
		}
		add(backend.OpLayerNorm, backend.Attrs{Eps: 1e-5}, s, S(rows), S(rows), s, nil, nil)
		add(backend.OpLayerNormBwd, backend.Attrs{}, s, S(c), S(c), s, s, S(rows), S(rows), S(c))
		add(backend.OpLayerNormBwd, backend.Attrs{}, s, nil, nil, s, s, S(rows), S(rows), S(c))
		add(backend.OpLayerNormBwd, backend.Attrs{}, s, nil, nil, s, s, S(rows), S(rows), nil)
		for _, alpha := range []float64{1, 0.125} {
			add(backend.OpSoftmax, backend.Attrs{Alpha: alpha}, s, s)
			add(backend.OpSoftmaxBwd, backend.Attrs{Alpha: alpha}, s, s, s)
		}
	}
	for _, s := range elementShapes {
		add(backend.OpGELU, backend.Attrs{}, s, s)
		add(backend.OpGELUBwd, backend.Attrs{}, s, s, s)
	}

	// Row indexing: x is [S, rest...], idx any shape.
	for _, d := range []struct{ x, idx backend.Shape }{
		{S(7, 5), S(3)}, {S(64, 3, 5), S(2, 11)}, {S(257, 192), S(4, 37)}, {S(5, 1), S(70001)},
	} {
		y := append(d.idx.Clone(), d.x[1:]...)
		add(backend.OpGather, backend.Attrs{}, y, d.x, d.idx)
		add(backend.OpScatterAdd, backend.Attrs{}, d.x, y, d.idx)
	}

	// Head permutes: B, T, G, H, E.
	for _, d := range [][5]int{{1, 1, 1, 1, 1}, {2, 5, 3, 3, 4}, {3, 17, 3, 2, 8}, {2, 7, 1, 6, 5}, {2, 65, 3, 3, 64}} {
		b, t, g, h, e := d[0], d[1], d[2], d[3], d[4]
		packed, part := S(b, t, g*h*e), S(b, h, t, e)
		split := []backend.Shape{}
		for k := 0; k < g; k++ {
			split = append(split, part)
		}
		add(backend.OpSplitHeads, backend.Attrs{Heads: h}, append(split, packed)...)
		add(backend.OpMergeHeads, backend.Attrs{Heads: h}, append([]backend.Shape{packed}, split...)...)
	}

	// Patchify: B, C, H, W, P.
	for _, d := range [][5]int{{1, 1, 1, 1, 1}, {1, 3, 4, 4, 2}, {2, 3, 32, 32, 4}, {1, 3, 28, 20, 4}, {2, 1, 14, 14, 7}, {1, 3, 64, 48, 16}} {
		b, c, h, w, p := d[0], d[1], d[2], d[3], d[4]
		add(backend.OpPatchify, backend.Attrs{Patch: p}, S(b, (h/p)*(w/p), c*p*p), S(b, c, h, w))
	}

	// Losses and reductions.
	for _, s := range lossShapes {
		for _, beta := range []float64{1, 0.5} {
			add(backend.OpSmoothL1, backend.Attrs{Beta: beta}, S(1), s, s)
			add(backend.OpSmoothL1Bwd, backend.Attrs{Beta: beta}, s, S(1), s, s)
		}
		add(backend.OpMSE, backend.Attrs{}, S(1), s, s)
		add(backend.OpMSEBwd, backend.Attrs{}, s, S(1), s, s)
	}
	for _, s := range elementShapes {
		add(backend.OpSum, backend.Attrs{}, S(1), s)
		add(backend.OpSumSq, backend.Attrs{}, S(1), s)
	}

	// Optimiser and EMA.
	for _, s := range []backend.Shape{S(7), S(13, 17), S(3, 5, 64), S(70003, 3)} {
		for _, p := range []struct {
			wd   float64
			step int
		}{{0, 1}, {0.04, 10}, {0.4, 1000}} {
			add(backend.OpAdamW, backend.Attrs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: p.wd, Step: p.step}, s, s, s, s)
		}
		for _, m := range []float64{0.996, 0.5, 1} {
			add(backend.OpEMA, backend.Attrs{Momentum: m}, s, s)
		}
	}
	for _, s := range elementShapes {
		add(backend.OpFill, backend.Attrs{Alpha: -1.5}, s)
	}
	for _, d := range [][2]backend.Shape{{S(7), S(7)}, {S(13, 17), S(221)}, {S(3, 5, 64), S(15, 64)}, {S(70003, 3), S(3, 70003)}} {
		add(backend.OpCopy, backend.Attrs{}, d[0], d[1])
	}
	return cs
}

// suffixes returns s, then each trailing part of it down to the last dim.
func suffixes(s backend.Shape) []backend.Shape {
	out := []backend.Shape{s}
	for k := 1; k < len(s); k++ {
		out = append(out, s[k:])
	}
	return out
}
