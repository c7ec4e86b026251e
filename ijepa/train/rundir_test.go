package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// A second trainer on a run directory that one is training, fresh or
// resuming, is refused in one line naming the process, and leaves the
// directory as the first trainer writes it; once the first has ended,
// --resume goes on. (Before the lock, both ran: log.csv rows interleaved
// and config.yaml was rewritten under the first run.)
func TestSecondTrainerRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := testConfig(t, "ijepago.steps=3", "ijepago.checkpoint_every=1")
	var second []error
	_, err := runIn(t, context.Background(), c, cpu.New(), dir, false, func(step int64) error {
		if step == 2 {
			for _, resume := range []bool{false, true} {
				_, err := runIn(t, context.Background(), testConfig(t, "ijepago.steps=5"), cpu.New(), dir, resume, nil)
				second = append(second, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "process " + strconv.Itoa(os.Getpid()) + " is training it"
	for i, err := range second {
		if !errors.Is(err, runlog.ErrLocked) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("second trainer %d: %v; want one line with %q", i, err, want)
		}
	}
	if got := losses(t, dir); len(got) != 3 {
		t.Errorf("log.csv has %d steps, want the first trainer's 3", len(got))
	}
	res := mustRun(t, testConfig(t, "ijepago.steps=5", "ijepago.checkpoint_every=1"), dir, true)
	if res.Start != 3 || res.Step != 5 {
		t.Errorf("resumed steps %d to %d, want 3 to 5", res.Start, res.Step)
	}
}

// Relaxations of the mask sampler that still happen at run time are
// counted in log.csv's relaxed column and said once in the log.
func TestRelaxationLogged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	c := testConfig(t, "data.crop_size=32", "mask.min_keep=8", "mask.pred_mask_scale=[0.25, 0.3]", "mask.num_pred_masks=4", "ijepago.steps=6")
	var log strings.Builder
	if _, err := Run(context.Background(), Options{Config: c, Backend: cpu.New(), Dir: dir, Progress: &log}); err != nil {
		t.Fatal(err)
	}
	rows, err := runlog.ReadLog(filepath.Join(dir, runlog.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, r := range rows {
		total += r.Relaxed
	}
	if total == 0 || strings.Count(log.String(), "dropped a target's exclusion") != 1 {
		t.Errorf("%d relaxations in log.csv; log:\n%s", total, log.String())
	}
}
