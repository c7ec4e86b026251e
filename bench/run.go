package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/composite"
	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

// Session is a benchmark model allocated on a backend (through a Profile),
// ready to train on the config's workload step by step.
type Session struct {
	cfg   Config
	prof  *Profile
	model *model.Model
	work  *Workload
	loss  float64
	// shape is the largest batch shape stepped so far.
	shape model.StepShape
	// Data parallel (Distribute): the group and the gradient reducer.
	comm    dist.Comm
	reducer *dist.Reducer
}

// NewSession allocates the config's model on be, seeded.
func NewSession(be backend.Backend, cfg Config, seed uint64) (*Session, error) {
	s := &Session{cfg: cfg, prof: NewProfile(be)}
	m, err := model.New(cfg.Model)
	if err != nil {
		return nil, err
	}
	if err := m.Alloc(s.prof, seed); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", cfg.Name, err)
	}
	m.SetPrecision(cfg.Precision)
	s.model = m
	if s.work, err = NewWorkload(cfg, seed); err != nil {
		m.Free()
		return nil, err
	}
	return s, nil
}

// Steps trains n steps and returns the time they took, not counting the
// making of their batches on the host.
func (s *Session) Steps(ctx context.Context, n int) (time.Duration, error) {
	h := model.Hyper{LR: 1e-4, WD: 0.04, Momentum: 0.996}
	var elapsed time.Duration
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return elapsed, err
		}
		b := s.work.Next()
		s.shape = model.StepShape{B: max(s.shape.B, len(b.Context)), M: max(s.shape.M, len(b.Targets)),
			Kc: max(s.shape.Kc, len(b.Context[0])), Kt: max(s.shape.Kt, len(b.Targets[0][0]))}
		start := time.Now()
		loss, err := s.model.Step(b, h)
		elapsed += time.Since(start)
		if err != nil {
			return elapsed, fmt.Errorf("bench: %s: step: %w", s.cfg.Name, err)
		}
		s.loss = loss
	}
	return elapsed, nil
}

// Counted returns the memory of a step of the session's model and
// precision counted on a backend that computes nothing (model.CountStep),
// at the largest batch shape stepped so far: what the step's tensors ask
// for, whatever the backend.
func (s *Session) Counted() (model.StepMemory, error) {
	return model.CountStep(s.cfg.Model, s.shape, s.cfg.Precision)
}

// Profile returns the op recorder every step goes through.
func (s *Session) Profile() *Profile { return s.prof }

// Loss returns the last step's loss.
func (s *Session) Loss() float64 { return s.loss }

// Close frees the model (and stops the reducer of Distribute).
func (s *Session) Close() {
	if s.reducer != nil {
		s.model.Sync = nil
		s.reducer.Close()
	}
	s.model.Free()
}

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
	// Split is, on a composite backend, what ran on each of its backends
	// and what was copied between them in the timed steps (nil on any
	// other backend).
	Split *composite.Stats
}

// Timed runs n timed steps on s and fills the speed of r: ms/step, img/s,
// page faults per step, the loss, on a composite backend the split (and,
// after Distribute, starts the all-reduce times Gather reads afresh).
func (r *Result) Timed(ctx context.Context, s *Session, n int) error {
	s.prof.Reset()
	if s.reducer != nil {
		s.reducer.ResetStats()
	}
	faults := minorFaults()
	split, isComposite := composite.StatsOf(s.prof.Backend)
	d, err := s.Steps(ctx, n)
	if err != nil {
		return err
	}
	if after, _ := composite.StatsOf(s.prof.Backend); isComposite {
		split = after.Sub(split)
		r.Split = &split
	}
	sec := d.Seconds() / float64(n)
	r.Steps, r.MsPerStep, r.ImgPerS = n, 1e3*sec, float64(s.cfg.Batch)/sec
	r.FaultsPerStep = float64(minorFaults()-faults) / float64(n)
	r.Loss, r.Profile = s.loss, s.prof
	return nil
}

// PerOp runs n steps on s with every op synchronised and timed; r's
// Profile then holds their per-op times.
func (r *Result) PerOp(ctx context.Context, s *Session, n int) error {
	s.prof.Reset()
	s.prof.PerOp = true
	defer func() { s.prof.PerOp = false }()
	if _, err := s.Steps(ctx, n); err != nil {
		return err
	}
	r.OpSteps, r.Profile, r.Loss = n, s.prof, s.loss
	return nil
}

// Run trains the benchmark model on be: warm-up steps, timed steps, and
// optionally per-op timed steps.
func Run(ctx context.Context, be backend.Backend, o Options) (Result, error) {
	res := Result{Config: o.Config.Name}
	if o.Steps < 1 {
		return res, fmt.Errorf("bench: %d timed steps; want at least 1", o.Steps)
	}
	s, err := NewSession(be, o.Config, o.Seed)
	if err != nil {
		return res, err
	}
	defer s.Close()
	if _, err := s.Steps(ctx, o.Warmup); err != nil {
		return res, err
	}
	if err := res.Timed(ctx, s, o.Steps); err != nil {
		return res, err
	}
	if o.OpSteps > 0 {
		if err := res.PerOp(ctx, s, o.OpSteps); err != nil {
			return res, err
		}
	}
	res.PeakRSS = PeakRSS()
	return res, nil
}
