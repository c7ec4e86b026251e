package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/viz"
)

func init() {
	register(command{
		name:    "masks",
		summary: "draw the context and target blocks the mask sampler draws over real training images (PNG)",
		usage:   "[--config FILE|PRESET] [--step N] [--images N] --out masks.png",
		run:     runMasks,
	})
}

func runMasks(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("masks", stderr)
	cfgName := fs.String("config", "", "config file or preset name (default: the "+defaultPictureConfig+" preset)")
	step := fs.Int64("step", 1, "training step whose batch to draw (1-based, as log.csv counts)")
	n := fs.Int("images", 8, "images of the batch to draw")
	cols := fs.Int("cols", 4, "images per row")
	cell := fs.Int("cell", 192, "wanted side of an image in pixels (images are enlarged by whole factors)")
	out := fs.String("out", "masks.png", "PNG file to write")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	if *step < 1 || *n < 1 || *cols < 1 || *cell < 1 {
		return fmt.Errorf("%w: --step, --images, --cols and --cell must be positive", errUsage)
	}
	if err := checkOut(*out); err != nil {
		return err
	}
	cfg, err := openConfig(*cfgName)
	if err != nil {
		return err
	}
	ds, err := data.Open(cfg.DatasetSpec(true))
	if err != nil {
		return err
	}
	b, err := viz.TrainBatch(ctx, cfg, ds, *step, *n)
	if err != nil {
		return err
	}
	pic, err := viz.Masks(b.Images, b.Masks, viz.MaskOptions{Cell: *cell, Cols: *cols, Labels: b.Labels,
		Title: fmt.Sprintf("I-JEPA masks, config %s (%s mode), batch of %d from %s", cfg.Source(), cfg.IJEPAGo.MaskMode, b.Masks.B(), ds.Name())})
	if err != nil {
		return err
	}
	if err := viz.WritePNG(*out, pic.Image); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d images; %s\n", *out, len(b.Images), viz.MaskSummary(b.Masks))
	return nil
}
