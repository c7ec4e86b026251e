//go:build cgo && amd64

package bf16gemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ijepa-go/ijepa/backend/half"
)

// The product matches a float64 product of the same bfloat16 values within
// float32 accumulation error, for every transpose and sizes that leave
// partial register tiles, odd k and several k blocks. Catches packing
// errors (a wrong pair, a strip off by one) and lost tails.
func TestGemm(t *testing.T) {
	if !Supported {
		t.Skip("the CPU has no AVX512-BF16")
	}
	testGemm(t, Gemm)
}

func TestGemmAMX(t *testing.T) {
	if !AMX {
		t.Skip("no AMX")
	}
	testGemm(t, func(ta, tb bool, m, n, k int, a []uint16, lda int, b []uint16, ldb int, c []float32, ldc int) {
		GemmAMX(1, ta, tb, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0)
	})
}

func testGemm(t *testing.T, Gemm func(ta, tb bool, m, n, k int, a []uint16, lda int, b []uint16, ldb int, c []float32, ldc int)) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range [][3]int{{1, 1, 1}, {8, 32, 2}, {9, 33, 3}, {17, 70, 515}, {130, 1030, 64}, {5, 7, 1100}} {
		m, n, k := s[0], s[1], s[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				a := make([]uint16, m*k)
				b := make([]uint16, k*n)
				for i := range a {
					a[i] = half.BF16FromFloat32(float32(rng.NormFloat64()))
				}
				for i := range b {
					b[i] = half.BF16FromFloat32(float32(rng.NormFloat64()))
				}
				lda, ldb := k, n
				if ta {
					lda = m
				}
				if tb {
					ldb = k
				}
				c := make([]float32, m*n)
				for i := range c {
					c[i] = float32(math.NaN()) // must be overwritten
				}
				Gemm(ta, tb, m, n, k, a, lda, b, ldb, c, n)
				el := func(x []uint16, ld int, tr bool, r, c int) float64 {
					if tr {
						return float64(half.BF16ToFloat32(x[c*ld+r]))
					}
					return float64(half.BF16ToFloat32(x[r*ld+c]))
				}
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var want, mag float64
						for p := 0; p < k; p++ {
							v := el(a, lda, ta, i, p) * el(b, ldb, tb, p, j)
							want += v
							mag += math.Abs(v)
						}
						if got := float64(c[i*n+j]); !(math.Abs(got-want) <= 1e-6*mag+1e-30) {
							t.Fatalf("%dx%dx%d ta=%v tb=%v: c[%d][%d] = %g, want %g", m, n, k, ta, tb, i, j, got, want)
						}
					}
				}
			}
		}
	}
}
