package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/ijepa/viz"
)

// log.csv is appended to, never rewritten: a row cut short by a crash (no
// newline yet) is dropped before the next, a reader (ijepa/viz, as the
// viewer and plot read it) takes the last row of a step, and a file with
// another header is refused.
func TestLogAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogFile)
	w, err := openCSV(path, LogHeader)
	if err != nil {
		t.Fatal(err)
	}
	for s := int64(1); s <= 3; s++ {
		if err := w.write(LogRow{Step: s, Loss: 0.5 / float64(s), LR: 1e-3}.record()); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	// A crash in the middle of step 4's row.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("4,0,0.12")
	f.Close()
	// The resumed run (from a checkpoint at step 2) repeats steps 3 and 4.
	w, err = openCSV(path, LogHeader)
	if err != nil {
		t.Fatal(err)
	}
	for s := int64(3); s <= 4; s++ {
		if err := w.write(LogRow{Step: s, Loss: 0.25, LR: 2e-3}.record()); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "0.12") || !strings.HasSuffix(string(raw), "\n") {
		t.Errorf("the cut row is still there:\n%s", raw)
	}
	rows, err := viz.ReadLog(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []viz.LogRow{{Step: 1, Loss: 0.5, LR: 1e-3}, {Step: 2, Loss: 0.25, LR: 1e-3}, {Step: 3, Loss: 0.25, LR: 2e-3}, {Step: 4, Loss: 0.25, LR: 2e-3}}
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
	if _, err := openCSV(other, LogHeader); err == nil || !strings.Contains(err.Error(), other) {
		t.Errorf("another program's csv: %v", err)
	}
	if b, _ := os.ReadFile(other); string(b) != "a,b\n1,2\n" {
		t.Errorf("the refused file changed: %q", b)
	}
}

func TestPickAndPool(t *testing.T) {
	idx := pick(100, 30, 5, true)
	if len(idx) != 30 {
		t.Fatalf("%d indices", len(idx))
	}
	classes := map[int]bool{}
	for i := range idx {
		if i > 0 && idx[i] <= idx[i-1] {
			t.Fatalf("not increasing: %v", idx)
		}
		classes[idx[i]%10] = true
	}
	if len(classes) < 8 {
		t.Errorf("30 of 100 images cover %d of 10 classes stored in turn: %v", len(classes), idx)
	}
	if all := pick(10, 0, 5, true); len(all) != 10 || all[9] != 9 {
		t.Errorf("pick all: %v", all)
	}
	// A 4x4 image pooled to 2x2: each output the mean of a 2x2 block.
	img := make([]float32, 3*16)
	for i := range img {
		img[i] = float32(i)
	}
	out, d, err := poolPixels(img, 4, 2)
	if err != nil || d != 12 {
		t.Fatal(d, err)
	}
	if want := []float32{2.5, 4.5, 10.5, 12.5}; out[0] != want[0] || out[1] != want[1] || out[2] != want[2] || out[3] != want[3] {
		t.Errorf("channel 0 pooled %v, want %v", out[:4], want)
	}
	if out[4] != 18.5 {
		t.Errorf("channel 1 starts %v, want 18.5", out[4])
	}
	same, d, _ := poolPixels(img, 4, 32)
	if d != 48 || &same[0] != &img[0] {
		t.Error("an image no larger than the side is not used as is")
	}
}
