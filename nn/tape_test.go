package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// perturbed wraps a backend and scales the first output of one op by
// 1+rel, to check that the gradient checks catch a wrong rule.
type perturbed struct {
	backend.Backend
	op  backend.Op
	rel float64
}

func (p *perturbed) Run(c backend.Call) {
	p.Backend.Run(c)
	if c.Op == p.op {
		backend.Scale(p.Backend, c.Args[0], c.Args[0], 1+p.rel)
	}
}

func TestGradCheckCatchesAOnePercentError(t *testing.T) {
	for _, op := range []backend.Op{backend.OpGELUBwd, backend.OpLayerNormBwd, backend.OpSoftmaxBwd} {
		t.Run(op.String(), func(t *testing.T) {
			be := &perturbed{Backend: cpu.New(), op: op, rel: 0.01}
			r := testRand(t.Name())
			x, w := randT(t, be, r, 0, 1, 4, 6), randT(t, be, r, 0, 1, 4, 6)
			loss := func(b backend.Backend) (*backend.Tensor, error) {
				y := alloc(b, 4, 6)
				switch op {
				case backend.OpGELUBwd:
					backend.GELU(b, y, x)
				case backend.OpSoftmaxBwd:
					backend.Softmax(b, y, x, 1)
				default:
					m, s := alloc(b, 4), alloc(b, 4)
					backend.LayerNorm(b, y, m, s, x, nil, nil, 1e-5)
					b.Release(m)
					b.Release(s)
				}
				return dotLoss(b, y, w)
			}
			worst := directionalErrors(t, be, []leaf{{"x", x}}, loss, gcTol, func(string, ...any) {})
			if worst <= gcTol {
				t.Errorf("a 1%% error in %v went unnoticed: worst relative error %.2e <= %.0e", op, worst, gcTol)
			}
		})
	}
}

func TestOverwrittenValueIsReported(t *testing.T) {
	be := newCPU(t)
	r := testRand(t.Name())
	x := randT(t, be, r, 0, 1, 3, 4)
	g := alloc(be, 3, 4)
	tape := NewTape(be)
	must(t, tape.Watch(x, g))
	h, y := alloc(tape, 3, 4), alloc(tape, 3, 4)
	backend.Scale(tape, h, x, 2)
	backend.GELU(tape, y, h) // saves h for gelu_bwd
	backend.Scale(tape, h, h, 3)
	l := alloc(tape, 1)
	backend.Sum(tape, l, y)
	err := tape.Backward(l)
	if err == nil || !strings.Contains(err.Error(), "overwritten") {
		t.Fatalf("backward after overwriting a saved value: got %v, want an error naming the overwrite", err)
	}
	t.Log(err)
}

func TestBackwardRejectsBadLoss(t *testing.T) {
	be := newCPU(t)
	r := testRand(t.Name())
	x, z := randT(t, be, r, 0, 1, 3), randT(t, be, r, 0, 1, 3)
	g := alloc(be, 3)
	tape := NewTape(be)
	must(t, tape.Watch(x, g))
	l := alloc(tape, 1)
	backend.Sum(tape, l, z)
	if err := tape.Backward(l); err == nil || !strings.Contains(err.Error(), "does not depend") {
		t.Errorf("loss independent of the leaves: got %v", err)
	}
	must(t, tape.Watch(x, g))
	y := alloc(tape, 3)
	backend.Scale(tape, y, x, 2)
	if err := tape.Backward(y); err == nil || !strings.Contains(err.Error(), "one-element") {
		t.Errorf("three-element loss: got %v", err)
	}
}

func TestUnreachedLeafGetsZeroGradient(t *testing.T) {
	be := newCPU(t)
	r := testRand(t.Name())
	x, z := randT(t, be, r, 0, 1, 3), randT(t, be, r, 0, 1, 5)
	gx, gz := alloc(be, 3), alloc(be, 5)
	backend.Fill(be, gx, math.NaN())
	backend.Fill(be, gz, math.NaN())
	tape := NewTape(be)
	must(t, tape.Watch(x, gx))
	must(t, tape.Watch(z, gz))
	l := alloc(tape, 1)
	backend.SumSq(tape, l, x)
	must(t, tape.Backward(l))
	xv, _ := backend.ReadF32(be, x)
	gxv, _ := backend.ReadF32(be, gx)
	gzv, err := backend.ReadF32(be, gz)
	must(t, err)
	for i := range gxv {
		if math.Abs(float64(gxv[i]-2*xv[i])) > 1e-6 {
			t.Errorf("d sum(x^2)/dx[%d] = %v, want %v", i, gxv[i], 2*xv[i])
		}
	}
	for i, v := range gzv {
		if v != 0 {
			t.Errorf("gradient of an unused leaf [%d] = %v, want 0", i, v)
		}
	}
}

// counting wraps a CPU backend and tracks the storages alive, to check that
// every intermediate is released. The CPU backend drops a storage's memory
// (Impl = nil) with its last handle.
type counting struct {
	*backend.Front
	live map[*backend.Storage]string
}

func newCounting() *counting {
	return &counting{Front: cpu.New(), live: map[*backend.Storage]string{}}
}

