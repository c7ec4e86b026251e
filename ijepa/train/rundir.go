package train

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// lockRunDir creates the run directory dir if needed and locks it for this
// trainer (runlog.LockDir): a second trainer on the same directory, fresh
// or resuming, is refused in one line naming the process that trains it.
// The lock goes when the trainer ends, or when its process dies.
func lockRunDir(dir string) (*runlog.Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ijepa: %w", err)
	}
	return runlog.LockDir(dir)
}

// keepChangedConfig runs before config.yaml (at path) is rewritten with y,
// the run's config now: when the file holds another config (a --resume
// with --set, say), it is kept as config.N.yaml (the first N free) and the
// log says which keys changed.
func (t *Trainer) keepChangedConfig(path string, y []byte) error {
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && bytes.Equal(old, y) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ijepa: %w", err)
	}
	var keep string
	for n := 1; ; n++ {
		keep = filepath.Join(filepath.Dir(path), "config."+strconv.Itoa(n)+".yaml")
		if _, err := os.Stat(keep); errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err := writeFileAtomic(keep, old); err != nil {
		return err
	}
	what := "it could not be read"
	if prev, err := config.Parse(path, old); err == nil {
		what = strings.Join(config.Diff(prev, t.cfg), ", ")
		if what == "" {
			what = "the same values, written anew"
		}
	}
	t.log.Warn(fmt.Sprintf("%s changed (%s); the previous one is kept as %s", path, what, keep))
	return nil
}
