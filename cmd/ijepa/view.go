package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

func init() {
	register(command{
		name:    "view",
		summary: "open a window that follows a training run (runs the ijepa-view binary)",
		usage:   "[--page N] [--images N] [--backend NAME] RUN_DIR",
		run:     runView,
	})
}

// viewEnv names the viewer binary to run, overriding the search.
const viewEnv = "IJEPA_VIEW"

// viewerPath finds the ijepa-view binary: $IJEPA_VIEW, then next to this
// executable, then on the PATH.
func viewerPath() (string, error) {
	if p := os.Getenv(viewEnv); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "ijepa-view")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("ijepa-view"); err == nil {
		return p, nil
	}
	return "", errors.New("the viewer is a binary of its own, built with the glfw tag so the rest of ijepa needs no X11 headers, and none was found " +
		"next to ijepa or on the PATH; build it with `go build -tags glfw -o ijepa-view ./cmd/ijepa-view` " +
		"(or set " + viewEnv + " to its path)")
}

// runView runs the viewer with the arguments given; its -h lists the keys.
func runView(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p, err := viewerPath()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exitCode(exit.ExitCode())
		}
		return fmt.Errorf("run %s: %w", p, err)
	}
	return nil
}
