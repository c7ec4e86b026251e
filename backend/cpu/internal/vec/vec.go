// Package vec holds the CPU backend's kernels for transcendental element
// and row ops — GELU, its derivative, softmax — in two implementations: C
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
