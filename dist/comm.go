// Package dist is data-parallel training across processes, GPUs and
// machines, as PyTorch's DistributedDataParallel does it: every rank holds
// the same model, reads its own share of each global batch, and averages
// its gradients with the other ranks' before the optimiser step, so that
// every rank takes the same step.
//
// A Comm is the group of ranks: its size, this process's rank, and the
// collectives training needs (sum all-reduce, broadcast, barrier, abort).
// Open returns the world the process was started in: one process (Single),
// or the ranks of an MPI launcher (mpirun, srun, the Kubernetes MPI
// Operator) through Open MPI, opened at run time (internal/mpi). Local
// makes a group of ranks inside one process, for tests.
//
// Reducer averages a model's gradients in buckets of tens of megabytes,
// each started as soon as the backward pass has completed every gradient in
// it, so that communication overlaps computation. Broadcast and Verify give
// every rank rank 0's tensors and check that the ranks hold the same.
package dist

import (
	"errors"
	"fmt"
)

// Comm is a group of ranks. Collectives (AllreduceF32, AllreduceF64,
// Bcast, Barrier) must be called by every rank, in the same order; each
// returns once this rank's part is done. A Comm is safe for use by several
// goroutines, but collectives issued concurrently have no defined order,
// so a program issues them from one goroutine at a time.
type Comm interface {
	// Rank is this process's rank, 0 to Size-1; rank 0 is the root that
	// writes files.
	Rank() int
	// Size is the number of ranks.
	Size() int
	// LocalRank is the rank among the ranks on this machine (which picks
	// this rank's GPU).
	LocalRank() int
	// AllreduceF32 replaces x on every rank by the element-wise sum of x
	// over the ranks. Every rank gets the same bits.
	AllreduceF32(x []float32) error
	// AllreduceF64 is AllreduceF32 for float64.
	AllreduceF64(x []float64) error
	// Bcast copies b of rank root into b of every rank (b has the same
	// length everywhere).
	Bcast(b []byte, root int) error
	// Barrier returns once every rank has called it.
	Barrier() error
	// Abort ends the whole group with code: an MPI world's every process
	// exits (MPI_Abort, it does not return); a Local group's collectives
	// fail from then on with ErrAborted.
	Abort(code int)
	// Close leaves the group (MPI_Finalize, which waits for the other
	// ranks).
	Close() error
	// Describe names the group's transport for logs ("single process",
	// "Open MPI v4.1.4, 2 ranks").
	Describe() string
}

// ErrAborted is returned by a Local group's collectives after Abort.
var ErrAborted = errors.New("dist: the group was aborted")

// ErrAgreed marks an error that every rank of a group returns at the same
// point, having agreed on it through a collective (an interruption the
// ranks stop at together): the ranks can then leave the group in order
// (Close) instead of aborting it. Any other error on one rank leaves the
// others waiting in a collective, and ends the group with Abort.
var ErrAgreed = errors.New("every rank stopped at the same step")

// Single is the world of one process: collectives return at once.
type Single struct{}

// Rank is 0.
func (Single) Rank() int { return 0 }

// Size is 1.
func (Single) Size() int { return 1 }

// LocalRank is 0.
func (Single) LocalRank() int { return 0 }

// AllreduceF32 leaves x as it is (the sum over one rank).
func (Single) AllreduceF32([]float32) error { return nil }

// AllreduceF64 leaves x as it is.
func (Single) AllreduceF64([]float64) error { return nil }

// Bcast leaves b as it is; root must be 0.
func (Single) Bcast(_ []byte, root int) error { return checkRoot(root, 1) }

// Barrier returns at once.
func (Single) Barrier() error { return nil }

// Abort does nothing: a single process ends by returning its error.
func (Single) Abort(int) {}

// Close does nothing.
func (Single) Close() error { return nil }

// Describe says "single process".
func (Single) Describe() string { return "single process" }

func checkRoot(root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("dist: broadcast root %d outside the %d ranks", root, size)
	}
	return nil
}

// IsRoot reports whether c is nil or its rank is 0: the process that
// writes a run's files.
func IsRoot(c Comm) bool { return c == nil || c.Rank() == 0 }

// Or returns c, or Single when c is nil.
func Or(c Comm) Comm {
	if c == nil {
		return Single{}
	}
	return c
}
