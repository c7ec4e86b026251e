package train

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The files of a run directory (docs/RUNS.md).
const (
	ConfigFile     = "config.yaml"
	LogFile        = "log.csv"
	EvalFile       = "eval.csv"
	CheckpointDir  = "checkpoints"
	LatestFile     = "latest.safetensors"
	checkpointName = "step-%07d.safetensors"
)

// LogHeader and EvalHeader are the columns of log.csv and eval.csv.
var (
	LogHeader  = []string{"step", "epoch", "loss", "lr", "wd", "momentum", "context", "target", "img_per_s", "elapsed_s"}
	EvalHeader = []string{"step", "features", "probe_acc", "knn_acc"}
)

// LogRow is one row of log.csv: one training step.
type LogRow struct {
	// Step is the global step, 1-based (the step the schedules were
	// evaluated at); Epoch is its 0-based epoch.
	Step, Epoch int64
	// Loss is the step's loss; LR, WD and Momentum the scheduled values it
	// used.
	Loss, LR, WD, Momentum float64
	// Context and Target are the patches per context and per target block.
	Context, Target int
	// ImgPerS is the step's throughput (data wait included); ElapsedS the
	// seconds since the run (or the resumed run) started.
	ImgPerS, ElapsedS float64
}

func (r LogRow) record() []string {
	return []string{
		strconv.FormatInt(r.Step, 10), strconv.FormatInt(r.Epoch, 10),
		// The loss is a float32 value: 32-bit shortest form reads back exactly.
		strconv.FormatFloat(r.Loss, 'g', -1, 32),
		fmtFloat(r.LR), fmtFloat(r.WD), fmtFloat(r.Momentum),
		strconv.Itoa(r.Context), strconv.Itoa(r.Target),
		strconv.FormatFloat(r.ImgPerS, 'f', 1, 64), strconv.FormatFloat(r.ElapsedS, 'f', 3, 64),
	}
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

func (r EvalRow) record() []string {
	return []string{strconv.FormatInt(r.Step, 10), r.Features,
		strconv.FormatFloat(r.ProbeAcc, 'f', 4, 64), strconv.FormatFloat(r.KNNAcc, 'f', 4, 64)}
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// csvAppender appends rows to a CSV file with a fixed header, writing the
// header when the file is new and checking it otherwise. Rows already in the
// file are never rewritten; each row is flushed as it is written.
type csvAppender struct {
	path string
	f    *os.File
	w    *bufio.Writer
	c    *csv.Writer
}

func openCSV(path string, header []string) (*csvAppender, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ijepa: %w", err)
	}
	fail := func(format string, args ...any) (*csvAppender, error) {
		f.Close()
		return nil, fmt.Errorf("ijepa: %s: "+format, append([]any{path}, args...)...)
	}
	first, err := bufio.NewReader(f).ReadString('\n')
	switch {
	case err == io.EOF && first == "":
		// A new (or empty) file: the header goes first.
	case err != nil && err != io.EOF:
		return fail("%v", err)
	default:
		if got := strings.TrimRight(first, "\r\n"); got != strings.Join(header, ",") {
			return fail("header %q is not %q; is this another program's file?", got, strings.Join(header, ","))
		}
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fail("%v", err)
	}
	a := &csvAppender{path: path, f: f, w: bufio.NewWriter(f)}
	a.c = csv.NewWriter(a.w)
	if end > 0 {
		// A row cut short by a crash is ended, so the next row starts on a line of its own.
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, end-1); err != nil {
			return fail("%v", err)
		}
		if last[0] != '\n' {
			if _, err := a.w.WriteString("\n"); err != nil {
				return fail("%v", err)
			}
		}
	} else if err := a.write(header); err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

func (a *csvAppender) write(rec []string) error {
	if err := a.c.Write(rec); err != nil {
		return fmt.Errorf("ijepa: %s: %w", a.path, err)
	}
	a.c.Flush()
	if err := a.c.Error(); err != nil {
		return fmt.Errorf("ijepa: %s: %w", a.path, err)
	}
	if err := a.w.Flush(); err != nil {
		return fmt.Errorf("ijepa: %s: %w", a.path, err)
	}
	return nil
}

func (a *csvAppender) Close() error {
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("ijepa: %s: %w", a.path, err)
	}
	return nil
}

// ReadLog reads a log.csv and returns its rows, keeping for each step the
// last row written (a resumed run repeats the steps after its checkpoint),
// in step order.
func ReadLog(path string) ([]LogRow, error) {
	recs, err := readCSV(path, LogHeader)
	if err != nil {
		return nil, err
	}
	byStep := map[int64]int{}
	var rows []LogRow
	for i, rec := range recs {
		var r LogRow
		var perr error
		num := func(s string) float64 {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil && perr == nil {
				perr = err
			}
			return x
		}
		r.Step = int64(num(rec[0]))
		r.Epoch = int64(num(rec[1]))
		r.LR, r.WD, r.Momentum = num(rec[3]), num(rec[4]), num(rec[5])
		// The loss is written as a float32 value; read it back as one.
		loss, err := strconv.ParseFloat(rec[2], 32)
		if err != nil {
			perr = err
		}
		r.Loss = loss
		r.Context, r.Target = int(num(rec[6])), int(num(rec[7]))
		r.ImgPerS, r.ElapsedS = num(rec[8]), num(rec[9])
		if perr != nil {
			return nil, fmt.Errorf("ijepa: %s: row %d: %v", path, i+2, perr)
		}
		if k, ok := byStep[r.Step]; ok {
			rows[k] = r
			continue
		}
		byStep[r.Step] = len(rows)
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b LogRow) int { return cmp.Compare(a.Step, b.Step) })
	return rows, nil
}

// ReadEval reads an eval.csv.
func ReadEval(path string) ([]EvalRow, error) {
	recs, err := readCSV(path, EvalHeader)
	if err != nil {
		return nil, err
	}
	rows := make([]EvalRow, len(recs))
	for i, rec := range recs {
		step, err1 := strconv.ParseInt(rec[0], 10, 64)
		p, err2 := strconv.ParseFloat(rec[2], 64)
		k, err3 := strconv.ParseFloat(rec[3], 64)
		for _, err := range []error{err1, err2, err3} {
			if err != nil {
				return nil, fmt.Errorf("ijepa: %s: row %d: %v", path, i+2, err)
			}
		}
		rows[i] = EvalRow{Step: step, Features: rec[1], ProbeAcc: p, KNNAcc: k}
	}
	return rows, nil
}

// readCSV reads a CSV file with the given header and returns the rows after
// it. A row with fewer fields than the header (cut short by a crash; the
// resumed run writes its step again) is skipped.
func readCSV(path string, header []string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ijepa: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("ijepa: %s: %w", path, err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(header, ",") {
		return nil, fmt.Errorf("ijepa: %s: the first line is not the header %q", path, strings.Join(header, ","))
	}
	var out [][]string
	for i, rec := range recs[1:] {
		switch {
		case len(rec) < len(header):
			continue
		case len(rec) > len(header):
			return nil, fmt.Errorf("ijepa: %s: row %d has %d fields, want %d", path, i+2, len(rec), len(header))
		}
		out = append(out, rec)
	}
	return out, nil
}
