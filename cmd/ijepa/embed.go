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
)

func init() {
	register(command{
		name:    "embed",
		summary: "write an encoder's features of images (mean-pooled, optionally per patch) to .npy or safetensors",
		usage:   "--checkpoint FILE [--out features.npy|FILE.safetensors] [--patches] [flags] IMAGE...",
		run:     runEmbed,
	})
}

func runEmbed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("embed", stderr)
	ckpt := fs.String("checkpoint", "", "checkpoint: the official trainer's .pth.tar, this project's, or an exported encoder")
	out := fs.String("out", "features.npy", "features file: .npy (NumPy; with --patches a second file NAME_patches.npy) or .safetensors")
	patches := fs.Bool("patches", false, "also write the per-patch features [images, patches, dim]")
	which := fs.String("encoder", string(interop.Target), "encoder to run: target_encoder (the one evaluated downstream) or encoder (the context encoder)")
	spec := backendFlag(fs, "cpu", "backend")
	batch := fs.Int("batch", 16, "images per forward pass")
	heads := fs.Int("heads", 0, "attention heads, for an encoder of no official size whose file does not record them")
	stretch := fs.Bool("stretch", false, "resize the whole image to the encoder's size (default: its largest central square, keeping the aspect ratio)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *ckpt == "" {
		return fmt.Errorf("%w: --checkpoint is required", errUsage)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: no images", errUsage)
	}
	if *batch < 1 {
		return fmt.Errorf("%w: --batch must be at least 1", errUsage)
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if ext != ".npy" && ext != ".safetensors" {
		return fmt.Errorf("%w: --out %q: the features file must end in .npy or .safetensors", errUsage, *out)
	}
	outs := []string{*out}
	if *patches && ext == ".npy" {
		outs = append(outs, interop.PatchesPath(*out))
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
	t, err := data.NewResize(c.Encoder.ImgSize)
	if err != nil {
		return err
	}
	t.CenterCrop = !*stretch
	paths := fs.Args()
	bar := progressbar.NewOptions(len(paths), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("embed"),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	f, err := interop.Embed(ctx, be, enc, paths, interop.EmbedOptions{Batch: *batch, Patches: *patches, Transform: t,
		Progress: func(done int) { bar.Set(done) }})
	if err != nil {
		return interrupted(ctx, err, "computing the features", "nothing written")
	}
	if err := f.Write(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: mean-pooled features [%d, %d] of the %s of %s\n", *out, len(paths), f.Dim, p, describe(c))
	if *patches {
		where := *out
		if ext == ".npy" {
			where = interop.PatchesPath(*out)
		}
		fmt.Fprintf(stdout, "%s: per-patch features [%d, %d, %d]\n", where, len(paths), f.Tokens, f.Dim)
	}
	return nil
}
