//go:build linux && cgo

package vulkan

import (
	"runtime"
	"sync"
	"testing"
)

// Pipelines are created while the garbage collector runs without pause (as
// in training, where the data loader allocates all the time): the create
// info must stay valid for the whole of the driver's compilation. Through
// the binding's CreateComputePipelines, whose C copy of it a finalizer
// frees, this crashed the process.
func TestPipelinesWhileGCRuns(t *testing.T) {
	b := open(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	const n = 24
	for i := uint32(1); i <= n; i++ {
		// Distinct workgroup sizes: a pipeline (and a compilation) each.
		if _, err := b.pipeline("gelu", i, i%2); err != nil {
			close(stop)
			wg.Wait()
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(b.pipes) < n {
		t.Errorf("%d pipelines, want at least %d", len(b.pipes), n)
	}
}
