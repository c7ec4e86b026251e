package cpu

import (
	"fmt"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend/cpu/internal/bf16gemm"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/openblas"
	"github.com/ijepa-go/ijepa/backend/half"
)

// BenchmarkGemmBF16 times, on one thread, the matrix products of a tiny32
// and a small224 step with bfloat16 operands two ways: the AMX kernel
// (bf16gemm) and widening both operands to float32 then OpenBLAS's sgemm,
// and reports each rate (GFLOP/s) and their ratio (amx/widen), each from the
// fastest of b.N calls, both run in every iteration.
//
//	go test ./backend/cpu -run '^$' -bench GemmBF16 -benchtime 20x
func BenchmarkGemmBF16(b *testing.B) {
	if err := openblas.Load(); err != nil {
		b.Skipf("OpenBLAS not available: %v", err)
	}
	if !bf16gemm.Available() {
		b.Skip("no AMX-BF16 here")
	}
	for _, cfg := range []string{"tiny32", "small224"} {
		for _, s := range stepShapes(cfg) {
			b.Run(fmt.Sprintf("%s/%s/%dx%dx%dx%d", cfg, s.name, s.z, s.m, s.n, s.k), func(b *testing.B) {
				benchGemmBF16(b, s)
			})
		}
	}
}

func benchGemmBF16(b *testing.B, s mmShape) {
	ab := make([]uint16, s.z*s.m*s.k)
	bb := make([]uint16, s.z*s.k*s.n)
	for i := range ab {
		ab[i] = half.BF16FromFloat32(float32(i%17)*0.01 - 0.08)
	}
	for i := range bb {
		bb[i] = half.BF16FromFloat32(float32(i%13)*0.01 - 0.06)
	}
	a32, b32 := make([]float32, len(ab)), make([]float32, len(bb))
	c := make([]float32, s.z*s.m*s.n)
	lda, ldb := s.strides()
	amx := func() {
		bf16gemm.Gemm(s.z, s.ta, s.tb, s.m, s.n, s.k, ab, lda, s.m*s.k, bb, ldb, s.k*s.n, c, s.n, s.m*s.n)
	}
	widen := func() {
		half.BF16ToFloat32s(a32, ab)
		half.BF16ToFloat32s(b32, bb)
		for z := 0; z < s.z; z++ {
			openblas.Sgemm(s.ta, s.tb, s.m, s.n, s.k, 1, a32[z*s.m*s.k:], lda, b32[z*s.k*s.n:], ldb, 0, c[z*s.m*s.n:], s.n)
		}
	}
	openblas.SetThreads(1)
	amx()
	widen()
	ta, tw := time.Duration(1<<63-1), time.Duration(1<<63-1)
	for b.Loop() {
		start := time.Now()
		amx()
		ta = min(ta, time.Since(start))
		start = time.Now()
		widen()
		tw = min(tw, time.Since(start))
	}
	flops := 2 * float64(s.z) * float64(s.m) * float64(s.n) * float64(s.k)
	b.ReportMetric(flops/ta.Seconds()/1e9, "amx-GFLOP/s")
	b.ReportMetric(flops/tw.Seconds()/1e9, "widen+sgemm-GFLOP/s")
	b.ReportMetric(tw.Seconds()/ta.Seconds(), "ratio")
}

// strides returns the row strides of the shape's a and b as stored.
func (s mmShape) strides() (lda, ldb int) {
	lda, ldb = s.k, s.n
	if s.ta {
		lda = s.m
	}
	if s.tb {
		ldb = s.k
	}
	return lda, ldb
}
