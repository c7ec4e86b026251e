// Package openblas calls OpenBLAS's single-precision matrix product, found at
// run time: it opens libopenblas with dlopen the first time it is needed, so
// every build of the program links and runs whether or not OpenBLAS is
// installed, and uses it when it is.
//
// The library is looked up as libopenblas.so.0, then libopenblas.so (the
// names Debian's libopenblas0 and libopenblas-dev install). The environment
// variable IJEPA_BLAS overrides this: "off" never loads it, any other value
// is the path (or soname) of a library to open instead.
//
// Load sets OpenBLAS to one thread: callers split products across their own
// goroutines, so that OpenBLAS's worker threads never spin on the cores that
// the rest of the program needs between two products.
package openblas

import (
	"fmt"

	"github.com/ijepa-go/ijepa/internal/dlopen"
)

// EnvVar is the environment variable that overrides the library lookup.
const EnvVar = "IJEPA_BLAS"

// lib is OpenBLAS, set to one thread once open (the backend runs its own
// goroutines).
var lib = dlopen.NewLibrary("openblas", EnvVar, func(names []string) (string, error) {
	name, err := open(names)
	if err == nil {
		setThreads(1)
	}
	return name, err
}, "libopenblas.so.0", "libopenblas.so")

// Load opens OpenBLAS once per process and reports why it is unavailable,
// if it is.
func Load() error { return lib.Load() }

// Available reports whether OpenBLAS is loaded (loading it if need be).
func Available() bool { return Load() == nil }

// Library returns the name the library was opened by and its build
// configuration ("libopenblas.so.0: OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen
// MAX_THREADS=64"), or "" when it is not loaded.
func Library() string {
	if !Available() {
		return ""
	}
	return lib.Name() + ": " + config()
}

// SetThreads sets the number of threads each OpenBLAS call may use. Load
// sets it to 1; a benchmark that measures OpenBLAS's own threading raises it
// and sets it back.
func SetThreads(n int) {
	if Available() {
		setThreads(n)
	}
}

// Threads returns the number of threads each OpenBLAS call may use.
func Threads() int {
	if !Available() {
		return 0
	}
	return threads()
}

// Sgemm computes c = alpha*op(a)@op(b) + beta*c on row-major matrices,
// where op(x) is x^T when the matching trans flag is set, op(a) is m x k,
// op(b) is k x n, and lda, ldb, ldc are the row strides. When beta is 0, c
// is not read. The caller checks the sizes; it panics if OpenBLAS is not
// loaded or a slice is too short for its matrix.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if k > 0 && (len(a) < (ar-1)*lda+ac || len(b) < (br-1)*ldb+bc) || len(c) < (m-1)*ldc+n ||
		lda < max(1, ac) || ldb < max(1, bc) || ldc < max(1, n) {
		panic(fmt.Sprintf("openblas: sgemm %dx%dx%d: a slice is too short for its matrix or a stride too small", m, n, k))
	}
	if err := Load(); err != nil {
		panic(err)
	}
	if k == 0 {
		// Some BLAS builds read a even for k == 0; scale c here.
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				if beta == 0 {
					row[j] = 0
				} else {
					row[j] *= beta
				}
			}
		}
		return
	}
	sgemm(transA, transB, m, n, k, alpha, &a[0], lda, &b[0], ldb, beta, &c[0], ldc)
}
