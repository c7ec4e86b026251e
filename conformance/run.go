package conformance

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/ijepa-go/ijepa/backend"
)

// DefaultBound is the NMSE bound of an op whose family sets none. Every
// backend computes in float32, so the bounds are far below anything a real
// bug produces (a wrong index, a missing term, a kernel that skips a tail).
const DefaultBound = 1e-8

// Bound returns op's NMSE bound (its family's).
func Bound(op backend.Op) float64 {
	if f := family(op); f != nil && f.Bound > 0 {
		return f.Bound
	}
	return DefaultBound
}

// Options select and configure a run.
type Options struct {
	// Ops, if set, keeps only the ops whose name matches.
	Ops *regexp.Regexp
	// Seed derives every input; runs with one seed are identical.
	Seed uint64
	// Reference computes the expected outputs.
	Reference backend.Backend
	// Reopen, if set, opens a fresh backend under test after a case
	// leaves the current one with a sticky error, so later cases still
	// run. Without it, such cases fail as "backend unusable".
	Reopen func() (backend.Backend, error)
	// NoGradients skips the finite-difference checks of backward ops.
	NoGradients bool
	// Stop, if set, is asked before each case: true ends the run there
	// (Ctrl-C), with Report.Stopped set.
	Stop func() bool
}

// Result is the outcome of one case.
type Result struct {
	Case Case
	// Name is the case's name ("fd:" in front for a finite-difference
	// check); it alone, with the seed, reproduces the case.
	Name string
	// Kind is "ok", "fail" or "unsupported".
	Kind string
	// Err is the worst NMSE over the case's outputs.
	Err float64
	// Msg says why a case failed.
	Msg string
	// Time is the time the backend under test took (allocation, writes,
	// the op and reads).
	Time time.Duration
}

// OpReport summarises the results of one op.
type OpReport struct {
	Op                            backend.Op
	Cases, Passed, Failed, Unsupp int
	Worst                         float64 // worst NMSE over passed and failed cases
	Bound                         float64
	Time                          time.Duration
	Failures                      []Result
	// Missing is set for a required op (one the catalogue does not mark
	// Optional) whose every case came back unsupported: a backend without
	// it cannot train I-JEPA, so the run fails.
	Missing bool
}

// Report is the outcome of a run.
type Report struct {
	Seed    uint64
	Backend string
	Ref     string
	Ops     []OpReport
	// Stopped says that Options.Stop ended the run before every case ran.
	Stopped bool
}

// Failed reports whether any case failed or any required op is missing.
func (r Report) Failed() bool {
	for _, o := range r.Ops {
		if o.Failed > 0 || o.Missing {
			return true
		}
	}
	return false
}

// Missing returns the required ops the backend does not support.
func (r Report) Missing() []backend.Op {
	var ops []backend.Op
	for _, o := range r.Ops {
		if o.Missing {
			ops = append(ops, o.Op)
		}
	}
	return ops
}

// Run checks b against opts.Reference on every case of Cases (and, unless
// disabled, every finite-difference check of GradCases) whose op matches.
// A case the backend does not support is "unsupported", not failed; but a
// required op (not Optional in the catalogue) with no supported case is
// Missing, and the report fails.
func Run(b backend.Backend, opts Options) Report {
	rep := Report{Seed: opts.Seed, Backend: b.Info().Backend, Ref: opts.Reference.Info().Backend}
	byOp := map[backend.Op]*OpReport{}
	for _, op := range backend.Ops() {
		if opts.Ops != nil && !opts.Ops.MatchString(op.String()) {
			continue
		}
		rep.Ops = append(rep.Ops, OpReport{Op: op, Bound: Bound(op)})
	}
	for i := range rep.Ops {
		byOp[rep.Ops[i].Op] = &rep.Ops[i]
	}
	record := func(res Result) {
		o := byOp[res.Case.Op]
		o.Cases++
		o.Time += res.Time
		switch res.Kind {
		case "ok":
			o.Passed++
		case "unsupported":
			o.Unsupp++
		default:
			o.Failed++
			o.Failures = append(o.Failures, res)
		}
		if !math.IsNaN(res.Err) {
			o.Worst = math.Max(o.Worst, res.Err)
		}
	}
	cur := b
	stop := func() bool {
		rep.Stopped = rep.Stopped || opts.Stop != nil && opts.Stop()
		return rep.Stopped
	}
	for _, c := range Cases() {
		if byOp[c.Op] == nil {
			continue
		}
		if stop() {
			return rep
		}
		res := RunCase(cur, opts.Reference, c, opts.Seed)
		record(res)
		if cur.Err() != nil && opts.Reopen != nil {
			if nb, err := opts.Reopen(); err == nil {
				cur = nb
			}
		}
	}
	if !opts.NoGradients {
		for _, g := range GradCases() {
			if byOp[g.Case.Op] == nil {
				continue
			}
			if stop() {
				return rep
			}
			res := g.Run(cur, opts.Seed)
			record(res)
			if cur.Err() != nil && opts.Reopen != nil {
				if nb, err := opts.Reopen(); err == nil {
					cur = nb
				}
			}
		}
	}
	for i := range rep.Ops {
		o := &rep.Ops[i]
		o.Missing = !o.Op.Spec().Optional && o.Cases > 0 && o.Unsupp == o.Cases
	}
	return rep
}

