// Package mask is I-JEPA's multi-block mask collator: for each batch it picks,
// per image, npred target blocks and one context block with every target patch
// removed, and returns them as patch indices into the row-major patch grid
// (index = row*width + col).
//
// Two modes. Official (the default) reproduces the sampler of the official
// code (facebookresearch/ijepa, src/masks/multiblock.py) with its quirks, for
// parity: block sizes are drawn once per batch from a generator seeded by the
// step counter (target size first, then context size with unit aspect ratio);
// one uniform number sets both the scale and the aspect ratio of a block;
// sizes are clamped to strictly less than the grid; block positions are drawn
// with an exclusive upper bound, so the last row and column are never covered
// (at 14x14 and 16x16 the context is always the top-left (G-1)x(G-1) block); a
// block counts only with more than min_keep patches; after 20 failed draws of
// a context block one target's exclusion is dropped (the last target's
// first); and every mask of a batch is truncated to the shortest, keeping the
// first K indices in row-major order. Fixed mode fixes the quirks as V-JEPA's
// collator does: separate uniform draws for scale and aspect ratio, sizes
// clamped to at most the grid, and an inclusive position bound, so a block can
// reach every row and column. Everything else is shared.
//
// Unlike the official sampler, which loops forever when no block can exceed
// min_keep (an 8x8 grid with min_keep 10: a 3x3 target never has more than 10
// patches), New rejects such settings up front and says why, and every retry
// loop here is bounded.
//
// Randomness: the official code seeds a torch.Generator with the step counter
// for the block sizes and draws positions from each DataLoader worker's global
// torch RNG. Here sizes come from a generator seeded by the step alone (so,
// as in the official code, they do not depend on the run's seed) and positions
// from a generator seeded by (Config.Seed, step), so a batch is a pure
// function of the configuration and the step index, whatever the number of
// loader workers. The generators are Go PCG streams, not torch's: the numbers
// differ from the official code's, the distributions do not.
package mask

import (
	"fmt"
	"math"
	"sort"

	"github.com/ijepa-go/ijepa/ijepa/internal/rng"
)

// Mode selects the official sampler's semantics or the fixed ones.
type Mode string

const (
	// Official reproduces the official I-JEPA sampler, quirks included.
	Official Mode = "official"
	// Fixed draws scale and aspect ratio independently and lets blocks reach
	// the last row and column (as V-JEPA's collator does).
	Fixed Mode = "fixed"
)

// Timeout is the number of failed draws of a context block after which one
// more target's exclusion is dropped (the official sampler's timeout).
const Timeout = 20

// Config holds the collator's settings; the names in the comments are the
// official YAML keys of the mask section.
type Config struct {
	// Height and Width are the patch grid: crop_size / patch_size.
	Height, Width int
	// PredScale is the range of a target block's share of the grid
	// (pred_mask_scale, official [0.15, 0.2]).
	PredScale [2]float64
	// EncScale is the range of the context block's share of the grid
	// (enc_mask_scale, official [0.85, 1.0]).
	EncScale [2]float64
	// AspectRatio is the range of a target block's height/width
	// (aspect_ratio, official [0.75, 1.5]). Context blocks are square.
	AspectRatio [2]float64
	// NumPred is the number of target blocks per image (num_pred_masks, 4).
	NumPred int
	// NumEnc is the number of context blocks per image (num_enc_masks); only
	// 1 is supported, as in every official config.
	NumEnc int
	// MinKeep: a block counts only with more than MinKeep patches (min_keep,
	// official 10).
	MinKeep int
	// AllowOverlap lets the context keep target patches (allow_overlap,
	// official false).
	AllowOverlap bool
	// Mode is Official or Fixed; empty means Official.
	Mode Mode
	// Seed seeds the block positions (the sizes depend on the step only).
	Seed uint64
}

// Default returns the official settings of every released config for a
// height x width patch grid (e.g. 14x14 for 224-pixel crops of patch 16).
func Default(height, width int) Config {
	return Config{
		Height:      height,
		Width:       width,
		PredScale:   [2]float64{0.15, 0.2},
		EncScale:    [2]float64{0.85, 1.0},
		AspectRatio: [2]float64{0.75, 1.5},
		NumPred:     4,
		NumEnc:      1,
		MinKeep:     10,
		Mode:        Official,
	}
}

// SettingError reports a setting the collator cannot use. Key is the official
// name of the offending setting (e.g. "min_keep", "pred_mask_scale"), so that
// a config loader can name its own key.
type SettingError struct {
	Key string
	Msg string
}

func (e *SettingError) Error() string { return "mask: " + e.Key + ": " + e.Msg }

// Size is a block's height and width in patches.
type Size struct{ H, W int }

