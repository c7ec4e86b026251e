package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/config"
)

// Helpers shared by the picture commands (masks, plot, features).

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

// checkOut refuses an empty output path or one in a missing directory
// before any work is done.
func checkOut(out string) error {
	if strings.TrimSpace(out) == "" {
		return fmt.Errorf("%w: --out is empty", errUsage)
	}
	if d := filepath.Dir(out); d != "." {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return fmt.Errorf("--out %s: no directory %s", out, d)
		}
	}
	return nil
}
