package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// asMainEnv makes the test binary run as the ijepa command (TestMain), so
// tests can run it as a process: to send it signals, or to kill it.
const asMainEnv = "IJEPA_TEST_AS_MAIN"

// peakFileEnv names a file into which the command, run as a process,
// writes its peak resident memory when it ends: the VmHWM line of
// /proc/self/status, which counts from the exec. The child's rusage cannot
// tell it: Linux carries the parent's peak into a child's maxrss at exec,
// so a test process grown large by earlier tests would show as the child's
// peak.
const peakFileEnv = "IJEPA_TEST_PEAK_FILE"

// writePeak writes this process's VmHWM line to file (nothing where
// /proc/self/status has none).
func writePeak(file string) {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			os.WriteFile(file, []byte(line), 0o644)
		}
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		if file := os.Getenv(peakFileEnv); file != "" {
			code := runMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
			writePeak(file)
			os.Exit(code)
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// proc is the ijepa command running as a process, its standard error
// watched line by line.
type proc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr strings.Builder
	lines  chan string
	done   chan struct{}
}

// startIjepa starts `ijepa args...` as a process.
func startIjepa(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(os.Args[0], args...), lines: make(chan string, 1024), done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), asMainEnv+"=1"), env...)
	p.cmd.Stdout = &p.stdout
	r, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		br := bufio.NewReader(r)
		for {
			l, err := br.ReadString('\n')
			p.mu.Lock()
			p.stderr.WriteString(l)
			p.mu.Unlock()
			select {
			case p.lines <- l:
			default:
			}
			if err != nil {
				if err != io.EOF {
					t.Log(err)
				}
				return
			}
		}
	}()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

// waitFor waits for a line of standard error that contains s.
func (p *proc) waitFor(t *testing.T, s string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return
			}
		case <-p.done:
			t.Fatalf("the process ended before saying %q:\n%s", s, p.errText())
		case <-deadline:
			t.Fatalf("no line with %q within %v:\n%s", s, within, p.errText())
		}
	}
}

// wait waits for the process to end and returns its exit status.
func (p *proc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	ended := make(chan error, 1)
	go func() { <-p.done; ended <- p.cmd.Wait() }()
	select {
	case <-ended:
	case <-time.After(within):
		p.cmd.Process.Kill()
		t.Fatalf("the process did not end within %v:\n%s", within, p.errText())
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}
