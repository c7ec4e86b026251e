package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Every command that writes a file refuses, in one line and before any
// work, a target that exists and is not a regular file (here a FIFO and a
// directory; as root, /dev/full would be replaced by a regular file
// otherwise), leaving it as it was and no temporary file behind.
func TestOutputsRefuseNonRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	npyDir := filepath.Join(dir, "features.npy")
	if err := os.Mkdir(npyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	if code, out, errs := run("train", "--config", writeTiny(t, ""), "--run", runDir, "--steps", "1", "--quiet", "--eval=false"); code != 0 {
		t.Fatalf("train: exit %d\n%s%s", code, out, errs)
	}
	img := filepath.Join("..", "..", "docs", "img", "masks.png")
	for _, tc := range []struct {
		args []string
		kind string
	}{
		{[]string{"export", "--checkpoint", fixture, "--heads", "2", "--out", fifo}, "a FIFO"},
		{[]string{"plot", runDir, "--out", fifo}, "a FIFO"},
		{[]string{"masks", "--out", fifo}, "a FIFO"},
		{[]string{"features", "--checkpoint", runDir, "--images", "4", "--out", fifo}, "a FIFO"},
		{[]string{"embed", "--checkpoint", fixture, "--heads", "2", "--out", npyDir, img}, "a directory"},
	} {
		code, out, errs := run(tc.args...)
		if code == 0 || out != "" || !strings.Contains(errs, tc.kind+", not a regular file") || strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want one line refusing %s", tc.args, code, out, errs, tc.kind)
		}
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO is now %v (%v)", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
