package viz

import (
	"context"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
)

// randomImages returns n random RGB images of size x size.
func randomImages(seed uint64, n, size int) []*image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]*image.RGBA, n)
	for i := range out {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		for p := 0; p < len(img.Pix); p++ {
			img.Pix[p] = uint8(r.IntN(256))
			if p%4 == 3 {
				img.Pix[p] = 255
			}
		}
		out[i] = img
	}
	return out
}

// checkMaskPicture checks every patch of every cell of pic against the
// masks of b: the centre pixels of a context patch are the image's, those
// of a target patch are the image blended with the colour of the last
// target holding it, those of any other patch are darkened; and on a patch
// held by one target alone, the middle of each side that borders a patch
// outside the target is that target's colour.
func checkMaskPicture(t *testing.T, pic *Picture, images []*image.RGBA, b *mask.Batch) {
	t.Helper()
	size := images[0].Bounds().Dx()
	k := pic.Scale
	px := size / b.Width * k
	if len(pic.Cells) != len(images) {
		t.Fatalf("%d cells for %d images", len(pic.Cells), len(images))
	}
	for i := range images {
		cell := pic.Cells[i]
		if cell.Dx() != size*k || cell.Dy() != size*k || !cell.In(pic.Image.Rect) {
			t.Fatalf("cell %d is %v, want %dx%d inside %v", i, cell, size*k, size*k, pic.Image.Rect)
		}
		for j := i + 1; j < len(pic.Cells); j++ {
			if cell.Overlaps(pic.Cells[j]) {
				t.Fatalf("cells %d and %d overlap", i, j)
			}
		}
		role := map[int32][]int{} // patch -> the targets holding it
		for m := range b.Targets {
			for _, p := range b.Targets[m][i] {
				role[p] = append(role[p], m)
			}
		}
		inCtx := map[int32]bool{}
		for _, p := range b.Context[i] {
			inCtx[p] = true
		}
		counts := [3]int{}
		for p := int32(0); p < int32(b.N()); p++ {
			row, col := int(p)/b.Width, int(p)%b.Width
			x0, y0 := cell.Min.X+col*px, cell.Min.Y+row*px
			// The centre pixel of the patch, and its source pixel.
			cx, cy := x0+px/2, y0+px/2
			src := images[i].RGBAAt((cx-cell.Min.X)/k, (cy-cell.Min.Y)/k)
			got := pic.Image.RGBAAt(cx, cy)
			switch ms := role[p]; {
			case len(ms) > 0:
				counts[0]++
				want := blend(src, TargetColour(ms[len(ms)-1]), TargetTint)
				if !near(got, want, 1) {
					t.Fatalf("image %d target patch %d (targets %v): centre %v, want %v: the image %v tinted with %v", i, p, ms, got, want, src, TargetColour(ms[len(ms)-1]))
				}
				if len(ms) > 1 {
					continue
				}
				c := TargetColour(ms[0])
				in := func(r, cc int) bool {
					if r < 0 || r >= b.Height || cc < 0 || cc >= b.Width {
						return false
					}
					for _, m := range role[int32(r*b.Width+cc)] {
						if m == ms[0] {
							return true
						}
					}
					return false
				}
				for _, e := range []struct {
					out  bool
					x, y int
				}{
					{!in(row-1, col), x0 + px/2, y0},
					{!in(row+1, col), x0 + px/2, y0 + px - 1},
					{!in(row, col-1), x0, y0 + px/2},
					{!in(row, col+1), x0 + px - 1, y0 + px/2},
				} {
					if g := pic.Image.RGBAAt(e.x, e.y); e.out && g != c {
						t.Fatalf("image %d target %d patch %d: edge pixel (%d,%d) is %v, want the outline %v", i, ms[0], p, e.x, e.y, g, c)
					}
				}
			case inCtx[p]:
				counts[1]++
				if got != src {
					t.Fatalf("image %d context patch %d: centre %v, want the image's %v", i, p, got, src)
				}
			default:
				counts[2]++
				want := color.RGBA{dark(src.R), dark(src.G), dark(src.B), 255}
				if !near(got, want, 1) {
					t.Fatalf("image %d unused patch %d: centre %v, want the image's %v darkened to %v", i, p, got, src, want)
				}
			}
		}
		if counts[0] == 0 || counts[1] == 0 {
			t.Fatalf("image %d: %d target and %d context patches checked; the test checks nothing", i, counts[0], counts[1])
		}
	}
}

func blend(c, t color.RGBA, a float64) color.RGBA {
	f := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + a*(float64(y)-float64(x)))) }
	return color.RGBA{f(c.R, t.R), f(c.G, t.G), f(c.B, t.B), 255}
}

func dark(v uint8) uint8 { return uint8(math.Round(float64(v) * Unused)) }

func near(a, b color.RGBA, tol int) bool {
	d := func(x, y uint8) bool { return int(x)-int(y) <= tol && int(y)-int(x) <= tol }
	return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && a.A == b.A
}