// outputs runs c on b from v and returns the data of its Out and InOut
// arguments (nil elsewhere), checking guard regions where b has them.
func outputs(b backend.Backend, c Case, v Values) ([][]float32, error) {
	if err := b.Err(); err != nil {
		return nil, fmt.Errorf("backend unusable after an earlier error: %w", err)
	}
	specs := c.Op.Expand(len(c.Shapes))
	call := c.Call()
	if err := b.Supports(call); err != nil {
		return nil, err
	}
	args := call.Args
	g, guarded := b.(backend.Guarder)
	guarded = guarded && b.Info().Guards
	defer func() {
		for _, t := range args {
			if t != nil {
				b.Release(t)
			}
		}
	}()
	for i, s := range c.Shapes {
		if s == nil {
			continue
		}
		if guarded {
			args[i] = g.NewGuarded(specs[i].DType, s...)
		} else {
			args[i] = b.New(specs[i].DType, s...)
		}
		if v.I[i] != nil {
			backend.WriteI32(b, args[i], v.I[i])
		} else {
			backend.WriteF32(b, args[i], v.F[i])
		}
	}
	b.Run(backend.Call{Op: c.Op, Args: args, Attrs: c.Attrs})
	out := make([][]float32, len(args))
	for i, t := range args {
		if t == nil || specs[i].Role == backend.In {
			continue
		}
		d, err := backend.ReadF32(b, t)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	if guarded {
		for i, t := range args {
			if t == nil {
				continue
			}
			if err := g.CheckGuards(t); err != nil {
				return nil, fmt.Errorf("argument %d: %w", i, err)
			}
		}
	}
	return out, b.Err()
}

// RunCase runs one case on b and on ref and compares the outputs.
func RunCase(b, ref backend.Backend, c Case, seed uint64) Result {
	res := Result{Case: c, Name: c.Name()}
	v := Inputs(c, seed)
	start := time.Now()
	got, err := outputs(b, c, v)
	res.Time = time.Since(start)
	if err != nil {
		if errors.Is(err, backend.ErrUnsupported) {
			res.Kind = "unsupported"
			return res
		}
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), err.Error()
		return res
	}
	want, err := outputs(ref, c, v)
	if err != nil {
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), "reference: "+err.Error()
		return res
	}
	res.Kind = "ok"
	for i := range got {
		if want[i] == nil {
			continue
		}
		e, msg := Compare(got[i], want[i])
		res.Err = math.Max(res.Err, e)
		if msg != "" {
			res.Kind, res.Msg = "fail", fmt.Sprintf("output %d: %s", i, msg)
			return res
		}
	}
	if res.Err > Bound(c.Op) {
		res.Kind, res.Msg = "fail", fmt.Sprintf("NMSE %.3g exceeds the bound %.0e", res.Err, Bound(c.Op))
	}
	return res
}

// Compare returns the normalised mean squared error sum((a-b)^2)/sum(b^2) of
// got against want (the plain squared error when want is all zero), and a
// message if got has a NaN where want has none or an infinity that differs.
func Compare(got, want []float32) (float64, string) {
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		switch {
		case math.IsNaN(w):
			if !math.IsNaN(g) {
				return math.NaN(), fmt.Sprintf("element %d is %g, want NaN", i, g)
			}
			continue
		case math.IsNaN(g):
			return math.NaN(), fmt.Sprintf("element %d is NaN, want %g", i, w)
		case math.IsInf(w, 0) || math.IsInf(g, 0):
			if g != w {
				return math.Inf(1), fmt.Sprintf("element %d is %g, want %g", i, g, w)
			}
			continue
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if den == 0 {
		return num, ""
	}
	return num / den, ""
}
