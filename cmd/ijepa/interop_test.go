package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixture = "../../ijepa/interop/testdata/tiny.pth.tar"

func TestExportAndEmbedCommands(t *testing.T) {
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt.safetensors")
	code, out, errs := run("export", "--checkpoint", fixture, "--heads", "2", "--out", ckpt)
	if code != 0 || !strings.Contains(out, "all of a ViT/4 at 16px (width 24, depth 2, 2 heads) with a predictor of width 16, depth 2 (pytorch checkpoint, 2 AdamW steps)") {
		t.Fatalf("export: exit %d\n%s%s", code, out, errs)
	}
	var imgs []string
	for i := 0; i < 3; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 20+i, 18))
		for p := range img.Pix {
			img.Pix[p] = uint8(p * (i + 3))
		}
		img.Set(0, 0, color.RGBA{1, 2, 3, 255})
		p := filepath.Join(dir, "img"+string(rune('0'+i))+".png")
		f, _ := os.Create(p)
		png.Encode(f, img)
		f.Close()
		imgs = append(imgs, p)
	}
	// The project's checkpoint records the heads: no --heads needed.
	feats := filepath.Join(dir, "feats.npy")
	code, out, errs = run(append([]string{"embed", "--checkpoint", ckpt, "--out", feats, "--patches", "--batch", "2"}, imgs...)...)
	if code != 0 || !strings.Contains(out, "mean-pooled features [3, 24] of the target_encoder") || !strings.Contains(out, "feats_patches.npy: per-patch features [3, 16, 24]") {
		t.Fatalf("embed: exit %d\n%s%s", code, out, errs)
	}
	for _, p := range []string{feats, filepath.Join(dir, "feats_patches.npy")} {
		if st, err := os.Stat(p); err != nil || st.Size() < 3*24*4 {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"export", "--checkpoint", fixture}, 2, "--checkpoint and --out are required"},
		{[]string{"export", "--checkpoint", fixture, "--out", ckpt, "--part", "head"}, 2, `unknown part "head"`},
		{[]string{"export", "--checkpoint", fixture, "--out", ckpt}, 1, "give it (--heads)"},
		{[]string{"embed", "--checkpoint", ckpt}, 2, "give image files or --dataset"},
		{[]string{"embed", "--checkpoint", ckpt, "--dataset", "mnist:" + dir, imgs[0]}, 2, "give image files or --dataset"},
		{[]string{"embed", "--checkpoint", ckpt, "--dataset", "mnist:" + dir, "--split", "val"}, 2, `--split "val": want train or test`},
		{[]string{"embed", "--checkpoint", ckpt, "--dataset", "mnist:" + dir}, 1, "no t10k-images-idx3-ubyte"},
		{[]string{"embed", "--checkpoint", ckpt, "--layers", "3", imgs[0]}, 1, "3 layers of an encoder of depth 2"},
		{[]string{"embed", "--checkpoint", ckpt, "--encoder", "predictor", imgs[0]}, 2, "want target_encoder or encoder"},
		{[]string{"embed", "--checkpoint", ckpt, "--out", filepath.Join(dir, "f.txt"), imgs[0]}, 2, "must end in .npy or .safetensors"},
		{[]string{"embed", "--checkpoint", ckpt, filepath.Join(dir, "missing.png")}, 1, "missing.png"},
	} {
		code, out, errs := run(c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", c.args, code, c.code, c.msg, out, errs)
		}
	}
}

// A .pth.tar whose optimiser state has other parameter groups than the
// official four (here one group) is no longer refused whole: embed and
// export load its networks with one warning; train --checkpoint starts
// AdamW fresh and says so, or refuses under --strict.
func TestCheckpointWithOtherOptimizerGroups(t *testing.T) {
	const oneGroup = "../../ijepa/interop/testdata/tiny_1group.pth.tar"
	dir := t.TempDir()
	img := filepath.Join("..", "..", "docs", "img", "masks.png")
	for _, args := range [][]string{
		{"export", "--checkpoint", oneGroup, "--heads", "2", "--part", "target_encoder", "--out", filepath.Join(dir, "t.safetensors")},
		{"embed", "--checkpoint", oneGroup, "--heads", "2", "--out", filepath.Join(dir, "f.npy"), img},
	} {
		code, out, errs := run(args...)
		if code != 0 || strings.Count(errs, "warning: ") != 1 || !strings.Contains(errs, "opt: 1 parameter groups") || !strings.Contains(errs, "optimiser state is left out") {
			t.Errorf("%v: exit %d\n%s%s", args[0], code, out, errs)
		}
	}
	cfg := filepath.Join(dir, "femto.yaml")
	os.WriteFile(cfg, []byte(femtoConfig), 0o644)
	code, out, errs := run("train", "--config", cfg, "--run", filepath.Join(dir, "run"), "--checkpoint", oneGroup, "--steps", "5", "--quiet", "--eval=false")
	if code != 0 || !strings.Contains(errs, "its optimiser state is not usable here") || !strings.Contains(errs, "AdamW starts fresh") {
		t.Errorf("train --checkpoint: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run("train", "--config", cfg, "--run", filepath.Join(dir, "strict"), "--checkpoint", oneGroup, "--strict", "--steps", "5", "--quiet", "--eval=false")
	if code != 1 || out != "" || !strings.Contains(errs, "--strict: not starting AdamW fresh") {
		t.Errorf("train --checkpoint --strict: exit %d\n%s%s", code, out, errs)
	}
}

// eval scores the official trainer's checkpoint as it does ours, given the
// config of its model and images (the file names neither), and says so when
// the config is missing.
func TestEvalOfficialCheckpoint(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "femto.yaml")
	if err := os.WriteFile(cfg, []byte(femtoConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	small := []string{"--set", "ijepago.probe_train=64", "--set", "ijepago.probe_test=32"}
	code, out, errs := run(append([]string{"eval", "--checkpoint", fixture, "--config", cfg}, small...)...)
	if code != 0 || !strings.Contains(out, "tiny.pth.tar (step 2): 8 train / 32 test images of procedural") || !strings.Contains(out, "target encoder (trained)") {
		t.Fatalf("eval of the official checkpoint: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run("eval", "--checkpoint", fixture)
	if code != 1 || !strings.Contains(errs, "another trainer's checkpoint, such as the official .pth.tar, give --config") {
		t.Errorf("eval without --config: exit %d, want 1 with a hint to give --config\n%s%s", code, out, errs)
	}
	// A config of another model is refused by the checkpoint's shapes.
	code, out, errs = run(append([]string{"eval", "--checkpoint", fixture, "--config", "quick"}, small...)...)
	if code != 1 || !strings.Contains(errs, "tiny.pth.tar") {
		t.Errorf("eval with the quick preset's model: exit %d, want 1 naming the file\n%s%s", code, out, errs)
	}
}
