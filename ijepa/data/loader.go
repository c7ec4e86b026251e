package data

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/ijepa-go/ijepa/ijepa/internal/rng"
	"github.com/ijepa-go/ijepa/ijepa/mask"
)

// LoaderConfig configures a Loader.
type LoaderConfig struct {
	// Dataset is read from; Transform turns each image into [C, S, S].
	Dataset   Dataset
	Transform Transform
	// BatchSize is the number of images per batch.
	BatchSize int
	// Masks, if not nil, samples the masks of each batch (for the step).
	Masks *mask.Collator
	// Seed seeds the epoch shuffles and the augmentations.
	Seed uint64
	// Shuffle draws a new order of the dataset each epoch; otherwise the
	// dataset is read in index order.
	Shuffle bool
	// DropLast drops an epoch's last, incomplete batch (the official loader
	// does); otherwise that batch is smaller.
	DropLast bool
	// Workers is the number of goroutines building batches (0: GOMAXPROCS).
	Workers int
	// Prefetch bounds how many batches are built ahead of Next (0: Workers+1).
	Prefetch int
	// StartStep is the step index of the first batch (to resume exactly).
	StartStep int64
	// Steps is how many batches to produce before Next returns io.EOF
	// (0: no end; use StepsPerEpoch for one pass).
	Steps int64

	// Ranks and Rank make this loader rank Rank's of a data-parallel run
	// of Ranks processes (Ranks 0 or 1: a single process), as PyTorch's
	// DistributedSampler does: each epoch's order is padded to a multiple
	// of Ranks by repeating its beginning, a step's global batch is the
	// next BatchSize*Ranks images of it, and rank Rank reads every
	// Ranks-th of those from its own position on (the sampler's
	// order[Rank::Ranks] shard, batched). BatchSize is per rank.
	Ranks, Rank int
	// StartOffset, when positive, is where in its epoch's order (counted
	// in images of all ranks) the batch of StartStep begins, instead of
	// (StartStep mod StepsPerEpoch) x BatchSize x Ranks; the epoch's later
	// batches follow it. A run resumed on another number of ranks so
	// continues the data order from the images seen (ResumeStep). It
	// needs DropLast.
	StartOffset int64
	// GlobalMasks samples each step's masks for the whole global batch and
	// gives this rank its images' masks, so that the masks do not depend
	// on how the batch is split into ranks (the data-parallel equivalence
	// tests); otherwise each rank samples its own
	// (mask.Collator.SampleRank).
	GlobalMasks bool
}

// Batch is one batch of images, labels and masks.
type Batch struct {
	// Step is the batch's step index; Epoch the epoch it belongs to.
	Step, Epoch int64
	// Size is the image side and Channels the number of channels: Images
	// is [B, Channels, Size, Size], row-major.
	Size, Channels int
	Images         []float32
	// Labels holds each image's class; Indices each image's dataset index.
	Labels  []int32
	Indices []int
	// Masks is the batch's masks (nil without a collator).
	Masks *mask.Batch
}

// B is the number of images in the batch.
func (b *Batch) B() int { return len(b.Labels) }

// StepsPerEpoch is the number of batches in one pass over n images.
func StepsPerEpoch(n, batch int, dropLast bool) int64 {
	if batch < 1 || n < 1 {
		return 0
	}
	if dropLast {
		return int64(n / batch)
	}
	return int64((n + batch - 1) / batch)
}

// Loader produces batches in step order, built ahead by a pool of goroutines.
// Batch s is a pure function of (Seed, s): epoch e = s / StepsPerEpoch reads
// the e-th shuffle of the dataset, and image p of the batch is augmented with
// a seed derived from (Seed, s, p), so the batches do not depend on the
// number of workers, and a loader started at StartStep s gives the same
// batches as one started at 0 gives from s on.
type Loader struct {
	cfg    LoaderConfig
	ipe    int64
	ctx    context.Context
	cancel context.CancelFunc
	order  chan chan result
	wg     sync.WaitGroup
	err    error
}

type job struct {
	step, epoch int64
	idx         []int
	global      int // images in the step's global batch
	res         chan result
}

type result struct {
	b   *Batch
	err error
}

