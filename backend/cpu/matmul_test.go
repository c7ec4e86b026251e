package cpu

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/openblas"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/conformance/naive"
	"github.com/ijepa-go/ijepa/internal/testdep"
)

// The conformance suite's matmul cases reach every split of the fast
// backend (none, batch, rows, columns), each with every transpose and both
// beta paths, and pass against the float64 statement of matmul there — at 2
// threads (CI's machine) and at 8, whatever GOMAXPROCS is. The fast backend
// is the reference of the Vulkan and plugin tests, so a split that no case
// reached would be trusted unchecked: before issue #12 none split the
// columns or chunked a batch. Catches a broken split, for instance the
// column share's offset into a transposed b (part's b[lo*ldb:]) or a
// chunk of the batch skipped.
func TestConformanceReachesEverySplit(t *testing.T) {
	if err := openblas.Load(); err != nil {
		testdep.Skip(t, "no OpenBLAS, so the fast backend's splits are not run: %v", err)
	}
	type path struct {
		split        split
		ta, tb, beta bool
	}
	for _, threads := range []int{2, 8} {
		d := &device{threads: threads, kernels: fastKernels, blas: true}
		reached := map[path]bool{}
		for _, c := range conformance.Cases() {
			if c.Op == backend.OpMatMul {
				batch, m, n, k := backend.MatMulDims(c.Call(c.Placeholders()))
				reached[path{d.matmulPlan(batch, m, n, k).split, c.Attrs.TransA, c.Attrs.TransB, c.Attrs.Beta != 0}] = true
			}
		}
		for s := splitNone; s <= splitCols; s++ {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, beta := range []bool{false, true} {
						if !reached[path{s, ta, tb, beta}] {
							t.Errorf("%d threads: no matmul case splits by %v with TransA=%v TransB=%v beta!=0=%v: add one to conformance/families.go",
								threads, s, ta, tb, beta)
						}
					}
				}
			}
		}
		rep := conformance.Run(backend.NewFront(d), conformance.Options{Seed: 20261128, Reference: naive.New(), Ops: regexp.MustCompile("^matmul$")})
		if rep.Failed() {
			var buf strings.Builder
			rep.Write(&buf, 5)
			t.Errorf("%d threads: the fast matmul fails conformance:\n%s", threads, buf.String())
		}
	}
}
