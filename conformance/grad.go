package conformance

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance/naive"
)

// A binding says where one argument of a backward call comes from: the
// gradient it computes for a forward input (wrt), the upstream gradient of a
// forward output (dy), or a forward input or output passed through.
type binding struct {
	kind string // "wrt", "dy", "in", "out", "none"
	k    int    // the forward argument
}

// gradRule ties a backward op to its forward op: the forward case for a
// backward case, and the binding of each backward argument.
type gradRule struct {
	fwd  backend.Op
	bind func(c Case) (fwd Case, b []binding)
}

// GradBound is the NMSE bound between a backward op's result and central
// finite differences of its forward op computed in float64.
const GradBound = 1e-8

// fdStep is the central-difference step; the forward runs in float64, so
// the truncation error (about fdStep^2) stays far below GradBound.
const fdStep = 1e-4

// fdSamples is the number of elements of each input checked by differences.
const fdSamples = 48

var gradRules = map[backend.Op]gradRule{
	backend.OpLayerNormBwd: {fwd: backend.OpLayerNorm, bind: func(c Case) (Case, []binding) {
		s := c.Shapes
		var gamma, beta backend.Shape
		if s[7] != nil {
			gamma, beta = s[7], s[7]
		}
		fwd := Case{Op: backend.OpLayerNorm, Shapes: []backend.Shape{s[3], s[5], s[6], s[4], gamma, beta}, Attrs: backend.Attrs{Eps: lnEps}}
		return fwd, []binding{{"wrt", 3}, {"wrt", 4}, {"wrt", 5}, {"dy", 0}, {"in", 3}, {"out", 1}, {"out", 2}, {"in", 4}}
	}},
	backend.OpSoftmaxBwd: {fwd: backend.OpSoftmax, bind: func(c Case) (Case, []binding) {
		return Case{Op: backend.OpSoftmax, Shapes: []backend.Shape{c.Shapes[2], c.Shapes[2]}, Attrs: c.Attrs},
			[]binding{{"wrt", 1}, {"dy", 0}, {"out", 0}}
	}},
	backend.OpGELUBwd: {fwd: backend.OpGELU, bind: func(c Case) (Case, []binding) {
		return Case{Op: backend.OpGELU, Shapes: []backend.Shape{c.Shapes[2], c.Shapes[2]}},
			[]binding{{"wrt", 1}, {"dy", 0}, {"in", 1}}
	}},
	backend.OpSmoothL1Bwd: {fwd: backend.OpSmoothL1, bind: lossBinding(backend.OpSmoothL1)},
	backend.OpMSEBwd:      {fwd: backend.OpMSE, bind: lossBinding(backend.OpMSE)},
	backend.OpScatterAdd: {fwd: backend.OpGather, bind: func(c Case) (Case, []binding) {
		return Case{Op: backend.OpGather, Shapes: []backend.Shape{c.Shapes[1], c.Shapes[0], c.Shapes[2]}},
			[]binding{{"wrt", 1}, {"dy", 0}, {"in", 2}}
	}},
	backend.OpMergeHeads: {fwd: backend.OpSplitHeads, bind: func(c Case) (Case, []binding) {
		g := len(c.Shapes) - 1
		shapes := append(append([]backend.Shape{}, c.Shapes[1:]...), c.Shapes[0])
		b := []binding{{"wrt", g}}
		for k := 0; k < g; k++ {
			b = append(b, binding{"dy", k})
		}
		return Case{Op: backend.OpSplitHeads, Shapes: shapes, Attrs: c.Attrs}, b
	}},
}

func lossBinding(fwd backend.Op) func(c Case) (Case, []binding) {
	return func(c Case) (Case, []binding) {
		return Case{Op: fwd, Shapes: []backend.Shape{c.Shapes[1], c.Shapes[2], c.Shapes[3]}, Attrs: c.Attrs},
			[]binding{{"wrt", 1}, {"dy", 0}, {"in", 1}, {"in", 2}}
	}
}

// GradCase checks one backward case against finite differences.
type GradCase struct {
	// Case is the backward call.
	Case Case
	rule gradRule
}

// maxGradElements limits finite-difference checks to small cases.
const maxGradElements = 6000

// GradCases returns a finite-difference check for every small case of every
// backward op: layernorm_bwd, softmax_bwd, gelu_bwd, smooth_l1_bwd, mse_bwd,
// scatter_add (the adjoint of gather) and merge_heads (of split_heads).
func GradCases() []GradCase {
	var out []GradCase
	for _, c := range Cases() {
		r, ok := gradRules[c.Op]
		if !ok {
			continue
		}
		big := false
		for _, s := range c.Shapes {
			big = big || (s != nil && s.NumElements() > maxGradElements)
		}
		if !big {
			out = append(out, GradCase{Case: c, rule: r})
		}
	}
	return out
}

