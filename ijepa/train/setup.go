package train

import (
	"fmt"
	"io"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/nn"
)

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

// newPlan opens the training set of c and lays out the run on ranks
// data-parallel ranks (1: a single process), each reading its shard of
// every epoch (data.ShardLen); warn reports the images an image folder
// leaves out, progress (when not nil) shows the check of a large folder.
func newPlan(c *config.Config, ranks int, warn func(string), progress io.Writer) (*plan, error) {
	spec := c.DatasetSpec(true)
	spec.Folder.Warn, spec.Folder.Progress = warn, progress
	ds, err := data.Open(spec)
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
	sched, err := c.Schedule(data.ShardLen(ds.Len(), ranks))
	if err != nil {
		return nil, err
	}
	return &plan{train: ds, masks: masks, sched: sched, schedule: Schedules(c, sched.IPE)}, nil
}
