package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/interop"
)

// writeMNIST writes a grey IDX dataset in the MNIST layout into dir:
// train-* and t10k-* image and label files of nTrain and nTest 28x28
// images, drawn from the procedural dataset (its classes, its grey levels).
// Nothing of MNIST can be downloaded here; the files are the format the
// trainer reads.
func writeMNIST(t *testing.T, dir string, nTrain, nTest int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		prefix string
		n      int
		seed   uint64
	}{{"train", nTrain, 1}, {"t10k", nTest, 2}} {
		ds, err := data.NewProcedural(s.seed, s.n, 28)
		if err != nil {
			t.Fatal(err)
		}
		pix := make([]byte, 0, s.n*28*28)
		labels := make([]byte, s.n)
		for i := 0; i < s.n; i++ {
			img, err := ds.Image(i)
			if err != nil {
				t.Fatal(err)
			}
			for p := 0; p < 28*28; p++ {
				pix = append(pix, img.Pix[4*p])
			}
			labels[i] = byte(ds.Label(i))
		}
		idx := func(dims []int, body []byte) []byte {
			b := []byte{0, 0, 8, byte(len(dims))}
			for _, d := range dims {
				b = binary.BigEndian.AppendUint32(b, uint32(d))
			}
			return append(b, body...)
		}
		for name, b := range map[string][]byte{
			s.prefix + "-images-idx3-ubyte": idx([]int{s.n, 28, 28}, pix),
			s.prefix + "-labels-idx1-ubyte": idx([]int{s.n}, labels),
		} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// greyConfig trains an encoder of no named size (128 wide, 4 deep, 4
// heads) with a predictor of its own head count on one-channel 28x28
// images of an IDX dataset.
const greyConfig = `data:
  batch_size: 16
  crop_size: 28
  num_workers: 2
mask:
  patch_size: 4
  min_keep: 4
  num_pred_masks: 2
meta:
  pred_emb_dim: 32
  pred_depth: 1
optimization:
  epochs: 1
  warmup: 0.5
ijepago:
  preset: quick
  dataset: mnist
  encoder: {embed_dim: 128, depth: 4, num_heads: 4}
  predictor_heads: 2
  in_chans: 1
  probe_train: 64
  probe_test: 32
  probe_iterations: 10
  knn_k: 5
`

// readNPY reads a .npy file into dst (a pointer to a slice).
func readNPY(t *testing.T, path string, dst any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := npy.Read(f, dst); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// An explicit 128/4/4 encoder with one input channel trains on an IDX
// dataset; its checkpoint records the heads and the channels, so embed
// (of the whole test split, in order, with labels), eval --full and export
// need no --heads; the exported encoder takes one channel.
func TestGreyIDXExplicitEncoder(t *testing.T) {
	dir := t.TempDir()
	ds := filepath.Join(dir, "fashion")
	writeMNIST(t, ds, 96, 40)
	cfg := filepath.Join(dir, "grey.yaml")
	if err := os.WriteFile(cfg, []byte(greyConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	code, out, errs := run("train", "--config", cfg, "--dataset", "mnist:"+ds, "--run", runDir, "--steps", "3", "--quiet", "--eval=false")
	if code != 0 || !strings.Contains(out, "trained steps 1 to 3") {
		t.Fatalf("train: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run("train", "--config", cfg, "--dry-run")
	if code != 0 || !strings.Contains(out, "28x28 px of 1 channel(s) in 7x7 patches of 4, width 128, depth 4, 4 heads, MLP 512") ||
		!strings.Contains(out, "predictor: width 32, depth 1, 2 heads") {
		t.Errorf("dry run:\n%s", out)
	}
	ckpt := filepath.Join(runDir, "checkpoints", "latest.safetensors")
	feats := filepath.Join(dir, "test.npy")
	code, out, errs = run("embed", "--checkpoint", ckpt, "--dataset", "mnist:"+ds, "--split", "test", "--out", feats, "--batch", "16")
	if code != 0 || !strings.Contains(out, "[40, 128]") || !strings.Contains(out, "labels [40]") || strings.Contains(errs, "embed") {
		t.Fatalf("embed: exit %d\n%s%s", code, out, errs)
	}
	var x []float32
	var labels []int64
	readNPY(t, feats, &x)
	readNPY(t, interop.LabelsPath(feats), &labels)
	if len(x) != 40*128 || len(labels) != 40 {
		t.Fatalf("features of %d values, %d labels; want 40 rows", len(x), len(labels))
	}
	test, _ := data.OpenMNIST(ds, false)
	for i, l := range labels {
		if int(l) != test.Label(i) {
			t.Fatalf("label %d is %d, the dataset's is %d: not in dataset order", i, l, test.Label(i))
		}
	}
	// The same features as the trainer's evaluation would compute: the
	// first test image through the model's own path.
	st := filepath.Join(dir, "test.safetensors")
	code, out, errs = run("embed", "--checkpoint", ckpt, "--dataset", "mnist:"+ds, "--split", "train", "--out", st, "--layers", "2", "--concat")
	if code != 0 || !strings.Contains(out, "[96, 256]") || !strings.Contains(out, "concatenation of the last 2 layers") {
		t.Fatalf("embed --layers 2 --concat: exit %d\n%s%s", code, out, errs)
	}
	f, err := interop.ReadFeatures(st)
	if err != nil || f.N() != 96 || len(f.Labels) != 96 || len(f.Classes) != 10 || f.Meta["split"] != "train" {
		t.Fatalf("safetensors features: %v %+v", err, f)
	}
	for i := 0; i < 128; i++ { // the last layer's half is the plain features' layout
		if f.Pooled[128+i] == 0 {
			t.Fatalf("concatenated features hold zeros at %d", 128+i)
		}
	}

	code, out, errs = run("eval", "--run", runDir, "--full", "--epochs", "5", "--random-init")
	if code != 0 || !strings.Contains(out, "full linear evaluation on all 96 train / 40 test images of mnist:") ||
		!strings.Contains(out, "target encoder (trained)") || !strings.Contains(out, "random-init encoder") {
		t.Fatalf("eval --full: exit %d\n%s%s", code, out, errs)
	}
	if strings.Count(errs, "computed") != 4 {
		t.Errorf("first eval --full: want 4 feature sets computed:\n%s", errs)
	}
	t.Logf("eval --full:\n%s%s", out, errs)
	code, out2, errs := run("eval", "--run", runDir, "--full", "--epochs", "5", "--random-init")
	if code != 0 || strings.Count(errs, "read") != 4 || out2 != out {
		t.Errorf("second eval --full: exit %d, want the cached features read and the same table\n%s%s\nfirst:\n%s", code, out2, errs, out)
	}
	code, _, errs = run("eval", "--run", runDir, "--full", "--epochs", "5", "--layers", "2")
	if code != 0 || strings.Count(errs, "computed") != 2 {
		t.Errorf("eval --full --layers 2: exit %d, want new features computed\n%s", code, errs)
	}

	enc := filepath.Join(dir, "encoder.safetensors")
	code, out, errs = run("export", "--checkpoint", ckpt, "--part", "target_encoder", "--out", enc)
	if code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, out, errs)
	}
	c, err := interop.Open(enc, interop.Options{})
	if err != nil || c.Encoder.Channels != 1 || c.Encoder.Heads != 4 || c.Encoder.Dim != 128 {
		t.Fatalf("exported encoder: %v %+v", err, c)
	}
	c.Close()
}
