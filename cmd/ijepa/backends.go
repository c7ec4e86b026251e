package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/composite"
	"github.com/ijepa-go/ijepa/backend/plugin"
	"github.com/ijepa-go/ijepa/bench"
)

func init() {
	register(command{
		name:    "backends",
		summary: "list the backends and their devices; --backend A,B: which ops a composite runs where, and its copies per step",
		usage:   "[--plugin-dir DIR] [--backend SPEC [--config NAME] [--steps N]]",
		run:     runBackends,
	})
}

func runBackends(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backends", stderr)
	spec := fs.String("backend", "", "describe this backend only; for backends joined by \",\" also run --steps training steps of --config and say which ops ran on which and what was copied between them: "+backendChoices)
	cfgName := fs.String("config", "tiny32", "with --backend A,B: the training preset to run")
	steps := fs.Int("steps", 1, "with --backend A,B: the steps to count, after one warm-up step (0: run none)")
	plugin.DirFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *spec != "" {
		return describeBackend(ctx, *spec, *cfgName, *steps, stdout)
	}
	for _, d := range backend.Drivers() {
		fmt.Fprintf(stdout, "%s: %s\n", d.Name, d.Doc)
		infos, err := d.Devices()
		if err != nil {
			fmt.Fprintf(stdout, "  unavailable: %v\n", err)
			continue
		}
		if len(infos) == 0 {
			fmt.Fprintln(stdout, "  no devices")
		}
		for i, info := range infos {
			writeInfo(stdout, i, info)
		}
	}
	fmt.Fprintln(stdout, "Any backend takes the suffix ?ops=OP+OP (only those ops: --backend 'plugin:NAME?ops=matmul'), and backends joined by \",\" run as one, each call on the first that supports it (--backend 'plugin:NAME?ops=matmul,cpu'; see --backend SPEC).")
	return nil
}

// describeBackend opens spec and writes its device; for a composite, the
// devices of its backends, which runs which ops by their op lists, and
// which ops ran where and the bytes copied between them in steps training
// steps of config cfgName (after one warm-up step).
func describeBackend(ctx context.Context, spec, cfgName string, steps int, stdout io.Writer) error {
	cfg, err := bench.LookupConfig(cfgName)
	if err != nil {
		return fmt.Errorf("%w: --config: %v", errUsage, err)
	}
	if steps < 0 {
		return fmt.Errorf("%w: --steps must not be negative", errUsage)
	}
	be, err := openBackend(ctx, spec)
	if err != nil {
		return err
	}
	defer be.Close()
	line, isComposite := composite.Describe(be)
	if !isComposite {
		writeInfo(stdout, 0, be.Info())
		return nil
	}
	fmt.Fprintln(stdout, line)
	for i, info := range composite.Members(be) {
		writeInfo(stdout, i, info)
	}
	if steps == 0 {
		return nil
	}
	sess, err := bench.NewSession(be, cfg, 1)
	if err != nil {
		return err
	}
	defer sess.Close()
	var res bench.Result
	if _, err = sess.Steps(ctx, 1); err == nil {
		err = res.Timed(ctx, sess, steps)
	}
	if err != nil {
		return interrupted(ctx, err, "running training steps", "nothing measured")
	}
	fmt.Fprintf(stdout, "%d %s training step(s) after one warm-up step, %.1f ms/step: %s\n", steps, cfg.Name, res.MsPerStep, res.Split.Summary(steps))
	return res.Split.Write(stdout, steps)
}

func writeInfo(w io.Writer, i int, info backend.Info) {
	fmt.Fprintf(w, "  [%d] %s (%s) — open with --backend %s\n", i, info.Device, info.Kind, info.Backend)
	var parts []string
	if info.Memory > 0 {
		parts = append(parts, "memory "+bytesString(info.Memory))
	}
	if info.MaxTensorBytes > 0 {
		parts = append(parts, "largest tensor "+bytesString(info.MaxTensorBytes))
	}
	var dts []string
	for _, d := range info.DTypes {
		dts = append(dts, d.String())
	}
	parts = append(parts, "dtypes "+strings.Join(dts, ","), fmt.Sprintf("ops %d/%d", len(info.Ops), len(backend.Ops())))
	fmt.Fprintf(w, "      %s\n", strings.Join(parts, ", "))
	for _, l := range info.Limits {
		fmt.Fprintf(w, "      %s: %s\n", l[0], l[1])
	}
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d B", n)
}
