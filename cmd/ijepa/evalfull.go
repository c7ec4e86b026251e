package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/eval"
	"github.com/ijepa-go/ijepa/ijepa/interop"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/nn"
)

// This file is `ijepa eval --full`: the linear evaluation of the papers'
// tables, on features of the whole dataset computed once and cached.

// fullFlags are eval's flags of the full protocol.
type fullFlags struct {
	full                          *bool
	epochs, probeBatch, batch     *int
	layers, workers               *int
	lr, weightDecay               *float64
	optimizer, cache              *string
	concat, randomInit, noCaching *bool
}

func addFullFlags(fs *flag.FlagSet) *fullFlags {
	return &fullFlags{
		full: fs.Bool("full", false, "the full protocol instead of the fast probes: features of every image of both splits (computed once, cached), "+
			"a linear classifier trained by mini-batch SGD or Adam over all training images, top-1 on the whole test split"),
		epochs:      fs.Int("epochs", 100, "--full: passes over the training features"),
		probeBatch:  fs.Int("probe-batch", 256, "--full: mini-batch of the linear classifier"),
		lr:          fs.Float64("lr", 0, "--full: peak learning rate, decayed along a cosine (0: 0.1 for sgd, 1e-3 for adam)"),
		weightDecay: fs.Float64("weight-decay", 0, "--full: weight decay of the classifier's weights"),
		optimizer:   fs.String("optimizer", eval.SGD, "--full: sgd (momentum 0.9) or adam"),
		layers:      fs.Int("layers", 1, "--full: features from the last N blocks' outputs (each through the final norm), averaged, or concatenated with --concat"),
		concat:      fs.Bool("concat", false, "--full: concatenate the last --layers layers' features instead of averaging them"),
		batch:       fs.Int("batch", 64, "--full: images per forward pass when computing features"),
		workers:     fs.Int("workers", 0, "--full: goroutines decoding and transforming images (0: one per CPU)"),
		cache:       fs.String("cache", "", "--full: folder of the cached features (default: RUN/features with --run, else features/ beside the checkpoint)"),
		noCaching:   fs.Bool("no-cache", false, "--full: compute the features again and overwrite the cache"),
		randomInit:  fs.Bool("random-init", false, "--full: also evaluate a random-init encoder of the same shape (seeded by ijepago.seed), the baseline a probe means little without"),
	}
}

