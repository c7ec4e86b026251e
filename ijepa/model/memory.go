package model

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// This file counts the memory of a training step without computing it: the
// model is allocated on a backend that holds no values and runs nothing
// (counter), and one step runs on it, so the count follows the code that
// trains — every tensor the step allocates, in its dtype, as long as it
// lives.

// StepMemory is what the tensors of one training step ask for, in bytes.
type StepMemory struct {
	// State is the model's own memory: the three networks' parameters,
	// the gradients and AdamW's moments.
	State int64
	// Peak is the most the live tensors ask for at once during the step,
	// State included.
	Peak int64
	// Trainable is the number of trainable parameters (the encoder's and
	// the predictor's): the float32 gradients data-parallel ranks average.
	Trainable int64
}

// StepShape is the shape of a training batch: B images, M target blocks of
// Kt patches each, contexts of Kc patches.
type StepShape struct{ B, M, Kc, Kt int }

// CountStep counts the memory of one training step in precision p of the
// model cfg declares on a batch of the given shape: the model is allocated
// (with no values) on a counting backend and the step runs there, each op
// checked and none computed, its tensors in the dtypes p gives them. It
// takes milliseconds even for ViT-H, and allocates only the host's mask
// index tables.
func CountStep(cfg Config, s StepShape, p amp.Precision) (StepMemory, error) {
	m, err := New(cfg)
	if err != nil {
		return StepMemory{}, err
	}
	m.SetPrecision(p)
	n := m.EncCfg.NumPatches()
	if s.B < 1 || s.M < 1 || s.Kc < 1 || s.Kc > n || s.Kt < 1 || s.Kt > n {
		return StepMemory{}, fmt.Errorf("model: count step: batch %d, %d blocks of %d patches, context %d: each must be from 1 (and at most %d patches)", s.B, s.M, s.Kt, s.Kc, n)
	}
	c := &counter{}
	be := backend.NewFront(c)
	if err := m.alloc(be, func(ps []*nn.Param) error {
		for _, p := range ps {
			p.Value = be.New(backend.F32, p.Shape...)
		}
		return be.Err()
	}); err != nil {
		return StepMemory{}, err
	}
	defer m.Free()
	state := c.live
	b := s.batch(n) // no images: their tensor is counted, not filled
	if _, err := m.Step(b, Hyper{LR: 1e-3, Momentum: 0.996}); err != nil {
		return StepMemory{}, fmt.Errorf("model: count step: %w", err)
	}
	return StepMemory{State: state, Peak: c.peak, Trainable: nn.Count(m.Trainable(), true)}, nil
}

// batch is a batch of shape s over a grid of n patches, without images:
// every context keeps the first Kc patches, every target block the last Kt
// (the patches chosen do not change a step's memory).
func (s StepShape) batch(n int) Batch {
	var b Batch
	for i := 0; i < s.B; i++ {
		ctx := make([]int32, s.Kc)
		for k := range ctx {
			ctx[k] = int32(k)
		}
		b.Context = append(b.Context, ctx)
	}
	for mi := 0; mi < s.M; mi++ {
		blk := make([][]int32, s.B)
		for i := range blk {
			blk[i] = make([]int32, s.Kt)
			for k := range blk[i] {
				blk[i][k] = int32(n - 1 - k)
			}
		}
		b.Targets = append(b.Targets, blk)
	}
	return b
}

// counter is a device that holds no values and computes nothing, under a
// Front that checks every call as for every backend (so a count is of a
// step that would run); it counts the bytes of live tensors and their
// high-water mark. Reads return zeros.
type counter struct{ live, peak int64 }

// isCounter reports whether be is CountStep's backend.
func isCounter(be backend.Backend) bool {
	f, ok := be.(*backend.Front)
	if !ok {
		return false
	}
	_, ok = f.Device().(*counter)
	return ok
}

func (c *counter) Info() backend.Info {
	return backend.Info{Backend: "count", Device: "counts memory, computes nothing", Kind: "other",
		DTypes: []backend.DType{backend.F32, backend.F16, backend.BF16, backend.I32}, Ops: backend.Ops()}
}

func (c *counter) Alloc(t *backend.Tensor, _ bool) (any, error) {
	c.live += int64(t.Bytes())
	c.peak = max(c.peak, c.live)
	return c, nil
}

func (c *counter) Free(st *backend.Storage) { c.live -= int64(st.Len * st.DType.Size()) }

func (c *counter) Write(*backend.Tensor, []byte) error { return nil }

func (c *counter) Read(_ *backend.Tensor, dst []byte) error {
	clear(dst)
	return nil
}

func (c *counter) Supports(backend.Call) error { return nil }
func (c *counter) Run(backend.Call) error      { return nil }
func (c *counter) Sync() error                 { return nil }
func (c *counter) Err() error                  { return nil }
func (c *counter) Close() error                { return nil }
