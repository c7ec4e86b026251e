package train

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// largestWeight returns the largest magnitude of the network weights in a
// checkpoint.
func largestWeight(t *testing.T, path string) float64 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	big := 0.0
	for _, n := range f.Names() {
		if strings.HasPrefix(n, "opt.") {
			continue
		}
		info, _ := f.Info(n)
		b := make([]byte, info.DataOffsets[1]-info.DataOffsets[0])
		if err := f.Read(n, b); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(b); i += 4 {
			big = max(big, math.Abs(float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))))
		}
	}
	return big
}

// A learning rate of 1e30 makes weights of about 1e29 after one step:
// finite, but the checkpoint is not written, the run stops there, and the
// message names the step-2 checkpoint as the last good one. (Before, the
// step-3 checkpoint with those weights was written and named as the last
// good one when the loss went NaN, and resuming it diverged again.)
func TestPoisonedCheckpointRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	mustRun(t, testConfig(t, "ijepago.steps=2", "ijepago.checkpoint_every=1"), dir, false)
	c := testConfig(t, "ijepago.steps=8", "ijepago.checkpoint_every=1", "optimization.lr=1e30", "optimization.start_lr=1e30")
	res, err := runIn(t, context.Background(), c, cpu.New(), dir, true, nil)
	latest := filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile)
	if !errors.Is(err, ErrNotGood) || !strings.Contains(err.Error(), "step 3: the model has diverged") ||
		!strings.Contains(err.Error(), "the last good checkpoint is "+latest+" (step 2)") || res.Step != 3 {
		t.Fatalf("lr 1e30: step %d, %v", res.Step, err)
	}
	if _, err := os.Stat(filepath.Join(dir, runlog.CheckpointDir, runlog.StepCheckpoint(3))); err == nil {
		t.Error("the step-3 checkpoint was written")
	}
	if info, err := ReadCheckpointInfo(latest); err != nil || info.Step != 2 || largestWeight(t, latest) > 10 {
		t.Errorf("latest: step %d (%v), largest weight %g", info.Step, err, largestWeight(t, latest))
	}
}

// The rule's parts on their own: non-finite values and weights past their
// bound are refused by name, moments only need be finite, and a loss more
// than GoodLossFactor times the recent median is not good once enough
// steps are known.
func TestGoodnessRule(t *testing.T) {
	mc, err := testConfig(t).ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	g := newGoodness(newTestModel(t, cpu.New(), mc))
	f32 := func(v ...float32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	}
	w := "encoder.blocks.0.attn.qkv.weight"
	if g.bounds[w] != 1200 || g.bounds["encoder.blocks.0.attn.qkv.bias"] != 1000 || g.bounds["encoder.norm.weight"] != 1e4 {
		t.Errorf("bounds: weight %g, bias %g, norm %g", g.bounds[w], g.bounds["encoder.blocks.0.attn.qkv.bias"], g.bounds["encoder.norm.weight"])
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{w, f32(0.5, -3, 1199), nil},
		{w, f32(0.5, -1201), ErrNotGood},
		{w, f32(float32(math.NaN())), ErrNotFinite},
		{"opt.exp_avg_sq.encoder." + w[len("encoder."):], f32(1e30), nil},
		{"opt.exp_avg_sq.encoder." + w[len("encoder."):], f32(float32(math.Inf(1))), ErrNotFinite},
	} {
		if err := g.checkTensor(tc.name, tc.data); !errors.Is(err, tc.want) || err != nil && !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s %v: %v, want %v", tc.name, tc.data, err, tc.want)
		}
	}
	for i := 0; i < GoodLossMinSteps-1; i++ {
		g.addLoss(0.3)
	}
	if err := g.checkLoss(100); err != nil {
		t.Errorf("too few steps to judge: %v", err)
	}
	g.addLoss(0.3)
	if err := g.checkLoss(2.9); err != nil {
		t.Errorf("2.9 against a median of 0.3: %v", err)
	}
	if err := g.checkLoss(3.1); !errors.Is(err, ErrNotGood) || !strings.Contains(err.Error(), "median 0.3") {
		t.Errorf("3.1 against a median of 0.3: %v", err)
	}
}

// damage overwrites 4 KiB in the middle of a file with random bytes.
func damage(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	junk := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	if _, err := f.WriteAt(junk, st.Size()/2); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint whose data was damaged (4 KiB of random bytes), or cut
// short, is refused when resumed, naming the file and the first bad tensor
// and the newest intact checkpoint to go on from; going on from it gives
// the unbroken run's losses. (Before, the damaged file resumed without
// complaint and went NaN a few steps later.)
func TestDamagedCheckpointRefused(t *testing.T) {
	root := t.TempDir()
	full := filepath.Join(root, "full")
	want := mustRun(t, testConfig(t, "ijepago.steps=6", "ijepago.checkpoint_every=2"), full, false).Losses
	for _, how := range []string{"damaged", "truncated"} {
		dir := filepath.Join(root, how)
		mustRun(t, testConfig(t, "ijepago.steps=4", "ijepago.checkpoint_every=2"), dir, false)
		latest := filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile) // a hard link to step 4
		if how == "damaged" {
			damage(t, latest)
		} else {
			st, _ := os.Stat(latest)
			os.Truncate(latest, st.Size()/3)
		}
		_, err := runIn(t, context.Background(), testConfig(t, "ijepago.steps=6", "ijepago.checkpoint_every=2"), cpu.New(), dir, true, nil)
		step2 := filepath.Join(dir, runlog.CheckpointDir, runlog.StepCheckpoint(2))
		if err == nil || !strings.Contains(err.Error(), latest) || !strings.Contains(err.Error(), "the newest intact checkpoint of the run is "+step2+" (step 2)") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s latest: %v", how, err)
		}
		if how == "damaged" && (!errors.Is(err, safetensors.ErrChecksum) || !strings.Contains(err.Error(), "tensor \"")) {
			t.Errorf("the damaged file's error names no tensor: %v", err)
		}
		res, err := Run(context.Background(), Options{Config: testConfig(t, "ijepago.steps=6", "ijepago.checkpoint_every=2"), Backend: cpu.New(), Dir: dir, Resume: true, Checkpoint: step2})
		if err != nil {
			t.Fatal(err)
		}
		sameLosses(t, how+" then resumed from step 2", append(append([]float64{}, want[:2]...), res.Losses...), want)
	}
}
