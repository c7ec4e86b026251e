package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/internal/testdep"
)

// buildPlugin builds cmd/ijepa-backend-NAME into a temporary plugin
// directory and returns the directory.
func buildPlugin(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "ijepa-backend-"+name),
		"github.com/ijepa-go/ijepa/cmd/ijepa-backend-"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ijepa-backend-%s: %v\n%s", name, err, out)
	}
	return dir
}

// The CPU backend served by its plugin executable passes every conformance
// case, the layers and the training steps (--level all), and `ijepa backends` lists it from the plugin directory.
func TestCPUPlugin(t *testing.T) {
	dir := buildPlugin(t, "cpu")
	path := filepath.Join(dir, "ijepa-backend-cpu")
	code, out, errs := run("conformance", "--backend", "plugin:"+path, "--level", "all", "--seed", "11")
	if code != 0 || !strings.Contains(out, "PASS: ") || !strings.Contains(out, " 0 failed, 0 unsupported") || !strings.Contains(out, "step:weights") {
		t.Fatalf("conformance through the CPU plugin: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run("backends", "--plugin-dir", dir)
	if code != 0 || !strings.Contains(out, "open with --backend plugin:cpu") || !strings.Contains(out, "path: "+path) {
		t.Fatalf("backends with the plugin directory: exit %d\n%s%s", code, out, errs)
	}
	// train finds plugin:cpu in --plugin-dir, as every command with
	// --backend does.
	runDir := filepath.Join(t.TempDir(), "run")
	code, out, errs = run("train", "--config", writeTiny(t, ""), "--backend", "plugin:cpu", "--plugin-dir", dir,
		"--run", runDir, "--steps", "2", "--eval=false", "--quiet")
	if code != 0 || !strings.Contains(out, "trained steps 1 to 2") {
		t.Fatalf("train --backend plugin:cpu --plugin-dir: exit %d\n%s%s", code, out, errs)
	}
	t.Setenv("IJEPA_PLUGIN_DIR", dir)
	code, out, errs = run("conformance", "--backend", "plugin:cpu", "--op", "^matmul$", "--seed", "11")
	if code != 0 || !strings.Contains(out, "backend plugin:cpu against cpu") {
		t.Fatalf("conformance of plugin:cpu found through IJEPA_PLUGIN_DIR: exit %d\n%s%s", code, out, errs)
	}
}

// The Vulkan backend served by its plugin executable passes every
// conformance case, the layers and the training steps (--level all) on the
// machine's Vulkan device (lavapipe in CI).
func TestVulkanPlugin(t *testing.T) {
	for _, d := range backend.Drivers() {
		if d.Name != "vulkan" {
			continue
		}
		if _, err := d.Devices(); err != nil {
			testdep.Skip(t, "no Vulkan device here: %v", err)
		}
	}
	dir := buildPlugin(t, "vulkan")
	code, out, errs := run("conformance", "--backend", "plugin:"+filepath.Join(dir, "ijepa-backend-vulkan"), "--level", "all", "--seed", "11")
	if code != 0 || !strings.Contains(out, "PASS: ") || !strings.Contains(out, " 0 failed, 0 unsupported") || !strings.Contains(out, "step:weights") {
		t.Fatalf("conformance through the Vulkan plugin: exit %d\n%s%s", code, out, errs)
	}
}

// Every command that takes --backend also takes --plugin-dir, so that
// --backend plugin:NAME finds its executable wherever it is used.
func TestBackendFlagHasPluginDir(t *testing.T) {
	n := 0
	for name := range commands {
		if name == "view" { // the ijepa-view binary's flags, not ours
			continue
		}
		_, _, help := run(name, "-h")
		if strings.Contains(help, "-backend") {
			n++
			if !strings.Contains(help, "-plugin-dir") {
				t.Errorf("ijepa %s takes --backend but not --plugin-dir:\n%s", name, help)
			}
		}
	}
	if n < 6 {
		t.Errorf("%d commands take --backend; want train, eval, bench, features, embed and conformance at least", n)
	}
}
