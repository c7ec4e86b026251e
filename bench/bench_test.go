package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
)

func TestProfile(t *testing.T) {
	p := NewProfile(cpu.New())
	defer p.Close()
	a := p.New(backend.F32, 2, 5, 7)
	w := p.New(backend.F32, 2, 3, 7)
	c := p.New(backend.F32, 2, 5, 3)
	backend.Fill(p, a, 1)
	backend.Fill(p, w, 0.5)
	p.Reset() // forget the set-up
	p.PerOp = true
	for i := 0; i < 3; i++ {
		backend.MatMul(p, c, a, w, false, true, 1, 0)
	}
	backend.Add(p, c, c, c)
	got, err := backend.ReadF32(p, c)
	if err != nil || got[0] != 7 { // 2 * (7 * 0.5)
		t.Fatalf("c[0] = %v, %v; want 7", got, err)
	}
	ops := p.Ops()
	if len(ops) != 3 || ops[0].Name != "matmul" && ops[1].Name != "matmul" {
		t.Fatalf("ops = %+v, want matmul, add and read", ops)
	}
	var mm OpStats
	for _, s := range ops {
		if s.Name == "matmul" {
			mm = s
		}
	}
	if mm.Calls != 3 || mm.Flops != 3*2*2*5*3*7 || mm.Time <= 0 {
		t.Errorf("matmul stats %+v, want 3 calls of 2*2*5*3*7 flops, timed", mm)
	}
	shapes := p.MatMuls()
	if len(shapes) != 1 || shapes[0].Name != "matmul 2x[5x7]@[3x7]^T" || shapes[0].Calls != 3 {
		t.Errorf("matmul shapes %+v", shapes)
	}
	var sb strings.Builder
	if err := p.WriteTable(&sb, 3, -1); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"matmul", "GFLOP/s", "add", "GB/s", "read", "matmul 2x[5x7]@[3x7]^T"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, sb.String())
		}
	}

	// Untimed mode counts without timing.
	p.Reset()
	p.PerOp = false
	backend.MatMul(p, c, a, w, false, true, 1, 0)
	if s := p.Ops()[0]; s.Calls != 1 || s.Time != 0 {
		t.Errorf("untimed stats %+v", s)
	}
}

func TestParseAnchor(t *testing.T) {
	for _, c := range []struct {
		out      string
		ips, ms  float64
		torch    string
		wantFail bool
	}{
		{out: "tiny32 torch 1.13.0 threads=2: 1724.1 ms/step 37.1 img/s\n", ips: 37.1, ms: 1724.1, torch: "1.13.0"},
		{out: "warning: x\nsmall224 torch 2.1.0+cpu threads=4: 5912.0 ms/step 2.7 img/s", ips: 2.7, ms: 5912, torch: "2.1.0+cpu"},
		{out: "tiny32: 12 img/s", wantFail: true},
		{out: "", wantFail: true},
	} {
		a, err := parseAnchor(c.out)
		if c.wantFail {
			if err == nil {
				t.Errorf("parseAnchor(%q) = %+v, want an error", c.out, a)
			}
			continue
		}
		if err != nil || a.ImgPerSec != c.ips || a.MsPerStep != c.ms || a.Torch != c.torch {
			t.Errorf("parseAnchor(%q) = %+v, %v", c.out, a, err)
		}
	}
}

