package conformance

import (
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ijepa-go/ijepa/backend"
)

// Mode is what a run does, as test-backend-ops' modes.
type Mode string

// The modes of ijepa conformance.
const (
	// ModeTest checks every case against the reference, then the
	// finite-difference checks of the gradient ops.
	ModeTest Mode = "test"
	// ModeGrad runs the finite-difference checks alone.
	ModeGrad Mode = "grad"
	// ModeSupport asks the backend which cases it runs; nothing runs.
	ModeSupport Mode = "support"
	// ModePerf times fixed shapes of training steps on the backend and
	// the reference (package conformance/perf).
	ModePerf Mode = "perf"
	// ModeStress runs random asynchronous programs and checks them
	// against the reference run op by op (package conformance/stress).
	ModeStress Mode = "stress"
)

// Modes lists the modes.
var Modes = []Mode{ModeTest, ModeGrad, ModePerf, ModeSupport, ModeStress}

// Level is what a row of a report checks: one op, a layer, whole training
// steps, or random programs.
type Level string

// The levels of a report's rows.
const (
	LevelOp     Level = "op"
	LevelLayer  Level = "layer"
	LevelStep   Level = "step"
	LevelStress Level = "stress"
)

// The metrics a row's errors and bound are in.
const (
	// MetricNMSE is the normalised mean squared error (Compare).
	MetricNMSE = "nmse"
	// MetricRel is the relative error max|a-b| / max|b| (RelMax).
	MetricRel = "rel"
)

// OpReport is one row of a report: the results of one op in one dtype
// (Level op), or of one check of a higher level (a layer, a quantity of the
// training steps, the stress programs).
type OpReport struct {
	Level Level
	// Name is the op's name, or the check's ("block", "gradients").
	Name string
	// Op is the op of an op-level row (0 otherwise).
	Op    backend.Op
	DType backend.DType
	// Metric is what Worst and Bound measure: MetricNMSE or MetricRel.
	Metric                        string
	Cases, Passed, Failed, Unsupp int
	// Worst is the worst error over passed and failed cases.
	Worst float64
	Bound float64
	Time  time.Duration
	// Failures are the failed results, in order.
	Failures []Result
	// Required is set for an op the catalogue does not mark Optional, in
	// f32 (in every dtype for cast, which has no f32 row): a backend needs
	// it to train I-JEPA.
	Required bool
	// Missing is set for a required op whose every case came back
	// unsupported (in f16 or bf16: although the backend lists the
	// dtypes of some of them): a backend without it cannot train I-JEPA
	// (in that dtype), so the run fails.
	Missing bool
	// listed counts the cases whose dtypes the backend lists.
	listed int
}

// Add counts one result into the row.
func (o *OpReport) Add(res Result) {
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

// Supported returns the cases the backend supports.
func (o OpReport) Supported() int { return o.Cases - o.Unsupp }

// Versions are the versions a report was made with.
type Versions struct {
	// Ijepa is the module's version, or its VCS revision ("devel" when
	// the build has neither).
	Ijepa string
	// Go is the Go toolchain's version.
	Go string
	// API is backend.APIVersion.
	API int
	// Platform is GOOS/GOARCH.
	Platform string
}

// BuildVersions returns the versions of this program.
func BuildVersions() Versions {
	v := Versions{Ijepa: "devel", Go: runtime.Version(), API: backend.APIVersion, Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Ijepa = bi.Main.Version
		}
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if v.Ijepa == "devel" && rev != "" {
			v.Ijepa = rev + dirty
		}
	}
	return v
}