// runFullEval runs the full protocol on the checkpoint at path (step is
// its step, -1 when unknown) with the dataset of c.
func runFullEval(ctx context.Context, c *config.Config, path string, step int64, runDir string, ff *fullFlags, stdout, stderr io.Writer) error {
	if *ff.epochs < 1 || *ff.probeBatch < 1 || *ff.batch < 1 || *ff.layers < 1 || *ff.workers < 0 || *ff.lr < 0 || *ff.weightDecay < 0 {
		return fmt.Errorf("%w: --epochs, --probe-batch, --batch and --layers must be at least 1; --workers, --lr and --weight-decay not negative", errUsage)
	}
	cache := *ff.cache
	if cache == "" {
		cache = filepath.Join(filepath.Dir(path), runlog.FeaturesDir)
		if runDir != "" {
			cache = runlog.Path(runDir, runlog.FeaturesDir)
		}
	}
	mc, err := c.ModelConfig()
	if err != nil {
		return err
	}
	ck, err := interop.Open(path, interop.Options{Model: &mc})
	if err != nil {
		return err
	}
	defer ck.Close()
	warnSkipped(stderr, ck.OptimizerSkipped)
	be, err := openBackend(ctx, c.IJEPAGo.Backend)
	if err != nil {
		return err
	}
	defer be.Close()
	enc, err := ck.LoadEncoder(be, interop.Target)
	if err != nil {
		return err
	}
	defer nn.Free(be, enc.Params())
	tf, err := c.EvalTransform()
	if err != nil {
		return err
	}
	o := interop.EmbedOptions{Batch: *ff.batch, Layers: *ff.layers, Concat: *ff.concat, Transform: tf, Workers: *ff.workers}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if step >= 0 {
		stem = strings.TrimSuffix(runlog.StepCheckpoint(step), ".safetensors")
	}
	type encoder struct {
		name, stem, source string
		vit                *nn.ViT
	}
	encoders := []encoder{{runlog.FeaturesTarget, stem, fmt.Sprintf("checkpoint %s (%d bytes, modified %s)", abs, st.Size(), st.ModTime().UTC().Format("2006-01-02T15:04:05.000000000Z")), enc}}
	if *ff.randomInit {
		rnd, err := nn.NewViT(nn.NewBuilder(), enc.Cfg)
		if err != nil {
			return err
		}
		if err := nn.Alloc(be, rnd.Params(), c.IJEPAGo.Seed); err != nil {
			return err
		}
		defer nn.Free(be, rnd.Params())
		encoders = append(encoders, encoder{runlog.FeaturesRandom, fmt.Sprintf("random-init-seed%d", c.IJEPAGo.Seed),
			fmt.Sprintf("random-init encoder of %s, seed %d", describe(ck), c.IJEPAGo.Seed), rnd})
	}
	mode := "L" + fmt.Sprint(max(*ff.layers, 1))
	if *ff.concat && *ff.layers > 1 {
		mode += "cat"
	}
	lo := eval.LinearOptions{Optimizer: *ff.optimizer, Epochs: *ff.epochs, Batch: *ff.probeBatch, LR: *ff.lr, WeightDecay: *ff.weightDecay, Seed: c.IJEPAGo.Seed}
	spec := c.DatasetSpec(true)
	dsName := spec.Kind
	if spec.Kind != data.KindProcedural {
		dsName += ":" + spec.Path
	}
	var rows []fullRow
	var sizes [2]int
	var classes int
	for _, e := range encoders {
		var split [2]*interop.Features
		for i, train := range []bool{true, false} {
			ds, err := data.Open(c.DatasetSpec(train))
			if err != nil {
				return err
			}
			name := map[bool]string{true: "train", false: "test"}[train]
			file := filepath.Join(cache, runlog.FeaturesFile(e.stem, name, mode))
			source := fmt.Sprintf("%s; dataset %s, %s split of %d images; %dx%d px, %d channel(s); layers %s",
				e.source, dsName, name, ds.Len(), tf.Size(), tf.Size(), tf.Channels(), mode)
			f, cached, err := cachedFeatures(ctx, be, e.vit, ds, file, source, !*ff.noCaching, o)
			if err != nil {
				return err
			}
			how := "computed"
			if cached {
				how = "read"
			}
			fmt.Fprintf(stderr, "%s features of the %s split: %s %s\n", e.name, name, how, file)
			split[i], sizes[i], classes = f, ds.Len(), ds.NumClasses()
		}
		res, err := eval.TrainLinear(evalFeatures(split[0]), evalFeatures(split[1]), classes, lo)
		if err != nil {
			return fmt.Errorf("ijepa: %s features: %w", e.name, err)
		}
		rows = append(rows, fullRow{e.name, split[0].Dim, res})
	}
	at := ""
	if step >= 0 {
		at = fmt.Sprintf(" (step %d)", step)
	}
	fmt.Fprintf(stdout, "%s%s: full linear evaluation on all %d train / %d test images of %s, %d classes\n", path, at, sizes[0], sizes[1], dsName, classes)
	fmt.Fprintf(stdout, "%s, %d epochs, batch %d, lr %s (cosine), weight decay %g; features: %s\n", *ff.optimizer, lo.Epochs, lo.Batch, lrText(*ff.lr, *ff.optimizer), lo.WeightDecay, layersText(*ff.layers, *ff.concat))
	tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "features\tdim\ttrain top-1\ttest top-1\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.4f\t%.4f\t\n", featureNames[r.name], r.dim, r.res.TrainAccuracy, r.res.TestAccuracy)
	}
	return tw.Flush()
}

// fullRow is one line of the full evaluation's table.
type fullRow struct {
	name string
	dim  int
	res  eval.ProbeResult
}

func lrText(lr float64, opt string) string {
	if lr > 0 {
		return fmt.Sprint(lr)
	}
	if opt == eval.Adam {
		return "0.001"
	}
	return "0.1"
}

func layersText(layers int, concat bool) string {
	switch {
	case layers <= 1:
		return "the mean-pooled output of the last block"
	case concat:
		return fmt.Sprintf("the mean-pooled outputs of the last %d blocks, concatenated", layers)
	}
	return fmt.Sprintf("the mean of the mean-pooled outputs of the last %d blocks", layers)
}

// evalFeatures views features as the classifiers' input.
func evalFeatures(f *interop.Features) eval.Features {
	return eval.Features{X: f.Pooled, N: f.N(), D: f.Dim, Labels: f.Labels}
}

// metaSource is the features file's metadata that says what they are the
// features of; a cached file is reused only when it says the same.
const metaSource = "source"

// cachedFeatures returns the features of ds by enc: read from file when it
// exists, reuse is on and its source is the same, else computed and
// written to file (its folder created). It reports whether they were read.
func cachedFeatures(ctx context.Context, be backend.Backend, enc *nn.ViT, ds data.Dataset, file, source string, reuse bool, o interop.EmbedOptions) (*interop.Features, bool, error) {
	if reuse {
		if f, err := interop.ReadFeatures(file); err == nil && f.Meta[metaSource] == source && f.N() == ds.Len() && len(f.Labels) == ds.Len() {
			return f, true, nil
		}
	}
	f, err := interop.EmbedDataset(ctx, be, enc, ds, o)
	if err != nil {
		return nil, false, err
	}
	f.Meta[metaSource] = source
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return nil, false, fmt.Errorf("ijepa: feature cache: %w", err)
	}
	if err := f.Write(file); err != nil {
		return nil, false, err
	}
	return f, false, nil
}
