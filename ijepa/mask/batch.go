package mask

import (
	"fmt"

	"github.com/ijepa-go/ijepa/ijepa/internal/rng"
)

// Batch is the masks of one batch: patch indices into the row-major grid
// (index = row*Width + col), each list sorted ascending.
type Batch struct {
	// Step is the step index the batch was sampled for.
	Step int64
	// Height and Width are the patch grid; N = Height*Width patches per image.
	Height, Width int
	// PredSize and EncSize are the batch's target and context block sizes.
	PredSize, EncSize Size
	// Context holds each image's context indices, [B][Kc] (the official
	// masks_enc[0]).
	Context [][]int32
	// Targets holds the target indices mask-major, [M][B][Kt] (the official
	// masks_pred list: Targets[m] is the m-th target block of every image).
	Targets [][][]int32
	// ContextFull is each image's context size before the batch was
	// truncated to the shortest (for statistics).
	ContextFull []int
	// Relaxed counts how many times a target's exclusion was dropped after
	// Timeout failed context draws (the official sampler logs a warning each
	// time).
	Relaxed int
}

// B is the batch size.
func (b *Batch) B() int { return len(b.Context) }

// M is the number of target blocks per image.
func (b *Batch) M() int { return len(b.Targets) }

// N is the number of patches per image.
func (b *Batch) N() int { return b.Height * b.Width }

// Kc is the number of context patches per image (after truncation).
func (b *Batch) Kc() int {
	if len(b.Context) == 0 {
		return 0
	}
	return len(b.Context[0])
}

// Kt is the number of patches per target block (after truncation).
func (b *Batch) Kt() int {
	if len(b.Targets) == 0 || len(b.Targets[0]) == 0 {
		return 0
	}
	return len(b.Targets[0][0])
}

// ContextRows returns the context indices as rows of a [B*N, D] matrix of
// patch tokens (row = image*N + patch), image-major: B*Kc values, to gather
// the context tokens as [B, Kc, D].
func (b *Batch) ContextRows() []int32 {
	return flatten(b.Context, int32(b.N()))
}

// TargetRows returns the target indices as rows of a [B*N, D] matrix of patch
// tokens (row = image*N + patch), mask-major then image-major: M*B*Kt values,
// to gather the targets as [M*B, Kt, D] in the order the predictor emits
// them.
func (b *Batch) TargetRows() []int32 {
	out := make([]int32, 0, b.M()*b.B()*b.Kt())
	for _, m := range b.Targets {
		out = append(out, flatten(m, int32(b.N()))...)
	}
	return out
}

// ContextPatches returns the context patch indices (0..N-1) in the order of
// ContextRows, for gathering positional embeddings from an [N, D] table.
func (b *Batch) ContextPatches() []int32 { return flatten(b.Context, 0) }

// TargetPatches returns the target patch indices (0..N-1) in the order of
// TargetRows, for gathering positional embeddings from an [N, D] table.
func (b *Batch) TargetPatches() []int32 {
	out := make([]int32, 0, b.M()*b.B()*b.Kt())
	for _, m := range b.Targets {
		out = append(out, flatten(m, 0)...)
	}
	return out
}

// flatten concatenates idx[i] + i*stride over i.
func flatten(idx [][]int32, stride int32) []int32 {
	n := 0
	for _, l := range idx {
		n += len(l)
	}
	out := make([]int32, 0, n)
	for i, l := range idx {
		off := int32(i) * stride
		for _, v := range l {
			out = append(out, off+v)
		}
	}
	return out
}

// Pick returns the masks of some of the batch's images, in the order
// given: the masks a rank keeps when the masks are sampled for a global
// batch (their lengths stay those of the whole batch's truncation).
func (b *Batch) Pick(images []int) *Batch {
	out := *b
	out.Context = make([][]int32, len(images))
	out.ContextFull = make([]int, len(images))
	out.Targets = make([][][]int32, len(b.Targets))
	for m := range out.Targets {
		out.Targets[m] = make([][]int32, len(images))
	}
	for j, i := range images {
		out.Context[j], out.ContextFull[j] = b.Context[i], b.ContextFull[i]
		for m := range out.Targets {
			out.Targets[m][j] = b.Targets[m][i]
		}
	}
	return &out
}

// rect is a block placed on the grid: rows [top, top+h), cols [left, left+w).
type rect struct{ top, left, h, w int }

func (r rect) contains(row, col int) bool {
	return row >= r.top && row < r.top+r.h && col >= r.left && col < r.left+r.w
}

// Sample returns the masks of the batch at step for batch images. It is a
// pure function of the collator's settings, step and batch.
func (c *Collator) Sample(step int64, batch int) (*Batch, error) {
	return c.SampleRank(step, batch, 0)
}

