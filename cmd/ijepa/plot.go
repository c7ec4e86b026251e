package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/ijepa/viz"
)

func init() {
	register(command{
		name:    "plot",
		summary: "draw a run's loss, learning rate, weight decay, EMA momentum and probe accuracy over steps (PNG)",
		usage:   "RUN_DIR [--out curves.png] [--width PX] [--height PX]",
		run:     runPlot,
	})
}

func runPlot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plot", stderr)
	out := fs.String("out", "curves.png", "PNG file to write")
	w := fs.Int("width", 1200, "picture width in pixels")
	h := fs.Int("height", 900, "picture height in pixels")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: want one run directory, got %d arguments", errUsage, len(pos))
	}
	if err := checkOut(*out); err != nil {
		return err
	}
	dir := pos[0]
	log, err := runlog.ReadLog(runlog.Path(dir, runlog.LogFile))
	if err != nil {
		return err
	}
	eval, err := runlog.ReadEval(runlog.Path(dir, runlog.EvalFile))
	if err != nil {
		return err
	}
	fig, err := viz.Curves(log, eval, viz.CurveOptions{Width: *w, Height: *h, Title: viz.RunTitle(dir, log)})
	if err != nil {
		return err
	}
	if err := viz.WritePNG(*out, fig.Image); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d steps, %d evaluations\n", *out, len(log), len(eval))
	return nil
}