// NewLoader starts a loader; it stops when ctx is cancelled or Close is
// called.
func NewLoader(ctx context.Context, cfg LoaderConfig) (*Loader, error) {
	switch {
	case cfg.Dataset == nil:
		return nil, fmt.Errorf("ijepa: loader: no dataset")
	case cfg.Transform == nil:
		return nil, fmt.Errorf("ijepa: loader: no transform")
	case cfg.BatchSize < 1:
		return nil, fmt.Errorf("ijepa: loader: batch size must be positive, got %d", cfg.BatchSize)
	case cfg.StartStep < 0 || cfg.Steps < 0:
		return nil, fmt.Errorf("ijepa: loader: start step %d and steps %d must not be negative", cfg.StartStep, cfg.Steps)
	case cfg.Workers < 0 || cfg.Prefetch < 0:
		return nil, fmt.Errorf("ijepa: loader: workers %d and prefetch %d must not be negative", cfg.Workers, cfg.Prefetch)
	case cfg.Ranks < 0 || cfg.Rank < 0 || cfg.Rank >= max(cfg.Ranks, 1):
		return nil, fmt.Errorf("ijepa: loader: rank %d of %d ranks", cfg.Rank, cfg.Ranks)
	case cfg.StartOffset < 0 || cfg.StartOffset > 0 && !cfg.DropLast:
		return nil, fmt.Errorf("ijepa: loader: start offset %d: must not be negative, and needs DropLast", cfg.StartOffset)
	}
	cfg.Ranks = max(cfg.Ranks, 1)
	n := cfg.Dataset.Len()
	ipe := StepsPerEpoch(ShardLen(n, cfg.Ranks), cfg.BatchSize, cfg.DropLast)
	if ipe == 0 {
		return nil, fmt.Errorf("ijepa: loader: dataset %q has %d images, fewer than one batch of %d on each of %d ranks", cfg.Dataset.Name(), n, cfg.BatchSize, cfg.Ranks)
	}
	if o := cfg.StartOffset; o > 0 {
		left := ipe - cfg.StartStep%ipe
		if g := int64(cfg.BatchSize * cfg.Ranks); o+left*g > int64(ShardLen(n, cfg.Ranks)*cfg.Ranks) {
			return nil, fmt.Errorf("ijepa: loader: start offset %d leaves no room for the %d batches of %d left in epoch %d (ResumeStep gives the step that fits)", o, left, g, cfg.StartStep/ipe)
		}
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = cfg.Workers + 1
	}
	l := &Loader{cfg: cfg, ipe: ipe, order: make(chan chan result, cfg.Prefetch)}
	l.ctx, l.cancel = context.WithCancel(ctx)
	jobs := make(chan job)
	l.wg.Add(1 + cfg.Workers)
	go l.dispatch(jobs)
	for w := 0; w < cfg.Workers; w++ {
		go func() {
			defer l.wg.Done()
			for j := range jobs {
				b, err := l.build(j)
				j.res <- result{b, err}
			}
		}()
	}
	return l, nil
}

// StepsPerEpoch is the number of batches per epoch (the official ipe).
func (l *Loader) StepsPerEpoch() int64 { return l.ipe }

// Order returns the dataset indices of epoch e in the order the loader reads
// them.
func (l *Loader) Order(epoch int64) []int {
	n := l.cfg.Dataset.Len()
	if !l.cfg.Shuffle {
		p := make([]int, n)
		for i := range p {
			p[i] = i
		}
		return p
	}
	return rng.New(l.cfg.Seed, 1, uint64(epoch)).Perm(n)
}

func (l *Loader) dispatch(jobs chan<- job) {
	defer l.wg.Done()
	defer close(l.order)
	defer close(jobs)
	var perm []int
	permEpoch := int64(-1)
	bs, ranks := l.cfg.BatchSize, l.cfg.Ranks
	padded := ShardLen(l.cfg.Dataset.Len(), ranks) * ranks
	for s := l.cfg.StartStep; l.cfg.Steps == 0 || s < l.cfg.StartStep+l.cfg.Steps; s++ {
		e := s / l.ipe
		if e != permEpoch {
			perm, permEpoch = l.Order(e), e
		}
		start := l.batchStart(s)
		global := min(bs*ranks, padded-start)
		var idx []int
		for q := l.cfg.Rank; q < global; q += ranks {
			idx = append(idx, perm[(start+q)%len(perm)])
		}
		res := make(chan result, 1)
		select {
		case l.order <- res:
		case <-l.ctx.Done():
			return
		}
		select {
		case jobs <- job{step: s, epoch: e, idx: idx, global: global, res: res}:
		case <-l.ctx.Done():
			res <- result{err: l.ctx.Err()}
			return
		}
	}
}

