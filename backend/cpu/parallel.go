package cpu

import (
	"math"
	"sync"
)

// minWork is the amount of work (items times cost per item) below which a
// loop runs on the calling goroutine: splitting smaller loops costs more than
// it saves.
const minWork = 1 << 15

// chunks returns the number of contiguous chunks parallel splits n items of
// the given cost per item into.
func (b *Backend) chunks(n, cost int) int {
	if cost < 1 {
		cost = 1
	}
	if n*cost < minWork || b.threads < 2 || n < 2 {
		return 1
	}
	return min(b.threads, n)
}

// parallel runs body over [0,n) split into contiguous chunks, one per thread,
// when n items of the given cost per item are worth splitting.
func (b *Backend) parallel(n, cost int, body func(lo, hi int)) {
	b.parallelChunks(n, cost, func(_, lo, hi int) { body(lo, hi) })
}

// parallelChunks is parallel with each chunk's index in [0, b.chunks(n,
// cost)) passed to body, for kernels that keep a partial result per chunk.
// The last chunk runs on the calling goroutine.
func (b *Backend) parallelChunks(n, cost int, body func(chunk, lo, hi int)) {
	chunks := b.chunks(n, cost)
	if chunks == 1 {
		body(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < chunks-1; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(k, k*n/chunks, (k+1)*n/chunks)
		}()
	}
	body(chunks-1, (chunks-1)*n/chunks, n)
	wg.Wait()
}

// scratch64 returns a float64 slice of n zeros that the backend reuses from
// call to call (the backend is used by one goroutine at a time).
func (b *Backend) scratch64(n int) []float64 {
	if cap(b.scratch) < n {
		b.scratch = make([]float64, n)
	}
	s := b.scratch[:n]
	clear(s)
	return s
}

func float32Bits(f float32) uint32     { return math.Float32bits(f) }
func float32FromBits(u uint32) float32 { return math.Float32frombits(u) }
