package data

import (
	"fmt"
	"image"
	"math"

	xdraw "golang.org/x/image/draw"

	"github.com/ijepa-go/ijepa/ijepa/internal/rng"
)

// Normalize maps 8-bit RGB to float32 as torchvision's ToTensor followed by
// Normalize: x = (v/255 - Mean[c]) / Std[c]. With Grey it makes one
// channel instead: the luminance of PIL's convert("L"), L = (19595 R +
// 38470 G + 7471 B + 2^15) >> 16 (ITU-R 601-2, so R = G = B = v gives v),
// normalised with Mean[0] and Std[0].
type Normalize struct {
	Mean, Std [3]float32
	Grey      bool
}

// Channels is the number of channels the normalisation writes: 3, or 1
// with Grey.
func (n Normalize) Channels() int {
	if n.Grey {
		return 1
	}
	return 3
}

// ImageNet is the normalisation of the official recipe (ImageNet mean and
// standard deviation).
var ImageNet = Normalize{
	Mean: [3]float32{0.485, 0.456, 0.406},
	Std:  [3]float32{0.229, 0.224, 0.225},
}

// ImageNetGrey is the normalisation of one-channel input: luminance, with
// the means of ImageNet's three channel means and standard deviations.
var ImageNetGrey = Normalize{Mean: [3]float32{0.449}, Std: [3]float32{0.226}, Grey: true}

// NormalizeFor returns the normalisation of images of the given number of
// input channels: ImageNet for 3, ImageNetGrey for 1.
func NormalizeFor(channels int) (Normalize, error) {
	switch channels {
	case 3:
		return ImageNet, nil
	case 1:
		return ImageNetGrey, nil
	}
	return Normalize{}, fmt.Errorf("ijepa: normalisation: %d input channels; images have 3 (RGB) or 1 (grey)", channels)
}

func (n Normalize) check() error {
	for c, s := range n.Std[:n.Channels()] {
		if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(n.Mean[c])) {
			return fmt.Errorf("ijepa: normalisation: channel %d: need a finite mean and a positive std, got mean %g std %g", c, n.Mean[c], s)
		}
	}
	return nil
}

// apply writes img as normalised float32 [C, H, W] into dst, C =
// n.Channels().
func (n Normalize) apply(dst []float32, img *image.RGBA) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	var scale, shift [3]float32
	for c := 0; c < 3; c++ {
		scale[c] = 1 / (255 * n.Std[c])
		shift[c] = -n.Mean[c] / n.Std[c]
	}
	for y := 0; y < h; y++ {
		row := img.Pix[(y)*img.Stride:]
		if n.Grey {
			for x := 0; x < w; x++ {
				px := row[4*x : 4*x+3]
				l := (19595*uint32(px[0]) + 38470*uint32(px[1]) + 7471*uint32(px[2]) + 1<<15) >> 16
				dst[y*w+x] = float32(l)*scale[0] + shift[0]
			}
			continue
		}
		for x := 0; x < w; x++ {
			p := y*w + x
			for c := 0; c < 3; c++ {
				dst[c*plane+p] = float32(row[4*x+c])*scale[c] + shift[c]
			}
		}
	}
}

// Transform turns an RGB image into normalised float32 [Channels, Size,
// Size]. Implementations are safe for concurrent use; their randomness
// comes only from the seed.
type Transform interface {
	// Size is the output height and width.
	Size() int
	// Channels is the number of output channels (3, or 1 for grey).
	Channels() int
	// Apply writes the transformed img into dst (len Channels*Size*Size),
	// drawing any randomness from seed.
	Apply(dst []float32, img *image.RGBA, seed uint64) error
}

// RandomResizedCrop is torchvision's RandomResizedCrop followed by ToTensor
// and Normalize, the official training augmentation: pick a crop whose area
// is a uniform share in Scale of the image and whose aspect ratio (w/h) is
// log-uniform in Ratio; accept the first of 10 draws that fits in the image,
// at a uniform position; otherwise take a central crop with the aspect ratio
// clamped to Ratio. Then resize the crop to Size x Size with bilinear
// interpolation (antialiased when shrinking, as PIL's bilinear).
type RandomResizedCrop struct {
	// Out is the output side in pixels (the official crop_size).
	Out int
	// Scale is the range of the crop's share of the image area (official
	// crop_scale [0.3, 1.0]).
	Scale [2]float64
	// Ratio is the range of the crop's aspect ratio w/h ([3/4, 4/3]).
	Ratio [2]float64
	// Norm is the normalisation (ImageNet).
	Norm Normalize
}

// NewRandomResizedCrop returns the official augmentation for size x size
// outputs with crop scale range scale: ratio [3/4, 4/3], ImageNet
// normalisation.
func NewRandomResizedCrop(size int, scale [2]float64) (RandomResizedCrop, error) {
	t := RandomResizedCrop{Out: size, Scale: scale, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, Norm: ImageNet}
	return t, t.check()
}

