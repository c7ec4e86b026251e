package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"

	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/interop"
	"github.com/ijepa-go/ijepa/ijepa/train"
)

func init() {
	register(command{
		name:    "embed",
		summary: "write an encoder's features of images or of a whole dataset (mean-pooled, optionally per patch, with labels) to .npy or safetensors",
		usage:   "--checkpoint FILE [--out features.npy|FILE.safetensors] [--patches] [--layers N [--concat]] [flags] (IMAGE... | --dataset KIND:PATH [--split train|test])",
		run:     runEmbed,
	})
}

func runEmbed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("embed", stderr)
	ckpt := fs.String("checkpoint", "", "checkpoint: the official trainer's .pth.tar, this project's, or an exported encoder")
	out := fs.String("out", "features.npy", "features file: .npy (NumPy; with --patches a second file NAME_patches.npy, with --dataset NAME_labels.npy) or .safetensors")
	patches := fs.Bool("patches", false, "also write the per-patch features [images, patches, dim]")
	which := fs.String("encoder", string(interop.Target), "encoder to run: target_encoder (the one evaluated downstream) or encoder (the context encoder)")
	spec := backendFlag(fs, "cpu", "backend")
	batch := fs.Int("batch", 16, "images per forward pass")
	heads := fs.Int("heads", 0, "attention heads, for an encoder of no official size whose file does not record them")
	stretch := fs.Bool("stretch", false, "image files: resize the whole image to the encoder's size (default: its largest central square, keeping the aspect ratio)")
	dataset := fs.String("dataset", "", "encode a whole dataset instead of image files: KIND:PATH ("+strings.Join(data.Kinds, ", ")+
		"; procedural takes the checkpoint's config), in the dataset's order, with its labels and the evaluation's preprocessing (the whole image resized)")
	split := fs.String("split", "test", "with --dataset: the train or the test (held-out) split")
	layers := fs.Int("layers", 1, "features from the last N blocks' outputs (each through the final norm), averaged, or concatenated with --concat")
	concat := fs.Bool("concat", false, "with --layers N: concatenate the N layers' features (N x dim) instead of averaging them")
	workers := fs.Int("workers", 0, "with --dataset: goroutines decoding and transforming images (0: one per CPU)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("%w: --checkpoint is required", errUsage)
	}
	if (fs.NArg() == 0) == (*dataset == "") {
		return fmt.Errorf("%w: give image files or --dataset KIND:PATH (one of them)", errUsage)
	}
	if *batch < 1 || *layers < 1 || *workers < 0 {
		return fmt.Errorf("%w: --batch and --layers must be at least 1, --workers not negative", errUsage)
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".npy" && ext != ".safetensors" {
		return fmt.Errorf("%w: --out %q: the features file must end in .npy or .safetensors", errUsage, *out)
	}
	outs := []string{*out}
	if *patches && ext == ".npy" {
		outs = append(outs, interop.PatchesPath(*out))
	}
	if *dataset != "" && ext == ".npy" {
		outs = append(outs, interop.LabelsPath(*out))
	}
	for _, o := range outs {
		if err := checkOut(o); err != nil {
			return err
		}
	}
	p, err := interop.ParsePart(*which)
	if err != nil || (p != interop.Target && p != interop.Encoder) {
		return fmt.Errorf("%w: --encoder %q: want %s or %s", errUsage, *which, interop.Target, interop.Encoder)
	}
	var ds data.Dataset
	if *dataset != "" {
		if ds, err = openDatasetFlag(*ckpt, *dataset, *split); err != nil {
			return err
		}
	}
	c, err := interop.Open(*ckpt, interop.Options{Heads: *heads})
	if err != nil {
		return err
	}
	defer c.Close()
	warnSkipped(stderr, c.OptimizerSkipped)
	be, err := openBackend(ctx, *spec)
	if err != nil {
		return err
	}
	defer be.Close()
	enc, err := c.LoadEncoder(be, p)
	if err != nil {
		return err
	}
	o := interop.EmbedOptions{Batch: *batch, Patches: *patches, Layers: *layers, Concat: *concat, Workers: *workers}
	n := fs.NArg()
	if ds != nil {
		n = ds.Len()
	}
	if isTerminal(stderr) {
		bar := progressbar.NewOptions(n, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("embed"),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
		o.Progress = func(done int) { bar.Set(done) }
	}
	var f *interop.Features
	what := fmt.Sprintf("%d images", n)
	if ds != nil {
		if f, err = interop.EmbedDataset(ctx, be, enc, ds, o); err != nil {
			return interrupted(ctx, err, "computing the features", "nothing written")
		}
		f.Meta["dataset"], f.Meta["split"] = *dataset, *split
		what = fmt.Sprintf("the %s split of %s (%d images, %d classes)", *split, *dataset, n, ds.NumClasses())
	} else {
		if *stretch {
			if o.Transform, err = stretchTransform(enc.Cfg.ImgSize, enc.Cfg.Channels); err != nil {
				return err
			}
		}
		if f, err = interop.Embed(ctx, be, enc, fs.Args(), o); err != nil {
			return interrupted(ctx, err, "computing the features", "nothing written")
		}
	}
	if err := f.Write(*out); err != nil {
		return err
	}
	kind := "mean-pooled features"
	if *layers > 1 {
		mode := "mean"
		if *concat {
			mode = "concatenation"
		}
		kind = fmt.Sprintf("mean-pooled features (%s of the last %d layers)", mode, *layers)
	}
	fmt.Fprintf(stdout, "%s: %s [%d, %d] of the %s of %s, for %s\n", *out, kind, f.N(), f.Dim, p, describe(c), what)
	if *patches {
		where := *out
		if ext == ".npy" {
			where = interop.PatchesPath(*out)
		}
		fmt.Fprintf(stdout, "%s: per-patch features [%d, %d, %d]\n", where, f.N(), f.Tokens, f.Dim)
	}
	if f.Labels != nil {
		where := *out
		if ext == ".npy" {
			where = interop.LabelsPath(*out)
		}
		fmt.Fprintf(stdout, "%s: labels [%d]\n", where, len(f.Labels))
	}
	return nil
}

// stretchTransform resizes the whole image to size x size.
func stretchTransform(size, channels int) (data.Transform, error) {
	t, err := data.NewResize(size)
	if err != nil {
		return nil, err
	}
	t.Norm, err = data.NormalizeFor(channels)
	return t, err
}

// openDatasetFlag opens the split (train or test) of the dataset that a
// --dataset KIND:PATH flag names; the procedural dataset is the one of the
// checkpoint's config (its seed and sizes).
func openDatasetFlag(ckpt, flag, split string) (data.Dataset, error) {
	if split != "train" && split != "test" {
		return nil, fmt.Errorf("%w: --split %q: want train or test", errUsage, split)
	}
	kind, path, err := datasetFlag(flag)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	spec := data.Spec{Kind: kind, Path: path, Train: split == "train"}
	if kind == data.KindProcedural {
		info, err := train.ReadCheckpointInfo(ckpt)
		if err != nil || info.Config == nil {
			return nil, fmt.Errorf("%w: --dataset procedural: the checkpoint %s carries no run config to take the dataset's seed and sizes from", errUsage, ckpt)
		}
		spec = info.Config.DatasetSpec(spec.Train)
	}
	return data.Open(spec)
}
