package cpu

import (
	"math/bits"
	"unsafe"
)

// pool is the fast backend's tensor memory: freed blocks are kept in free
// lists by size class and handed out again by New, so that a training step
// that allocates and releases the same tensors every step allocates nothing
// once it is warm. Large blocks are mapped from the operating system outside
// the Go heap (see mapBytes), so the garbage collector never sees them and
// the memory goes back to the system exactly when the pool drops it.
//
// The first touch of fresh memory costs a page fault per 4 KiB (several
// microseconds each in a virtual machine: touching a fresh 16 MiB tensor can
// cost as much as a large matrix product), so the pool avoids fresh memory:
// a request takes a free block of its size class, or failing that the
// smallest free block up to twice its size. Only then is memory mapped
// afresh, in huge pages where the system offers them (see mapBytes). Idle
// blocks are kept while the footprint (bytes in use plus bytes in the free
// lists) is within an eighth above the most memory the live tensors ever
// asked for; past that, the least recently freed blocks are dropped. A step whose shapes vary (the I-JEPA masks change
// the number of context tokens every step) therefore reuses the memory of
// earlier steps instead of piling up blocks of stale sizes, and the blocks
// freed early in a step (the target encoder's) survive until the next.
//
// The pool is used by one backend, which is used by one goroutine at a time.
type pool struct {
	free  map[int][]*block // by class (size in bytes), most recently freed last
	clock uint64           // counts puts, to find the least recently freed block

	live, pooled, high int64 // bytes in use, in the free lists, high-water of their sum
	req, peakReq       int64 // bytes asked for by live tensors, and its high-water

	stats PoolStats
}

// PoolStats counts what the fast backend's memory pool did.
type PoolStats struct {
	// Hits and Misses count New calls served from the free lists and
	// not; Drops counts blocks given back to the system.
	Hits, Misses, Drops int64
	// FreshBytes counts the memory mapped afresh (whose pages fault on
	// first touch), HeapBytes the blocks taken from the Go heap.
	FreshBytes, HeapBytes int64
	// Live is the memory of live tensors, Pooled the memory kept for reuse,
	// High the high-water mark of their sum, all in bytes.
	Live, Pooled, High int64
	// PeakAsked is the most memory live tensors ever asked for together
	// (without the rounding to size classes and reuse of larger blocks).
	PeakAsked int64
}

// block is one piece of tensor memory of a size class.
type block struct {
	mem    []byte
	mapped bool   // from mapBytes, given back with unmapBytes
	req    int    // the bytes asked for, while handed out
	stamp  uint64 // when it was freed
}

// mapThreshold is the size from which blocks are mapped from the system
// rather than taken from the Go heap.
const mapThreshold = 64 << 10

// classOf returns the size class of an n-byte request: multiples of 64 bytes
// up to 512, then eight classes per power of two, so a block is at most 1/8
// larger than asked.
func classOf(n int) int {
	if n <= 512 {
		return max(64, (n+63)&^63)
	}
	e := bits.Len(uint(n-1)) - 4
	return ((n-1)>>e + 1) << e
}

// nextClass returns the class after class c.
func nextClass(c int) int { return classOf(c + 1) }

// get returns a block of at least n bytes.
func (p *pool) get(n int) *block {
	c := classOf(n)
	// The smallest free block that holds n, up to twice its size.
	for cc := c; cc <= 2*c; cc = nextClass(cc) {
		if l := p.free[cc]; len(l) > 0 {
			b := l[len(l)-1]
			l[len(l)-1] = nil
			p.free[cc] = l[:len(l)-1]
			p.pooled -= int64(cc)
			p.stats.Hits++
			p.take(b, n)
			return b
		}
	}
	p.stats.Misses++
	// Stay under the cap while any idle block can go.
	for p.pooled > 0 && p.live+p.pooled+int64(c) > p.cap() {
		p.dropOldest()
	}
	b := &block{}
	if c >= mapThreshold {
		if mem, err := mapBytes(c); err == nil {
			b.mem, b.mapped = mem, true
			p.stats.FreshBytes += int64(c)
		}
	}
	if b.mem == nil {
		// 8-byte words, so that the block is aligned for any element type.
		p.stats.HeapBytes += int64(c)
		w := make([]uint64, c/8)
		b.mem = unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), c)
	}
	p.take(b, n)
	return b
}

// take counts a block handed out for an n-byte request.
func (p *pool) take(b *block, n int) {
	b.req = n
	p.live += int64(len(b.mem))
	p.req += int64(n)
	p.high = max(p.high, p.live+p.pooled)
	p.peakReq = max(p.peakReq, p.req)
}

// cap returns the footprint above which idle blocks are dropped: an eighth
// more than the most memory live tensors ever asked for together, so that
// the blocks a training step needs again next step (an encoder's, freed
// early in the step) are not all dropped to make room for the rest of the
// step. The cap follows what was asked, not the blocks handed out, which may
// be larger: a cap on those would ratchet up as larger blocks serve smaller
// requests. (Measured on small224 training steps, whose peak asks 1.44 GB: a
// quarter more gave a peak RSS of 1711 MiB and 70 page faults a step, an
// eighth 1554 MiB and 60-240.)
func (p *pool) cap() int64 { return p.peakReq + p.peakReq/8 }

// put returns a block to the free lists.
func (p *pool) put(b *block) {
	c := len(b.mem)
	p.clock++
	b.stamp = p.clock
	if p.free == nil {
		p.free = map[int][]*block{}
	}
	p.free[c] = append(p.free[c], b)
	p.live -= int64(c)
	p.req -= int64(b.req)
	p.pooled += int64(c)
}

// dropOldest gives back the least recently freed block.
func (p *pool) dropOldest() {
	oldest, oc := uint64(0), -1
	for c, l := range p.free {
		if len(l) > 0 && (oc < 0 || l[0].stamp < oldest) {
			oldest, oc = l[0].stamp, c
		}
	}
	if oc < 0 {
		return
	}
	l := p.free[oc]
	b := l[0]
	copy(l, l[1:])
	l[len(l)-1] = nil
	p.free[oc] = l[:len(l)-1]
	p.dropBlock(b)
}

// dropBlock gives back a block just taken out of the free lists.
func (p *pool) dropBlock(b *block) {
	p.pooled -= int64(len(b.mem))
	p.stats.Drops++
	release(b)
}

// release gives a block's memory back to the system or the garbage collector.
func release(b *block) {
	if b.mapped {
		unmapBytes(b.mem)
	}
	b.mem = nil
}

// drain gives back every pooled block.
func (p *pool) drain() {
	for c, l := range p.free {
		for _, b := range l {
			release(b)
		}
		p.pooled -= int64(c) * int64(len(l))
		delete(p.free, c)
	}
}

// Stats returns the pool's counters.
func (p *pool) Stats() PoolStats {
	s := p.stats
	s.Live, s.Pooled, s.High, s.PeakAsked = p.live, p.pooled, p.high, p.peakReq
	return s
}
