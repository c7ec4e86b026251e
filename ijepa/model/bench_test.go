package model

import (
	"math/rand/v2"
	"testing"

	"github.com/ijepa-go/ijepa/backend/cpu"
)

// BenchmarkStep measures one training step on the CPU backend (images/s is
// reported) for a small 32-pixel model with official-style masks (4 target
// blocks, a context of about a quarter of the patches).
func BenchmarkStep(b *testing.B) {
	cases := []struct {
		name          string
		cfg           Config
		batch, kc, kt int
	}{
		{"tiny32", Config{Model: "vit_tiny", ImgSize: 32, Patch: 4, PredDim: 96, PredDepth: 2}, 16, 16, 9},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			be := cpu.New()
			m, err := New(c.cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Alloc(be, 1); err != nil {
				b.Fatal(err)
			}
			defer m.Free()
			r := rand.New(rand.NewPCG(1, 2))
			bt := randomBatch(r, m.EncCfg, c.batch, 4, c.kc, c.kt)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Step(bt, Hyper{LR: 1e-4, WD: 0.04, Momentum: 0.996}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.batch*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
