package viz

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
)

// LogRow is one row of a run's log.csv (docs/RUNS.md): one training step.
type LogRow struct {
	Step, Epoch int64
	Loss        float64
	LR, WD      float64
	Momentum    float64
	Context     int // context patches per image (Kc)
	Target      int // patches per target block (Kt)
	ImgPerS     float64
	ElapsedS    float64
}

// EvalRow is one row of a run's eval.csv: one evaluation of one kind of
// features.
type EvalRow struct {
	Step     int64
	Features string // "target", "random" or "pixels"
	ProbeAcc float64
	KNNAcc   float64
}

// logColumns are log.csv's columns (docs/RUNS.md), each with where its
// value goes.
var logColumns = []struct {
	name string
	set  func(r *LogRow, v string) error
}{
	{"step", func(r *LogRow, v string) (err error) { r.Step, err = parseInt(v); return }},
	{"epoch", func(r *LogRow, v string) (err error) { r.Epoch, err = parseInt(v); return }},
	{"loss", func(r *LogRow, v string) (err error) { r.Loss, err = parseFloat(v); return }},
	{"lr", func(r *LogRow, v string) (err error) { r.LR, err = parseFloat(v); return }},
	{"wd", func(r *LogRow, v string) (err error) { r.WD, err = parseFloat(v); return }},
	{"momentum", func(r *LogRow, v string) (err error) { r.Momentum, err = parseFloat(v); return }},
	{"context", func(r *LogRow, v string) error { n, err := parseInt(v); r.Context = int(n); return err }},
	{"target", func(r *LogRow, v string) error { n, err := parseInt(v); r.Target = int(n); return err }},
	{"img_per_s", func(r *LogRow, v string) (err error) { r.ImgPerS, err = parseFloat(v); return }},
	{"elapsed_s", func(r *LogRow, v string) (err error) { r.ElapsedS, err = parseFloat(v); return }},
}

var evalColumns = []struct {
	name string
	set  func(r *EvalRow, v string) error
}{
	{"step", func(r *EvalRow, v string) (err error) { r.Step, err = parseInt(v); return }},
	{"features", func(r *EvalRow, v string) error { r.Features = v; return nil }},
	{"probe_acc", func(r *EvalRow, v string) (err error) { r.ProbeAcc, err = parseFloat(v); return }},
	{"knn_acc", func(r *EvalRow, v string) (err error) { r.KNNAcc, err = parseFloat(v); return }},
}

func parseInt(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) }

// parseFloat reads a number; NaN and ±Inf are allowed (a diverged loss).
func parseFloat(v string) (float64, error) { return strconv.ParseFloat(v, 64) }

// ReadLog reads a run's log.csv. Columns are found by their header names
// (their order does not matter and unknown columns are ignored). Rows are
// returned in step order with one row per step: a resumed run appends steps
// it repeats, and the last row written for a step wins (docs/RUNS.md). A
// last line without its newline is a row still being written and is
// skipped, so a live run can be read at any moment.
func ReadLog(path string) ([]LogRow, error) {
	var rows []LogRow
	err := readCSV(path, columnNames(len(logColumns), func(i int) string { return logColumns[i].name }),
		func(line int, get func(col int) string) error {
			var r LogRow
			for i, c := range logColumns {
				if err := c.set(&r, get(i)); err != nil {
					return fmt.Errorf("column %s: %q is not a number", c.name, get(i))
				}
			}
			if r.Step < 1 {
				return fmt.Errorf("column step: %d, want a step of at least 1", r.Step)
			}
			rows = append(rows, r)
			return nil
		})
	if err != nil {
		return nil, err
	}
	// Stable sort by step keeps file order within a step; keep the last.
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Step < rows[j].Step })
	out := rows[:0]
	for i, r := range rows {
		if i+1 < len(rows) && rows[i+1].Step == r.Step {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// ReadEval reads a run's eval.csv, in step order (file order within a
// step). A missing file is no evaluation yet: no rows and no error.
func ReadEval(path string) ([]EvalRow, error) {
	var rows []EvalRow
	err := readCSV(path, columnNames(len(evalColumns), func(i int) string { return evalColumns[i].name }),
		func(line int, get func(col int) string) error {
			var r EvalRow
			for i, c := range evalColumns {
				if err := c.set(&r, get(i)); err != nil {
					return fmt.Errorf("column %s: %q is not a number", c.name, get(i))
				}
			}
			rows = append(rows, r)
			return nil
		})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Step < rows[j].Step })
	return rows, err
}

func columnNames(n int, name func(int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = name(i)
	}
	return out
}

// readCSV reads the complete lines of a CSV file with a header, finds the
// wanted columns by name and calls row for each record with a getter by
// wanted-column index. Errors name the file, and the line for a bad row.
func readCSV(path string, want []string, row func(line int, get func(col int) string) error) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	// A line without its newline is still being written.
	raw = raw[:bytes.LastIndexByte(raw, '\n')+1]
	if len(raw) == 0 {
		return fmt.Errorf("viz: %s: no header line", path)
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("viz: %s: header: %w", path, err)
	}
	at := make([]int, len(want))
	for i, name := range want {
		at[i] = -1
		for j, h := range header {
			if h == name {
				at[i] = j
			}
		}
		if at[i] < 0 {
			return fmt.Errorf("viz: %s: no column %q in the header %q", path, name, header)
		}
	}
	for {
		rec, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("viz: %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			return fmt.Errorf("viz: %s: line %d: %d fields, the header has %d", path, line, len(rec), len(header))
		}
		if err := row(line, func(col int) string { return rec[at[col]] }); err != nil {
			return fmt.Errorf("viz: %s: line %d: %w", path, line, err)
		}
	}
}
