package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/plugin"
)

func init() {
	register(command{
		name:    "backends",
		summary: "list the backends and their devices",
		run:     runBackends,
	})
}

func runBackends(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backends", stderr)
	plugin.DirFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
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
	return nil
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
