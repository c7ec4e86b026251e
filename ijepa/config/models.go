package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ijepa-go/ijepa/nn"
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

// models holds the official vit_* constructors' shapes (nn.Variants) and
// the project's own small encoders.
var models = func() map[string]Model {
	m := map[string]Model{
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
	for _, v := range nn.Variants {
		m[v.Name] = Model{Dim: v.Dim, Depth: v.Depth, Heads: v.Heads, MLPHidden: v.MLPHidden}
	}
	return m
}()

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
