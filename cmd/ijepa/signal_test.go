package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/internal/proctest"
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
// at once. The plugin is a script that never says the go-plugin handshake
// and runs a child without exec, which holds the pipes the host reads: the
// interrupted start ends when IJEPA_PLUGIN_TIMEOUT (2 s) has passed, and a
// second Ctrl-C ends the command at once; either way the child is killed
// with the script. (The host used to kill the script alone and wait for the
// child's 30 s; a second Ctrl-C left the child running.)
func TestCtrlCStopsCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if code, out, errs := run("train", "--config", writeTiny(t, ""), "--run", dir, "--steps", "2", "--quiet", "--eval=false"); code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out, errs)
	}
	hung := filepath.Join(t.TempDir(), "ijepa-backend-hung")
	childPID := filepath.Join(t.TempDir(), "child.pid")
	os.WriteFile(hung, []byte("#!/bin/sh\nsleep 30 &\necho $! > '"+childPID+"'\nwait\n"), 0o755)
	child := func() int { // the child's process id, once the script has started it
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			b, _ := os.ReadFile(childPID)
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
				return pid
			}
		}
		t.Fatal("the plugin script wrote no child's process id")
		return 0
	}
	for _, tc := range []struct {
		name    string
		args    []string
		timeout string // IJEPA_PLUGIN_TIMEOUT
		after   time.Duration
		within  time.Duration
		want    string
	}{
		{"eval", append([]string{"eval", "--run", dir}, slowEval...), "20s", 1500 * time.Millisecond, time.Minute, "interrupted while evaluating: nothing written to eval.csv"},
		{"conformance", []string{"conformance", "--backend", "cpu-ref", "--seed", "3"}, "20s", 300 * time.Millisecond, time.Minute, "interrupted: the report above covers only the cases run before"},
		{"plugin start-up", []string{"conformance", "--backend", "plugin:" + hung}, "2s", 300 * time.Millisecond, 5 * time.Second, "interrupted while starting backend plugin:" + hung + ": nothing done"},
	} {
		p := startIjepa(t, []string{"IJEPA_PLUGIN_TIMEOUT=" + tc.timeout}, tc.args...)
		time.Sleep(tc.after)
		p.cmd.Process.Signal(syscall.SIGINT)
		code := p.wait(t, tc.within)
		if errs := p.errText(); code != 130 || !strings.Contains(errs, tc.want) || !strings.Contains(errs, "stopping at the next safe point") {
			t.Errorf("%s: exit %d\n%s", tc.name, code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, runlog.EvalFile)); err == nil {
		t.Error("the interrupted eval wrote eval.csv")
	}
	proctest.WaitGone(t, child(), 2*time.Second)

	// Twice: at once, whatever the command was doing (here waiting for the
	// plugin's handshake, for up to 20 s), and no plugin process nor its
	// socket's directory is left.
	os.Remove(childPID)
	tmp := t.TempDir()
	p := startIjepa(t, []string{"IJEPA_PLUGIN_TIMEOUT=20s", "TMPDIR=" + tmp}, "conformance", "--backend", "plugin:"+hung)
	pid := child()
	p.cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.wait(t, 10*time.Second); code != 130 || time.Since(start) > 2*time.Second || !strings.Contains(p.errText(), "interrupted again: stopping at once") {
		t.Errorf("two Ctrl-C: exit %d after %v\n%s", code, time.Since(start), p.errText())
	}
	proctest.WaitGone(t, pid, 2*time.Second)
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in the temporary directory: %v", left)
	}
}
