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
	}
	n := cfg.Dataset.Len()
	ipe := StepsPerEpoch(n, cfg.BatchSize, cfg.DropLast)
	if ipe == 0 {
		return nil, fmt.Errorf("ijepa: loader: dataset %q has %d images, fewer than one batch of %d", cfg.Dataset.Name(), n, cfg.BatchSize)
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
	bs, n := int64(l.cfg.BatchSize), int64(l.cfg.Dataset.Len())
	for s := l.cfg.StartStep; l.cfg.Steps == 0 || s < l.cfg.StartStep+l.cfg.Steps; s++ {
		e, k := s/l.ipe, s%l.ipe
		if e != permEpoch {
			perm, permEpoch = l.Order(e), e
		}
		idx := append([]int(nil), perm[k*bs:min((k+1)*bs, n)]...)
		res := make(chan result, 1)
		select {
		case l.order <- res:
		case <-l.ctx.Done():
			return
		}
		select {
		case jobs <- job{step: s, epoch: e, idx: idx, res: res}:
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
		if err := cfg.Transform.Apply(b.Images[p*per:(p+1)*per], img, rng.Mix(cfg.Seed, 2, uint64(j.step), uint64(p))); err != nil {
			return nil, fmt.Errorf("ijepa: dataset %q: image %d: %w", cfg.Dataset.Name(), i, err)
		}
		b.Labels[p] = int32(cfg.Dataset.Label(i))
	}
	if cfg.Masks != nil {
		m, err := cfg.Masks.Sample(j.step, len(j.idx))
		if err != nil {
			return nil, err
		}
		b.Masks = m
	}
	return b, nil
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
