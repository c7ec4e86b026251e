//go:build unix

package plugin

import (
	"os/exec"
	"syscall"
)

// ownGroup makes cmd start its process in a process group of its own, so
// that killGroup reaches whatever the process starts.
func ownGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// killGroup kills the process group of the process pid leads.
func killGroup(pid int) { syscall.Kill(-pid, syscall.SIGKILL) }
