package train

import (
	"context"
	"fmt"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

// StepTiming is the measured speed of training steps.
type StepTiming struct {
	// Steps is the number of timed steps, Batch the images per step.
	Steps, Batch int
	// PerStep is the mean wall time of one step (model.Step: upload,
	// forward, backward, AdamW, EMA, reading the loss back); data loading is
	// not included.
	PerStep time.Duration
	// Losses are the timed steps' losses.
	Losses []float64
}

// ImagesPerSecond is the training throughput.
func (s StepTiming) ImagesPerSecond() float64 {
	return float64(s.Batch) / s.PerStep.Seconds()
}

// benchBatches is how many distinct batches TimeSteps builds and cycles
// through.
const benchBatches = 4

// TimeSteps times training steps of the model c describes on be: it builds
// a few real batches (the config's dataset, augmentation and masks) first,
// runs warmup untimed steps, then times steps more, with the config's
// scheduled hyper-parameters. It is the step loop of the trainer without the
// files, for benchmarks (go test -bench, ijepa bench).
func TimeSteps(ctx context.Context, c *config.Config, be backend.Backend, warmup, steps int) (StepTiming, error) {
	if steps < 1 || warmup < 0 {
		return StepTiming{}, fmt.Errorf("ijepa: timing: need at least 1 timed step and no negative warmup, got %d and %d", steps, warmup)
	}
	p, err := newPlan(c, 1, nil, nil)
	if err != nil {
		return StepTiming{}, err
	}
	mc, err := c.ModelConfig()
	if err != nil {
		return StepTiming{}, err
	}
	m, err := model.New(mc)
	if err != nil {
		return StepTiming{}, err
	}
	if err := m.Alloc(be, c.IJEPAGo.Seed); err != nil {
		return StepTiming{}, err
	}
	defer m.Free()
	tf, err := c.TrainTransform()
	if err != nil {
		return StepTiming{}, err
	}
	n := min(benchBatches, warmup+steps)
	loader, err := data.NewLoader(ctx, data.LoaderConfig{Dataset: p.train, Transform: tf, BatchSize: c.Data.BatchSize,
		Masks: p.masks, Seed: c.IJEPAGo.Seed, Shuffle: true, DropLast: true, Workers: c.Data.NumWorkers, Steps: int64(n)})
	if err != nil {
		return StepTiming{}, err
	}
	var batches []model.Batch
	for i := 0; i < n; i++ {
		b, err := loader.Next()
		if err != nil {
			loader.Close()
			return StepTiming{}, err
		}
		batches = append(batches, model.Batch{Images: b.Images, Context: b.Masks.Context, Targets: b.Masks.Targets})
	}
	loader.Close()
	out := StepTiming{Steps: steps, Batch: c.Data.BatchSize}
	var t0 time.Time
	for i := 0; i < warmup+steps; i++ {
		if err := ctx.Err(); err != nil {
			return StepTiming{}, err
		}
		if i == warmup {
			t0 = time.Now()
		}
		lr, wd, mom := p.schedule.At(i + 1)
		loss, err := m.Step(batches[i%n], model.Hyper{LR: lr, WD: wd, Momentum: mom})
		if err != nil {
			return StepTiming{}, fmt.Errorf("ijepa: step %d: %w", i+1, err)
		}
		if i >= warmup {
			out.Losses = append(out.Losses, loss)
		}
	}
	out.PerStep = time.Since(t0) / time.Duration(steps)
	return out, nil
}
