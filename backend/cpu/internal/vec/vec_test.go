package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

// kernels is one implementation of the kernels.
type kernels struct {
	name         string
	gelu         func(y, x []float32)
	geluGrad     func(dx, dy, x []float32)
	softmax      func(y, x []float32, cols int, alpha float32)
	layerNorm    func(y, mean, rstd, x, gamma, beta []float32, cols int, eps float64)
	layerNormBwd func(dx []float32, dg, db []float64, dy, x, mean, rstd, gamma []float32, cols int)
	colSum       func(acc []float64, x []float32, cols int)
	adamW        func(p, m, v, g []float32, s *AdamWScalars)
	broadcast    func(y, a, x []float32, mul bool)
}

// impls are the implementations to check: the one in use, the Go one (the
// same when built without cgo) and, where the AVX2 kernels are in use, the
// baseline C kernels too, so that every machine runs them.
var impls = withBaseline([]kernels{
	{"in use (" + Impl() + ")", GELU, GELUGrad, Softmax, LayerNorm, LayerNormBwd, ColSum, adamW, broadcast},
	{"Go", geluGo, geluGradGo, softmaxGo, layerNormGo, layerNormBwdGo, colSumGo, adamWGo, broadcastGo},
})

// withBaseline appends the baseline C kernels to l when the AVX2 ones are
// in use: each call chooses the baseline kernels for its duration.
func withBaseline(l []kernels) []kernels {
	if Impl() != "C, AVX2+FMA" {
		return l
	}
	on := func(f func()) {
		defer setAVX2(setAVX2(false))
		f()
	}
	return append(l, kernels{"C, baseline vectors",
		func(y, x []float32) { on(func() { GELU(y, x) }) },
		func(dx, dy, x []float32) { on(func() { GELUGrad(dx, dy, x) }) },
		func(y, x []float32, cols int, alpha float32) { on(func() { Softmax(y, x, cols, alpha) }) },
		func(y, mean, rstd, x, gamma, beta []float32, cols int, eps float64) {
			on(func() { LayerNorm(y, mean, rstd, x, gamma, beta, cols, eps) })
		},
		func(dx []float32, dg, db []float64, dy, x, mean, rstd, gamma []float32, cols int) {
			on(func() { LayerNormBwd(dx, dg, db, dy, x, mean, rstd, gamma, cols) })
		},
		func(acc []float64, x []float32, cols int) { on(func() { ColSum(acc, x, cols) }) },
		func(p, m, v, g []float32, s *AdamWScalars) { on(func() { adamW(p, m, v, g, s) }) },
		func(y, a, x []float32, mul bool) { on(func() { broadcast(y, a, x, mul) }) },
	})
}

// The baseline C kernels are checked on every machine: on an AVX2 machine
// impls holds them beside the AVX2 ones, and setAVX2 really switches.
// Catches the baseline kernels dropping out of the tests where AVX2 is in use.
func TestBaselineKernelsChecked(t *testing.T) {
	names := map[string]bool{}
	for _, im := range impls {
		names[im.name] = true
	}
	switch Impl() {
	case "C, AVX2+FMA":
		if !names["C, baseline vectors"] {
			t.Fatalf("the AVX2 kernels are in use and the baseline ones are not checked: %v", names)
		}
		prev := setAVX2(false)
		if got := Impl(); got != "C, baseline vectors" {
			t.Errorf("with the AVX2 kernels off, Impl() = %q", got)
		}
		setAVX2(prev)
		if got := Impl(); got != "C, AVX2+FMA" {
			t.Errorf("after restoring, Impl() = %q", got)
		}
	case "C, baseline vectors":
		if setAVX2(true) || Impl() != "C, baseline vectors" {
			t.Errorf("a CPU without AVX2 switched to the AVX2 kernels: %q", Impl())
		}
	}
}

