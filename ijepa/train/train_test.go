package train

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/internal/atomicfile"
)

// testConfig is a run small enough for unit tests: vit_nano on 24-pixel
// procedural images (a 6x6 patch grid), batches of 8, 8 steps per epoch.
func testConfig(t testing.TB, sets ...string) *config.Config {
	t.Helper()
	base := []string{
		"data.crop_size=24", "mask.patch_size=4", "mask.min_keep=2", "mask.num_pred_masks=2",
		"data.batch_size=8", "data.num_workers=2", "meta.pred_emb_dim=12", "meta.pred_depth=1",
		"ijepago.dataset_size=64", "ijepago.eval_size=40", "optimization.epochs=4", "optimization.warmup=1",
		"ijepago.probe_train=60", "ijepago.probe_test=40", "ijepago.probe_iterations=20", "ijepago.knn_k=5",
		"ijepago.seed=7",
	}
	return quickConfig(t, append(base, sets...)...)
}

// quickConfig is the quick preset with the settings ("section.key=value")
// applied, validated.
func quickConfig(t testing.TB, sets ...string) *config.Config {
	t.Helper()
	c, err := config.Preset("quick")
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range sets {
		k, v, _ := strings.Cut(kv, "=")
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// runIn runs training in dir and returns the result and the error.
func runIn(t testing.TB, ctx context.Context, c *config.Config, be backend.Backend, dir string, resume bool, after func(int64) error) (*Result, error) {
	t.Helper()
	var log bytes.Buffer
	res, err := Run(ctx, Options{Config: c, Backend: be, Dir: dir, Resume: resume, Progress: &log, afterStep: after})
	if testing.Verbose() {
		t.Log(log.String())
	}
	return res, err
}

func mustRun(t testing.TB, c *config.Config, dir string, resume bool) *Result {
	t.Helper()
	res, err := runIn(t, context.Background(), c, cpu.New(), dir, resume, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func losses(t testing.TB, dir string) []float64 {
	t.Helper()
	rows, err := runlog.ReadLog(filepath.Join(dir, runlog.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for i, r := range rows {
		if r.Step != int64(i+1) {
			t.Fatalf("%s: row %d is step %d", dir, i, r.Step)
		}
		out = append(out, float64(float32(r.Loss))) // a float32 value, written in its shortest form
	}
	return out
}

func sameLosses(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d losses, the unbroken run has %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Errorf("%s: step %d: loss %v, the unbroken run %v", what, i+1, got[i], want[i])
		}
	}
}

// A run stopped and resumed gives the unbroken run's losses bit for bit:
// stopped at its step limit, crashed after a step that was logged but not
// checkpointed, and interrupted (the context cancelled: a checkpoint is
// written first).
func TestResumeMatchesUnbroken(t *testing.T) {
	const n = 7
	root := t.TempDir()
	full := filepath.Join(root, "full")
	want := mustRun(t, testConfig(t, "ijepago.steps=7", "ijepago.checkpoint_every=2"), full, false).Losses
	sameLosses(t, "unbroken log.csv", losses(t, full), want)

	// Stop at step 3 (the step limit), then go on to 7.
	stopped := filepath.Join(root, "stopped")
	first := mustRun(t, testConfig(t, "ijepago.steps=3", "ijepago.checkpoint_every=2"), stopped, false)
	second := mustRun(t, testConfig(t, "ijepago.steps=7", "ijepago.checkpoint_every=2"), stopped, true)
	if second.Start != 3 {
		t.Errorf("resumed at step %d, want 3", second.Start)
	}
	sameLosses(t, "stopped and resumed", append(first.Losses, second.Losses...), want)
	sameLosses(t, "stopped and resumed log.csv", losses(t, stopped), want)

	// Crash after step 5 was logged; the last checkpoint is step 4.
	crashed := filepath.Join(root, "crashed")
	crash := errors.New("crash")
	c := testConfig(t, "ijepago.steps=7", "ijepago.checkpoint_every=2")
	_, err := runIn(t, context.Background(), c, cpu.New(), crashed, false, func(s int64) error {
		if s == 5 {
			return crash
		}
		return nil
	})
	if !errors.Is(err, crash) {
		t.Fatalf("crash: %v", err)
	}
	res := mustRun(t, c, crashed, true)
	if res.Start != 4 {
		t.Errorf("resumed after the crash at step %d, want 4", res.Start)
	}
	sameLosses(t, "crashed and resumed log.csv", losses(t, crashed), want)

	// Interrupted after step 3: the checkpoint of step 3 is written.
	stopAt := filepath.Join(root, "interrupted")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = runIn(t, ctx, c, cpu.New(), stopAt, false, func(s int64) error {
		if s == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted at step 3") {
		t.Fatalf("interrupted run: %v", err)
	}
	info, err := ReadCheckpointInfo(filepath.Join(stopAt, runlog.CheckpointDir, runlog.LatestFile))
	if err != nil || info.Step != 3 {
		t.Fatalf("latest checkpoint after the interrupt: step %d, %v; want 3", info.Step, err)
	}
	mustRun(t, c, stopAt, true)
	sameLosses(t, "interrupted and resumed log.csv", losses(t, stopAt), want)
	if n != len(want) {
		t.Fatalf("%d steps, want %d", len(want), n)
	}
}

// The checkpoints of a run: numbered ones every checkpoint_every steps,
// latest at each and at the end, with the trainer's metadata.
func TestCheckpointFiles(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(t, "ijepago.steps=5", "ijepago.checkpoint_every=2")
	mustRun(t, c, dir, false)
	for _, name := range []string{"step-0000002.safetensors", "step-0000004.safetensors", runlog.LatestFile} {
		if _, err := os.Stat(filepath.Join(dir, runlog.CheckpointDir, name)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, runlog.CheckpointDir, "step-0000005.safetensors")); err == nil {
		t.Error("the end of the run (step 5) wrote a numbered checkpoint; want latest only")
	}
	info, err := ReadCheckpointInfo(filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Step != 5 || info.Seed != 7 || info.Config == nil || info.Config.Data.CropSize != 24 {
		t.Errorf("latest: step %d seed %d config %v; want step 5, seed 7, the run's config", info.Step, info.Seed, info.Config)
	}
	saved, err := config.Load(filepath.Join(dir, runlog.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if saved.IJEPAGo.Steps != 5 || saved.Data.CropSize != 24 {
		t.Errorf("config.yaml: steps %d crop %d", saved.IJEPAGo.Steps, saved.Data.CropSize)
	}
	// A new run may not reuse the directory.
	if _, err := runIn(t, context.Background(), c, cpu.New(), dir, false, nil); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("second run into %s: %v; want a refusal naming --resume", dir, err)
	}
	// Resuming a finished run says so.
	if _, err := runIn(t, context.Background(), c, cpu.New(), dir, true, nil); err == nil || !strings.Contains(err.Error(), "the run is done") {
		t.Errorf("resuming a finished run: %v", err)
	}
}

// A short run lowers the loss.
func TestLossDecreases(t *testing.T) {
	res := mustRun(t, testConfig(t, "ijepago.steps=24", "optimization.lr=0.002"), t.TempDir(), false)
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	first, last := mean(res.Losses[:4]), mean(res.Losses[len(res.Losses)-4:])
	t.Logf("loss: first 4 steps %.4f, last 4 %.4f", first, last)
	if !(last < 0.9*first) {
		t.Errorf("the loss went from %.4f to %.4f; want at least 10%% lower", first, last)
	}
}

// poisoned is a CPU backend that writes NaN into the output of one op from
// the loss of a given step on (steps are counted by the loss op, which runs
// once per step, after the forward pass and before the backward pass; so
// the loss op or a backward op can be poisoned from a given step on).
type poisoned struct {
	*backend.Front
	op   backend.Op
	from int64 // 1-based step
	step atomic.Int64
}

func (p *poisoned) Run(c backend.Call) {
	if c.Op == backend.OpSmoothL1 {
		p.step.Add(1)
	}
	p.Front.Run(c)
	if c.Op == p.op && p.step.Load() >= p.from {
		nan := make([]float32, c.Args[0].NumElements())
		for i := range nan {
			nan[i] = float32(math.NaN())
		}
		backend.WriteF32(p.Front, c.Args[0], nan)
	}
}

// A loss that is NaN stops the run with a message naming the step and the
// last good checkpoint; a model that turned NaN in its backward pass is
// never written over a checkpoint.
func TestNaNStopsAndKeepsTheLastGoodCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name     string
		op       backend.Op
		from     int64
		msg      string
		lastGood int64
	}{
		// The loss of step 5 is NaN: the model is still finite; the last
		// checkpoint is step 4's.
		{"loss", backend.OpSmoothL1, 5, "step 5: the loss is NaN", 4},
		// The gradients of step 4 are NaN: the loss of step 4 is finite but
		// the model after it is not, and step 4 is a checkpoint step.
		{"gradients", backend.OpGELUBwd, 4, "step 4: the model is no longer finite", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from := tc.from
			dir := t.TempDir()
			c := testConfig(t, "ijepago.steps=7", "ijepago.checkpoint_every=2")
			be := &poisoned{Front: cpu.New(), op: tc.op, from: from}
			res, err := runIn(t, context.Background(), c, be, dir, false, nil)
			good := fmt.Sprintf("(step %d)", tc.lastGood)
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "last good checkpoint is") ||
				!strings.Contains(err.Error(), good) {
				t.Fatalf("error %v; want %q naming the last good checkpoint %s", err, tc.msg, good)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("the error is not one line: %q", err)
			}
			latest := filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile)
			info, err := ReadCheckpointInfo(latest)
			if err != nil || info.Step != tc.lastGood {
				t.Fatalf("latest checkpoint: step %d, %v; want the good one of step %d", info.Step, err, tc.lastGood)
			}
			if _, err := os.Stat(filepath.Join(dir, runlog.CheckpointDir, runlog.StepCheckpoint(tc.lastGood+2))); err == nil {
				t.Errorf("a checkpoint of step %d was written", tc.lastGood+2)
			}
			if res.Step != from {
				t.Errorf("stopped after step %d, want %d", res.Step, from)
			}
			// The good checkpoint resumes, on a healthy backend.
			if res2 := mustRun(t, c, dir, true); res2.Start != tc.lastGood {
				t.Errorf("resumed at %d, want %d", res2.Start, tc.lastGood)
			}
		})
	}
}

// failingReads is a CPU backend whose reads fail after a number of them,
// as a write interrupted by a full disk or a dying device.
type failingReads struct {
	*backend.Front
	left atomic.Int64
}

func (f *failingReads) Read(t *backend.Tensor, dst []byte) error {
	if f.left.Add(-1) < 0 {
		return errors.New("device lost")
	}
	return f.Front.Read(t, dst)
}

// A checkpoint write that fails half way leaves the previous checkpoint
// as it was and no temporary file behind.
func TestCheckpointWriteIsAtomic(t *testing.T) {
	c := testConfig(t)
	mc, err := c.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	be := &failingReads{Front: cpu.New()}
	be.left.Store(math.MaxInt64)
	m := newTestModel(t, be, mc)
	dir := t.TempDir()
	path := filepath.Join(dir, runlog.LatestFile)
	meta, err := checkpointMeta(c, 3, 8, 0, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	if err := saveCheckpoint(m, newGoodness(m), path, meta); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tensors := len(m.Tensors())
	be.left.Store(int64(tensors / 2)) // the write reads half the tensors
	meta[MetaStep] = "4"
	err = saveCheckpoint(m, newGoodness(m), path, meta)
	if err == nil || !strings.Contains(err.Error(), "device lost") {
		t.Fatalf("a write that fails half way: %v", err)
	}
	now, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(now, old) {
		t.Fatalf("the old checkpoint changed (%v)", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files left: %v; want only %s", names, runlog.LatestFile)
	}
	// A crash that killed the process mid-write leaves a temporary file,
	// which the next run removes; the checkpoint is untouched.
	stale := filepath.Join(dir, "."+runlog.LatestFile+".tmp-99999999-123")
	if err := os.WriteFile(stale, old[:len(old)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	atomicfile.RemoveTemps(dir)
	if _, err := os.Stat(stale); err == nil {
		t.Error("the stale temporary file was not removed")
	}
	if info, err := ReadCheckpointInfo(path); err != nil || info.Step != 3 {
		t.Errorf("checkpoint after the crash: step %d, %v", info.Step, err)
	}
}

// Resuming with a config of another model shape is refused with one line
// naming the checkpoint, and nothing in the run directory changes.
func TestResumeRefusesAnotherShape(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, testConfig(t, "ijepago.steps=2"), dir, false)
	before := snapshot(t, dir)
	for _, set := range []string{"meta.pred_depth=2", "meta.pred_emb_dim=24", "meta.model_name=vit_micro", "ijepago.seed=8"} {
		c := testConfig(t, "ijepago.steps=4", set)
		_, err := runIn(t, context.Background(), c, cpu.New(), dir, true, nil)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile)) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want a one-line error naming the checkpoint", set, err)
		}
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("the run directory changed:\n%s\nwas\n%s", after, before)
	}
}

// snapshot lists a directory's files with their sizes and a hash of their
// contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %d %x\n", rel, len(data), sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func newTestModel(t *testing.T, be backend.Backend, mc model.Config) *model.Model {
	t.Helper()
	m, err := model.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Alloc(be, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	return m
}

// Evaluations run every probe_every steps and at the end, three rows each
// (the target encoder, the random-init encoder, raw pixels), appended to
// eval.csv; the baselines do not change between evaluations.
func TestPeriodicEvaluation(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(t, "ijepago.steps=3", "ijepago.probe_every=2")
	var log bytes.Buffer
	res, err := Run(context.Background(), Options{Config: c, Backend: cpu.New(), Dir: dir, Eval: true, Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := runlog.ReadEval(filepath.Join(dir, runlog.EvalFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || len(res.Evals) != 6 {
		t.Fatalf("eval.csv %+v, result %+v; want 2 evaluations of 3 rows", rows, res.Evals)
	}
	for i, want := range []struct {
		step     int64
		features string
	}{{2, runlog.FeaturesTarget}, {2, runlog.FeaturesRandom}, {2, runlog.FeaturesPixels}, {3, runlog.FeaturesTarget}, {3, runlog.FeaturesRandom}, {3, runlog.FeaturesPixels}} {
		if rows[i].Step != want.step || rows[i].Features != want.features || rows[i] != res.Evals[i] {
			t.Errorf("row %d: %+v, want step %d %s", i, rows[i], want.step, want.features)
		}
		if a := rows[i].ProbeAcc; a < 0 || a > 1 {
			t.Errorf("row %d: accuracy %v", i, a)
		}
	}
	if rows[1].ProbeAcc != rows[4].ProbeAcc || rows[2].KNNAcc != rows[5].KNNAcc {
		t.Errorf("the baselines changed between evaluations: %+v", rows)
	}
	if !strings.Contains(log.String(), "msg=eval step=2 features=target") {
		t.Errorf("the log lacks the evaluation:\n%s", log.String())
	}
}

// TimeSteps runs real steps of a config and reports their time.
func TestTimeSteps(t *testing.T) {
	st, err := TimeSteps(context.Background(), testConfig(t), cpu.New(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Steps != 2 || st.Batch != 8 || st.PerStep <= 0 || len(st.Losses) != 2 || st.ImagesPerSecond() <= 0 {
		t.Errorf("%+v", st)
	}
	for _, l := range st.Losses {
		if !(l > 0 && l < 1) {
			t.Errorf("loss %v", l)
		}
	}
	if _, err := TimeSteps(context.Background(), testConfig(t), cpu.New(), 0, 0); err == nil {
		t.Error("0 timed steps accepted")
	}
}

// An evaluation split too large to hold in memory is refused up front,
// naming the key that bounds it.
func TestEvaluatorRefusesHugeSplits(t *testing.T) {
	c := testConfig(t, "data.crop_size=224", "mask.patch_size=16", "ijepago.eval_size=100000", "ijepago.probe_test=0", "ijepago.probe_train=4")
	_, err := NewEvaluator(c, cpu.New())
	if err == nil || !strings.Contains(err.Error(), "ijepago.probe_test: 100000 images of 224x224") {
		t.Fatalf("%v", err)
	}
}
