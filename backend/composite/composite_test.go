package composite_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/composite"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/bench"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

func open(t *testing.T, spec string) backend.Backend {
	t.Helper()
	b, err := backend.Open(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// small is an I-JEPA model small enough for cpu-ref's matmul.
var small = bench.Config{Name: "small", Batch: 4,
	Model: model.Config{Dim: 24, Depth: 2, Heads: 2, MLPHidden: 96, ImgSize: 16, Patch: 4, PredDim: 16, PredDepth: 2}}

// losses trains steps steps of the small model on b and returns the losses.
func losses(t *testing.T, b backend.Backend, steps int) []float64 {
	t.Helper()
	s, err := bench.NewSession(b, small, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []float64
	for i := 0; i < steps; i++ {
		if _, err := s.Steps(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.Loss())
	}
	return out
}

// Training steps through a composite give the losses of one backend: bit
// for bit when both members run the same kernels (a stale copy, a copy
// missed or a write lost would change them), to float32 rounding when the
// matmuls come from the reference backend. The split is the one Info
// promises: matmul (and GELU) on the first member, the rest on the second,
// copies both ways, and from the second step on the same copies each step.
func TestTrainsAsOneBackend(t *testing.T) {
	want := losses(t, cpu.New(), 3)
	for _, tc := range []struct {
		spec  string
		exact bool
		first []backend.Op
	}{
		{"cpu?ops=matmul,cpu", true, []backend.Op{backend.OpMatMul}},
		{"cpu-ref?ops=matmul+gelu+gelu_bwd,cpu", false, []backend.Op{backend.OpMatMul, backend.OpGELU, backend.OpGELUBwd}},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			b := open(t, tc.spec)
			s, err := bench.NewSession(b, small, 7)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var per []composite.Stats
			for i := range want {
				before, _ := composite.StatsOf(b)
				if _, err := s.Steps(context.Background(), 1); err != nil {
					t.Fatal(err)
				}
				after, _ := composite.StatsOf(b)
				per = append(per, after.Sub(before))
				got := s.Loss()
				if tc.exact && got != want[i] || math.Abs(got-want[i]) > 1e-5*math.Abs(want[i]) {
					t.Fatalf("step %d: loss %.9g, want %.9g", i+1, got, want[i])
				}
			}
			for _, st := range per {
				first, second := st.Members[0], st.Members[1]
				for op := range first.Calls {
					if !contains(tc.first, op) {
						t.Errorf("%v ran on %s", op, first.Name)
					}
				}
				for _, op := range tc.first {
					if first.Calls[op] == 0 || second.Calls[op] != 0 {
						t.Errorf("%v: %d calls on %s, %d on %s", op, first.Calls[op], first.Name, second.Calls[op], second.Name)
					}
				}
				if first.CopiesIn == 0 || first.CopiesOut == 0 || first.BytesIn != second.BytesOut {
					t.Errorf("copies %+v %+v: want some both ways, counted on both sides", first, second)
				}
			}
			if n2, b2 := per[1].Copied(); true {
				if n3, b3 := per[2].Copied(); n2 != n3 || b2 != b3 {
					t.Errorf("step 2 copied %d tensors (%d bytes), step 3 %d (%d)", n2, b2, n3, b3)
				}
			}
			t.Logf("%s: %s; step 3:", tc.spec, per[2].Summary(1))
			var sb strings.Builder
			per[2].Write(&sb, 1)
			t.Log(sb.String())
		})
	}
}

func contains(ops []backend.Op, op backend.Op) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// A parameter's optimiser step runs where the parameter's matmuls run even
// when a backend earlier in the list runs adamw: the parameter, its
// gradient and its moments then never move. The moments, filled on the
// first backend (the first that runs fill), move once.
func TestOptimizerStaysWithMatmuls(t *testing.T) {
	b := open(t, "cpu?ops=adamw+fill,cpu-ref")
	w := backend.FromF32(b, []float32{1, 2, 3, 4, 5, 6}, 3, 2)
	x := backend.FromF32(b, []float32{1, -1, 2, 0.5, 0, 1, 3, 2, -2, 1, 1, 1}, 4, 3)
	m, v := b.New(backend.F32, 3, 2), b.New(backend.F32, 3, 2)
	backend.Fill(b, m, 0)
	backend.Fill(b, v, 0)
	y, g := b.New(backend.F32, 4, 2), b.New(backend.F32, 3, 2)
	var copies []int64
	for step := 1; step <= 3; step++ {
		before, _ := composite.StatsOf(b)
		backend.MatMul(b, y, x, w, false, false, 1, 0)
		backend.MatMul(b, g, x, y, true, false, 1, 0)
		backend.AdamW(b, w, m, v, g, backend.AdamWParams{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: step})
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		after, _ := composite.StatsOf(b)
		d := after.Sub(before)
		if n := d.Members[0].Calls[backend.OpAdamW]; n != 0 {
			t.Fatalf("step %d: adamw ran on %s", step, d.Members[0].Name)
		}
		n, _ := d.Copied()
		copies = append(copies, n)
	}
	if copies[0] != 2 || copies[1] != 0 || copies[2] != 0 {
		t.Errorf("copies per step %v, want the two moments once: [2 0 0]", copies)
	}
}

// failing is a CPU device that fails every GELU, named "broken".
type failing struct{ backend.Device }

func (f failing) Info() backend.Info {
	i := f.Device.Info()
	i.Backend = "broken"
	return i
}

func (f failing) Run(c backend.Call) error {
	if c.Op == backend.OpGELU {
		return errors.New("the kernel crashed")
	}
	return f.Device.Run(c)
}

// A member's error is sticky on the composite and names the op, its
// arguments and the backend it ran on; later work is skipped. A call no
// member runs says what each member lacks.
func TestErrorsNameOpAndBackend(t *testing.T) {
	b, err := composite.New(backend.NewFront(failing{cpu.New().Device()}), cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	x := backend.FromF32(b, []float32{1, 2, 3}, 3)
	y := b.New(backend.F32, 3)
	backend.GELU(b, y, x)
	backend.Scale(b, y, x, 2)
	err = b.Sync()
	if err == nil || !strings.Contains(err.Error(), "gelu(y=f32[3] x=f32[3]): on broken: the kernel crashed") {
		t.Fatalf("Sync = %v", err)
	}
	if _, rerr := backend.ReadF32(b, y); rerr != err {
		t.Errorf("Read = %v, want the sticky %v", rerr, err)
	}
	if s, _ := composite.StatsOf(b); s.Members[0].Calls[backend.OpScale] != 0 {
		t.Errorf("scale ran after the error: %+v", s.Members[0])
	}

	c := open(t, "cpu?ops=matmul,cpu-ref?ops=gelu")
	err = c.Supports(backend.Call{Op: backend.OpScale, Args: []*backend.Tensor{backend.Placeholder(backend.F32, 2), backend.Placeholder(backend.F32, 2)}})
	if !errors.Is(err, backend.ErrUnsupported) || !strings.Contains(err.Error(), "cpu?ops=matmul,cpu-ref?ops=gelu") {
		t.Errorf("Supports(scale) = %v", err)
	}
}

// counting is a CPU device that counts validations it is asked for (none:
// the composite's Front validates) and its live tensors.
type counting struct {
	backend.Device
	live *int
}

func (c counting) Alloc(t *backend.Tensor, guarded bool) (any, error) {
	*c.live++
	return c.Device.Alloc(t, guarded)
}

func (c counting) Free(s *backend.Storage) {
	*c.live--
	c.Device.Free(s)
}

// Each call is validated once, by the composite's Front, not again by a
// member's; releasing a composite tensor releases its copy on every member.
func TestValidatedOnceAndReleased(t *testing.T) {
	var live [2]int
	r, err := backend.Restrict(backend.NewFront(counting{cpu.New().Device(), &live[0]}), []backend.Op{backend.OpMatMul})
	if err != nil {
		t.Fatal(err)
	}
	members := []backend.Backend{r, backend.NewFront(counting{cpu.New().Device(), &live[1]})}
	b, err := composite.New(members...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	x := backend.FromF32(b, []float32{1, 2, 3, 4}, 2, 2)
	y := b.New(backend.F32, 2, 2)
	backend.MatMul(b, y, x, x, false, true, 1, 0)
	z := backend.Reshape(y, 4)
	backend.Scale(b, z, z, 2)
	got, err := backend.ReadF32(b, y)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{10, 22, 22, 50}; !slices.Equal(got, want) {
		t.Errorf("y = %v, want %v", got, want)
	}
	if f := b.(*backend.Front); f.Validated() != 2 {
		t.Errorf("the composite validated %d calls, want 2", f.Validated())
	}
	for _, m := range members {
		if n := m.(*backend.Front).Validated(); n != 0 {
			t.Errorf("%s validated %d calls again", m.Info().Backend, n)
		}
	}
	if live != [2]int{2, 1} {
		t.Errorf("live tensors per member %v, want [2 1] (x, y on the first; y on the second)", live)
	}
	for _, h := range []*backend.Tensor{x, y, z} {
		b.Release(h)
	}
	if live != [2]int{0, 0} {
		t.Errorf("live tensors per member after releases %v, want none", live)
	}
}

// Host writes wait on the host until an op places the tensor; a write to a
// placed tensor goes to every member that holds a copy, so a later op on
// either reads it without a copy between members.
func TestHostWrites(t *testing.T) {
	b := open(t, "cpu?ops=matmul,cpu")
	x := backend.FromF32(b, []float32{1, 2, 3, 4}, 2, 2)
	if got, _ := backend.ReadF32(b, x); !slices.Equal(got, []float32{1, 2, 3, 4}) {
		t.Fatalf("read of host data = %v", got)
	}
	y := b.New(backend.F32, 2, 2)
	backend.MatMul(b, y, x, x, false, false, 1, 0) // x placed on the first
	backend.Scale(b, y, x, 1)                      // x placed on the second
	backend.WriteF32(b, x, []float32{5, 6, 7, 8})
	backend.MatMul(b, y, x, x, false, false, 1, 0)
	backend.Add(b, y, y, x)
	got, err := backend.ReadF32(b, y)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{67 + 5, 78 + 6, 91 + 7, 106 + 8}; !slices.Equal(got, want) {
		t.Errorf("y = %v, want %v", got, want)
	}
	s, _ := composite.StatsOf(b)
	if n, _ := s.Copied(); n != 1 { // y, from the matmul to the add
		t.Errorf("%d copies, want 1 (%+v)", n, s)
	}
}

// Specs: "?ops=" keeps some ops of any backend, "," joins backends; the
// errors name what is wrong.
func TestOpenSpecs(t *testing.T) {
	r := open(t, "cpu-ref?ops=gelu_bwd+matmul")
	if i := r.Info(); i.Backend != "cpu-ref?ops=matmul+gelu_bwd" || len(i.Ops) != 2 {
		t.Errorf("Info = %q with ops %v", i.Backend, i.Ops)
	}
	x := r.New(backend.F32, 2)
	backend.Scale(r, x, x, 2)
	if err := r.Sync(); !errors.Is(err, backend.ErrUnsupported) {
		t.Errorf("scale on %s: %v, want unsupported", r.Info().Backend, err)
	}
	c := open(t, "cpu-ref?ops=matmul,cpu")
	if i := c.Info(); i.Backend != "cpu-ref?ops=matmul,cpu" || len(i.Ops) != len(backend.Ops()) || !i.Guards {
		t.Errorf("Info = %+v", i)
	}
	line, ok := composite.Describe(c)
	if want := "cpu-ref?ops=matmul runs matmul; cpu runs the 28 other ops and the calls the backends before it refuse"; !ok || !strings.Contains(line, want) {
		t.Errorf("Describe = %q, want %q", line, want)
	}
	for spec, msg := range map[string]string{
		"cpu?ops=":         `unknown op ""`,
		"cpu?ops=matmul+x": `unknown op "x"`,
		"cpu?threads=2":    `unknown suffix "?threads=2"`,
		"cpu,":             "an empty backend spec",
		"cpu,nope":         `unknown backend "nope"`,
		"cpu,cpu?ops=mat":  `unknown op "mat"`,
	} {
		if b, err := backend.Open(spec); err == nil || !strings.Contains(err.Error(), msg) {
			if b != nil {
				b.Close()
			}
			t.Errorf("Open(%q) = %v, want %q", spec, err, msg)
		}
	}
}
