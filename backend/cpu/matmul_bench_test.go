package cpu

import (
	"fmt"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/openblas"
)

// mmShape is one matrix product of a training step: c[z] = op(a[z]) @
// op(b[z]), op(a) m x k, op(b) k x n.
type mmShape struct {
	name       string
	z, m, n, k int
	ta, tb     bool
}

// stepShapes returns the matrix products of an I-JEPA step of a config
// (those of #3: tiny32 and small224) that carry most of its work: the
// linear layers of the target encoder (forward only), of the context
// encoder and the predictor (forward, input gradient dx = dy @ W, weight
// gradient dW = dy^T @ x), and the attention products with their gradients.
// Token counts follow the anchor's masks: tiny32 keeps about 15 of 64
// context patches with 4 targets of about 10; small224 about 57 of 196, with
// targets of about 35.
func stepShapes(cfg string) []mmShape {
	var b, t, d, heads, ctx, pd, tgt int
	switch cfg {
	case "tiny32":
		b, t, d, heads, ctx, pd, tgt = 64, 64, 192, 3, 15, 96, 10
	case "small224":
		b, t, d, heads, ctx, pd, tgt = 16, 196, 384, 6, 57, 192, 35
	}
	rt, rc := b*t, b*ctx
	pt := ctx + tgt // predictor tokens per sequence
	rp := 4 * b * pt
	e, pe := d/heads, pd/heads
	lin := func(name string, rows, in, out int) []mmShape {
		return []mmShape{
			{name + " fwd", 1, rows, out, in, false, true},
			{name + " dx", 1, rows, in, out, false, false},
			{name + " dW", 1, out, in, rows, true, false},
		}
	}
	s := []mmShape{
		{"target qkv fwd", 1, rt, 3 * d, d, false, true},
		{"target fc1 fwd", 1, rt, 4 * d, d, false, true},
		{"target fc2 fwd", 1, rt, d, 4 * d, false, true},
		{"target q@k^T", b * heads, t, t, e, false, true},
		{"target attn@v", b * heads, t, e, t, false, false},
	}
	s = append(s, lin("context fc1", rc, d, 4*d)...)
	s = append(s, lin("predictor fc1", rp, pd, 4*pd)...)
	s = append(s, lin("predictor qkv", rp, pd, 3*pd)...)
	s = append(s,
		mmShape{"predictor q@k^T", 4 * b * heads, pt, pt, pe, false, true},
		mmShape{"predictor attn@v", 4 * b * heads, pt, pe, pt, false, false},
		mmShape{"predictor dattn=do@v^T", 4 * b * heads, pt, pt, pe, false, true},
		mmShape{"predictor dv=attn^T@do", 4 * b * heads, pt, pe, pt, true, false},
	)
	return s
}

// BenchmarkMatMul times the matrix products of a tiny32 and a small224 step
// through the fast backend and through OpenBLAS called directly with its own
// threading (one thread per core), on the same shapes, and reports both rates
// and their ratio (cpu/openblas, the target being at least 0.7), each from
// the fastest of b.N calls. Each iteration runs the product once each way; the
// two run in separate phases so that OpenBLAS's threads, which spin a while
// after a call, do not slow the backend's phase more than at its start.
//
//	go test ./backend/cpu -run '^$' -bench MatMul
func BenchmarkMatMul(b *testing.B) {
	if err := openblas.Load(); err != nil {
		b.Skipf("OpenBLAS not available: %v", err)
	}
	for _, cfg := range []string{"tiny32", "small224"} {
		for _, s := range stepShapes(cfg) {
			b.Run(fmt.Sprintf("%s/%s/%dx%dx%dx%d", cfg, s.name, s.z, s.m, s.n, s.k), func(b *testing.B) {
				benchMatMul(b, s)
			})
		}
	}
}

func benchMatMul(b *testing.B, s mmShape) {
	bk := New()
	defer bk.Close()
	shape := func(r, c int) []int {
		if s.z == 1 {
			return []int{r, c}
		}
		return []int{s.z, r, c}
	}
	as, bs := shape(s.m, s.k), shape(s.k, s.n)
	if s.ta {
		as = shape(s.k, s.m)
	}
	if s.tb {
		bs = shape(s.n, s.k)
	}
	ta := bk.New(backend.F32, as...)
	tb := bk.New(backend.F32, bs...)
	tc := bk.New(backend.F32, shape(s.m, s.n)...)
	for i, v := range ta.Storage().Impl.(*buffer).f {
		v = float32(i%17)*0.01 - 0.08
		ta.Storage().Impl.(*buffer).f[i] = v
	}
	for i := range tb.Storage().Impl.(*buffer).f {
		tb.Storage().Impl.(*buffer).f[i] = float32(i%13)*0.01 - 0.06
	}
	ad, bd, cd := f(backend.Call{Args: []*backend.Tensor{ta}}, 0), f(backend.Call{Args: []*backend.Tensor{tb}}, 0), f(backend.Call{Args: []*backend.Tensor{tc}}, 0)
	lda, ldb := s.strides()
	raw := func() {
		for z := 0; z < s.z; z++ {
			openblas.Sgemm(s.ta, s.tb, s.m, s.n, s.k, 1, ad[z*s.m*s.k:], lda, bd[z*s.k*s.n:], ldb, 0, cd[z*s.m*s.n:], s.n)
		}
	}
	viaBackend := func() { backend.MatMul(bk, tc, ta, tb, s.ta, s.tb, 1, 0) }

	// Warm both paths (OpenBLAS's buffers, page faults), then time every
	// call and keep each path's fastest: the machine is shared, and the
	// fastest call is the one least disturbed.
	best := func(run func()) time.Duration {
		run()
		d := time.Duration(1<<63 - 1)
		for i := 0; i < b.N; i++ {
			start := time.Now()
			run()
			d = min(d, time.Since(start))
		}
		return d
	}
	b.ResetTimer()
	openblas.SetThreads(bk.Device().(*device).threads)
	tRaw := best(raw)
	openblas.SetThreads(1)
	tCPU := best(viaBackend)
	b.StopTimer()
	if err := bk.Sync(); err != nil {
		b.Fatal(err)
	}
	flops := 2 * float64(s.z) * float64(s.m) * float64(s.n) * float64(s.k)
	b.ReportMetric(flops/tCPU.Seconds()/1e9, "cpu-GFLOP/s")
	b.ReportMetric(flops/tRaw.Seconds()/1e9, "openblas-GFLOP/s")
	b.ReportMetric(tRaw.Seconds()/tCPU.Seconds(), "ratio")
}
