//go:build unix

package cpu

import (
	"runtime"
	"syscall"
)

// hugeThreshold is the size from which mapped blocks ask for huge pages.
const hugeThreshold = 4 << 20

// madvHugepage is Linux's MADV_HUGEPAGE.
const madvHugepage = 14

// mapBytes maps n bytes of zeroed anonymous memory, outside the Go heap.
func mapBytes(n int) ([]byte, error) {
	mem, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	if n >= hugeThreshold && runtime.GOOS == "linux" {
		// Large operands of matrix products touch many pages: transparent
		// huge pages (where the system offers them on request) save TLB
		// misses. Failure only means small pages.
		_ = syscall.Madvise(mem, madvHugepage)
	}
	return mem, nil
}

// unmapBytes gives memory from mapBytes back to the system.
func unmapBytes(mem []byte) { _ = syscall.Munmap(mem) }
