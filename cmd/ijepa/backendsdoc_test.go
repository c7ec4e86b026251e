package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
)

// docs/BACKENDS.md's support matrix is what its reports (docs/reports,
// written by scripts/backends-doc.sh) give; every report is of today's op
// catalogue and has a row for every op, layer check and step check; and
// what cpu, cpu-ref and vulkan (where there is a device) support today
// (--mode support, which runs nothing) is what their report says they
// support.
func TestBackendsDoc(t *testing.T) {
	const regen = "run scripts/backends-doc.sh"
	paths, err := filepath.Glob(filepath.Join("..", "..", "docs", "reports", "*.json"))
	if err != nil || len(paths) != 6 {
		t.Fatalf("docs/reports holds %d reports (%v), want the 6 of cpu, cpu-ref, vulkan and the three plugins: %s", len(paths), err, regen)
	}
	slices.Sort(paths)
	code, matrix, errs := run("conformance", "--from", strings.Join(paths, ","), "--format", "markdown")
	if code != 0 {
		t.Fatalf("--from: exit %d\n%s", code, errs)
	}
	if inDoc := between(t, "BACKENDS.md", "<!-- matrix: scripts/backends-doc.sh writes it from docs/reports/*.json -->\n", "<!-- end of matrix -->"); inDoc != matrix {
		t.Errorf("docs/BACKENDS.md's matrix is not what docs/reports gives (%s); the reports give:\n%s", regen, matrix)
	}
	for i, rep := range readReports(t, paths) {
		p := paths[i]
		if rep.Catalogue != backend.CatalogueHash() {
			t.Errorf("%s is of op catalogue %s, today's is %s: %s", p, rep.Catalogue, backend.CatalogueHash(), regen)
		}
		have := map[string]bool{}
		for _, o := range rep.Rows() {
			have[fmt.Sprintf("%s %s %s", o.Level, o.Name, o.DType)] = true
		}
		want := []string{"layer block f32", "layer attention f32", "layer predictor f32", "step loss f32", "step gradients f32", "step weights f32", "step target f32"}
		want = append(want, opRows()...)
		for _, w := range want {
			if !have[w] {
				t.Errorf("%s has no row %q: %s", p, w, regen)
			}
		}
		live := map[string]bool{"cpu": true, "cpu-ref": true, "vulkan": true}
		if !live[rep.Backend] || rep.Backend == "vulkan" && !vulkanHere() {
			continue
		}
		_, out, _ := run("conformance", "--backend", rep.Backend, "--mode", "support", "--format", "json")
		now := readReport(t, out)
		for _, o := range now.Ops {
			for _, w := range rep.Ops {
				if w.Op == o.Op && w.DType == o.DType && support(w) != support(o) {
					t.Errorf("%s %s %s: the report says %s supported, --mode support says %s: %s", rep.Backend, o.Name, o.DType, support(w), support(o), regen)
				}
			}
		}
	}
}

// support says whether a row's backend supports all, some or none of its
// cases.
func support(o conformance.OpReport) string {
	switch {
	case o.Supported() == o.Cases:
		return "all"
	case o.Supported() == 0:
		return "none"
	}
	return "some"
}

// vulkanHere reports whether a Vulkan device exists.
func vulkanHere() bool {
	for _, d := range backend.Drivers() {
		if d.Name == "vulkan" {
			_, err := d.Devices()
			return err == nil
		}
	}
	return false
}

// docs/BENCHMARKS.md's timings of --mode perf are what its saved reports
// (docs/reports/perf) give: `ijepa conformance --from` renders them, so a
// table edited by hand, or a report replaced without the table, shows.
func TestBenchmarksPerfDoc(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "docs", "reports", "perf", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("docs/reports/perf holds no reports (%v)", err)
	}
	slices.Sort(paths)
	code, tables, errs := run("conformance", "--from", strings.Join(paths, ","), "--format", "markdown")
	if code != 0 {
		t.Fatalf("--from: exit %d\n%s", code, errs)
	}
	for i, rep := range readReports(t, paths) {
		if rep.Mode != conformance.ModePerf || len(rep.Perf) == 0 {
			t.Errorf("%s: not a perf report", paths[i])
		}
	}
	if inDoc := between(t, "BENCHMARKS.md", "<!-- perf: ijepa conformance --from docs/reports/perf/*.json --format markdown -->\n", "<!-- end of perf -->"); inDoc != tables {
		t.Errorf("docs/BENCHMARKS.md's perf tables are not what docs/reports/perf gives; it gives:\n%s", tables)
	}
}

// readReports reads JSON reports.
func readReports(t *testing.T, paths []string) []conformance.Report {
	t.Helper()
	var reps []conformance.Report
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := conformance.ReadJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		reps = append(reps, rep)
	}
	return reps
}

// between returns the text of docs/NAME between the lines begin and end
// ("" where either is missing).
func between(t *testing.T, name, begin, end string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(doc), begin)
	inDoc, _, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Errorf("docs/%s lacks the line %q or %q", name, strings.TrimSpace(begin), end)
		return ""
	}
	return inDoc
}
