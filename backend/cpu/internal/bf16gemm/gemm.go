//go:build cgo && amd64

// Package bf16gemm multiplies bfloat16 matrices with float32 accumulation
// on CPUs with AVX512-BF16.
package bf16gemm

/*
#cgo CFLAGS: -O2
#include <stdint.h>
int ijepa_bf16gemm_supported(void);
int ijepa_bf16gemm(int ta, int tb, long m, long n, long k, const uint16_t *a, long lda,
                   const uint16_t *b, long ldb, float *c, long ldc);
int ijepa_amx_init(void);
int ijepa_amx_gemm(long batch, int ta, int tb, long m, long n, long k, const uint16_t *a, long lda, long sa,
                   const uint16_t *b, long ldb, long sb, float *c, long ldc, long sc);
*/
import "C"

import "fmt"

// Supported reports whether the CPU has AVX512-BF16.
var Supported = C.ijepa_bf16gemm_supported() != 0

// Gemm sets c = op(a) @ op(b) for bfloat16 a and b (bit patterns) and
// float32 c, row-major with strides lda, ldb, ldc; op(a) is m x k, op(b) k
// x n, and op(x) is x^T when its flag is set.
func Gemm(ta, tb bool, m, n, k int, a []uint16, lda int, b []uint16, ldb int, c []float32, ldc int) {
	if !Supported {
		panic("bf16gemm: the CPU has no AVX512-BF16")
	}
	if m == 0 || n == 0 {
		return
	}
	if C.ijepa_bf16gemm(flag(ta), flag(tb), C.long(m), C.long(n), C.long(k), (*C.uint16_t)(&a[0]), C.long(lda),
		(*C.uint16_t)(&b[0]), C.long(ldb), (*C.float)(&c[0]), C.long(ldc)) != 0 {
		panic(fmt.Sprintf("bf16gemm: %dx%dx%d: out of memory for the packing buffers", m, n, k))
	}
}

func flag(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// AMX reports whether the CPU has AMX-BF16 and Linux lets this process use it.
var AMX = C.ijepa_amx_init() != 0

// GemmAMX is Gemm on AMX tiles, for a batch of products: c[z*sc:] =
// op(a[z*sa:]) @ op(b[z*sb:]) for z < batch.
func GemmAMX(batch int, ta, tb bool, m, n, k int, a []uint16, lda, sa int, b []uint16, ldb, sb int, c []float32, ldc, sc int) {
	if !AMX {
		panic("bf16gemm: no AMX")
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	if C.ijepa_amx_gemm(C.long(batch), flag(ta), flag(tb), C.long(m), C.long(n), C.long(k), (*C.uint16_t)(&a[0]), C.long(lda), C.long(sa),
		(*C.uint16_t)(&b[0]), C.long(ldb), C.long(sb), (*C.float)(&c[0]), C.long(ldc), C.long(sc)) != 0 {
		panic(fmt.Sprintf("bf16gemm: %dx%dx%dx%d: out of memory for the packing buffers", batch, m, n, k))
	}
}
