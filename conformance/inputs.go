package conformance

import (
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance/naive"
)

// Values are the initial contents of a call's arguments: F32 data, or I32
// data for index arguments; nil for an absent optional argument.
type Values struct {
	F [][]float32
	I [][]int32
}

// caseRNG returns the generator of a case: a function of the run's seed and
// the case's name only, so a case replays alone with the same seed.
func caseRNG(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

// garbage fills outputs that the op must overwrite, so that an element a
// kernel forgets to write shows up as NaN.
func garbage(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return v
}

// Inputs returns the deterministic initial values of every argument of c.
func Inputs(c Case, seed uint64) Values {
	r := caseRNG(seed, c.Name())
	specs := c.Op.Expand(len(c.Shapes))
	v := Values{F: make([][]float32, len(c.Shapes)), I: make([][]int32, len(c.Shapes))}
	for i, s := range c.Shapes {
		if s == nil {
			continue
		}
		n := s.NumElements()
		switch {
		case specs[i].DType == backend.I32:
			v.I[i] = indices(r, n, c.Shapes[specs[i].Rows][0])
		case specs[i].Role == backend.Out:
			v.F[i] = garbage(n)
		default:
			v.F[i] = uniform(r, n, -1, 1)
		}
	}
	if f := family(c.Op); f != nil && f.Inputs != nil {
		f.Inputs(c, v, r)
	}
	return v
}

func indices(r *rand.Rand, n, rows int) []int32 {
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(r.IntN(rows))
	}
	return v
}

// derive computes forward outputs with the float64 reference, for backward
// ops whose inputs must be consistent with a forward pass.
func derive(op backend.Op, shapes []backend.Shape, at backend.Attrs, in [][]float32) [][]float32 {
	args := make([][]float64, len(shapes))
	for i, s := range shapes {
		if s == nil {
			continue
		}
		args[i] = make([]float64, s.NumElements())
		for k := range in[i] {
			args[i][k] = float64(in[i][k])
		}
	}
	if err := naive.Exec(op, args, shapes, at); err != nil {
		panic(err) // every op has a naive implementation
	}
	out := make([][]float32, len(args))
	for i, a := range args {
		out[i] = make([]float32, len(a))
		for k, x := range a {
			out[i][k] = float32(x)
		}
	}
	return out
}

// awayFromKink moves pred where |pred-target| is within 1e-3 of beta, where a
// finite difference would straddle the switch of the smooth-L1 loss.
func awayFromKink(r *rand.Rand, pred, target []float32, beta float64) {
	if beta == 0 {
		return
	}
	for i := range pred {
		for math.Abs(math.Abs(float64(pred[i])-float64(target[i]))-beta) < 1e-3 {
			pred[i] = float32(-2 + 4*r.Float64())
		}
	}
}
