package viz

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
)

// Batch is some images of one training batch, as the model is given them,
// with the batch's masks.
type Batch struct {
	// Images are the first images of the batch: the augmented crops,
	// de-normalised back to RGB.
	Images []*image.RGBA
	// Labels say which dataset image each is: "#index class".
	Labels []string
	// Masks are the masks of the whole batch.
	Masks *mask.Batch
}

// TrainBatch returns the first n images of the training batch of step
// (1-based, as log.csv counts steps: the loader's batch step-1) with the
// batch's masks, made as the trainer makes them: the training dataset of
// cfg, RandomResizedCrop with crop_scale, a loader seeded by ijepago.seed
// that shuffles each epoch and drops the last incomplete batch, batches of
// batch_size, and the mask collator of cfg. The whole batch is sampled,
// because its masks are truncated to the batch's shortest.
func TrainBatch(ctx context.Context, cfg *config.Config, ds data.Dataset, step int64, n int) (*Batch, error) {
	if step < 1 {
		return nil, fmt.Errorf("viz: step %d: steps count from 1", step)
	}
	if n < 1 {
		return nil, fmt.Errorf("viz: %d images: want at least 1", n)
	}
	tf, err := cfg.TrainTransform()
	if err != nil {
		return nil, err
	}
	coll, err := mask.New(cfg.MaskConfig())
	if err != nil {
		return nil, err
	}
	ld, err := data.NewLoader(ctx, data.LoaderConfig{
		Dataset: ds, Transform: tf, BatchSize: cfg.Data.BatchSize, Masks: coll,
		Seed: cfg.IJEPAGo.Seed, Shuffle: true, DropLast: true,
		StartStep: step - 1, Steps: 1,
	})
	if err != nil {
		return nil, err
	}
	defer ld.Close()
	b, err := ld.Next()
	if err != nil {
		return nil, fmt.Errorf("viz: batch of step %d: %w", step, err)
	}
	n = min(n, b.B())
	out := &Batch{Masks: b.Masks}
	per := b.Channels * b.Size * b.Size
	names := ds.ClassNames()
	for i := 0; i < n; i++ {
		out.Images = append(out.Images, FromCHW(b.Images[i*per:(i+1)*per], b.Size, tf.Norm))
		out.Labels = append(out.Labels, label(b.Indices[i], int(b.Labels[i]), names))
	}
	return out, nil
}

// EvalImages returns the first n images of ds through the evaluation
// transform tf (a resize, ImageNet normalisation of 3 or 1 channels), as
// float32 [n, C, size, size] for the model and as RGB for the pictures,
// with their labels.
func EvalImages(ds data.Dataset, n int, tf data.Resize) (x []float32, imgs []*image.RGBA, labels []string, err error) {
	n = min(n, ds.Len())
	s := tf.Size()
	per := tf.Channels() * s * s
	x = make([]float32, n*per)
	names := ds.ClassNames()
	for i := 0; i < n; i++ {
		img, err := ds.Image(i)
		if err != nil {
			return nil, nil, nil, err
		}
		if err := tf.Apply(x[i*per:(i+1)*per], img, 0); err != nil {
			return nil, nil, nil, fmt.Errorf("ijepa: dataset %q: image %d: %w", ds.Name(), i, err)
		}
		imgs = append(imgs, FromCHW(x[i*per:(i+1)*per], s, tf.Norm))
		labels = append(labels, label(i, ds.Label(i), names))
	}
	return x, imgs, labels, nil
}

func label(index, class int, names []string) string {
	if class >= 0 && class < len(names) {
		return fmt.Sprintf("#%d %s", index, names[class])
	}
	return fmt.Sprintf("#%d", index)
}

// FromCHW turns a normalised float32 [C, size, size] image (C =
// norm.Channels()) back into RGB: v = round(255 * (x*std + mean)), clamped
// to [0, 255]; one grey channel gives R = G = B.
func FromCHW(x []float32, size int, norm data.Normalize) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	plane := size * size
	for p := 0; p < plane; p++ {
		for c := 0; c < 3; c++ {
			src := c % norm.Channels()
			v := (float64(x[src*plane+p])*float64(norm.Std[src]) + float64(norm.Mean[src])) * 255
			img.Pix[4*p+c] = uint8(math.Round(min(max(v, 0), 255)))
		}
		img.Pix[4*p+3] = 255
	}
	return img
}
