package bf16gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/ijepa-go/ijepa/backend/half"
)

// Where the CPU has AMX-BF16, built with cgo for x86-64, the kernel is
// available (Linux 5.16 and later grant the tile state). Catches the
// run-time check or the arch_prctl request failing, which would leave the
// tests below skipping.
func TestAvailable(t *testing.T) {
	want := cpu.X86.HasAMXBF16 && cpu.X86.HasAMXTile && amxBuilt
	if Available() != want {
		t.Errorf("Available() = %v; the CPU has AMX-BF16 and the build the kernel: %v", Available(), want)
	}
}

// checkProducts runs a batch of random products of one shape through Gemm
// and compares each element with a float64 sum of the same bfloat16
// products, within float32 accumulation error.
func checkProducts(rng *rand.Rand, batch, m, n, k int, ta, tb bool) error {
	a := make([]uint16, batch*m*k)
	b := make([]uint16, batch*k*n)
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
	c := make([]float32, batch*m*n)
	for i := range c {
		c[i] = float32(math.NaN()) // must be overwritten
	}
	Gemm(batch, ta, tb, m, n, k, a, lda, m*k, b, ldb, k*n, c, n, m*n)
	el := func(x []uint16, ld int, tr bool, r, c int) float64 {
		if tr {
			r, c = c, r
		}
		return float64(half.BF16ToFloat32(x[r*ld+c]))
	}
	for z := 0; z < batch; z++ {
		az, bz := a[z*m*k:], b[z*k*n:]
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var want, mag float64
				for p := 0; p < k; p++ {
					v := el(az, lda, ta, i, p) * el(bz, ldb, tb, p, j)
					want += v
					mag += math.Abs(v)
				}
				if got := float64(c[z*m*n+i*n+j]); !(math.Abs(got-want) <= 1e-6*mag) {
					return fmt.Errorf("%dx%dx%dx%d ta=%v tb=%v: c[%d][%d][%d] = %g, want %g", batch, m, n, k, ta, tb, z, i, j, got, want)
				}
			}
		}
	}
	return nil
}

// Every transpose, sizes that leave partial tiles in m, n and k, k = 0, and
// batches. Catches packing errors (a pair split across tiles, a tile off by
// one, a transposed read), lost edges and one product of a batch
// overwriting another.
func TestGemm(t *testing.T) {
	if !Available() {
		t.Skip("no AMX-BF16 here")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range [][4]int{{1, 1, 1, 1}, {1, 16, 16, 32}, {1, 9, 33, 3}, {3, 25, 32, 25}, {1, 17, 70, 515}, {2, 130, 47, 64}, {1, 5, 7, 0}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				if err := checkProducts(rng, s[0], s[1], s[2], s[3], ta, tb); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// Goroutines on several threads run products at once, with the Go
// scheduler's signals arriving while tiles are live. Catches tile state or
// configuration leaking between threads.
func TestGemmConcurrent(t *testing.T) {
	if !Available() {
		t.Skip("no AMX-BF16 here")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 20 {
				if err := checkProducts(rng, 2, 40+g, 36, 70, g%2 == 0, g/2 == 0); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
