package gctest

import (
	"runtime"
	"testing"
)

// f runs, and collections complete while it does.
func TestWhileGCRuns(t *testing.T) {
	var before, after runtime.MemStats
	ran := false
	WhileGCRuns(t, func() {
		runtime.ReadMemStats(&before)
		for after.NumGC < before.NumGC+3 {
			runtime.Gosched()
			runtime.ReadMemStats(&after)
		}
		ran = true
	})
	if !ran {
		t.Fatal("f did not run")
	}
}
