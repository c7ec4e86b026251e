package conformance

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/ijepa-go/ijepa/backend"
)

// DefaultBound is the NMSE bound of an op's float32 cases whose family sets
// none. Every backend computes in float32, so the bounds are far below
// anything a real bug produces (a wrong index, a missing term, a kernel that
// skips a tail).
const DefaultBound = 1e-8

// DefaultBounds are the NMSE bounds of the 16-bit cases (by Case.Low) of an
// op whose family sets none: a backend that computes in float32 and rounds
// to 16 bits differs from the float64 statement's one rounding in the last
// place of the few elements whose float32 result lands on or next to a
// 16-bit tie (measured at most 3.5e-8 in bf16 and 5.7e-9 in f16 on every
// backend, docs/CONFORMANCE.md), while outputs truncated instead of rounded
// give 1.3e-5 (bf16) and 2.0e-7 (f16) on values uniform in [-1, 1], and a
// wrong element anywhere far more.
var DefaultBounds = map[backend.DType]float64{backend.F32: DefaultBound, backend.F16: 1e-7, backend.BF16: 1e-6}

// Bound returns op's NMSE bound for its float32 cases (its family's).
func Bound(op backend.Op) float64 { return BoundOf(op, backend.F32) }

// BoundOf returns op's NMSE bound for its cases of dtype dt (Case.Low).
func BoundOf(op backend.Op, dt backend.DType) float64 {
	f := family(op)
	switch {
	case dt == backend.F32 && f != nil && f.Bound > 0:
		return f.Bound
	case f != nil && f.Bounds[dt] > 0:
		return f.Bounds[dt]
	}
	return DefaultBounds[dt]
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
	// Case, if set, keeps only the case (or finite-difference check,
	// "fd:" in front) of that exact name: the replay of one failure.
	Case string
	// Mode is ModeTest (every case, then the finite-difference checks),
	// ModeGrad (the finite-difference checks alone) or ModeSupport (ask
	// the backend which cases it supports; nothing runs). Empty means
	// ModeTest.
	Mode Mode
	// NoGradients skips the finite-difference checks of backward ops.
	NoGradients bool
	// Stop, if set, is asked before each case: true ends the run there
	// (Ctrl-C), with Report.Stopped set.
	Stop func() bool
	// DTypes, if set, keeps only the cases of these dtypes (Case.Low);
	// nil runs every dtype.
	DTypes []backend.DType
}

// Result is the outcome of one case.
type Result struct {
	Case Case
	// Name is the case's name ("fd:" in front for a finite-difference
	// check); it alone, with the seed, reproduces the case.
	Name string
	// Kind is "ok", "fail" or "unsupported".
	Kind string
	// Err is the worst error over the case's outputs (NMSE, or the row's
	// Metric).
	Err float64
	// Msg says why a case failed.
	Msg string
	// Time is the time the backend under test took (allocation, writes,
	// the op and reads).
	Time time.Duration
	// Args, if set, are the flags of ijepa conformance that replay this
	// result after --backend and --reference (Report.Replay); unset, they
	// are --seed and --case with the name.
	Args []string
}

// Run checks b against opts.Reference on every case of Cases (and, unless
// disabled, every finite-difference check of GradCases) whose op matches,
// as opts.Mode says. A case the backend does not support is "unsupported",
// not failed; but a required op (not Optional in the catalogue) with no
// supported case is Missing, and the report fails. The report has one row
// per op and dtype, in catalogue order, and the run's description (mode,
// backends, devices, versions, hashes, seed).
func Run(b backend.Backend, opts Options) Report {
	mode := opts.Mode
	if mode == "" {
		mode = ModeTest
	}
	rep := NewReport(b, opts.Reference, opts.Seed, mode)
	rep.Levels = []Level{LevelOp}
	rows := newRows(&rep, opts, b.Info())
	started := time.Now()
	cur := b
	stop := func() bool {
		rep.Stopped = rep.Stopped || opts.Stop != nil && opts.Stop()
		return rep.Stopped
	}
	reopen := func() {
		if cur.Err() != nil && opts.Reopen != nil {
			if nb, err := opts.Reopen(); err == nil {
				cur = nb
			}
		}
	}
	if mode == ModeTest || mode == ModeSupport {
		for _, c := range Cases() {
			if !rows.wanted(c) || opts.Case != "" && c.Name() != opts.Case {
				continue
			}
			if stop() {
				break
			}
			var res Result
			if mode == ModeSupport {
				res = supported(cur, c)
			} else {
				res = RunCase(cur, opts.Reference, c, opts.Seed)
			}
			rows.record(res)
			reopen()
		}
	}
	if mode == ModeGrad || mode == ModeTest && !opts.NoGradients {
		for _, g := range GradCases() {
			if !rows.wanted(g.Case) || opts.Case != "" && g.Name() != opts.Case {
				continue
			}
			if stop() {
				break
			}
			rows.record(g.Run(cur, opts.Seed))
			reopen()
		}
	}
	rep.Ops = rows.done()
	rep.Duration = time.Since(started)
	return rep
}

// supported asks b whether it runs c (support mode: nothing runs). A call
// the backend refuses with another error than ErrUnsupported fails: every
// case is a valid call.
func supported(b backend.Backend, c Case) Result {
	res := Result{Case: c, Name: c.Name(), Kind: "ok"}
	if err := b.Supports(c.Call(c.Placeholders())); err != nil {
		res.Kind = "unsupported"
		if !errors.Is(err, backend.ErrUnsupported) {
			res.Kind, res.Err, res.Msg = "fail", math.NaN(), "the backend refuses a valid call: "+err.Error()
		}
	}
	return res
}

