package composite_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/composite"
	"github.com/ijepa-go/ijepa/backend/cpu"
	_ "github.com/ijepa-go/ijepa/backend/vulkan"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/conformance/naive"
	"github.com/ijepa-go/ijepa/internal/testdep"
)

// openVulkan opens spec, a backend with Vulkan in it, or skips where there
// is no Vulkan device (the test command installs lavapipe and fails
// instead).
func openVulkan(t *testing.T, spec string) backend.Backend {
	t.Helper()
	b, err := backend.Open(spec)
	if err != nil {
		testdep.Skip(t, "no Vulkan device, so %s is not tested: %v", spec, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// A matmul whose K loop passes lavapipe's limit of 65,535 loop iterations,
// which the Vulkan backend alone refuses, runs on the CPU inside a chain of
// Vulkan ops: its inputs come from the host and a Vulkan op, its output
// goes on to Vulkan ops, and the result is the CPU backend's.
func TestRefusedShapeRunsOnCPU(t *testing.T) {
	const k = 1<<20 + 1
	refused := backend.Call{Op: backend.OpMatMul, Args: []*backend.Tensor{
		backend.Placeholder(backend.F32, 2, 3), backend.Placeholder(backend.F32, 2, k), backend.Placeholder(backend.F32, k, 3)}}
	vk := openVulkan(t, "vulkan")
	if err := vk.Supports(refused); !errors.Is(err, backend.ErrUnsupported) {
		t.Skipf("%s runs a matmul over K = %d (Supports = %v): nothing to fall back from", vk.Info().Device, k, err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	a, bm := make([]float32, 2*k), make([]float32, k*3)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range bm {
		bm[i] = float32(r.NormFloat64())
	}
	w := []float32{0.5, -1, 2, 0.25, 1.5, -0.75}
	chain := func(b backend.Backend) []float32 {
		at, bt := backend.FromF32(b, a, 2, k), backend.FromF32(b, bm, k, 3)
		backend.Scale(b, at, at, 0.001) // a on Vulkan first
		y, z, out := b.New(backend.F32, 2, 3), b.New(backend.F32, 2, 3), b.New(backend.F32, 2, 2)
		backend.MatMul(b, y, at, bt, false, false, 1, 0) // refused by Vulkan
		backend.GELU(b, z, y)
		backend.MatMul(b, out, z, backend.FromF32(b, w, 2, 3), false, true, 1, 0)
		v, err := backend.ReadF32(b, out)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := chain(cpu.New())
	b := openVulkan(t, "vulkan,cpu")
	got := chain(b)
	for i := range want {
		if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("result %v, want %v", got, want)
		}
	}
	s, _ := composite.StatsOf(b)
	vs, cs := s.Members[0], s.Members[1]
	if cs.Calls[backend.OpMatMul] != 1 || vs.Calls[backend.OpMatMul] != 1 || vs.Calls[backend.OpGELU] != 1 || vs.Calls[backend.OpScale] != 1 {
		t.Errorf("calls: vulkan %v, cpu %v; want the refused matmul on cpu, the rest on vulkan", vs.Calls, cs.Calls)
	}
	if cs.CopiesIn != 1 || cs.BytesIn != 2*k*4 || vs.CopiesIn != 1 || vs.BytesIn != 2*3*4 {
		t.Errorf("copies: %+v %+v; want a to cpu, y back to vulkan", vs, cs)
	}
}

// The conformance suite passes on composites: the CPU reference's matmul
// and GELU beside the fast CPU backend (against the float64 statement of
// the ops), and Vulkan with the CPU behind it (against the CPU reference).
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		spec string
		ref  backend.Backend
	}{
		{"cpu-ref?ops=matmul+gelu+gelu_bwd,cpu", naive.New()},
		{"vulkan,cpu", cpu.NewReference()},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			b := openVulkan(t, tc.spec)
			rep := conformance.Run(b, conformance.Options{Seed: 20261128, Reference: tc.ref})
			var buf bytes.Buffer
			rep.Write(&buf, -1)
			if rep.Failed() {
				t.Fatalf("%s fails conformance:\n%s", tc.spec, buf.String())
			}
			for _, o := range rep.Ops {
				if o.Unsupp > 0 {
					t.Errorf("%v: %d of %d cases unsupported", o.Op, o.Unsupp, o.Cases)
				}
			}
		})
	}
}
