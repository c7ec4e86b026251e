package cpu

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

func TestClassOf(t *testing.T) {
	prev := 0
	for n := 1; n < 1<<22; n += 1 + n/97 {
		c := classOf(n)
		if c < n {
			t.Fatalf("classOf(%d) = %d, smaller than the request", n, c)
		}
		if n > 512 && float64(c) > 1.125*float64(n)+1 {
			t.Fatalf("classOf(%d) = %d, more than 1/8 larger", n, c)
		}
		if c < prev {
			t.Fatalf("classOf(%d) = %d < classOf of a smaller request %d", n, c, prev)
		}
		if classOf(c) != c {
			t.Fatalf("classOf(%d) = %d is not its own class (%d)", n, c, classOf(c))
		}
		prev = c
	}
}

// A tensor allocated after another of its size class was released reuses its
// memory; the reference backend never pools.
func TestPoolReuse(t *testing.T) {
	b := New()
	defer b.Close()
	for _, shape := range [][]int{{3}, {1000, 70}, {300, 256}} {
		x := b.New(backend.F32, shape...)
		p := &x.Storage().Impl.(*buffer).f[0]
		b.Release(x)
		y := b.New(backend.F32, shape...)
		if q := &y.Storage().Impl.(*buffer).f[0]; q != p {
			t.Errorf("%v: New after Release did not reuse the released memory", shape)
		}
		b.Release(y)
	}
	s := Stats(b)
	if s.Hits != 3 || s.Misses != 3 || s.Live != 0 {
		t.Errorf("stats %+v, want 3 hits, 3 misses, nothing live", s)
	}
	r := NewReference()
	x := r.New(backend.F32, 4)
	r.Release(x)
	if s := Stats(r); s != (PoolStats{}) {
		t.Errorf("the reference backend pooled: %+v", s)
	}
}

// A view keeps the storage out of the pool until its last handle goes.
func TestPoolViews(t *testing.T) {
	b := New()
	defer b.Close()
	x := b.New(backend.F32, 64, 64)
	v := backend.Reshape(x, 4096)
	b.Release(x)
	if s := Stats(b); s.Pooled != 0 {
		t.Fatalf("storage pooled while a view is live: %+v", s)
	}
	backend.Fill(b, v, 2)
	if got, err := backend.ReadF32(b, v); err != nil || got[4095] != 2 {
		t.Fatalf("view after releasing the other handle: %v", err)
	}
	b.Release(v)
	if s := Stats(b); s.Pooled == 0 || s.Live != 0 {
		t.Fatalf("storage not pooled after its last handle: %+v", s)
	}
}

// When shapes change from step to step, the footprint (live plus pooled
// memory) stops growing once every size has been seen: later steps reuse
// the blocks of earlier ones, and idle blocks beyond an eighth above the
// most memory ever asked for are dropped.
func TestPoolFootprint(t *testing.T) {
	b := New()
	defer b.Close()
	var peak int64
	step := func(rows int) {
		var ts []*backend.Tensor
		var live int64
		for k := 0; k < 8; k++ {
			x := b.New(backend.F32, rows+k*37, 512)
			ts = append(ts, x)
			live += int64(classOf(4 * x.NumElements()))
		}
		peak = max(peak, live)
		for _, x := range ts {
			b.Release(x)
		}
	}
	sizes := []int{100, 700, 300, 900, 200, 800, 400, 600, 500}
	var highs []int64
	for cycle := 0; cycle < 6; cycle++ {
		for _, r := range sizes {
			step(r)
		}
		highs = append(highs, Stats(b).High)
	}
	s := Stats(b)
	if highs[len(highs)-1] != highs[3] {
		t.Errorf("the footprint still grows after every size was seen: high-water marks per cycle %v", highs)
	}
	// Blocks hold up to twice their request; idle ones are kept up to 1.125
	// times the most memory asked for.
	if s.High > 5*peak/2 {
		t.Errorf("high-water mark %d, more than 2.5 times the largest step's %d bytes", s.High, peak)
	}
	t.Logf("stats %+v, largest step %d bytes, high-water marks per cycle %v", s, peak, highs)
}

// The fast backend says in one line when it falls back to gonum. The child
// process runs with OpenBLAS disabled.
func TestNoticeWithoutOpenBLAS(t *testing.T) {
	if os.Getenv("IJEPA_TEST_NOTICE_CHILD") == "1" {
		b := New()
		if b.Device().(*device).blas {
			t.Fatal("OpenBLAS loaded although IJEPA_BLAS=off")
		}
		if got := b.Info().Limits[1][1]; !strings.Contains(got, "gonum") {
			t.Fatalf("matmul limit %q does not name gonum", got)
		}
		New() // no second notice
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNoticeWithoutOpenBLAS$", "-test.v")
	cmd.Env = append(os.Environ(), "IJEPA_TEST_NOTICE_CHILD=1", "IJEPA_BLAS=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "cpu: OpenBLAS not loaded"); n != 1 {
		t.Errorf("the notice appeared %d times, want once:\n%s", n, out)
	}
}
