package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/conformance/simgpu"
	"github.com/ijepa-go/ijepa/internal/testdep"
)

func init() {
	backend.Register(backend.Driver{Name: "test-drop-war", Doc: "a simulated GPU that drops write-after-read barriers (tests only)",
		Open:    func(string) (backend.Backend, error) { return simgpu.New(simgpu.DropWAR), nil },
		Devices: func() ([]backend.Info, error) { return nil, nil }})
}

// needVulkan skips (fails under the test command) where there is no Vulkan
// device.
func needVulkan(t *testing.T) {
	t.Helper()
	for _, d := range backend.Drivers() {
		if d.Name == "vulkan" {
			if _, err := d.Devices(); err != nil {
				testdep.Skip(t, "no Vulkan device here: %v", err)
			}
		}
	}
}

// readReport checks JSON output against the schema and reads it.
func readReport(t *testing.T, out string) conformance.Report {
	t.Helper()
	if err := conformance.ValidateJSON([]byte(out)); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	rep, err := conformance.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// ijepa conformance --backend vulkan --format json --level all follows the
// documented schema, passes, and covers every op, the three layers and the
// four quantities of the training steps.
func TestConformanceJSONVulkanAllLevels(t *testing.T) {
	needVulkan(t)
	code, out, errs := run("conformance", "--backend", "vulkan", "--format", "json", "--level", "all", "--seed", "20261128")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	rep := readReport(t, out)
	levels := map[conformance.Level]int{}
	for _, o := range rep.Rows() {
		levels[o.Level]++
		if o.Cases == 0 || o.Passed != o.Cases {
			t.Errorf("%s %s: %d of %d passed", o.Level, o.Name, o.Passed, o.Cases)
		}
	}
	if levels[conformance.LevelOp] != len(opRows()) || levels[conformance.LevelLayer] != 3 || levels[conformance.LevelStep] != 4 {
		t.Errorf("rows per level: %v", levels)
	}
	if rep.Backend != "vulkan" || rep.Ref != "cpu-ref" || rep.Seed != 20261128 || rep.Device == "" || rep.Versions.Go == "" {
		t.Errorf("header: %+v", rep)
	}
}

// The modes and formats from the command line: support runs nothing and
// prints CSV, grad runs the finite-difference checks, stress is green on
// cpu and finds the planted dropped barrier with a replayable minimal
// program, perf times a step's shapes, and --from renders saved reports.
func TestConformanceModes(t *testing.T) {
	code, out, errs := run("conformance", "--backend", "cpu", "--mode", "support", "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 1+len(opRows()) {
		t.Fatalf("support csv: exit %d, %v\n%s%s", code, err, out, errs)
	}
	code, out, errs = run("conformance", "--backend", "cpu", "--mode", "grad", "--seed", "3")
	if code != 0 || !strings.Contains(out, "PASS: ") || !strings.Contains(out, "layernorm_bwd") {
		t.Fatalf("grad: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run("conformance", "--backend", "cpu", "--mode", "stress", "--seed", "3", "--format", "json")
	if rep := readReport(t, out); code != 0 || rep.Checks[0].Passed != 500 {
		t.Fatalf("stress on cpu: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = run("conformance", "--backend", "test-drop-war", "--mode", "stress", "--seed", "3")
	if code != 1 || !strings.Contains(out, "minimal failing program") || !strings.Contains(out, "replay: ijepa conformance --backend test-drop-war --reference cpu-ref --mode stress --seed ") {
		t.Fatalf("stress with a dropped barrier: exit %d\n%s", code, out)
	}
	code, out, errs = run("conformance", "--backend", "cpu", "--mode", "perf", "--batch", "1", "--models", "vit_small/16", "--op", "^(matmul|gelu)$", "--time", "1ms", "--format", "json")
	if rep := readReport(t, out); code != 0 || len(rep.Perf) != 13 {
		t.Fatalf("perf: exit %d, %d timings\n%s%s", code, len(rep.Perf), out, errs)
	}
	dir := t.TempDir()
	var paths []string
	for _, b := range []string{"cpu", "cpu-ref"} {
		_, out, _ := run("conformance", "--backend", b, "--op", "^gelu$", "--seed", "3", "--format", "json")
		p := filepath.Join(dir, b+".json")
		os.WriteFile(p, []byte(out), 0o644)
		paths = append(paths, p)
	}
	code, out, errs = run("conformance", "--from", strings.Join(paths, ","), "--format", "markdown")
	if code != 0 || !strings.Contains(out, "| op | `gelu` | f32 | ✓ | ✓ |") {
		t.Fatalf("--from: exit %d\n%s%s", code, out, errs)
	}
	var buf bytes.Buffer
	for _, bad := range [][]string{{"--mode", "fast"}, {"--level", "block"}, {"--format", "xml"}, {"--mode", "stress", "--level", "step"}} {
		code, _, errs := run(append([]string{"conformance"}, bad...)...)
		if code != 2 || !strings.Contains(errs, bad[len(bad)-2]) {
			buf.WriteString(strings.Join(bad, " ") + ": " + errs)
			t.Errorf("%v: exit %d, stderr %q", bad, code, errs)
		}
	}
}

// Perf mode on the Vulkan device at a batch of one: every shape of the
// ViT-S/16 step runs and is timed on vulkan and on the cpu backend (a few
// seconds on lavapipe; the full batch of 128 is in docs/BENCHMARKS.md).
func TestConformancePerfVulkan(t *testing.T) {
	needVulkan(t)
	code, out, errs := run("conformance", "--backend", "vulkan", "--mode", "perf", "--batch", "1", "--models", "vit_small/16", "--time", "1ms", "--format", "json")
	rep := readReport(t, out)
	if code != 0 || len(rep.Perf) != 24 || rep.Ref != "cpu" {
		t.Fatalf("exit %d, %d timings against %s\n%s%s", code, len(rep.Perf), rep.Ref, out, errs)
	}
	for _, p := range rep.Perf {
		if p.Err != "" || p.Runs < 1 || p.RefRuns < 1 || p.GBS() <= 0 {
			t.Errorf("%s: %+v", p.Name, p)
		}
	}
}

// opRows returns the op-level rows a full run reports, "op NAME DTYPE":
// one per op and dtype its cases count under (Case.Low).
func opRows() []string {
	var rows []string
	for _, c := range conformance.Cases() {
		if r := "op " + c.Op.String() + " " + c.Low().String(); !slices.Contains(rows, r) {
			rows = append(rows, r)
		}
	}
	return rows
}
