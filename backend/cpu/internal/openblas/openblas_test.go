package openblas

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ijepa-go/ijepa/internal/testdep"
)

// naive returns alpha*op(a)@op(b) + beta*c in float64 (c is not read when
// beta is 0).
func naive(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if ta {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tb {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			s *= float64(alpha)
			if beta != 0 {
				s += float64(beta) * float64(c[i*ldc+j])
			}
			out[i*n+j] = s
		}
	}
	return out
}

func TestSgemm(t *testing.T) {
	if err := Load(); err != nil {
		testdep.Skip(t, "OpenBLAS not available: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = rng.Float32()*2 - 1
		}
		return v
	}
	for _, d := range [][3]int{{1, 1, 1}, {7, 5, 3}, {67, 33, 129}, {128, 96, 64}} {
		m, n, k := d[0], d[1], d[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, -1.5}} {
					// Strides one wider than the rows, to check lda/ldb/ldc.
					ar, ac := m, k
					if ta {
						ar, ac = k, m
					}
					br, bc := k, n
					if tb {
						br, bc = n, k
					}
					lda, ldb, ldc := ac+1, bc+1, n+1
					a, b, c := fill(ar*lda), fill(br*ldb), fill(m*ldc)
					if ab[1] == 0 {
						for i := range c {
							c[i] = float32(math.NaN()) // not read when beta is 0
						}
					}
					want := naive(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					Sgemm(ta, tb, m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							got, w := float64(c[i*ldc+j]), want[i*n+j]
							if !(math.Abs(got-w) <= 1e-4*(1+math.Abs(w))) {
								t.Fatalf("%dx%dx%d ta=%v tb=%v alpha,beta=%v: c[%d,%d] = %g, want %g", m, n, k, ta, tb, ab, i, j, got, w)
							}
						}
					}
				}
			}
		}
	}
}

func TestLoadedSingleThreaded(t *testing.T) {
	if err := Load(); err != nil {
		testdep.Skip(t, "OpenBLAS not available: %v", err)
	}
	if n := Threads(); n != 1 {
		t.Errorf("Threads() = %d after Load, want 1", n)
	}
	if Library() == "" {
		t.Error("Library() is empty although OpenBLAS is loaded")
	}
	t.Log(Library())
}

func TestShortSlicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Sgemm with a short c did not panic")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
}
