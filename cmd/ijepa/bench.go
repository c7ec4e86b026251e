package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/backend/vulkan"
	"github.com/ijepa-go/ijepa/bench"
	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/nn/amp"
)

func init() {
	register(command{
		name:    "bench",
		summary: "time training steps (img/s, ms/step, per-op times, peak memory), optionally against PyTorch; --data: the data loader's img/s alone",
		usage:   "[--config tiny32|small224] [--backend NAME] [--plugin-dir DIR] [--steps N] [--precision fp32|bf16|fp16[,...]] [--torch] | --data DIR [--generate N] [--workers 1,2] [--batches N]",
		run:     runBench,
	})
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("bench", stderr)
	cfgName := fs.String("config", "tiny32", "a training preset (ijepa/config); tiny32 and small224 are the ones the PyTorch anchor also runs")
	spec := backendFlag(fs, "cpu", "backend")
	warmup := fs.Int("warmup", 2, "untimed warm-up steps")
	steps := fs.Int("steps", 4, "timed steps")
	opSteps := fs.Int("op-steps", 2, "further steps with every op timed, for the per-op table (0: none)")
	shapes := fs.Int("shapes", 12, "matrix-product shapes to list in the per-op table (-1: all)")
	seed := fs.Uint64("seed", 1, "seed of the model and the batches")
	torch := fs.Bool("torch", false, "also run the PyTorch anchor on the same config and print the ratios")
	anchor := fs.String("anchor", "", "the PyTorch anchor script (default: the copy built in, bench/anchor/torch_ijepa_step.py)")
	python := fs.String("python", "/usr/bin/python3", "the Python that has torch (Debian's python3-torch)")
	threads := fs.Int("torch-threads", runtime.GOMAXPROCS(0), "threads for PyTorch (default: the Go threads)")
	rounds := fs.Int("rounds", 1, "timed rounds, alternating with the anchor under --torch; the best round of each counts (a shared machine's load comes and goes)")
	precs := fs.String("precision", "fp32", "precisions to train in, comma-separated (fp32, bf16, fp16); a 16-bit one runs beside fp32, each on a backend of its own, alternating round by round, and the ratios to fp32 are printed (under mpirun: the one precision named)")
	df := addDataBenchFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *df.dir != "" {
		return runDataBench(ctx, df, *cfgName, *seed, *rounds, stdout, stderr)
	}
	cfg, err := bench.LookupConfig(*cfgName)
	if err != nil {
		return fmt.Errorf("%w: --config: %v", errUsage, err)
	}
	if *steps < 1 || *rounds < 1 || *warmup < 0 || *opSteps < 0 {
		return fmt.Errorf("%w: --steps and --rounds must be at least 1, --warmup and --op-steps not negative", errUsage)
	}
	world, err := openWorld()
	if err != nil {
		return err
	}
	defer func() { err = leaveWorld(world, "bench", stderr, err) }()
	if world.Size() > 1 {
		if *torch {
			return fmt.Errorf("%w: --torch compares one process with PyTorch; run it without mpirun", errUsage)
		}
		if world.Rank() != 0 {
			stdout = io.Discard
		}
	}
	precisions, err := parsePrecisions(*precs, world.Size() > 1)
	if err != nil {
		return err
	}
	runs := make([]*precisionRun, len(precisions))
	for i, p := range precisions {
		r := &precisionRun{p: p}
		if r.be, err = openBackend(ctx, dist.DeviceSpec(*spec, world)); err != nil {
			return err
		}
		defer r.be.Close()
		c := cfg
		c.Precision = p
		// Each rank draws its own batches (its own mask sizes, as in training).
		if r.sess, err = bench.NewSession(r.be, c, *seed+uint64(world.Rank())); err != nil {
			return err
		}
		defer r.sess.Close()
		runs[i] = r
	}
	be, sess := runs[0].be, runs[0].sess
	info := be.Info()
	fmt.Fprintf(stdout, "bench %s on %s: %s\n", cfg.Name, info.Backend, info.Device)
	for _, l := range info.Limits {
		fmt.Fprintf(stdout, "  %s: %s\n", l[0], l[1])
	}
	fmt.Fprintf(stdout, "  batch %d, %d warm-up steps, %d round(s) of %d timed steps, GOMAXPROCS %d, precision %s\n", cfg.Batch, *warmup, *rounds, *steps, runtime.GOMAXPROCS(0), *precs)
	if world.Size() > 1 {
		fmt.Fprintf(stdout, "  data parallel: %d ranks, batch %d per rank, %s\n", world.Size(), cfg.Batch, world.Describe())
		if err := sess.Distribute(world); err != nil {
			return err
		}
	}
	for _, r := range runs {
		if _, err := r.sess.Steps(ctx, *warmup); err != nil {
			return interrupted(ctx, err, "warming up", "nothing measured")
		}
	}
	var bestWorld bench.WorldResult
	var bestTorch bench.Anchor
	var anchorErr error
	for round := 1; round <= *rounds; round++ {
		if world.Size() > 1 {
			var res bench.Result
			if err := res.Timed(ctx, sess, *steps); err != nil {
				return interrupted(ctx, err, "timing steps", "the rounds above are all that was measured")
			}
			w, err := sess.Gather(res)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "round %d: %.2f img/s in all (%.1f ms/step, all-reduce %.1f ms/step, %.0f%% hidden)\n", round, w.Total, w.MsPerStep, w.ReduceMs, 100*w.Hidden())
			if w.Total > bestWorld.Total { // the same choice on every rank
				runs[0].best, bestWorld = res, w
			}
			continue
		}
		line := fmt.Sprintf("round %d:", round)
		for i, r := range runs {
			var res bench.Result
			if err := res.Timed(ctx, r.sess, *steps); err != nil {
				return interrupted(ctx, err, "timing steps", "the rounds above are all that was measured")
			}
			if res.ImgPerS > r.best.ImgPerS {
				r.best = res
			}
			if i > 0 {
				line += ","
			}
			line += fmt.Sprintf(" ijepa %s%.2f img/s (%.1f ms/step)", r.label(len(runs)), res.ImgPerS, res.MsPerStep)
		}
		if *torch && anchorErr == nil {
			var a bench.Anchor
			a, anchorErr = bench.RunAnchor(ctx, bench.AnchorOptions{Python: *python, Script: *anchor, Config: cfg.Name, Threads: *threads, Steps: *steps})
			if anchorErr != nil && !errors.Is(anchorErr, bench.ErrAnchorUnavailable) {
				return anchorErr
			}
			if anchorErr == nil {
				line += fmt.Sprintf(", torch %.2f img/s (%.1f ms/step)", a.ImgPerSec, a.MsPerStep)
				if a.ImgPerSec > bestTorch.ImgPerSec {
					peak := max(a.PeakRSS, bestTorch.PeakRSS)
					bestTorch = a
					bestTorch.PeakRSS = peak
				} else {
					bestTorch.PeakRSS = max(a.PeakRSS, bestTorch.PeakRSS)
				}
			}
		}
		if *rounds > 1 || *torch || len(runs) > 1 {
			fmt.Fprintln(stdout, line)
		}
	}
	if *opSteps > 0 {
		for _, r := range runs {
			if err := r.best.PerOp(ctx, r.sess, *opSteps); err != nil {
				return interrupted(ctx, err, "timing every op", "the per-op table is not printed")
			}
		}
	}
	peakRSS := bench.PeakRSS()
	if *rounds > 1 {
		fmt.Fprintf(stdout, "best of %d rounds:\n", *rounds)
	}
	if world.Size() > 1 {
		bestWorld.Write(stdout, cfg.Name, info.Backend)
		fmt.Fprintf(stdout, "rank 0: ")
	}
	for _, r := range runs {
		fmt.Fprintf(stdout, "ijepa %s %s %s: %.1f ms/step %.2f img/s%s, last loss %.4f\n", cfg.Name, info.Backend, r.p, r.best.MsPerStep, r.best.ImgPerS, splitLine(r.best), r.sess.Loss())
		if s := cpu.Stats(r.be); s.PeakAsked > 0 {
			r.peak = s.PeakAsked
			fmt.Fprintf(stdout, "  cpu memory pool: live tensors asked for %s at most at once, the pool's footprint peaked at %s (%.2fx)\n",
				mib(s.PeakAsked), mib(s.High), float64(s.High)/float64(s.PeakAsked))
		}
		if s := vulkan.Stats(r.be); s.PeakInUse > 0 {
			r.peak = s.PeakInUse
			fmt.Fprintf(stdout, "  vulkan device memory: live tensors held %s at most at once, in blocks of %s now\n", mib(s.PeakInUse), mib(s.Allocated))
		}
		if m, err := r.sess.Counted(); err == nil {
			r.counted = m.Peak
			fmt.Fprintf(stdout, "  tensors of a step, counted: model state %s, step peak %s\n", mib(m.State), mib(m.Peak))
		}
	}
	for _, r := range runs[1:] {
		base := runs[0]
		fmt.Fprintf(stdout, "%s/fp32: %.2fx the images/s, %.2fx the counted step peak", r.p, r.best.ImgPerS/base.best.ImgPerS, float64(r.counted)/float64(base.counted))
		if r.peak > 0 && base.peak > 0 {
			fmt.Fprintf(stdout, ", %.2fx the backend's peak of live tensors", float64(r.peak)/float64(base.peak))
		}
		fmt.Fprintln(stdout)
	}
	best := runs[0].best
	best.PeakRSS = peakRSS
	fmt.Fprintf(stdout, "peak RSS %s (the whole process), %.0f page faults per step (%s)\n", mib(best.PeakRSS), best.FaultsPerStep, runs[0].p)
	if strings.HasPrefix(info.Backend, "plugin:") {
		fmt.Fprintln(stdout, "  (this process only: the plugin's memory is in its own process)")
	}
	if *torch {
		if anchorErr != nil {
			fmt.Fprintf(stdout, "torch anchor skipped: %v\n", anchorErr)
		} else {
			fmt.Fprintf(stdout, "torch anchor: %s\n", bestTorch.Line)
			fmt.Fprintf(stdout, "torch peak RSS %s\n", mib(bestTorch.PeakRSS))
			fmt.Fprintf(stdout, "ratio ijepa/torch: %.2fx the images/s", best.ImgPerS/bestTorch.ImgPerSec)
			if bestTorch.PeakRSS > 0 && best.PeakRSS > 0 {
				fmt.Fprintf(stdout, ", %.2fx the peak memory", float64(best.PeakRSS)/float64(bestTorch.PeakRSS))
			}
			fmt.Fprintln(stdout)
		}
	}
	for _, r := range runs {
		if r.best.Split != nil {
			fmt.Fprintf(stdout, "per step in %s, on each backend of the composite:\n", r.p)
			if err := r.best.Split.Write(stdout, r.best.Steps); err != nil {
				return err
			}
		}
	}
	for _, r := range runs {
		if r.best.OpSteps > 0 {
			fmt.Fprintf(stdout, "\nper op in %s, over %d steps with every op synchronised and timed:\n", r.p, r.best.OpSteps)
			if err := r.best.Profile.WriteTable(stdout, r.best.OpSteps, *shapes); err != nil {
				return err
			}
		}
	}
	return nil
}

