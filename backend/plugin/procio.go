package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
)

// tail keeps the end of a plugin's standard error, to quote when the plugin
// fails, and copies everything to w when w is set.
type tail struct {
	w io.Writer

	mu  sync.Mutex
	buf []byte
}

// tailBytes is how much of the plugin's standard error is kept.
const tailBytes = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	if t.w != nil {
		t.w.Write(p)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailBytes {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailBytes:]...)
	}
	return len(p), nil
}

// quote returns "; its standard error ended with: ..." with the last lines
// the plugin wrote, or "" when it wrote none.
func (t *tail) quote() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 12 {
		lines = lines[len(lines)-12:]
	}
	return "; its standard error ended with:\n\t" + strings.Join(lines, "\n\t")
}

// exitLog is the output of the go-plugin client's logger (JSON lines). It
// keeps the one fact the client needs from it: how the process exited.
type exitLog struct {
	mu   sync.Mutex
	exit string
}

func (l *exitLog) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		var e struct {
			Message string `json:"@message"`
			Error   string `json:"error"`
		}
		if json.Unmarshal(line, &e) != nil || e.Message != "plugin process exited" {
			continue
		}
		l.mu.Lock()
		l.exit = e.Error
		if l.exit == "" {
			l.exit = "exit status 0"
		}
		l.mu.Unlock()
	}
	return len(p), nil
}

// status returns how the process exited ("signal: killed").
func (l *exitLog) status() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.exit == "" {
		return "exit status unknown"
	}
	return fmt.Sprint(l.exit)
}