// Name formats the check as "fd:" and the backward case's name.
func (g GradCase) Name() string { return "fd:" + g.Case.Name() }

// Run computes the backward op on b and compares each gradient it returns
// with central differences of the forward op's loss sum(y*dy) in float64.
func (g GradCase) Run(b backend.Backend, seed uint64) Result {
	res := Result{Case: g.Case, Name: g.Name()}
	fwd, binds := g.rule.bind(g.Case)
	r := caseRNG(seed, g.Name())
	fin := Inputs(fwd, seed)
	if fwd.Op == backend.OpSoftmax {
		// The forward check's logits span [-8, 8], where a row's softmax
		// can come within 1e-4 of one-hot: then the gradient is a
		// difference of nearly equal terms, and the float32 y the backward
		// op is given carries too few of its digits (one seed in thousands
		// failed so). The derivative is checked on logits in [-2, 2].
		fin.F[1] = uniform(r, len(fin.F[1]), -2, 2)
	}
	fspecs := fwd.Op.Expand(len(fwd.Shapes))

	// The forward inputs in float64, and the upstream gradients.
	x := make([][]float64, len(fwd.Shapes))
	dy := make([][]float64, len(fwd.Shapes))
	for k, s := range fwd.Shapes {
		if s == nil {
			continue
		}
		x[k] = make([]float64, s.NumElements())
		if fspecs[k].Role != backend.In {
			continue
		}
		if fin.I[k] != nil {
			for i, v := range fin.I[k] {
				x[k][i] = float64(v)
			}
		} else {
			for i, v := range fin.F[k] {
				x[k][i] = float64(v)
			}
		}
	}
	for i, bd := range binds {
		if bd.kind == "dy" && g.Case.Shapes[i] != nil {
			dy[bd.k] = float64s(uniform(r, fwd.Shapes[bd.k].NumElements(), -1, 1))
		}
	}
	loss := func() float64 {
		args := make([][]float64, len(x))
		for k := range x {
			if x[k] == nil {
				continue
			}
			args[k] = append([]float64(nil), x[k]...)
		}
		if err := naive.Exec(fwd.Op, args, fwd.Shapes, fwd.Attrs); err != nil {
			panic(err)
		}
		var l float64
		for k := range dy {
			for i, d := range dy[k] {
				l += args[k][i] * d
			}
		}
		return l
	}

	// The backward call's inputs.
	args := make([][]float64, len(x))
	for k := range x {
		if x[k] != nil {
			args[k] = append([]float64(nil), x[k]...)
		}
	}
	if err := naive.Exec(fwd.Op, args, fwd.Shapes, fwd.Attrs); err != nil {
		panic(err)
	}
	v := Values{F: make([][]float32, len(binds)), I: make([][]int32, len(binds))}
	for i, bd := range binds {
		if g.Case.Shapes[i] == nil {
			continue
		}
		switch bd.kind {
		case "wrt":
			v.F[i] = make([]float32, g.Case.Shapes[i].NumElements()) // zero: scatter_add accumulates
		case "dy":
			v.F[i] = float32s(dy[bd.k])
		case "in":
			if fin.I[bd.k] != nil {
				v.I[i] = fin.I[bd.k]
			} else {
				v.F[i] = fin.F[bd.k]
			}
		case "out":
			v.F[i] = float32s(args[bd.k])
		}
	}
	start := time.Now()
	got, err := outputs(b, g.Case, v)
	res.Time = time.Since(start)
	if errors.Is(err, backend.ErrUnsupported) {
		res.Kind = "unsupported"
		return res
	}
	if err != nil {
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), err.Error()
		return res
	}

	res.Kind = "ok"
	for i, bd := range binds {
		if bd.kind != "wrt" || g.Case.Shapes[i] == nil {
			continue
		}
		n := len(x[bd.k])
		var ana, num []float32
		for s := 0; s < min(n, fdSamples); s++ {
			j := s
			if n > fdSamples {
				j = r.IntN(n)
			}
			old := x[bd.k][j]
			x[bd.k][j] = old + fdStep
			lp := loss()
			x[bd.k][j] = old - fdStep
			lm := loss()
			x[bd.k][j] = old
			num = append(num, float32((lp-lm)/(2*fdStep)))
			ana = append(ana, got[i][j])
		}
		e, msg := Compare(ana, num)
		res.Err = math.Max(res.Err, e)
		if msg != "" || e > GradBound {
			if msg == "" {
				msg = fmt.Sprintf("NMSE %.3g against finite differences exceeds %.0e", e, GradBound)
			}
			res.Kind, res.Msg = "fail", fmt.Sprintf("fd: gradient %d: %s", i, msg)
			return res
		}
	}
	return res
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func float32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
