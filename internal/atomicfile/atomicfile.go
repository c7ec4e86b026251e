// Package atomicfile writes files so that a crash or an error leaves either
// the old file or the complete new one, never a torn one, and never
// replaces what is not a regular file (a device, a FIFO, a socket, a
// directory) with one.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// ErrNotRegular marks a target that exists and is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// CheckTarget returns an error wrapping ErrNotRegular when path exists (or
// a link at path leads to something) that is not a regular file: a device
// such as /dev/full or /dev/stdout, a FIFO, a socket or a directory. Write
// would replace it with a regular file, so it refuses such a target; a
// command calls CheckTarget before its work to refuse it early. A missing
// path is fine.
func CheckTarget(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is %s, %w: refusing to write over it (name a file)", path, kind(fi.Mode()), ErrNotRegular)
}

// kind names a file mode's type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

// pending holds the temporary files being written, for RemovePending.
var pending sync.Map

// RemovePending removes the temporary files of writes still in progress.
// A program that exits at once (a second Ctrl-C) calls it first, so that
// no temporary file is left behind; the files the writes were to replace
// are intact.
func RemovePending() {
	pending.Range(func(k, _ any) bool {
		os.Remove(k.(string))
		return true
	})
}

// Write creates path with the bytes fill writes: into a temporary file in
// the same directory, synced, then renamed over path. On error the
// temporary file is removed and path is untouched. A path that exists and
// is not a regular file is refused (CheckTarget), before fill runs and
// again before the rename.
func Write(path string, fill func(f *os.File) error) (err error) {
	if err := CheckTarget(path); err != nil {
		return err
	}
	removeStale(path)
	tmp, err := os.CreateTemp(filepath.Dir(path), tempPrefix(path, os.Getpid())+"*")
	if err != nil {
		return err
	}
	pending.Store(tmp.Name(), true)
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
		pending.Delete(tmp.Name())
	}()
	if err = fill(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; the file is for others to read too.
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err = CheckTarget(path); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	return nil
}

// tempPrefix is the start of the name of a temporary file that process pid
// writes for path: ".NAME.tmp-PID-" beside it.
func tempPrefix(path string, pid int) string {
	return "." + filepath.Base(path) + ".tmp-" + strconv.Itoa(pid) + "-"
}

// removeStale removes the temporary files for path that a process no
// longer running left (killed with SIGKILL in the middle of a write, which
// no handler sees), so that the next write of the same file cleans up
// after it. A file whose writer is alive, or whose writer cannot be told,
// is left alone.
func removeStale(path string) {
	stem := "." + filepath.Base(path) + ".tmp-"
	removeTemps(filepath.Dir(path), func(name string, pid int) bool {
		return strings.HasPrefix(name, stem) && pid != os.Getpid() && !alive(pid)
	})
}

// RemoveTemps removes every temporary file of Write and Link in dir,
// whoever wrote it: for a caller that holds dir for itself (a trainer
// holds its run directory's lock) and so knows no write is in progress.
func RemoveTemps(dir string) {
	removeTemps(dir, func(string, int) bool { return true })
}

// removeTemps removes the files of dir named as temporary files
// (".NAME.tmp-PID-...") for which remove, given the name and the PID,
// says so.
func removeTemps(dir string, remove func(name string, pid int) bool) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		i := strings.LastIndex(name, ".tmp-")
		if i < 1 || name[0] != '.' {
			continue
		}
		pidStr, _, ok := strings.Cut(name[i+len(".tmp-"):], "-")
		if pid, err := strconv.Atoi(pidStr); ok && err == nil && pid > 0 && remove(name, pid) {
			os.Remove(filepath.Join(dir, name))
		}
	}
}

// Link makes dst hold the bytes of src, replacing dst atomically as Write
// does: a hard link to src made under a temporary name and renamed over
// dst, or, where the file system has no hard links, a copy written by
// Write. A dst that exists and is not a regular file is refused.
func Link(src, dst string) error {
	if err := CheckTarget(dst); err != nil {
		return err
	}
	removeStale(dst)
	tmp := filepath.Join(filepath.Dir(dst), tempPrefix(dst, os.Getpid())+"link")
	os.Remove(tmp)
	if err := os.Link(src, tmp); err == nil {
		if err := os.Rename(tmp, dst); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("atomicfile: %w", err)
		}
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return Write(dst, func(f *os.File) error {
		_, err := io.Copy(f, in)
		return err
	})
}
