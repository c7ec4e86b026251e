package dist

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/ijepa-go/ijepa/internal/mpi"
)

// TimeoutEnv is the environment variable that sets Options.Timeout when it
// is 0 (a Go duration: "90s", "45m").
const TimeoutEnv = "IJEPA_DIST_TIMEOUT"

// DefaultTimeout bounds a collective when neither Options.Timeout nor
// TimeoutEnv says otherwise: long enough for rank 0's evaluations and
// checkpoints, during which the other ranks wait in their next collective
// (PyTorch's default for NCCL is 30 minutes too).
const DefaultTimeout = 30 * time.Minute

// Options configure Open.
type Options struct {
	// Timeout bounds every collective: one that has not returned by then
	// means a rank has stopped or hangs, and the watchdog aborts the world
	// with a line naming this rank and the collective. 0: TimeoutEnv, else
	// DefaultTimeout.
	Timeout time.Duration
	// Log receives the watchdog's line (nil: standard error).
	Log io.Writer
}

// Open returns the world this process was started in: Single when no MPI
// launcher started it, else its MPI world (Open MPI, loaded at run time).
// A process that a launcher started as one of several ranks, where MPI
// cannot be loaded, gets an error saying so in one line.
func Open(o Options) (Comm, error) {
	l := mpi.Launched()
	if !l.ByMPI {
		return Single{}, nil
	}
	if err := mpi.Load(); err != nil {
		if l.Size == 1 {
			return Single{}, nil
		}
		who := "one of several ranks"
		if l.Size > 1 {
			who = fmt.Sprintf("rank %d of %d", l.Rank, l.Size)
		}
		return nil, fmt.Errorf("dist: an MPI launcher started this process as %s (%s), but MPI cannot be loaded (%v): install Open MPI (Debian: openmpi-bin), or run a single process without mpirun", who, l.Var, err)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
		if v := os.Getenv(TimeoutEnv); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("dist: %s=%q is not a positive duration (like 90s or 45m)", TimeoutEnv, v)
			}
			o.Timeout = d
		}
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	return openMPI(o)
}

// mpiComm is an MPI world. Every MPI call runs on one goroutine locked to
// the OS thread that initialised MPI; callers hand it the call and wait,
// with the watchdog's timeout. Abort alone is called directly (its caller
// cannot wait for a thread that may be stuck in a collective).
type mpiComm struct {
	w       *mpi.World
	jobs    chan func()
	timeout time.Duration
	log     io.Writer
	mu      sync.Mutex // one collective at a time
	closed  bool
}

func openMPI(o Options) (*mpiComm, error) {
	c := &mpiComm{jobs: make(chan func()), timeout: o.Timeout, log: o.Log}
	ready := make(chan error)
	go func() {
		// The thread stays locked for the life of the process: it is the
		// thread MPI was initialised on.
		runtime.LockOSThread()
		w, err := mpi.Init()
		c.w = w
		ready <- err
		if err != nil {
			return
		}
		for f := range c.jobs {
			f()
		}
	}()
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("dist: %w", err)
	}
	return c, nil
}

// call runs f on the MPI thread and waits for it, at most the timeout;
// what names the call for the watchdog's line.
func (c *mpiComm) call(what func() string, f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("dist: %s after Close", what())
	}
	done := make(chan error, 1)
	c.jobs <- func() { done <- f() }
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("dist: rank %d: %s: %w", c.w.Rank(), what(), err)
		}
		return nil
	case <-t.C:
		fmt.Fprintf(c.log, "ijepa: rank %d of %d: %s has not finished after %v: another rank has stopped or hangs; aborting every rank (%s)\n",
			c.w.Rank(), c.w.Size(), what(), c.timeout, TimeoutEnv)
		c.w.Abort(3)
		return nil // not reached
	}
}

func (c *mpiComm) Rank() int      { return c.w.Rank() }
func (c *mpiComm) Size() int      { return c.w.Size() }
func (c *mpiComm) LocalRank() int { return c.w.LocalRank() }

func (c *mpiComm) Describe() string {
	return fmt.Sprintf("MPI, %d ranks (%d on this machine): %s", c.w.Size(), c.w.LocalSize(), c.w.Library())
}

func (c *mpiComm) AllreduceF32(x []float32) error {
	if len(x) == 0 {
		return nil
	}
	return c.call(func() string { return fmt.Sprintf("all-reduce of %s (float32)", sizeText(4*len(x))) },
		func() error { return c.w.AllreduceF32(x) })
}

func (c *mpiComm) AllreduceF64(x []float64) error {
	if len(x) == 0 {
		return nil
	}
	return c.call(func() string { return fmt.Sprintf("all-reduce of %s (float64)", sizeText(8*len(x))) },
		func() error { return c.w.AllreduceF64(x) })
}

func (c *mpiComm) Bcast(b []byte, root int) error {
	if err := checkRoot(root, c.Size()); err != nil || len(b) == 0 {
		return err
	}
	return c.call(func() string { return fmt.Sprintf("broadcast of %s from rank %d", sizeText(len(b)), root) },
		func() error { return c.w.Bcast(b, root) })
}

func (c *mpiComm) Barrier() error {
	return c.call(func() string { return "barrier" }, c.w.Barrier)
}

func (c *mpiComm) Abort(code int) { c.w.Abort(code) }

// Close finalises MPI, which waits for every rank to close. A barrier
// first does the waiting, without spinning (MPI_Finalize may spin) and
// under the watchdog: the other ranks may still be busy, rank 0 with its
// final evaluation.
func (c *mpiComm) Close() error {
	err := c.Barrier()
	if err == nil {
		err = c.call(func() string { return "finalize" }, c.w.Finalize)
	}
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.jobs)
	}
	c.mu.Unlock()
	return err
}

// sizeText is n bytes in words (MB: 10^6 bytes, as networks count).
func sizeText(n int) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
