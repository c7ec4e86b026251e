package bench

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

// Config is a benchmark configuration: a model and a batch size.
type Config struct {
	Name  string
	Model model.Config
	Batch int
}

// Anchored are the configs the PyTorch anchor script also runs: tiny32 (a
// 6-block ViT of width 192 on 32x32 images in 4x4 patches, a 4-block
// predictor of width 96, 64 images per batch) and small224 (ViT-S/16 on
// 224x224 images, a 6-block predictor of width 192, 16 images per batch).
var Anchored = []string{"tiny32", "small224"}

// LookupConfig returns the benchmark config of a training preset (package
// ijepa/config): its encoder, predictor, image and patch sizes, loss and
// batch size.
func LookupConfig(name string) (Config, error) {
	c, err := config.Preset(name)
	if err != nil {
		return Config{}, fmt.Errorf("bench: %w", err)
	}
	mc, err := c.ModelConfig()
	if err != nil {
		return Config{}, fmt.Errorf("bench: preset %s: %w", name, err)
	}
	return Config{Name: name, Batch: c.Data.BatchSize, Model: mc}, nil
}

// Workload makes the batches of a benchmark: standard normal images and the
// masks of the anchor script (not the training collator, package
// ijepa/mask), so that both sides do the same work — four
// target blocks of one size per batch (scale 0.15-0.2, aspect 0.75-1.5) and
// a context block (scale 0.85-1.0, square) with the targets removed, every
// context truncated to the batch's shortest (and cycled up to at least 4).
type Workload struct {
	cfg            Config
	grid, channels int
	rng            *rand.Rand
}

// NewWorkload returns the workload of cfg from seed.
func NewWorkload(cfg Config, seed uint64) (*Workload, error) {
	enc, err := cfg.Model.Encoder()
	if err != nil {
		return nil, err
	}
	return &Workload{cfg: cfg, grid: enc.Grid(), channels: enc.Channels, rng: rand.New(rand.NewPCG(seed, 0x1e9a))}, nil
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
	bt.Images = make([]float32, b*w.channels*s*s)
	for i := range bt.Images {
		bt.Images[i] = float32(r.NormFloat64())
	}
	return bt
}
