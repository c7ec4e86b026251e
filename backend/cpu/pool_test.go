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
		x, err := b.New(backend.F32, shape...)
		if err != nil {
			t.Fatal(err)
		}
		p := &x.Storage().Impl.(*buffer).f[0]
		b.Release(x)
		y, err := b.New(backend.F32, shape...)
		if err != nil {
			t.Fatal(err)
		}
		if q := &y.Storage().Impl.(*buffer).f[0]; q != p {
			t.Errorf("%v: New after Release did not reuse the released memory", shape)
		}
		b.Release(y)
	}
	s := b.Stats()
	if s.Hits != 3 || s.Misses != 3 || s.Live != 0 {
		t.Errorf("stats %+v, want 3 hits, 3 misses, nothing live", s)
	}
	r := NewReference()
	x, _ := r.New(backend.F32, 4)
	r.Release(x)
	if s := r.Stats(); s != (PoolStats{}) {
		t.Errorf("the reference backend pooled: %+v", s)
	}
}

// A view keeps the storage out of the pool until its last handle goes.
func TestPoolViews(t *testing.T) {
	b := New()
	defer b.Close()
	x, _ := b.New(backend.F32, 64, 64)
	v := backend.MustReshape(x, 4096)
	b.Release(x)
	if s := b.Stats(); s.Pooled != 0 {
		t.Fatalf("storage pooled while a view is live: %+v", s)
	}
	backend.Fill(b, v, 2)
	if got, err := backend.ReadF32(b, v); err != nil || got[4095] != 2 {
		t.Fatalf("view after releasing the other handle: %v", err)
	}
	b.Release(v)
	if s := b.Stats(); s.Pooled == 0 || s.Live != 0 {
		t.Fatalf("storage not pooled after its last handle: %+v", s)
	}
}

// When shapes change from step to step, the footprint (live plus pooled
// memory) never exceeds the most any one step had live: idle blocks of other
// sizes are dropped, oldest first, rather than kept beside new ones.
func TestPoolFootprint(t *testing.T) {
	b := New()
	defer b.Close()
	var peakLive int64
	step := func(rows int) {
		var ts []*backend.Tensor
		var live int64
		for k := 0; k < 8; k++ {
			x, err := b.New(backend.F32, rows+k, 512)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, x)
			live += int64(classOf(4 * x.NumElements()))
		}
		peakLive = max(peakLive, live)
		for _, x := range ts {
			b.Release(x)
		}
	}
	for i := 0; i < 40; i++ {
		step(100 + (i*397)%900) // sizes that move between classes
	}
	s := b.Stats()
	if s.Drops == 0 || s.High > peakLive {
		t.Errorf("stats %+v: want drops and a high-water mark within the largest step's %d bytes", s, peakLive)
	}
}

// The fast backend says in one line when it falls back to gonum. The child
// process runs with OpenBLAS disabled.
func TestNoticeWithoutOpenBLAS(t *testing.T) {
	if os.Getenv("IJEPA_TEST_NOTICE_CHILD") == "1" {
		b := New()
		if b.blas {
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
