package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
)

// This file holds what train and eval share: the config flags and how they
// turn into a resolved config.

// setFlags collects repeated --set section.key=value flags.
type setFlags []string

func (s *setFlags) String() string { return strings.Join(*s, " ") }

func (s *setFlags) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want section.key=value, got %q", v)
	}
	*s = append(*s, v)
	return nil
}

// configFlags are the flags that choose and override a config.
type configFlags struct {
	config  *string
	backend *string
	seed    *string
	dataset *string
	skipBad *bool
	sets    setFlags
	// named overrides: flag name -> (key, value)
	named []namedOverride
}

type namedOverride struct {
	flag, key string
	value     *string
}

// addConfigFlags declares --config, --backend (with --plugin-dir), --seed,
// --dataset, --skip-bad-images and --set,
// plus the named overrides given as flag -> key pairs.
func addConfigFlags(fs *flag.FlagSet, defaultConfig string, named ...[3]string) *configFlags {
	cf := &configFlags{}
	cf.config = fs.String("config", defaultConfig, "config: a preset ("+strings.Join(config.Presets(), ", ")+") or a YAML file in the official format")
	cf.backend = backendFlag(fs, "", "backend (default: the config's ijepago.backend)")
	cf.seed = fs.String("seed", "", "seed of the weights, data order, augmentations and masks (ijepago.seed)")
	cf.dataset = fs.String("dataset", "", "dataset: a kind ("+strings.Join(data.Kinds, ", ")+"), KIND:PATH, or a PATH whose kind is recognised")
	cf.skipBad = fs.Bool("skip-bad-images", false, "leave out the images of an image folder that cannot be read, each logged, instead of stopping (ijepago.skip_bad_images)")
	fs.Var(&cf.sets, "set", "override a config key: section.key=value, value in YAML (repeatable; applied last)")
	for _, n := range named {
		cf.named = append(cf.named, namedOverride{flag: n[0], key: n[1], value: fs.String(n[0], "", n[2]+" ("+n[1]+")")})
	}
	return cf
}

// openConfig loads the config named by --config (or path, when not empty)
// and applies the overrides: --backend, --seed, --dataset,
// --skip-bad-images, the named flags,
// then each --set in order. It validates the result.
func (cf *configFlags) openConfig(path string) (*config.Config, error) {
	var c *config.Config
	var err error
	if path != "" {
		c, err = config.Load(path)
	} else {
		c, err = config.Open(*cf.config)
	}
	if err != nil {
		return nil, err
	}
	if err := cf.apply(c); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

func (cf *configFlags) apply(c *config.Config) error {
	if *cf.backend != "" {
		if err := c.SetFlag("--backend", "ijepago.backend", strconv.Quote(*cf.backend)); err != nil {
			return err
		}
	}
	if *cf.seed != "" {
		if err := c.SetFlag("--seed", "ijepago.seed", *cf.seed); err != nil {
			return err
		}
	}
	if *cf.dataset != "" {
		kind, path, err := datasetFlag(*cf.dataset)
		if err != nil {
			return err
		}
		if err := c.SetFlag("--dataset", "ijepago.dataset", kind); err != nil {
			return err
		}
		if path != "" {
			if err := c.SetFlag("--dataset", "data.root_path", strconv.Quote(path)); err != nil {
				return err
			}
			if err := c.SetFlag("--dataset", "data.image_folder", `""`); err != nil {
				return err
			}
		}
	}
	if *cf.skipBad {
		if err := c.SetFlag("--skip-bad-images", "ijepago.skip_bad_images", "true"); err != nil {
			return err
		}
	}
	for _, n := range cf.named {
		if *n.value != "" {
			if err := c.SetFlag("--"+n.flag, n.key, *n.value); err != nil {
				return err
			}
		}
	}
	for _, kv := range cf.sets {
		k, v, _ := strings.Cut(kv, "=")
		if err := c.Set(strings.TrimSpace(k), v); err != nil {
			return err
		}
	}
	return nil
}

// datasetFlag reads --dataset: KIND, KIND:PATH, or a PATH whose kind it
// recognises (a folder with train/ is an image folder; MNIST and CIFAR-10
// by their files).
func datasetFlag(v string) (kind, path string, err error) {
	for _, k := range data.Kinds {
		if v == k {
			return k, "", nil
		}
		if p, ok := strings.CutPrefix(v, k+":"); ok {
			return k, p, nil
		}
	}
	fi, err := os.Stat(v)
	if err != nil {
		return "", "", fmt.Errorf("--dataset %q: not a dataset kind (%s) and %v", v, strings.Join(data.Kinds, ", "), err)
	}
	if !fi.IsDir() {
		return "", "", fmt.Errorf("--dataset %q: want a folder, a kind (%s) or KIND:PATH", v, strings.Join(data.Kinds, ", "))
	}
	exists := func(names ...string) bool {
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(v, n)); err == nil {
				return true
			}
		}
		return false
	}
	switch {
	case exists("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-images.idx3-ubyte", "t10k-images-idx3-ubyte"):
		return data.KindMNIST, v, nil
	case exists("data_batch_1.bin", "test_batch.bin", "cifar-10-batches-bin"):
		return data.KindCIFAR10, v, nil
	case exists("train", "val"):
		return data.KindImageFolder, v, nil
	}
	return "", "", fmt.Errorf("--dataset %q: cannot tell its kind (no train/ or val/ folder, no MNIST or CIFAR-10 files); say KIND:PATH", v)
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
