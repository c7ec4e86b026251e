//go:build !cgo || !unix

package mpi

import "errors"

// errNotLoaded is what every MPI call answers in a build that cannot load
// MPI (Load fails first, so it is not met in practice).
var errNotLoaded = errors.New("mpi: not loaded")

func open([]string) (string, error) {
	return "", errors.New("mpi: this build has no cgo (CGO_ENABLED=0) or no dlopen, so it cannot load MPI")
}

func initThread(int) (int, error)  { return 0, errNotLoaded }
func initialized() bool            { return false }
func finalized() bool              { return false }
func finalize() error              { return errNotLoaded }
func rankSize() (int, int, error)  { return 0, 0, errNotLoaded }
func localRank() (int, int, error) { return 0, 0, errNotLoaded }

type request struct{}

func iallreduceF32([]float32) (request, error) { return request{}, errNotLoaded }
func iallreduceF64([]float64) (request, error) { return request{}, errNotLoaded }
func ibcast([]byte, int) (request, error)      { return request{}, errNotLoaded }
func ibarrier() (request, error)               { return request{}, errNotLoaded }
func test(*request) (bool, error)              { return false, errNotLoaded }
func abort(int)                                {}
func libraryVersion() string                   { return "" }
