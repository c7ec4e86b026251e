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
// meta.model_name at crop_size and patch_size, the predictor of
// pred_emb_dim and pred_depth, and the configured loss. model.New(mc)
// declares it without allocating anything, so any size can be counted.
func (c *Config) ModelConfig() (model.Config, error) {
	enc, err := c.Encoder()
	if err != nil {
		return model.Config{}, &Error{Source: c.Source(), Key: "meta.model_name", Msg: err.Error()}
	}
	return model.Config{
		Model: enc.Name, Dim: enc.Dim, Depth: enc.Depth, Heads: enc.Heads, MLPHidden: enc.MLPHidden,
		ImgSize: c.Data.CropSize, Patch: c.Mask.PatchSize,
		PredDim: c.Meta.PredEmbDim, PredDepth: c.Meta.PredDepth,
		Loss: model.Loss(c.IJEPAGo.Loss),
	}, nil
}

// Encoder is the shape of the context and target encoders.
func (c *Config) Encoder() (Model, error) { return LookupModel(c.Meta.ModelName) }

// Predictor is the predictor's shape: pred_emb_dim wide, pred_depth deep,
// with the encoder's number of heads and an MLP ratio of 4 (as the official
// init_model builds it).
func (c *Config) Predictor() (Model, error) {
	enc, err := c.Encoder()
	if err != nil {
		return Model{}, err
	}
	return Model{Name: "predictor", Dim: c.Meta.PredEmbDim, Depth: c.Meta.PredDepth, Heads: enc.Heads, MLPHidden: 4 * c.Meta.PredEmbDim}, nil
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
// crop_size with crop_scale, ImageNet normalisation.
func (c *Config) TrainTransform() (data.RandomResizedCrop, error) {
	return data.NewRandomResizedCrop(c.Data.CropSize, c.Data.CropScale)
}

// EvalTransform is the evaluation transform: a plain resize to crop_size,
// ImageNet normalisation.
func (c *Config) EvalTransform() (data.Resize, error) {
	return data.NewResize(c.Data.CropSize)
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
