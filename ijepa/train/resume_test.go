package train

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/interop"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// officialFixture is a checkpoint saved as the official trainer saves one
// (ijepa/interop/testdata/make_fixtures.py): epoch 1, AdamW after 2 steps.
const officialFixture = "../interop/testdata/tiny.pth.tar"

// fixtureConfig trains the fixture's model (vit_femto on 16-pixel images,
// patch 4, a predictor of width 16 and depth 2) on 8 procedural images in
// batches of 2: 4 iterations per epoch, so the fixture's epoch 1 is step 4.
func fixtureConfig(t testing.TB, sets ...string) *config.Config {
	return testConfig(t, append([]string{"meta.model_name=vit_femto", "data.crop_size=16", "mask.patch_size=4", "mask.min_keep=0",
		"meta.pred_emb_dim=16", "meta.pred_depth=2", "data.batch_size=2", "ijepago.dataset_size=8", "optimization.epochs=3"}, sets...)...)
}

// startTrainer lays out a run starting from checkpoint and loads it.
func startTrainer(t *testing.T, c *config.Config, dir, checkpoint string, resume bool) (*Trainer, int64, string) {
	t.Helper()
	var log bytes.Buffer
	tr, err := newTrainer(Options{Config: c, Backend: cpu.New(), Dir: dir, Checkpoint: checkpoint, Resume: resume, Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.close)
	start, err := tr.resumePoint()
	if err != nil {
		t.Fatal(err)
	}
	tr.lock.Unlock() // the test runs trainers on dir after looking at this one
	return tr, start, log.String()
}

// sameTensors compares every tensor of two models (parameters and AdamW
// moments) bit for bit.
func sameTensors(t *testing.T, what string, got, want *model.Model) {
	t.Helper()
	w := map[string][]float32{}
	for _, n := range want.Tensors() {
		v, err := backend.ReadF32(want.Backend(), n.T)
		if err != nil {
			t.Fatal(err)
		}
		w[n.Name] = v
	}
	tensors := got.Tensors()
	if len(tensors) != len(w) {
		t.Fatalf("%s: %d tensors, want %d", what, len(tensors), len(w))
	}
	for _, n := range tensors {
		v, err := backend.ReadF32(got.Backend(), n.T)
		if err != nil {
			t.Fatal(err)
		}
		ref, ok := w[n.Name]
		if !ok || len(v) != len(ref) {
			t.Fatalf("%s: tensor %s: %d values, want %d", what, n.Name, len(v), len(ref))
		}
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(ref[i]) {
				t.Errorf("%s: %s[%d] = %v, the file holds %v", what, n.Name, i, v[i], ref[i])
				break
			}
		}
	}
}

