package model

import (
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// CountStep counts exactly what the CPU backend's tensors ask for in a
// real step (its pool's PeakAsked), on a few shapes, in fp32 and, where the
// CPU's bfloat16 products need no float32 copies of their operands (AMX),
// in bf16; and a ViT-H step of the official batch is counted in well under
// a second.
func TestCountStepMatchesCPU(t *testing.T) {
	precisions := []amp.Precision{amp.FP32}
	if cpu.BF16Native() {
		precisions = append(precisions, amp.BF16)
	}
	for _, tc := range []struct {
		cfg Config
		s   StepShape
	}{
		{Config{Dim: 64, Depth: 4, Heads: 4, MLPHidden: 256, ImgSize: 64, Patch: 8, PredDim: 48, PredDepth: 2}, StepShape{B: 16, M: 2, Kc: 40, Kt: 10}},
		{Config{Dim: 96, Depth: 2, Heads: 3, MLPHidden: 384, ImgSize: 32, Patch: 4, PredDim: 48, PredDepth: 1}, StepShape{B: 8, M: 4, Kc: 49, Kt: 12}},
	} {
		for _, p := range precisions {
			countMatchesCPU(t, tc.cfg, tc.s, p)
		}
	}
	start := time.Now()
	h, err := CountStep(Config{Model: "vit_huge", ImgSize: 224, Patch: 14, PredDim: 384, PredDepth: 12}, StepShape{B: 128, M: 4, Kc: 225, Kt: 51}, amp.FP32)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ViT-H/14, batch 128: state %.2f GB, peak %.2f GB, counted in %v", float64(h.State)/1e9, float64(h.Peak)/1e9, time.Since(start))
}

// countMatchesCPU checks CountStep against the CPU backend's pool on one
// step of cfg at shape s in precision p.
func countMatchesCPU(t *testing.T, cfg Config, s StepShape, p amp.Precision) {
	t.Helper()
	count, err := CountStep(cfg, s, p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New()
	if err := m.Alloc(be, 1); err != nil {
		t.Fatal(err)
	}
	m.SetPrecision(p)
	state := cpu.Stats(be).PeakAsked
	n := m.EncCfg.NumPatches()
	b := s.batch(n)
	b.Images = make([]float32, s.B*3*cfg.ImgSize*cfg.ImgSize)
	if _, err := m.Step(b, Hyper{LR: 1e-3}); err != nil {
		t.Fatal(err)
	}
	peak := cpu.Stats(be).PeakAsked
	m.Free()
	if count.State != state || count.Peak != peak {
		t.Errorf("%v %+v %+v: counted state %d, peak %d; the CPU backend's %d, %d", p, cfg, s, count.State, count.Peak, state, peak)
	}
}
