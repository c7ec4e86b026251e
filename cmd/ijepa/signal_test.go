package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// slowEval makes the tiny run's evaluation take seconds: more images and
// probe iterations.
var slowEval = []string{"--set", "ijepago.dataset_size=1000", "--set", "ijepago.eval_size=500", "--set", "ijepago.probe_train=1000",
	"--set", "ijepago.probe_test=500", "--set", "ijepago.probe_iterations=300"}

// Ctrl-C during the final evaluation stops it at the next chunk or
// classifier: exit 130, the message says the checkpoint is written and
// eval.csv got no rows. (It used to be ignored, and the run exited 0.)
func TestCtrlCDuringFinalEvaluation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	p := startIjepa(t, nil, append([]string{"train", "--config", writeTiny(t, ""), "--run", dir, "--steps", "2", "--quiet"}, slowEval...)...)
	p.waitFor(t, "msg=checkpoint step=2", time.Minute)
	time.Sleep(200 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGINT)
	code := p.wait(t, time.Minute)
	errs := p.errText()
	if code != 130 || !strings.Contains(errs, "interrupted during the final evaluation") ||
		!strings.Contains(errs, "the newest checkpoint is "+filepath.Join(dir, runlog.CheckpointDir, runlog.LatestFile)+" (step 2)") || p.stdout.Len() != 0 {
		t.Fatalf("exit %d, stdout %q\n%s", code, p.stdout.String(), errs)
	}
	if _, err := os.Stat(filepath.Join(dir, runlog.EvalFile)); err == nil {
		t.Error("eval.csv was written")
	}
}

// Ctrl-C stops ijepa eval (exit 130, eval.csv untouched), conformance
// (exit 130 after the report of the cases run), and a plugin's start-up
// (once the start is over: exit 130, nothing done); a second Ctrl-C stops
// at once.
func TestCtrlCStopsCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if code, out, errs := run("train", "--config", writeTiny(t, ""), "--run", dir, "--steps", "2", "--quiet", "--eval=false"); code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out, errs)
	}
	slowPlugin := filepath.Join(t.TempDir(), "ijepa-backend-slow")
	os.WriteFile(slowPlugin, []byte("#!/bin/sh\nexec sleep 2\n"), 0o755)
	for _, tc := range []struct {
		name  string
		args  []string
		after time.Duration
		want  string
	}{
		{"eval", append([]string{"eval", "--run", dir}, slowEval...), 1500 * time.Millisecond, "interrupted while evaluating: nothing written to eval.csv"},
		{"conformance", []string{"conformance", "--backend", "cpu-ref", "--seed", "3"}, 300 * time.Millisecond, "interrupted: the report above covers only the cases run before"},
		{"plugin start-up", []string{"conformance", "--backend", "plugin:" + slowPlugin}, 300 * time.Millisecond, "interrupted while starting backend plugin:" + slowPlugin + ": nothing done"},
	} {
		p := startIjepa(t, []string{"IJEPA_PLUGIN_TIMEOUT=20s"}, tc.args...)
		time.Sleep(tc.after)
		p.cmd.Process.Signal(syscall.SIGINT)
		code := p.wait(t, time.Minute)
		if errs := p.errText(); code != 130 || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "stopping at the next safe point") {
			t.Errorf("%s: exit %d\n%s", tc.name, code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, runlog.EvalFile)); err == nil {
		t.Error("the interrupted eval wrote eval.csv")
	}

	// Twice: at once, whatever the command was doing (here waiting for a
	// plugin that takes 5 s to fail to start).
	os.WriteFile(slowPlugin, []byte("#!/bin/sh\nexec sleep 5\n"), 0o755)
	p := startIjepa(t, []string{"IJEPA_PLUGIN_TIMEOUT=20s"}, "conformance", "--backend", "plugin:"+slowPlugin)
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 130 || time.Since(start) > 2*time.Second || !strings.Contains(p.errText(), "interrupted again: stopping at once") {
		t.Errorf("two Ctrl-C: exit %d after %v\n%s", code, time.Since(start), p.errText())
	}
}
