package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// femtoConfig trains the model of the interop fixture (tiny.pth.tar:
// vit_femto at 16 pixels, patch 4, predictor 16 wide and 2 deep) on 8
// procedural images in batches of 2: 4 iterations per epoch.
const femtoConfig = `data:
  batch_size: 2
  crop_size: 16
  num_workers: 2
mask:
  patch_size: 4
  min_keep: 0
  num_pred_masks: 2
meta:
  model_name: vit_femto
  pred_emb_dim: 16
  pred_depth: 2
optimization:
  epochs: 3
  warmup: 1
ijepago:
  preset: quick
  dataset_size: 8
`

// lossesOf returns what printTraining says of the losses ("loss ... at
// step ..., ... (mean ...)").
func lossesOf(out string) string {
	_, after, _ := strings.Cut(out, ": loss ")
	line, _, _ := strings.Cut(after, "\n")
	return line
}

// train --checkpoint starts a run from the official .pth.tar and from its
// export (the same losses), the run then resumes from its own checkpoint,
// and the run directory lists only the files written.
func TestTrainFromOfficialCheckpoint(t *testing.T) {
	root := t.TempDir()
	cfg := filepath.Join(root, "femto.yaml")
	if err := os.WriteFile(cfg, []byte(femtoConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	exported := filepath.Join(root, "exported.safetensors")
	if code, out, errs := run("export", "--checkpoint", fixture, "--heads", "2", "--out", exported); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errs)
	}
	var losses []string
	for _, file := range []string{fixture, exported} {
		dir := filepath.Join(root, filepath.Base(file)+".run")
		code, out, errs := run("train", "--config", cfg, "--run", dir, "--checkpoint", file, "--steps", "6", "--quiet", "--eval=false")
		if code != 0 {
			t.Fatalf("train --checkpoint %s: exit %d\n%s%s", file, code, out, errs)
		}
		for _, s := range []string{"trained steps 5 to 6", "run directory " + dir + " (log.csv, checkpoints/latest.safetensors)\n"} {
			if !strings.Contains(out, s) {
				t.Errorf("%s: the output lacks %q:\n%s", file, s, out)
			}
		}
		if !strings.Contains(errs, "AdamW's moments and step count (2); step 4 = epoch 1 x 4 iterations per epoch") {
			t.Errorf("%s: the log does not say what was restored:\n%s", file, errs)
		}
		losses = append(losses, lossesOf(out))
	}
	if losses[0] == "" || losses[0] != losses[1] {
		t.Errorf("losses from the .pth.tar %q, from its export %q; want the same", losses[0], losses[1])
	}

	dir := filepath.Join(root, filepath.Base(fixture)+".run")
	code, out, errs := run("train", "--run", dir, "--resume", "--steps", "8", "--quiet", "--eval=false")
	if code != 0 || !strings.Contains(out, "trained steps 7 to 8") {
		t.Fatalf("train --resume: exit %d\n%s%s", code, out, errs)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"train", "--config", cfg, "--run", dir, "--checkpoint", fixture}, "already holds a run"},
		{[]string{"train", "--config", writeTiny(t, ""), "--run", filepath.Join(root, "nano"), "--checkpoint", fixture},
			"encoder tensor patch_embed.proj.weight has shape [24,3,4,4], the model wants [64,3,4,4]"},
	} {
		code, out, errs := run(tc.args...)
		if code == 0 || out != "" || !strings.Contains(errs, tc.msg) || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want one line with %q", tc.args, code, out, errs, tc.msg)
		}
	}
}

// --resume with --set (or a named flag) says which keys changed and keeps
// the previous config.yaml as config.N.yaml (it was rewritten silently).
func TestResumeWithSetKeepsConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if code, out, errs := run("train", "--config", writeTiny(t, ""), "--run", dir, "--steps", "2", "--checkpoint-every", "1", "--quiet", "--eval=false"); code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out, errs)
	}
	for n, tc := range []struct {
		args    []string
		changed string
	}{
		{[]string{"--steps", "3"}, "ijepago.steps: 2 -> 3"},
		{[]string{"--steps", "4", "--set", "optimization.lr=0.002"}, "optimization.lr: 0.001 -> 0.002, ijepago.steps: 3 -> 4"},
	} {
		code, out, errs := run(append([]string{"train", "--run", dir, "--resume", "--quiet", "--eval=false"}, tc.args...)...)
		keep := filepath.Join(dir, fmt.Sprintf("config.%d.yaml", n+1))
		if code != 0 || !strings.Contains(errs, "config.yaml changed ("+tc.changed+"); the previous one is kept as "+keep) {
			t.Fatalf("resume %v: exit %d\n%s%s", tc.args, code, out, errs)
		}
		kept, _ := os.ReadFile(keep)
		if want := fmt.Sprintf("steps: %d\n", n+2); !strings.Contains(string(kept), want) {
			t.Errorf("%s lacks %q:\n%s", keep, want, kept)
		}
	}
}
