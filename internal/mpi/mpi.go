// Package mpi is a thin layer over the few MPI calls that data-parallel
// training needs: initialise, rank, size and local rank, in-place sum
// all-reduce of float32 and float64, broadcast, barrier, abort, finalise.
//
// No Go MPI binding on the module proxy is usable, and linking libmpi would
// make every build of the program need MPI's headers and library. So, as
// backend/cpu does with OpenBLAS, the library is opened at run time with
// dlopen: every build compiles and runs without MPI, and uses it when a
// launcher (mpirun, srun, the Kubernetes MPI Operator) started the process.
// The library is looked up as libmpi.so.40 (Open MPI 3 to 5), then
// libmpi.so; the environment variable IJEPA_MPI overrides this: "off" never
// loads it, any other value is the path or soname of a library to open.
//
// Only Open MPI's ABI is supported: its handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, ...) are the addresses of exported objects, which
// dlsym finds without mpi.h. MPICH and its ABI family use integer handles
// and another soname (libmpi.so.12).
//
// The collectives are MPI's nonblocking ones, tested until they complete
// with sleeps between the tests, so that a rank waiting for a slower one
// leaves its core to computation (see wait). MPI is initialised with
// MPI_THREAD_SERIALIZED: calls may come from any OS thread, one at a time.
// Package dist makes them all from one goroutine locked to its thread, and
// only Abort from elsewhere.
package mpi

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/ijepa-go/ijepa/internal/dlopen"
)

// EnvVar is the environment variable that overrides the library lookup.
const EnvVar = "IJEPA_MPI"

// threadSerialized is MPI_THREAD_SERIALIZED (mpi.h's enum: SINGLE,
// FUNNELED, SERIALIZED, MULTIPLE).
const threadSerialized = 2

// maxCount is the most elements one MPI call moves (its count is a C int).
const maxCount = 1<<31 - 1

// lib is the MPI library.
var lib = dlopen.NewLibrary("mpi", EnvVar, open, "libmpi.so.40", "libmpi.so")

// Load opens the MPI library once per process and reports why it is
// unavailable, if it is.
func Load() error { return lib.Load() }

// Launch is what the environment says about how the process was started.
type Launch struct {
	// ByMPI is true when an MPI launcher started the process.
	ByMPI bool
	// Rank and Size are the process's rank and the number of processes
	// as the launcher's variables give them (Size 0: not said).
	Rank, Size int
	// Var names the variable that told (for messages).
	Var string
}

