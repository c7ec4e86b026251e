package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// testRun writes a run directory as the trainer would (docs/RUNS.md): a
// small quick-preset config, steps rows of log.csv, eval.csv, and a
// randomly initialised checkpoint.
func testRun(t *testing.T, steps int) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Preset("quick")
	if err != nil {
		t.Fatal(err)
	}
	// 32-pixel images in 4-pixel patches, whatever the preset's tuning.
	for k, v := range map[string]string{"ijepago.dataset_size": "64", "ijepago.eval_size": "16", "data.batch_size": "8", "ijepago.seed": "2",
		"data.crop_size": "32", "mask.patch_size": "4"} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	y, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runlog.Path(dir, runlog.ConfigFile), y, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(runlog.Path(dir, runlog.LogFile), []byte("step,epoch,loss,lr,wd,momentum,context,target,img_per_s,elapsed_s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	appendLog(t, dir, 1, steps)
	if err := os.WriteFile(runlog.Path(dir, runlog.EvalFile), []byte("step,features,probe_acc,knn_acc\n0,target,0.3,0.25\n0,pixels,0.2,0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mc, err := cfg.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Alloc(cpu.New(), 4); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if err := os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(runlog.Path(dir, runlog.LatestCheckpoint), nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// appendLog appends the rows of steps from to to log.csv.
func appendLog(t *testing.T, dir string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(runlog.Path(dir, runlog.LogFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for s := from; s <= to; s++ {
		fmt.Fprintf(f, "%d,%d,%.4f,%g,0.04,%.5f,40,9,120,%d\n", s, (s-1)/8, 0.45*math.Exp(-float64(s)/15)+0.05, 1e-4*float64(s), 0.996+0.0001*float64(s), s)
	}
}