// exportFixture writes the fixture as the project's safetensors checkpoint
// (ijepa export) and returns its path.
func exportFixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "exported.safetensors")
	ck, err := interop.Open(officialFixture, interop.Options{Heads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if err := ck.Export(path, interop.All); err != nil {
		t.Fatal(err)
	}
	return path
}

// fixtureModel is the fixture loaded by interop, as the reference.
func fixtureModel(t *testing.T, path string) *model.Model {
	t.Helper()
	ck, err := interop.Open(path, interop.Options{Heads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	m, err := ck.NewModel(cpu.New(), model.SmoothL1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	return m
}

// A run starts from the official trainer's .pth.tar and from a safetensors
// export of it as the official trainer resumes: the file's networks and
// AdamW state (moments and step count 2) are loaded unchanged, the step is
// epoch 1 x 4 iterations per epoch, and the seed is the config's; both
// files give the same losses, and the run then resumes exactly from its
// own checkpoints.
func TestStartFromOfficialCheckpoint(t *testing.T) {
	root := t.TempDir()
	exported := exportFixture(t)
	ref := fixtureModel(t, officialFixture)

	var runs [][]float64
	for _, file := range []string{officialFixture, exported} {
		dir := filepath.Join(root, filepath.Base(file))
		tr, start, log := startTrainer(t, fixtureConfig(t, "ijepago.steps=6"), dir, file, false)
		if start != 4 || tr.model.Opt.Steps != 2 || tr.adamwOffset != 2 {
			t.Errorf("%s: start %d, AdamW steps %d, offset %d; want step 4 (epoch 1 x 4), AdamW's 2 steps", file, start, tr.model.Opt.Steps, tr.adamwOffset)
		}
		for _, s := range []string{"starting from ", "loaded the encoder, predictor and target_encoder, AdamW's moments and step count (2)",
			"step 4 = epoch 1 x 4 iterations per epoch", "seed 7 from the config"} {
			if !strings.Contains(log, s) {
				t.Errorf("%s: the log lacks %q:\n%s", file, s, log)
			}
		}
		sameTensors(t, file, tr.model, ref)

		res, err := Run(context.Background(), Options{Config: fixtureConfig(t, "ijepago.steps=6"), Backend: cpu.New(), Dir: dir, Checkpoint: file})
		if err != nil {
			t.Fatal(err)
		}
		if res.Start != 4 || res.Step != 6 || len(res.Losses) != 2 {
			t.Fatalf("%s: %+v; want steps 5 and 6", file, res)
		}
		runs = append(runs, res.Losses)
		info, err := ReadCheckpointInfo(filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile))
		if err != nil || info.Step != 6 || info.AdamWOffset != 2 || info.Config.Meta.ReadCheckpoint == "" || !info.Config.Meta.LoadCheckpoint {
			t.Errorf("%s: checkpoint %+v %v; want step 6, offset 2 and the start recorded", file, info, err)
		}
		if abs, _ := filepath.Abs(file); info.Config != nil && info.Config.Meta.ReadCheckpoint != abs {
			t.Errorf("%s: meta.read_checkpoint %q, want %q", file, info.Config.Meta.ReadCheckpoint, abs)
		}
		// Starting again into the run's directory is refused (it holds a
		// run: continue it with Resume).
		_, err = Run(context.Background(), Options{Config: fixtureConfig(t, "ijepago.steps=6"), Backend: cpu.New(), Dir: dir, Checkpoint: file})
		if err == nil || !strings.Contains(err.Error(), "already holds a run") {
			t.Errorf("%s: a second start into the run directory: %v", file, err)
		}
	}
	sameLosses(t, "the export against the .pth.tar", runs[1], runs[0])

	// Resumed from its own checkpoint (step 6, not the file it started
	// from), the run goes on as an unbroken run from the file does.
	dir := filepath.Join(root, filepath.Base(officialFixture))
	res := mustRun(t, fixtureConfig(t, "ijepago.steps=8"), dir, true)
	if res.Start != 6 {
		t.Errorf("resumed at step %d, want 6 (the run's latest checkpoint)", res.Start)
	}
	unbroken, err := Run(context.Background(), Options{Config: fixtureConfig(t, "ijepago.steps=8"), Backend: cpu.New(), Dir: filepath.Join(root, "unbroken"), Checkpoint: officialFixture})
	if err != nil {
		t.Fatal(err)
	}
	sameLosses(t, "started, stopped and resumed", append(runs[0], res.Losses...), unbroken.Losses)
}

// A checkpoint with the networks only (no optimiser state, no epoch)
// starts at step 0 with AdamW's moments at zero, and says so.
func TestStartWithoutOptimizerState(t *testing.T) {
	root := t.TempDir()
	exported := exportFixture(t)
	// The same file without the moments and without the metadata.
	nets := filepath.Join(root, "networks.safetensors")
	f, err := safetensors.Open(exported)
	if err != nil {
		t.Fatal(err)
	}
	var list []safetensors.Tensor
	for _, name := range f.Names() {
		if strings.HasPrefix(name, "opt.") {
			continue
		}
		info, _ := f.Info(name)
		list = append(list, safetensors.Tensor{Name: name, DType: info.DType, Shape: info.Shape,
			Fill: func(dst []byte) error { return f.Read(name, dst) }})
	}
	if err := safetensors.WriteFile(nets, list, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tr, start, log := startTrainer(t, fixtureConfig(t, "ijepago.steps=6"), filepath.Join(root, "run"), nets, false)
	if start != 0 || tr.model.Opt.Steps != 0 {
		t.Errorf("start %d, AdamW steps %d; want 0 and 0", start, tr.model.Opt.Steps)
	}
	for _, s := range []string{"no optimiser state: AdamW moments start at zero", "no epoch: the schedules start at step 0"} {
		if !strings.Contains(log, s) {
			t.Errorf("the log lacks %q:\n%s", s, log)
		}
	}
	ref := fixtureModel(t, officialFixture)
	for _, n := range ref.Tensors() {
		if strings.HasPrefix(n.Name, "opt.") {
			backend.Fill(ref.Backend(), n.T, 0)
		}
	}
	sameTensors(t, "networks only", tr.model, ref)
}

// A checkpoint of another model, or one past the run's end, is refused
// with one line naming the file (and the tensor with both shapes), and
// nothing is written into the run directory.
func TestStartRefusesAnotherModel(t *testing.T) {
	file, err := filepath.Abs(officialFixture)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"meta.model_name=vit_pico"}, "encoder tensor patch_embed.proj.weight has shape [24,3,4,4], the model wants [64,3,4,4]"},
		{[]string{"meta.pred_emb_dim=12"}, "predictor tensor predictor_embed.weight has shape [16,24], the model wants [12,24]"},
		{[]string{"data.crop_size=24"}, "encoder tensor pos_embed has shape [1,16,24], the model wants [1,36,24]"},
		{[]string{"meta.pred_depth=1"}, "predictor has 12 tensors the model does not (first: predictor_blocks.1.attn.proj.bias)"},
		{[]string{"optimization.epochs=1"}, "the checkpoint is at epoch 1, step 4 (4 iterations per epoch), and this run ends at step 4"},
	} {
		dir := filepath.Join(t.TempDir(), "run")
		_, err := Run(context.Background(), Options{Config: fixtureConfig(t, tc.sets...), Backend: cpu.New(), Dir: dir, Checkpoint: officialFixture})
		if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v; want one line naming the file with %q", tc.sets, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(dir, runlog.ConfigFile)); err == nil {
			t.Errorf("%v: config.yaml written", tc.sets)
		}
	}
}
