// Package vec holds the CPU backend's kernels for transcendental element
// ops and row ops — GELU, its derivative, softmax, layer norm and its
// gradient, column sums, the AdamW step, row-broadcast add and multiply — in
// two implementations: C
// with compiler vector extensions (AVX2 and FMA when the CPU has them, chosen
// at run time), built whenever cgo is, and plain Go (table-driven GELU, a
// float32 exponential), for builds without cgo. Both are float32 throughout
// and accurate to a few ulp; their tests check them against package math.
package vec

// Impl names the implementation in use ("C, AVX2+FMA").
func Impl() string { return impl() }

// GELU sets y[i] = x[i]*Phi(x[i]), the exact GELU. y and x have one length
// and may be the same slice.
func GELU(y, x []float32) {
	if len(y) != len(x) {
		panic("vec: GELU: lengths differ")
	}
	if len(y) > 0 {
		gelu(y, x)
	}
}

// GELUGrad sets dx[i] = dy[i]*(Phi(x[i]) + x[i]*phi(x[i])), the gradient
// of GELU. The slices have one length; dx may be dy or x.
func GELUGrad(dx, dy, x []float32) {
	if len(dx) != len(dy) || len(dx) != len(x) {
		panic("vec: GELUGrad: lengths differ")
	}
	if len(dx) > 0 {
		geluGrad(dx, dy, x)
	}
}

// Softmax sets each row of cols elements of y to the softmax of alpha times
// the row of x: y[j] = exp(alpha*x[j] - m) / sum_k exp(alpha*x[k] - m), m
// the row's maximum of alpha*x. Rows with a NaN or an infinite maximum are
// computed in float64, giving the IEEE answer. y and x do not overlap.
func Softmax(y, x []float32, cols int, alpha float32) {
	if len(y) != len(x) || cols <= 0 || len(x)%cols != 0 {
		panic("vec: Softmax: lengths differ or are not whole rows")
	}
	if len(y) > 0 {
		softmax(y, x, cols, alpha)
	}
}

// LayerNorm normalises each row of cols elements of x: mean[r] and rstd[r]
// = 1/sqrt(var+eps) (biased variance, eps added in float64), y = (x -
// mean)*rstd*gamma + beta, or without the affine part when gamma and beta
// are empty.
func LayerNorm(y, mean, rstd, x, gamma, beta []float32, cols int, eps float64) {
	rows := rowsOf(x, cols)
	if len(y) != len(x) || len(mean) != rows || len(rstd) != rows || len(gamma) != len(beta) || len(gamma) != 0 && len(gamma) != cols {
		panic("vec: LayerNorm: lengths do not fit")
	}
	if rows > 0 {
		layerNorm(y, mean, rstd, x, gamma, beta, cols, eps)
	}
}

// LayerNormBwd computes, for each row, dx = rstd*(g - mean(g) - xhat*mean(g*xhat))
// with xhat = (x-mean)*rstd and g = dy*gamma (dy without gamma), and, when
// dg and db are not empty, adds sum_r dy*xhat and sum_r dy into them (float64,
// cols each).
func LayerNormBwd(dx []float32, dg, db []float64, dy, x, mean, rstd, gamma []float32, cols int) {
	rows := rowsOf(x, cols)
	if len(dx) != len(x) || len(dy) != len(x) || len(mean) != rows || len(rstd) != rows ||
		len(gamma) != 0 && len(gamma) != cols || len(dg) != len(db) || len(dg) != 0 && len(dg) != cols {
		panic("vec: LayerNormBwd: lengths do not fit")
	}
	if rows > 0 {
		layerNormBwd(dx, dg, db, dy, x, mean, rstd, gamma, cols)
	}
}

// ColSum adds the column sums of x, rows of cols elements, into acc.
func ColSum(acc []float64, x []float32, cols int) {
	rowsOf(x, cols)
	if len(acc) != cols {
		panic("vec: ColSum: lengths do not fit")
	}
	if len(x) > 0 {
		colSum(acc, x, cols)
	}
}

func rowsOf(x []float32, cols int) int {
	if cols <= 0 || len(x)%cols != 0 {
		panic("vec: not whole rows")
	}
	return len(x) / cols
}

// AdamWScalars are the scalars of one AdamW step, each rounded to float32
// from its float64 value as the op table says.
type AdamWScalars struct {
	Decay      float32 // 1 - lr*weight_decay
	Beta1      float32
	OneMinusB1 float32 // 1 - beta1
	Beta2      float32
	OneMinusB2 float32 // 1 - beta2
	StepSize   float32 // lr / (1 - beta1^t)
	BC2Sqrt    float32 // sqrt(1 - beta2^t)
	Eps        float32
}

// AdamW runs one AdamW step: p *= Decay; m = Beta1*m + (1-Beta1)*g; v =
// Beta2*v + (1-Beta2)*g^2; p -= StepSize*m/(sqrt(v)/BC2Sqrt + Eps). The
// slices have one length.
func AdamW(p, m, v, g []float32, s AdamWScalars) {
	if len(m) != len(p) || len(v) != len(p) || len(g) != len(p) {
		panic("vec: AdamW: lengths differ")
	}
	if len(p) > 0 {
		adamW(p, m, v, g, &s)
	}
}

// Add sets y = a + x and Mul y = a * x, elementwise, with x repeated over
// the rows of len(x) elements of a. y has a's length and may be a.
func Add(y, a, x []float32) { broadcastCheck(y, a, x); broadcast(y, a, x, false) }

// Mul: see Add.
func Mul(y, a, x []float32) { broadcastCheck(y, a, x); broadcast(y, a, x, true) }

func broadcastCheck(y, a, x []float32) {
	if len(y) != len(a) || len(x) == 0 || len(a)%len(x) != 0 {
		panic("vec: Add/Mul: lengths do not fit")
	}
}
