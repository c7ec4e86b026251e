// Package disttest runs a test's per-rank body on every rank of a group:
// the MPI world when an MPI launcher started the test binary (scripts/test.sh
// runs the data-parallel tests with mpirun -np 2), otherwise a dist.Local
// group of goroutines in the test process. So one test covers both the
// in-process group, in every go test run, and MPI, where it is installed.
package disttest

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/internal/mpi"
)

var world dist.Comm

// Main is a test binary's TestMain: it opens the MPI world when a launcher
// started the binary (with a collective timeout of two minutes, so that a
// test that leaves the ranks out of step fails instead of hanging), runs
// the tests, and closes the world.
func Main(m *testing.M) {
	if mpi.Launched().ByMPI {
		c, err := dist.Open(dist.Options{Timeout: 2 * time.Minute})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		world = c
	}
	code := m.Run()
	if world != nil {
		if code != 0 {
			world.Abort(code)
		}
		if err := world.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// MPI returns the MPI world the test binary runs in, or nil.
func MPI() dist.Comm { return world }

// Run calls body once per rank: with the MPI world when there is one (then
// this process is one rank, and n is ignored), else with each rank of a
// Local group of n on goroutines of its own. Errors are reported with the
// rank.
func Run(t *testing.T, n int, body func(c dist.Comm) error) {
	t.Helper()
	if world != nil {
		if err := body(world); err != nil {
			t.Fatalf("rank %d of %d: %v", world.Rank(), world.Size(), err)
		}
		return
	}
	comms := dist.Local(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r, c := range comms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs[r] = fmt.Errorf("panic: %v", p)
					c.Abort(1)
				}
			}()
			if errs[r] = body(c); errs[r] != nil {
				c.Abort(1) // the other ranks' collectives fail instead of waiting
			}
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Errorf("rank %d of %d: %v", r, n, err)
		}
	}
}