// fakePython writes an executable script standing in for python3.
func fakePython(t *testing.T, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs a POSIX shell")
	}
	p := filepath.Join(t.TempDir(), "python3")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunAnchor(t *testing.T) {
	script := filepath.Join(t.TempDir(), "anchor.py")
	os.WriteFile(script, []byte("# stands in for the anchor\n"), 0o644)
	ctx := context.Background()

	ok := fakePython(t, `echo "$2 torch 9.9 threads=$4: 100.0 ms/step 640.0 img/s"`)
	a, err := RunAnchor(ctx, AnchorOptions{Python: ok, Script: script, Config: "tiny32", Threads: 2})
	if err != nil || a.ImgPerSec != 640 || !strings.HasPrefix(a.Line, "tiny32 torch 9.9 threads=2") {
		t.Fatalf("RunAnchor = %+v, %v", a, err)
	}
	if runtime.GOOS == "linux" && a.PeakRSS <= 0 {
		t.Errorf("the child's peak RSS is %d", a.PeakRSS)
	}

	for _, c := range []struct {
		name string
		o    AnchorOptions
		say  string
	}{
		{"no torch", AnchorOptions{Python: fakePython(t, `echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1`), Script: script}, "no torch"},
		{"no python", AnchorOptions{Python: filepath.Join(t.TempDir(), "nopython"), Script: script}, "not found"},
		{"no script", AnchorOptions{Python: ok, Script: filepath.Join(t.TempDir(), "none.py")}, "none.py"},
	} {
		_, err := RunAnchor(ctx, c.o)
		if !errors.Is(err, ErrAnchorUnavailable) || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: err = %v, want ErrAnchorUnavailable saying %q", c.name, err, c.say)
		}
	}
	crash := fakePython(t, `echo "Traceback: boom" >&2; exit 3`)
	if _, err := RunAnchor(ctx, AnchorOptions{Python: crash, Script: script, Config: "tiny32"}); err == nil ||
		errors.Is(err, ErrAnchorUnavailable) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a crashing anchor: err = %v, want a failure that quotes its stderr", err)
	}
}

func TestPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ru_maxrss is checked on Linux")
	}
	before := PeakRSS()
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	after := PeakRSS()
	// The peak is at least what is resident now (earlier tests may have
	// set a higher one, and freed it since).
	if before <= 0 || after < before || after < 64<<20 {
		t.Errorf("peak RSS %d before and %d after touching 64 MiB", before, after)
	}
	runtime.KeepAlive(buf)
}

// The workload's masks have the anchor's structure: four target blocks of
// one rectangle size per batch, contexts of one length (at least 4) with no
// target patch, every index in the grid.
func TestWorkload(t *testing.T) {
	for _, name := range Anchored {
		cfg, err := LookupConfig(name)
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewWorkload(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := cfg.Model.Encoder()
		n := enc.NumPatches()
		var ks []int
		for step := 0; step < 5; step++ {
			b := w.Next()
			if len(b.Context) != cfg.Batch || len(b.Targets) != 4 || len(b.Images) != cfg.Batch*3*enc.ImgSize*enc.ImgSize {
				t.Fatalf("%s: batch of %d contexts, %d target blocks, %d pixels", name, len(b.Context), len(b.Targets), len(b.Images))
			}
			kc, kt := len(b.Context[0]), len(b.Targets[0][0])
			ks = append(ks, kc)
			if kc < 4 || kt < 1 {
				t.Fatalf("%s: context of %d, targets of %d patches", name, kc, kt)
			}
			for i := 0; i < cfg.Batch; i++ {
				inTarget := map[int32]bool{}
				for _, blk := range b.Targets {
					if len(blk[i]) != kt {
						t.Fatalf("%s: target blocks of different sizes", name)
					}
					for _, p := range blk[i] {
						inTarget[p] = true
					}
				}
				if len(b.Context[i]) != kc {
					t.Fatalf("%s: contexts of different lengths", name)
				}
				for _, p := range b.Context[i] {
					if p < 0 || int(p) >= n || inTarget[p] {
						t.Fatalf("%s: context patch %d outside the grid or in a target", name, p)
					}
				}
			}
		}
		t.Logf("%s: context lengths %v", name, ks)
	}
	if _, err := LookupConfig("huge"); err == nil || !strings.Contains(err.Error(), "tiny32") {
		t.Errorf("LookupConfig(huge) = %v, want an error listing the configs", err)
	}
}

// anchorConfigs parses CONFIGS of the embedded anchor script
// (bench/anchor/torch_ijepa_step.py): config name -> field -> value.
func anchorConfigs(t *testing.T) map[string]map[string]int {
	t.Helper()
	block := regexp.MustCompile(`(?s)\nCONFIGS = \{\n(.*?)\n\}\n`).FindSubmatch(anchorScript)
	if block == nil {
		t.Fatal("the anchor script has no CONFIGS = {...} block")
	}
	entry := regexp.MustCompile(`^\s*"(\w+)": dict\(([^()]*)\),?$`)
	out := map[string]map[string]int{}
	for _, line := range strings.Split(string(block[1]), "\n") {
		m := entry.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("anchor script: cannot parse the CONFIGS line %q", line)
		}
		fields := map[string]int{}
		for _, kv := range strings.Split(m[2], ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				t.Fatalf("anchor script: config %s: cannot parse %q", m[1], kv)
			}
			fields[k] = n
		}
		out[m[1]] = fields
	}
	return out
}

