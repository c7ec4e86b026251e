//go:build linux && cgo

package vulkan

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/conformance"
)

// dtypeKernelOps are the ops whose kernels read 16 bits through a dtype
// constant (reads16 but cast and matmul, which have their own tests).
func dtypeKernelOps() []backend.Op {
	var out []backend.Op
	for _, op := range backend.Ops() {
		if reads16[op] && op != backend.OpCast && op != backend.OpMatMul {
			out = append(out, op)
		}
	}
	return out
}

// dtypeVariants are the pipeline variants of those kernels, each as its
// kernel and its specialisation constants after the workgroup size: every
// mode in float32, bf16 and f16 (ops.go: mode, then dtMode), and for
// colsum the sum in one pass and in two (16 bits into float32 chunks, the
// chunks into 16 bits).
func dtypeVariants() map[string]bool {
	out := map[string]bool{}
	add := func(kernel string, spec ...uint32) { out[fmt.Sprint(kernel, spec)] = true }
	for _, dt := range []uint32{0, 1, 2} {
		for mode := uint32(0); mode < 4; mode++ {
			add("activation", mode, dt)
		}
		for mode := uint32(0); mode < 2; mode++ {
			add("binary", mode, dt)
			add("softmax", mode, dt)
			add("heads", mode, dt)
		}
		add("colsum", 0, dt, dt)
		add("colsum", 0, dt, 0)
		add("colsum", 0, 0, dt)
	}
	return out
}

// Every dtype variant of the kernels that read f16 and bf16 themselves
// (activation, binary, softmax, heads, colsum) is built and run by the
// conformance cases, which check it against the CPU, and those cases reach
// the 16-bit write paths that depend on shapes: an output of odd length
// (its last uint half padding), softmax rows of odd length (a uint shared
// by two rows, written by atomics), merge_heads with odd and even head
// sizes (element by element by atomics, or whole uints). Catches a variant
// or a path that conformance never runs, which would then be unchecked.
func TestConformanceReachesEvery16BitVariant(t *testing.T) {
	ops := dtypeKernelOps()
	names := make([]string, len(ops))
	for i, op := range ops {
		names[i] = op.String()
	}
	paths := map[string]bool{}
	for _, c := range conformance.Cases() {
		if c.Low() != backend.F32 && slices.Contains(ops, c.Op) {
			if c.Shapes[0].NumElements()%2 == 1 {
				paths[c.Op.String()+": odd output"] = true
			}
			last := c.Shapes[0][len(c.Shapes[0])-1]
			if (c.Op == backend.OpSoftmax || c.Op == backend.OpSoftmaxBwd) && last%2 == 1 && c.Shapes[0].NumElements() > last {
				paths[c.Op.String()+": rows of odd length"] = true
			}
			if c.Op == backend.OpMergeHeads {
				paths[fmt.Sprintf("merge_heads: head size even %v", c.Shapes[1][3]%2 == 0)] = true
			}
		}
	}
	var need []string
	for _, op := range ops {
		need = append(need, op.String()+": odd output")
	}
	need = append(need, "softmax: rows of odd length", "softmax_bwd: rows of odd length",
		"merge_heads: head size even true", "merge_heads: head size even false")
	for _, p := range need {
		if !paths[p] {
			t.Errorf("no 16-bit conformance case reaches %s", p)
		}
	}

	b, d := openTest(t)
	rep := conformance.Run(b, conformance.Options{Seed: 15, Reference: cpu.New(), NoGradients: true,
		Ops: regexp.MustCompile("^(" + strings.Join(names, "|") + ")$")})
	if rep.Failed() {
		var buf strings.Builder
		rep.Write(&buf, 5)
		t.Fatalf("conformance fails:\n%s", buf.String())
	}
	ran := map[string]bool{}
	for k := range d.pipes {
		ran[fmt.Sprint(k.kernel, k.spec[1:k.n])] = true
	}
	want := dtypeVariants()
	var notRun []string
	for v := range want {
		if !ran[v] {
			notRun = append(notRun, v)
		}
	}
	sort.Strings(notRun)
	if len(notRun) > 0 {
		t.Errorf("%d of %d variants not run by conformance: %v", len(notRun), len(want), notRun)
	}
	t.Logf("%d variants of %d ops, each run", len(want), len(ops))
}
