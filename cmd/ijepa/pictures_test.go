package main

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/ijepa/viz"
)

func readPNG(t *testing.T, path string) *image.RGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := image.NewRGBA(img.Bounds())
	for y := out.Rect.Min.Y; y < out.Rect.Max.Y; y++ {
		for x := out.Rect.Min.X; x < out.Rect.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}

// smallRun writes a run directory with a small quick-preset config.
func smallRun(t *testing.T) (string, *config.Config) {
	t.Helper()
	cfg, err := config.Preset("quick")
	if err != nil {
		t.Fatal(err)
	}
	// 32-pixel images in 4-pixel patches (an 8x8 grid), whatever the
	// preset's tuning.
	for k, v := range map[string]string{"ijepago.dataset_size": "64", "ijepago.eval_size": "16", "data.batch_size": "8", "ijepago.seed": "5",
		"data.crop_size": "32", "mask.patch_size": "4"} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	y, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), y, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

// TestMasksCommand checks that `ijepa masks` writes the picture of the
// training batch of the step: the PNG is the masks picture of that batch.
func TestMasksCommand(t *testing.T) {
	dir, cfg := smallRun(t)
	out := filepath.Join(dir, "masks.png")
	code, stdout, stderr := run("masks", "--config", filepath.Join(dir, "config.yaml"), "--step", "3", "--images", "5", "--cell", "96", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	got := readPNG(t, out)
	ds, _ := data.Open(cfg.DatasetSpec(true))
	b, err := viz.TrainBatch(context.Background(), cfg, ds, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	want, err := viz.Masks(b.Images, b.Masks, viz.MaskOptions{Cell: 96, Cols: 4, Labels: b.Labels,
		Title: fmt.Sprintf("I-JEPA masks, config %s (official mode), batch of 8 from %s", cfg.Source(), ds.Name())})
	if err != nil {
		t.Fatal(err)
	}
	if got.Rect != want.Image.Rect || string(got.Pix) != string(want.Image.Pix) {
		t.Fatalf("masks.png (%v) is not the picture of step 3's batch (%v)", got.Rect, want.Image.Rect)
	}
	if !strings.Contains(stdout, "step 3") {
		t.Errorf("output %q does not name the step", stdout)
	}
	// Without --config: the quick preset, which needs no files.
	code, stdout, stderr = run("masks", "--images", "2", "--out", filepath.Join(dir, "default.png"))
	if code != 0 {
		t.Fatalf("built-in defaults: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"masks", "--step", "0"},
		{"masks", "--out", filepath.Join(dir, "no", "such", "dir.png")},
		{"masks", "--config", filepath.Join(dir, "none.yaml")},
	} {
		if code, _, _ := run(args...); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}

// TestPlotCommand plots a run directory's log and checks the PNG has one
// dot per log row in the loss panel.
func TestPlotCommand(t *testing.T) {
	dir, _ := smallRun(t)
	var lines []string
	lines = append(lines, "step,epoch,loss,lr,wd,momentum,context,target,img_per_s,elapsed_s")
	for s := 1; s <= 12; s++ {
		lines = append(lines, fmt.Sprintf("%d,0,%g,%g,0.04,0.996,40,9,100,%d", s, 0.5-0.03*float64(s), 1e-4*float64(s), s))
	}
	if err := os.WriteFile(filepath.Join(dir, "log.csv"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "curves.png")
	code, stdout, stderr := run("plot", dir, "--out", out, "--width", "900", "--height", "700")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	got := readPNG(t, out)
	log, _ := runlog.ReadLog(filepath.Join(dir, "log.csv"))
	want, err := viz.Curves(log, nil, viz.CurveOptions{Width: 900, Height: 700, Title: viz.RunTitle(dir, log)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Rect != want.Image.Rect || string(got.Pix) != string(want.Image.Pix) {
		t.Fatal("curves.png is not the curves picture of the run's log")
	}
	loss := want.Panels[0]
	dots := 0
	for _, at := range loss.Series[0].At {
		if got.RGBAAt(at.X, at.Y) == viz.LossColour {
			dots++
		}
	}
	if dots != 12 {
		t.Errorf("%d of the 12 log rows are loss dots in curves.png", dots)
	}
	if code, _, _ := run("plot", t.TempDir(), "--out", filepath.Join(dir, "x.png")); code == 0 {
		t.Error("a directory without log.csv was plotted")
	}
	if code, _, _ := run("plot", "--out", out); code != 2 {
		t.Error("no run directory: want a usage error")
	}
}

// TestFeaturesCommand saves a randomly initialised model into a run
// directory and checks `ijepa features` draws the PCA picture of its target
// encoder, finding the checkpoint and config from the directory.
func TestFeaturesCommand(t *testing.T) {
	dir, cfg := smallRun(t)
	mc, err := cfg.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New()
	if err := m.Alloc(be, 9); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(runlog.Path(dir, runlog.LatestCheckpoint), nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "pca.png")
	code, stdout, stderr := run("features", "--checkpoint", dir, "--images", "4", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	got := readPNG(t, out)
	enc, err := viz.LoadTarget(be, runlog.Path(dir, runlog.LatestCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Free()
	fi, err := viz.LoadFeatureImages(cfg, 4, enc.ImageSize())
	if err != nil {
		t.Fatal(err)
	}
	want, err := enc.Draw(fi, viz.FeatureOptions{Cell: 160, Cols: 4})
	if err != nil {
		t.Fatal(err)
	}
	// The target encoder's tokens are the model's own.
	_, direct, err := model.Embed(be, m.Target, fi.X, true)
	if err != nil {
		t.Fatal(err)
	}
	got2, _ := enc.PatchFeatures(fi.X)
	if fmt.Sprint(direct) != fmt.Sprint(got2) {
		t.Fatal("the loaded target encoder's patch features differ from the saved model's")
	}
	if got.Rect != want.Image.Rect || string(got.Pix) != string(want.Image.Pix) {
		t.Fatal("pca.png is not the PCA picture of the checkpoint's target encoder")
	}
	// Each map cell is uniform within each patch: 8x8 patches.
	k := want.Scale
	for p := 0; p < 64; p++ {
		r := want.Cells[1]
		x, y := r.Min.X+(p%8)*4*k, r.Min.Y+(p/8)*4*k
		if got.RGBAAt(x, y) != want.Colours[p] || got.RGBAAt(x+4*k-1, y+4*k-1) != want.Colours[p] {
			t.Fatalf("map patch %d is not its colour %v", p, want.Colours[p])
		}
	}
	code, _, stderr = run("features", "--checkpoint", filepath.Join(dir, "none.safetensors"), "--out", filepath.Join(dir, "x.png"))
	if code == 0 || !strings.Contains(stderr, "none.safetensors") {
		t.Errorf("a missing checkpoint: exit %d, %q", code, stderr)
	}
	if code, _, _ := run("features", "--out", out); code != 2 {
		t.Error("no --checkpoint: want a usage error")
	}
}

// TestViewCommand checks that `ijepa view` runs the viewer binary with its
// arguments and exit status, and says how to build it when there is none.
func TestViewCommand(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "ijepa-view")
	script := "#!/bin/sh\necho \"viewer $*\"\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(viewEnv, fake)
	code, stdout, _ := run("view", "--page", "2", "RUN")
	if code != 3 || strings.TrimSpace(stdout) != "viewer --page 2 RUN" {
		t.Errorf("exit %d, output %q; want the viewer's exit 3 and its output", code, stdout)
	}
	t.Setenv(viewEnv, "")
	t.Setenv("PATH", dir+"/none")
	code, _, stderr := run("view", "RUN")
	if code == 0 || !strings.Contains(stderr, "-tags glfw") {
		t.Errorf("no viewer: exit %d, %q; want an error saying how to build it", code, stderr)
	}
}
