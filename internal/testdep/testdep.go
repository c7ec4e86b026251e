// Package testdep is for tests that need something the machine may lack (a
// library, a tool, a device, an interpreter with torch). Outside the
// project's test command such a test skips, saying what is missing; under
// it (scripts/test.sh, which installs every dependency with scripts/deps.sh
// --test and sets IJEPA_TEST_STRICT=1) the same test fails, so a broken
// dependency cannot silently drop coverage in CI.
package testdep

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Env is the environment variable that makes a missing dependency a failure.
const Env = "IJEPA_TEST_STRICT"

// Strict reports whether Env is "1".
func Strict() bool { return os.Getenv(Env) == "1" }

// Skip skips t, saying what is missing; under Strict it fails t instead.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatal(strictly(msg))
		return
	}
	t.Skip(msg)
}

// Drop reports that t goes on without one of the things it covers (a
// backend that would not open): a log line, or under Strict an error.
func Drop(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Error(strictly(msg))
		return
	}
	t.Log(msg)
}

func strictly(msg string) string {
	return msg + " (" + Env + "=1: the test command installs every dependency, so this is a failure)"
}

// Python is the interpreter the PyTorch tests run: Debian's, which has
// python3-torch (another python3 earlier on PATH may not).
const Python = "/usr/bin/python3"

// Torch returns Python when it imports torch and numpy; otherwise it skips
// t (fails it under Strict: scripts/deps.sh --test installs python3-torch).
func Torch(t testing.TB) string {
	t.Helper()
	if err := exec.Command(Python, "-c", "import torch, numpy").Run(); err != nil {
		Skip(t, "%s cannot import torch and numpy (Debian's python3-torch): %v", Python, err)
	}
	return Python
}
