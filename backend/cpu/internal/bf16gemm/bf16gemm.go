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

	"github.com/ijepa-go/ijepa/backend/half"
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
	GemmTo(batch, ta, tb, m, n, k, a, lda, sa, b, ldb, sb, Out{C32: c, LDC: ldc, SC: sc, Alpha: 1})
}

// Out is where GemmTo writes: c = Alpha*product + Beta*c into C32
// (float32) or C16 (bfloat16 bit patterns, rounded to nearest even, NaNs
// quiet), the other nil, with row stride LDC and products SC elements
// apart; c is not read when Beta is 0.
type Out struct {
	C32         []float32
	C16         []uint16
	LDC, SC     int
	Alpha, Beta float32
}

// GemmTo is Gemm into o: the scaling, the accumulation and the rounding to
// bfloat16 happen as each 32 x 32 block of the product leaves the tiles, so
// no float32 copy of the product is made.
func GemmTo(batch int, ta, tb bool, m, n, k int, a []uint16, lda, sa int, b []uint16, ldb, sb int, o Out) {
	if !Available() {
		panic("bf16gemm: no AMX-BF16 here")
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	if k == 0 {
		zero := Out{C32: o.C32, C16: o.C16, LDC: o.LDC, SC: o.SC, Beta: o.Beta}
		finishZero(batch, m, n, zero)
		return
	}
	if !gemm(batch, ta, tb, m, n, k, a, lda, sa, b, ldb, sb, o.C32, o.C16, o.LDC, o.SC, o.Alpha, o.Beta) {
		panic(fmt.Sprintf("bf16gemm: %dx%dx%dx%d: out of memory for the packing buffers", batch, m, n, k))
	}
}

// finishZero sets c = beta*c (0 when beta is 0), the result of an empty
// product.
func finishZero(batch, m, n int, o Out) {
	for z := 0; z < batch; z++ {
		for i := 0; i < m; i++ {
			off := z*o.SC + i*o.LDC
			if o.C32 != nil {
				for j := off; j < off+n; j++ {
					if o.Beta == 0 {
						o.C32[j] = 0
					} else {
						o.C32[j] *= o.Beta
					}
				}
				continue
			}
			for j := off; j < off+n; j++ {
				if o.Beta == 0 {
					o.C16[j] = 0
				} else {
					o.C16[j] = half.BF16FromFloat32(o.Beta * half.BF16ToFloat32(o.C16[j]))
				}
			}
		}
	}
}
