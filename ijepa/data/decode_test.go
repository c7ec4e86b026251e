package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
	"testing"
)

// A JPEG decodes to the same picture whichever decoder runs, and every cut
// of the file fails with image/jpeg's error: a file libjpeg-turbo refuses
// goes to image/jpeg, so errors read the same with it and without it.
func TestDecodeJPEG(t *testing.T) {
	t.Logf("JPEG decoder: %s", JPEGDecoder())
	src := solid(40, 24, color.NRGBA{200, 100, 50, 255})
	raw := encodeJPEG(t, src)
	img, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := jpeg.Decode(bytes.NewReader(raw))
	want := toRGB(ref)
	if img.Bounds() != image.Rect(0, 0, 40, 24) {
		t.Fatalf("bounds %v", img.Bounds())
	}
	for i, v := range img.Pix {
		if d := int(v) - int(want.Pix[i]); d > 2 || d < -2 {
			t.Fatalf("byte %d: %d, image/jpeg gives %d", i, v, want.Pix[i])
		}
	}
	for n := 0; n < len(raw)-1; n += 37 {
		_, err := Decode(raw[:n])
		_, refErr := jpeg.Decode(bytes.NewReader(raw[:n]))
		if err == nil || refErr != nil && !strings.Contains(err.Error(), refErr.Error()) && !strings.Contains(err.Error(), "unknown format") {
			t.Errorf("cut to %d bytes: %v; image/jpeg says %v", n, err, refErr)
		}
	}
	// An image above the size bound is refused before it is decoded.
	var big bytes.Buffer
	jpeg.Encode(&big, image.NewGray(image.Rect(0, 0, 1<<13, 1<<13+1)), nil)
	if _, err := Decode(big.Bytes()); err == nil || !strings.Contains(err.Error(), "above 67108864 pixels") {
		t.Errorf("an image of 2^26+2^13 pixels: %v", err)
	}
}
