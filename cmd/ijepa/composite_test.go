package main

import (
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// A plugin that runs only matmul trains with the CPU backend behind it:
// `train --backend 'plugin:cpu?ops=matmul,cpu'` gives the losses of
// `--backend cpu` step by step to float32 rounding (a copy missed or stale
// would change them from the first step), says at start which backend runs
// which ops, and `bench` on it shows the bytes copied between the backends
// per step.
func TestTrainPartialPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 30 steps twice")
	}
	dir := buildPlugin(t, "cpu")
	const spec = "plugin:cpu?ops=matmul,cpu"
	var losses [2][]float64
	for i, be := range []string{"cpu", spec} {
		runDir := filepath.Join(t.TempDir(), "run")
		code, out, errs := run("train", "--config", "quick", "--backend", be, "--plugin-dir", dir,
			"--run", runDir, "--steps", "30", "--eval=false", "--quiet")
		if code != 0 {
			t.Fatalf("train --backend %s: exit %d\n%s%s", be, code, out, errs)
		}
		if said := strings.Contains(errs, "composite backend "+spec+": plugin:cpu?ops=matmul runs matmul; cpu runs the 28 other ops"); said != (be == spec) {
			t.Errorf("train --backend %s: the composite's line is there: %v\n%s", be, said, errs)
		}
		rows, err := runlog.ReadLog(filepath.Join(runDir, runlog.LogFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			losses[i] = append(losses[i], r.Loss)
		}
	}
	if len(losses[0]) != 30 || len(losses[1]) != 30 {
		t.Fatalf("%d and %d logged steps, want 30", len(losses[0]), len(losses[1]))
	}
	worst := 0.0
	for s := range losses[0] {
		d := math.Abs(losses[1][s]-losses[0][s]) / math.Abs(losses[0][s])
		worst = max(worst, d)
		if d > 1e-6 {
			t.Errorf("step %d: loss %.9g through %s, %.9g on cpu", s+1, losses[1][s], spec, losses[0][s])
		}
	}
	t.Logf("30 steps: largest relative difference of the losses %.3g", worst)

	code, out, errs := run("bench", "--config", "quick", "--backend", spec, "--plugin-dir", dir, "--warmup", "0", "--steps", "1", "--op-steps", "0")
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s%s", code, out, errs)
	}
	line := regexp.MustCompile(`(?m)^ijepa quick plugin:cpu\?ops=matmul,cpu: [0-9.]+ ms/step [0-9.]+ img/s, ([0-9.]+) MiB copied between backends per step \(([0-9]+) copies, [0-9.]+ ms\)$`).FindStringSubmatch(out)
	if line == nil || line[1] == "0.00" || !strings.Contains(out, "  plugin:cpu?ops=matmul: 141 calls: matmul 141; in ") {
		t.Errorf("bench shows no copies per step:\n%s", out)
	}
}
