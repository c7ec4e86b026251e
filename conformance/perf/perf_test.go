package perf_test

import (
	"strings"
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

// small is a CPU device that holds no tensor over 1 MiB.
type small struct{ backend.Device }

func (s small) Info() backend.Info {
	i := s.Device.Info()
	i.MaxTensorBytes = 1 << 20
	return i
}

// A shape with a tensor larger than the device holds is reported as
// unsupported, and the shapes after it are still timed (lavapipe holds at
// most 128 MiB, less than ViT-S/16's MLP activations at batch 128).
func TestTooLarge(t *testing.T) {
	b := backend.NewFront(small{cpu.New().Device()})
	res, err := perf.Run(b, nil, perf.Options{Batch: 8, Models: []string{"vit_small/16"}, MinTime: time.Millisecond,
		Reopen: func() (backend.Backend, error) { return backend.NewFront(small{cpu.New().Device()}), nil }})
	if err != nil {
		t.Fatal(err)
	}
	var big, ran int
	for _, r := range res {
		switch {
		case strings.Contains(r.Err, "larger than the device's largest tensor"):
			big++
		case r.Err == "" && r.Runs > 0:
			ran++
		default:
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	if big == 0 || ran == 0 || b.Err() != nil {
		t.Errorf("%d shapes too large, %d timed, sticky error %v", big, ran, b.Err())
	}
}
