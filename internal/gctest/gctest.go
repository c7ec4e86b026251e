// Package gctest is a test helper: it runs code while the garbage collector
// runs without pause, as in training, where the data loader allocates all
// the time. The tests of the Vulkan shims use it: through vulkan-go's
// wrappers, whose C copies of structures finalizers free, the driver could
// then read freed memory.
package gctest

import (
	"runtime"
	"sync"
	"testing"
)

// WhileGCRuns runs f while another goroutine calls runtime.GC in a loop.
func WhileGCRuns(t testing.TB, f func()) {
	t.Helper()
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
	defer func() {
		close(stop)
		wg.Wait()
	}()
	f()
}
