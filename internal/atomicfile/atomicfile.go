// Package atomicfile writes files so that a crash or an error leaves either
// the old file or the complete new one, never a torn one.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write creates path with the bytes fill writes: into a temporary file in
// the same directory, synced, then renamed over path. On error the
// temporary file is removed and path is untouched.
func Write(path string, fill func(f *os.File) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
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
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	return nil
}