func phi(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) }
func cdf(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

func TestGELU(t *testing.T) {
	var x []float32
	for v := float32(-14); v < 14; v += 0.000917 {
		x = append(x, v)
	}
	x = append(x, 0, float32(math.Inf(1)), float32(math.NaN()))
	for _, im := range impls {
		y := make([]float32, len(x))
		dx := make([]float32, len(x))
		dy := make([]float32, len(x))
		for i := range dy {
			dy[i] = 1
		}
		im.gelu(y, x)
		im.geluGrad(dx, dy, x)
		var worstY, worstD float64
		for i, v := range x[:len(x)-3] {
			xd := float64(v)
			// Error relative to max(1,|x|) for gelu: its values scale with x.
			worstY = math.Max(worstY, math.Abs(float64(y[i])-xd*cdf(xd))/math.Max(1, math.Abs(xd)))
			worstD = math.Max(worstD, math.Abs(float64(dx[i])-(cdf(xd)+xd*phi(xd))))
		}
		if worstY > 2e-7 || worstD > 3e-7 {
			t.Errorf("%s: gelu worst error %.3g, gelu grad %.3g; want below 2e-7 and 3e-7", im.name, worstY, worstD)
		}
		n := len(x)
		if y[n-3] != 0 || y[n-2] != float32(math.Inf(1)) || y[n-1] == y[n-1] || dx[n-1] == dx[n-1] {
			t.Errorf("%s: gelu(0, +Inf, NaN) = %v, grad(NaN) = %v", im.name, y[n-3:], dx[n-1])
		}
		t.Logf("%s: gelu worst error %.3g, gelu grad %.3g", im.name, worstY, worstD)
	}
}

// Every length from 0 to 40 (the vector loops' tails), in place and not.
func TestGELUTails(t *testing.T) {
	for _, im := range impls {
		for n := 0; n <= 40; n++ {
			x := make([]float32, n+1)
			for i := range x {
				x[i] = float32(i) - 3.5
			}
			x[n] = 42 // beyond the slice: must stay untouched
			y := append([]float32(nil), x...)
			im.gelu(y[:n], x[:n])
			in := append([]float32(nil), x...)
			im.gelu(in[:n], in[:n])
			for i := 0; i < n; i++ {
				want := float32(float64(x[i]) * cdf(float64(x[i])))
				if math.Abs(float64(y[i]-want)) > 1e-6*math.Max(1, math.Abs(float64(want))) || y[i] != in[i] {
					t.Fatalf("%s: n=%d: gelu(%g) = %g (in place %g), want %g", im.name, n, x[i], y[i], in[i], want)
				}
			}
			if y[n] != 42 || in[n] != 42 {
				t.Fatalf("%s: n=%d: wrote past the end", im.name, n)
			}
			d := make([]float32, n+1)
			d[n] = 42
			im.geluGrad(d[:n], x[:n], x[:n])
			if d[n] != 42 {
				t.Fatalf("%s: n=%d: gelu grad wrote past the end", im.name, n)
			}
		}
	}
}

func TestSoftmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, im := range impls {
		for _, cols := range []int{1, 3, 8, 13, 64, 197} {
			for _, alpha := range []float32{1, 0.125, -2} {
				rows := 5
				x := make([]float32, rows*cols+1)
				for i := range x {
					x[i] = float32(rng.Float64()*40 - 20)
				}
				x[len(x)-1] = 42
				y := make([]float32, len(x))
				y[len(y)-1] = 42
				im.softmax(y[:rows*cols], x[:rows*cols], cols, alpha)
				if y[len(y)-1] != 42 {
					t.Fatalf("%s: cols=%d: wrote past the end", im.name, cols)
				}
				for r := 0; r < rows; r++ {
					xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
					m := math.Inf(-1)
					for _, v := range xr {
						m = math.Max(m, float64(alpha)*float64(v))
					}
					var s float64
					for _, v := range xr {
						s += math.Exp(float64(alpha)*float64(v) - m)
					}
					for j, v := range xr {
						a := float64(alpha) * float64(v)
						want := math.Exp(a-m) / s
						// A few ulp, the rounding of alpha*x and of
						// alpha*x-m in float32, which e^t turns into a
						// relative error of about 6e-8*|t| each, and that
						// of the sum.
						tol := want * (4e-7 + 6e-8*(math.Abs(a)+math.Abs(a-m)+math.Sqrt(float64(cols))))
						if math.Abs(float64(yr[j])-want) > tol+1e-30 {
							t.Fatalf("%s: cols=%d alpha=%g: y[%d,%d] = %g, want %g", im.name, cols, alpha, r, j, yr[j], want)
						}
					}
				}
			}
		}
		// Rows with NaN or infinities take the float64 path: NaN row,
		// NaN row (inf - inf), one-hot never (the maximum is inf).
		inf, nan := float32(math.Inf(1)), float32(math.NaN())
		x := []float32{1, nan, 2, 0, 3, inf, 4, 5, -inf, 2, 1, 0}
		y := make([]float32, len(x))
		im.softmax(y, x, 3, 1)
		for j := 0; j < 6; j++ {
			if y[j] == y[j] {
				t.Errorf("%s: row with NaN or +Inf: y[%d] = %g, want NaN", im.name, j, y[j])
			}
		}
		if y[6] != float32(1/(1+math.E)) || y[8] != 0 {
			t.Errorf("%s: row (4,5,-inf) = %v", im.name, y[6:9])
		}
	}
}

