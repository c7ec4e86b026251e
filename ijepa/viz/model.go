package viz

import (
	"fmt"
	"image"
	"path/filepath"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/interop"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
)

// Encoder is a checkpoint's target encoder, loaded on a backend.
type Encoder struct {
	ViT *nn.ViT
	// About describes the checkpoint for captions.
	About string
	// OptimizerSkipped says why the file's optimiser state was left out
	// (interop.Checkpoint.OptimizerSkipped), or is "".
	OptimizerSkipped string
	be               backend.Backend
}

// LoadTarget opens the checkpoint at path (the project's safetensors, or
// an official .pth.tar, through ijepa/interop) and loads its target
// encoder on be. Free releases it.
func LoadTarget(be backend.Backend, path string) (*Encoder, error) {
	ck, err := interop.Open(path, interop.Options{})
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	v, err := ck.LoadEncoder(be, interop.Target)
	if err != nil {
		return nil, err
	}
	about := fmt.Sprintf("checkpoint %s (%s, %d AdamW steps)", filepath.Base(path), ck.Format, ck.Steps)
	return &Encoder{ViT: v, About: about, OptimizerSkipped: ck.OptimizerSkipped, be: be}, nil
}

// Free releases the encoder's parameters.
func (e *Encoder) Free() { nn.Free(e.be, e.ViT.Params()) }

// ImageSize is the side of the images the encoder takes.
func (e *Encoder) ImageSize() int { return e.ViT.Cfg.ImgSize }

// PatchFeatures returns the encoder's output tokens for images x, [n, 3,
// S, S]: [n, N, D] row-major, patches in row-major grid order.
func (e *Encoder) PatchFeatures(x []float32) ([]float32, error) {
	_, all, err := model.Embed(e.be, e.ViT, x, true)
	return all, err
}

// Draw computes the patch features of fi and draws their PCA picture.
func (e *Encoder) Draw(fi *FeatureImages, opt FeatureOptions) (*FeaturePicture, error) {
	f, err := e.PatchFeatures(fi.X)
	if err != nil {
		return nil, err
	}
	if len(opt.Labels) == 0 {
		opt.Labels = fi.Labels
	}
	if opt.Title == "" {
		opt.Title = e.About
	}
	return Features(fi.Images, f, e.ViT.Cfg.Grid(), e.ViT.Cfg.Dim, opt)
}

// FeatureImages are the evaluation images a feature picture shows, ready
// for the encoder and for drawing.
type FeatureImages struct {
	X      []float32 // [n, C, S, S], normalised
	Images []*image.RGBA
	Labels []string
}

// LoadFeatureImages returns the first n images of the held-out split of
// cfg's dataset, resized to size x size (the encoder's input) and
// normalised as for evaluation (ijepago.in_chans channels).
func LoadFeatureImages(cfg *config.Config, n, size int) (*FeatureImages, error) {
	ds, err := data.Open(cfg.DatasetSpec(false))
	if err != nil {
		return nil, err
	}
	tf, err := cfg.EvalTransform()
	if err != nil {
		return nil, err
	}
	tf.Out = size
	x, imgs, labels, err := EvalImages(ds, n, tf)
	if err != nil {
		return nil, err
	}
	return &FeatureImages{X: x, Images: imgs, Labels: labels}, nil
}
