package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/bench"
)

func init() {
	register(command{
		name:    "bench",
		summary: "time training steps (img/s, ms/step, per-op times, peak memory), optionally against PyTorch",
		usage:   "[--config tiny32|small224] [--backend NAME] [--steps N] [--torch]",
		run:     runBench,
	})
}

// defaultAnchor is where the PyTorch anchor script lives beside a checkout.
const defaultAnchor = "../shared/anchors/torch_ijepa_step.py"

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	cfgName := fs.String("config", "tiny32", "benchmark config: tiny32 or small224")
	spec := fs.String("backend", "cpu", "backend: cpu, cpu-ref, vulkan[:DEVICE], plugin:PATH")
	warmup := fs.Int("warmup", 2, "untimed warm-up steps")
	steps := fs.Int("steps", 4, "timed steps")
	opSteps := fs.Int("op-steps", 2, "further steps with every op timed, for the per-op table (0: none)")
	shapes := fs.Int("shapes", 12, "matrix-product shapes to list in the per-op table (-1: all)")
	seed := fs.Uint64("seed", 1, "seed of the model and the batches")
	torch := fs.Bool("torch", false, "also run the PyTorch anchor on the same config and print the ratios")
	anchor := fs.String("anchor", defaultAnchor, "the PyTorch anchor script")
	python := fs.String("python", "/usr/bin/python3", "the Python that has torch (Debian's python3-torch)")
	threads := fs.Int("torch-threads", runtime.GOMAXPROCS(0), "threads for PyTorch (default: the Go threads)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	cfg, err := bench.LookupConfig(*cfgName)
	if err != nil {
		return fmt.Errorf("%w: --config: %v", errUsage, err)
	}
	if *steps < 1 || *warmup < 0 || *opSteps < 0 {
		return fmt.Errorf("%w: --steps must be at least 1, --warmup and --op-steps not negative", errUsage)
	}
	be, err := backend.Open(*spec)
	if err != nil {
		return err
	}
	defer be.Close()
	info := be.Info()
	fmt.Fprintf(stdout, "bench %s on %s: %s\n", cfg.Name, info.Backend, info.Device)
	for _, l := range info.Limits {
		fmt.Fprintf(stdout, "  %s: %s\n", l[0], l[1])
	}
	fmt.Fprintf(stdout, "  batch %d, %d warm-up and %d timed steps, GOMAXPROCS %d\n", cfg.Batch, *warmup, *steps, runtime.GOMAXPROCS(0))
	res, err := bench.Run(ctx, be, bench.Options{Config: cfg, Warmup: *warmup, Steps: *steps, OpSteps: *opSteps, Seed: *seed})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ijepa %s %s: %.1f ms/step %.2f img/s\n", cfg.Name, info.Backend, res.MsPerStep, res.ImgPerS)
	fmt.Fprintf(stdout, "peak RSS %s, %.0f page faults per step, last loss %.4f\n", mib(res.PeakRSS), res.FaultsPerStep, res.Loss)
	if res.OpSteps > 0 {
		fmt.Fprintf(stdout, "\nper op, over %d steps with every op synchronised and timed:\n", res.OpSteps)
		if err := res.Profile.WriteTable(stdout, res.OpSteps, *shapes); err != nil {
			return err
		}
	}
	if !*torch {
		return nil
	}
	fmt.Fprintln(stdout)
	a, err := bench.RunAnchor(ctx, bench.AnchorOptions{Python: *python, Script: *anchor, Config: cfg.Name, Threads: *threads, Steps: *steps})
	if errors.Is(err, bench.ErrAnchorUnavailable) {
		fmt.Fprintf(stdout, "torch anchor skipped: %v\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "torch anchor: %s\n", a.Line)
	fmt.Fprintf(stdout, "torch peak RSS %s\n", mib(a.PeakRSS))
	fmt.Fprintf(stdout, "ratio ijepa/torch: %.2fx the images/s", res.ImgPerS/a.ImgPerSec)
	if a.PeakRSS > 0 && res.PeakRSS > 0 {
		fmt.Fprintf(stdout, ", %.2fx the peak memory", float64(res.PeakRSS)/float64(a.PeakRSS))
	}
	fmt.Fprintln(stdout)
	return nil
}

func mib(n int64) string {
	if n <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
