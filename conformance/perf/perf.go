// Package perf is the conformance suite's timing mode (ijepa conformance
// --mode perf): the matrix products and memory-bound ops of an I-JEPA
// training step at fixed shapes — ViT-S/16 and ViT-H/14 at the official
// per-GPU batch of 128 — each timed on the backend under test and on the
// reference side by side, in GFLOP/s (matrix products) and GB/s (what an
// op reads and writes), as test-backend-ops' perf mode does.
package perf

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
)

// OfficialBatch is the per-GPU batch of the official I-JEPA configs
// (in1k_vith14_ep300: 128 images per GPU, 16 GPUs).
const OfficialBatch = 128

// Step is the shape of one training step: the encoder's patches, width,
// heads and MLP width, the predictor's width and heads, the four target
// blocks' tokens and the context's.
type Step struct {
	Name                   string
	Patches, Dim, Heads    int
	MLP                    int
	PredDim, PredHeads     int
	Context, Target, Masks int
}

// Steps are the steps whose shapes perf times. ViT-S/16 at 224 has 14x14
// patches; the official code has no ViT-S config, so its predictor is the
// project's small224 preset's (width 192). ViT-H/14 at 224 (16x16) has
// in1k_vith14's predictor (width 384, the encoder's 16 heads). The context
// and target token counts are the means of the official mask sampler at a
// batch of 128 after its truncation to the batch's shortest
// (shared/IJEPA_REFERENCE.md: about 52 and 35 of 196, 70 and 44 of 256).
var Steps = []Step{
	{Name: "vit_small/16", Patches: 196, Dim: 384, Heads: 6, MLP: 1536, PredDim: 192, PredHeads: 6, Context: 52, Target: 35, Masks: 4},
	{Name: "vit_huge/14", Patches: 256, Dim: 1280, Heads: 16, MLP: 5120, PredDim: 384, PredHeads: 16, Context: 70, Target: 44, Masks: 4},
}

// Models lists the names of Steps.
var Models = func() []string {
	var n []string
	for _, s := range Steps {
		n = append(n, s.Name)
	}
	return n
}()

// Shape is one timed call: where in the step it is, the case, and its
// floating-point operations (0 for a memory-bound op) and bytes moved.
type Shape struct {
	Name         string
	Case         conformance.Case
	Flops, Bytes float64
}

// matmul returns the shape of c[z,m,n] = alpha * op(a) op(b) + beta*c.
func matmul(name string, z, m, k, n int, ta, tb bool, beta float64) Shape {
	dims := func(r, c int) backend.Shape {
		if z == 1 {
			return backend.Shape{r, c}
		}
		return backend.Shape{z, r, c}
	}
	as, bs := dims(m, k), dims(k, n)
	if ta {
		as = dims(k, m)
	}
	if tb {
		bs = dims(n, k)
	}
	c := conformance.Case{Op: backend.OpMatMul, Shapes: []backend.Shape{dims(m, n), as, bs},
		Attrs: backend.Attrs{TransA: ta, TransB: tb, Alpha: 1, Beta: beta}}
	moved := float64(z) * float64(m*k+k*n+m*n) * 4
	if beta != 0 {
		moved += float64(z*m*n) * 4
	}
	return Shape{Name: name, Case: c, Flops: 2 * float64(z) * float64(m) * float64(n) * float64(k), Bytes: moved}
}

// memory returns the shape of a memory-bound call: its bytes are those of
// every argument, read and written as its roles say.
func memory(name string, op backend.Op, attrs backend.Attrs, shapes ...backend.Shape) Shape {
	c := conformance.Case{Op: op, Shapes: shapes, Attrs: attrs}
	var moved float64
	for i, a := range op.Expand(len(shapes)) {
		if shapes[i] == nil {
			continue
		}
		n := float64(shapes[i].NumElements() * 4)
		if a.Role == backend.InOut {
			n *= 2
		}
		moved += n
	}
	return Shape{Name: name, Case: c, Bytes: moved}
}

