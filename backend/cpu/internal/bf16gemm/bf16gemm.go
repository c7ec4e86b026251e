// Package bf16gemm multiplies bfloat16 matrices into float32 on AMX tiles
// (Intel Sapphire Rapids and later), where the CPU has AMX-BF16 and Linux
// grants the process the tile state (asked for once, on first use, so that
// a process that never multiplies bfloat16 never asks). Products are exact bfloat16 x bfloat16 in float32, summed in
// float32; subnormal inputs count as zero and subnormal results are flushed,
// as the tdpbf16ps instruction does.
//
// On a Sapphire Rapids core it runs the linear layers of a tiny32 and a
// small224 step 2-8x faster than widening both operands to float32 for
// OpenBLAS's sgemm, and loses where k < 32 (k is padded to 32);
// BenchmarkGemmBF16 in backend/cpu measures it. CPUs without AMX (Zen 4
// among them) widen to float32.
package bf16gemm

import (
	"fmt"
	"sync"
)

var available = sync.OnceValue(amxInit)

// Available reports whether the AMX kernel runs here.
func Available() bool { return available() }

// Pays reports whether Gemm runs here and is faster than widening to
// float32 for sgemm on a product of inner dimension k (measured: from k =
// 32 on).
func Pays(k int) bool { return k >= 32 && Available() }

// Gemm sets c[z*sc:] = op(a[z*sa:]) @ op(b[z*sb:]) for z < batch: a and b
// hold bfloat16 bit patterns, op(a) is m x k, op(b) k x n and c m x n,
// row-major with row strides lda, ldb and ldc; op(x) is x^T when its flag is
// set. The caller checks sizes; Gemm panics where Available is false or it
// cannot allocate its packing buffers.
func Gemm(batch int, ta, tb bool, m, n, k int, a []uint16, lda, sa int, b []uint16, ldb, sb int, c []float32, ldc, sc int) {
	if !Available() {
		panic("bf16gemm: no AMX-BF16 here")
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for z := 0; z < batch; z++ {
			for i := 0; i < m; i++ {
				clear(c[z*sc+i*ldc : z*sc+i*ldc+n])
			}
		}
		return
	}
	if !gemm(batch, ta, tb, m, n, k, a, lda, sa, b, ldb, sb, c, ldc, sc) {
		panic(fmt.Sprintf("bf16gemm: %dx%dx%dx%d: out of memory for the packing buffers", batch, m, n, k))
	}
}
