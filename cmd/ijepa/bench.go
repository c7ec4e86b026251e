package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/bench"
	"github.com/ijepa-go/ijepa/dist"
)

func init() {
	register(command{
		name:    "bench",
		summary: "time training steps (img/s, ms/step, per-op times, peak memory), optionally against PyTorch; --data: the data loader's img/s alone",
		usage:   "[--config tiny32|small224] [--backend NAME] [--plugin-dir DIR] [--steps N] [--torch] | --data DIR [--generate N] [--workers 1,2] [--batches N]",
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
	be, err := openBackend(ctx, dist.DeviceSpec(*spec, world))
	if err != nil {
		return err
	}
	defer be.Close()
	info := be.Info()
	fmt.Fprintf(stdout, "bench %s on %s: %s\n", cfg.Name, info.Backend, info.Device)
	for _, l := range info.Limits {
		fmt.Fprintf(stdout, "  %s: %s\n", l[0], l[1])
	}
	fmt.Fprintf(stdout, "  batch %d, %d warm-up steps, %d round(s) of %d timed steps, GOMAXPROCS %d\n", cfg.Batch, *warmup, *rounds, *steps, runtime.GOMAXPROCS(0))
	// Each rank draws its own batches (its own mask sizes, as in training).
	sess, err := bench.NewSession(be, cfg, *seed+uint64(world.Rank()))
	if err != nil {
		return err
	}
	defer sess.Close()
	if world.Size() > 1 {
		fmt.Fprintf(stdout, "  data parallel: %d ranks, batch %d per rank, %s\n", world.Size(), cfg.Batch, world.Describe())
		if err := sess.Distribute(world); err != nil {
			return err
		}
	}
	if _, err := sess.Steps(ctx, *warmup); err != nil {
		return interrupted(ctx, err, "warming up", "nothing measured")
	}
	var bestWorld bench.WorldResult
	var best bench.Result
	var bestTorch bench.Anchor
	var anchorErr error
	for r := 1; r <= *rounds; r++ {
		var res bench.Result
		if err := res.Timed(ctx, sess, *steps); err != nil {
			return interrupted(ctx, err, "timing steps", "the rounds above are all that was measured")
		}
		if world.Size() > 1 {
			w, err := sess.Gather(res)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "round %d: %.2f img/s in all (%.1f ms/step, all-reduce %.1f ms/step, %.0f%% hidden)\n", r, w.Total, w.MsPerStep, w.ReduceMs, 100*w.Hidden())
			if w.Total > bestWorld.Total { // the same choice on every rank
				best, bestWorld = res, w
			}
			continue
		}
		if res.ImgPerS > best.ImgPerS {
			best = res
		}
		line := fmt.Sprintf("round %d: ijepa %.2f img/s (%.1f ms/step)", r, res.ImgPerS, res.MsPerStep)
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
		if *rounds > 1 || *torch {
			fmt.Fprintln(stdout, line)
		}
	}
	if *opSteps > 0 {
		if err := best.PerOp(ctx, sess, *opSteps); err != nil {
			return interrupted(ctx, err, "timing every op", "the per-op table is not printed")
		}
	}
	best.PeakRSS = bench.PeakRSS()
	if *rounds > 1 {
		fmt.Fprintf(stdout, "best of %d rounds:\n", *rounds)
	}
	if world.Size() > 1 {
		bestWorld.Write(stdout, cfg.Name, info.Backend)
		fmt.Fprintf(stdout, "rank 0: ")
	}
	fmt.Fprintf(stdout, "ijepa %s %s: %.1f ms/step %.2f img/s%s\n", cfg.Name, info.Backend, best.MsPerStep, best.ImgPerS, splitLine(best))
	fmt.Fprintf(stdout, "peak RSS %s, %.0f page faults per step, last loss %.4f\n", mib(best.PeakRSS), best.FaultsPerStep, sess.Loss())
	if strings.HasPrefix(info.Backend, "plugin:") {
		fmt.Fprintln(stdout, "  (this process only: the plugin's memory is in its own process)")
	}
	if s := cpu.Stats(be); s.PeakAsked > 0 {
		fmt.Fprintf(stdout, "cpu memory pool: live tensors asked for %s at most at once, the pool's footprint peaked at %s (%.2fx)\n",
			mib(s.PeakAsked), mib(s.High), float64(s.High)/float64(s.PeakAsked))
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
	if best.Split != nil {
		fmt.Fprintln(stdout, "per step, on each backend of the composite:")
		if err := best.Split.Write(stdout, best.Steps); err != nil {
			return err
		}
	}
	if best.OpSteps > 0 {
		fmt.Fprintf(stdout, "\nper op, over %d steps with every op synchronised and timed:\n", best.OpSteps)
		if err := best.Profile.WriteTable(stdout, best.OpSteps, *shapes); err != nil {
			return err
		}
	}
	return nil
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
