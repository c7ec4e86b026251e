package main

import (
	"bufio"
	"bytes"
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

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
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
