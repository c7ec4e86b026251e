package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

// TestSchedulesOfficialRun checks the schedules of the official ViT-H/14
// IN-1k run (ipe 625, 300 epochs, warmup 40) against IJEPA_REFERENCE §6.
func TestSchedulesOfficialRun(t *testing.T) {
	s := NewSchedule(ScheduleConfig{ItersPerEpoch: 625, Epochs: 300, IPEScale: 1, WarmupEpochs: 40,
		StartLR: 2e-4, LR: 1e-3, FinalLR: 1e-6, WeightDecay: 0.04, FinalWD: 0.4, EMAStart: 0.996, EMAEnd: 1})
	if s.LR.Warmup != 25000 || s.LR.Total != 187500 || s.WD.Total != 187500 {
		t.Fatalf("warmup %d, total %d/%d; want 25000 and 187500", s.LR.Warmup, s.LR.Total, s.WD.Total)
	}
	cases := []struct {
		what string
		got  float64
		want string
		prec int
	}{
		{"wd@1", s.WD.At(1), "0.0400", 4},
		{"wd@25000", s.WD.At(25000), "0.0556", 4},
		{"wd@93750", s.WD.At(93750), "0.220", 3},   // T/2: (0.04+0.4)/2
		{"wd@106250", s.WD.At(106250), "0.257", 3}, // the reference's "mid": the middle of the lr cosine
		{"wd@187500", s.WD.At(187500), "0.400", 3},
		{"lr@1", s.LR.At(1), "0.000200032", 9},           // 2e-4 + 8e-4/25000
		{"lr@12500", s.LR.At(12500), "0.000600", 6},      // half the warmup
		{"lr@25000", s.LR.At(25000), "0.001000", 6},      // the peak
		{"lr@106250", s.LR.At(106250), "0.0005005", 7},   // half the cosine: (1e-3+1e-6)/2
		{"lr@187500", s.LR.At(187500), "0.000001000", 9}, // the floor
		{"ema@1", s.EMA.At(1), "0.996000", 6},
		{"ema@93751", s.EMA.At(93751), "0.998000", 6},
		{"ema@187501", s.EMA.At(187501), "1.000000", 6},
	}
	for _, c := range cases {
		if g := fmt.Sprintf("%.*f", c.prec, c.got); g != c.want {
			t.Errorf("%s = %s, want %s", c.what, g, c.want)
		}
	}
	// Monotone: lr rises then falls, wd rises, ema rises.
	for step := 2; step <= 187500; step += 997 {
		if s.WD.At(step) < s.WD.At(step-1) || s.EMA.At(step) < s.EMA.At(step-1) {
			t.Fatalf("wd or ema decreases at %d", step)
		}
		if step < 25000 && s.LR.At(step) < s.LR.At(step-1) || step > 25001 && s.LR.At(step) > s.LR.At(step-1) {
			t.Fatalf("lr is not warmup-then-decay at %d", step)
		}
	}
}

// TestAdamWMatchesHostReference runs three AdamW steps on a decayed weight and
// a bias and compares with PyTorch's AdamW written out in float64.
func TestAdamWMatchesHostReference(t *testing.T) {
	be := newCPU(t)
	b := NewBuilder()
	lin := NewLinear(b, "fc", 3, 2, true)
	ps := b.Params()
	must(t, Alloc(be, ps, 5))
	must(t, AllocGrads(be, ps))
	opt, err := NewAdamW(be, ps)
	must(t, err)
	r := testRand(t.Name())
	host := map[*Param][3][]float64{} // param, m, v
	for _, p := range ps {
		v, err := backend.ReadF32(be, p.Value)
		must(t, err)
		x := make([]float64, len(v))
		for i := range v {
			x[i] = float64(v[i])
		}
		host[p] = [3][]float64{x, make([]float64, len(v)), make([]float64, len(v))}
	}
	lr, wd := []float64{1e-2, 5e-3, 2e-3}, []float64{0.04, 0.1, 0.3}
	for step := 1; step <= 3; step++ {
		for _, p := range ps {
			g := make([]float32, p.NumElements())
			for i := range g {
				g[i] = float32(r.NormFloat64())
			}
			backend.WriteF32(be, p.Grad, g)
			h := host[p]
			d := 0.0
			if p == lin.Weight {
				d = wd[step-1]
			}
			for i := range g {
				gi := float64(g[i])
				h[0][i] *= 1 - lr[step-1]*d
				h[1][i] = 0.9*h[1][i] + 0.1*gi
				h[2][i] = 0.999*h[2][i] + 0.001*gi*gi
				bc1, bc2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.999, float64(step))
				h[0][i] -= lr[step-1] / bc1 * h[1][i] / (math.Sqrt(h[2][i])/math.Sqrt(bc2) + 1e-8)
			}
		}
		must(t, opt.Step(be, lr[step-1], wd[step-1]))
	}
	if opt.Steps != 3 {
		t.Errorf("steps = %d, want 3", opt.Steps)
	}
	for _, p := range ps {
		v, err := backend.ReadF32(be, p.Value)
		must(t, err)
		for i := range v {
			if d := math.Abs(float64(v[i]) - host[p][0][i]); d > 1e-6 {
				t.Errorf("%s[%d] = %v, reference %v", p.Name, i, v[i], host[p][0][i])
			}
		}
	}
	if n := len(opt.State()); n != 2*len(ps) {
		t.Errorf("%d state tensors, want %d", n, 2*len(ps))
	}
}

func TestEMA(t *testing.T) {
	be := newCPU(t)
	mk := func(seed uint64) []*Param {
		b := NewBuilder()
		if _, err := NewViT(b, ViTConfig{ImgSize: 4, Patch: 2, Channels: 3, Dim: 4, Depth: 1, Heads: 1, MLPHidden: 4}); err != nil {
			t.Fatal(err)
		}
		ps := b.Params()
		must(t, Alloc(be, ps, seed))
		return ps
	}
	online, target := mk(1), mk(2)
	before := make([][]float32, len(target))
	for i, p := range target {
		before[i], _ = backend.ReadF32(be, p.Value)
	}
	must(t, EMA(be, target, online, 0.75))
	for i, p := range target {
		got, _ := backend.ReadF32(be, p.Value)
		on, err := backend.ReadF32(be, online[i].Value)
		must(t, err)
		for k := range got {
			want := 0.75*float64(before[i][k]) + 0.25*float64(on[k])
			if !online[i].Trainable {
				want = float64(before[i][k])
			}
			if math.Abs(float64(got[k])-want) > 1e-6 {
				t.Fatalf("%s[%d] = %v, want %v", p.Name, k, got[k], want)
			}
		}
	}
}
