//go:build unix

// Package proctest is for tests that start processes and must see them
// end: a plugin, and the processes it started.
package proctest

import (
	"fmt"
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
	f, err := Stat(pid)
	if err != nil {
		return syscall.Kill(pid, 0) != nil
	}
	return f[0] == "Z" || f[0] == "X"
}

// Stat returns the fields of /proc/PID/stat from the third on (after the
// command name, which may hold spaces): f[0] is the state, f[11] and f[12]
// utime and stime in clock ticks (proc(5) numbers them 3, 14 and 15).
func Stat(pid int) ([]string, error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	_, rest, ok := strings.Cut(string(stat), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return nil, fmt.Errorf("/proc/%d/stat: %q", pid, stat)
	}
	return f, nil
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
