//go:build linux

package cpu

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on x86-64 and arm64 with
// 4 KiB base pages. The first touch of a 4 KiB page costs a fault (several
// microseconds in a virtual machine); a huge page costs one fault per 2 MiB,
// about ten times less per byte.
const hugePage = 2 << 20

// mapBytes maps n bytes of zeroed anonymous memory outside the Go heap.
// Mappings of a huge page or more start on a huge-page boundary and ask for
// transparent huge pages (failure only means small pages).
func mapBytes(n int) ([]byte, error) {
	if n < hugePage {
		p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
		if err != nil {
			return nil, err
		}
		return unsafe.Slice((*byte)(p), n), nil
	}
	// Map a huge page more than asked, then unmap the ends so that the
	// block starts on a boundary.
	raw, err := unix.MmapPtr(-1, 0, nil, uintptr(n+hugePage), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	head := int(((uintptr(raw) + hugePage - 1) &^ (hugePage - 1)) - uintptr(raw))
	if head > 0 {
		_ = unix.MunmapPtr(raw, uintptr(head))
	}
	start := unsafe.Add(raw, head)
	if tail := hugePage - head; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(start, n), uintptr(tail))
	}
	mem := unsafe.Slice((*byte)(start), n)
	_ = unix.Madvise(mem, unix.MADV_HUGEPAGE)
	return mem, nil
}

// unmapBytes gives memory from mapBytes back to the system.
func unmapBytes(mem []byte) { _ = unix.MunmapPtr(unsafe.Pointer(&mem[0]), uintptr(len(mem))) }
