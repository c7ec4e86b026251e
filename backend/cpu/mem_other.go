//go:build !unix

package cpu

import "errors"

// mapBytes is not available here; blocks come from the Go heap.
func mapBytes(n int) ([]byte, error) { return nil, errors.New("cpu: no mmap on this system") }

func unmapBytes(mem []byte) {}
