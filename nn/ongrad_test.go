package nn

import (
	"errors"
	"slices"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

// TestOnGradReportsFinalGradientsEarly runs the first of two blocks
// twice (so its parameters are read by two ops each), then the second,
// with a leaf no op reads, through a tape with an OnGrad callback. It catches a callback that
// fires before a gradient is final (the value read in the callback would
// differ from the one after Backward), one that misses or repeats a
// parameter, and one that waits for the end of the backward pass (the
// second block's parameters must all be reported before any of the
// first's).
func TestOnGradReportsFinalGradientsEarly(t *testing.T) {
	be := newCPU(t)
	b := NewBuilder()
	blk0 := NewBlock(b, "blocks.0", 8, 2, 32)
	blk1 := NewBlock(b, "blocks.1", 8, 2, 32)
	unused := b.Param("unused", Init{Kind: InitZeros}, true, 3)
	ps := b.Params()
	must(t, Alloc(be, ps, 1))
	must(t, AllocGrads(be, ps))
	r := testRand(t.Name())
	randomize(t, be, r, ps, 0.3)
	x := randT(t, be, r, 0, 1, 2, 5, 8)
	w := randT(t, be, r, 0, 1, 2, 5, 8)
	byGrad := map[*backend.Tensor]*Param{}
	for _, p := range ps {
		byGrad[p.Grad] = p
		backend.Fill(be, p.Grad, 7) // stale values a missed write would leave
	}
	run := func(onGrad func(g *backend.Tensor) error) error {
		tape := NewTape(be)
		defer tape.Close()
		for _, p := range ps {
			must(t, tape.Watch(p.Value, p.Grad))
		}
		tape.OnGrad(onGrad)
		h0, err := blk0.Forward(tape, x)
		must(t, err)
		h, err := blk0.Forward(tape, h0)
		must(t, err)
		be.Release(h0)
		y, err := blk1.Forward(tape, h)
		must(t, err)
		be.Release(h)
		l, err := dotLoss(tape, y, w)
		must(t, err)
		be.Release(y)
		defer be.Release(l)
		return tape.Backward(l)
	}
	var order []string
	atCall := map[string][]float32{}
	must(t, run(func(g *backend.Tensor) error {
		p := byGrad[g]
		if p == nil {
			t.Fatalf("callback got %v, not a watched tensor's gradient", g)
		}
		v, err := backend.ReadF32(be, g)
		must(t, err)
		order = append(order, p.Name)
		atCall[p.Name] = v
		return nil
	}))
	if len(order) != len(ps) {
		t.Fatalf("%d callbacks for %d watched tensors: %v", len(order), len(ps), order)
	}
	for _, p := range ps {
		final, err := backend.ReadF32(be, p.Grad)
		must(t, err)
		got, ok := atCall[p.Name]
		if !ok {
			t.Errorf("%s: never reported", p.Name)
			continue
		}
		if !slices.Equal(got, final) {
			t.Errorf("%s: the gradient read in the callback differs from the final one", p.Name)
		}
	}
	pos := func(name string) int { return slices.Index(order, name) }
	lastOf1, firstOf0 := 0, len(order)
	for _, p := range blk1.Params() {
		lastOf1 = max(lastOf1, pos(p.Name))
	}
	for _, p := range blk0.Params() {
		firstOf0 = min(firstOf0, pos(p.Name))
	}
	if lastOf1 > firstOf0 {
		t.Errorf("a parameter of blocks.0 was reported (at %d) before the last of blocks.1 (at %d): %v", firstOf0, lastOf1, order)
	}
	if v := atCall[unused.Name]; !slices.Equal(v, make([]float32, 3)) {
		t.Errorf("unused leaf reported with %v, want zeros", v)
	}

	stop := errors.New("stop")
	calls := 0
	err := run(func(*backend.Tensor) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("a failing callback: Backward returned %v after %d calls, want its error after 1", err, calls)
	}
}
