package bench

import (
	"context"
	"os"
	"testing"

	"github.com/ijepa-go/ijepa/ijepa/data"
)

// WriteJPEGFolder writes an ImageFolder of colour JPEGs of the asked size
// (and keeps what is there); DataLoader times the training loader over it
// and counts the images of the timed batches.
func TestDataLoader(t *testing.T) {
	dir := t.TempDir()
	if err := WriteJPEGFolder(dir, 12, 24, 90, 1); err != nil {
		t.Fatal(err)
	}
	ds, err := data.OpenImageFolder(dir)
	if err != nil || ds.Len() != 12 {
		t.Fatalf("folder: %v", err)
	}
	img, err := ds.Image(3)
	if err != nil || img.Bounds().Dx() != 24 || img.Bounds().Dy() != 24 {
		t.Fatalf("image 3: %v", err)
	}
	colour := false
	for p := 0; p < len(img.Pix); p += 4 {
		colour = colour || img.Pix[p] != img.Pix[p+2]
	}
	if !colour {
		t.Error("the generated images are grey; the chroma channels should carry data")
	}
	first := ds.Path(0)
	os.WriteFile(first, []byte("kept"), 0o644)
	if err := WriteJPEGFolder(dir, 12, 24, 90, 1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(first); string(b) != "kept" {
		t.Error("an existing file was rewritten")
	}
	tf, _ := data.NewRandomResizedCrop(16, [2]float64{0.3, 1})
	if _, err := DataLoader(context.Background(), DataOptions{Dataset: ds, Transform: tf, Batch: 4, Workers: 2, Warmup: 1, Batches: 3}); err == nil {
		t.Fatal("a file that is no JPEG: no error")
	}
	os.Remove(first)
	WriteJPEGFolder(dir, 12, 24, 90, 1)
	res, err := DataLoader(context.Background(), DataOptions{Dataset: ds, Transform: tf, Batch: 4, Workers: 2, Warmup: 1, Batches: 3})
	if err != nil || res.Images != 12 || res.ImgPerS <= 0 || res.PerWorker != res.ImgPerS/2 {
		t.Errorf("%+v %v; want 12 images timed", res, err)
	}
	if _, err := DataLoader(context.Background(), DataOptions{Dataset: ds, Transform: tf, Batch: 4, Workers: 0, Batches: 1}); err == nil {
		t.Error("0 workers: no error")
	}
}
