//go:build unix && !linux

package cpu

import "syscall"

// mapBytes maps n bytes of zeroed anonymous memory, outside the Go heap.
func mapBytes(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

// unmapBytes gives memory from mapBytes back to the system.
func unmapBytes(mem []byte) { _ = syscall.Munmap(mem) }
