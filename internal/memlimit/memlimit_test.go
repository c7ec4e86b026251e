package memlimit

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Available is at most the physical memory and, under ulimit -v, below
// that limit less the non-resident address space given.
func TestAvailable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	l := Available(0)
	if l.Bytes <= 0 || l.Bytes > physical() {
		t.Fatalf("available %v, physical %d", l, physical())
	}
	t.Logf("available: %v", l)
	if os.Getenv("MEMLIMIT_CHILD") != "" {
		l := Available(1 << 30)
		os.Stdout.WriteString(strconv.FormatInt(l.Bytes, 10) + " " + l.Source + "\n")
		return
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	out, err := exec.Command(sh, "-c", "ulimit -v 3000000 && MEMLIMIT_CHILD=1 exec "+os.Args[0]+" -test.run=^TestAvailable$").Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	first := strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	n, err := strconv.ParseInt(strings.Fields(first)[0], 10, 64)
	if err != nil || n <= 0 || n > 3000000<<10-1<<30 || !strings.Contains(first, "RLIMIT_AS") {
		t.Errorf("under ulimit -v 3000000: %q", out)
	}
}
