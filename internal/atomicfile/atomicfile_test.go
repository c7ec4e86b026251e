package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := Write(path, func(f *os.File) error { _, err := f.WriteString("old"); return err }); err != nil {
		t.Fatal(err)
	}
	// A failing fill leaves the old file and no temporary file.
	boom := errors.New("boom")
	if err := Write(path, func(f *os.File) error { f.WriteString("half"); return boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want the fill's", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("after a failed write the file holds %q, want the old %q", b, "old")
	}
	if err := Write(path, func(f *os.File) error { _, err := f.WriteString("new"); return err }); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	entries, _ := os.ReadDir(dir)
	if string(b) != "new" || st.Mode().Perm() != 0o644 || len(entries) != 1 {
		t.Errorf("file %q mode %v, %d entries in the directory; want \"new\", -rw-r--r--, 1", b, st.Mode().Perm(), len(entries))
	}
	if err := Write(filepath.Join(dir, "no", "such", "dir"), func(*os.File) error { return nil }); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// A target that is not a regular file (here a FIFO, a directory and a link
// to a FIFO; as root, /dev/full too) is refused before fill runs and is
// left as it was, with no temporary file behind.
func TestRefusesNonRegularTargets(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, kind string }{{fifo, "a FIFO"}, {sub, "a directory"}, {link, "a FIFO"}} {
		ran := false
		err := Write(tc.path, func(f *os.File) error { ran = true; _, err := f.WriteString("x"); return err })
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tc.kind) || ran {
			t.Errorf("%s: error %v (fill ran: %v); want %s refused before any work", tc.path, err, ran, tc.kind)
		}
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO is now %v (%v)", st.Mode(), err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is now %v (%v)", st.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d entries in the directory, want the 3 made here (a temporary file left?)", len(entries))
	}
	if err := CheckTarget(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing target: %v", err)
	}
}

// RemovePending removes the temporary files of writes in progress (what a
// second Ctrl-C does before exiting at once).
func TestRemovePending(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	var tmp string
	err := Write(path, func(f *os.File) error {
		tmp = f.Name()
		RemovePending()
		if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the temporary file %s is still there: %v", tmp, err)
		}
		return errors.New("stop")
	})
	if err == nil {
		t.Fatal("the write succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d entries left", len(entries))
	}
}

// A write removes the temporary files of earlier writes of the same file
// whose process is gone (a SIGKILL in the middle of a write leaves one),
// and keeps those of a live process and those of other files.
func TestWriteRemovesStaleTemporaries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.safetensors")
	// The PID of a process that has exited.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true(1) to get a dead PID:", err)
	}
	dead := cmd.Process.Pid
	stale := filepath.Join(dir, tempPrefix(path, dead)+"123")
	live := filepath.Join(dir, tempPrefix(path, os.Getppid())+"456")
	other := filepath.Join(dir, tempPrefix(filepath.Join(dir, "other"), dead)+"789")
	for _, p := range []string{stale, live, other} {
		if err := os.WriteFile(p, []byte("torn"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(path, func(f *os.File) error { _, err := f.WriteString("new"); return err }); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{stale: false, live: true, other: true, path: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
}

// Link replaces its target with the source's bytes (a hard link) and leaves
// no temporary file; RemoveTemps removes every temporary file of a
// directory, a live writer's too, and nothing else.
func TestLinkAndRemoveTemps(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "step-1"), filepath.Join(dir, "latest")
	for _, p := range []string{src, dst} {
		if err := os.WriteFile(p, []byte(filepath.Base(p)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := Link(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "step-1" {
		t.Errorf("after Link the target holds %q, want the source's bytes", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d entries after Link, want 2 (no temporary file)", len(entries))
	}
	if err := Link(src, dir); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Link over a directory: %v, want ErrNotRegular", err)
	}
	temps := []string{tempPrefix(dst, os.Getpid()) + "1", tempPrefix(src, 1) + "link"}
	for _, n := range append(temps, ".keep.tmp", "a.tmp-1-2") {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	RemoveTemps(dir)
	for _, n := range append(temps, ".keep.tmp", "a.tmp-1-2") {
		_, err := os.Stat(filepath.Join(dir, n))
		if gone, want := err != nil, n == temps[0] || n == temps[1]; gone != want {
			t.Errorf("%s: removed %v, want %v", n, gone, want)
		}
	}
}