func (c *counting) New(dt backend.DType, shape ...int) *backend.Tensor {
	x := c.Front.New(dt, shape...)
	c.live[x.Storage()] = x.String()
	return x
}

func (c *counting) Release(x *backend.Tensor) {
	c.Front.Release(x)
	if x.Storage().Impl == nil {
		delete(c.live, x.Storage())
	}
}

func (c *counting) snapshot() map[*backend.Storage]bool {
	s := map[*backend.Storage]bool{}
	for k := range c.live {
		s[k] = true
	}
	return s
}

// leaked returns the shapes of storages alive now that were not in before.
func (c *counting) leaked(before map[*backend.Storage]bool) []string {
	var out []string
	for k, v := range c.live {
		if !before[k] {
			out = append(out, v)
		}
	}
	return out
}

func TestTapeReleasesEverything(t *testing.T) {
	be := newCounting()
	b := NewBuilder()
	blk := NewBlock(b, "blocks.0", 8, 2, 32)
	ps := b.Params()
	must(t, Alloc(be, ps, 1))
	must(t, AllocGrads(be, ps))
	r := testRand(t.Name())
	x := randT(t, be, r, 0, 1, 2, 5, 8)
	w := randT(t, be, r, 0, 1, 2, 5, 8)
	before := be.snapshot()
	for _, backward := range []bool{true, false} {
		tape := NewTape(be)
		for _, p := range ps {
			must(t, tape.Watch(p.Value, p.Grad))
		}
		y, err := blk.Forward(tape, x)
		must(t, err)
		l, err := dotLoss(tape, y, w)
		must(t, err)
		if backward {
			must(t, tape.Backward(l))
		}
		be.Release(l)
		must(t, tape.Close())
		if leaked := be.leaked(before); len(leaked) > 0 {
			t.Errorf("backward=%v: %d tensors still alive: %v", backward, len(leaked), leaked)
		}
	}
	must(t, be.Sync())
}

// Under autocast a parameter's 16-bit copy is not held from the forward
// pass to the backward pass: the tape casts the parameter again when the
// rule runs. The gradients are those of a tape that keeps the copy (the same
// layer on a weight the tape sees as computed, w*1, whose cast it must
// save), bit for bit, and after the forward pass no 16-bit copy of the
// weight is alive. Catches a tape that saves the copy (memory) or recasts
// from the wrong tensor or dtype (gradients).
func TestParamCastsAreCastAgainInBackward(t *testing.T) {
	be := newCounting()
	b := NewBuilder()
	l := NewLinear(b, "fc", 8, 6, true)
	ps := b.Params()
	must(t, Alloc(be, ps, 1))
	r := testRand(t.Name())
	randomize(t, be, r, ps, 0.5)
	x := randT(t, be, r, 0, 1, 4, 8)
	w := randT(t, be, r, 0, 1, 4, 6)
	grads := func(computed bool) (gw, gx []float32, copies int) {
		t.Helper()
		gW, gX, gB := be.New(backend.F32, 6, 8), be.New(backend.F32, 4, 8), be.New(backend.F32, 6)
		tape := NewTape(be)
		must(t, tape.Watch(l.Weight.Value, gW))
		must(t, tape.Watch(l.Bias.Value, gB))
		must(t, tape.Watch(x, gX))
		layer := l
		if computed {
			wc := tape.New(backend.F32, 6, 8)
			backend.Scale(tape, wc, l.Weight.Value, 1)
			layer = &Linear{Weight: &Param{Name: "fc.weight", Value: wc}, Bias: l.Bias, In: 8, Out: 6}
			defer be.Release(wc)
		}
		before := be.snapshot()
		y, err := layer.Forward(Autocast(tape, amp.BF16), x)
		must(t, err)
		for _, s := range be.leaked(before) {
			if s == "bf16[6,8]" {
				copies++
			}
		}
		z := tape.New(backend.F32, 4, 6)
		backend.Cast(tape, z, y)
		be.Release(y)
		loss, err := dotLoss(tape, z, w)
		must(t, err)
		must(t, tape.Backward(loss))
		be.Release(loss)
		gw, err = backend.ReadF32(be, gW)
		must(t, err)
		gx, err = backend.ReadF32(be, gX)
		must(t, err)
		for _, g := range []*backend.Tensor{gW, gX, gB} {
			be.Release(g)
		}
		return gw, gx, copies
	}
	gw, gx, copies := grads(false)
	wantW, wantX, kept := grads(true)
	if kept != 1 {
		t.Fatalf("the reference tape holds %d 16-bit copies of a computed weight, want 1 (is the test's tensor name %q right?)", kept, "bf16[6,8]")
	}
	if copies != 0 {
		t.Errorf("after the forward pass %d 16-bit copies of the parameter are alive, want 0", copies)
	}
	for i := range wantW {
		if gw[i] != wantW[i] {
			t.Fatalf("dL/dW[%d] = %v, with the copy kept %v", i, gw[i], wantW[i])
		}
	}
	for i := range wantX {
		if gx[i] != wantX[i] {
			t.Fatalf("dL/dx[%d] = %v, with the copy kept %v", i, gx[i], wantX[i])
		}
	}
}
