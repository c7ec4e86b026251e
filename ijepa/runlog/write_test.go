package runlog

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// log.csv is appended to, never rewritten: a row cut short by a crash (no
// newline yet) is dropped before the next, ReadLog (as the viewer and plot
// read it) takes the last row of a step, and a file with another header is
// refused.
func TestLogAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogFile)
	w, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for s := int64(1); s <= 3; s++ {
		if err := w.Write(LogRow{Step: s, Loss: 0.5 / float64(s), LR: 1e-3}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	// A crash in the middle of step 4's row.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("4,0,0.12")
	f.Close()
	// The resumed run (from a checkpoint at step 2) repeats steps 3 and 4.
	w, err = OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for s := int64(3); s <= 4; s++ {
		if err := w.Write(LogRow{Step: s, Loss: 0.25, LR: 2e-3}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "0.12") || !strings.HasSuffix(string(raw), "\n") {
		t.Errorf("the cut row is still there:\n%s", raw)
	}
	rows, err := ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []LogRow{{Step: 1, Loss: 0.5, LR: 1e-3}, {Step: 2, Loss: 0.25, LR: 1e-3}, {Step: 3, Loss: 0.25, LR: 2e-3}, {Step: 4, Loss: 0.25, LR: 2e-3}}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
	other := filepath.Join(t.TempDir(), "other.csv")
	os.WriteFile(other, []byte("a,b\n1,2\n"), 0o644)
	if _, err := OpenLog(other); err == nil || !strings.Contains(err.Error(), other) {
		t.Errorf("another program's csv: %v", err)
	}
	if b, _ := os.ReadFile(other); string(b) != "a,b\n1,2\n" {
		t.Errorf("the refused file changed: %q", b)
	}
	if err := AppendEval(other, []EvalRow{{Step: 1}}); err == nil || !strings.Contains(err.Error(), other) {
		t.Errorf("eval rows appended to another program's csv: %v", err)
	}
}

// Every value a row holds is written so that it reads back as it was: the
// loss (a float32) exactly, the rates at full precision, the throughput,
// time and accuracies at the precision the format gives them.
func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	logRows := []LogRow{
		{Step: 1, Epoch: 0, Loss: float64(float32(0.123456789)), LR: 1.0000000000000002e-4, WD: 0.04, Momentum: 0.996,
			Context: 41, Target: 9, ImgPerS: 123.4, ElapsedS: 5.125},
		{Step: 2, Epoch: 1, Loss: float64(float32(1e-7)), LR: 3e-4, WD: 0.4, Momentum: 1, Context: 3, Target: 2, ImgPerS: 0.5, ElapsedS: 10.25},
	}
	w, err := OpenLog(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range logRows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLog(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(logRows) {
		t.Fatalf("%d rows read, %d written", len(got), len(logRows))
	}
	for i := range logRows {
		// The loss is a float32: its shortest 32-bit form reads back as
		// the same float32.
		g := got[i]
		if float32(g.Loss) == float32(logRows[i].Loss) {
			g.Loss = logRows[i].Loss
		}
		if g != logRows[i] {
			t.Errorf("log row %d: read %+v, wrote %+v", i, got[i], logRows[i])
		}
	}
	evalRows := []EvalRow{{Step: 0, Features: FeaturesTarget, ProbeAcc: 0.125, KNNAcc: 0.25}, {Step: 0, Features: FeaturesPixels, ProbeAcc: 0.5, KNNAcc: 0.0625}, {Step: 7, Features: FeaturesRandom, ProbeAcc: 1}}
	path := Path(dir, EvalFile)
	if err := AppendEval(path, evalRows[:2]); err != nil {
		t.Fatal(err)
	}
	if err := AppendEval(path, evalRows[2:]); err != nil {
		t.Fatal(err)
	}
	gotEval, err := ReadEval(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotEval) != len(evalRows) {
		t.Fatalf("eval rows %+v, wrote %+v", gotEval, evalRows)
	}
	for i := range evalRows {
		if gotEval[i] != evalRows[i] {
			t.Errorf("eval row %d: read %+v, wrote %+v", i, gotEval[i], evalRows[i])
		}
	}
	raw, _ := os.ReadFile(path)
	if lines := strings.Count(string(raw), "\n"); lines != 4 {
		t.Errorf("eval.csv has %d lines, want a header and 3 rows:\n%s", lines, raw)
	}
}

// A log.csv or eval.csv that is not a regular file (here a FIFO) is
// refused by name, not opened.
func TestAppendRefusesNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LogFile)
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	if _, err := OpenLog(path); err == nil || !strings.Contains(err.Error(), "is a FIFO, not a regular file") {
		t.Errorf("OpenLog on a FIFO: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, EvalFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := AppendEval(filepath.Join(dir, EvalFile), []EvalRow{{Step: 1}}); err == nil || !strings.Contains(err.Error(), "is a directory, not a regular file") {
		t.Errorf("AppendEval on a directory: %v", err)
	}
}

// log.csv's columns added later (relaxed, loss_scale) read back, and files
// of each earlier layout (the first version's, and the one with relaxed but
// no loss_scale) are appended to in their own layout (so their rows keep one
// field count) and read with the missing columns 0. Catches an added column
// making files of the layouts before unreadable.
func TestLogColumnsAddedLater(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LogFile)
	w, err := OpenLog(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(LogRow{Step: 1, Loss: 0.5, Relaxed: 1, LossScale: 32768})
	w.Close()
	rows, err := ReadLog(path)
	if err != nil || len(rows) != 1 || rows[0].LossScale != 32768 || rows[0].Relaxed != 1 {
		t.Fatalf("rows %+v, %v", rows, err)
	}
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), strings.Join(LogHeader, ",")+"\n") ||
		!slices.Contains(LogHeader, "relaxed") || !slices.Contains(LogHeader, "loss_scale") {
		t.Errorf("file %q", b)
	}
	for i, header := range []string{
		"step,epoch,loss,lr,wd,momentum,context,target,img_per_s,elapsed_s",
		"step,epoch,loss,lr,wd,momentum,context,target,img_per_s,elapsed_s,relaxed",
	} {
		old := filepath.Join(dir, fmt.Sprintf("old%d.csv", i))
		line := "1,0,0.5,0.001,0.04,0.996,40,9,100.0,0.100" + strings.Repeat(",2", i)
		os.WriteFile(old, []byte(header+"\n"+line+"\n"), 0o644)
		w, err := OpenLog(old)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(LogRow{Step: 2, Loss: 0.25, Relaxed: 3, LossScale: 2})
		w.Close()
		b, _ := os.ReadFile(old)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 3 || lines[0] != header || strings.Count(lines[2], ",") != strings.Count(header, ",") {
			t.Errorf("%s after a row: %q", header, b)
		}
		rows, err := ReadLog(old)
		wantRelaxed := []int{0, 3}[i] // the first layout has no relaxed column
		if err != nil || len(rows) != 2 || rows[1].Loss != 0.25 || rows[1].LossScale != 0 || rows[1].Relaxed != wantRelaxed {
			t.Errorf("%s: rows %+v, %v", header, rows, err)
		}
	}
}
