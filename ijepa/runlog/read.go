package runlog

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
)

// ReadLog reads a log.csv. Columns are found by their header names (their
// order does not matter, unknown columns are ignored, and a column added
// after the file was written reads as zero). Rows are returned
// in step order with one row per step: a resumed run appends steps it
// repeats, and the last row written for a step wins. A last line without
// its newline is a row still being written and is skipped, so a live run
// can be read at any moment.
func ReadLog(path string) ([]LogRow, error) {
	rows, err := readRows(path, logColumns, func(r LogRow) error {
		if r.Step < 1 {
			return fmt.Errorf("column step: %d, want a step of at least 1", r.Step)
		}
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

// ReadEval reads an eval.csv, in step order (file order within a step). A
// missing file is no evaluation yet: no rows and no error.
func ReadEval(path string) ([]EvalRow, error) {
	rows, err := readRows(path, evalColumns, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Step < rows[j].Step })
	return rows, nil
}

// readRows reads the complete lines of a CSV file with a header, finds
// cols by name and parses each record into a row, which check (when not
// nil) vets. Errors name the file, and the line for a bad row.
func readRows[R any](path string, cols []column[R], check func(R) error) ([]R, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("runlog: %w", err)
	}
	// A line without its newline is still being written.
	raw = raw[:bytes.LastIndexByte(raw, '\n')+1]
	if len(raw) == 0 {
		return nil, fmt.Errorf("runlog: %s: no header line", path)
	}
	cr := csv.NewReader(bytes.NewReader(raw))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("runlog: %s: header: %w", path, err)
	}
	at := make([]int, len(cols))
	for i, c := range cols {
		at[i] = -1
		for j, h := range header {
			if h == c.name {
				at[i] = j
			}
		}
		if at[i] < 0 && !c.added {
			return nil, fmt.Errorf("runlog: %s: no column %q in the header %q", path, c.name, header)
		}
	}
	var rows []R
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("runlog: %s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("runlog: %s: line %d: %d fields, the header has %d", path, line, len(rec), len(header))
		}
		var r R
		for i, c := range cols {
			if at[i] < 0 {
				continue // a column added after the file was written
			}
			if err := c.parse(&r, rec[at[i]]); err != nil {
				return nil, fmt.Errorf("runlog: %s: line %d: column %s: %q is not a number", path, line, c.name, rec[at[i]])
			}
		}
		if check != nil {
			if err := check(r); err != nil {
				return nil, fmt.Errorf("runlog: %s: line %d: %w", path, line, err)
			}
		}
		rows = append(rows, r)
	}
}
