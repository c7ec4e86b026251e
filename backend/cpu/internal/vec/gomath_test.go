package vec

import (
	"math"
	"testing"
)

// ulps returns the distance between got and the float64 want in units of
// the float32 spacing at want.
func ulps(got float32, want float64) float64 {
	w := float32(want)
	if w == 0 || math.IsInf(float64(w), 0) {
		return math.Abs(float64(got)-want) / float64(math.SmallestNonzeroFloat32)
	}
	ulp := float64(math.Nextafter32(float32(math.Abs(want)), float32(math.Inf(1)))) - math.Abs(float64(w))
	return math.Abs(float64(got)-want) / ulp
}

func TestExp32(t *testing.T) {
	worst, at := 0.0, float32(0)
	for x := float32(expMin); x < expMax; x += 0.000731 {
		if u := ulps(exp32(x), math.Exp(float64(x))); u > worst {
			worst, at = u, x
		}
	}
	if worst > 2 {
		t.Errorf("exp32: worst error %.2f ulp at x = %g, want at most 2", worst, at)
	}
	t.Logf("exp32: worst error %.2f ulp at x = %g", worst, at)
	inf := float32(math.Inf(1))
	for _, c := range []struct{ x, want float32 }{
		{0, 1}, {1, float32(math.E)}, {-inf, 0}, {inf, inf}, {-88, 0}, {89, inf},
	} {
		if got := exp32(c.x); got != c.want {
			t.Errorf("exp32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %g, want NaN", got)
	}
}

func TestGELU32(t *testing.T) {
	var worstF, worstG, worstU float64
	var at float32
	for x := float32(-12); x < 12; x += 0.000913 {
		xd := float64(x)
		cdf := 0.5 * math.Erfc(-xd/math.Sqrt2)
		pdf := math.Exp(-0.5*xd*xd) / math.Sqrt(2*math.Pi)
		if e := math.Abs(float64(gelu32(x))-xd*cdf) / math.Max(1, math.Abs(xd)); e > worstF {
			worstF = e
		}
		if e := math.Abs(float64(geluGrad32(x)) - (cdf + xd*pdf)); e > worstG {
			worstG = e
		}
		if x > -3 { // where Phi(x) > 1e-3, the error is a few ulp of the result
			if u := ulps(gelu32(x), xd*cdf); u > worstU {
				worstU, at = u, x
			}
		}
	}
	if worstF > 1.5e-7 || worstG > 1.2e-7 || worstU > 4 {
		t.Errorf("gelu32: worst error %.3g absolute (per max(1,|x|)), %.2f ulp above -3 (at %g); geluGrad32: %.3g absolute", worstF, worstU, at, worstG)
	}
	t.Logf("gelu32: worst error %.3g absolute (per max(1,|x|)), %.2f ulp above -3 (at %g); geluGrad32: %.3g absolute", worstF, worstU, at, worstG)
	nan := float32(math.NaN())
	if g := gelu32(nan); g == g {
		t.Error("gelu32(NaN) is not NaN")
	}
	if g := geluGrad32(nan); g == g {
		t.Error("geluGrad32(NaN) is not NaN")
	}
	inf := float32(math.Inf(1))
	if g := gelu32(inf); g != inf {
		t.Errorf("gelu32(+Inf) = %g", g)
	}
	if g := geluGrad32(-inf); g != 0 {
		t.Errorf("geluGrad32(-Inf) = %g", g)
	}
}

// The benchmarks call the loops through non-inlined functions: a loop
// whose results are never read may be removed by the compiler altogether.

//go:noinline
func loopExp(x, y []float32) {
	for j, v := range x {
		y[j] = expCore(v)
	}
}

//go:noinline
func loopGELU(x, y []float32) {
	for j, v := range x {
		y[j] = gelu32(v)
	}
}

//go:noinline
func loopGELUGrad(x, y []float32) {
	for j, v := range x {
		y[j] = geluGrad32(v)
	}
}

//go:noinline
func loopGELUErf64(x, y []float32) {
	for j, v := range x {
		y[j] = float32(float64(v) * 0.5 * (1 + math.Erf(float64(v)/math.Sqrt2)))
	}
}

func benchLoop(b *testing.B, loop func(x, y []float32)) {
	x := make([]float32, 4096)
	y := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i)*0.002 - 4
	}
	for i := 0; i < b.N; i++ {
		loop(x, y)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(x)), "ns/elem")
}

func BenchmarkExp32(b *testing.B)      { benchLoop(b, loopExp) }
func BenchmarkGELU32(b *testing.B)     { benchLoop(b, loopGELU) }
func BenchmarkGELUGrad32(b *testing.B) { benchLoop(b, loopGELUGrad) }
func BenchmarkGELUErf64(b *testing.B)  { benchLoop(b, loopGELUErf64) }