// launchVars are the launchers' variables, rank first then size: Open
// MPI's mpirun (also under the MPI Operator), PMIx (srun --mpi=pmix,
// PRRTE), and PMI-1/2 (MPICH's hydra, srun --mpi=pmi2).
var launchVars = [][2]string{
	{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
	{"PMIX_RANK", ""},
	{"PMI_RANK", "PMI_SIZE"},
}

// Launched reads the launcher's environment variables. It loads nothing.
func Launched() Launch {
	for _, v := range launchVars {
		r, ok := os.LookupEnv(v[0])
		if !ok {
			continue
		}
		l := Launch{ByMPI: true, Var: v[0]}
		l.Rank, _ = strconv.Atoi(r)
		if v[1] != "" {
			l.Size, _ = strconv.Atoi(os.Getenv(v[1]))
			l.Var = v[1]
		}
		return l
	}
	return Launch{}
}

// World is MPI_COMM_WORLD of an initialised process. Its methods must not
// be called concurrently (MPI_THREAD_SERIALIZED), except Abort.
type World struct {
	rank, size           int
	localRank, localSize int
	library              string
}

var (
	initMu    sync.Mutex
	initWorld *World
)

// Init loads MPI, initialises it and returns the world. It may be called
// more than once; MPI is initialised the first time.
func Init() (*World, error) {
	initMu.Lock()
	defer initMu.Unlock()
	if initWorld != nil {
		return initWorld, nil
	}
	if err := Load(); err != nil {
		return nil, err
	}
	if finalized() {
		return nil, errors.New("mpi: already finalised in this process")
	}
	if !initialized() {
		provided, err := initThread(threadSerialized)
		if err != nil {
			return nil, err
		}
		if provided < threadSerialized {
			return nil, fmt.Errorf("mpi: the library provides thread level %d, this program needs MPI_THREAD_SERIALIZED (%d)", provided, threadSerialized)
		}
	}
	w := &World{library: lib.Name()}
	var err error
	if w.rank, w.size, err = rankSize(); err != nil {
		return nil, err
	}
	if w.localRank, w.localSize, err = localRank(); err != nil {
		return nil, err
	}
	if v := libraryVersion(); v != "" {
		w.library += ": " + v
	}
	initWorld = w
	return w, nil
}

// Rank is the process's rank in the world.
func (w *World) Rank() int { return w.rank }

// Size is the number of processes in the world.
func (w *World) Size() int { return w.size }

// LocalRank is the rank among the processes on this node (that share its
// memory); LocalSize their number.
func (w *World) LocalRank() int { return w.localRank }

// LocalSize is the number of processes on this node.
func (w *World) LocalSize() int { return w.localSize }

// Library names the library opened and its version string.
func (w *World) Library() string { return w.library }

// AllreduceF32 replaces x on every rank by the element-wise sum of x over
// the ranks (MPI_Iallreduce with MPI_IN_PLACE and MPI_SUM, then wait).
func (w *World) AllreduceF32(x []float32) error {
	return inChunks(x, func(c []float32) error { return wait(&c[0], func() (request, error) { return iallreduceF32(c) }) })
}

// AllreduceF64 is AllreduceF32 for float64.
func (w *World) AllreduceF64(x []float64) error {
	return inChunks(x, func(c []float64) error { return wait(&c[0], func() (request, error) { return iallreduceF64(c) }) })
}

// Bcast copies b from rank root to every other rank (MPI_Ibcast of bytes,
// then wait).
func (w *World) Bcast(b []byte, root int) error {
	return inChunks(b, func(c []byte) error { return wait(&c[0], func() (request, error) { return ibcast(c, root) }) })
}

// inChunks calls f on consecutive pieces of x of at most maxCount elements
// (an MPI count is a C int), and stops at the first error.
func inChunks[T any](x []T, f func([]T) error) error {
	for len(x) > 0 {
		n := min(len(x), maxCount)
		if err := f(x[:n]); err != nil {
			return err
		}
		x = x[n:]
	}
	return nil
}

// Barrier returns once every rank has called it (MPI_Ibarrier, then wait).
func (w *World) Barrier() error {
	var none byte
	return wait(&none, ibarrier)
}

// Polling: MPI_Test calls back to back for pollSpin, then with sleeps that
// double from pollMin to pollMax between them. A blocking MPI call would spin on a
// core for as long as the slowest rank keeps it waiting — through a whole
// backward pass for an early gradient bucket, or through rank 0's
// evaluations — taking the core from this rank's own computation (and,
// when ranks share a machine's cores, from the others'); sleeping between
// tests costs at most pollMax of latency per wait.
const (
	pollSpin = 200 * time.Microsecond
	pollMin  = 20 * time.Microsecond
	pollMax  = time.Millisecond
)

// wait starts a nonblocking call and tests it until it completes; buf,
// the call's buffer, is pinned meanwhile (MPI holds its address).
func wait[T any](buf *T, start func() (request, error)) error {
	var pin runtime.Pinner
	pin.Pin(buf)
	defer pin.Unpin()
	r, err := start()
	if err != nil {
		return err
	}
	t0, d := time.Now(), pollMin
	for {
		done, err := test(&r)
		if err != nil || done {
			return err
		}
		if time.Since(t0) > pollSpin {
			time.Sleep(d)
			d = min(2*d, pollMax)
		}
	}
}

// Abort ends every process of the world with code (MPI_Abort); it does not
// return. It may be called from any goroutine, even while another is
// inside an MPI call: it is the last resort.
func (w *World) Abort(code int) {
	abort(code)
	os.Exit(code)
}

// Finalize shuts MPI down (MPI_Finalize); no MPI call may follow.
func (w *World) Finalize() error {
	initMu.Lock()
	defer initMu.Unlock()
	if finalized() {
		return nil
	}
	return finalize()
}
