package interop

import (
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// writePNGs writes random RGB images of the given sizes and returns their
// paths and pixels.
func writePNGs(t *testing.T, sizes ...image.Point) ([]string, []*image.RGBA) {
	t.Helper()
	r := rand.New(rand.NewPCG(8, 9))
	dir := t.TempDir()
	var paths []string
	var imgs []*image.RGBA
	for i, s := range sizes {
		img := image.NewRGBA(image.Rect(0, 0, s.X, s.Y))
		for y := 0; y < s.Y; y++ {
			for x := 0; x < s.X; x++ {
				img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
			}
		}
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
		imgs = append(imgs, img)
	}
	return paths, imgs
}

func fixtureEncoder(t *testing.T, be backend.Backend) *nn.ViT {
	t.Helper()
	enc, err := openFixture(t).LoadEncoder(be, Target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nn.Free(be, enc.Params()) })
	return enc
}

// TestEmbedFiles checks that images of the encoder's size go in as their
// ImageNet-normalised pixels, that a non-square image is centre-cropped,
// and that batching does not change the features.
func TestEmbedFiles(t *testing.T) {
	be := backends(t)["cpu"]
	enc := fixtureEncoder(t, be)
	paths, imgs := writePNGs(t, image.Pt(16, 16), image.Pt(16, 16), image.Pt(24, 16), image.Pt(16, 16))
	f, err := Embed(context.Background(), be, enc, paths, EmbedOptions{Batch: 3, Patches: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pooled) != 4*24 || len(f.Patches) != 4*16*24 || f.Tokens != 16 || f.Dim != 24 {
		t.Fatalf("%d pooled values, %d per-patch values, %d tokens of %d", len(f.Pooled), len(f.Patches), f.Tokens, f.Dim)
	}
	// The expected inputs: normalised pixels; the 24x16 image's central
	// 16x16 square.
	var want []float32
	mean, std := data.ImageNet.Mean, data.ImageNet.Std
	for _, img := range imgs {
		x0 := (img.Bounds().Dx() - 16) / 2
		for c := 0; c < 3; c++ {
			for y := 0; y < 16; y++ {
				for x := 0; x < 16; x++ {
					v := img.RGBAAt(x0+x, y)
					px := [3]uint8{v.R, v.G, v.B}[c]
					want = append(want, (float32(px)/255-mean[c])/std[c])
				}
			}
		}
	}
	ref, refTokens, err := model.Embed(be, enc, want, true)
	if err != nil {
		t.Fatal(err)
	}
	if r := relErr(f.Pooled, f64(ref)); r > 1e-6 {
		t.Errorf("pooled features differ from the encoder's on the expected inputs by %.3g", r)
	}
	if r := relErr(f.Patches, f64(refTokens)); r > 1e-6 {
		t.Errorf("per-patch features differ by %.3g", r)
	}
	one, err := Embed(context.Background(), be, enc, paths, EmbedOptions{Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	if one.Patches != nil {
		t.Error("per-patch features without asking")
	}
	if r := relErr(one.Pooled, f64(f.Pooled)); r > 1e-6 {
		t.Errorf("batches of 1 and of 3 differ by %.3g", r)
	}
	// A broken file is named; a cancelled context stops.
	bad := filepath.Join(t.TempDir(), "bad.png")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	if _, err := Embed(context.Background(), be, enc, []string{paths[0], bad}, EmbedOptions{}); err == nil || !strings.Contains(err.Error(), `image 1 "`+bad) {
		t.Errorf("a broken image: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Embed(ctx, be, enc, paths, EmbedOptions{}); err == nil || !strings.Contains(err.Error(), "stopped after 0 of 4") {
		t.Errorf("a cancelled embed: %v", err)
	}
}

// TestWriteFeatures writes features as .npy and safetensors and reads them
// back with npyio and the safetensors reader.
func TestWriteFeatures(t *testing.T) {
	f := &Features{Images: []string{"a.png", "b.jpg"}, Tokens: 3, Dim: 2,
		Pooled: []float32{1, 2, 3, 4}, Patches: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}
	dir := t.TempDir()
	npyPath := filepath.Join(dir, "feats.npy")
	if err := f.Write(npyPath); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path  string
		shape []int
		want  []float32
	}{{npyPath, []int{2, 2}, f.Pooled}, {filepath.Join(dir, "feats_patches.npy"), []int{2, 3, 2}, f.Patches}} {
		r, err := os.Open(c.path)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := npy.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		var got []float32
		if err := rd.Read(&got); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if h := rd.Header.Descr; h.Type != "'<f4'" || h.Fortran || !slices.Equal(h.Shape, c.shape) || relErr(got, f64(c.want)) != 0 {
			t.Errorf("%s: %+v %v, want <f4 %v %v", c.path, h, got, c.shape, c.want)
		}
	}
	stPath := filepath.Join(dir, "feats.safetensors")
	if err := f.Write(stPath); err != nil {
		t.Fatal(err)
	}
	sf, err := safetensors.Open(stPath)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	var names []string
	json.Unmarshal([]byte(sf.Metadata["images"]), &names)
	info, _ := sf.Info("patch_features")
	buf := make([]byte, 4*len(f.Patches))
	if err := sf.Read("patch_features", buf); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "a.png,b.jpg" || !slices.Equal(info.Shape, []int64{2, 3, 2}) || relErr(backend.BytesF32(buf), f64(f.Patches)) != 0 {
		t.Errorf("safetensors: images %v, patch_features %v", names, info.Shape)
	}
	if err := f.Write(filepath.Join(dir, "feats.csv")); err == nil {
		t.Error("a .csv features file was accepted")
	}
	if err := WriteNPY(filepath.Join(dir, "x.npy"), []float32{1, 2, 3}, 2, 2); err == nil {
		t.Error("3 values written as a 2x2 array")
	}
}
