package conformance

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaVersion is the version of the JSON report's schema
// (report.schema.json, documented in docs/CONFORMANCE.md). It changes when
// a field is removed or changes meaning; added fields keep it.
const SchemaVersion = 1

// Schema is the JSON Schema (draft 2020-12) of WriteJSON's output.
//
//go:embed report.schema.json
var Schema []byte

var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("report.schema.json")
})

// ValidateJSON checks a JSON report against Schema.
func ValidateJSON(data []byte) error {
	sch, err := compiled()
	if err != nil {
		return fmt.Errorf("conformance: the report schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("conformance: a JSON report: %w", err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("conformance: the JSON report does not follow the schema: %w", err)
	}
	return nil
}

// Formats lists the output formats of Report.Format.
var Formats = []string{"text", "json", "csv", "markdown"}

// Format writes the report in one of Formats; text prints at most
// maxFailures failures per row (all when negative), the others all.
func (r Report) Format(w io.Writer, format string, maxFailures int) error {
	switch format {
	case "text", "":
		return r.Write(w, maxFailures)
	case "json":
		return r.WriteJSON(w)
	case "csv":
		return r.WriteCSV(w)
	case "markdown":
		return WriteMarkdown(w, []Report{r})
	}
	return fmt.Errorf("conformance: unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// PerfResult is one timing of ModePerf: an op at one fixed shape of a
// training step, on the backend under test and on the reference.
type PerfResult struct {
	// Model names the step the shape is from ("vit_small/16 batch 128").
	Model string
	// Name says where in the step the op is ("mlp fc1 forward").
	Name  string
	Op    backend.Op
	DType backend.DType
	// Case is the call's name (its shapes and attributes).
	Case string
	// Flops and Bytes are the floating-point operations and the bytes
	// read and written by one run.
	Flops, Bytes float64
	// Runs and Time are the runs timed and the time of one run on the
	// backend under test; RefRuns and RefTime the same on the reference
	// (0 runs: not timed).
	Runs    int
	Time    time.Duration
	RefRuns int
	RefTime time.Duration
	// Err says why the backend did not run the call (unsupported, an
	// error); empty when it ran.
	Err string
}

// rate returns amount/t in units of 1e9 per second (0 when t is 0).
func rate(amount float64, t time.Duration) float64 {
	if t <= 0 {
		return 0
	}
	return amount / t.Seconds() / 1e9
}

// GFLOPS returns the backend's rate of floating-point operations.
func (p PerfResult) GFLOPS() float64 { return rate(p.Flops, p.Time) }

// GBS returns the backend's rate of memory traffic in GB/s.
func (p PerfResult) GBS() float64 { return rate(p.Bytes, p.Time) }

// writePerf prints the timings as a table, the call last.
func writePerf(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "step\twhere\tdtype\ttime\tGFLOP/s\tGB/s\t%s time\t%s GFLOP/s\t%s GB/s\tcall\n", r.Ref, r.Ref, r.Ref)
	for _, p := range r.Perf {
		if p.Err != "" {
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t\t\t\t\t\t%s\n", p.Model, p.Name, p.DType, p.Err, p.Case)
			continue
		}
		ref := "\t\t"
		if p.RefRuns > 0 {
			ref = fmt.Sprintf("%s\t%.1f\t%.1f", durationString(p.RefTime), rate(p.Flops, p.RefTime), rate(p.Bytes, p.RefTime))
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%.1f\t%.1f\t%s\t%s\n", p.Model, p.Name, p.DType, durationString(p.Time), p.GFLOPS(), p.GBS(), ref, p.Case)
	}
	return tw.Flush()
}

func durationString(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(100 * time.Nanosecond).String()
}

// The JSON form of a report (report.schema.json).
type (
	jsonReport struct {
		Schema     int          `json:"schema_version"`
		Tool       string       `json:"tool"`
		Mode       Mode         `json:"mode"`
		Levels     []Level      `json:"levels"`
		Backend    jsonDevice   `json:"backend"`
		Reference  *jsonDevice  `json:"reference"`
		Versions   jsonVersions `json:"versions"`
		Catalogue  string       `json:"catalogue_hash"`
		Suite      string       `json:"suite_hash"`
		Seed       uint64       `json:"seed"`
		Verdict    string       `json:"verdict"`
		Duration   float64      `json:"duration_s"`
		Summary    jsonSummary  `json:"summary"`
		Results    []jsonRow    `json:"results"`
		Perf       []jsonPerf   `json:"perf"`
		MissingOps []string     `json:"missing_ops"`
	}
	jsonDevice struct {
		Name   string `json:"name"`
		Device string `json:"device"`
	}
	jsonVersions struct {
		Ijepa    string `json:"ijepa"`
		Go       string `json:"go"`
		API      int    `json:"api"`
		Platform string `json:"platform"`
	}
	jsonSummary struct {
		Cases       int `json:"cases"`
		Passed      int `json:"passed"`
		Failed      int `json:"failed"`
		Unsupported int `json:"unsupported"`
	}
	jsonRow struct {
		Level       Level         `json:"level"`
		Name        string        `json:"name"`
		DType       string        `json:"dtype"`
		Required    bool          `json:"required"`
		Missing     bool          `json:"missing"`
		Cases       int           `json:"cases"`
		Passed      int           `json:"passed"`
		Failed      int           `json:"failed"`
		Unsupported int           `json:"unsupported"`
		Metric      string        `json:"metric"`
		Worst       *float64      `json:"worst_error"`
		Bound       float64       `json:"bound"`
		Time        float64       `json:"time_s"`
		Failures    []jsonFailure `json:"failures"`
	}
	jsonFailure struct {
		Case    string   `json:"case"`
		Message string   `json:"message"`
		Error   *float64 `json:"error"`
		Replay  string   `json:"replay"`
	}
	jsonPerf struct {
		Model     string   `json:"model"`
		Name      string   `json:"name"`
		Op        string   `json:"op"`
		DType     string   `json:"dtype"`
		Case      string   `json:"case"`
		Flops     float64  `json:"flops"`
		Bytes     float64  `json:"bytes"`
		Runs      int      `json:"runs"`
		Time      *float64 `json:"time_s"`
		GFLOPS    *float64 `json:"gflops"`
		GBS       *float64 `json:"gbs"`
		RefRuns   int      `json:"ref_runs"`
		RefTime   *float64 `json:"ref_time_s"`
		RefGFLOPS *float64 `json:"ref_gflops"`
		RefGBS    *float64 `json:"ref_gbs"`
		Err       string   `json:"error,omitempty"`
	}
)

// finite returns &x, or nil (JSON null) for NaN and infinities.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// seconds returns d in seconds, nil when runs is 0 (not timed).
func seconds(d time.Duration, runs int) *float64 {
	if runs == 0 {
		return nil
	}
	return finite(d.Seconds())
}

// WriteJSON writes the report as one JSON object (report.schema.json).
func (r Report) WriteJSON(w io.Writer) error {
	j := jsonReport{Schema: SchemaVersion, Tool: "ijepa conformance", Mode: r.Mode, Levels: r.Levels,
		Backend:  jsonDevice{r.Backend, r.Device},
		Versions: jsonVersions(r.Versions), Catalogue: r.Catalogue, Suite: r.Suite, Seed: r.Seed,
		Verdict: r.Verdict(), Duration: r.Duration.Seconds(), Results: []jsonRow{}, Perf: []jsonPerf{}, MissingOps: []string{}}
	if j.Levels == nil {
		j.Levels = []Level{}
	}
	if r.Ref != "" {
		j.Reference = &jsonDevice{r.Ref, r.RefDevice}
	}
	for _, o := range r.Rows() {
		row := jsonRow{Level: o.Level, Name: o.Name, DType: o.DType.String(), Required: o.Required, Missing: o.Missing,
			Cases: o.Cases, Passed: o.Passed, Failed: o.Failed, Unsupported: o.Unsupp, Metric: o.Metric,
			Worst: finite(o.Worst), Bound: o.Bound, Time: o.Time.Seconds(), Failures: []jsonFailure{}}
		for _, f := range o.Failures {
			row.Failures = append(row.Failures, jsonFailure{Case: f.Name, Message: f.Msg, Error: finite(f.Err), Replay: r.Replay(f)})
		}
		j.Results = append(j.Results, row)
		j.Summary.Cases += o.Cases
		j.Summary.Passed += o.Passed
		j.Summary.Failed += o.Failed
		j.Summary.Unsupported += o.Unsupp
	}
	for _, op := range r.Missing() {
		j.MissingOps = append(j.MissingOps, op.String())
	}
	for _, p := range r.Perf {
		jp := jsonPerf{Model: p.Model, Name: p.Name, Op: p.Op.String(), DType: p.DType.String(), Case: p.Case,
			Flops: p.Flops, Bytes: p.Bytes, Runs: p.Runs, Time: seconds(p.Time, p.Runs), RefRuns: p.RefRuns,
			RefTime: seconds(p.RefTime, p.RefRuns), Err: p.Err}
		if p.Runs > 0 {
			jp.GFLOPS, jp.GBS = finite(p.GFLOPS()), finite(p.GBS())
		}
		if p.RefRuns > 0 {
			jp.RefGFLOPS, jp.RefGBS = finite(rate(p.Flops, p.RefTime)), finite(rate(p.Bytes, p.RefTime))
		}
		j.Perf = append(j.Perf, jp)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(j)
}

// ReadJSON reads a report WriteJSON wrote, checked against Schema. What
// the JSON does not hold (the failures' cases, beyond their names) stays
// zero.
func ReadJSON(rd io.Reader) (Report, error) {
	data, err := io.ReadAll(rd)
	if err != nil {
		return Report{}, err
	}
	var j jsonReport
	if err := json.Unmarshal(data, &j); err != nil {
		return Report{}, fmt.Errorf("conformance: read a JSON report: %w", err)
	}
	if j.Schema != SchemaVersion {
		return Report{}, fmt.Errorf("conformance: a JSON report of schema version %d; this program reads version %d", j.Schema, SchemaVersion)
	}
	if err := ValidateJSON(data); err != nil {
		return Report{}, err
	}
	r := Report{Mode: j.Mode, Levels: j.Levels, Seed: j.Seed, Backend: j.Backend.Name, Device: j.Backend.Device,
		Versions: Versions(j.Versions), Catalogue: j.Catalogue, Suite: j.Suite,
		Duration: time.Duration(j.Duration * float64(time.Second)), Stopped: j.Verdict == "stopped"}
	if j.Reference != nil {
		r.Ref, r.RefDevice = j.Reference.Name, j.Reference.Device
	}
	for _, jr := range j.Results {
		o := OpReport{Level: jr.Level, Name: jr.Name, DType: parseDType(jr.DType), Metric: jr.Metric, Required: jr.Required,
			Missing: jr.Missing, Cases: jr.Cases, Passed: jr.Passed, Failed: jr.Failed, Unsupp: jr.Unsupported,
			Bound: jr.Bound, Time: time.Duration(jr.Time * float64(time.Second))}
		if jr.Worst != nil {
			o.Worst = *jr.Worst
		}
		for _, f := range jr.Failures {
			res := Result{Name: f.Case, Kind: "fail", Msg: f.Message, Err: math.NaN()}
			if f.Error != nil {
				res.Err = *f.Error
			}
			o.Failures = append(o.Failures, res)
		}
		if jr.Level == LevelOp {
			op, err := backend.ParseOp(jr.Name)
			if err != nil {
				return Report{}, fmt.Errorf("conformance: JSON report of %s: %w", r.Backend, err)
			}
			o.Op = op
			r.Ops = append(r.Ops, o)
		} else {
			r.Checks = append(r.Checks, o)
		}
	}
	sec := func(x *float64) time.Duration {
		if x == nil {
			return 0
		}
		return time.Duration(*x * float64(time.Second))
	}
	for _, jp := range j.Perf {
		op, err := backend.ParseOp(jp.Op)
		if err != nil {
			return Report{}, fmt.Errorf("conformance: JSON report of %s: %w", r.Backend, err)
		}
		r.Perf = append(r.Perf, PerfResult{Model: jp.Model, Name: jp.Name, Op: op, DType: parseDType(jp.DType), Case: jp.Case,
			Flops: jp.Flops, Bytes: jp.Bytes, Runs: jp.Runs, Time: sec(jp.Time), RefRuns: jp.RefRuns, RefTime: sec(jp.RefTime), Err: jp.Err})
	}
	return r, nil
}

func parseDType(s string) backend.DType {
	for d := backend.F32; d.Valid(); d++ {
		if d.String() == s {
			return d
		}
	}
	return 0
}

// WriteCSV writes the report as CSV with a header line: one line per row
// (level op, layer, step or stress), or, for a perf run, one per timing.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	if r.Mode == ModePerf {
		cw.Write([]string{"backend", "device", "reference", "model", "name", "op", "dtype", "case", "flops", "bytes",
			"runs", "time_s", "gflops", "gbs", "ref_runs", "ref_time_s", "ref_gflops", "ref_gbs", "error"})
		for _, p := range r.Perf {
			cw.Write([]string{r.Backend, r.Device, r.Ref, p.Model, p.Name, p.Op.String(), p.DType.String(), p.Case,
				f(p.Flops), f(p.Bytes), fmt.Sprint(p.Runs), f(p.Time.Seconds()), f(p.GFLOPS()), f(p.GBS()),
				fmt.Sprint(p.RefRuns), f(p.RefTime.Seconds()), f(rate(p.Flops, p.RefTime)), f(rate(p.Bytes, p.RefTime)), p.Err})
		}
	} else {
		cw.Write([]string{"backend", "device", "reference", "mode", "seed", "level", "name", "dtype", "required", "missing",
			"cases", "passed", "failed", "unsupported", "metric", "worst_error", "bound", "time_s"})
		for _, o := range r.Rows() {
			cw.Write([]string{r.Backend, r.Device, r.Ref, string(r.Mode), fmt.Sprint(r.Seed), string(o.Level), o.Name,
				o.DType.String(), fmt.Sprint(o.Required), fmt.Sprint(o.Missing), fmt.Sprint(o.Cases), fmt.Sprint(o.Passed),
				fmt.Sprint(o.Failed), fmt.Sprint(o.Unsupp), o.Metric, f(o.Worst), f(o.Bound), f(o.Time.Seconds())})
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteMarkdown writes the support matrix of one or more reports as a
// Markdown table, as docs/BACKENDS.md shows it: a row per op and dtype
// (then per check of the higher levels), a column per report, each cell
// one of
//
//	✓        every case ran and passed
//	✓ p/n    p of n cases passed, the rest unsupported
//	✗ f/n    f of n cases failed
//	—        no case supported (MISSING for a required op)
//	s/n      support mode: s of n cases supported (nothing ran)
//
// and an empty cell where the report has no such row. The timings of perf
// reports follow, a table per report.
func WriteMarkdown(w io.Writer, reports []Report) error {
	if err := writeMatrix(w, reports); err != nil {
		return err
	}
	for _, r := range reports {
		if len(r.Perf) == 0 {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\n%s (%s) against %s (%s):\n\n", r.Backend, r.Device, r.Ref, r.RefDevice)
		fmt.Fprintf(&b, "| step | where | dtype | call | time | GFLOP/s | GB/s | %s time | %s GFLOP/s | %s GB/s |\n|---|---|---|---|---|---|---|---|---|---|\n", r.Ref, r.Ref, r.Ref)
		num := func(x float64) string {
			if x == 0 {
				return ""
			}
			return fmt.Sprintf("%.1f", x)
		}
		for _, p := range r.Perf {
			if p.Err != "" {
				fmt.Fprintf(&b, "| %s | %s | %v | `%s` | %s | | | | | |\n", p.Model, p.Name, p.DType, p.Case, p.Err)
				continue
			}
			ref := " | |"
			if p.RefRuns > 0 {
				ref = fmt.Sprintf("%s | %s | %s", durationString(p.RefTime), num(rate(p.Flops, p.RefTime)), num(rate(p.Bytes, p.RefTime)))
			}
			fmt.Fprintf(&b, "| %s | %s | %v | `%s` | %s | %s | %s | %s |\n", p.Model, p.Name, p.DType, p.Case, durationString(p.Time), num(p.GFLOPS()), num(p.GBS()), ref)
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// writeMatrix writes WriteMarkdown's matrix (nothing when no report has
// rows).
func writeMatrix(w io.Writer, reports []Report) error {
	type key struct {
		level Level
		name  string
		dt    backend.DType
	}
	var keys []key
	seen := map[key]bool{}
	cells := make([]map[key]string, len(reports))
	for i, r := range reports {
		cells[i] = map[key]string{}
		for _, o := range r.Rows() {
			k := key{o.Level, o.Name, o.DType}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
			cells[i][k] = cell(o, r.Mode)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("| level | op or check | dtype |")
	for _, r := range reports {
		fmt.Fprintf(&b, " %s |", r.Backend)
	}
	b.WriteString("\n|---|---|---|")
	for range reports {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | `%s` | %s |", k.level, k.name, k.dt)
		for i := range reports {
			fmt.Fprintf(&b, " %s |", cells[i][k])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell is a row's entry in the Markdown matrix.
func cell(o OpReport, mode Mode) string {
	switch {
	case mode == ModeSupport:
		return fmt.Sprintf("%d/%d", o.Supported(), o.Cases)
	case o.Missing:
		return "MISSING"
	case o.Failed > 0:
		return fmt.Sprintf("✗ %d/%d", o.Failed, o.Cases)
	case o.Cases == 0 || o.Unsupp == o.Cases:
		return "—"
	case o.Unsupp > 0:
		return fmt.Sprintf("✓ %d/%d", o.Passed, o.Cases)
	}
	return "✓"
}
