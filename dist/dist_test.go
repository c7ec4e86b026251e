package dist_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/dist/disttest"
	"github.com/ijepa-go/ijepa/nn"
)

func TestMain(m *testing.M) { disttest.Main(m) }

// TestCollectives checks every collective on every rank: sums that are the
// same bits everywhere, broadcasts from a rank other than 0, JSON
// broadcast, barrier. It runs on 3 in-process ranks, and on the MPI world
// under mpirun.
func TestCollectives(t *testing.T) {
	disttest.Run(t, 3, func(c dist.Comm) error {
		n, r := c.Size(), c.Rank()
		x := []float32{float32(r + 1), 0.1 * float32(r+1), 1e-8}
		if err := c.AllreduceF32(x); err != nil {
			return err
		}
		var want0 float32
		for i := 1; i <= n; i++ {
			want0 += float32(i)
		}
		if x[0] != want0 || math.Abs(float64(x[1])-0.1*float64(want0)) > 1e-6 {
			return fmt.Errorf("float32 all-reduce: %v", x)
		}
		bits := []float64{float64(math.Float32bits(x[1])) * float64(r+1)}
		if err := c.AllreduceF64(bits); err != nil {
			return err
		}
		if want := float64(math.Float32bits(x[1])) * float64(n*(n+1)/2); bits[0] != want {
			return fmt.Errorf("the ranks got different bits for one sum")
		}
		root := n - 1
		b := []byte("......")
		if r == root {
			copy(b, "from-r")
		}
		if err := c.Bcast(b, root); err != nil {
			return err
		}
		if string(b) != "from-r" {
			return fmt.Errorf("broadcast from rank %d gave %q", root, b)
		}
		type msg struct {
			Step int64
			Name string
		}
		var m msg
		if r == 0 {
			m = msg{42, "latest.safetensors"}
		}
		if err := dist.BcastJSON(c, 0, &m); err != nil {
			return err
		}
		if m != (msg{42, "latest.safetensors"}) {
			return fmt.Errorf("JSON broadcast gave %+v", m)
		}
		return c.Barrier()
	})
}

