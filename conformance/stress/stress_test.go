package stress_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/conformance/naive"
	"github.com/ijepa-go/ijepa/conformance/simgpu"
	"github.com/ijepa-go/ijepa/conformance/stress"
)

// The CPU backends and the correct simulated GPU run every program of a
// default run as the reference does.
func TestCorrectBackendsPass(t *testing.T) {
	for _, c := range []struct {
		b, ref backend.Backend
	}{
		{cpu.New(), naive.New()},
		{cpu.NewReference(), naive.New()},
		{simgpu.New(simgpu.None), cpu.NewReference()},
	} {
		row := stress.Run(c.b, c.ref, stress.Options{Seed: 20261128})
		if row.Failed > 0 || row.Passed != stress.DefaultPrograms {
			t.Errorf("%s: %d of %d programs passed: %s", c.b.Info().Backend, row.Passed, row.Cases, row.Failures[0].Msg)
		}
		t.Logf("%s: %d programs, worst NMSE %.2e, %v", c.b.Info().Backend, row.Cases, row.Worst, row.Time)
	}
}

// A planted asynchronous bug that every op-level case passes — a dropped
// barrier before a write after a read, or memory handed to a new tensor
// while queued work still reads it — is found at the default settings
// within 10 s, shrunk to a program of a few instructions that fails alone
// and is printed with the command that replays it.
func TestFindsPlantedHazards(t *testing.T) {
	for _, f := range []simgpu.Fault{simgpu.DropWAR, simgpu.ReuseEarly} {
		t.Run(f.String(), func(t *testing.T) {
			b := simgpu.New(f)
			ref := cpu.NewReference()
			start := time.Now()
			row := stress.Run(b, ref, stress.Options{Seed: 20261128})
			elapsed := time.Since(start)
			if row.Failed == 0 {
				t.Fatalf("%d programs pass with the planted %v", row.Cases, f)
			}
			first := row.Failures[0]
			t.Logf("%d of %d programs fail; the run took %v; the first failure:\n%s %s", row.Failed, row.Cases, elapsed, first.Name, first.Msg)
			if elapsed > 10*time.Second {
				t.Errorf("the whole default run took %v, more than 10 s", elapsed)
			}
			_, min, ok := strings.Cut(first.Msg, "minimal failing program")
			if !ok {
				t.Fatalf("no minimal program in %q", first.Msg)
			}
			if n := strings.Count(min, "\n") - 1; n > 12 {
				t.Errorf("the minimal program has %d instructions, want at most 12:\n%s", n, min)
			}
			if len(first.Args) != 6 || first.Args[0] != "--mode" || first.Args[3] == "" {
				t.Errorf("replay arguments %q", first.Args)
			}
		})
	}
}

// A program is a function of its seed alone, and the run's program k is
// the program of seed Seed+k: --seed Seed+k --programs 1 replays it.
func TestReplayBySeed(t *testing.T) {
	a := stress.Generate(77, stress.DefaultLength, stress.Ops)
	b := stress.Generate(77, stress.DefaultLength, stress.Ops)
	if a.String() != b.String() || len(a.Instrs) < stress.DefaultLength {
		t.Fatalf("two programs of seed 77 differ or are short:\n%s\n%s", a, b)
	}
	row := stress.Run(simgpu.New(simgpu.DropWAR), cpu.NewReference(), stress.Options{Seed: 20261128})
	if row.Failed == 0 {
		t.Fatal("nothing to replay")
	}
	f := row.Failures[0]
	var seed uint64
	for i, a := range f.Args {
		if a == "--seed" {
			for _, c := range f.Args[i+1] {
				seed = seed*10 + uint64(c-'0')
			}
		}
	}
	one := stress.Run(simgpu.New(simgpu.DropWAR), cpu.NewReference(), stress.Options{Seed: seed, Programs: 1})
	if one.Failed != 1 || one.Failures[0].Msg != f.Msg {
		t.Errorf("the replay of %s gives %d failures: %v", f.Name, one.Failed, one.Failures)
	}
}
