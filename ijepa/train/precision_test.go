package train

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/stat"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/backend/vulkan"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// A bf16 run stopped and resumed gives the unbroken run's losses bit for
// bit (the scaler's state travels in the checkpoint), logs its loss scale,
// and its checkpoint, all float32, goes on in fp32 (no scale) and in fp16
// (a fresh scaler). Catches a scaler restarted on resume, a 16-bit tensor
// in a checkpoint, and a checkpoint that only its own precision can load.
func TestResumeInHalfPrecision(t *testing.T) {
	root := t.TempDir()
	full := filepath.Join(root, "full")
	half := []string{"ijepago.precision=bf16", "ijepago.checkpoint_every=2"}
	want := mustRun(t, testConfig(t, append(half, "ijepago.steps=6")...), full, false).Losses
	stopped := filepath.Join(root, "stopped")
	first := mustRun(t, testConfig(t, append(half, "ijepago.steps=3")...), stopped, false)
	second := mustRun(t, testConfig(t, append(half, "ijepago.steps=6")...), stopped, true)
	sameLosses(t, "bf16 stopped and resumed", append(first.Losses, second.Losses...), want)
	rows, err := runlog.ReadLog(filepath.Join(stopped, runlog.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.LossScale != 65536 {
			t.Errorf("step %d: loss_scale %v, want 65536", r.Step, r.LossScale)
		}
	}
	info, err := ReadCheckpointInfo(filepath.Join(stopped, runlog.CheckpointDir, runlog.LatestFile))
	if err != nil || info.Scaler == nil || info.Scaler.Scale != 65536 || info.Scaler.GrowthTracker != 6 {
		t.Fatalf("the checkpoint's scaler: %+v, %v; want scale 65536 after 6 clean steps", info.Scaler, err)
	}
	for _, p := range []string{"fp32", "fp16"} {
		c := testConfig(t, "ijepago.precision="+p, "ijepago.steps=8")
		var log bytes.Buffer
		r, err := Run(context.Background(), Options{Config: c, Backend: cpu.New(), Dir: filepath.Join(root, p+"-from-bf16"),
			Checkpoint: filepath.Join(stopped, runlog.CheckpointDir, runlog.LatestFile), Progress: &log})
		if err != nil {
			t.Fatalf("%s from the bf16 checkpoint: %v\n%s", p, err, log.String())
		}
		if r.Start != 6 || len(r.Losses) != 2 || math.IsNaN(r.Losses[1]) {
			t.Errorf("%s from the bf16 checkpoint: start %d, losses %v", p, r.Start, r.Losses)
		}
		rows, err := runlog.ReadLog(filepath.Join(root, p+"-from-bf16", runlog.LogFile))
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]float64{"fp32": 0, "fp16": 65536}[p]; rows[0].LossScale != want {
			t.Errorf("%s from the bf16 checkpoint: loss_scale %v, want %v", p, rows[0].LossScale, want)
		}
	}
}

