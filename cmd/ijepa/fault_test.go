package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// faultConfig is a run of 8 steps of vit_nano (checkpoints of 7.7 MB every
// 2 steps, an evaluation every 4) that takes a fraction of a second.
const faultConfig = `data:
  batch_size: 4
  crop_size: 16
  num_workers: 2
mask:
  patch_size: 4
  min_keep: 0
  num_pred_masks: 2
meta:
  model_name: vit_nano
  pred_emb_dim: 48
  pred_depth: 1
optimization:
  epochs: 1
  warmup: 0.5
ijepago:
  preset: quick
  dataset_size: 32
  eval_size: 40
  probe_train: 32
  probe_test: 40
  probe_iterations: 20
  knn_k: 5
  checkpoint_every: 2
  probe_every: 4
  log_every: 1
`

// The trainer killed with SIGKILL at random moments of 20 short runs — in
// a step, in a checkpoint write, in an evaluation, or anywhere after the
// run started — resumes with --resume every time, and its losses (the last
// row of each step in log.csv) equal an unbroken run's bit for bit, with no
// temporary file left behind.
func TestKillAndResume(t *testing.T) {
	root := t.TempDir()
	cfg := filepath.Join(root, "fault.yaml")
	os.WriteFile(cfg, []byte(faultConfig), 0o644)
	full := filepath.Join(root, "full")
	if code, out, errs := run("train", "--config", cfg, "--run", full, "--quiet"); code != 0 {
		t.Fatalf("unbroken run: exit %d\n%s%s", code, out, errs)
	}
	want := lossBits(t, full)
	if len(want) != 8 {
		t.Fatalf("the unbroken run has %d steps", len(want))
	}
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 1))
	t.Logf("kill moments drawn with seed %d", seed)
	// Where each kill lands: after which line of the log (and a random
	// delay of up to 3 ms), or at a random time after the run started.
	triggers := []struct{ what, line string }{
		{"anywhere", ""},
		{"checkpoint write", "msg=step step=%d "}, // an even step: its checkpoint follows
		{"evaluation", "msg=checkpoint step=%d "}, // step 4 or 8: its evaluation follows
		{"step", "msg=step step=%d "},             // an odd step: the next step follows
	}
	midWrite := 0
	for i := 0; i < 20; i++ {
		tr := triggers[i%len(triggers)]
		dir := filepath.Join(root, fmt.Sprintf("run%02d", i))
		p := startIjepa(t, nil, "train", "--config", cfg, "--run", dir, "--quiet")
		p.waitFor(t, "msg=training ", time.Minute) // config.yaml is written: the run can be resumed
		line := ""
		switch tr.what {
		case "checkpoint write":
			line = fmt.Sprintf(tr.line, 2+2*r.IntN(3))
		case "evaluation":
			line = fmt.Sprintf(tr.line, 4)
		case "step":
			line = fmt.Sprintf(tr.line, 1+2*r.IntN(3))
		}
		delay := time.Duration(r.IntN(3000)) * time.Microsecond
		if line == "" {
			delay = time.Duration(r.IntN(250)) * time.Millisecond
		} else {
			p.waitFor(t, line, time.Minute)
		}
		time.Sleep(delay)
		p.cmd.Process.Signal(syscall.SIGKILL)
		code := p.wait(t, time.Minute)
		if code == 0 {
			t.Logf("run %d (%s): finished before the kill", i, tr.what)
			continue
		}
		if temps(dir) > 0 {
			midWrite++
		}
		code, out, errs := run("train", "--run", dir, "--resume", "--quiet")
		if code == 1 && strings.Contains(errs, "the run is done (step 8 of 8)") {
			// Killed after the last checkpoint was written whole: there is
			// nothing to resume, and the log must be the unbroken run's.
			t.Logf("run %d (%s): killed after the last checkpoint", i, tr.what)
		} else if code != 0 {
			t.Fatalf("run %d (%s, %q + %v): --resume: exit %d\n%s%s\nkilled run:\n%s", i, tr.what, line, delay, code, out, errs, p.errText())
		}
		got := lossBits(t, dir)
		if len(got) != len(want) {
			t.Fatalf("run %d (%s): %d steps after the resume, want %d", i, tr.what, len(got), len(want))
		}
		for s := range want {
			if got[s] != want[s] {
				t.Errorf("run %d (%s, %q + %v): step %d: loss %v, the unbroken run %v", i, tr.what, line, delay, s+1,
					math.Float32frombits(got[s]), math.Float32frombits(want[s]))
			}
		}
		if n := temps(dir); n > 0 {
			t.Errorf("run %d: %d temporary files left after the resume", i, n)
		}
	}
	t.Logf("%d of 20 kills left a checkpoint write's temporary file (killed mid-write)", midWrite)
}

// lossBits returns the bits of the float32 loss of every step of a run's
// log.csv (the last row of each step).
func lossBits(t *testing.T, dir string) []uint32 {
	t.Helper()
	rows, err := runlog.ReadLog(filepath.Join(dir, runlog.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uint32, len(rows))
	for i, r := range rows {
		if r.Step != int64(i+1) {
			t.Fatalf("%s: row %d is step %d", dir, i, r.Step)
		}
		out[i] = math.Float32bits(float32(r.Loss))
	}
	return out
}

// temps counts the temporary files of atomic writes in a run directory.
func temps(dir string) int {
	n := 0
	for _, d := range []string{dir, filepath.Join(dir, runlog.CheckpointDir)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") {
				n++
			}
		}
	}
	return n
}
