package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/internal/atomicfile"
)

// Helpers shared by the picture commands (masks, plot, features); checkOut
// by every command that writes a file.

// defaultPictureConfig is the config the picture commands use without
// --config: the quick start's preset, whose procedural dataset needs no
// download.
const defaultPictureConfig = "quick"

// openConfig opens a config file or a preset by name (empty: the default).
func openConfig(name string) (*config.Config, error) {
	if name == "" {
		name = defaultPictureConfig
	}
	return config.Open(name)
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("ijepa plot RUN --out x.png" as well as "ijepa plot --out
// x.png RUN") and returns the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// runConfigFor returns RUN/config.yaml when path is a checkpoint inside a
// run directory (RUN/checkpoints/x.safetensors), or "" otherwise.
func runConfigFor(checkpoint string) string {
	dir := filepath.Dir(checkpoint)
	if filepath.Base(dir) != "checkpoints" {
		return ""
	}
	c := filepath.Join(filepath.Dir(dir), "config.yaml")
	if _, err := os.Stat(c); err != nil {
		return ""
	}
	return c
}

// checkOut refuses, before any work is done, an empty output path, one in
// a missing directory, and one that exists and is not a regular file (a
// device, a FIFO, a socket or a directory: writing replaces the target
// with a regular file, so /dev/stdout or /dev/full is no target either).
func checkOut(out string) error {
	if strings.TrimSpace(out) == "" {
		return fmt.Errorf("%w: --out is empty", errUsage)
	}
	if d := filepath.Dir(out); d != "." {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return fmt.Errorf("--out %s: no directory %s", out, d)
		}
	}
	if err := atomicfile.CheckTarget(out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}
