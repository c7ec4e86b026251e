package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

// Every path of the fast backend's 16-bit products — AMX (bf16, k >= 32)
// and widening piece by piece (f16, bf16 with k < 32), many products per
// goroutine and shares of rows of a few — against the reference backend
// (which widens whole operands), with every transpose, alpha, beta, and a
// float32 c. Conformance's matmul cases have batches of at most 3, so they
// do not reach the many-products paths. Catches a product of the batch
// widened from the wrong offset, a transposed a cut by rows, and beta
// applied to a c that was not widened.
func TestHalfMatMulPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fast, ref := New(), NewReference()
	for _, dt := range []backend.DType{backend.F16, backend.BF16} {
		for _, cdt := range []backend.DType{dt, backend.F32} {
			for _, s := range [][4]int{{9, 17, 33, 40}, {9, 17, 33, 13}, {1, 70, 47, 64}, {2, 65, 30, 20}} {
				z, m, n, k := s[0], s[1], s[2], s[3]
				for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
					for _, ab := range [][2]float64{{1, 0}, {0.5, 1.5}} {
						as, bs := []int{z, m, k}, []int{z, k, n}
						if tr[0] {
							as = []int{z, k, m}
						}
						if tr[1] {
							bs = []int{z, n, k}
						}
						vals := func(n int) []float32 {
							v := make([]float32, n)
							for i := range v {
								v[i] = float32(r.NormFloat64())
							}
							return v
						}
						av, bv, cv := vals(z*m*k), vals(z*k*n), vals(z*m*n)
						var got [2][]float32
						for i, be := range []*backend.Front{fast, ref} {
							a, b, c := be.New(dt, as...), be.New(dt, bs...), be.New(cdt, z, m, n)
							backend.WriteF32(be, a, av)
							backend.WriteF32(be, b, bv)
							backend.WriteF32(be, c, cv)
							backend.MatMul(be, c, a, b, tr[0], tr[1], ab[0], ab[1])
							var err error
							if got[i], err = backend.ReadF32(be, c); err != nil {
								t.Fatal(err)
							}
							be.Release(a)
							be.Release(b)
							be.Release(c)
						}
						var num, den float64
						for i := range got[0] {
							d := float64(got[0][i] - got[1][i])
							num += d * d
							den += float64(got[1][i]) * float64(got[1][i])
						}
						if e := num / den; !(e < 1e-5) || math.IsNaN(e) {
							t.Errorf("%v c %v %v trans %v alpha,beta %v: NMSE %.3g against cpu-ref", dt, cdt, s, tr, ab, e)
						}
					}
				}
			}
		}
	}
}
