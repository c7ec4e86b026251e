//go:build !cgo || !unix

package openblas

import "errors"

func open([]string) (string, error) {
	return "", errors.New("openblas: this build has no cgo (CGO_ENABLED=0) or no dlopen, so it cannot load OpenBLAS")
}

func setThreads(int) {}
func threads() int   { return 0 }
func config() string { return "" }
func sgemm(transA, transB bool, m, n, k int, alpha float32, a *float32, lda int, b *float32, ldb int, beta float32, c *float32, ldc int) {
	panic("openblas: not loaded")
}
