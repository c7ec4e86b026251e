package main

import (
	"regexp"
	"strings"
	"testing"
)

// One tiny32 step on the CPU prints the img/s line, peak memory and the
// per-op table; a missing anchor is reported and skipped, not an error.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a training step")
	}
	code, out, errs := run("bench", "--config", "tiny32", "--warmup", "0", "--steps", "1", "--op-steps", "1",
		"--torch", "--anchor", t.TempDir()+"/none.py")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !regexp.MustCompile(`(?m)^ijepa tiny32 cpu: [0-9.]+ ms/step [0-9.]+ img/s$`).MatchString(out) {
		t.Errorf("no img/s line:\n%s", out)
	}
	for _, s := range []string{"peak RSS", "GFLOP/s", "matmul by shape", "torch anchor skipped", "none.py"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"bench", "--config", "huge"}, `unknown preset "huge"`},
		{[]string{"bench", "--steps", "0"}, "--steps"},
		{[]string{"bench", "--backend", "nosuch"}, `unknown backend "nosuch"`},
	} {
		code, _, errs := run(tc.args...)
		if code == 0 || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tc.args, code, errs, tc.msg)
		}
	}
}
