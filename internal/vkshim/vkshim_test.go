package vkshim

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ijepa-go/ijepa/internal/testdep"
)

// vkshim.h compiles on its own, against the vendored Khronos headers only
// (third_party/, searched before the system's), with every warning an error.
// The entry points' use is checked by the tests of backend/vulkan and
// cmd/ijepa-view, which call each of them on a device.
func TestHeaderCompiles(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		testdep.Skip(t, "no C compiler to check vkshim.h with")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "check.c")
	if err := os.WriteFile(file, []byte("#include \"vkshim.h\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function", "-Wno-missing-field-initializers",
		"-I", here, "-I", filepath.Join(here, "third_party"), "-fsyntax-only", file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vkshim.h does not compile: %v\n%s", err, out)
	}
}