// Shapes returns the timed calls of a step at a batch of b images: the
// target encoder's products over every patch, the context encoder's
// forward and backward products, the predictor's, and the memory-bound
// ops of the attention, the MLP, the norms, the token gathers and the
// optimiser.
func (s Step) Shapes(b int) []Shape {
	S := func(d ...int) backend.Shape { return backend.Shape(d) }
	D, F, H, E, N := s.Dim, s.MLP, s.Heads, s.Dim/s.Heads, s.Patches
	rows, ctx := b*N, b*s.Context
	seq := s.Context + s.Target
	pr := s.Masks * b * seq
	d, pe := s.PredDim, s.PredDim/s.PredHeads
	return []Shape{
		matmul("target qkv", 1, rows, D, 3*D, false, true, 0),
		matmul("target attention scores", b*H, N, E, N, false, true, 0),
		matmul("target attention values", b*H, N, N, E, false, false, 0),
		matmul("target proj", 1, rows, D, D, false, true, 0),
		matmul("target mlp fc1", 1, rows, D, F, false, true, 0),
		matmul("target mlp fc2", 1, rows, F, D, false, true, 0),
		matmul("context mlp fc1", 1, ctx, D, F, false, true, 0),
		matmul("context mlp fc1 input gradient", 1, ctx, F, D, false, false, 0),
		matmul("context mlp fc1 weight gradient", 1, F, ctx, D, true, false, 1),
		matmul("context qkv weight gradient", 1, 3*D, ctx, D, true, false, 1),
		matmul("predictor mlp fc1", 1, pr, d, 4*d, false, true, 0),
		matmul("predictor attention scores", s.Masks*b*s.PredHeads, seq, pe, seq, false, true, 0),
		memory("target softmax", backend.OpSoftmax, backend.Attrs{Alpha: 1 / float64(E)}, S(b*H, N, N), S(b*H, N, N)),
		memory("context softmax backward", backend.OpSoftmaxBwd, backend.Attrs{Alpha: 1 / float64(E)}, S(b*H, s.Context, s.Context), S(b*H, s.Context, s.Context), S(b*H, s.Context, s.Context)),
		memory("target layernorm", backend.OpLayerNorm, backend.Attrs{Eps: 1e-6}, S(rows, D), S(rows), S(rows), S(rows, D), S(D), S(D)),
		memory("context layernorm backward", backend.OpLayerNormBwd, backend.Attrs{}, S(ctx, D), S(D), S(D), S(ctx, D), S(ctx, D), S(ctx), S(ctx), S(D)),
		memory("target gelu", backend.OpGELU, backend.Attrs{}, S(rows, F), S(rows, F)),
		memory("context gelu backward", backend.OpGELUBwd, backend.Attrs{}, S(ctx, F), S(ctx, F), S(ctx, F)),
		memory("target residual add", backend.OpAdd, backend.Attrs{}, S(rows, D), S(rows, D), S(rows, D)),
		memory("target split heads", backend.OpSplitHeads, backend.Attrs{Heads: H}, S(b, H, N, E), S(b, H, N, E), S(b, H, N, E), S(b, N, 3*D)),
		memory("context gather", backend.OpGather, backend.Attrs{}, S(ctx, D), S(rows, D), S(ctx)),
		memory("context gather gradient", backend.OpScatterAdd, backend.Attrs{}, S(rows, D), S(ctx, D), S(ctx)),
		memory("adamw of an mlp weight", backend.OpAdamW, backend.Attrs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.04, Step: 10}, S(F, D), S(F, D), S(F, D), S(F, D)),
		memory("ema of an mlp weight", backend.OpEMA, backend.Attrs{Momentum: 0.996}, S(F, D), S(F, D)),
	}
}

// Options configure a timing run.
type Options struct {
	// Batch is the images per step (OfficialBatch if 0).
	Batch int
	// Models names the Steps to time (all if empty).
	Models []string
	// Ops, if set, keeps only the shapes of ops whose name matches.
	Ops *regexp.Regexp
	// Seed derives the inputs.
	Seed uint64
	// MinTime is how long each call is timed at least (after one run to
	// warm up); every call runs at least once. 0 means 1 second.
	MinTime time.Duration
	// Stop, if set, is asked before each call: true ends the run.
	Stop func() bool
	// Reopen, if set, opens a fresh backend under test after a call
	// leaves the current one with a sticky error (memory exhausted), so
	// the later calls are still timed.
	Reopen func() (backend.Backend, error)
}