// precisionRun is one precision of a bench run: its backend, session and
// best round.
type precisionRun struct {
	p             amp.Precision
	be            backend.Backend
	sess          *bench.Session
	best          bench.Result
	peak, counted int64
}

// label names the run in a round's line when several precisions run.
func (r *precisionRun) label(runs int) string {
	if runs == 1 {
		return ""
	}
	return r.p.String() + " "
}

// parsePrecisions parses --precision: fp32 first (the baseline every other
// precision is compared with), then the others named, each once; under
// mpirun (alone), exactly the one precision named.
func parsePrecisions(s string, alone bool) ([]amp.Precision, error) {
	var named []amp.Precision
	for _, name := range strings.Split(s, ",") {
		p, err := amp.ParsePrecision(strings.TrimSpace(name))
		if err != nil {
			return nil, fmt.Errorf("%w: --precision: %v", errUsage, err)
		}
		if !slices.Contains(named, p) {
			named = append(named, p)
		}
	}
	if alone {
		if len(named) != 1 {
			return nil, fmt.Errorf("%w: --precision %s: under mpirun bench runs one precision (compare precisions in one process, without mpirun)", errUsage, s)
		}
		return named, nil
	}
	out := []amp.Precision{amp.FP32}
	for _, p := range named {
		if p != amp.FP32 {
			out = append(out, p)
		}
	}
	return out, nil
}

func mib(n int64) string {
	if n <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}

// splitLine is what the img/s line adds on a composite backend: the bytes
// copied between its backends per step.
func splitLine(r bench.Result) string {
	if r.Split == nil {
		return ""
	}
	return ", " + r.Split.Summary(r.Steps)
}
