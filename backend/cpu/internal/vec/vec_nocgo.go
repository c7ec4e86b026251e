//go:build !cgo

package vec

func impl() string { return "Go" }

func gelu(y, x []float32)                             { geluGo(y, x) }
func geluGrad(dx, dy, x []float32)                    { geluGradGo(dx, dy, x) }
func softmax(y, x []float32, cols int, alpha float32) { softmaxGo(y, x, cols, alpha) }
