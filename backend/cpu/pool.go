package cpu

import (
	"math/bits"
	"unsafe"
)

// pool is the fast backend's tensor memory: freed blocks are kept in free
// lists by size class and handed out again by New, so that a training step
// that allocates and releases the same tensors every step allocates nothing
// once it is warm. Large blocks are mapped from the operating system outside
// the Go heap (see mapBytes), so they are returned to it exactly when the pool
// drops them and the garbage collector never sees them.
//
// The footprint (bytes in use plus bytes in the free lists) never grows past
// its high-water mark only to keep idle blocks: when a New misses the free
// lists, the least recently freed blocks are dropped first until the new
// block fits under the mark. A step whose shapes vary (the I-JEPA masks change
// the number of context tokens every step) therefore recycles memory instead
// of piling up blocks of stale sizes.
//
// The pool is used by one backend, which is used by one goroutine at a time.
type pool struct {
	free  map[int][]*block // by class (size in bytes), most recently freed last
	clock uint64           // counts puts, to find the least recently freed block

	live, pooled, high int64 // bytes in use, in the free lists, high-water of their sum

	stats PoolStats
}

// PoolStats counts what the fast backend's memory pool did.
type PoolStats struct {
	// Hits and Misses count New calls served from the free lists and from
	// fresh memory; Drops counts blocks given back to the system.
	Hits, Misses, Drops int64
	// Live is the memory of live tensors, Pooled the memory kept for reuse,
	// High the high-water mark of their sum, all in bytes.
	Live, Pooled, High int64
}

// block is one piece of tensor memory of a size class.
type block struct {
	mem    []byte
	mapped bool   // from mapBytes, given back with unmapBytes
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
	// The request's class, or one of the next two (a block at most about
	// 30% larger) when its own list is empty.
	for k, cc := 0, c; k < 3; k, cc = k+1, nextClass(cc) {
		if l := p.free[cc]; len(l) > 0 {
			b := l[len(l)-1]
			l[len(l)-1] = nil
			p.free[cc] = l[:len(l)-1]
			p.pooled -= int64(cc)
			p.live += int64(cc)
			p.stats.Hits++
			return b
		}
	}
	p.stats.Misses++
	for p.pooled > 0 && p.live+p.pooled+int64(c) > p.high {
		p.dropOldest()
	}
	b := &block{}
	if c >= mapThreshold {
		if mem, err := mapBytes(c); err == nil {
			b.mem, b.mapped = mem, true
		}
	}
	if b.mem == nil {
		// 8-byte words, so that the block is aligned for any element type.
		w := make([]uint64, c/8)
		b.mem = unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), c)
	}
	p.live += int64(c)
	p.high = max(p.high, p.live+p.pooled)
	return b
}

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
	p.pooled -= int64(oc)
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
	s.Live, s.Pooled, s.High = p.live, p.pooled, p.high
	return s
}
