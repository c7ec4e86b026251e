// Package data provides I-JEPA's labelled image datasets, the augmentations
// of the official recipe and a prefetching batch loader.
//
// Datasets: a procedural dataset generated from a seed (no download; the quick
// start's default), MNIST-style IDX files, CIFAR-10 binary batches and
// ImageFolder directories of JPEG and PNG files. Every dataset returns images
// as opaque RGB (*image.RGBA, alpha 255) at their native size.
//
// Transforms: RandomResizedCrop with torchvision's semantics (the official
// training augmentation), a plain resize for evaluation, and ImageNet
// normalisation, producing float32 CHW with 3 channels, or 1 (luminance)
// for encoders of grey input.
//
// The Loader builds batches [B,C,H,W] with their labels and masks ahead of the
// training step on a pool of goroutines; a batch is a pure function of the
// seed and the step index, whatever the number of workers.
//
// Errors name the dataset, the file and the image index
// (`ijepa: dataset "x": image 17 "x/cat/1.jpg": unexpected EOF`); bad input
// never panics.
package data

import (
	"fmt"
	"image"
	"image/draw"
)

// Dataset is a finite, indexable set of labelled RGB images. Implementations
// are safe for concurrent use.
type Dataset interface {
	// Name identifies the dataset in messages (a path or a description).
	Name() string
	// Len is the number of images.
	Len() int
	// NumClasses is the number of classes; labels are in [0, NumClasses).
	NumClasses() int
	// ClassNames returns one name per class.
	ClassNames() []string
	// Image returns image i (0 <= i < Len) as opaque RGB at its native size.
	Image(i int) (*image.RGBA, error)
	// Label returns the class of image i.
	Label(i int) int
}

// CHW returns image i of ds as float32 [3, H, W] in [0, 1] (ToTensor's
// scaling), with its height and width.
func CHW(ds Dataset, i int) (x []float32, h, w int, err error) {
	img, err := ds.Image(i)
	if err != nil {
		return nil, 0, 0, err
	}
	b := img.Bounds()
	x = make([]float32, 3*b.Dx()*b.Dy())
	Normalize{Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}.apply(x, img)
	return x, b.Dy(), b.Dx(), nil
}

// Subset is a view of a dataset restricted to some of its indices, e.g. a
// train or a held-out split.
type Subset struct {
	ds  Dataset
	idx []int
}

// NewSubset returns the images of ds at the given indices, in that order.
func NewSubset(ds Dataset, indices []int) (*Subset, error) {
	for k, i := range indices {
		if i < 0 || i >= ds.Len() {
			return nil, fmt.Errorf("ijepa: dataset %q: subset entry %d: index %d out of range [0,%d)", ds.Name(), k, i, ds.Len())
		}
	}
	return &Subset{ds: ds, idx: append([]int(nil), indices...)}, nil
}

// Split returns the first n images of ds and the rest, as two subsets.
func Split(ds Dataset, n int) (first, rest *Subset, err error) {
	if n < 0 || n > ds.Len() {
		return nil, nil, fmt.Errorf("ijepa: dataset %q: cannot split %d images at %d", ds.Name(), ds.Len(), n)
	}
	a, b := make([]int, n), make([]int, ds.Len()-n)
	for i := range a {
		a[i] = i
	}
	for i := range b {
		b[i] = n + i
	}
	first, _ = NewSubset(ds, a)
	rest, _ = NewSubset(ds, b)
	return first, rest, nil
}

// Name implements Dataset.
func (s *Subset) Name() string { return s.ds.Name() }

// Len implements Dataset.
func (s *Subset) Len() int { return len(s.idx) }

// NumClasses implements Dataset.
func (s *Subset) NumClasses() int { return s.ds.NumClasses() }

// ClassNames implements Dataset.
func (s *Subset) ClassNames() []string { return s.ds.ClassNames() }

// Image implements Dataset.
func (s *Subset) Image(i int) (*image.RGBA, error) {
	if i < 0 || i >= len(s.idx) {
		return nil, indexError(s, i)
	}
	return s.ds.Image(s.idx[i])
}

// Label implements Dataset.
func (s *Subset) Label(i int) int { return s.ds.Label(s.idx[i]) }

func indexError(ds Dataset, i int) error {
	return fmt.Errorf("ijepa: dataset %q: image %d out of range [0,%d)", ds.Name(), i, ds.Len())
}

// toRGB converts a decoded image to opaque RGB with its origin at (0,0).
// Images with transparency keep their colour and lose their alpha (as PIL's
// convert("RGB") does).
func toRGB(src image.Image) *image.RGBA {
	b := src.Bounds()
	r := image.Rect(0, 0, b.Dx(), b.Dy())
	if o, ok := src.(interface{ Opaque() bool }); ok && o.Opaque() {
		dst := image.NewRGBA(r)
		draw.Draw(dst, r, src, b.Min, draw.Src)
		return dst
	}
	n := image.NewNRGBA(r)
	draw.Draw(n, r, src, b.Min, draw.Src)
	for i := 3; i < len(n.Pix); i += 4 {
		n.Pix[i] = 255
	}
	return &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: r}
}
