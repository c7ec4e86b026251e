//go:build cgo && amd64

package bf16gemm

/*
#cgo CFLAGS: -O2
#include <stdint.h>
int ijepa_amx_init(void);
int ijepa_amx_gemm(long batch, int ta, int tb, long m, long n, long k, const uint16_t *a, long lda, long sa,
                   const uint16_t *b, long ldb, long sb, float *c, long ldc, long sc);
*/
import "C"

// amxBuilt: this build has the AMX kernel.
const amxBuilt = true

// amxInit asks Linux for the tile state and reports whether AMX runs here.
func amxInit() bool { return C.ijepa_amx_init() != 0 }

func gemm(batch int, ta, tb bool, m, n, k int, a []uint16, lda, sa int, b []uint16, ldb, sb int, c []float32, ldc, sc int) bool {
	return C.ijepa_amx_gemm(C.long(batch), flag(ta), flag(tb), C.long(m), C.long(n), C.long(k), (*C.uint16_t)(&a[0]), C.long(lda), C.long(sa),
		(*C.uint16_t)(&b[0]), C.long(ldb), C.long(sb), (*C.float)(&c[0]), C.long(ldc), C.long(sc)) == 0
}

func flag(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
