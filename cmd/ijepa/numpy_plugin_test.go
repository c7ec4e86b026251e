package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend/numpy"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/internal/testdep"
)

// numpyPlugin returns the path of the Python plugin, backend/numpy. Where
// Debian's python3 lacks its modules the test skips; under the test
// command (after scripts/deps.sh --test installed them) it fails.
func numpyPlugin(t *testing.T) string {
	t.Helper()
	if err := numpy.Ready(); err != nil {
		testdep.Skip(t, "%v", err)
	}
	path, err := filepath.Abs(filepath.Join("..", "..", "backend", "numpy", numpy.Executable))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// The numpy backend in Python, a plugin that shares no code with the Go
// side, passes every conformance case, the layers and the training steps
// (--level all), and trains the quick preset through
// `ijepa train --backend plugin:...`: its first three losses are the CPU
// backend's to float32 rounding.
func TestNumpyPlugin(t *testing.T) {
	path := numpyPlugin(t)
	code, out, errs := run("conformance", "--backend", "plugin:"+path, "--level", "all", "--seed", "11")
	if code != 0 || !strings.Contains(out, "PASS: ") || !strings.Contains(out, " 0 failed, 0 unsupported") || !strings.Contains(out, "step:weights") {
		t.Fatalf("conformance through the numpy plugin: exit %d\n%s%s", code, out, errs)
	}
	losses := func(be string) []float64 {
		dir := filepath.Join(t.TempDir(), "run")
		code, out, errs := run("train", "--config", "quick", "--backend", be, "--run", dir, "--steps", "3", "--eval=false", "--quiet")
		if code != 0 || !strings.Contains(out, "trained steps 1 to 3") {
			t.Fatalf("train --backend %s: exit %d\n%s%s", be, code, out, errs)
		}
		rows, err := runlog.ReadLog(filepath.Join(dir, runlog.LogFile))
		if err != nil {
			t.Fatal(err)
		}
		var l []float64
		for _, r := range rows {
			l = append(l, r.Loss)
		}
		return l
	}
	got, want := losses("plugin:"+path), losses("cpu")
	if len(got) != 3 || len(want) != 3 {
		t.Fatalf("losses %v through the plugin, %v on cpu: want 3 steps each", got, want)
	}
	for i := range got {
		// Measured: at most 4.5e-8, one float32 rounding of the loss.
		d := math.Abs(got[i]-want[i]) / want[i]
		t.Logf("step %d: loss %v through the numpy plugin, %v on cpu (relative difference %.2g)", i+1, got[i], want[i], d)
		if d > 1e-6 {
			t.Errorf("step %d: the losses differ by %.2g, more than 1e-6", i+1, d)
		}
	}
}
