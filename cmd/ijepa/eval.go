package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/interop"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/ijepa/train"
)

func init() {
	register(command{
		name:    "eval",
		summary: "score a checkpoint's frozen target encoder (linear probe, k-NN) beside a random-init encoder and raw pixels; --full: the papers' linear evaluation on the whole dataset",
		usage:   "--run DIR | --checkpoint FILE [--config NAME|FILE] [--backend NAME] [--plugin-dir DIR] [--dataset KIND[:PATH]] [--set section.key=value ...] [--full [--epochs N] [--optimizer sgd|adam] [--layers N [--concat]] [--random-init]]",
		run:     runEval,
	})
}

var evalOverrides = [][3]string{
	{"probe-train", "ijepago.probe_train", "images the probes train on (0: the whole training split)"},
	{"probe-test", "ijepago.probe_test", "images the probes are scored on (0: the whole held-out split)"},
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	cf := addConfigFlags(fs, "", evalOverrides...)
	runDir := fs.String("run", "", "run directory: its config.yaml and checkpoints/latest.safetensors; the rows are appended to its eval.csv")
	ckpt := fs.String("checkpoint", "", "checkpoint to score (default with --run: checkpoints/latest.safetensors)")
	ff := addFullFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *runDir == "" && *ckpt == "" {
		return fmt.Errorf("%w: give --run DIR or --checkpoint FILE", errUsage)
	}
	configGiven := false
	fs.Visit(func(f *flag.Flag) { configGiven = configGiven || f.Name == "config" })
	path := *ckpt
	if path == "" {
		path = filepath.Join(*runDir, runlog.CheckpointDir, runlog.LatestFile)
	}
	// Ours carries its step and config; another trainer's checkpoint (the
	// official .pth.tar, or a safetensors export of one) carries neither,
	// so its model must be the one --config describes.
	info, err := train.ReadCheckpointInfo(path)
	foreign := err != nil
	if foreign && !configGiven {
		return fmt.Errorf("%w (for another trainer's checkpoint, such as the official .pth.tar, give --config NAME|FILE: its model and the images to score it on)", err)
	}
	// The config: --config, else the run's config.yaml, else the one the
	// checkpoint carries.
	var c *config.Config
	switch {
	case configGiven:
		c, err = cf.openConfig("")
	case *runDir != "":
		c, err = cf.openConfig(filepath.Join(*runDir, runlog.ConfigFile))
	case info.Config != nil:
		c = info.Config
		if err = cf.apply(c); err == nil {
			err = c.Validate()
		}
	default:
		return fmt.Errorf("%w: %s holds no config; give --config", errUsage, path)
	}
	if err != nil {
		return err
	}
	if *ff.full {
		return runFullEval(ctx, c, path, info.Step, *runDir, ff, stdout, stderr)
	}
	be, err := openBackend(ctx, c.IJEPAGo.Backend)
	if err != nil {
		return err
	}
	defer be.Close()
	mc, err := c.ModelConfig()
	if err != nil {
		return err
	}
	m, err := model.New(mc)
	if err != nil {
		return err
	}
	if err := m.Alloc(be, c.IJEPAGo.Seed); err != nil {
		return err
	}
	defer m.Free()
	if foreign {
		ck, err := interop.Open(path, interop.Options{Model: &mc})
		if err != nil {
			return err
		}
		warnSkipped(stderr, ck.OptimizerSkipped)
		err = ck.Load(m)
		ck.Close()
		if err != nil {
			return err
		}
		info.Step = int64(ck.Steps)
	} else if _, err := m.Load(path); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return interrupted(ctx, ctx.Err(), "loading the checkpoint", "nothing written")
	}
	ev, err := train.NewEvaluator(c, be)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return interrupted(ctx, err, "loading the evaluation images", "nothing written")
	}
	rows, err := ev.EvaluateContext(ctx, m, info.Step)
	if err != nil {
		return interrupted(ctx, err, "evaluating", "nothing written to eval.csv")
	}
	ntr, nte, classes := ev.Sizes()
	printEvalTable(stdout, fmt.Sprintf("%s (step %d): %d train / %d test images of %s, %d classes",
		path, info.Step, ntr, nte, c.IJEPAGo.Dataset, classes), rows)
	if *runDir != "" {
		path := runlog.Path(*runDir, runlog.EvalFile)
		if err := runlog.AppendEval(path, rows); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "appended to %s\n", path)
	}
	return nil
}

// featureNames are the table's names of eval.csv's features column.
var featureNames = map[string]string{
	runlog.FeaturesTarget: "target encoder (trained)",
	runlog.FeaturesRandom: "random-init encoder",
	runlog.FeaturesPixels: "raw pixels",
}

// printEvalTable prints one evaluation: a row per kind of features.
func printEvalTable(w io.Writer, title string, rows []runlog.EvalRow) {
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "features\tlinear probe\tk-NN\t")
	for _, r := range rows {
		name := featureNames[r.Features]
		if name == "" {
			name = r.Features
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t\n", name, r.ProbeAcc, r.KNNAcc)
	}
	tw.Flush()
}
