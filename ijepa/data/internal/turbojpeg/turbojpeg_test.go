package turbojpeg

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/internal/testdep"
)

func testJPEG(tb testing.TB, w, h, quality int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := img.Pix[4*(y*w+x):]
			p[0], p[1], p[2], p[3] = uint8(x*255/w), uint8(y*255/h), uint8((x+y)*255/(w+h)), 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkDecode(b *testing.B) {
	raw := testJPEG(b, 224, 224, 90)
	b.Run("turbojpeg", func(b *testing.B) {
		if err := Load(); err != nil {
			b.Skip(err)
		}
		for i := 0; i < b.N; i++ {
			if _, err := Decode(raw, func(int, int) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("image-jpeg", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := jpeg.Decode(bytes.NewReader(raw)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Decoding agrees with image/jpeg to within what fancy chroma upsampling
// changes (image/jpeg repeats each chroma sample; libjpeg-turbo, like PIL,
// interpolates them), alpha is 255, and check sees the size before
// anything is allocated.
func TestDecode(t *testing.T) {
	if err := Load(); err != nil {
		testdep.Skip(t, "%v (Debian's libturbojpeg0)", err)
	}
	raw := testJPEG(t, 67, 45, 95)
	var seen [2]int
	img, err := Decode(raw, func(w, h int) error { seen = [2]int{w, h}; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if seen != [2]int{67, 45} || img.Bounds() != image.Rect(0, 0, 67, 45) {
		t.Fatalf("size seen %v, image %v; want 67x45", seen, img.Bounds())
	}
	ref, err := jpeg.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	sum, worst := 0, 0
	for y := 0; y < 45; y++ {
		for x := 0; x < 67; x++ {
			r, g, b, _ := ref.At(x, y).RGBA()
			p := img.Pix[img.PixOffset(x, y):]
			if p[3] != 255 {
				t.Fatalf("alpha %d at (%d,%d)", p[3], x, y)
			}
			for c, v := range []uint32{r >> 8, g >> 8, b >> 8} {
				d := int(p[c]) - int(v)
				sum, worst = sum+max(d, -d), max(worst, max(d, -d))
			}
		}
	}
	mean := float64(sum) / (3 * 67 * 45)
	t.Logf("against image/jpeg: mean difference %.2f levels, worst %d", mean, worst)
	if mean > 2 || worst > 16 {
		t.Errorf("against image/jpeg: mean difference %.2f levels, worst %d; want at most 2 and 16", mean, worst)
	}
	stop := errors.New("too large")
	if _, err := Decode(raw, func(w, h int) error { return stop }); err != stop {
		t.Errorf("check's error: got %v", err)
	}
}

// Bad data is an error, never a crash or a silently damaged image:
// truncated files (libjpeg-turbo's "premature end" warning counts),
// garbage, nothing at all.
func TestDecodeBadData(t *testing.T) {
	if err := Load(); err != nil {
		testdep.Skip(t, "%v (Debian's libturbojpeg0)", err)
	}
	raw := testJPEG(t, 64, 48, 90)
	for _, b := range [][]byte{raw[:len(raw)-2], raw[:len(raw)/2], raw[:100], raw[:10], {}, []byte("not a jpeg at all")} {
		if img, err := Decode(b, func(int, int) error { return nil }); err == nil {
			t.Errorf("%d bytes: decoded a %v image, want an error", len(b), img.Bounds())
		}
	}
}

// A library that cannot be opened is an error, naming what was tried
// where dlopen exists.
func TestOpenMissing(t *testing.T) {
	_, err := open([]string{"/nonexistent/libturbojpeg.so.0"})
	if err == nil || Load() == nil && !strings.Contains(err.Error(), "/nonexistent/libturbojpeg.so.0") {
		t.Errorf("open of a missing library: %v", err)
	}
}
