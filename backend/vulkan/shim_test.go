//go:build linux && cgo

package vulkan

import (
	"testing"

	"github.com/ijepa-go/ijepa/internal/gctest"

	"github.com/ijepa-go/ijepa/backend"
)

// Pipelines are created while the garbage collector runs: the create info
// must stay valid for the whole of the driver's compilation (milliseconds
// on lavapipe). Through the binding's CreateComputePipelines this crashed.
func TestPipelinesWhileGCRuns(t *testing.T) {
	_, d := openTest(t)
	const n = 24
	gctest.WhileGCRuns(t, func() {
		for i := uint32(1); i <= n; i++ {
			// Distinct workgroup sizes: a pipeline (and a compilation) each.
			if _, err := d.pipeline("activation", i, i%2); err != nil {
				t.Fatal(err)
			}
		}
	})
	if len(d.pipes) < n {
		t.Errorf("%d pipelines, want at least %d", len(d.pipes), n)
	}
}

// The per-op and per-submit calls run hundreds of times while the garbage
// collector runs: staged writes and reads (buffer copies), dispatches with
// barriers, descriptor sets allocated and written anew each round, copies,
// begins and submits; every round's result is checked.
func TestHotPathsWhileGCRuns(t *testing.T) {
	b, d := openTest(t)
	d.devArena.mapped = false // every write and read is a copy command
	const n, rounds = 1024, 300
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	inc := fromF32(t, b, ones, n)
	x := b.New(backend.F32, n)
	y := b.New(backend.F32, n)
	submits, barriers, dispatches := d.submits, d.barriers, d.dispatches
	gctest.WhileGCRuns(t, func() {
		for r := range rounds {
			start := make([]float32, n)
			for i := range start {
				start[i] = float32(r)
			}
			backend.WriteF32(b, x, start)
			backend.Axpy(b, x, inc, 1)
			backend.Axpy(b, x, inc, 2)
			backend.Copy(b, y, x)
			backend.Scale(b, x, y, 2)
			got := readF32(t, b, x)
			want := float32(2 * (r + 3))
			for i, v := range got {
				if v != want {
					t.Fatalf("round %d: x[%d] = %g, want %g", r, i, v, want)
				}
			}
			// Nothing is queued after a read: forget the descriptor sets,
			// so that the next round allocates and writes them again.
			for _, blk := range d.devArena.blocks {
				d.dropSets(blk.id)
			}
		}
	})
	if got := d.submits - submits; got < rounds {
		t.Errorf("%d submits in %d rounds, want at least one a round", got, rounds)
	}
	if got := d.barriers - barriers; got < 3*rounds {
		t.Errorf("%d barriers in %d rounds, want at least 3 a round", got, rounds)
	}
	if got := d.dispatches - dispatches; got != 3*rounds {
		t.Errorf("%d dispatches in %d rounds, want %d", got, rounds, 3*rounds)
	}
}

// Devices, with their pools, layouts and memory, are created and closed
// while the garbage collector runs.
func TestOpenWhileGCRuns(t *testing.T) {
	openTest(t) // skips where there is no device
	gctest.WhileGCRuns(t, func() {
		for range 4 {
			b, err := Open("")
			if err != nil {
				t.Fatal(err)
			}
			x := fromF32(t, b, []float32{1, 2, 3}, 3)
			backend.Scale(b, x, x, 2)
			if got := readF32(t, b, x); got[2] != 6 {
				t.Errorf("x = %v, want [2 4 6]", got)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