// params declares a few parameters of different sizes on be, with
// gradients.
func params(t *testing.T, be backend.Backend) []*nn.Param {
	b := nn.NewBuilder()
	for i, shape := range [][]int{{3, 5}, {7}, {64, 33}, {2, 2, 2}, {300}} {
		b.Param(fmt.Sprintf("p%d", i), nn.Init{Kind: nn.InitZeros}, true, shape...)
	}
	ps := b.Params()
	if err := nn.Alloc(be, ps, 1); err != nil {
		t.Fatal(err)
	}
	if err := nn.AllocGrads(be, ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// gradValue is rank r's gradient of parameter p at element i in step s.
func gradValue(s, r, p, i int) float32 { return float32((s+1)*(r+1)) + float32(p) + float32(i)/8 }

// TestReducerAverages reduces three steps of gradients, reported in an
// order other than the buckets', with buckets small enough that the
// parameters fill several: every rank must end each step with the mean of
// the ranks' gradients in every parameter. It catches a missing 1/N, a
// gradient written back into another parameter's slot, a bucket started
// before all of its gradients are read (the value read later would be
// missing), and state left over from the step before.
func TestReducerAverages(t *testing.T) {
	disttest.Run(t, 3, func(c dist.Comm) error {
		be := cpu.New()
		defer be.Close()
		ps := params(t, be)
		r, err := dist.NewReducer(c, be, ps, 4*100)
		if err != nil {
			return err
		}
		defer r.Close()
		if st := r.Stats(); st.Buckets != 4 || st.Bytes != 4*(15+7+64*33+8+300) {
			return fmt.Errorf("%d buckets of %d bytes in all, want 4 (p0+p1, p2, p3, p4) of %d", st.Buckets, st.Bytes, 4*(15+7+64*33+8+300))
		}
		n := c.Size()
		for s := 0; s < 3; s++ {
			for pi, p := range ps {
				v := make([]float32, p.NumElements())
				for i := range v {
					v[i] = gradValue(s, c.Rank(), pi, i)
				}
				backend.WriteF32(be, p.Grad, v)
			}
			for _, pi := range []int{4, 3, 1, 2, 0} {
				if err := r.GradReady(ps[pi].Grad); err != nil {
					return err
				}
			}
			if err := r.Wait(); err != nil {
				return err
			}
			for pi, p := range ps {
				got, err := backend.ReadF32(be, p.Grad)
				if err != nil {
					return err
				}
				for i, g := range got {
					var sum float32
					for rr := 0; rr < n; rr++ {
						sum += gradValue(s, rr, pi, i)
					}
					if want := sum / float32(n); math.Abs(float64(g-want)) > 1e-5*math.Abs(float64(want)) {
						return fmt.Errorf("step %d: %s[%d] = %v, want the mean %v", s, p.Name, i, g, want)
					}
				}
			}
		}
		if st := r.Stats(); st.Steps != 3 {
			return fmt.Errorf("stats count %d steps, want 3", st.Steps)
		}
		return nil
	})
}

// TestReducerRefusesIncompleteSteps checks that a gradient reported twice,
// one that is not a parameter's, and a Wait before every gradient was
// reported are errors naming the parameter.
func TestReducerRefusesIncompleteSteps(t *testing.T) {
	be := cpu.New()
	defer be.Close()
	ps := params(t, be)
	r, err := dist.NewReducer(dist.Single{}, be, ps, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.GradReady(ps[0].Grad); err != nil {
		t.Fatal(err)
	}
	if err := r.GradReady(ps[0].Grad); err == nil || !strings.Contains(err.Error(), "p0") {
		t.Errorf("a gradient reported twice: %v", err)
	}
	if err := r.GradReady(ps[0].Value); err == nil {
		t.Error("a tensor that is no gradient was taken")
	}
	if err := r.Wait(); err == nil || !strings.Contains(err.Error(), "p1") {
		t.Errorf("Wait with 1 of 5 gradients reported: %v", err)
	}
}

// TestVerifyNamesTheRankThatDiffers gives rank 1 other weights: Verify must
// fail on every rank, naming rank 1; after Broadcast from rank 0 it must
// pass, and every rank must hold rank 0's values.
func TestVerifyNamesTheRankThatDiffers(t *testing.T) {
	disttest.Run(t, 3, func(c dist.Comm) error {
		be := cpu.New()
		defer be.Close()
		ps := params(t, be)
		named := nn.ParamTensors("", ps)
		for pi, p := range ps {
			v := make([]float32, p.NumElements())
			for i := range v {
				v[i] = float32(pi*1000 + i)
			}
			if c.Rank() == 1 && pi == 2 {
				v[17] += 1e-3
			}
			backend.WriteF32(be, p.Value, v)
		}
		err := dist.Verify(c, be, named, "the test weights")
		if err == nil || !strings.Contains(err.Error(), "rank 1's") || strings.Contains(err.Error(), "rank 2's") {
			return fmt.Errorf("Verify with rank 1 different: %v", err)
		}
		if c.Rank() == 0 {
			backend.WriteF32(be, ps[4].Value, make([]float32, 300))
		}
		if err := dist.Broadcast(c, be, named, 0); err != nil {
			return err
		}
		if err := dist.Verify(c, be, named, "the test weights"); err != nil {
			return err
		}
		got, err := backend.ReadF32(be, ps[4].Value)
		if err != nil {
			return err
		}
		if !slices.Equal(got, make([]float32, 300)) {
			return fmt.Errorf("rank %d does not hold rank 0's values after Broadcast", c.Rank())
		}
		return nil
	})
}

// TestLocalOutOfOrder checks that an in-process group catches ranks that
// call different collectives at once, instead of hanging.
func TestLocalOutOfOrder(t *testing.T) {
	cs := dist.Local(2)
	errs := make(chan error, 2)
	go func() { errs <- cs[0].Barrier() }()
	go func() { errs <- cs[1].AllreduceF32([]float32{1}) }()
	e1, e2 := <-errs, <-errs
	if e1 == nil || e2 == nil {
		t.Errorf("barrier against all-reduce: %v and %v, want two errors", e1, e2)
	}
}

// TestOpenRefusesWithoutMPI is a process that an MPI launcher started as
// rank 1 of 2 where MPI cannot be loaded: Open must refuse in one line
// naming the rank.
func TestOpenRefusesWithoutMPI(t *testing.T) {
	if disttest.MPI() != nil {
		t.Skip("MPI is in use")
	}
	t.Setenv("OMPI_COMM_WORLD_RANK", "1")
	t.Setenv("OMPI_COMM_WORLD_SIZE", "2")
	t.Setenv("IJEPA_MPI", "off")
	c, err := dist.Open(dist.Options{})
	if err == nil {
		c.Close()
		t.Fatal("Open succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "rank 1 of 2") || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line naming rank 1 of 2", msg)
	}
}

// TestDeviceSpec gives the ranks of a machine with two GPUs and a CPU
// device one GPU each in turn, and leaves a spec that names a device, or a
// single process, as it is.
func TestDeviceSpec(t *testing.T) {
	backend.Register(backend.Driver{Name: "fakegpus", Open: func(string) (backend.Backend, error) { return nil, fmt.Errorf("not for opening") },
		Devices: func() ([]backend.Info, error) {
			return []backend.Info{{Backend: "fakegpus:0", Kind: "discrete-gpu"}, {Backend: "fakegpus:1", Kind: "cpu"}, {Backend: "fakegpus:2", Kind: "integrated-gpu"}}, nil
		}})
	var got []string
	for _, c := range dist.Local(3) {
		got = append(got, dist.DeviceSpec("fakegpus", c), dist.DeviceSpec("fakegpus:1", c))
	}
	want := []string{"fakegpus:0", "fakegpus:1", "fakegpus:2", "fakegpus:1", "fakegpus:0", "fakegpus:1"}
	if !slices.Equal(got, want) {
		t.Errorf("ranks 0-2 open %v, want %v", got, want)
	}
	// Each backend of a composite, restricted or not.
	if s := dist.DeviceSpec("fakegpus?ops=matmul,cpu,fakegpus", dist.Local(2)[1]); s != "fakegpus:2?ops=matmul,cpu,fakegpus:2" {
		t.Errorf("rank 1 of 2 opens %q", s)
	}
	if s := dist.DeviceSpec("fakegpus", dist.Single{}); s != "fakegpus" {
		t.Errorf("a single process opens %q", s)
	}
}
