package cpu_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/bench"
)

// block runs one pre-norm ViT block forward and backward with the ops of the
// catalogue, the way an autodiff tape would: every activation and gradient
// is a New tensor, all released at the end, then one AdamW step over the
// block's parameters. It is a representative op sequence for measuring the
// backend (time per op, allocation in the steady state), not a layer
// implementation: the model lives in package nn.
type block struct {
	b            backend.Backend
	bsz, t, d, h int
	params       []*backend.Tensor
	m, v         []*backend.Tensor
	x, dy        *backend.Tensor
	step         int
}

// Parameter indices.
const (
	pG1 = iota
	pB1
	pWqkv
	pBqkv
	pWproj
	pBproj
	pG2
	pB2
	pW1
	pBf1
	pW2
	pBf2
	nParams
)

func newBlock(tb testing.TB, b backend.Backend, bsz, t, d, h int) *block {
	k := &block{b: b, bsz: bsz, t: t, d: d, h: h}
	shapes := [nParams][]int{{d}, {d}, {3 * d, d}, {3 * d}, {d, d}, {d}, {d}, {d}, {4 * d, d}, {4 * d}, {d, 4 * d}, {d}}
	fill := func(shape []int, scale float32) *backend.Tensor {
		n := backend.Shape(shape).NumElements()
		v := make([]float32, n)
		for i := range v {
			v[i] = scale * float32((i*7919)%2001-1000) / 1000
		}
		t := backend.FromF32(b, v, shape...)
		return t
	}
	for i, s := range shapes {
		scale := float32(0.02)
		if i == pG1 || i == pG2 {
			scale = 1
		}
		k.params = append(k.params, fill(s, scale))
		k.m = append(k.m, fill(s, 0))
		k.v = append(k.v, fill(s, 0))
	}
	k.x = fill([]int{bsz, t, d}, 1)
	k.dy = fill([]int{bsz, t, d}, 0.01)
	return k
}

// run does one forward, backward and AdamW step.
func (k *block) run(tb testing.TB) {
	b := k.b
	bt, d, h, e := k.bsz*k.t, k.d, k.h, k.d/k.h
	tmp := backend.Temps{B: b}
	p := k.params
	linear := func(x *backend.Tensor, w, bias *backend.Tensor, out int) *backend.Tensor {
		y := tmp.New(bt, out)
		backend.MatMul(b, y, x, w, false, true, 1, 0)
		backend.Add(b, y, y, bias)
		return y
	}
	scale := 1 / float64(e*e) // any scale; only the ops' cost matters
	x := tmp.View(k.x, bt, d)
	// Attention half.
	h1, mean1, rstd1 := tmp.New(bt, d), tmp.New(bt), tmp.New(bt)
	backend.LayerNorm(b, h1, mean1, rstd1, x, p[pG1], p[pB1], 1e-6)
	qkv := linear(h1, p[pWqkv], p[pBqkv], 3*d)
	q, kk, v := tmp.New(k.bsz, h, k.t, e), tmp.New(k.bsz, h, k.t, e), tmp.New(k.bsz, h, k.t, e)
	backend.SplitHeads(b, tmp.View(qkv, k.bsz, k.t, 3*d), h, q, kk, v)
	q3, k3, v3 := tmp.View(q, k.bsz*h, k.t, e), tmp.View(kk, k.bsz*h, k.t, e), tmp.View(v, k.bsz*h, k.t, e)
	s := tmp.New(k.bsz*h, k.t, k.t)
	backend.MatMul(b, s, q3, k3, false, true, 1, 0)
	a := tmp.New(k.bsz*h, k.t, k.t)
	backend.Softmax(b, a, s, scale)
	o := tmp.New(k.bsz*h, k.t, e)
	backend.MatMul(b, o, a, v3, false, false, 1, 0)
	om := tmp.New(k.bsz, k.t, d)
	backend.MergeHeads(b, om, h, tmp.View(o, k.bsz, h, k.t, e))
	proj := linear(tmp.View(om, bt, d), p[pWproj], p[pBproj], d)
	x2 := tmp.New(bt, d)
	backend.Add(b, x2, x, proj)
	// MLP half.
	h2, mean2, rstd2 := tmp.New(bt, d), tmp.New(bt), tmp.New(bt)
	backend.LayerNorm(b, h2, mean2, rstd2, x2, p[pG2], p[pB2], 1e-6)
	f1 := linear(h2, p[pW1], p[pBf1], 4*d)
	g := tmp.New(bt, 4*d)
	backend.GELU(b, g, f1)
	f2 := linear(g, p[pW2], p[pBf2], d)
	x3 := tmp.New(bt, d)
	backend.Add(b, x3, x2, f2)

	// Backward from dy.
	gr := make([]*backend.Tensor, nParams)
	for i, t := range p {
		gr[i] = tmp.New(t.Shape()...)
	}
	dy := tmp.View(k.dy, bt, d)
	linBack := func(dyl, x, w *backend.Tensor, dw, db *backend.Tensor, in int) *backend.Tensor {
		backend.MatMul(b, dw, dyl, x, true, false, 1, 0)
		backend.ColSum(b, db, dyl)
		dx := tmp.New(bt, in)
		backend.MatMul(b, dx, dyl, w, false, false, 1, 0)
		return dx
	}
	dg := linBack(dy, g, p[pW2], gr[pW2], gr[pBf2], 4*d)
	df1 := tmp.New(bt, 4*d)
	backend.GELUBwd(b, df1, dg, f1)
	dh2 := linBack(df1, h2, p[pW1], gr[pW1], gr[pBf1], d)
	dx2 := tmp.New(bt, d)
	backend.LayerNormBwd(b, dx2, gr[pG2], gr[pB2], dh2, x2, mean2, rstd2, p[pG2])
	backend.Axpy(b, dx2, dy, 1)
	dom := linBack(dx2, tmp.View(om, bt, d), p[pWproj], gr[pWproj], gr[pBproj], d)
	do := tmp.New(k.bsz, h, k.t, e)
	backend.SplitHeads(b, tmp.View(dom, k.bsz, k.t, d), h, do)
	do3 := tmp.View(do, k.bsz*h, k.t, e)
	da, dv := tmp.New(k.bsz*h, k.t, k.t), tmp.New(k.bsz*h, k.t, e)
	backend.MatMul(b, da, do3, v3, false, true, 1, 0)
	backend.MatMul(b, dv, a, do3, true, false, 1, 0)
	ds := tmp.New(k.bsz*h, k.t, k.t)
	backend.SoftmaxBwd(b, ds, da, a, scale)
	dq, dk := tmp.New(k.bsz*h, k.t, e), tmp.New(k.bsz*h, k.t, e)
	backend.MatMul(b, dq, ds, k3, false, false, 1, 0)
	backend.MatMul(b, dk, ds, q3, true, false, 1, 0)
	dqkv := tmp.New(k.bsz, k.t, 3*d)
	backend.MergeHeads(b, dqkv, h, tmp.View(dq, k.bsz, h, k.t, e), tmp.View(dk, k.bsz, h, k.t, e), tmp.View(dv, k.bsz, h, k.t, e))
	dh1 := linBack(tmp.View(dqkv, bt, 3*d), h1, p[pWqkv], gr[pWqkv], gr[pBqkv], d)
	dx := tmp.New(bt, d)
	backend.LayerNormBwd(b, dx, gr[pG1], gr[pB1], dh1, x, mean1, rstd1, p[pG1])
	backend.Axpy(b, dx, dx2, 1)

	k.step++
	for i := range p {
		backend.AdamW(b, p[i], k.m[i], k.v[i], gr[i], backend.AdamWParams{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.04, Step: k.step})
	}
	if err := b.Sync(); err != nil {
		tb.Fatal(err)
	}
	tmp.Release()
}

