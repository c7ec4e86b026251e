package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/composite"
	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/ijepa/train"
	"github.com/ijepa-go/ijepa/internal/memlimit"
	"github.com/ijepa-go/ijepa/nn/amp"
)

func init() {
	register(command{
		name:    "train",
		summary: "pre-train with I-JEPA into a run directory (config.yaml, log.csv, eval.csv, checkpoints/)",
		usage:   "[--config NAME|FILE] [--backend NAME] [--plugin-dir DIR] [--run DIR] [--steps N] [--seed N] [--set section.key=value ...] [--checkpoint FILE [--strict]] [--resume] [--quiet] [--dry-run]",
		run:     runTrain,
	})
}

// trainOverrides are the named flags for the config keys changed most.
var trainOverrides = [][3]string{
	{"steps", "ijepago.steps", "stop after N steps; the schedules still span the epochs"},
	{"epochs", "optimization.epochs", "epochs the schedules span"},
	{"batch-size", "data.batch_size", "images per batch"},
	{"lr", "optimization.lr", "peak learning rate"},
	{"model", "meta.model_name", "encoder size"},
	{"workers", "data.num_workers", "loader goroutines (0: one per CPU)"},
	{"checkpoint-every", "ijepago.checkpoint_every", "steps between checkpoints (0: every epoch)"},
	{"log-every", "ijepago.log_every", "steps between log lines when there is no progress bar"},
	{"probe-every", "ijepago.probe_every", "steps between evaluations (0: at the end only)"},
	{"precision", "ijepago.precision", "fp32, bf16 or fp16: autocast with float32 master weights (default: bf16 where meta.use_bfloat16, else fp32)"},
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("train", stderr)
	cf := addConfigFlags(fs, "quick", trainOverrides...)
	runDir := fs.String("run", "", "run directory (default: logging.folder of the config)")
	resume := fs.Bool("resume", false, "continue the run in --run from checkpoints/latest.safetensors, with its config.yaml")
	from := fs.String("checkpoint", "", "start from this checkpoint (meta.load_checkpoint and meta.read_checkpoint): one of ijepa train (an exact resume), "+
		"or the official trainer's .pth.tar or a safetensors export of one, whose networks and AdamW state are loaded and whose epoch sets the step; "+
		"with --resume, the run in --run goes on from it instead of its latest checkpoint")
	strict := fs.Bool("strict", false, "with --checkpoint: refuse a file whose optimiser state cannot be used (other parameter groups than the official four) instead of starting AdamW fresh")
	quiet := fs.Bool("quiet", false, "no progress bar: a log line every ijepago.log_every steps (also when stderr is not a terminal)")
	evalEnd := fs.Bool("eval", true, "evaluate the target encoder (linear probe and k-NN beside a random-init encoder and raw pixels) every ijepago.probe_every steps and at the end")
	dryRun := fs.Bool("dry-run", false, "build the model the config describes and print its summary (parameter counts per module, counted from the shapes: nothing is allocated) and the run's memory estimate; read no data, train nothing, write no run directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	configGiven := false
	fs.Visit(func(f *flag.Flag) { configGiven = configGiven || f.Name == "config" })
	if *resume && configGiven {
		return fmt.Errorf("%w: --resume continues with the run's own config.yaml; use --set or the named flags to change it, not --config", errUsage)
	}
	if *dryRun {
		c, _, err := trainConfig(cf, *runDir, *resume)
		if err != nil {
			return err
		}
		if err := printModelSummary(stdout, c); err != nil {
			return err
		}
		return printMemory(stdout, c, *evalEnd)
	}
	world, err := openWorld()
	if err != nil {
		return err
	}
	defer func() { err = leaveWorld(world, "train", stderr, err) }()
	// Rank 0 resolves the config and the run directory for every rank.
	c, dir, err := shareConfig(world, func() (*config.Config, string, error) {
		c, dir, err := trainConfig(cf, *runDir, *resume)
		if err == nil && dir == "" {
			err = fmt.Errorf("%w: no run directory: give --run DIR (or logging.folder in the config)", errUsage)
		}
		return c, dir, err
	})
	if err != nil {
		return err
	}
	be, err := openBackend(ctx, dist.DeviceSpec(c.IJEPAGo.Backend, world))
	if err != nil {
		return err
	}
	defer be.Close()
	if line, ok := composite.Describe(be); ok && world.Rank() == 0 {
		fmt.Fprintln(stderr, line)
	}
	opt := train.Options{
		Config: c, Backend: be, Dir: dir, Resume: *resume, Checkpoint: *from, Strict: *strict, Eval: *evalEnd,
		Progress: stderr, Bar: !*quiet && isTerminal(stderr), World: world,
	}
	if world.Rank() != 0 {
		opt.Progress, opt.Bar, opt.Log = io.Discard, false, quietLog()
		stdout = io.Discard
	}
	res, err := train.Run(ctx, opt)
	if err != nil {
		// No summary: the error says where the run stopped and what was
		// kept, and a summary above it would read as a success.
		return err
	}
	if res.Step > res.Start {
		printTraining(stdout, dir, res)
	}
	if len(res.Evals) > 0 {
		last := res.Evals[len(res.Evals)-1].Step
		var rows []runlog.EvalRow
		for _, r := range res.Evals {
			if r.Step == last {
				rows = append(rows, r)
			}
		}
		fmt.Fprintln(stdout)
		printEvalTable(stdout, fmt.Sprintf("evaluation at step %d", last), rows)
	}
	return nil
}

// trainConfig resolves the config of ijepa train and its run directory
// (--run, else logging.folder; "" when neither says): --config and the
// overrides, or with --resume the run directory's own config.yaml with the
// overrides.
func trainConfig(cf *configFlags, dir string, resume bool) (*config.Config, string, error) {
	cfgPath := ""
	if resume {
		if dir == "" {
			base, err := cf.openConfig("")
			if err != nil {
				return nil, "", err
			}
			dir = base.Logging.Folder
		}
		cfgPath = filepath.Join(dir, runlog.ConfigFile)
		if _, err := os.Stat(cfgPath); errors.Is(err, iofs.ErrNotExist) {
			return nil, "", fmt.Errorf("%s holds no run to resume (no %s: the run stopped before its first step, or never started): start it without --resume", dir, runlog.ConfigFile)
		}
	}
	c, err := cf.openConfig(cfgPath)
	if err != nil {
		return nil, "", err
	}
	if dir == "" {
		dir = c.Logging.Folder
	}
	return c, dir, nil
}

// printModelSummary declares the model c trains (no values: nothing is
// allocated, so ViT-H is as quick as the quick preset) and writes its
// summary.
func printModelSummary(w io.Writer, c *config.Config) error {
	mc, err := c.ModelConfig()
	if err != nil {
		return err
	}
	m, err := model.New(mc)
	if err != nil {
		return fmt.Errorf("config %q: %w", c.Source(), err)
	}
	fmt.Fprintf(w, "config %s: %d images of %dx%d per batch, %s loss (dry run: nothing trained)\n",
		c.Source(), c.Data.BatchSize, c.Data.CropSize, c.Data.CropSize, m.Cfg.Loss)
	return m.WriteSummary(w)
}

// printMemory writes the run's memory estimate (train.EstimateMemory) in
// fp32 and in bf16 (and in the run's precision, when fp16), marking the
// run's, and the memory available, without opening the backend or the
// data.
func printMemory(w io.Writer, c *config.Config, eval bool) error {
	run, err := c.Precision()
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, p := range []amp.Precision{amp.FP32, amp.BF16, amp.FP16} {
		if p == amp.FP16 && run != amp.FP16 {
			continue
		}
		e, err := train.EstimateMemory(c, backend.Info{Backend: c.IJEPAGo.Backend}, p, 0, 1, eval)
		if err != nil {
			return err
		}
		mark := ""
		if p == run {
			mark = " (the run's precision)"
		}
		fmt.Fprintf(w, "memory in %v%s: %v\n", p, mark, e)
	}
	fmt.Fprintf(w, "available: %v\n", memlimit.Available(train.NonResidentBytes))
	return nil
}

// printTraining summarises a run's steps: where the loss started and ended.
func printTraining(w io.Writer, dir string, res *train.Result) {
	n := len(res.Losses)
	tail := res.Losses[max(0, n-10):]
	mean := 0.0
	for _, l := range tail {
		mean += l
	}
	mean /= float64(len(tail))
	fmt.Fprintf(w, "trained steps %d to %d in %.1fs: loss %.4f at step %d, %.4f at step %d (mean of the last %d: %.4f)\n",
		res.Start+1, res.Step, res.Elapsed.Seconds(), res.Losses[0], res.Start+1, res.Losses[n-1], res.Step, len(tail), mean)
	var files []string
	for _, f := range []string{runlog.LogFile, runlog.EvalFile, filepath.Join(runlog.CheckpointDir, runlog.LatestFile)} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			files = append(files, filepath.ToSlash(f))
		}
	}
	fmt.Fprintf(w, "run directory %s (%s)\n", dir, strings.Join(files, ", "))
}
