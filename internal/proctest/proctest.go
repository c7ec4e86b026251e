//go:build unix

// Package proctest is for tests that start processes and must see them
// end: a plugin, and the processes it started.
package proctest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Gone reports whether process pid has ended: it no longer exists, or it is
// a zombie that its parent has not reaped yet.
func Gone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) != nil
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "X")
}

// WaitGone fails t unless process pid ends within d.
func WaitGone(t testing.TB, pid int, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if Gone(pid) {
			return
		}
	}
	t.Errorf("process %d still runs after %v", pid, d)
}
