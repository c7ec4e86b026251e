package conformance_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/conformance/naive"
)

// A report with a failure: gelu perturbed, two ops kept.
func failingReport(t *testing.T) conformance.Report {
	t.Helper()
	rep := conformance.Run(perturbed{cpu.New(), backend.OpGELU}, conformance.Options{Seed: seed, Reference: cpu.New(),
		Ops: regexp.MustCompile("^(gelu|add)$")})
	if !rep.Failed() {
		t.Fatal("the perturbed gelu passes")
	}
	return rep
}

// The JSON report follows the schema, in every mode and with failures,
// and reads back to the same rows.
func TestJSONFollowsSchema(t *testing.T) {
	reps := []conformance.Report{failingReport(t)}
	for _, m := range []conformance.Mode{conformance.ModeSupport, conformance.ModeGrad} {
		reps = append(reps, conformance.Run(cpu.New(), conformance.Options{Seed: seed, Reference: naive.New(), Mode: m,
			Ops: regexp.MustCompile("^(gelu|gelu_bwd|matmul)$")}))
	}
	for _, rep := range reps {
		var buf bytes.Buffer
		if err := rep.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		if err := conformance.ValidateJSON(buf.Bytes()); err != nil {
			t.Fatalf("%s mode: %v\n%s", rep.Mode, err, buf.String())
		}
		back, err := conformance.ReadJSON(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if len(back.Ops) != len(rep.Ops) || back.Suite != rep.Suite || back.Catalogue != backend.CatalogueHash() || back.Seed != seed {
			t.Fatalf("read back %d rows, suite %s, catalogue %s, seed %d", len(back.Ops), back.Suite, back.Catalogue, back.Seed)
		}
		for i, o := range back.Ops {
			w := rep.Ops[i]
			if o.Op != w.Op || o.DType != w.DType || o.Cases != w.Cases || o.Passed != w.Passed || o.Failed != w.Failed || o.Unsupp != w.Unsupp || len(o.Failures) != len(w.Failures) {
				t.Errorf("row %d reads back as %+v, was %+v", i, o, w)
			}
		}
	}
	// The schema refuses what breaks it.
	var buf bytes.Buffer
	reps[0].WriteJSON(&buf)
	var m map[string]any
	json.Unmarshal(buf.Bytes(), &m)
	m["results"].([]any)[0].(map[string]any)["passed"] = -1
	bad, _ := json.Marshal(m)
	if err := conformance.ValidateJSON(bad); err == nil {
		t.Error("a row with -1 cases passed follows the schema")
	}
}

// Every failure carries the command that replays it, and that command's
// flags select exactly the failing case.
func TestFailuresReplay(t *testing.T) {
	rep := failingReport(t)
	var f conformance.Result
	for _, o := range rep.Ops {
		if o.Op == backend.OpGELU && o.DType == backend.F32 {
			f = o.Failures[0]
		}
	}
	cmd := rep.Replay(f)
	if !strings.HasPrefix(cmd, "ijepa conformance --backend cpu --reference cpu --seed 20261128 --case 'gelu(") {
		t.Fatalf("replay command %q", cmd)
	}
	one := conformance.Run(perturbed{cpu.New(), backend.OpGELU}, conformance.Options{Seed: seed, Reference: cpu.New(), Case: f.Name})
	cases := 0
	for _, o := range one.Ops {
		cases += o.Cases
	}
	for _, o := range one.Ops {
		if o.Op == backend.OpGELU && (cases != 1 || o.Failed != 1 || o.Failures[0].Msg != f.Msg) {
			t.Errorf("--case %q ran %d cases: %+v", f.Name, cases, o)
		}
	}
}

// Support mode runs nothing: it asks the backend about every case.
func TestSupportMode(t *testing.T) {
	b := cpu.New()
	rep := conformance.Run(b, conformance.Options{Seed: seed, Reference: naive.New(), Mode: conformance.ModeSupport})
	if rep.Failed() {
		t.Fatal("cpu fails support mode")
	}
	for _, o := range rep.Ops {
		if o.Cases == 0 || o.Supported() != o.Cases || o.Passed != o.Cases {
			t.Errorf("%s: %d of %d cases supported", o.Name, o.Supported(), o.Cases)
		}
	}
	if b.Validated() != uint64(len(conformance.Cases())) {
		t.Errorf("%d calls validated for %d cases", b.Validated(), len(conformance.Cases()))
	}
	none := conformance.Run(backend.NewFront(noOps{cpu.New().Device()}), conformance.Options{Seed: seed, Mode: conformance.ModeSupport})
	if !none.Failed() || len(none.Missing()) == 0 {
		t.Error("a backend with no ops passes support mode")
	}
}

// Grad mode runs the finite-difference checks alone.
func TestGradMode(t *testing.T) {
	rep := conformance.Run(cpu.New(), conformance.Options{Seed: seed, Reference: naive.New(), Mode: conformance.ModeGrad})
	want := map[backend.Op]int{}
	for _, g := range conformance.GradCases() {
		want[g.Case.Op]++
	}
	for _, o := range rep.Ops {
		if o.Cases != want[o.Op] || o.Failed > 0 || o.Missing {
			t.Errorf("%s: %d cases (want %d), %d failed", o.Name, o.Cases, want[o.Op], o.Failed)
		}
	}
}

// CSV has a header and a line per row; Markdown a row per op and a column
// per report, with the cells the legend of WriteMarkdown lists.
func TestCSVAndMarkdown(t *testing.T) {
	rep := failingReport(t)
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 1+len(rep.Ops) || recs[0][6] != "name" || recs[1][6] != "add" {
		t.Fatalf("csv: %v %q", err, recs)
	}
	buf.Reset()
	sup := conformance.Run(cpu.New(), conformance.Options{Seed: seed, Mode: conformance.ModeSupport, Ops: regexp.MustCompile("^(gelu|add)$")})
	if err := conformance.WriteMarkdown(&buf, []conformance.Report{rep, sup}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, s := range []string{"| level | op or check | dtype | cpu | cpu |", "| op | `add` | f32 | ✓ | 12/12 |", "| op | `gelu` | f32 | ✗ 6/6 | 6/6 |"} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
}

// A perf report's Markdown is its timings table (docs/BENCHMARKS.md's),
// every line as many cells as the header: a product with the reference's
// time beside it, an op the reference did not time and one the backend
// refused (a cell short or over shifts every later column).
func TestPerfMarkdown(t *testing.T) {
	rep := conformance.NewReport(cpu.New(), cpu.NewReference(), seed, conformance.ModePerf)
	rep.Perf = []conformance.PerfResult{
		{Model: "vit_small/16 batch 128", Name: "target qkv", Op: backend.OpMatMul, DType: backend.F32, Case: "matmul(y=[2,3])",
			Flops: 4e9, Bytes: 2e9, Runs: 3, Time: time.Second, RefRuns: 1, RefTime: 4 * time.Second},
		{Model: "vit_small/16 batch 128", Name: "target gelu", Op: backend.OpGELU, DType: backend.F32, Case: "gelu(y=[7])",
			Bytes: 1e9, Runs: 5, Time: 500 * time.Millisecond},
		{Model: "vit_huge/14 batch 128", Name: "target mlp fc1", Op: backend.OpMatMul, DType: backend.F32, Case: "matmul(y=[9])",
			Err: "larger than the device's largest tensor"},
	}
	var buf bytes.Buffer
	if err := conformance.WriteMarkdown(&buf, []conformance.Report{rep}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, s := range []string{
		"| step | where | dtype | call | time | GFLOP/s | GB/s | cpu-ref time | cpu-ref GFLOP/s | cpu-ref GB/s |",
		"| vit_small/16 batch 128 | target qkv | f32 | `matmul(y=[2,3])` | 1s | 4.0 | 2.0 | 4s | 1.0 | 0.5 |",
		"| vit_small/16 batch 128 | target gelu | f32 | `gelu(y=[7])` | 500ms |  | 2.0 |  | | |",
		"| vit_huge/14 batch 128 | target mlp fc1 | f32 | `matmul(y=[9])` | larger than the device's largest tensor | | | | | |",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(md), "\n") {
		if strings.HasPrefix(line, "|") && strings.Count(line, "|") != 11 {
			t.Errorf("%d cells, want 10: %s", strings.Count(line, "|")-1, line)
		}
	}
}