func (t RandomResizedCrop) check() error {
	if t.Out < 1 {
		return fmt.Errorf("ijepa: random resized crop: output size must be positive, got %d", t.Out)
	}
	if !(t.Scale[0] > 0 && t.Scale[0] <= t.Scale[1] && t.Scale[1] <= 1) {
		return fmt.Errorf("ijepa: random resized crop: scale must be [min, max] with 0 < min <= max <= 1, got [%g, %g]", t.Scale[0], t.Scale[1])
	}
	if !(t.Ratio[0] > 0 && t.Ratio[0] <= t.Ratio[1] && !math.IsInf(t.Ratio[1], 0)) {
		return fmt.Errorf("ijepa: random resized crop: ratio must be [min, max] with 0 < min <= max, got [%g, %g]", t.Ratio[0], t.Ratio[1])
	}
	return t.Norm.check()
}

// Size implements Transform.
func (t RandomResizedCrop) Size() int { return t.Out }

// Channels implements Transform.
func (t RandomResizedCrop) Channels() int { return t.Norm.Channels() }

// Crop returns the crop rectangle chosen for a w x h image with seed.
func (t RandomResizedCrop) Crop(w, h int, seed uint64) image.Rectangle {
	return t.crop(w, h, rng.New(seed))
}

func (t RandomResizedCrop) crop(width, height int, r *rng.RNG) image.Rectangle {
	area := float64(width * height)
	lr0, lr1 := math.Log(t.Ratio[0]), math.Log(t.Ratio[1])
	for attempt := 0; attempt < 10; attempt++ {
		target := area * r.Uniform(t.Scale[0], t.Scale[1])
		ar := math.Exp(r.Uniform(lr0, lr1))
		w := int(math.RoundToEven(math.Sqrt(target * ar)))
		h := int(math.RoundToEven(math.Sqrt(target / ar)))
		if w > 0 && w <= width && h > 0 && h <= height {
			top := r.IntN(height - h + 1)
			left := r.IntN(width - w + 1)
			return image.Rect(left, top, left+w, top+h)
		}
	}
	// Fall back to a central crop.
	in := float64(width) / float64(height)
	w, h := width, height
	if in < t.Ratio[0] {
		h = int(math.RoundToEven(float64(w) / t.Ratio[0]))
	} else if in > t.Ratio[1] {
		w = int(math.RoundToEven(float64(h) * t.Ratio[1]))
	}
	top, left := (height-h)/2, (width-w)/2
	return image.Rect(left, top, left+w, top+h)
}

// Apply implements Transform.
func (t RandomResizedCrop) Apply(dst []float32, img *image.RGBA, seed uint64) error {
	b := img.Bounds()
	if err := checkApply(dst, b, t.Out, t.Channels()); err != nil {
		return err
	}
	c := t.crop(b.Dx(), b.Dy(), rng.New(seed)).Add(b.Min)
	t.Norm.apply(dst, resize(img, c, t.Out))
	return nil
}

// Resize is the evaluation transform: resize the whole image (or, with
// CenterCrop, its largest central square) to Size x Size with bilinear
// interpolation, then normalise. It uses no randomness.
type Resize struct {
	// Out is the output side in pixels.
	Out int
	// CenterCrop keeps the largest central square before resizing, so the
	// aspect ratio is kept; without it non-square images are stretched.
	CenterCrop bool
	// Norm is the normalisation (ImageNet).
	Norm Normalize
}

// NewResize returns the plain evaluation transform for size x size outputs
// with ImageNet normalisation.
func NewResize(size int) (Resize, error) {
	t := Resize{Out: size, Norm: ImageNet}
	if size < 1 {
		return t, fmt.Errorf("ijepa: resize: output size must be positive, got %d", size)
	}
	return t, t.Norm.check()
}

// Size implements Transform.
func (t Resize) Size() int { return t.Out }

// Channels implements Transform.
func (t Resize) Channels() int { return t.Norm.Channels() }

// Apply implements Transform.
func (t Resize) Apply(dst []float32, img *image.RGBA, _ uint64) error {
	b := img.Bounds()
	if err := checkApply(dst, b, t.Out, t.Channels()); err != nil {
		return err
	}
	c := b
	if t.CenterCrop {
		s := min(b.Dx(), b.Dy())
		c = image.Rect(0, 0, s, s).Add(b.Min).Add(image.Pt((b.Dx()-s)/2, (b.Dy()-s)/2))
	}
	t.Norm.apply(dst, resize(img, c, t.Out))
	return nil
}

func checkApply(dst []float32, b image.Rectangle, size, channels int) error {
	if b.Empty() {
		return fmt.Errorf("ijepa: transform: empty image %v", b)
	}
	if len(dst) != channels*size*size {
		return fmt.Errorf("ijepa: transform: output has %d values, want %dx%dx%d = %d", len(dst), channels, size, size, channels*size*size)
	}
	return nil
}

// resize scales the part src of img to size x size (bilinear; the kernel
// widens when shrinking so every source pixel contributes, as PIL does).
func resize(img *image.RGBA, src image.Rectangle, size int) *image.RGBA {
	if src.Dx() == size && src.Dy() == size {
		return img.SubImage(src).(*image.RGBA)
	}
	dst := image.NewRGBA(image.Rect(0, 0, size, size))
	xdraw.BiLinear.Scale(dst, dst.Rect, img, src, xdraw.Src, nil)
	return dst
}
