package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/model"
)

// Config is a benchmark configuration: a model and a batch size.
type Config struct {
	Name  string
	Model model.Config
	Batch int
}

// Configs are the benchmark configurations, the same as the PyTorch
// anchor's (and the tiny32 and small224 training presets): tiny32 is a
// 6-block ViT of width 192 (3 heads) on 32x32 images in 4x4 patches with a
// 4-block predictor of width 96, 64 images per batch; small224 is ViT-S/16 on
// 224x224 images with a 6-block predictor of width 192, 16 images per batch.
var Configs = map[string]Config{
	"tiny32": {Name: "tiny32", Batch: 64, Model: model.Config{
		Dim: 192, Depth: 6, Heads: 3, MLPHidden: 768, ImgSize: 32, Patch: 4, PredDim: 96, PredDepth: 4}},
	"small224": {Name: "small224", Batch: 16, Model: model.Config{
		Model: "vit_small", ImgSize: 224, Patch: 16, PredDim: 192, PredDepth: 6}},
}

// LookupConfig returns the configuration with the given name.
func LookupConfig(name string) (Config, error) {
	c, ok := Configs[name]
	if !ok {
		var names []string
		for n := range Configs {
			names = append(names, n)
		}
		sort.Strings(names)
		return Config{}, fmt.Errorf("bench: unknown config %q (known: %s)", name, strings.Join(names, ", "))
	}
	return c, nil
}

// Workload makes the batches of a benchmark: standard normal images and the
// masks of the anchor script, so that both sides do the same work — four
// target blocks of one size per batch (scale 0.15-0.2, aspect 0.75-1.5) and
// a context block (scale 0.85-1.0, square) with the targets removed, every
// context truncated to the batch's shortest (and cycled up to at least 4).
// It is a benchmark's workload, not the training sampler (package
// ijepa/mask).
type Workload struct {
	cfg  Config
	grid int
	rng  *rand.Rand
}

// NewWorkload returns the workload of cfg from seed.
func NewWorkload(cfg Config, seed uint64) (*Workload, error) {
	enc, err := cfg.Model.Encoder()
	if err != nil {
		return nil, err
	}
	return &Workload{cfg: cfg, grid: enc.Grid(), rng: rand.New(rand.NewPCG(seed, 0x1e9a))}, nil
}

// blockSize is the anchor's block_size: one uniform number sets both the
// scale and the aspect ratio, as in the official sampler.
func blockSize(n int, lo, hi, arLo, arHi, u float64) (int, int) {
	keep := math.Trunc(float64(n*n) * (lo + u*(hi-lo)))
	ar := arLo + u*(arHi-arLo)
	h := int(math.RoundToEven(math.Sqrt(keep * ar)))
	w := int(math.RoundToEven(math.Sqrt(keep / ar)))
	return min(h, n-1), min(w, n-1)
}

// Next returns the next batch.
func (w *Workload) Next() model.Batch {
	n, b, r := w.grid, w.cfg.Batch, w.rng
	th, tw := blockSize(n, 0.15, 0.2, 0.75, 1.5, r.Float64())
	ch, cw := blockSize(n, 0.85, 1.0, 1.0, 1.0, r.Float64())
	const blocks = 4
	bt := model.Batch{Targets: make([][][]int32, blocks)}
	taken := make([]bool, n*n)
	for i := 0; i < b; i++ {
		clear(taken)
		for t := 0; t < blocks; t++ {
			r0, c0 := r.IntN(n-th), r.IntN(n-tw)
			var cells []int32
			for y := 0; y < th; y++ {
				for x := 0; x < tw; x++ {
					p := (r0+y)*n + c0 + x
					cells = append(cells, int32(p))
					taken[p] = true
				}
			}
			bt.Targets[t] = append(bt.Targets[t], cells)
		}
		r0, c0 := r.IntN(n-ch), r.IntN(n-cw)
		var ctx []int32
		for y := 0; y < ch; y++ {
			for x := 0; x < cw; x++ {
				if p := (r0+y)*n + c0 + x; !taken[p] {
					ctx = append(ctx, int32(p))
				}
			}
		}
		bt.Context = append(bt.Context, ctx)
	}
	k := math.MaxInt
	for _, c := range bt.Context {
		k = min(k, len(c))
	}
	k = max(k, 4)
	for i, c := range bt.Context {
		out := make([]int32, k)
		for j := range out {
			out[j] = c[j%len(c)] // a context shorter than 4 is cycled, as (m*k)[:k]
		}
		bt.Context[i] = out
	}
	s := w.cfg.Model.ImgSize
	bt.Images = make([]float32, b*3*s*s)
	for i := range bt.Images {
		bt.Images[i] = float32(r.NormFloat64())
	}
	return bt
}
