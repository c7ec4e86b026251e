//go:build !cgo

package vec

func impl() string { return "Go" }

func gelu(y, x []float32)                             { geluGo(y, x) }
func geluGrad(dx, dy, x []float32)                    { geluGradGo(dx, dy, x) }
func softmax(y, x []float32, cols int, alpha float32) { softmaxGo(y, x, cols, alpha) }

func layerNorm(y, mean, rstd, x, gamma, beta []float32, cols int, eps float64) {
	layerNormGo(y, mean, rstd, x, gamma, beta, cols, eps)
}

func layerNormBwd(dx []float32, dg, db []float64, dy, x, mean, rstd, gamma []float32, cols int) {
	layerNormBwdGo(dx, dg, db, dy, x, mean, rstd, gamma, cols)
}

func colSum(acc []float64, x []float32, cols int) { colSumGo(acc, x, cols) }

func adamW(p, m, v, g []float32, s *AdamWScalars) { adamWGo(p, m, v, g, s) }

func broadcast(y, a, x []float32, mul bool) { broadcastGo(y, a, x, mul) }

// setAVX2 does nothing without cgo: there are no C kernels.
func setAVX2(bool) bool { return false }
