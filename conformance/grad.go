package conformance

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance/naive"
)

// GradBound is the NMSE bound between a backward op's result and central
// finite differences of its forward op computed in float64.
const GradBound = 1e-8

// fdStep is the central-difference step; the forward runs in float64, so
// the truncation error (about fdStep^2) stays far below GradBound.
const fdStep = 1e-4

// fdSamples is the number of elements of each input checked by differences.
const fdSamples = 48

// GradCase checks one case of a gradient op against finite differences of
// the op it differentiates (its row's GradOf), with the arguments bound as
// the row's Binds say.
type GradCase struct {
	// Case is the gradient op's call.
	Case Case
}

// maxGradElements limits finite-difference checks to small cases.
const maxGradElements = 6000

// GradCases returns a finite-difference check for every small case of every
// gradient op of the catalogue: layernorm_bwd, softmax_bwd, gelu_bwd,
// smooth_l1_bwd, mse_bwd, and scatter_add, split_heads and merge_heads (the
// adjoints of gather, merge_heads and split_heads).
func GradCases() []GradCase {
	var out []GradCase
	for _, c := range Cases() {
		if c.Op.Spec().GradOf == 0 {
			continue
		}
		big := false
		for _, s := range c.Shapes {
			big = big || (s != nil && s.NumElements() > maxGradElements)
		}
		if !big {
			out = append(out, GradCase{Case: c})
		}
	}
	return out
}

// forward returns the forward case of the check and what each argument of
// the gradient op's call stands for in it.
func (g GradCase) forward() (Case, []backend.Bind) {
	op, m, binds := g.Case.Op.GradCall(len(g.Case.Shapes))
	fwd := Case{Op: op, Shapes: make([]backend.Shape, m), Attrs: g.Case.Attrs}
	for i, b := range binds {
		if s := g.Case.Shapes[i]; s != nil {
			fwd.Shapes[b.Arg] = s
		}
	}
	if f := family(g.Case.Op); f != nil && f.GradCase != nil {
		fwd = f.GradCase(fwd)
	}
	return fwd, binds
}

// Name formats the check as "fd:" and the backward case's name.
func (g GradCase) Name() string { return "fd:" + g.Case.Name() }

// Run computes the backward op on b and compares each gradient it returns
// with central differences of the forward op's loss sum(y*dy) in float64.
func (g GradCase) Run(b backend.Backend, seed uint64) Result {
	res := Result{Case: g.Case, Name: g.Name()}
	fwd, binds := g.forward()
	r := caseRNG(seed, g.Name())
	fin := Inputs(fwd, seed)
	if f := family(g.Case.Op); f != nil && f.GradInputs != nil {
		f.GradInputs(fwd, fin, r)
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
		if bd.Kind == backend.Upstream && g.Case.Shapes[i] != nil {
			dy[bd.Arg] = float64s(uniform(r, fwd.Shapes[bd.Arg].NumElements(), -1, 1))
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
			panic(err) // it ran below before any call of loss
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
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), "fd: the forward op: "+err.Error()
		return res
	}
	v := Values{F: make([][]float32, len(binds)), I: make([][]int32, len(binds))}
	for i, bd := range binds {
		if g.Case.Shapes[i] == nil {
			continue
		}
		switch {
		case bd.Kind == backend.Grad:
			v.F[i] = make([]float32, g.Case.Shapes[i].NumElements()) // zero: scatter_add accumulates
		case bd.Kind == backend.Upstream:
			v.F[i] = float32s(dy[bd.Arg])
		case fspecs[bd.Arg].Role == backend.Out: // a value the forward op computed
			v.F[i] = float32s(args[bd.Arg])
		case fin.I[bd.Arg] != nil:
			v.I[i] = fin.I[bd.Arg]
		default:
			v.F[i] = fin.F[bd.Arg]
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
		if bd.Kind != backend.Grad || g.Case.Shapes[i] == nil {
			continue
		}
		n := len(x[bd.Arg])
		var ana, num []float32
		for s := 0; s < min(n, fdSamples); s++ {
			j := s
			if n > fdSamples {
				j = r.IntN(n)
			}
			old := x[bd.Arg][j]
			x[bd.Arg][j] = old + fdStep
			lp := loss()
			x[bd.Arg][j] = old - fdStep
			lm := loss()
			x[bd.Arg][j] = old
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
