package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/conformance/level"
	"github.com/ijepa-go/ijepa/conformance/naive"
	"github.com/ijepa-go/ijepa/conformance/perf"
	"github.com/ijepa-go/ijepa/conformance/stress"
)

func init() {
	register(command{
		name:    "conformance",
		summary: "check a backend against the reference: ops, layers, training steps, random programs, timings",
		usage: "[--backend NAME] [--plugin-dir DIR] [--mode test|grad|perf|support|stress] [--level op|layer|step|all]\n" +
			"    [--format text|json|csv|markdown] [--op REGEX] [--dtype f32|f16|bf16|all] [--case NAME] [--seed N] [--reference NAME]\n" +
			"  ijepa conformance --from REPORT.json[,REPORT.json...] [--format markdown]",
		run: runConformance,
	})
}

// conformanceLevels are what --level takes, and the levels of "all".
var conformanceLevels = []conformance.Level{conformance.LevelOp, conformance.LevelLayer, conformance.LevelStep}

func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("conformance", stderr)
	spec := backendFlag(fs, "cpu", "backend to check")
	mode := fs.String("mode", "test", "test: every case and the finite-difference checks; grad: the finite-difference checks alone; perf: time the shapes of ViT-S/16 and ViT-H/14 steps; support: which cases the backend supports (nothing runs); stress: random asynchronous programs")
	levels := fs.String("level", "op", "test mode's levels, comma-separated: op (each op), layer (a ViT block, attention, the predictor), step (three training steps), or all")
	format := fs.String("format", "text", "output: text, json, csv or markdown (the support matrix of docs/BACKENDS.md)")
	opRe := fs.String("op", "", "check only ops whose name matches this regular expression")
	caseName := fs.String("case", "", "run only the case (or finite-difference check) of this exact name: the replay of one failure")
	seed := fs.Uint64("seed", 0, "seed of every input (0: a random one, printed so the run can be replayed)")
	ref := fs.String("reference", "", "reference: naive, cpu-ref or cpu (default: naive for the CPU backends, cpu-ref for the others; for perf cpu, and cpu-ref for cpu)")
	maxFail := fs.Int("failures", 10, "failing cases to print per row in text (-1: all)")
	noFD := fs.Bool("no-fd", false, "skip the finite-difference checks of backward ops")
	dtype := fs.String("dtype", "all", "check the cases of one dtype (f32, f16, bf16: a case counts under its narrowest argument) or all; a dtype the backend does not hold is reported unsupported")
	from := fs.String("from", "", "comma-separated JSON reports to print in --format instead of running anything (the matrix of docs/BACKENDS.md)")
	programs := fs.Int("programs", stress.DefaultPrograms, "stress: random programs to run")
	batch := fs.Int("batch", perf.OfficialBatch, "perf: images per step (the official per-GPU batch is 128)")
	models := fs.String("models", strings.Join(perf.Models, ","), "perf: the steps to take shapes from")
	perfTime := fs.Duration("time", time.Second, "perf: how long each call is timed at least, after one run to warm up")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if !slices.Contains(conformance.Formats, *format) {
		return fmt.Errorf("%w: --format %q: want %s", errUsage, *format, strings.Join(conformance.Formats, ", "))
	}
	if *from != "" {
		return printReports(strings.Split(*from, ","), *format, *maxFail, stdout)
	}
	m := conformance.Mode(*mode)
	if !slices.Contains(conformance.Modes, m) {
		return fmt.Errorf("%w: --mode %q: want test, grad, perf, support or stress", errUsage, *mode)
	}
	lv, err := parseLevels(*levels)
	if err != nil {
		return err
	}
	if m != conformance.ModeTest && !slices.Equal(lv, []conformance.Level{conformance.LevelOp}) {
		return fmt.Errorf("%w: --level %s: only --mode test has levels beyond op", errUsage, *levels)
	}
	opts := conformance.Options{Seed: *seed, NoGradients: *noFD, Mode: m, Case: *caseName}
	if *dtype != "all" {
		dt, err := backend.ParseDType(*dtype)
		if err != nil || !slices.Contains(backend.Floats, dt) {
			return fmt.Errorf("%w: --dtype %q: want f32, f16, bf16 or all", errUsage, *dtype)
		}
		opts.DTypes = []backend.DType{dt}
	}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64() >> 1
	}
	if *opRe != "" {
		if opts.Ops, err = opRegexp(*opRe); err != nil {
			return err
		}
	}
	b, err := openBackend(ctx, *spec)
	if err != nil {
		return err
	}
	defer b.Close()
	if opts.Reference, err = openReference(*ref, b.Info().Backend, m); err != nil {
		return err
	}
	defer opts.Reference.Close()
	opts.Reopen = func() (backend.Backend, error) { return backend.Open(*spec) }
	opts.Stop = func() bool { return ctx.Err() != nil }

	var rep conformance.Report
	switch m {
	case conformance.ModePerf:
		rep = conformance.NewReport(b, opts.Reference, opts.Seed, m)
		start := time.Now()
		rep.Perf, err = perf.Run(b, opts.Reference, perf.Options{Batch: *batch, Models: strings.Split(*models, ","), Ops: opts.Ops, Seed: opts.Seed, MinTime: *perfTime, Stop: opts.Stop, Reopen: opts.Reopen})
		rep.Duration, rep.Stopped = time.Since(start), ctx.Err() != nil
		if err != nil {
			return err
		}
	case conformance.ModeStress:
		rep = conformance.NewReport(b, opts.Reference, opts.Seed, m)
		rep.Levels = []conformance.Level{conformance.LevelStress}
		start := time.Now()
		row := stress.Run(b, opts.Reference, stress.Options{Seed: opts.Seed, Programs: *programs, Ops: opts.Ops, Reopen: opts.Reopen, Stop: opts.Stop})
		rep.Checks = []conformance.OpReport{row}
		rep.Duration, rep.Stopped = time.Since(start), ctx.Err() != nil
	default:
		if slices.Contains(lv, conformance.LevelOp) {
			rep = conformance.Run(b, opts)
		} else {
			rep = conformance.NewReport(b, opts.Reference, opts.Seed, m)
		}
		rep.Levels = lv
		if b.Err() != nil { // an op case left it unusable: the levels get a fresh one
			if nb, err := opts.Reopen(); err == nil {
				defer nb.Close()
				b = nb
			}
		}
		start := time.Now()
		lopts := level.Options{Seed: opts.Seed, Reference: opts.Reference, Stop: opts.Stop}
		if slices.Contains(lv, conformance.LevelLayer) && !rep.Stopped {
			rep.Checks = append(rep.Checks, level.Layers(b, lopts)...)
		}
		if slices.Contains(lv, conformance.LevelStep) && !rep.Stopped {
			rep.Checks = append(rep.Checks, level.Steps(b, lopts)...)
		}
		rep.Duration += time.Since(start)
		rep.Stopped = rep.Stopped || ctx.Err() != nil
	}
	rep.Backend = *spec // what --backend takes, for the replay commands
	if err := rep.Format(stdout, *format, *maxFail); err != nil {
		return err
	}
	if rep.Stopped {
		return fmt.Errorf("interrupted: the report above covers only the cases run before: %w", ctx.Err())
	}
	if rep.Failed() {
		return exitCode(1)
	}
	return nil
}