// TestMasksPicture draws hand-made masks (with two overlapping targets) and
// masks the sampler drew, in both modes, and checks the pixels of every
// patch.
func TestMasksPicture(t *testing.T) {
	hand := &mask.Batch{Height: 4, Width: 4, PredSize: mask.Size{H: 1, W: 2}, EncSize: mask.Size{H: 3, W: 3},
		Context: [][]int32{{0, 1, 4}},
		Targets: [][][]int32{{{10, 11}}, {{11, 15}}}, ContextFull: []int{3}}
	imgs := randomImages(1, 1, 8)
	pic, err := Masks(imgs, hand, MaskOptions{Cell: 64})
	if err != nil {
		t.Fatal(err)
	}
	checkMaskPicture(t, pic, imgs, hand)
	if pic.Scale != 8 {
		t.Errorf("8-pixel images in 64-pixel cells: scale %d, want 8", pic.Scale)
	}

	for _, mode := range []mask.Mode{mask.Official, mask.Fixed} {
		cfg := mask.Default(8, 8)
		cfg.MinKeep, cfg.Mode, cfg.Seed = 4, mode, 7
		coll, err := mask.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := coll.Sample(3, 6)
		if err != nil {
			t.Fatal(err)
		}
		imgs := randomImages(2, 5, 16)
		pic, err := Masks(imgs, b, MaskOptions{Cell: 128, Cols: 3, Title: "title", Labels: []string{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		checkMaskPicture(t, pic, imgs, b)
		if r := pic.Cells[3]; r.Min.Y <= pic.Cells[0].Max.Y || r.Min.X != pic.Cells[0].Min.X {
			t.Errorf("%s: with 3 columns image 3 is at %v, want it below image 0 at %v", mode, r, pic.Cells[0])
		}
	}

	b := &mask.Batch{Height: 4, Width: 4, Context: [][]int32{{0}}, Targets: [][][]int32{{{1}}}, ContextFull: []int{1}}
	for _, tc := range []struct {
		name string
		imgs []*image.RGBA
	}{
		{"no images", nil},
		{"more images than the batch", randomImages(1, 2, 8)},
		{"not divisible into the grid", randomImages(1, 1, 10)},
		{"sizes differ", append(randomImages(1, 1, 8), randomImages(1, 1, 12)...)},
	} {
		if _, err := Masks(tc.imgs, b, MaskOptions{}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestTrainBatch checks that the pictured batch is the training batch: its
// masks are the collator's for the step (config, seed and step alone decide
// them), and its images are the loader's crops.
func TestTrainBatch(t *testing.T) {
	cfg, err := config.Preset("quick")
	if err != nil {
		t.Fatal(err)
	}
	cfg.IJEPAGo.DatasetSize = 64
	cfg.Data.BatchSize = 8
	cfg.IJEPAGo.Seed = 3
	cfg.Data.CropSize, cfg.Mask.PatchSize = 32, 4 // whatever the preset's tuning
	ds, err := data.Open(cfg.DatasetSpec(true))
	if err != nil {
		t.Fatal(err)
	}
	const step = 11 // in epoch 1 of 8-step epochs
	b, err := TrainBatch(context.Background(), cfg, ds, step, 3)
	if err != nil {
		t.Fatal(err)
	}
	coll, _ := mask.New(cfg.MaskConfig())
	want, _ := coll.Sample(step-1, cfg.Data.BatchSize)
	if b.Masks.Step != want.Step || b.Masks.B() != 8 || len(b.Images) != 3 || len(b.Labels) != 3 {
		t.Fatalf("step %d: masks of sampler step %d for %d images, %d images drawn; want sampler step %d, a batch of 8, 3 images", step, b.Masks.Step, b.Masks.B(), len(b.Images), want.Step)
	}
	for i := range want.Context {
		if !slices.Equal(b.Masks.Context[i], want.Context[i]) {
			t.Fatalf("image %d: context %v, the collator's %v", i, b.Masks.Context[i], want.Context[i])
		}
	}
	tf, _ := cfg.TrainTransform()
	ld, _ := data.NewLoader(context.Background(), data.LoaderConfig{Dataset: ds, Transform: tf, BatchSize: 8,
		Seed: 3, Shuffle: true, DropLast: true, StartStep: step - 1, Steps: 1})
	defer ld.Close()
	lb, err := ld.Next()
	if err != nil {
		t.Fatal(err)
	}
	per := 3 * 32 * 32
	for i, img := range b.Images {
		if want := FromCHW(lb.Images[i*per:(i+1)*per], 32, tf.Norm); string(img.Pix) != string(want.Pix) {
			t.Fatalf("image %d is not the loader's crop", i)
		}
	}
	if _, err := TrainBatch(context.Background(), cfg, ds, 0, 3); err == nil {
		t.Error("step 0 accepted: steps count from 1")
	}
}

// TestFromCHWInvertsNormalisation checks that an image normalised at its own
// size (no resampling) comes back pixel for pixel.
func TestFromCHWInvertsNormalisation(t *testing.T) {
	img := randomImages(4, 1, 12)[0]
	tf, _ := data.NewResize(12)
	x := make([]float32, 3*12*12)
	if err := tf.Apply(x, img, 0); err != nil {
		t.Fatal(err)
	}
	if got := FromCHW(x, 12, tf.Norm); string(got.Pix) != string(img.Pix) {
		t.Error("FromCHW(normalise(img)) != img")
	}
}
