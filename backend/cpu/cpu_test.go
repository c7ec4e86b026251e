package cpu

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/openblas"
	"github.com/ijepa-go/ijepa/internal/testdep"
)

// The conformance suite (package conformance) checks every op against a
// float64 reference; these tests pin the backend's own behaviour: handles,
// sticky errors and a few hand-computed values.

// The fast backend's products go through OpenBLAS wherever it is installed.
// Without it New falls back to gonum with a notice, and the conformance
// tests of "cpu" would check gonum instead: under the test command
// (IJEPA_TEST_STRICT=1) that fails here. Catches a missing or unloadable
// libopenblas silently turning cpu conformance into a gonum check.
func TestFastUsesOpenBLAS(t *testing.T) {
	if b := New(); !b.Device().(*device).blas {
		testdep.Skip(t, "cpu.New multiplies with gonum, not OpenBLAS (%v)", openblas.Load())
	}
}

func mustF32(t *testing.T, b backend.Backend, v []float32, shape ...int) *backend.Tensor {
	t.Helper()
	x := backend.FromF32(b, v, shape...)
	return x
}

func TestMatMulByHand(t *testing.T) {
	b := New()
	a := mustF32(t, b, []float32{1, 2, 3, 4, 5, 6}, 2, 3)   // [[1 2 3] [4 5 6]]
	w := mustF32(t, b, []float32{1, 0, 0, 1, 1, 1}, 2, 3)   // a Linear weight [out,in]: [[1 0 0] [1 1 1]]
	c := mustF32(t, b, []float32{100, 100, 100, 100}, 2, 2) // ignored with beta 0
	backend.MatMul(b, c, a, w, false, true, 2, 0)           // c = 2 * a @ w^T
	got, err := backend.ReadF32(b, c)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{2 * 1, 2 * (1 + 2 + 3), 2 * 4, 2 * (4 + 5 + 6)}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("c = %v, want %v", got, want)
		}
	}
}

func TestMatMulBetaZeroIgnoresNaN(t *testing.T) {
	b := New()
	a := mustF32(t, b, []float32{1}, 1, 1)
	c := mustF32(t, b, []float32{float32(math.NaN())}, 1, 1)
	backend.MatMul(b, c, a, a, false, false, 1, 0)
	got, err := backend.ReadF32(b, c)
	if err != nil || got[0] != 1 {
		t.Fatalf("c = %v, %v; want [1]", got, err)
	}
}

func TestStickyErrorNamesOpAndShapes(t *testing.T) {
	b := New()
	a := mustF32(t, b, make([]float32, 6), 2, 3)
	w := mustF32(t, b, make([]float32, 8), 4, 2)
	c := mustF32(t, b, make([]float32, 8), 2, 4)
	backend.MatMul(b, c, a, w, false, false, 1, 0)
	backend.Fill(b, c, 1) // skipped: the error is sticky
	err := b.Sync()
	if !errors.Is(err, backend.ErrShape) {
		t.Fatalf("err = %v, want a shape error", err)
	}
	for _, s := range []string{"matmul", "a=f32[2,3]", "b=f32[4,2]", "inner dimensions"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if _, rerr := backend.ReadF32(b, c); rerr != err {
		t.Errorf("Read returned %v, want the sticky error", rerr)
	}
}

func TestReleasedTensor(t *testing.T) {
	b := New()
	x := mustF32(t, b, []float32{1, 2}, 2)
	v := backend.Reshape(x, 1, 2)
	b.Release(x)
	b.Release(x)              // harmless
	backend.Scale(b, v, v, 2) // the view keeps the storage alive
	if got, err := backend.ReadF32(b, v); err != nil || got[1] != 4 {
		t.Fatalf("view after releasing the other handle: %v %v", got, err)
	}
	backend.Scale(b, x, v, 2)
	if err := b.Sync(); !errors.Is(err, backend.ErrReleased) {
		t.Fatalf("err = %v, want ErrReleased", err)
	}
}

func TestIndexRange(t *testing.T) {
	b := New()
	x := mustF32(t, b, make([]float32, 6), 3, 2)
	idx := backend.FromI32(b, []int32{0, 3}, 2)
	y := b.New(backend.F32, 2, 2)
	backend.Gather(b, y, x, idx)
	err := b.Sync()
	if !errors.Is(err, backend.ErrIndex) || !strings.Contains(err.Error(), "[0,3]") {
		t.Fatalf("err = %v, want an index error naming the range", err)
	}
}

func TestGuards(t *testing.T) {
	b := New()
	x := b.NewGuarded(backend.F32, 5)
	backend.Fill(b, x, 3)
	if err := b.CheckGuards(x); err != nil {
		t.Fatal(err)
	}
	buf := x.Storage().Impl.(*buffer)
	buf.whole[guardLen+5] = 0 // a write one past the end
	if err := b.CheckGuards(x); err == nil || !strings.Contains(err.Error(), "after") {
		t.Fatalf("CheckGuards = %v, want an overwrite after the data", err)
	}
}

func TestOpenByName(t *testing.T) {
	b, err := backend.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	if info := b.Info(); info.Backend != "cpu" || len(info.Ops) != len(backend.Ops()) {
		t.Fatalf("info = %+v", info)
	}
	if _, err := backend.Open("nosuch"); err == nil || !strings.Contains(err.Error(), "cpu") {
		t.Fatalf("Open(nosuch) = %v, want an error listing the known backends", err)
	}
}
