//go:build unix

package atomicfile

import (
	"errors"
	"syscall"
)

// alive reports whether process pid may still be running: signal 0 finds
// it, or finds it owned by another user.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