// Area is the number of patches in the block.
func (s Size) Area() int { return s.H * s.W }

func (s Size) String() string { return fmt.Sprintf("%dx%d", s.H, s.W) }

// Collator samples the masks of a batch. It is immutable after New and safe
// for concurrent use.
type Collator struct {
	cfg       Config
	predSizes []Size
	encSizes  []Size
}

// New validates cfg and returns a collator. It rejects settings for which the
// official sampler would loop forever: every reachable target and context
// block must have more than MinKeep patches.
func New(cfg Config) (*Collator, error) {
	if cfg.Mode == "" {
		cfg.Mode = Official
	}
	if err := checkShape(cfg); err != nil {
		return nil, err
	}
	c := &Collator{
		cfg:       cfg,
		predSizes: reachable(cfg, cfg.PredScale, cfg.AspectRatio),
		encSizes:  reachable(cfg, cfg.EncScale, [2]float64{1, 1}),
	}
	if err := c.checkFeasible(); err != nil {
		return nil, err
	}
	return c, nil
}

func checkShape(cfg Config) error {
	bad := func(key, format string, args ...any) error {
		return &SettingError{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	switch cfg.Mode {
	case Official, Fixed:
	default:
		return bad("mode", "must be %q or %q, got %q", Official, Fixed, cfg.Mode)
	}
	if cfg.Height < 1 || cfg.Width < 1 {
		return bad("grid", "the patch grid must be at least 1x1, got %dx%d (crop_size / patch_size)", cfg.Height, cfg.Width)
	}
	if cfg.Height > 256 || cfg.Width > 256 {
		return bad("grid", "the patch grid %dx%d is larger than 256x256", cfg.Height, cfg.Width)
	}
	for _, s := range []struct {
		key string
		v   [2]float64
	}{{"pred_mask_scale", cfg.PredScale}, {"enc_mask_scale", cfg.EncScale}} {
		if !(s.v[0] > 0 && s.v[0] <= s.v[1] && s.v[1] <= 1) {
			return bad(s.key, "must be [min, max] with 0 < min <= max <= 1, got [%g, %g]", s.v[0], s.v[1])
		}
	}
	ar := cfg.AspectRatio
	if !(ar[0] > 0 && ar[0] <= ar[1] && !math.IsInf(ar[1], 0)) {
		return bad("aspect_ratio", "must be [min, max] with 0 < min <= max, got [%g, %g]", ar[0], ar[1])
	}
	if cfg.NumPred < 1 || cfg.NumPred > 64 {
		return bad("num_pred_masks", "must be an integer from 1 to 64, got %d", cfg.NumPred)
	}
	if cfg.NumEnc != 1 {
		return bad("num_enc_masks", "only 1 context block per image is supported (as in every official config), got %d", cfg.NumEnc)
	}
	if cfg.MinKeep < 0 {
		return bad("min_keep", "must be a non-negative integer, got %d", cfg.MinKeep)
	}
	return nil
}

func (c *Collator) checkFeasible() error {
	cfg := c.cfg
	minArea := func(sizes []Size) Size {
		m := sizes[0]
		for _, s := range sizes[1:] {
			if s.Area() < m.Area() {
				m = s
			}
		}
		return m
	}
	for _, blk := range []struct {
		what, scaleKey string
		sizes          []Size
	}{{"target", "pred_mask_scale", c.predSizes}, {"context", "enc_mask_scale", c.encSizes}} {
		s := minArea(blk.sizes)
		if s.Area() > cfg.MinKeep {
			continue
		}
		fix := fmt.Sprintf("lower min_keep to at most %d, raise %s, or use a larger patch grid (a larger crop_size or a smaller patch_size)", s.Area()-1, blk.scaleKey)
		if s.Area() == 0 {
			fix = fmt.Sprintf("raise %s or use a larger patch grid (a larger crop_size or a smaller patch_size)", blk.scaleKey)
		}
		return &SettingError{Key: "min_keep", Msg: fmt.Sprintf(
			"impossible settings: on the %dx%d patch grid a %s block can be as small as %v = %d patches, "+
				"but a block counts only with more than min_keep = %d patches, so sampling could never finish "+
				"(the official sampler loops forever here); %s",
			cfg.Height, cfg.Width, blk.what, s, s.Area(), cfg.MinKeep, fix)}
	}
	return c.checkExclusion()
}

// checkExclusion rejects settings that the sampler could meet only by
// relaxing: a target size and a context size, both drawn with non-zero
// probability, such that wherever the blocks are placed the context keeps
// at most MinKeep patches outside even a single target block (the best
// case: every target block of the image in the same place). A batch of
// those sizes would drop the targets' exclusion every time — the context
// then holds target patches — after Timeout failed draws per target.
func (c *Collator) checkExclusion() error {
	cfg := c.cfg
	if cfg.AllowOverlap {
		return nil
	}
	for _, e := range c.encSizes {
		for _, p := range c.predSizes {
			keep := e.Area() - c.minOverlap(e.H, p.H, cfg.Height)*c.minOverlap(e.W, p.W, cfg.Width)
			if keep > cfg.MinKeep {
				continue
			}
			return &SettingError{Key: "pred_mask_scale", Msg: fmt.Sprintf(
				"impossible settings: on the %dx%d patch grid a context block of %v and a target block of %v, both drawn with these scales, "+
					"overlap wherever they are placed, so the context keeps at most %d patches outside the targets, not more than min_keep = %d; "+
					"the sampler could only go on by dropping the targets' exclusion (the context would hold target patches); "+
					"lower pred_mask_scale (%g-%g) or min_keep, raise enc_mask_scale, or set allow_overlap: true",
				cfg.Height, cfg.Width, e, p, keep, cfg.MinKeep, cfg.PredScale[0], cfg.PredScale[1])}
		}
	}
	return nil
}

// minOverlap is the least overlap, along one side of length g, of a
// context block of side a and a target block of side b placed anywhere the
// sampler places them. The overlap is a trapezoid in the difference of
// their positions, so its least value is at one of the two extremes: the
// context first and the target last, or the reverse.
func (c *Collator) minOverlap(a, b, g int) int {
	spanA, spanB := g-a, g-b // exclusive bound, official
	if c.cfg.Mode == Fixed {
		spanA, spanB = spanA+1, spanB+1
	}
	if spanA < 1 || spanB < 1 {
		return min(a, b)
	}
	over := func(pa, pb int) int { return max(0, min(pa+a, pb+b)-max(pa, pb)) }
	return min(over(0, spanB-1), over(spanA-1, 0))
}

// Config returns the collator's settings (Mode filled in).
func (c *Collator) Config() Config { return c.cfg }

// BlockSizes returns every block size the collator draws with non-zero
// probability for targets and for the context, sorted by area then height.
// The set is exact: the size rule is piecewise constant in its random inputs,
// and it is evaluated on every piece between the breakpoints where the patch
// count or a rounded side changes. (Floating-point rounding can make a few
// isolated input values, each drawn with probability about 2^-53, give
// another size; should one ever come up with too few patches, Sample returns
// an error rather than loop.)
func (c *Collator) BlockSizes() (pred, enc []Size) {
	return append([]Size(nil), c.predSizes...), append([]Size(nil), c.encSizes...)
}

// keepOf is the official max_keep: int(H*W*scale) for the scale drawn by rs.
func keepOf(cfg Config, scale [2]float64, rs float64) int {
	s := scale[0] + rs*(scale[1]-scale[0])
	return int(float64(cfg.Height*cfg.Width) * s)
}

// sizeOf turns a patch count and an aspect ratio into a clamped block size.
func sizeOf(cfg Config, keep int, ar float64) Size {
	// Python's round() rounds half to even.
	h := int(math.RoundToEven(math.Sqrt(float64(keep) * ar)))
	w := int(math.RoundToEven(math.Sqrt(float64(keep) / ar)))
	maxH, maxW := cfg.Height, cfg.Width
	if cfg.Mode == Official {
		maxH, maxW = cfg.Height-1, cfg.Width-1
	}
	return Size{H: max(min(h, maxH), 0), W: max(min(w, maxW), 0)}
}

// blockSize is the official _sample_block_size with the random input(s)
// given: rs sets the scale and ra the aspect ratio (the same value in
// official mode).
func blockSize(cfg Config, rs, ra float64, scale, aspect [2]float64) Size {
	return sizeOf(cfg, keepOf(cfg, scale, rs), aspect[0]+ra*(aspect[1]-aspect[0]))
}

// aspectBreaks appends to out, in increasing order, the aspect ratios
// around [a0, a1] at which a side of a keep-patch block changes:
// sqrt(keep*ar) or sqrt(keep/ar) crossing j+0.5. Sides beyond the grid are
// clamped, so j stops there. The two families are each monotone in j, so
// they are merged, not sorted.
func aspectBreaks(out []float64, cfg Config, keep int, a0, a1 float64) []float64 {
	if keep <= 0 {
		return out
	}
	k, top := float64(keep), max(cfg.Height, cfg.Width)+1
	q := func(j int) float64 { return (float64(j) + 0.5) * (float64(j) + 0.5) }
	// Heights: ar = q/k, increasing in j. Widths: ar = k/q, decreasing in
	// j, so walked from the largest j down.
	h, hEnd := max(int(math.Sqrt(k*a0))-1, 0), min(int(math.Sqrt(k*a1))+1, top)
	w, wEnd := min(int(math.Sqrt(k/a0))+1, top), max(int(math.Sqrt(k/a1))-1, 0)
	for h <= hEnd || w >= wEnd {
		switch {
		case w < wEnd || h <= hEnd && q(h)/k <= k/q(w):
			out = append(out, q(h)/k)
			h++
		default:
			out = append(out, k/q(w))
			w--
		}
	}
	return out
}

// sizeBits is a set of block sizes on a grid (sides 0 to the grid's).
type sizeBits struct {
	w   int
	has []bool
}

func newSizeSet(cfg Config) *sizeBits {
	return &sizeBits{w: cfg.Width + 1, has: make([]bool, (cfg.Height+1)*(cfg.Width+1))}
}

func (s *sizeBits) add(z Size) { s.has[z.H*s.w+z.W] = true }

// evalBetween splits [lo, hi) at the points of pts (in increasing order)
// inside it and evaluates size at the middle of each piece: on each piece
// the size is constant, so this finds every size drawn with non-zero
// probability.
func evalBetween(pts []float64, lo, hi float64, size func(float64) Size, seen *sizeBits) {
	prev := lo
	for _, p := range append(pts, hi) {
		if p <= prev {
			continue
		}
		p = min(p, hi)
		seen.add(size(prev + (p-prev)/2))
		prev = p
		if p == hi {
			return
		}
	}
}

func reachable(cfg Config, scale, aspect [2]float64) []Size {
	seen := newSizeSet(cfg)
	span, aspan := scale[1]-scale[0], aspect[1]-aspect[0]
	// Patch counts drawn with non-zero probability: floor of [HW*s0, HW*s1).
	hw := float64(cfg.Height * cfg.Width)
	kLo, kHi := int(hw*scale[0]), int(math.Ceil(hw*scale[1]))-1
	if span == 0 {
		kHi = kLo
	}
	if cfg.Mode == Official {
		// One r sets both the count and the aspect ratio: walk the counts,
		// and within the r-interval of each, the breakpoints of its sides
		// (only those, so that wide ranges on a large grid stay quick).
		size := func(r float64) Size { return blockSize(cfg, r, r, scale, aspect) }
		var pts []float64
		for k := kLo; k <= kHi; k++ {
			lo, hi := 0.0, 1.0
			if span > 0 {
				lo = max(0, (float64(k)/hw-scale[0])/span)
				hi = min(1, (float64(k+1)/hw-scale[0])/span)
			}
			if hi <= lo {
				continue
			}
			pts = pts[:0]
			if aspan > 0 {
				pts = aspectBreaks(pts, cfg, k, aspect[0]+lo*aspan, aspect[0]+hi*aspan)
				for i, ar := range pts {
					pts[i] = (ar - aspect[0]) / aspan
				}
			}
			evalBetween(pts, lo, hi, size, seen)
		}
	} else {
		// Independent draws: every count in range, with every aspect ratio.
		var pts []float64
		for k := kLo; k <= kHi; k++ {
			if aspan == 0 {
				seen.add(sizeOf(cfg, k, aspect[0]))
				continue
			}
			pts = aspectBreaks(pts[:0], cfg, k, aspect[0], aspect[1])
			evalBetween(pts, aspect[0], aspect[1], func(ar float64) Size { return sizeOf(cfg, k, ar) }, seen)
		}
	}
	var sizes []Size
	for i, ok := range seen.has {
		if ok {
			sizes = append(sizes, Size{H: i / seen.w, W: i % seen.w})
		}
	}
	sort.Slice(sizes, func(i, j int) bool {
		if a, b := sizes[i].Area(), sizes[j].Area(); a != b {
			return a < b
		}
		return sizes[i].H < sizes[j].H
	})
	return sizes
}

// Sizes returns the target and context block sizes of the batch at step (a
// function of the step alone).
func (c *Collator) Sizes(step int64) (pred, enc Size) {
	cfg := c.cfg
	g := rng.New(uint64(step))
	if cfg.Mode == Official {
		r := g.Float64()
		pred = blockSize(cfg, r, r, cfg.PredScale, cfg.AspectRatio)
		r = g.Float64()
		enc = blockSize(cfg, r, r, cfg.EncScale, [2]float64{1, 1})
		return pred, enc
	}
	rs, ra := g.Float64(), g.Float64()
	pred = blockSize(cfg, rs, ra, cfg.PredScale, cfg.AspectRatio)
	rs, ra = g.Float64(), g.Float64()
	enc = blockSize(cfg, rs, ra, cfg.EncScale, [2]float64{1, 1})
	return pred, enc
}
