package train

import (
	"fmt"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
)

// ModelConfig is the shape of the model a config trains: the encoder of
// meta.model_name at crop_size and patch_size, the predictor of
// pred_emb_dim and pred_depth, and the configured loss.
func ModelConfig(c *config.Config) (model.Config, error) {
	enc, err := c.Encoder()
	if err != nil {
		return model.Config{}, &config.Error{Source: c.Source(), Key: "meta.model_name", Msg: err.Error()}
	}
	return model.Config{
		Dim: enc.Dim, Depth: enc.Depth, Heads: enc.Heads, MLPHidden: enc.MLPHidden,
		ImgSize: c.Data.CropSize, Patch: c.Mask.PatchSize,
		PredDim: c.Meta.PredEmbDim, PredDepth: c.Meta.PredDepth,
		Loss: model.Loss(c.IJEPAGo.Loss),
	}, nil
}

// Schedules returns the official learning-rate, weight-decay and momentum
// schedules of a config for a training set of ipe batches per epoch.
func Schedules(c *config.Config, ipe int64) nn.Schedule {
	o := c.Optimization
	return nn.NewSchedule(nn.ScheduleConfig{
		ItersPerEpoch: int(ipe),
		Epochs:        o.Epochs,
		IPEScale:      o.IPEScale,
		WarmupEpochs:  o.Warmup,
		StartLR:       o.StartLR, LR: o.LR, FinalLR: o.FinalLR,
		WeightDecay: o.WeightDecay, FinalWD: o.FinalWeightDecay,
		EMAStart: o.EMA[0], EMAEnd: o.EMA[1],
	})
}

// plan is what a run needs beside the model: the training set, the mask
// collator and the step counts.
type plan struct {
	train    data.Dataset
	masks    *mask.Collator
	sched    config.Schedule
	schedule nn.Schedule
}

// newPlan opens the training set of c and lays out the run.
func newPlan(c *config.Config) (*plan, error) {
	ds, err := data.Open(c.DatasetSpec(true))
	if err != nil {
		return nil, err
	}
	if ds.Len() == 0 {
		return nil, fmt.Errorf("ijepa: dataset %q has no images", ds.Name())
	}
	masks, err := mask.New(c.MaskConfig())
	if err != nil {
		return nil, fmt.Errorf("config %q: %w", c.Source(), err)
	}
	sched, err := c.Schedule(ds.Len())
	if err != nil {
		return nil, err
	}
	return &plan{train: ds, masks: masks, sched: sched, schedule: Schedules(c, sched.IPE)}, nil
}
