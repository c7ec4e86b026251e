package runlog

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A second lock on a run directory fails at once naming the holder's
// process id, and the lock is free again after Unlock.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())+" is training it") {
		t.Fatalf("second lock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l, err = LockDir(dir)
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	l.Unlock()
}

// A process killed with SIGKILL while it holds the lock leaves no stale
// lock: the system releases it.
func TestLockReleasedByKill(t *testing.T) {
	if os.Getenv("RUNLOG_LOCK_CHILD") != "" {
		if _, err := LockDir(os.Getenv("RUNLOG_LOCK_CHILD")); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockReleasedByKill$")
	cmd.Env = append(os.Environ(), "RUNLOG_LOCK_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf[:6]) != "locked" {
		t.Fatalf("child: %q %v", buf, err)
	}
	_, err = LockDir(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("while the child holds it: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatalf("after kill -9: %v", err)
	}
	l.Unlock()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Error(err)
	}
}
