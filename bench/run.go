package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

// Options configure a benchmark run.
type Options struct {
	Config Config
	// Warmup steps run first, untimed; Steps are timed.
	Warmup, Steps int
	// OpSteps, when positive, run after the timed steps with every op
	// synchronised and timed (the per-op table).
	OpSteps int
	// Seed seeds the model and the workload.
	Seed uint64
}

// Result is what a run measured.
type Result struct {
	Config             string
	Steps              int
	MsPerStep, ImgPerS float64
	// Loss is the last step's loss (a sanity check that it trained).
	Loss float64
	// PeakRSS is the process's peak resident set in bytes after the run.
	PeakRSS int64
	// FaultsPerStep is the page faults per timed step (first touches of
	// fresh memory, which cost microseconds each).
	FaultsPerStep float64
	// Profile holds the op counts of the timed steps and, with OpSteps,
	// the per-op times of those steps.
	Profile *Profile
	// OpSteps is how many steps the per-op times cover.
	OpSteps int
}

// Run trains the benchmark model on be: warm-up steps, timed steps, and
// optionally per-op timed steps. The batches are made before each step is
// timed, so the time is the training step's alone.
func Run(ctx context.Context, be backend.Backend, o Options) (Result, error) {
	res := Result{Config: o.Config.Name, Steps: o.Steps, OpSteps: o.OpSteps}
	if o.Steps < 1 {
		return res, fmt.Errorf("bench: %d timed steps; want at least 1", o.Steps)
	}
	prof := NewProfile(be)
	res.Profile = prof
	m, err := model.New(o.Config.Model)
	if err != nil {
		return res, err
	}
	if err := m.Alloc(prof, o.Seed); err != nil {
		return res, fmt.Errorf("bench: %s: %w", o.Config.Name, err)
	}
	defer m.Free()
	w, err := NewWorkload(o.Config, o.Seed)
	if err != nil {
		return res, err
	}
	h := model.Hyper{LR: 1e-4, WD: 0.04, Momentum: 0.996}
	var elapsed time.Duration
	step := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := w.Next()
		start := time.Now()
		loss, err := m.Step(b, h)
		elapsed += time.Since(start)
		res.Loss = loss
		if err != nil {
			return fmt.Errorf("bench: %s: step: %w", o.Config.Name, err)
		}
		return nil
	}
	for i := 0; i < o.Warmup; i++ {
		if err := step(); err != nil {
			return res, err
		}
	}
	prof.Reset()
	elapsed = 0
	faults := minorFaults()
	for i := 0; i < o.Steps; i++ {
		if err := step(); err != nil {
			return res, err
		}
	}
	res.FaultsPerStep = float64(minorFaults()-faults) / float64(o.Steps)
	sec := elapsed.Seconds() / float64(o.Steps)
	res.MsPerStep = 1e3 * sec
	res.ImgPerS = float64(o.Config.Batch) / sec
	if o.OpSteps > 0 {
		prof.Reset()
		prof.PerOp = true
		for i := 0; i < o.OpSteps; i++ {
			if err := step(); err != nil {
				return res, err
			}
		}
		prof.PerOp = false
	}
	res.PeakRSS = PeakRSS()
	return res, nil
}