// parseLevels reads --level: levels separated by commas, or all.
func parseLevels(s string) ([]conformance.Level, error) {
	if s == "all" {
		return conformanceLevels, nil
	}
	var out []conformance.Level
	for _, p := range strings.Split(s, ",") {
		l := conformance.Level(p)
		if !slices.Contains(conformanceLevels, l) {
			return nil, fmt.Errorf("%w: --level %q: want op, layer, step or all (or several, comma-separated)", errUsage, p)
		}
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b conformance.Level) int {
		return slices.Index(conformanceLevels, a) - slices.Index(conformanceLevels, b)
	})
	return out, nil
}

// opRegexp compiles --op and refuses one that matches no op.
func opRegexp(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("%w: --op: %v", errUsage, err)
	}
	var names []string
	for _, op := range backend.Ops() {
		if re.MatchString(op.String()) {
			return re, nil
		}
		names = append(names, op.String())
	}
	return nil, fmt.Errorf("%w: --op %q matches no op (ops: %s)", errUsage, expr, strings.Join(names, " "))
}

// openReference opens --reference, or the default reference of a run:
// the fast cpu backend for timings (cpu-ref for cpu's), naive (float64)
// for the CPU backends' checks, cpu-ref for every other backend's.
func openReference(r, name string, m conformance.Mode) (backend.Backend, error) {
	cpuBackend := name == "cpu" || name == "cpu-ref"
	switch {
	case r == "" && m == conformance.ModePerf && name == "cpu":
		r = "cpu-ref"
	case r == "" && m == conformance.ModePerf:
		r = "cpu"
	case r == "" && cpuBackend:
		r = "naive"
	case r == "":
		r = "cpu-ref"
	}
	switch r {
	case "naive":
		return naive.New(), nil
	case "cpu", "cpu-ref":
		return backend.Open(r)
	}
	return nil, fmt.Errorf("%w: --reference %q: want naive, cpu-ref or cpu", errUsage, r)
}

// printReports prints JSON reports in a format: the Markdown matrix of all
// of them, or each in turn.
func printReports(paths []string, format string, maxFail int, w io.Writer) error {
	var reps []conformance.Report
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		r, err := conformance.ReadJSON(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		reps = append(reps, r)
	}
	if format == "markdown" {
		return conformance.WriteMarkdown(w, reps)
	}
	for _, r := range reps {
		if err := r.Format(w, format, maxFail); err != nil {
			return err
		}
	}
	return nil
}