// blockConfigs are the encoder blocks of the two benchmark configs: tiny32's
// target encoder (64 images of 8x8 patches, width 192, 3 heads) and
// small224's (16 images of 14x14 patches, width 384, 6 heads).
var blockConfigs = []struct {
	name             string
	bsz, t, d, heads int
}{
	{"tiny32", 64, 64, 192, 3},
	{"small224", 16, 196, 384, 6},
}

// BenchmarkBlock times one ViT block forward and backward plus AdamW on the
// fast and the reference backend, and reports the memory allocated per step
// once warm (B/op; the fast backend's pool should leave only small handle
// objects). With IJEPA_BENCH_OPS=1 it prints the fast backend's per-op table.
//
//	go test ./backend/cpu -run '^$' -bench Block -benchmem
func BenchmarkBlock(b *testing.B) {
	for _, c := range blockConfigs {
		for _, be := range []struct {
			name string
			open func() *backend.Front
		}{{"cpu", cpu.New}, {"cpu-ref", cpu.NewReference}} {
			b.Run(c.name+"/"+be.name, func(b *testing.B) {
				bk := be.open()
				defer bk.Close()
				var back backend.Backend = bk
				prof := bench.NewProfile(bk)
				if os.Getenv("IJEPA_BENCH_OPS") == "1" && be.name == "cpu" {
					prof.PerOp = true
					back = prof
				}
				k := newBlock(b, back, c.bsz, c.t, c.d, c.heads)
				k.run(b) // warm: fills the pool
				k.run(b)
				prof.Reset()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					k.run(b)
				}
				b.StopTimer()
				b.ReportMetric(float64(c.bsz*c.t)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
				if prof.PerOp {
					fmt.Fprintf(os.Stderr, "\n%s/%s, per block step:\n", c.name, be.name)
					prof.WriteTable(os.Stderr, b.N, 12)
				}
			})
		}
	}
}

// The fast backend allocates no tensor memory once a step has run: what a
// warm step allocates is handles, a few hundred bytes per tensor.
func TestBlockSteadyStateAllocations(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	k := newBlock(t, b, 2, 9, 24, 3)
	k.run(t)
	k.run(t)
	tensors := 0
	k.b = countingBackend{Backend: b, n: &tensors}
	k.run(t) // counts the tensors of one step
	k.b = b
	before := cpu.Stats(b)
	allocs := testing.AllocsPerRun(3, func() { k.run(t) })
	after := cpu.Stats(b)
	if after.Misses != before.Misses {
		t.Errorf("warm steps took %d blocks of fresh memory, want 0", after.Misses-before.Misses)
	}
	// Each New makes a tensor, a storage, a shape and a buffer; each view a
	// handle and a shape; each op a few closures and argument slices.
	if perTensor := allocs / float64(tensors); perTensor > 16 {
		t.Errorf("%.0f allocations per step for %d tensors: %.1f each, want a handful", allocs, tensors, perTensor)
	}
	t.Logf("%.0f allocations per step, %d tensors, pool %+v", allocs, tensors, after)
}

// countingBackend counts New calls.
type countingBackend struct {
	backend.Backend
	n *int
}

func (c countingBackend) New(dt backend.DType, shape ...int) *backend.Tensor {
	*c.n++
	return c.Backend.New(dt, shape...)
}
