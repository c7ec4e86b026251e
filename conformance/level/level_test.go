package level_test

import (
	"bytes"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/conformance/level"
	"github.com/ijepa-go/ijepa/conformance/naive"
	"github.com/ijepa-go/ijepa/conformance/simgpu"
)

// report runs the layer and step levels of b against ref.
func report(b, ref backend.Backend, seed uint64) conformance.Report {
	rep := conformance.NewReport(b, ref, seed, conformance.ModeTest)
	opts := level.Options{Seed: seed, Reference: ref}
	rep.Checks = append(level.Layers(b, opts), level.Steps(b, opts)...)
	return rep
}

// Both CPU backends pass the layer and step levels against the float64
// reference.
func TestCPU(t *testing.T) {
	for _, b := range []*backend.Front{cpu.NewReference(), cpu.New()} {
		rep := report(b, naive.New(), 3)
		var buf bytes.Buffer
		rep.Write(&buf, -1)
		if rep.Failed() {
			t.Errorf("%s:\n%s", b.Info().Backend, buf.String())
		}
		for _, o := range rep.Checks {
			if o.Cases == 0 || o.Passed != o.Cases {
				t.Errorf("%s %s: %d of %d cases passed", b.Info().Backend, o.Name, o.Passed, o.Cases)
			}
		}
		t.Logf("\n%s", buf.String())
	}
}

// A backend that hands a released tensor's memory to the next tensor while
// queued work still reads it passes every op-level case — each case runs
// one op on fresh tensors and reads at once — and fails the step level,
// whose steps queue hundreds of ops over tensors released and reallocated
// on the way. The same device without the fault passes both.
func TestStepLevelCatchesEarlyReuse(t *testing.T) {
	for _, f := range []simgpu.Fault{simgpu.None, simgpu.ReuseEarly} {
		ops := conformance.Run(simgpu.New(f), conformance.Options{Seed: 3, Reference: cpu.NewReference()})
		if ops.Failed() {
			var buf bytes.Buffer
			ops.Write(&buf, 3)
			t.Fatalf("%v fails the op level:\n%s", f, buf.String())
		}
		steps := level.Steps(simgpu.New(f), level.Options{Seed: 3, Reference: cpu.NewReference()})
		failed := 0
		for _, o := range steps {
			failed += o.Failed
		}
		switch {
		case f == simgpu.None && failed > 0:
			t.Errorf("the correct device fails %d step-level checks: %v", failed, steps)
		case f == simgpu.ReuseEarly && (steps[0].Failed != level.NumSteps || failed == 0):
			t.Errorf("with memory reused early, %d of %d losses and %d checks in all fail", steps[0].Failed, steps[0].Cases, failed)
		}
		t.Logf("%v: every op-level case passes; %d step-level checks fail", f, failed)
	}
}
