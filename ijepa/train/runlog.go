package train

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
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
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fail("%v", err)
	}
	// A last line without its newline is a row a crash cut short (readers
	// skip it as a row still being written): it goes, so that the next row
	// starts a line of its own.
	keep, err := completeLines(f, size)
	if err != nil {
		return fail("%v", err)
	}
	if keep > 0 {
		first, err := bufio.NewReader(io.NewSectionReader(f, 0, keep)).ReadString('\n')
		if err != nil {
			return fail("%v", err)
		}
		if got := strings.TrimRight(first, "\r\n"); got != strings.Join(header, ",") {
			return fail("header %q is not %q; is this another program's file?", got, strings.Join(header, ","))
		}
	}
	if keep < size {
		if err := f.Truncate(keep); err != nil {
			return fail("%v", err)
		}
	}
	if _, err := f.Seek(keep, io.SeekStart); err != nil {
		return fail("%v", err)
	}
	a := &csvAppender{path: path, f: f, w: bufio.NewWriter(f)}
	a.c = csv.NewWriter(a.w)
	if keep == 0 {
		if err := a.write(header); err != nil {
			f.Close()
			return nil, err
		}
	}
	return a, nil
}

// completeLines returns the length of the file's complete lines: up to and
// including its last newline.
func completeLines(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 4096)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
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
