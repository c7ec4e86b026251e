// Package runlog owns the files of a training run directory (docs/RUNS.md):
// their names, and the format of log.csv and eval.csv — the row types, an
// appending writer that survives a crash in the middle of a row, and the
// readers the viewer, `ijepa plot` and the tests use.
package runlog

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// The files of a run directory, relative to it.
const (
	ConfigFile    = "config.yaml"
	LogFile       = "log.csv"
	EvalFile      = "eval.csv"
	CheckpointDir = "checkpoints"
	// LatestFile is the newest checkpoint's name in CheckpointDir, and
	// LatestCheckpoint its path relative to the run directory.
	LatestFile       = "latest.safetensors"
	LatestCheckpoint = CheckpointDir + "/" + LatestFile
	// FeaturesDir holds the features `ijepa eval --full` computes and
	// reuses (FeaturesFile).
	FeaturesDir = "features"
)

// FeaturesFile is the name in FeaturesDir of the cached features of one
// split ("train" or "test") by one encoder (stem: "step-NNNNNNN" for a
// checkpoint of the run, "random-init-seedN" for the baseline), with the
// layers they come from (layers: "L1", "L4", "L4cat").
func FeaturesFile(stem, split, layers string) string {
	return fmt.Sprintf("%s-%s-%s.safetensors", stem, split, layers)
}

// Path returns the path of one of run directory dir's files (name as in
// the constants above, slash-separated).
func Path(dir, name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }

// StepCheckpoint is the name in CheckpointDir of the periodic checkpoint
// written after step steps (a 7-digit step).
func StepCheckpoint(step int64) string { return fmt.Sprintf("step-%07d.safetensors", step) }

// The kinds of features an evaluation scores (eval.csv's features column).
const (
	// FeaturesTarget is the mean-pooled output of the trained target
	// encoder.
	FeaturesTarget = "target"
	// FeaturesRandom is the same for a random-init encoder of the same
	// shape (the run's own initialisation: the model at step 0).
	FeaturesRandom = "random"
	// FeaturesPixels is the normalised pixels, average-pooled.
	FeaturesPixels = "pixels"
)

// LogRow is one row of log.csv: one training step.
type LogRow struct {
	// Step is the global step, 1-based (the step the schedules were
	// evaluated at); Epoch is its 0-based epoch.
	Step, Epoch int64
	// Loss is the step's loss; LR, WD and Momentum the scheduled values it
	// used.
	Loss, LR, WD, Momentum float64
	// Context and Target are the patches per context (Kc) and per target
	// block (Kt).
	Context, Target int
	// ImgPerS is the step's throughput (data wait included); ElapsedS the
	// seconds since the run (or the resumed run) started.
	ImgPerS, ElapsedS float64
	// Relaxed is how many times the mask sampler dropped a target's
	// exclusion in the step's batch (mask.Batch.Relaxed): 0 unless the
	// mask settings are tight. Files written before this column read 0.
	Relaxed int
}

// EvalRow is one row of eval.csv: one kind of features scored at one step.
type EvalRow struct {
	// Step is the step of the checkpoint evaluated (0: before training).
	Step int64
	// Features is FeaturesTarget, FeaturesRandom or FeaturesPixels.
	Features string
	// ProbeAcc and KNNAcc are the held-out top-1 accuracies.
	ProbeAcc, KNNAcc float64
}

// column is one column of a CSV file of rows R: its header name, how a
// row's value is written and how it is read back, and whether it is a
// later addition that files written before it lack (read as the zero
// value; such a file is appended to in its own layout).
type column[R any] struct {
	name   string
	format func(r *R) string
	parse  func(r *R, v string) error
	added  bool
}

// added marks a column added after the file format's first version.
func added[R any](c column[R]) column[R] {
	c.added = true
	return c
}

func intCol[R any](name string, f func(r *R) *int64) column[R] {
	return column[R]{name: name,
		format: func(r *R) string { return strconv.FormatInt(*f(r), 10) },
		parse:  func(r *R, v string) (err error) { *f(r), err = strconv.ParseInt(v, 10, 64); return }}
}

func smallIntCol[R any](name string, f func(r *R) *int) column[R] {
	return column[R]{name: name,
		format: func(r *R) string { return strconv.Itoa(*f(r)) },
		parse:  func(r *R, v string) (err error) { *f(r), err = strconv.Atoi(v); return }}
}

// floatCol writes with format (strconv.FormatFloat's fmt, prec and
// bitSize) and reads any number, NaN and ±Inf included (a diverged loss).
func floatCol[R any](name string, f func(r *R) *float64, fmtc byte, prec, bits int) column[R] {
	return column[R]{name: name,
		format: func(r *R) string { return strconv.FormatFloat(*f(r), fmtc, prec, bits) },
		parse:  func(r *R, v string) (err error) { *f(r), err = strconv.ParseFloat(v, 64); return }}
}

// logColumns are log.csv's columns, in the order they are written.
var logColumns = []column[LogRow]{
	intCol("step", func(r *LogRow) *int64 { return &r.Step }),
	intCol("epoch", func(r *LogRow) *int64 { return &r.Epoch }),
	// The loss is a float32 value: its 32-bit shortest form reads back exactly.
	floatCol("loss", func(r *LogRow) *float64 { return &r.Loss }, 'g', -1, 32),
	floatCol("lr", func(r *LogRow) *float64 { return &r.LR }, 'g', -1, 64),
	floatCol("wd", func(r *LogRow) *float64 { return &r.WD }, 'g', -1, 64),
	floatCol("momentum", func(r *LogRow) *float64 { return &r.Momentum }, 'g', -1, 64),
	smallIntCol("context", func(r *LogRow) *int { return &r.Context }),
	smallIntCol("target", func(r *LogRow) *int { return &r.Target }),
	floatCol("img_per_s", func(r *LogRow) *float64 { return &r.ImgPerS }, 'f', 1, 64),
	floatCol("elapsed_s", func(r *LogRow) *float64 { return &r.ElapsedS }, 'f', 3, 64),
	added(smallIntCol("relaxed", func(r *LogRow) *int { return &r.Relaxed })),
}

// evalColumns are eval.csv's columns, in the order they are written.
var evalColumns = []column[EvalRow]{
	intCol("step", func(r *EvalRow) *int64 { return &r.Step }),
	{name: "features", format: func(r *EvalRow) string { return r.Features }, parse: func(r *EvalRow, v string) error { r.Features = v; return nil }},
	floatCol("probe_acc", func(r *EvalRow) *float64 { return &r.ProbeAcc }, 'f', 4, 64),
	floatCol("knn_acc", func(r *EvalRow) *float64 { return &r.KNNAcc }, 'f', 4, 64),
}

// LogHeader and EvalHeader are the header lines of log.csv and eval.csv.
var (
	LogHeader  = names(logColumns)
	EvalHeader = names(evalColumns)
)

func names[R any](cols []column[R]) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// layouts are the headers a file of cols may have: every column, or (a
// file written before the added columns) the first version's.
func layouts[R any](cols []column[R]) [][]column[R] {
	var first []column[R]
	for _, c := range cols {
		if !c.added {
			first = append(first, c)
		}
	}
	if len(first) == len(cols) {
		return [][]column[R]{cols}
	}
	return [][]column[R]{cols, first}
}

func record[R any](cols []column[R], r *R) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.format(r)
	}
	return out
}
