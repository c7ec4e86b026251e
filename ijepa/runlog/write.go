package runlog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ijepa-go/ijepa/internal/atomicfile"
)

// LogWriter appends rows to a log.csv.
type LogWriter struct {
	a    *appender
	cols []column[LogRow]
}

// OpenLog opens the log.csv at path for appending, creating it with its
// header when it does not exist. Rows already in the file are never
// rewritten, except that a last line without its newline — a row a crash
// cut short — is dropped. A file written before a column was added is
// appended to in its own layout; a file with another header is refused,
// and left as it is.
func OpenLog(path string) (*LogWriter, error) {
	a, cols, err := openAppender(path, logColumns)
	if err != nil {
		return nil, err
	}
	return &LogWriter{a, cols}, nil
}

// Write appends r and flushes it to the file.
func (w *LogWriter) Write(r LogRow) error { return w.a.write(record(w.cols, &r)) }

// Close closes the file.
func (w *LogWriter) Close() error { return w.a.close() }

// AppendEval appends rows to the eval.csv at path, creating it with its
// header when it does not exist (and otherwise as OpenLog treats log.csv).
func AppendEval(path string, rows []EvalRow) error {
	a, cols, err := openAppender(path, evalColumns)
	if err != nil {
		return err
	}
	for i := range rows {
		if err := a.write(record(cols, &rows[i])); err != nil {
			a.close()
			return err
		}
	}
	return a.close()
}

// appender appends records to a CSV file with a fixed header, flushing
// each record as it is written.
type appender struct {
	path string
	f    *os.File
	w    *bufio.Writer
	c    *csv.Writer
}

// openAppender opens the CSV file of cols at path for appending and
// returns the columns of its layout (layouts): all of cols for a new file.
func openAppender[R any](path string, cols []column[R]) (*appender, []column[R], error) {
	if err := atomicfile.CheckTarget(path); err != nil {
		return nil, nil, fmt.Errorf("runlog: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("runlog: %w", err)
	}
	fail := func(format string, args ...any) (*appender, []column[R], error) {
		f.Close()
		return nil, nil, fmt.Errorf("runlog: %s: "+format, append([]any{path}, args...)...)
	}
	header := names(cols)
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
		got := strings.TrimRight(first, "\r\n")
		found := false
		for _, l := range layouts(cols) {
			if got == strings.Join(names(l), ",") {
				cols, found = l, true
				break
			}
		}
		if !found {
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
	a := &appender{path: path, f: f, w: bufio.NewWriter(f)}
	a.c = csv.NewWriter(a.w)
	if keep == 0 {
		if err := a.write(header); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	return a, cols, nil
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

func (a *appender) write(rec []string) error {
	if err := a.c.Write(rec); err != nil {
		return fmt.Errorf("runlog: %s: %w", a.path, err)
	}
	a.c.Flush()
	if err := a.c.Error(); err != nil {
		return fmt.Errorf("runlog: %s: %w", a.path, err)
	}
	if err := a.w.Flush(); err != nil {
		return fmt.Errorf("runlog: %s: %w", a.path, err)
	}
	return nil
}

func (a *appender) close() error {
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("runlog: %s: %w", a.path, err)
	}
	return nil
}
