package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/ijepa/viz"
)

func init() {
	register(command{
		name:    "features",
		summary: "draw the first three principal components of a checkpoint's patch features as RGB beside the images (PNG)",
		usage:   "--checkpoint FILE|RUN_DIR [--config FILE|PRESET] [--images N] [--backend NAME] [--plugin-dir DIR] --out pca.png",
		run:     runFeatures,
	})
}

func runFeatures(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("features", stderr)
	ckpt := fs.String("checkpoint", "", "checkpoint file (ours, or an official .pth.tar), or a run directory (its "+runlog.LatestCheckpoint+")")
	cfgName := fs.String("config", "", "config file or preset whose held-out images to show (default: the run directory's config.yaml, else the "+defaultPictureConfig+" preset)")
	n := fs.Int("images", 8, "held-out images to analyse and draw")
	cols := fs.Int("cols", 4, "image and map pairs per row")
	cell := fs.Int("cell", 160, "wanted side of an image in pixels (images are enlarged by whole factors)")
	beName := backendFlag(fs, "", "backend to run the encoder on (default: the config's)")
	out := fs.String("out", "pca.png", "PNG file to write")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, pos[0])
	}
	if *ckpt == "" {
		return fmt.Errorf("%w: --checkpoint is required", errUsage)
	}
	if *n < 1 || *cols < 1 || *cell < 1 {
		return fmt.Errorf("%w: --images, --cols and --cell must be positive", errUsage)
	}
	if err := checkOut(*out); err != nil {
		return err
	}
	path := *ckpt
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = runlog.Path(path, runlog.LatestCheckpoint)
	}
	if *cfgName == "" {
		*cfgName = runConfigFor(path)
	}
	cfg, err := openConfig(*cfgName)
	if err != nil {
		return err
	}
	if *beName == "" {
		*beName = cfg.IJEPAGo.Backend
	}
	be, err := openBackend(ctx, *beName)
	if err != nil {
		return err
	}
	defer be.Close()
	enc, err := viz.LoadTarget(be, path)
	if err != nil {
		return err
	}
	warnSkipped(stderr, enc.OptimizerSkipped)
	defer enc.Free()
	fi, err := viz.LoadFeatureImages(cfg, *n, enc.ImageSize())
	if err != nil {
		return err
	}
	pic, err := enc.Draw(fi, viz.FeatureOptions{Cell: *cell, Cols: *cols})
	if err != nil {
		return err
	}
	if err := viz.WritePNG(*out, pic.Image); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d images of %s, variances along the 3 components %.3g %.3g %.3g\n", *out, len(fi.Images), cfg.Source(), pic.PCA.Vars[0], pic.PCA.Vars[1], pic.PCA.Vars[2])
	return nil
}