// SampleRank returns the masks of one rank's batch at step in data-parallel
// training, where each rank samples its own, as each process's collator
// does in the official code: the step's block sizes (a function of the
// step alone, so the same on every rank) and positions drawn from a stream
// of (seed, step, rank). Rank 0's masks are Sample's, so a one-rank run is
// a single-process run.
func (c *Collator) SampleRank(step int64, batch, rank int) (*Batch, error) {
	if batch < 1 {
		return nil, fmt.Errorf("mask: batch size must be positive, got %d", batch)
	}
	cfg := c.cfg
	pred, enc := c.Sizes(step)
	for _, s := range []Size{pred, enc} {
		// New rules these out; this guards a size the sweep could miss.
		if s.Area() <= cfg.MinKeep {
			return nil, fmt.Errorf("mask: step %d: block size %v has %d patches, not more than min_keep %d; lower min_keep", step, s, s.Area(), cfg.MinKeep)
		}
	}
	out := &Batch{
		Step: step, Height: cfg.Height, Width: cfg.Width,
		PredSize: pred, EncSize: enc,
		Context:     make([][]int32, batch),
		Targets:     make([][][]int32, cfg.NumPred),
		ContextFull: make([]int, batch),
	}
	for m := range out.Targets {
		out.Targets[m] = make([][]int32, batch)
	}
	pos := rng.New(cfg.Seed, uint64(step))
	if rank != 0 {
		pos = rng.New(cfg.Seed, uint64(step), uint64(rank))
	}
	rects := make([]rect, cfg.NumPred)
	for b := 0; b < batch; b++ {
		for m := range rects {
			idx, r, _, err := c.sampleBlock(pos, pred, nil)
			if err != nil {
				return nil, fmt.Errorf("mask: step %d: image %d: target %d: %w", step, b, m, err)
			}
			out.Targets[m][b], rects[m] = idx, r
		}
		var excl []rect
		if !cfg.AllowOverlap {
			excl = rects
		}
		idx, _, relaxed, err := c.sampleBlock(pos, enc, excl)
		if err != nil {
			return nil, fmt.Errorf("mask: step %d: image %d: context: %w", step, b, err)
		}
		out.Context[b], out.ContextFull[b] = idx, len(idx)
		out.Relaxed += relaxed
	}
	truncate(out)
	return out, nil
}

// sampleBlock places a block of size s until it keeps more than MinKeep
// patches outside the exclusions excl. After every Timeout failures one more
// exclusion is dropped, the last first (the official relaxation); with none
// left the bare block (whose area New has checked) always succeeds, so at most
// Timeout*len(excl)+1 draws are made. The loop bound below is a second guard.
func (c *Collator) sampleBlock(g *rng.RNG, s Size, excl []rect) (idx []int32, r rect, relaxed int, err error) {
	cfg := c.cfg
	spanH, spanW := cfg.Height-s.H, cfg.Width-s.W // exclusive bound, official
	if cfg.Mode == Fixed {
		spanH, spanW = spanH+1, spanW+1
	}
	if spanH < 1 || spanW < 1 {
		return nil, rect{}, 0, fmt.Errorf("block %v does not fit the %dx%d grid", s, cfg.Height, cfg.Width)
	}
	tries, timeout := 0, Timeout
	limit := Timeout*(len(excl)+1) + 1
	for attempt := 0; attempt < limit; attempt++ {
		r = rect{top: g.IntN(spanH), left: g.IntN(spanW), h: s.H, w: s.W}
		active := excl[:max(len(excl)-tries, 0)]
		idx = idx[:0]
		for row := r.top; row < r.top+r.h; row++ {
		cell:
			for col := r.left; col < r.left+r.w; col++ {
				for _, e := range active {
					if e.contains(row, col) {
						continue cell
					}
				}
				idx = append(idx, int32(row*cfg.Width+col))
			}
		}
		if len(idx) > cfg.MinKeep {
			return idx, r, relaxed, nil
		}
		timeout--
		if timeout == 0 {
			tries++
			relaxed++
			timeout = Timeout
		}
	}
	return nil, rect{}, relaxed, fmt.Errorf("no %v block with more than min_keep %d patches in %d draws", s, cfg.MinKeep, limit)
}

// truncate cuts every context list to the batch's shortest and every target
// list to the shortest target, keeping the first indices in row-major order
// (the official collator's equal-length truncation).
func truncate(b *Batch) {
	kc := len(b.Context[0])
	for _, l := range b.Context {
		kc = min(kc, len(l))
	}
	for i := range b.Context {
		b.Context[i] = b.Context[i][:kc:kc]
	}
	kt := len(b.Targets[0][0])
	for _, m := range b.Targets {
		for _, l := range m {
			kt = min(kt, len(l))
		}
	}
	for _, m := range b.Targets {
		for i := range m {
			m[i] = m[i][:kt:kt]
		}
	}
}