// A step whose scaled gradients overflow is skipped: AdamW does not step,
// the scale halves, the checkpoint's adamw_offset counts the skip, and a
// resume from it passes the optimiser's step check and goes on. Catches a
// skipped step taken, and a resume refused because AdamW's count lags the
// step.
func TestOverflowSkipsTheStep(t *testing.T) {
	dir := t.TempDir()
	c := testConfig(t, "ijepago.precision=fp16", "ijepago.steps=4", "ijepago.checkpoint_every=2")
	var log bytes.Buffer
	tr, err := newTrainer(Options{Config: c, Backend: cpu.New(), Dir: dir, Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	var halved float64
	tr.opt.afterStep = func(s int64) error {
		switch s {
		case 2:
			tr.model.Scaler.Scale = math.MaxFloat32 // the next step's gradients overflow
		case 3:
			halved = tr.model.Scaler.Scale
			tr.model.Scaler.Scale = 65536 // and the one after is clean again
		}
		return nil
	}
	if _, err := tr.run(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	steps := tr.model.Opt.Steps
	tr.close()
	if steps != 3 || halved != math.MaxFloat32/2 {
		t.Errorf("after 4 steps with one overflow: AdamW %d steps, the scale halved to %v; want 3 and %v", steps, halved, math.MaxFloat32/2)
	}
	info, err := ReadCheckpointInfo(filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile))
	if err != nil || info.AdamWOffset != 1 {
		t.Fatalf("adamw_offset %d, %v; want 1", info.AdamWOffset, err)
	}
	rows, err := runlog.ReadLog(filepath.Join(dir, runlog.LogFile))
	if err != nil || len(rows) != 4 || rows[2].LossScale != math.MaxFloat32 || rows[3].LossScale != 65536 {
		t.Fatalf("log.csv: %+v, %v", rows, err)
	}
	mustRun(t, testConfig(t, "ijepago.precision=fp16", "ijepago.steps=6", "ijepago.checkpoint_every=2"), dir, true)
}

// The quick preset trains in bf16 and fp16 as in fp32: over its first 60
// steps (seed 0) the mean loss is within 3% of fp32's on the same backend
// and the trained target encoder's linear probe within 0.02 of fp32's.
// From about step 65 the preset's runs part exponentially on any change of
// rounding (a 1e-4 difference at step 61 is 1e-2 at step 69 and 10% at
// step 81), in PyTorch as here and in fp32 too when only the order of
// float32 sums changes; the 960-step runs end up to 14% apart in fp32 and
// 51% in PyTorch's own bf16 against its fp32, so the full comparison is
// measured, not asserted (docs/BENCHMARKS.md, "Mixed-precision training
// against fp32"), and TestTrainingFollowsPyTorch holds each precision to
// PyTorch's step by step. On the CPU: about 40 s on two cores. On Vulkan
// only with IJEPA_TEST_VULKAN_QUICK=1 (lavapipe: minutes), where
// backend/vulkan's TestHalfPrecisionTrains follows the CPU step by step in
// CI instead. Catches a 16-bit path that trains differently from the
// start: a gradient lost or mis-scaled, the loss scale left on the
// weights, a cast the wrong way.
func TestQuickPresetInHalfPrecision(t *testing.T) {
	const quickHalfSteps = 60
	if testing.Short() {
		t.Skip("trains the quick preset for 60 steps in three precisions: about 40 s on two cores")
	}
	type outcome struct{ loss, probe float64 }
	for _, be := range []struct {
		name string
		open func() (backend.Backend, error)
	}{
		{"cpu", func() (backend.Backend, error) { return cpu.New(), nil }},
		{"vulkan", func() (backend.Backend, error) { return vulkan.Open("") }},
	} {
		t.Run(be.name, func(t *testing.T) {
			if be.name == "vulkan" && os.Getenv("IJEPA_TEST_VULKAN_QUICK") != "1" {
				t.Skip("minutes on lavapipe: set IJEPA_TEST_VULKAN_QUICK=1")
			}
			run := func(p string) outcome {
				c := quickConfig(t, "ijepago.precision="+p, "ijepago.steps="+strconv.Itoa(quickHalfSteps), "ijepago.seed=0")
				b, err := be.open()
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				res, err := Run(context.Background(), Options{Config: c, Backend: b, Dir: t.TempDir(), Eval: true})
				if err != nil {
					t.Fatal(err)
				}
				o := outcome{loss: stat.Mean(res.Losses, nil)}
				for _, r := range res.Evals {
					if r.Step == res.Step && r.Features == runlog.FeaturesTarget {
						o.probe = r.ProbeAcc
					}
				}
				return o
			}
			fp32 := run("fp32")
			for _, p := range []string{"bf16", "fp16"} {
				o := run(p)
				t.Logf("%s %s: mean loss of steps 1-%d %.5f (fp32 %.5f, %+.2f%%), probe %.4f (fp32 %.4f)", be.name, p, quickHalfSteps, o.loss, fp32.loss, 100*(o.loss/fp32.loss-1), o.probe, fp32.probe)
				if math.Abs(o.loss-fp32.loss) > 0.03*fp32.loss {
					t.Errorf("%s: mean loss %.5f, fp32's %.5f: more than 3%% apart", p, o.loss, fp32.loss)
				}
				if math.Abs(o.probe-fp32.probe) > 0.02 {
					t.Errorf("%s: probe %.4f, fp32's %.4f: more than 0.02 apart", p, o.probe, fp32.probe)
				}
			}
		})
	}
}
