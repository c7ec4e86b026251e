package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/conformance/naive"
)

func init() {
	register(command{
		name:    "conformance",
		summary: "check every op of a backend against the reference",
		usage:   "[--backend NAME] [--plugin-dir DIR] [--op REGEX] [--seed N]",
		run:     runConformance,
	})
}

func runConformance(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("conformance", stderr)
	spec := backendFlag(fs, "cpu", "backend to check")
	opRe := fs.String("op", "", "check only ops whose name matches this regular expression")
	seed := fs.Uint64("seed", 0, "seed of every input (0: a random one, printed so the run can be replayed)")
	ref := fs.String("reference", "", "reference: naive, cpu-ref or cpu (default: naive for the CPU backends, cpu-ref otherwise)")
	maxFail := fs.Int("failures", 10, "failing cases to print per op (-1: all)")
	noFD := fs.Bool("no-fd", false, "skip the finite-difference checks of backward ops")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	opts := conformance.Options{Seed: *seed, NoGradients: *noFD}
	if opts.Seed == 0 {
		opts.Seed = rand.Uint64() >> 1
	}
	if *opRe != "" {
		re, err := regexp.Compile(*opRe)
		if err != nil {
			return fmt.Errorf("%w: --op: %v", errUsage, err)
		}
		matched := false
		for _, op := range backend.Ops() {
			matched = matched || re.MatchString(op.String())
		}
		if !matched {
			var names []string
			for _, op := range backend.Ops() {
				names = append(names, op.String())
			}
			return fmt.Errorf("%w: --op %q matches no op (ops: %s)", errUsage, *opRe, strings.Join(names, " "))
		}
		opts.Ops = re
	}
	b, err := openBackend(ctx, *spec)
	if err != nil {
		return err
	}
	defer b.Close()
	switch r, name := *ref, b.Info().Backend; {
	case r == "naive" || r == "" && (name == "cpu" || name == "cpu-ref"):
		opts.Reference = naive.New()
	case r == "":
		if opts.Reference, err = backend.Open("cpu-ref"); err != nil {
			return err
		}
	case r == "cpu" || r == "cpu-ref":
		if opts.Reference, err = backend.Open(r); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: --reference %q: want naive, cpu-ref or cpu", errUsage, r)
	}
	opts.Reopen = func() (backend.Backend, error) { return backend.Open(*spec) }
	opts.Stop = func() bool { return ctx.Err() != nil }
	rep := conformance.Run(b, opts)
	if err := rep.Write(stdout, *maxFail); err != nil {
		return err
	}
	if rep.Stopped {
		return fmt.Errorf("interrupted: the report above covers only the cases run before: %w", ctx.Err())
	}
	if rep.Failed() {
		return exitCode(1)
	}
	return nil
}
