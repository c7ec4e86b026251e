package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ijepa-go/ijepa/ijepa/interop"
)

func init() {
	register(command{
		name:    "export",
		summary: "convert a checkpoint (official .pth.tar or safetensors) to safetensors for this project or for PyTorch",
		usage:   "--checkpoint FILE --out FILE.safetensors [--part all|encoder|predictor|target_encoder] [--heads N]",
		run:     runExport,
	})
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	in := fs.String("checkpoint", "", "checkpoint to read: the official trainer's .pth.tar, or safetensors")
	out := fs.String("out", "", "safetensors file to write")
	part := fs.String("part", string(interop.All), "what to write: all (the whole training state, this project's checkpoint format, "+
		"which ijepa train --checkpoint starts from), or one network's state dict with the official names for "+
		"PyTorch's load_state_dict: encoder, predictor or target_encoder")
	heads := fs.Int("heads", 0, "attention heads, for an encoder of no official size whose file does not record them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *in == "" || *out == "" {
		return fmt.Errorf("%w: --checkpoint and --out are required", errUsage)
	}
	if err := checkOut(*out); err != nil {
		return err
	}
	p, err := interop.ParsePart(*part)
	if err != nil {
		return fmt.Errorf("%w: --part: %v", errUsage, err)
	}
	c, err := interop.Open(*in, interop.Options{Heads: *heads})
	if err != nil {
		return err
	}
	defer c.Close()
	warnSkipped(stderr, c.OptimizerSkipped)
	if err := ctx.Err(); err != nil {
		return interrupted(ctx, err, "reading the checkpoint", "nothing written")
	}
	if err := c.Export(*out, p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s of %s (%s checkpoint, %d AdamW steps)\n", *out, p, describe(c), c.Format, c.Steps)
	return nil
}

// describe names a checkpoint's model in one phrase.
func describe(c *interop.Checkpoint) string {
	e := c.Encoder
	name := c.Model
	if name == "" {
		name = "a ViT"
	}
	s := fmt.Sprintf("%s/%d at %dpx (width %d, depth %d, %d heads)", name, e.Patch, e.ImgSize, e.Dim, e.Depth, e.Heads)
	if c.PredDim > 0 {
		s += fmt.Sprintf(" with a predictor of width %d, depth %d", c.PredDim, c.PredDepth)
	}
	return s
}

// warnSkipped prints, when a checkpoint's optimiser state was left out
// (interop.Checkpoint.OptimizerSkipped), the one warning that says so.
func warnSkipped(stderr io.Writer, skipped string) {
	if skipped != "" {
		fmt.Fprintf(stderr, "ijepa: warning: %s: its optimiser state is left out (the networks are loaded)\n", skipped)
	}
}
