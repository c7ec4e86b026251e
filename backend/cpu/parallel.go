package cpu

import (
	"math"
	"sync"
	"sync/atomic"
)

// minWork is the amount of work (items times cost per item) below which a
// loop runs on the calling goroutine: splitting smaller loops costs more than
// it saves. It is also the least work of one chunk.
const minWork = 1 << 15

// chunksPerWorker is how many chunks each worker's share is cut into. The
// chunks are handed out as workers ask for them, so that when the system
// deschedules one thread for a while (a shared machine), the others take
// over its chunks instead of waiting for it at the end of the op. (Matrix
// products take one chunk per worker: each OpenBLAS call packs its operands
// anew, and on 2 cores 4 chunks per worker ran the large products of a step
// 5-10% slower per CPU-second than 1.)
const chunksPerWorker = 2

// workers returns the number of goroutines parallel uses for n items of
// the given cost per item.
func (b *device) workers(n, cost int) int {
	if cost < 1 {
		cost = 1
	}
	if n*cost < minWork || b.threads < 2 || n < 2 {
		return 1
	}
	return min(b.threads, n)
}

// parallel runs body over [0,n) split into chunks run on up to b.threads
// goroutines, when n items of the given cost per item are worth splitting.
func (b *device) parallel(n, cost int, body func(lo, hi int)) {
	b.parallelChunks(n, cost, 1, chunksPerWorker, func(_, lo, hi int) { body(lo, hi) })
}

// chunking returns how parallelChunks cuts [0,n): the number of
// goroutines and the size of a chunk (n or more when it runs in one piece).
func (b *device) chunking(n, cost, align, perWorker int) (workers, grain int) {
	w := b.workers(n, cost)
	if w == 1 {
		return 1, n
	}
	if cost < 1 {
		cost = 1
	}
	grain = max((n+w*perWorker-1)/(w*perWorker), (minWork+cost-1)/cost)
	return w, (grain + align - 1) / align * align
}

// parallelChunks runs body over [0,n) in about perWorker chunks per worker
// of a multiple of align items (but the last), handed out in order to
// b.workers(n, cost) goroutines as they finish the previous one. body gets the worker's index,
// for kernels that keep a partial result per worker (a worker runs several
// chunks: it must add to its partial, not overwrite it). The calling
// goroutine is one of the workers.
func (b *device) parallelChunks(n, cost, align, perWorker int, body func(worker, lo, hi int)) {
	w, grain := b.chunking(n, cost, align, perWorker)
	if grain >= n {
		body(0, 0, n)
		return
	}
	var next atomic.Int64
	work := func(worker int) {
		for {
			lo := int(next.Add(int64(grain))) - grain
			if lo >= n {
				return
			}
			body(worker, lo, min(lo+grain, n))
		}
	}
	var wg sync.WaitGroup
	for k := 1; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(k)
		}()
	}
	work(0)
	wg.Wait()
}

// scratch64 returns a float64 slice of n zeros that the backend reuses from
// call to call (the backend is used by one goroutine at a time).
func (b *device) scratch64(n int) []float64 {
	if cap(b.scratch) < n {
		b.scratch = make([]float64, n)
	}
	s := b.scratch[:n]
	clear(s)
	return s
}

func float32Bits(f float32) uint32     { return math.Float32bits(f) }
func float32FromBits(u uint32) float32 { return math.Float32frombits(u) }
