package config

import (
	"fmt"
	"sort"
	"strings"
)

// Model is a ViT's shape.
type Model struct {
	Name string
	// Dim is the token width, Depth the number of blocks, Heads the number of
	// attention heads, MLPHidden the hidden width of each block's MLP.
	Dim, Depth, Heads, MLPHidden int
}

// MLPRatio is MLPHidden / Dim (4, or 48/11 for vit_giant).
func (m Model) MLPRatio() float64 { return float64(m.MLPHidden) / float64(m.Dim) }

// models holds the official vit_* constructors' shapes and the project's own
// small encoders.
var models = map[string]Model{
	"vit_tiny":  {Dim: 192, Depth: 12, Heads: 3, MLPHidden: 768},
	"vit_small": {Dim: 384, Depth: 12, Heads: 6, MLPHidden: 1536},
	"vit_base":  {Dim: 768, Depth: 12, Heads: 12, MLPHidden: 3072},
	"vit_large": {Dim: 1024, Depth: 24, Heads: 16, MLPHidden: 4096},
	"vit_huge":  {Dim: 1280, Depth: 32, Heads: 16, MLPHidden: 5120},
	"vit_giant": {Dim: 1408, Depth: 40, Heads: 16, MLPHidden: 6144}, // mlp ratio 48/11
	// Project presets: vit_tiny's width at half its depth (the tiny32
	// config), and very small encoders for the quick start and tests.
	"vit_micro": {Dim: 192, Depth: 6, Heads: 3, MLPHidden: 768},
	"vit_nano":  {Dim: 96, Depth: 4, Heads: 3, MLPHidden: 384},
	"vit_pico":  {Dim: 64, Depth: 4, Heads: 4, MLPHidden: 256},
	// The shape of ijepa/interop's PyTorch fixture (testdata/tiny.pth.tar,
	// a checkpoint saved as the official trainer saves one), so that
	// training from it is tested end to end.
	"vit_femto": {Dim: 24, Depth: 2, Heads: 2, MLPHidden: 96},
}

// ModelNames lists the encoder names meta.model_name accepts, sorted.
func ModelNames() []string {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupModel returns the shape of the encoder called name.
func LookupModel(name string) (Model, error) {
	m, ok := models[name]
	if !ok {
		return Model{}, fmt.Errorf("unknown model %q (want one of %s)", name, strings.Join(ModelNames(), ", "))
	}
	m.Name = name
	return m, nil
}
