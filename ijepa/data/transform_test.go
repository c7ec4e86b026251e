package data

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// expectedCrop integrates torchvision's crop rule (without rounding) over its
// two uniform draws: the mean area share and mean log aspect ratio of the
// crops of a w x h image, fallback included.
func expectedCrop(w, h float64, scale, ratio [2]float64) (meanScale, meanLogRatio float64) {
	const n = 1500
	var acc, sumS, sumL float64
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for i := 0; i < n; i++ {
		s := scale[0] + (float64(i)+0.5)/n*(scale[1]-scale[0])
		for j := 0; j < n; j++ {
			lr := lr0 + (float64(j)+0.5)/n*(lr1-lr0)
			cw, ch := math.Sqrt(s*w*h*math.Exp(lr)), math.Sqrt(s*w*h/math.Exp(lr))
			if cw <= w && ch <= h {
				acc++
				sumS += s
				sumL += lr
			}
		}
	}
	p := acc / (n * n)
	fail := math.Pow(1-p, 10)
	// Fallback: central crop with the ratio clamped to the range.
	fw, fh := w, h
	if w/h < ratio[0] {
		fh = w / ratio[0]
	} else if w/h > ratio[1] {
		fw = h * ratio[1]
	}
	meanScale = (1-fail)*sumS/acc + fail*fw*fh/(w*h)
	meanLogRatio = (1-fail)*sumL/acc + fail*math.Log(fw/fh)
	return
}

func TestRandomResizedCropStatistics(t *testing.T) {
	for _, tt := range []struct {
		w, h  int
		scale [2]float64
	}{{200, 200, [2]float64{0.3, 1}}, {300, 100, [2]float64{0.3, 1}}, {120, 160, [2]float64{0.08, 1}}} {
		tr, err := NewRandomResizedCrop(32, tt.scale)
		if err != nil {
			t.Fatal(err)
		}
		const draws = 20000
		var sumS, sumL, sumCX, sumCY float64
		for seed := uint64(0); seed < draws; seed++ {
			c := tr.Crop(tt.w, tt.h, seed)
			if !c.In(image.Rect(0, 0, tt.w, tt.h)) || c.Empty() {
				t.Fatalf("crop %v outside %dx%d", c, tt.w, tt.h)
			}
			s := float64(c.Dx()*c.Dy()) / float64(tt.w*tt.h)
			// Rounding of the sides moves the share a little past the range.
			if s < tt.scale[0]*0.9 || s > 1 {
				t.Fatalf("crop %v has area share %v outside %v", c, s, tt.scale)
			}
			sumS += s
			sumL += math.Log(float64(c.Dx()) / float64(c.Dy()))
			sumCX += (float64(c.Min.X+c.Max.X)/2 - float64(tt.w)/2) / float64(tt.w)
			sumCY += (float64(c.Min.Y+c.Max.Y)/2 - float64(tt.h)/2) / float64(tt.h)
		}
		wantS, wantL := expectedCrop(float64(tt.w), float64(tt.h), tt.scale, tr.Ratio)
		gotS, gotL := sumS/draws, sumL/draws
		t.Logf("%dx%d scale %v: mean share %.4f (expected %.4f), mean log ratio %.4f (expected %.4f)", tt.w, tt.h, tt.scale, gotS, wantS, gotL, wantL)
		if math.Abs(gotS-wantS) > 0.01 || math.Abs(gotL-wantL) > 0.01 {
			t.Errorf("%dx%d: mean share %.4f, log ratio %.4f; expected %.4f, %.4f", tt.w, tt.h, gotS, gotL, wantS, wantL)
		}
		if math.Abs(sumCX/draws) > 0.01 || math.Abs(sumCY/draws) > 0.01 {
			t.Errorf("%dx%d: crop centres off the image centre by %.4f, %.4f on average", tt.w, tt.h, sumCX/draws, sumCY/draws)
		}
	}
}

func TestRandomResizedCropFallback(t *testing.T) {
	tr, _ := NewRandomResizedCrop(8, [2]float64{0.3, 1})
	// No crop of a 2x50 image has area >= 30 and w/h >= 3/4 (w would be
	// at least 4.7), so every draw fails: central crop w=2, h=round(2/0.75)=3.
	want := image.Rect(0, 23, 2, 26)
	for seed := uint64(0); seed < 20; seed++ {
		if c := tr.Crop(2, 50, seed); c != want {
			t.Fatalf("seed %d: crop %v, want the central fallback %v", seed, c, want)
		}
	}
	if c := tr.Crop(50, 2, 0); c != image.Rect(23, 0, 26, 2) {
		t.Errorf("wide fallback %v", c)
	}
}

func TestTransformValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"size", func() error { _, err := NewRandomResizedCrop(0, [2]float64{0.3, 1}); return err }()},
		{"scale", func() error { _, err := NewRandomResizedCrop(8, [2]float64{0.3, 1.2}); return err }()},
		{"resize", func() error { _, err := NewResize(-1); return err }()},
		{"std", (RandomResizedCrop{Out: 8, Scale: [2]float64{0.3, 1}, Ratio: [2]float64{1, 1}}).check()},
	} {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	tr, _ := NewResize(4)
	if err := tr.Apply(make([]float32, 10), image.NewRGBA(image.Rect(0, 0, 4, 4)), 0); err == nil {
		t.Error("wrong output length: no error")
	}
	if err := tr.Apply(make([]float32, 48), image.NewRGBA(image.Rect(0, 0, 0, 4)), 0); err == nil {
		t.Error("empty image: no error")
	}
}

// Normalisation is (v/255 - mean)/std per channel, planes in CHW order.
func TestNormalizeAndResize(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.SetRGBA(0, 0, color.RGBA{255, 0, 51, 255})
	img.SetRGBA(1, 0, color.RGBA{0, 255, 102, 255})
	tr, _ := NewResize(2)
	tr.CenterCrop = false
	out := make([]float32, 12)
	// A 2x1 image is stretched to 2x2; check the identity case with a 2x2.
	sq := image.NewRGBA(image.Rect(0, 0, 2, 2))
	copy(sq.Pix, img.Pix)
	copy(sq.Pix[sq.Stride:], img.Pix)
	if err := tr.Apply(out, sq, 0); err != nil {
		t.Fatal(err)
	}
	n := ImageNet
	want := func(v uint8, c int) float32 { return (float32(v)/255 - n.Mean[c]) / n.Std[c] }
	checks := []struct {
		c, p int
		v    uint8
	}{{0, 0, 255}, {1, 0, 0}, {2, 0, 51}, {0, 1, 0}, {1, 3, 255}, {2, 3, 102}}
	for _, k := range checks {
		if got := out[k.c*4+k.p]; math.Abs(float64(got-want(k.v, k.c))) > 1e-5 {
			t.Errorf("channel %d pixel %d = %v, want %v", k.c, k.p, got, want(k.v, k.c))
		}
	}

	// Bilinear downscaling is exact on a linear ramp away from the borders:
	// v(x) = 4x + 2 over 64 columns, halved: pixel j samples x = 2j + 0.5.
	ramp := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			ramp.SetRGBA(x, y, color.RGBA{uint8(4*x + 2), 0, 0, 255})
		}
	}
	small := resize(ramp, ramp.Bounds(), 32)
	for j := 2; j < 30; j++ {
		if got, want := int(small.RGBAAt(j, 16).R), 8*j+4; got < want-1 || got > want+1 {
			t.Errorf("downscaled ramp at %d = %d, want %d", j, got, want)
		}
	}
	// Center crop of a 6x2 image keeps the middle 2x2.
	wide := image.NewRGBA(image.Rect(0, 0, 6, 2))
	for x := 0; x < 6; x++ {
		for y := 0; y < 2; y++ {
			wide.SetRGBA(x, y, color.RGBA{uint8(40 * x), 0, 0, 255})
		}
	}
	cc := Resize{Out: 2, CenterCrop: true, Norm: Normalize{Std: [3]float32{1, 1, 1}}}
	if err := cc.Apply(out, wide, 0); err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(out[0]-80.0/255)) > 1e-6 || math.Abs(float64(out[1]-120.0/255)) > 1e-6 {
		t.Errorf("center crop row %v, want columns 2 and 3 (80, 120)/255", out[:2])
	}
}

func TestCHW(t *testing.T) {
	d, _ := NewProcedural(1, 3, 8)
	x, h, w, err := CHW(d, 2)
	if err != nil || h != 8 || w != 8 || len(x) != 192 {
		t.Fatalf("CHW: %d values %dx%d, %v", len(x), h, w, err)
	}
	img, _ := d.Image(2)
	if p := img.RGBAAt(3, 5); math.Abs(float64(x[64+5*8+3])-float64(p.G)/255) > 1e-6 {
		t.Errorf("CHW green at (3,5) = %v, want %v/255", x[64+5*8+3], p.G)
	}
}