func (l *Loader) build(j job) (*Batch, error) {
	cfg := l.cfg
	s, ch := cfg.Transform.Size(), cfg.Transform.Channels()
	per := ch * s * s
	b := &Batch{
		Step: j.step, Epoch: j.epoch, Size: s, Channels: ch,
		Images:  make([]float32, len(j.idx)*per),
		Labels:  make([]int32, len(j.idx)),
		Indices: j.idx,
	}
	for p, i := range j.idx {
		if err := l.ctx.Err(); err != nil {
			return nil, err
		}
		img, err := cfg.Dataset.Image(i)
		if err != nil {
			return nil, err
		}
		// Augmentations are keyed by the image's position in the global
		// batch, so they do not depend on the number of ranks.
		q := p*cfg.Ranks + cfg.Rank
		if err := cfg.Transform.Apply(b.Images[p*per:(p+1)*per], img, rng.Mix(cfg.Seed, 2, uint64(j.step), uint64(q))); err != nil {
			return nil, fmt.Errorf("ijepa: dataset %q: image %d: %w", cfg.Dataset.Name(), i, err)
		}
		b.Labels[p] = int32(cfg.Dataset.Label(i))
	}
	if cfg.Masks != nil {
		m, err := l.masks(j)
		if err != nil {
			return nil, err
		}
		b.Masks = m
	}
	return b, nil
}

// batchStart is where in its epoch's padded order the global batch of step
// s begins.
func (l *Loader) batchStart(s int64) int {
	g := int64(l.cfg.BatchSize * l.cfg.Ranks)
	if o := l.cfg.StartOffset; o > 0 && s/l.ipe == l.cfg.StartStep/l.ipe {
		return int(o + (s-l.cfg.StartStep)*g)
	}
	return int(s % l.ipe * g)
}

// Position returns where the batch of step s begins: its epoch, and the
// images of that epoch's order the steps before it read (all ranks
// together). A checkpoint records it, so that a run resumed on another
// number of ranks goes on from there (ResumeStep).
func (l *Loader) Position(s int64) (epoch, offset int64) {
	return s / l.ipe, int64(l.batchStart(s))
}

// masks samples the masks of job j: this rank's own, or its images' share
// of the global batch's (GlobalMasks).
func (l *Loader) masks(j job) (*mask.Batch, error) {
	if !l.cfg.GlobalMasks {
		return l.cfg.Masks.SampleRank(j.step, len(j.idx), l.cfg.Rank)
	}
	all, err := l.cfg.Masks.Sample(j.step, j.global)
	if err != nil {
		return nil, err
	}
	mine := make([]int, len(j.idx))
	for p := range mine {
		mine[p] = p*l.cfg.Ranks + l.cfg.Rank
	}
	return all.Pick(mine), nil
}

// Next returns the next batch in step order; call it from one goroutine. It returns io.EOF after Steps
// batches, the context's error once cancelled or closed, and the first error
// met building a batch (which stops the loader; later calls return it too).
func (l *Loader) Next() (*Batch, error) {
	if l.err != nil {
		return nil, l.err
	}
	if err := l.ctx.Err(); err != nil {
		return nil, err
	}
	var r result
	select {
	case res, ok := <-l.order:
		if !ok {
			if err := l.ctx.Err(); err != nil {
				return nil, err
			}
			l.err = io.EOF
			return nil, io.EOF
		}
		select {
		case r = <-res:
		case <-l.ctx.Done():
			return nil, l.ctx.Err()
		}
	case <-l.ctx.Done():
		return nil, l.ctx.Err()
	}
	if r.err != nil {
		l.err = r.err
		l.cancel()
		return nil, r.err
	}
	return r.b, nil
}

// Close stops the loader and waits for its goroutines.
func (l *Loader) Close() {
	l.cancel()
	l.wg.Wait()
}
