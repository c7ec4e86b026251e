package model

import (
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend/cpu"
)

// CountStep counts exactly what the CPU backend's tensors ask for in a
// real step (its pool's PeakAsked), on a few shapes; and a ViT-H step of
// the official batch is counted in well under a second.
func TestCountStepMatchesCPU(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		s   StepShape
	}{
		{Config{Dim: 64, Depth: 4, Heads: 4, MLPHidden: 256, ImgSize: 64, Patch: 8, PredDim: 48, PredDepth: 2}, StepShape{B: 16, M: 2, Kc: 40, Kt: 10}},
		{Config{Dim: 96, Depth: 2, Heads: 3, MLPHidden: 384, ImgSize: 32, Patch: 4, PredDim: 48, PredDepth: 1}, StepShape{B: 8, M: 4, Kc: 49, Kt: 12}},
	} {
		count, err := CountStep(tc.cfg, tc.s)
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		be := cpu.New()
		if err := m.Alloc(be, 1); err != nil {
			t.Fatal(err)
		}
		state := cpu.Stats(be).PeakAsked
		n := m.EncCfg.NumPatches()
		b := Batch{Images: make([]float32, tc.s.B*3*tc.cfg.ImgSize*tc.cfg.ImgSize)}
		for i := 0; i < tc.s.B; i++ {
			ctx := make([]int32, tc.s.Kc)
			for k := range ctx {
				ctx[k] = int32(n - 1 - k)
			}
			b.Context = append(b.Context, ctx)
		}
		for mi := 0; mi < tc.s.M; mi++ {
			blk := make([][]int32, tc.s.B)
			for i := range blk {
				blk[i] = make([]int32, tc.s.Kt)
				for k := range blk[i] {
					blk[i][k] = int32(k)
				}
			}
			b.Targets = append(b.Targets, blk)
		}
		if _, err := m.Step(b, Hyper{LR: 1e-3}); err != nil {
			t.Fatal(err)
		}
		peak := cpu.Stats(be).PeakAsked
		m.Free()
		if count.State != state || count.Peak != peak {
			t.Errorf("%+v %+v: counted state %d, peak %d; the CPU backend's %d, %d", tc.cfg, tc.s, count.State, count.Peak, state, peak)
		}
	}
	start := time.Now()
	h, err := CountStep(Config{Model: "vit_huge", ImgSize: 224, Patch: 14, PredDim: 384, PredDepth: 12}, StepShape{B: 128, M: 4, Kc: 225, Kt: 51})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ViT-H/14, batch 128: state %.2f GB, peak %.2f GB, counted in %v", float64(h.State)/1e9, float64(h.Peak)/1e9, time.Since(start))
}
