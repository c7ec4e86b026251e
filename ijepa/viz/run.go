package viz

import (
	"fmt"
	"path/filepath"
)

// The files of a run directory (docs/RUNS.md).
const (
	ConfigFile = "config.yaml"
	LogFile    = "log.csv"
	EvalFile   = "eval.csv"
	// LatestCheckpoint is the newest checkpoint, relative to the run
	// directory.
	LatestCheckpoint = "checkpoints/latest.safetensors"
)

// RunFile returns the path of one of a run directory's files.
func RunFile(dir, name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }

// RunTitle is a one-line description of a run's progress for a picture.
func RunTitle(dir string, log []LogRow) string {
	s := "run " + dir
	if len(log) == 0 {
		return s + ": no steps logged yet"
	}
	last := log[len(log)-1]
	return s + fmt.Sprintf(": step %d (epoch %d), loss %.4g, lr %.3g, wd %.3g, momentum %.5f, %.3g img/s",
		last.Step, last.Epoch, last.Loss, last.LR, last.WD, last.Momentum, last.ImgPerS)
}
