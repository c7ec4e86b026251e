package testdep

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a helper ended the test.
type recorder struct {
	testing.TB
	fatal, errored, skipped, logged string
}

func (r *recorder) Helper()        {}
func (r *recorder) Fatal(a ...any) { r.fatal = fmt.Sprint(a...) }
func (r *recorder) Error(a ...any) { r.errored = fmt.Sprint(a...) }
func (r *recorder) Skip(a ...any)  { r.skipped = fmt.Sprint(a...) }
func (r *recorder) Log(a ...any)   { r.logged = fmt.Sprint(a...) }
func (r *recorder) result() (string, string, string, string) {
	return r.fatal, r.errored, r.skipped, r.logged
}

// Outside the test command a missing dependency skips (Skip) or is logged
// (Drop); with IJEPA_TEST_STRICT=1 it fails the test. Catches a helper that
// lets a strict run skip.
func TestStrict(t *testing.T) {
	for _, strict := range []string{"", "0", "1"} {
		t.Setenv(Env, strict)
		var s, d recorder
		Skip(&s, "no %s", "glslc")
		Drop(&d, "backend %s: no device", "vulkan")
		sf, se, ss, _ := s.result()
		df, de, ds, dl := d.result()
		if strict == "1" {
			if !strings.HasPrefix(sf, "no glslc (IJEPA_TEST_STRICT=1") || ss != "" || se != "" {
				t.Errorf("strict Skip: fatal %q, skipped %q", sf, ss)
			}
			if !strings.HasPrefix(de, "backend vulkan: no device (IJEPA_TEST_STRICT=1") || dl != "" || df != "" || ds != "" {
				t.Errorf("strict Drop: error %q, log %q", de, dl)
			}
			continue
		}
		if ss != "no glslc" || sf != "" || se != "" {
			t.Errorf("%s=%q: Skip: skipped %q, fatal %q", Env, strict, ss, sf)
		}
		if dl != "backend vulkan: no device" || de != "" || df != "" {
			t.Errorf("%s=%q: Drop: log %q, error %q", Env, strict, dl, de)
		}
	}
}

// The test command (scripts/test.sh, which CI runs) sets IJEPA_TEST_STRICT=1
// before its tests and runs the viewer's tests whatever the script's mode
// bits. Catches a test command that lets missing dependencies skip.
func TestTestCommandIsStrict(t *testing.T) {
	src, err := os.ReadFile("../../scripts/test.sh")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	strict := strings.Index(s, "\nexport "+Env+"=1\n")
	goTest := strings.Index(s, "\ngo test ")
	if strict < 0 || goTest < 0 || strict > goTest {
		t.Errorf("scripts/test.sh does not export %s=1 before it runs go test", Env)
	}
	if !strings.Contains(s, "\nbash scripts/test-viewer.sh\n") {
		t.Error("scripts/test.sh does not run scripts/test-viewer.sh unconditionally (with bash)")
	}
}