// Placeholders returns tensors of the case's dtypes and shapes without
// memory (nil for an absent optional argument): what a backend's Supports,
// or a test of a backend's dispatch choices, is asked about before anything
// is allocated.
func (c Case) Placeholders() []*backend.Tensor {
	args := make([]*backend.Tensor, len(c.Shapes))
	for i, s := range c.Shapes {
		if s != nil {
			args[i] = backend.Placeholder(c.DType(i), s...)
		}
	}
	return args
}

// Call returns the case's call with args.
func (c Case) Call(args []*backend.Tensor) backend.Call {
	return backend.Call{Op: c.Op, Args: args, Attrs: c.Attrs}
}

// rowSet gathers results into one row per op and dtype (Case.Low).
type rowSet struct {
	mode   Mode
	ops    map[backend.Op]bool
	dtypes []backend.DType // nil: every dtype
	info   backend.Info    // the backend under test's
	rows   map[rowKey]*OpReport
}

type rowKey struct {
	op backend.Op
	dt backend.DType
}

func newRows(rep *Report, opts Options, info backend.Info) *rowSet {
	rs := &rowSet{mode: rep.Mode, ops: map[backend.Op]bool{}, dtypes: opts.DTypes, info: info, rows: map[rowKey]*OpReport{}}
	for _, op := range backend.Ops() {
		if opts.Ops == nil || opts.Ops.MatchString(op.String()) {
			rs.ops[op] = true
		}
	}
	return rs
}

// wanted reports whether the run keeps c: its op and its dtype.
func (rs *rowSet) wanted(c Case) bool {
	return rs.ops[c.Op] && rs.keepsDType(c.Low())
}

func (rs *rowSet) keepsDType(dt backend.DType) bool {
	return rs.dtypes == nil || slices.Contains(rs.dtypes, dt)
}

func (rs *rowSet) row(op backend.Op, dt backend.DType) *OpReport {
	k := rowKey{op, dt}
	o := rs.rows[k]
	if o == nil {
		o = &OpReport{Level: LevelOp, Name: op.String(), Op: op, DType: dt, Metric: MetricNMSE, Bound: BoundOf(op, dt)}
		rs.rows[k] = o
	}
	return o
}

func (rs *rowSet) record(res Result) {
	o := rs.row(res.Case.Op, res.Case.Low())
	o.Add(res)
	listed := true
	for i := range res.Case.Shapes {
		listed = listed && rs.info.SupportsDType(res.Case.DType(i))
	}
	if listed {
		o.listed++
	}
}

// done returns the rows in catalogue order, then dtype order, with
// Required and Missing set. An op the filter kept that no case reached
// still has its f32 row (where the run keeps f32 and the op has a float32
// signature). Required marks the f32 row of an op the catalogue does not
// mark Optional (every row of one without a float32 signature: cast). An
// op is missing in a dtype when every case came back unsupported although
// the backend lists the dtypes of some of them (Info.DTypes; always so in
// f32): a 16-bit dtype the backend does not list is unsupported, not
// missing.
func (rs *rowSet) done() []OpReport {
	var out []OpReport
	for _, op := range backend.Ops() {
		if !rs.ops[op] {
			continue
		}
		if rs.keepsDType(backend.F32) && hasF32(op) {
			rs.row(op, backend.F32)
		}
		var dts []backend.DType
		for k := range rs.rows {
			if k.op == op {
				dts = append(dts, k.dt)
			}
		}
		slices.Sort(dts)
		for _, dt := range dts {
			o := rs.rows[rowKey{op, dt}]
			o.Required = !op.Spec().Optional && (dt == backend.F32 || !hasF32(op))
			o.Missing = !op.Spec().Optional && rs.mode != ModeGrad && o.Cases > 0 && o.Unsupp == o.Cases && o.listed > 0
			out = append(out, *o)
		}
	}
	return out
}

// hasF32 reports whether op has a signature with every floating argument
// float32.
func hasF32(op backend.Op) bool {
	for _, sig := range op.Spec().Sigs {
		f32 := true
		for _, d := range sig {
			f32 = f32 && (d == backend.F32 || d == backend.I32)
		}
		if f32 {
			return true
		}
	}
	return false
}

// outputs runs c on b from v and returns the data of its Out and InOut
// arguments (nil elsewhere), checking guard regions where b has them.
func outputs(b backend.Backend, c Case, v Values) ([][]float32, error) {
	if err := b.Err(); err != nil {
		return nil, fmt.Errorf("backend unusable after an earlier error: %w", err)
	}
	specs := c.Op.Expand(len(c.Shapes))
	args := c.Placeholders()
	if err := b.Supports(c.Call(args)); err != nil {
		return nil, err
	}
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
			args[i] = g.NewGuarded(c.DType(i), s...)
		} else {
			args[i] = b.New(c.DType(i), s...)
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
	if bound := BoundOf(c.Op, c.Low()); res.Err > bound {
		res.Kind, res.Msg = "fail", fmt.Sprintf("NMSE %.3g exceeds the bound %.0e", res.Err, bound)
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

// RelMax returns the relative error max|got-want| / max|want| (the plain
// largest difference when want is all zero), with Compare's checks of NaN
// and infinities.
func RelMax(got, want []float32) (float64, string) {
	if _, msg := Compare(got, want); msg != "" {
		return math.NaN(), msg
	}
	var d, m float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) || math.IsInf(w, 0) {
			continue
		}
		d = math.Max(d, math.Abs(g-w))
		m = math.Max(m, math.Abs(w))
	}
	if m == 0 {
		return d, ""
	}
	return d / m, ""
}
