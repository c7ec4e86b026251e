package train

import (
	"fmt"
	"os"

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