func uniform(rng *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return v
}

// nmse returns sum((got-want)^2)/sum(want^2).
func nmse(got []float32, want []float64) float64 {
	var num, den float64
	for i, w := range want {
		d := float64(got[i]) - w
		num += d * d
		den += w * w
	}
	if den == 0 {
		return num
	}
	return num / den
}

func nmse64(got, want []float64) float64 {
	g := make([]float32, len(got))
	for i, v := range got {
		g[i] = float32(v)
	}
	return nmse(g, want)
}

// rowShapes are rows x cols with tails of every vector width and more rows
// than a float block of partial sums (64).
var rowShapes = [][2]int{{1, 1}, {3, 7}, {5, 8}, {4, 13}, {130, 24}, {67, 192}, {9, 197}}

func TestLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, im := range impls {
		for _, sh := range rowShapes {
			rows, cols := sh[0], sh[1]
			for _, affine := range []bool{true, false} {
				x := uniform(rng, rows*cols, -3, 5)
				var gamma, beta []float32
				if affine {
					gamma, beta = uniform(rng, cols, 0.5, 1.5), uniform(rng, cols, -1, 1)
				}
				y, mean, rstd := make([]float32, len(x)), make([]float32, rows), make([]float32, rows)
				im.layerNorm(y, mean, rstd, x, gamma, beta, cols, 1e-5)
				wy, wm, wr := make([]float64, len(x)), make([]float64, rows), make([]float64, rows)
				for r := 0; r < rows; r++ {
					var s, q float64
					for j := 0; j < cols; j++ {
						s += float64(x[r*cols+j])
					}
					mu := s / float64(cols)
					for j := 0; j < cols; j++ {
						d := float64(x[r*cols+j]) - mu
						q += d * d
					}
					rs := 1 / math.Sqrt(q/float64(cols)+1e-5)
					wm[r], wr[r] = mu, rs
					for j := 0; j < cols; j++ {
						h := (float64(x[r*cols+j]) - mu) * rs
						if affine {
							h = h*float64(gamma[j]) + float64(beta[j])
						}
						wy[r*cols+j] = h
					}
				}
				if e := max(nmse(y, wy), nmse(mean, wm), nmse(rstd, wr)); e > 1e-12 {
					t.Errorf("%s: layernorm %dx%d affine=%v: NMSE %.3g", im.name, rows, cols, affine, e)
				}
			}
		}
	}
}

func TestLayerNormBwd(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, im := range impls {
		for _, sh := range rowShapes {
			rows, cols := sh[0], sh[1]
			for _, affine := range []bool{true, false} {
				x, dy := uniform(rng, rows*cols, -2, 2), uniform(rng, rows*cols, -1, 1)
				mean, rstd := uniform(rng, rows, -0.5, 0.5), uniform(rng, rows, 0.5, 2)
				var gamma []float32
				var dg, db []float64
				if affine {
					gamma = uniform(rng, cols, 0.5, 1.5)
					dg, db = make([]float64, cols), make([]float64, cols)
					dg[0], db[0] = 10, -10 // accumulated into, not overwritten
				}
				dx := make([]float32, len(x))
				im.layerNormBwd(dx, dg, db, dy, x, mean, rstd, gamma, cols)
				wdx, wdg, wdb := make([]float64, len(x)), make([]float64, cols), make([]float64, cols)
				wdg[0], wdb[0] = 10, -10
				for r := 0; r < rows; r++ {
					var sg, sgx float64
					h := func(j int) float64 { return (float64(x[r*cols+j]) - float64(mean[r])) * float64(rstd[r]) }
					g := func(j int) float64 {
						if affine {
							return float64(dy[r*cols+j]) * float64(gamma[j])
						}
						return float64(dy[r*cols+j])
					}
					for j := 0; j < cols; j++ {
						sg += g(j)
						sgx += g(j) * h(j)
						wdg[j] += float64(dy[r*cols+j]) * h(j)
						wdb[j] += float64(dy[r*cols+j])
					}
					sg /= float64(cols)
					sgx /= float64(cols)
					for j := 0; j < cols; j++ {
						wdx[r*cols+j] = float64(rstd[r]) * (g(j) - sg - h(j)*sgx)
					}
				}
				e := nmse(dx, wdx)
				if affine {
					e = max(e, nmse64(dg, wdg), nmse64(db, wdb))
				}
				if e > 1e-11 {
					t.Errorf("%s: layernorm_bwd %dx%d affine=%v: NMSE %.3g", im.name, rows, cols, affine, e)
				}
			}
		}
	}
}

func TestColSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, im := range impls {
		for _, sh := range append(rowShapes, [2]int{5000, 3}) {
			rows, cols := sh[0], sh[1]
			x := uniform(rng, rows*cols, -1, 1)
			acc := make([]float64, cols)
			acc[0] = 7
			im.colSum(acc, x, cols)
			want := make([]float64, cols)
			want[0] = 7
			for r := 0; r < rows; r++ {
				for j := 0; j < cols; j++ {
					want[j] += float64(x[r*cols+j])
				}
			}
			if e := nmse64(acc, want); e > 1e-11 {
				t.Errorf("%s: colsum %dx%d: NMSE %.3g", im.name, rows, cols, e)
			}
		}
	}
}

func TestAdamW(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, im := range impls {
		for _, n := range []int{1, 7, 8, 9, 1000} {
			p, m, g := uniform(rng, n, -1, 1), uniform(rng, n, -0.1, 0.1), uniform(rng, n, -0.1, 0.1)
			v := uniform(rng, n, 0, 0.01)
			lr, b1, b2, eps, wd, step := 1e-3, 0.9, 0.999, 1e-8, 0.04, 10.0
			sc := AdamWScalars{Decay: float32(1 - lr*wd), Beta1: float32(b1), OneMinusB1: float32(1 - b1), Beta2: float32(b2),
				OneMinusB2: float32(1 - b2), StepSize: float32(lr / (1 - math.Pow(b1, step))), BC2Sqrt: float32(math.Sqrt(1 - math.Pow(b2, step))), Eps: float32(eps)}
			wp, wm, wv := make([]float64, n), make([]float64, n), make([]float64, n)
			for i := range p {
				wm[i] = b1*float64(m[i]) + (1-b1)*float64(g[i])
				wv[i] = b2*float64(v[i]) + (1-b2)*float64(g[i])*float64(g[i])
				wp[i] = float64(p[i])*(1-lr*wd) - lr/(1-math.Pow(b1, step))*wm[i]/(math.Sqrt(wv[i])/math.Sqrt(1-math.Pow(b2, step))+eps)
			}
			im.adamW(p, m, v, g, &sc)
			if e := max(nmse(p, wp), nmse(m, wm), nmse(v, wv)); e > 1e-12 {
				t.Errorf("%s: adamw n=%d: NMSE %.3g", im.name, n, e)
			}
		}
	}
}

func TestBroadcast(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, im := range impls {
		for _, sh := range [][2]int{{1, 1}, {3, 7}, {5, 8}, {4, 13}, {10, 192}} {
			rows, nx := sh[0], sh[1]
			for _, mul := range []bool{false, true} {
				a, x := uniform(rng, rows*nx, -1, 1), uniform(rng, nx, -1, 1)
				want := make([]float32, len(a))
				for i := range a {
					if mul {
						want[i] = a[i] * x[i%nx]
					} else {
						want[i] = a[i] + x[i%nx]
					}
				}
				y := make([]float32, len(a))
				im.broadcast(y, a, x, mul)
				im.broadcast(a, a, x, mul) // in place
				for i := range y {
					if y[i] != want[i] || a[i] != want[i] {
						t.Fatalf("%s: %dx%d mul=%v: element %d is %g (in place %g), want %g", im.name, rows, nx, mul, i, y[i], a[i], want[i])
					}
				}
			}
		}
	}
}

func benchElems(b *testing.B, run func(y, x []float32)) {
	x := make([]float32, 1<<16)
	y := make([]float32, len(x))
	for i := range x {
		x[i] = float32(i%4096)*0.002 - 4
	}
	b.SetBytes(int64(8 * len(x)))
	for i := 0; i < b.N; i++ {
		run(y, x)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(x)), "ns/elem")
}

func BenchmarkGELU(b *testing.B)   { benchElems(b, GELU) }
func BenchmarkGELUGo(b *testing.B) { benchElems(b, geluGo) }
func BenchmarkGELUGrad(b *testing.B) {
	benchElems(b, func(y, x []float32) { GELUGrad(y, x, x) })
}
func BenchmarkGELUGradGo(b *testing.B) {
	benchElems(b, func(y, x []float32) { geluGradGo(y, x, x) })
}
func BenchmarkSoftmax64(b *testing.B) {
	benchElems(b, func(y, x []float32) { Softmax(y, x, 64, 0.125) })
}
func BenchmarkSoftmax64Go(b *testing.B) {
	benchElems(b, func(y, x []float32) { softmaxGo(y, x, 64, 0.125) })
}
