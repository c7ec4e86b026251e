package data

import (
	"context"
	"image"
	"strings"
	"testing"
)

// One-channel input: the luminance of PIL's convert("L") (grey pixels keep
// their value), normalised with ImageNetGrey; transforms and the loader make
// [C, S, S] images of the normalisation's channels.
func TestGreyNormalisation(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 1))
	for i, px := range [][3]uint8{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {77, 77, 77}} {
		copy(img.Pix[4*i:], px[:])
		img.Pix[4*i+3] = 255
	}
	norm, err := NormalizeFor(1)
	if err != nil || norm.Channels() != 1 {
		t.Fatalf("NormalizeFor(1): %+v %v", norm, err)
	}
	x := make([]float32, 4)
	norm.apply(x, img)
	// PIL: L = (19595 R + 38470 G + 7471 B + 32768) >> 16.
	for i, l := range []float32{76, 150, 29, 77} {
		if want := (l/255 - 0.449) / 0.226; x[i]-want > 1e-6 || want-x[i] > 1e-6 {
			t.Errorf("pixel %d: %v, want luminance %v normalised, %v", i, x[i], l, want)
		}
	}
	if _, err := NormalizeFor(2); err == nil || !strings.Contains(err.Error(), "3 (RGB) or 1 (grey)") {
		t.Errorf("NormalizeFor(2): %v", err)
	}

	ds, _ := NewProcedural(1, 8, 16)
	rrc, _ := NewRandomResizedCrop(12, [2]float64{0.3, 1})
	rrc.Norm = norm
	rgb, _ := NewRandomResizedCrop(12, [2]float64{0.3, 1})
	if rrc.Channels() != 1 || rgb.Channels() != 3 {
		t.Fatalf("channels %d and %d", rrc.Channels(), rgb.Channels())
	}
	im, _ := ds.Image(0)
	if err := rrc.Apply(make([]float32, 3*12*12), im, 1); err == nil || !strings.Contains(err.Error(), "want 1x12x12") {
		t.Errorf("a 3-channel buffer for a grey transform: %v", err)
	}
	// On a grey image (R = G = B) channel 0 of the RGB crop, undone and
	// redone with the grey statistics, is the grey crop.
	for p := 0; p < len(im.Pix); p += 4 {
		im.Pix[p+1], im.Pix[p+2] = im.Pix[p], im.Pix[p]
	}
	g, c := make([]float32, 12*12), make([]float32, 3*12*12)
	rrc.Apply(g, im, 5)
	rgb.Apply(c, im, 5)
	for i := range g {
		v := c[i]*0.229 + 0.485
		if d := (v-0.449)/0.226 - g[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("pixel %d: grey %v, from RGB %v", i, g[i], (v-0.449)/0.226)
		}
	}
	ld, err := NewLoader(context.Background(), LoaderConfig{Dataset: ds, Transform: rrc, BatchSize: 4, Workers: 2, Steps: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer ld.Close()
	b, err := ld.Next()
	if err != nil || b.Channels != 1 || len(b.Images) != 4*12*12 {
		t.Fatalf("grey batch: %v, %d channels, %d values", err, b.Channels, len(b.Images))
	}
}
