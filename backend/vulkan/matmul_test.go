//go:build linux && cgo

package vulkan

import (
	"fmt"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
)

// matmulPlanners are the devices whose matmul choices the conformance cases
// must cover: lavapipe as CI runs it (subgroups of 8) and on a machine with
// 512-bit vectors (16), each with its register variant and with the
// shared-memory variant of GPUs forced (TestSharedMatmul runs that one on
// lavapipe), and a discrete GPU; plus the device of this machine, if any.
// Only the host's choice is asked for (matmulPlan), so no device is needed.
func matmulPlanners() []namedDevice {
	lvp := func(sg uint32) *physical {
		return &physical{name: fmt.Sprintf("llvmpipe with subgroups of %d", sg), kind: "cpu", loopLimit: 65535,
			subgroup: sg, subgroupOps: subgroupShuffle, limits: limits{MaxComputeSharedMemorySize: 32 << 10}}
	}
	gpu := &physical{name: "a discrete GPU", kind: "discrete-gpu", subgroup: 32, subgroupOps: subgroupShuffle,
		limits: limits{MaxComputeSharedMemorySize: 48 << 10}}
	ds := []namedDevice{
		{"lavapipe (subgroups of 8)", &device{phys: lvp(8)}},
		{"lavapipe (subgroups of 8), shared", &device{phys: lvp(8), sharedMatmul: true}},
		{"lavapipe (subgroups of 16)", &device{phys: lvp(16)}},
		{"lavapipe (subgroups of 16), shared", &device{phys: lvp(16), sharedMatmul: true}},
		{"a GPU", &device{phys: gpu}},
	}
	if b, err := Open(""); err == nil {
		p := b.Device().(*device).phys
		ds = append(ds, namedDevice{p.name, &device{phys: p}}, namedDevice{p.name + ", shared", &device{phys: p, sharedMatmul: true}})
		b.Close()
	}
	return ds
}

type namedDevice struct {
	name string
	d    *device
}

// matmulVariants returns the pipeline variants (specialisation constants)
// that d's plans choose over a grid of calls: both sides of every choice
// (each transpose, K and N multiples of 4 or not, few or many workgroups,
// a batch or none), in every signature of the op table (the dtypes are
// constants too).
func matmulVariants(t *testing.T, d *device) map[string]bool {
	shape := func(z, r, c int) backend.Shape {
		if z == 0 {
			return conformance.S(r, c)
		}
		return conformance.S(z, r, c)
	}
	out := map[string]bool{}
	for _, z := range []int{0, 2, 64} {
		for _, m := range []int{1, 5, 64, 129, 600} {
			for _, n := range []int{1, 5, 8, 64, 129, 600} {
				for _, k := range []int{1, 4, 5, 16} {
					for _, ta := range []bool{false, true} {
						for _, tb := range []bool{false, true} {
							as, bs := shape(z, m, k), shape(z, k, n)
							if ta {
								as = shape(z, k, m)
							}
							if tb {
								bs = shape(z, n, k)
							}
							for _, sig := range backend.OpMatMul.Spec().Sigs {
								c := conformance.Case{Op: backend.OpMatMul, Shapes: []backend.Shape{shape(z, m, n), as, bs},
									Attrs: backend.Attrs{TransA: ta, TransB: tb, Alpha: 1}, DTypes: sig}
								p, err := d.matmulPlan(c.Call(c.Placeholders()))
								if err != nil {
									t.Fatalf("%s: %v", c.Name(), err)
								}
								out[fmt.Sprint(p.spec)] = true
							}
						}
					}
				}
			}
		}
	}
	return out
}

// Every matmul variant a device's plans can choose — register-tiled or
// shared-memory, large or small tile, vec4 or scalar loads of each operand,
// each transpose — runs on a conformance case with several workgroups in
// both directions and partial tiles at both edges (a tile offset or an edge
// check that is wrong fails there), and on a case with a batch; on
// lavapipe, on a GPU and on this machine's device. Before issue #12 the
// cases reached 8 of lavapipe's 9 variants and 8 of a GPU's 18 (no large
// tile at all), and most only within one workgroup. Catches a variant that
// conformance never runs: TestConformance and TestSharedMatmul then check
// every one against the CPU.
func TestConformanceReachesEveryMatmulVariant(t *testing.T) {
	for _, nd := range matmulPlanners() {
		name, d := nd.name, nd.d
		edges, batched := map[string]bool{}, map[string]bool{}
		for _, c := range conformance.Cases() {
			if c.Op != backend.OpMatMul {
				continue
			}
			call := c.Call(c.Placeholders())
			p, err := d.matmulPlan(call)
			if err != nil {
				t.Errorf("%s: %s: %v", name, c.Name(), err)
				continue
			}
			_, m, n, _ := backend.MatMulDims(call)
			v := fmt.Sprint(p.spec)
			edges[v] = edges[v] || p.gx > 1 && p.gy > 1 && m%p.tile.bm != 0 && n%p.tile.bn != 0
			batched[v] = batched[v] || p.gz > 1
		}
		all := matmulVariants(t, d)
		for v := range all {
			if !edges[v] {
				t.Errorf("%s: no matmul case runs variant %s over several workgroups each way with partial edge tiles", name, v)
			}
			if !batched[v] {
				t.Errorf("%s: no matmul case runs variant %s with a batch", name, v)
			}
		}
		t.Logf("%s: %d variants, each reached", name, len(all))
	}
}
