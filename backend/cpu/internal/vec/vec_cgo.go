//go:build cgo

package vec

/*
#cgo CFLAGS: -O2 -Wno-psabi
#cgo LDFLAGS: -lm
int ijepa_vec_init(void);
int ijepa_vec_use_avx2(int on);
void ijepa_vec_gelu(float *y, const float *x, long n);
void ijepa_vec_gelu_grad(float *dx, const float *dy, const float *x, long n);
void ijepa_vec_softmax(float *y, const float *x, long rows, long cols, float alpha);
void ijepa_vec_layernorm(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                         const float *beta, long rows, long cols, double eps);
int ijepa_vec_layernorm_bwd(float *dx, double *dg, double *db, const float *dy, const float *x,
                            const float *mean, const float *rstd, const float *gamma, long rows, long cols);
int ijepa_vec_colsum(double *acc, const float *x, long rows, long cols);
void ijepa_vec_adamw(float *p, float *m, float *v, const float *g, long n, const float *s);
void ijepa_vec_broadcast(float *y, const float *a, const float *x, long rows, long nx, int mul);
*/
import "C"

import "unsafe"

var avx2 = C.ijepa_vec_init() != 0

// setAVX2 chooses the AVX2+FMA kernels (where the CPU has them) or the
// baseline ones, and returns the previous choice; for tests, which run the
// baseline kernels on every machine. Not safe while kernels run.
func setAVX2(on bool) bool {
	v := C.int(0)
	if on {
		v = 1
	}
	prev := C.ijepa_vec_use_avx2(v) != 0
	avx2 = on && avx2Supported
	return prev
}

// avx2Supported is whether the CPU has AVX2 and FMA (and the build has the
// AVX2 kernels).
var avx2Supported = avx2

func impl() string {
	if avx2 {
		return "C, AVX2+FMA"
	}
	return "C, baseline vectors"
}

// pf and pd return a slice's first element for C, or NULL for an empty slice.
func pf(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&s[0]))
}

func pd(s []float64) *C.double {
	if len(s) == 0 {
		return nil
	}
	return (*C.double)(unsafe.Pointer(&s[0]))
}

func gelu(y, x []float32) { C.ijepa_vec_gelu(pf(y), pf(x), C.long(len(x))) }

func geluGrad(dx, dy, x []float32) {
	C.ijepa_vec_gelu_grad(pf(dx), pf(dy), pf(x), C.long(len(x)))
}

func softmax(y, x []float32, cols int, alpha float32) {
	C.ijepa_vec_softmax(pf(y), pf(x), C.long(len(x)/cols), C.long(cols), C.float(alpha))
}

func layerNorm(y, mean, rstd, x, gamma, beta []float32, cols int, eps float64) {
	C.ijepa_vec_layernorm(pf(y), pf(mean), pf(rstd), pf(x), pf(gamma), pf(beta), C.long(len(x)/cols), C.long(cols), C.double(eps))
}

func layerNormBwd(dx []float32, dg, db []float64, dy, x, mean, rstd, gamma []float32, cols int) {
	if C.ijepa_vec_layernorm_bwd(pf(dx), pd(dg), pd(db), pf(dy), pf(x), pf(mean), pf(rstd), pf(gamma), C.long(len(x)/cols), C.long(cols)) != 0 {
		layerNormBwdGo(dx, dg, db, dy, x, mean, rstd, gamma, cols)
	}
}

func colSum(acc []float64, x []float32, cols int) {
	if C.ijepa_vec_colsum(pd(acc), pf(x), C.long(len(x)/cols), C.long(cols)) != 0 {
		colSumGo(acc, x, cols)
	}
}

func adamW(p, m, v, g []float32, s *AdamWScalars) {
	C.ijepa_vec_adamw(pf(p), pf(m), pf(v), pf(g), C.long(len(p)), (*C.float)(unsafe.Pointer(s)))
}

func broadcast(y, a, x []float32, mul bool) {
	m := C.int(0)
	if mul {
		m = 1
	}
	C.ijepa_vec_broadcast(pf(y), pf(a), pf(x), C.long(len(a)/len(x)), C.long(len(x)), m)
}
