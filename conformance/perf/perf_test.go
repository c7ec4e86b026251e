package perf_test

import (
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/conformance/naive"
	"github.com/ijepa-go/ijepa/conformance/perf"
)

// Every timed shape is a call the op table accepts, and a matrix
// product's operations are 2·z·m·n·k: at the official batch, ViT-H/14's
// target fc1 is 32768x1280x5120.
func TestShapes(t *testing.T) {
	for _, st := range perf.Steps {
		for _, sh := range st.Shapes(perf.OfficialBatch) {
			if err := naive.New().Supports(sh.Case.Call(sh.Case.Placeholders())); err != nil {
				t.Errorf("%s %s: %v", st.Name, sh.Name, err)
			}
			if sh.Bytes <= 0 || (sh.Case.Op == backend.OpMatMul) != (sh.Flops > 0) {
				t.Errorf("%s %s: %g flops, %g bytes", st.Name, sh.Name, sh.Flops, sh.Bytes)
			}
			if st.Name == "vit_huge/14" && sh.Name == "target mlp fc1" && sh.Flops != 2*32768*1280*5120 {
				t.Errorf("ViT-H/14 fc1: %g flops", sh.Flops)
			}
		}
	}
}

// A run at a batch of one times every shape on both sides.
func TestRun(t *testing.T) {
	res, err := perf.Run(cpu.New(), cpu.NewReference(), perf.Options{Batch: 1, Models: []string{"vit_small/16"}, MinTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(perf.Steps[0].Shapes(1)) {
		t.Fatalf("%d timings", len(res))
	}
	for _, r := range res {
		if r.Err != "" || r.Runs < 1 || r.Time <= 0 || r.RefRuns < 1 || r.GBS() <= 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	if _, err := perf.Run(cpu.New(), nil, perf.Options{Models: []string{"vit_tiny"}}); err == nil {
		t.Error("an unknown step is accepted")
	}
}
