package runlog

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// LockFile is the name, in a run directory, of the file a trainer locks
// while it writes the run. It holds the trainer's process id. The file
// stays when the trainer ends; only the lock on it goes.
const LockFile = "train.lock"

// ErrLocked marks a run directory that another process is training.
var ErrLocked = errors.New("the run directory is in use")

// Lock is a run directory locked by this process.
type Lock struct {
	f *os.File
}

// LockDir locks the run directory dir (which must exist) for a trainer:
// an operating-system lock on dir/train.lock (flock), which the system
// releases when the process ends however it ends, kill -9 included, so no
// stale lock outlives a trainer. When another process holds it, LockDir
// fails at once with an error wrapping ErrLocked that names the holder's
// process id. Readers (ijepa eval --run, plot, view) take no lock.
func LockDir(dir string) (*Lock, error) {
	path := Path(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("runlog: lock %s: %w", dir, err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("runlog: lock %s: %w", path, err)
	}
	if held {
		f.Close()
		who := "another process"
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				who = "process " + strconv.Itoa(pid)
			}
		}
		return nil, fmt.Errorf("ijepa: %s: %w: %s is training it (%s); wait for it to end or stop it, or choose another run directory", dir, ErrLocked, who, LockFile)
	}
	if err = f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("runlog: lock %s: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock (closing the file releases it). A nil Lock is
// a no-op.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