// Run times every shape of the chosen steps on b and on ref.
func Run(b, ref backend.Backend, opts Options) ([]conformance.PerfResult, error) {
	if opts.Batch <= 0 {
		opts.Batch = OfficialBatch
	}
	if opts.MinTime <= 0 {
		opts.MinTime = time.Second
	}
	for _, m := range opts.Models {
		if !slices.Contains(Models, m) {
			return nil, fmt.Errorf("perf: unknown step %q (steps: %v)", m, Models)
		}
	}
	var out []conformance.PerfResult
	cur := b // b, or the backend Reopen opened after it failed
	defer func() {
		if cur != b {
			cur.Close()
		}
	}()
	for _, st := range Steps {
		if len(opts.Models) > 0 && !slices.Contains(opts.Models, st.Name) {
			continue
		}
		for _, sh := range st.Shapes(opts.Batch) {
			if opts.Ops != nil && !opts.Ops.MatchString(sh.Case.Op.String()) {
				continue
			}
			if opts.Stop != nil && opts.Stop() {
				return out, nil
			}
			r := conformance.PerfResult{Model: fmt.Sprintf("%s batch %d", st.Name, opts.Batch), Name: sh.Name,
				Op: sh.Case.Op, DType: sh.Case.Low(), Case: sh.Case.Name(), Flops: sh.Flops, Bytes: sh.Bytes}
			var err error
			if r.Runs, r.Time, err = Time(cur, sh.Case, opts.Seed, opts.MinTime); err != nil {
				r.Err = err.Error()
				if cur.Err() != nil && opts.Reopen != nil {
					if nb, err := opts.Reopen(); err == nil {
						if cur != b {
							cur.Close()
						}
						cur = nb
					}
				}
			} else if ref != nil {
				if r.RefRuns, r.RefTime, err = Time(ref, sh.Case, opts.Seed, opts.MinTime); err != nil {
					r.RefRuns, r.RefTime = 0, 0
				}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// LongCall is the time from which a call's first run is its timing: what
// warming up costs (compiling a pipeline, the first touch of new memory)
// is then small beside it, and a ViT-H/14 product on lavapipe takes a
// minute a run.
const LongCall = 2 * time.Second

// Time runs c on be once to warm up, then until minTime has passed (at
// least once), waiting for each run, and returns the runs and the time of
// one. A first run of LongCall or more and of minTime or more is the one
// run timed.
func Time(be backend.Backend, c conformance.Case, seed uint64, minTime time.Duration) (int, time.Duration, error) {
	call := c.Call(nil)
	specs := c.Op.Expand(len(c.Shapes))
	r := rand.New(rand.NewPCG(seed, uint64(c.Op)))
	call.Args = make([]*backend.Tensor, len(c.Shapes))
	defer func() {
		for _, t := range call.Args {
			if t != nil {
				be.Release(t)
			}
		}
	}()
	if err := be.Supports(c.Call(c.Placeholders())); err != nil {
		return 0, 0, err
	}
	if most := be.Info().MaxTensorBytes; most > 0 {
		for i, s := range c.Shapes {
			if s != nil && int64(s.NumElements())*int64(specs[i].DType.Size()) > most {
				return 0, 0, fmt.Errorf("%s: %v%v is larger than the device's largest tensor (%d MiB): %w",
					be.Info().Backend, specs[i].DType, s, most>>20, backend.ErrUnsupported)
			}
		}
	}
	for i, s := range c.Shapes {
		if s == nil {
			continue
		}
		t := be.New(specs[i].DType, s...)
		call.Args[i] = t
		n := s.NumElements()
		if specs[i].DType == backend.I32 {
			v := make([]int32, n)
			rows := c.Shapes[specs[i].Rows][0]
			for k := range v {
				v[k] = int32(r.IntN(rows))
			}
			backend.WriteI32(be, t, v)
			continue
		}
		v := make([]float32, n)
		for k := range v {
			v[k] = float32(r.Float64()) // positive: AdamW's second moment
		}
		backend.WriteF32(be, t, v)
	}
	start := time.Now()
	be.Run(call)
	if err := be.Sync(); err != nil {
		return 0, 0, err
	}
	if warm := time.Since(start); warm >= LongCall && warm >= minTime {
		return 1, warm, nil
	}
	var runs int
	start = time.Now()
	for runs == 0 || time.Since(start) < minTime {
		be.Run(call)
		if err := be.Sync(); err != nil {
			return 0, 0, err
		}
		runs++
	}
	return runs, time.Since(start) / time.Duration(runs), nil
}
