//go:build cgo

package vec

/*
#cgo CFLAGS: -O2 -Wno-psabi
#cgo LDFLAGS: -lm
int ijepa_vec_init(void);
void ijepa_vec_gelu(float *y, const float *x, long n);
void ijepa_vec_gelu_grad(float *dx, const float *dy, const float *x, long n);
void ijepa_vec_softmax(float *y, const float *x, long rows, long cols, float alpha);
*/
import "C"

import "unsafe"

var avx2 = C.ijepa_vec_init() != 0

func impl() string {
	if avx2 {
		return "C, AVX2+FMA"
	}
	return "C, baseline vectors"
}

func p(s []float32) *C.float { return (*C.float)(unsafe.Pointer(&s[0])) }

func gelu(y, x []float32) { C.ijepa_vec_gelu(p(y), p(x), C.long(len(x))) }

func geluGrad(dx, dy, x []float32) {
	C.ijepa_vec_gelu_grad(p(dx), p(dy), p(x), C.long(len(x)))
}

func softmax(y, x []float32, cols int, alpha float32) {
	C.ijepa_vec_softmax(p(y), p(x), C.long(len(x)/cols), C.long(cols), C.float(alpha))
}