// SuiteHash returns a short fingerprint of the op-level suite: every
// case's and finite-difference check's name and bound. Two reports with one
// suite hash and one seed ran the same checks on the same inputs.
func SuiteHash() string {
	h := fnv.New64a()
	for _, c := range Cases() {
		fmt.Fprintf(h, "%s %g\n", c.Name(), BoundOf(c.Op, c.Low()))
	}
	for _, g := range GradCases() {
		fmt.Fprintf(h, "%s %g\n", g.Name(), GradBound)
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// Report is the outcome of a run: what ran where, and its rows.
type Report struct {
	Mode Mode
	// Levels are the levels the run covered, in order.
	Levels []Level
	Seed   uint64
	// Backend and Device name the backend under test (its registry name
	// and device); Ref and RefDevice the reference.
	Backend, Device string
	Ref, RefDevice  string
	Versions        Versions
	// Catalogue is backend.CatalogueHash(); Suite is SuiteHash().
	Catalogue, Suite string
	// Ops are the op-level rows, one per op and dtype, in catalogue
	// order.
	Ops []OpReport
	// Checks are the rows of the higher levels (layer, step, stress).
	Checks []OpReport
	// Perf are the timings of ModePerf.
	Perf []PerfResult
	// Stopped says that Options.Stop ended the run before every case ran.
	Stopped bool
	// Duration is the wall time of the run.
	Duration time.Duration
}

// NewReport returns an empty report of a run of b against ref.
func NewReport(b, ref backend.Backend, seed uint64, mode Mode) Report {
	bi := b.Info()
	r := Report{Mode: mode, Seed: seed, Backend: bi.Backend, Device: bi.Device,
		Versions: BuildVersions(), Catalogue: backend.CatalogueHash(), Suite: SuiteHash()}
	if ref != nil {
		ri := ref.Info()
		r.Ref, r.RefDevice = ri.Backend, ri.Device
	}
	return r
}

// Rows returns every row: the op-level rows, then the others.
func (r Report) Rows() []OpReport { return append(append([]OpReport(nil), r.Ops...), r.Checks...) }

// Failed reports whether any case failed or any required op is missing.
func (r Report) Failed() bool {
	for _, o := range r.Rows() {
		if o.Failed > 0 || o.Missing {
			return true
		}
	}
	return false
}

// Missing returns the required ops the backend does not support, in one
// dtype at least.
func (r Report) Missing() []backend.Op {
	var ops []backend.Op
	for _, o := range r.Ops {
		if o.Missing && !slices.Contains(ops, o.Op) {
			ops = append(ops, o.Op)
		}
	}
	return ops
}

// Verdict returns "pass", "fail", or "stopped" for a run Ctrl-C ended
// before it failed.
func (r Report) Verdict() string {
	switch {
	case r.Failed():
		return "fail"
	case r.Stopped:
		return "stopped"
	}
	return "pass"
}

// Replay returns the command that replays one result of the report.
func (r Report) Replay(res Result) string {
	args := []string{"ijepa", "conformance", "--backend", r.Backend}
	if r.Ref != "" {
		args = append(args, "--reference", r.Ref)
	}
	if res.Args != nil {
		args = append(args, res.Args...)
	} else {
		args = append(args, "--seed", fmt.Sprint(r.Seed), "--case", res.Name)
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell where it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@^$") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Write prints the report as text: a header with the backends and the seed,
// one row per op and dtype (cases, passed, failed, unsupported, worst error
// against its bound, time on the backend under test) and per check of the
// higher levels, the perf timings, then the failing cases by name with the
// command that replays each, at most maxFailures per row (all of them when
// maxFailures is negative), one line per missing required op, and the
// verdict.
func (r Report) Write(w io.Writer, maxFailures int) error {
	fmt.Fprintf(w, "conformance: backend %s against %s, seed %d\n\n", r.Backend, r.Ref, r.Seed)
	var cases, passed, failed, unsupp int
	if rows := r.Rows(); len(rows) > 0 {
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "op\tcases\tpassed\tfailed\tunsupported\tworst error\tbound\ttime\t")
		var total time.Duration
		for _, o := range rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2e\t%.0e\t%s\t\n", o.label(), o.Cases, o.Passed, o.Failed, o.Unsupp, o.Worst, o.Bound, o.Time.Round(time.Millisecond))
			cases, passed, failed, unsupp = cases+o.Cases, passed+o.Passed, failed+o.Failed, unsupp+o.Unsupp
			total += o.Time
		}
		fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t\t\t%s\t\n", cases, passed, failed, unsupp, total.Round(time.Millisecond))
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Perf) > 0 {
		if err := writePerf(w, r); err != nil {
			return err
		}
	}
	for _, o := range r.Rows() {
		for i, f := range o.Failures {
			if maxFailures >= 0 && i >= maxFailures {
				fmt.Fprintf(w, "  ... and %d more %s failures\n", len(o.Failures)-i, o.label())
				break
			}
			fmt.Fprintf(w, "FAIL %s: %s\n  replay: %s\n", f.Name, f.Msg, r.Replay(f))
		}
	}
	missing := r.Missing()
	for _, o := range r.Ops {
		if o.Missing {
			fmt.Fprintf(w, "MISSING %s: a required op, and %s supports none of its cases\n", o.label(), r.Backend)
		}
	}
	verdict, tail := "PASS", ""
	if r.Failed() {
		verdict = "FAIL"
	}
	if len(missing) > 0 {
		tail = fmt.Sprintf(", %d required ops missing", len(missing))
	}
	if r.Mode == ModeSupport {
		_, err := fmt.Fprintf(w, "%s: %d of %d cases supported, %d unsupported%s (nothing ran)\n", verdict, cases-unsupp, cases, unsupp, tail)
		return err
	}
	if len(r.Rows()) == 0 {
		_, err := fmt.Fprintf(w, "%s: %d timings\n", verdict, len(r.Perf))
		return err
	}
	_, err := fmt.Fprintf(w, "%s: %d of %d cases passed, %d failed, %d unsupported%s (replay with --seed %d)\n", verdict, passed, cases, failed, unsupp, tail, r.Seed)
	return err
}

// label names a row in the text table: the op (with its dtype where it is
// not f32), or "level:name".
func (o OpReport) label() string {
	if o.Level == LevelOp || o.Level == "" {
		if o.DType != backend.F32 && o.DType != 0 {
			return o.Name + " " + o.DType.String()
		}
		return o.Name
	}
	return string(o.Level) + ":" + o.Name
}
