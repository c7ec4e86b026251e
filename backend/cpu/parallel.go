package cpu

import (
	"math"
	"sync"
)

// minWork is the amount of work (items times cost per item) below which a
// loop runs on the calling goroutine: splitting smaller loops costs more than
// it saves.
const minWork = 1 << 15

// parallel runs body over [0,n) split into contiguous chunks, one per thread,
// when n items of the given cost per item are worth splitting.
func (b *Backend) parallel(n, cost int, body func(lo, hi int)) {
	chunks := b.threads
	if cost < 1 {
		cost = 1
	}
	if w := n * cost; w < minWork || chunks < 2 || n < 2 {
		body(0, n)
		return
	}
	chunks = min(chunks, n)
	var wg sync.WaitGroup
	size := (n + chunks - 1) / chunks
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	wg.Wait()
}

func float32Bits(f float32) uint32     { return math.Float32bits(f) }
func float32FromBits(u uint32) float32 { return math.Float32frombits(u) }