// The presets the anchor trains have the shapes of the anchor script's own
// CONFIGS (parsed from the embedded script, not a copy of it), with the
// script's MLP ratio 4: otherwise the img/s ratio compares two different
// models. Catches a preset or the script changing alone.
func TestAnchoredConfigs(t *testing.T) {
	confs := anchorConfigs(t)
	if len(confs) < 2 {
		t.Fatalf("the anchor script has %d configs, want tiny32 and small224", len(confs))
	}
	for name, f := range confs {
		cfg, err := LookupConfig(name)
		if err != nil {
			t.Errorf("the anchor script's config %s: %v", name, err)
			continue
		}
		m := cfg.Model
		ours := map[string]int{"img": m.ImgSize, "patch": m.Patch, "ch": 3, "dim": m.Dim, "depth": m.Depth, "heads": m.Heads,
			"pdim": m.PredDim, "pdepth": m.PredDepth, "batch": cfg.Batch}
		for k, v := range f {
			if w, ok := ours[k]; !ok {
				t.Errorf("%s: the anchor script sets %s=%d, which this test does not compare", name, k, v)
			} else if w != v {
				t.Errorf("%s: %s = %d in the preset, %d in the anchor script", name, k, w, v)
			}
		}
		for k := range ours {
			if _, ok := f[k]; !ok {
				t.Errorf("%s: the anchor script does not set %s", name, k)
			}
		}
		if m.MLPHidden != 4*m.Dim {
			t.Errorf("%s: MLP hidden %d, the anchor script's is 4 x %d", name, m.MLPHidden, m.Dim)
		}
	}
}

// Run trains a small model: the loss is finite, the op counts cover the
// step and the per-op steps time matmuls.
func TestRun(t *testing.T) {
	cfg, err := LookupConfig("tiny32")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Batch, cfg.Model.Depth, cfg.Model.PredDepth = 2, 1, 1
	be := cpu.New()
	defer be.Close()
	r, err := Run(context.Background(), be, Options{Config: cfg, Warmup: 1, Steps: 2, OpSteps: 1, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !(r.Loss > 0) || r.ImgPerS <= 0 || r.MsPerStep <= 0 {
		t.Errorf("result %+v", r)
	}
	var mm OpStats
	for _, s := range r.Profile.Ops() {
		if s.Name == "matmul" {
			mm = s
		}
	}
	if mm.Calls == 0 || mm.Time <= 0 || mm.GFLOPS() <= 0 {
		t.Errorf("matmul stats of the per-op step: %+v", mm)
	}
	if _, err := Run(context.Background(), be, Options{Config: cfg, Steps: 0}); err == nil {
		t.Error("Run with no timed steps did not fail")
	}
}

// The fast CPU backend trains like the reference: the same losses, step by
// step, to float32 rounding.
func TestFastMatchesReference(t *testing.T) {
	cfg, err := LookupConfig("tiny32")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Batch, cfg.Model.Depth, cfg.Model.PredDepth = 4, 2, 1
	losses := func(be backend.Backend) []float64 {
		defer be.Close()
		s, err := NewSession(be, cfg, 9)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var out []float64
		for i := 0; i < 3; i++ {
			if _, err := s.Steps(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			out = append(out, s.Loss())
		}
		return out
	}
	fast, ref := losses(cpu.New()), losses(cpu.NewReference())
	for i := range fast {
		// Measured: 6.4e-8 at most (one float32 ulp of the loss).
		if d := math.Abs(fast[i]-ref[i]) / ref[i]; !(d < 1e-6) {
			t.Errorf("step %d: loss %.7f on cpu, %.7f on cpu-ref", i, fast[i], ref[i])
		}
	}
	t.Logf("losses: cpu %v, cpu-ref %v", fast, ref)
}
