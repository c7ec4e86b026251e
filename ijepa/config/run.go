package config

import (
	"fmt"
	"path/filepath"

	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

// Grid is the patch grid's side: crop_size / patch_size.
func (c *Config) Grid() int { return c.Data.CropSize / c.Mask.PatchSize }

// MaskConfig is the mask collator's configuration (seeded by ijepago.seed).
func (c *Config) MaskConfig() mask.Config {
	g := 0
	if c.Mask.PatchSize > 0 {
		g = c.Grid()
	}
	return mask.Config{
		Height: g, Width: g,
		PredScale:    c.Mask.PredMaskScale,
		EncScale:     c.Mask.EncMaskScale,
		AspectRatio:  c.Mask.AspectRatio,
		NumPred:      c.Mask.NumPredMasks,
		NumEnc:       c.Mask.NumEncMasks,
		MinKeep:      c.Mask.MinKeep,
		AllowOverlap: c.Mask.AllowOverlap,
		Mode:         mask.Mode(c.IJEPAGo.MaskMode),
		Seed:         c.IJEPAGo.Seed,
	}
}

// ModelConfig is the shape of the model c trains: the encoder of
// meta.model_name (or ijepago.encoder) at crop_size and patch_size taking
// ijepago.in_chans channels, the predictor of pred_emb_dim, pred_depth and
// ijepago.predictor_heads, and the configured loss. model.New(mc) declares
// it without allocating anything, so any size can be counted.
func (c *Config) ModelConfig() (model.Config, error) {
	enc, err := c.Encoder()
	if err != nil {
		return model.Config{}, &Error{Source: c.Source(), Key: c.encoderKey(), Msg: err.Error()}
	}
	pred, _ := c.Predictor()
	return model.Config{
		Model: enc.Name, Dim: enc.Dim, Depth: enc.Depth, Heads: enc.Heads, MLPHidden: enc.MLPHidden,
		ImgSize: c.Data.CropSize, Patch: c.Mask.PatchSize, InChans: c.IJEPAGo.InChans,
		PredDim: pred.Dim, PredDepth: pred.Depth, PredHeads: pred.Heads,
		Loss: model.Loss(c.IJEPAGo.Loss),
	}, nil
}

// Encoder is the shape of the context and target encoders: the sizes of
// ijepago.encoder when given (with no name), else the size meta.model_name
// names.
func (c *Config) Encoder() (Model, error) {
	e := c.IJEPAGo.Encoder
	if !e.Explicit() {
		return LookupModel(c.Meta.ModelName)
	}
	m := Model{Dim: e.EmbedDim, Depth: e.Depth, Heads: e.NumHeads, MLPHidden: int(float64(e.EmbedDim) * e.MLPRatio)}
	switch {
	case e.EmbedDim < 0 || e.Depth < 1 || e.NumHeads < 1:
		return m, fmt.Errorf("embed_dim %d, depth %d and num_heads %d must be positive", e.EmbedDim, e.Depth, e.NumHeads)
	case e.EmbedDim%e.NumHeads != 0:
		return m, fmt.Errorf("embed_dim %d is not a multiple of num_heads %d", e.EmbedDim, e.NumHeads)
	case e.EmbedDim%4 != 0:
		return m, fmt.Errorf("embed_dim %d is not a multiple of 4 (the 2-D sin-cos positions need it)", e.EmbedDim)
	case !(e.MLPRatio > 0) || m.MLPHidden < 1:
		return m, fmt.Errorf("mlp_ratio %g must make a positive MLP width (embed_dim x mlp_ratio)", e.MLPRatio)
	}
	return m, nil
}

// encoderKey is the key that gives the encoder's shape.
func (c *Config) encoderKey() string {
	if c.IJEPAGo.Encoder.Explicit() {
		return "ijepago.encoder"
	}
	return "meta.model_name"
}

// Predictor is the predictor's shape: pred_emb_dim wide, pred_depth deep,
// with ijepago.predictor_heads heads (0: the encoder's, as the official
// init_model builds it) and an MLP ratio of 4.
func (c *Config) Predictor() (Model, error) {
	enc, err := c.Encoder()
	if err != nil {
		return Model{}, err
	}
	heads := c.IJEPAGo.PredictorHeads
	if heads == 0 {
		heads = enc.Heads
	}
	return Model{Name: "predictor", Dim: c.Meta.PredEmbDim, Depth: c.Meta.PredDepth, Heads: heads, MLPHidden: 4 * c.Meta.PredEmbDim}, nil
}

// DatasetSpec says which dataset to open for training (train) or evaluation:
// the kind from ijepago.dataset, files under root_path/image_folder, and for
// the procedural dataset dataset_size (or eval_size) images of crop_size
// pixels from ijepago.seed.
func (c *Config) DatasetSpec(train bool) data.Spec {
	n := c.IJEPAGo.EvalSize
	if train {
		n = c.IJEPAGo.DatasetSize
	}
	return data.Spec{
		Kind:   c.IJEPAGo.Dataset,
		Path:   filepath.Join(c.Data.RootPath, c.Data.ImageFolder),
		Train:  train,
		Seed:   c.IJEPAGo.Seed,
		N:      n,
		Size:   c.Data.CropSize,
		Folder: data.FolderOptions{SkipBad: c.IJEPAGo.SkipBadImages},
	}
}

// TrainTransform is the training augmentation: RandomResizedCrop to
// crop_size with crop_scale, ImageNet normalisation of in_chans channels.
func (c *Config) TrainTransform() (data.RandomResizedCrop, error) {
	t, err := data.NewRandomResizedCrop(c.Data.CropSize, c.Data.CropScale)
	if err != nil {
		return t, err
	}
	t.Norm, err = data.NormalizeFor(c.IJEPAGo.InChans)
	return t, err
}

// EvalTransform is the evaluation transform: a plain resize to crop_size,
// ImageNet normalisation of in_chans channels.
func (c *Config) EvalTransform() (data.Resize, error) {
	t, err := data.NewResize(c.Data.CropSize)
	if err != nil {
		return t, err
	}
	t.Norm, err = data.NormalizeFor(c.IJEPAGo.InChans)
	return t, err
}

// Schedule is what the trainer needs to lay out a run: the official
// schedulers' inputs in steps.
type Schedule struct {
	// IPE is the number of iterations per epoch (batches of batch_size,
	// last incomplete batch dropped).
	IPE int64
	// Steps is the number of training steps to run: epochs*IPE, or
	// ijepago.steps when set.
	Steps int64
	// WarmupSteps is int(warmup * IPE): the learning rate rises linearly
	// from start_lr to lr over these steps.
	WarmupSteps int64
	// TotalSteps is int(ipe_scale * epochs * IPE), the length the
	// learning-rate and weight-decay cosines span (T_max).
	TotalSteps int64
	// EMAHorizon is IPE * epochs * ipe_scale: momentum at step i is
	// ema[0] + i*(ema[1]-ema[0])/EMAHorizon.
	EMAHorizon float64
}

// Schedule derives the run's step counts for a training set of n images.
func (c *Config) Schedule(n int) (Schedule, error) {
	ipe := data.StepsPerEpoch(n, c.Data.BatchSize, true)
	if ipe == 0 {
		return Schedule{}, &Error{Source: c.source, Key: "data.batch_size", Origin: c.origin["data.batch_size"],
			Msg: fmt.Sprintf("the training set has %d images, fewer than one batch of %d", n, c.Data.BatchSize)}
	}
	o := c.Optimization
	s := Schedule{
		IPE:         ipe,
		Steps:       int64(o.Epochs) * ipe,
		WarmupSteps: int64(o.Warmup * float64(ipe)),
		TotalSteps:  int64(o.IPEScale * float64(o.Epochs) * float64(ipe)),
		EMAHorizon:  float64(ipe) * float64(o.Epochs) * o.IPEScale,
	}
	if st := c.IJEPAGo.Steps; st > 0 {
		if st > s.TotalSteps {
			return Schedule{}, &Error{Source: c.source, Key: "ijepago.steps", Origin: c.origin["ijepago.steps"],
				Msg: fmt.Sprintf("must be at most the schedules' length int(ipe_scale*epochs*ipe) = %d, got %d", s.TotalSteps, st)}
		}
		s.Steps = st
	}
	return s, nil
}
