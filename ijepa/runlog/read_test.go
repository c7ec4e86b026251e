package runlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadLog(t *testing.T) {
	dir := t.TempDir()
	// Columns in another order, an extra column, a resumed run that
	// repeats steps 3 and 4, a NaN loss, and a row still being written.
	p := writeFile(t, dir, "log.csv", `momentum,step,epoch,loss,lr,wd,context,target,img_per_s,elapsed_s,extra
0.996,1,0,0.5,1e-4,0.04,40,9,100,1,x
0.997,2,0,0.4,2e-4,0.05,41,9,110,2,x
0.998,3,0,0.3,3e-4,0.06,42,9,120,3,x
0.999,4,1,NaN,4e-4,0.07,43,9,130,4,x
0.998,3,0,0.35,3e-4,0.06,42,9,120,0.5,x
0.999,4,1,0.25,4e-4,0.07,43,9,130,1.5,x
1.0,5,1,0.2,5e-4,0.08,44,9,140,2.5,x
1.0,6,1,0.1`)
	rows, err := ReadLog(p)
	if err != nil {
		t.Fatal(err)
	}
	wantLoss := []float64{0.5, 0.4, 0.35, 0.25, 0.2}
	if len(rows) != len(wantLoss) {
		t.Fatalf("%d rows, want %d (steps 1-5 once each; the unfinished line skipped): %+v", len(rows), len(wantLoss), rows)
	}
	for i, r := range rows {
		if r.Step != int64(i+1) || r.Loss != wantLoss[i] {
			t.Errorf("row %d: step %d loss %v, want step %d loss %v (the last row of a step wins)", i, r.Step, r.Loss, i+1, wantLoss[i])
		}
	}
	if r := rows[3]; r.Epoch != 1 || r.LR != 4e-4 || r.WD != 0.07 || r.Momentum != 0.999 || r.Context != 43 || r.Target != 9 || r.ImgPerS != 130 || r.ElapsedS != 1.5 {
		t.Errorf("row of step 4 read as %+v", r)
	}

	for _, tc := range []struct{ name, content, want string }{
		{"missing column", "step,epoch,loss\n1,0,0.5\n", `no column "lr"`},
		{"bad number", "step,epoch,loss,lr,wd,momentum,context,target,img_per_s,elapsed_s\n1,0,0.5,x,0,0,0,0,0,0\n", `line 2: column lr: "x"`},
		{"ragged row", "step,epoch,loss,lr,wd,momentum,context,target,img_per_s,elapsed_s\n1,0,0.5\n", "line 2: 3 fields"},
		{"step 0", "step,epoch,loss,lr,wd,momentum,context,target,img_per_s,elapsed_s\n0,0,0.5,0,0,0,0,0,0,0\n", "step of at least 1"},
		{"empty", "", "no header"},
	} {
		p := writeFile(t, dir, tc.name+".csv", tc.content)
		_, err := ReadLog(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", tc.name, err, p, tc.want)
		}
	}
	if _, err := ReadLog(filepath.Join(dir, "none.csv")); err == nil {
		t.Error("a missing log.csv read without error")
	}
}

func TestReadEval(t *testing.T) {
	dir := t.TempDir()
	rows, err := ReadEval(filepath.Join(dir, "eval.csv"))
	if err != nil || len(rows) != 0 {
		t.Fatalf("missing eval.csv: %v %v, want no rows and no error (no evaluation yet)", rows, err)
	}
	p := writeFile(t, dir, "eval.csv", "step,features,probe_acc,knn_acc\n100,target,0.8,0.7\n0,target,0.3,0.25\n0,pixels,0.2,0.2\n")
	rows, err = ReadEval(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []EvalRow{{Step: 0, Features: FeaturesTarget, ProbeAcc: 0.3, KNNAcc: 0.25}, {Step: 0, Features: FeaturesPixels, ProbeAcc: 0.2, KNNAcc: 0.2}, {Step: 100, Features: FeaturesTarget, ProbeAcc: 0.8, KNNAcc: 0.7}}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v, want %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
}
