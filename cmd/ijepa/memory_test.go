package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/train"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// The memory estimate a run makes before its first step is within 25% of
// the peak resident memory the run then reaches, for tiny32 (4 steps) and
// small224 (1 step).
func TestMemoryEstimateMatchesPeakRSS(t *testing.T) {
	for _, tc := range []struct {
		preset string
		steps  string
	}{{"tiny32", "4"}, {"small224", "1"}} {
		dir := filepath.Join(t.TempDir(), "run")
		peakFile := filepath.Join(t.TempDir(), "peak")
		p := startIjepa(t, []string{peakFileEnv + "=" + peakFile}, "train", "--config", tc.preset, "--run", dir, "--steps", tc.steps, "--quiet", "--eval=false")
		if code := p.wait(t, 10*time.Minute); code != 0 {
			t.Fatalf("%s: exit %d\n%s", tc.preset, code, p.errText())
		}
		rss := peakRSS(t, peakFile)
		c, err := config.Open(tc.preset)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Set("ijepago.steps", tc.steps); err != nil {
			t.Fatal(err)
		}
		e, err := train.EstimateMemory(c, cpu.New().Info(), amp.FP32, c.IJEPAGo.DatasetSize, 1, false)
		if err != nil {
			t.Fatal(err)
		}
		ratio := float64(e.Total) / float64(rss)
		t.Logf("%s, %s steps: estimate %d MiB, peak RSS %d MiB (%.2fx): %v", tc.preset, tc.steps, e.Total>>20, rss>>20, ratio, e)
		if ratio < 0.75 || ratio > 1.25 {
			t.Errorf("%s: the estimate is %.2fx the peak RSS, want within 25%%", tc.preset, ratio)
		}
	}
}

// peakRSS reads the peak resident memory, in bytes, that a command run
// with peakFileEnv wrote ("VmHWM:   123456 kB").
func peakRSS(t *testing.T, file string) int64 {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no peak memory from the process (no /proc/self/status VmHWM?): %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 3 || f[2] != "kB" {
		t.Fatalf("%s: %q is not a VmHWM line", file, b)
	}
	kib, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatalf("%s: %q is not a VmHWM line", file, b)
	}
	return kib << 10
}

// A run that cannot fit the memory the process may use is refused before
// its first step in one line naming the largest batch that fits, and that
// batch runs under the same limit (small224 at batch 2000 under a memory
// limit ended in Go's out-of-memory dump).
func TestRunTooLargeRefused(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	limited := func(args ...string) (string, int) {
		cmd := exec.Command(sh, append([]string{"-c", `ulimit -v 4500000 && exec "$0" "$@"`, os.Args[0]}, args...)...)
		cmd.Env = append(os.Environ(), asMainEnv+"=1")
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	dir := t.TempDir()
	out, code := limited("train", "--config", "small224", "--batch-size", "2000", "--run", filepath.Join(dir, "big"), "--eval=false", "--quiet")
	m := regexp.MustCompile(`the largest batch that fits is (\d+) \(--batch-size \d+\)`).FindStringSubmatch(out)
	if code != 1 || m == nil || strings.Count(strings.TrimSpace(out), "\n") > 0 || !strings.Contains(out, "RLIMIT_AS") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "big", "log.csv")); err == nil {
		t.Error("the refused run wrote log.csv")
	}
	b, _ := strconv.Atoi(m[1])
	if b < 1 || b >= 2000 {
		t.Fatalf("largest batch %d", b)
	}
	if out, code := limited("train", "--config", "small224", "--batch-size", m[1], "--run", filepath.Join(dir, "fits"), "--eval=false", "--quiet", "--steps", "1"); code != 0 {
		t.Errorf("batch %d, said to fit: exit %d\n%s", b, code, out)
	}
}
