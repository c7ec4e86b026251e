package bench

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// ErrAnchorUnavailable marks why the PyTorch anchor could not run at all (no
// python3, no torch, no script): a benchmark reports it and goes on.
var ErrAnchorUnavailable = errors.New("the PyTorch anchor cannot run here")

// AnchorOptions say how to run the anchor script.
type AnchorOptions struct {
	// Python is the interpreter ("/usr/bin/python3": Debian's, which has
	// python3-torch).
	Python string
	// Script is the anchor script; "" runs the copy built into the binary
	// (bench/anchor/torch_ijepa_step.py).
	Script string
	// Config is "tiny32" or "small224".
	Config string
	// Threads and Steps are passed on (0: the script's defaults).
	Threads, Steps int
}

// Anchor is what one run of the anchor measured.
type Anchor struct {
	// Line is the line the script printed.
	Line string
	// Torch is PyTorch's version.
	Torch string
	// MsPerStep and ImgPerSec are its speed.
	MsPerStep, ImgPerSec float64
	// PeakRSS is the child process's peak resident set in bytes (0 if
	// unknown).
	PeakRSS int64
}

// anchorLine matches the script's result line:
// "tiny32 torch 1.13.0 threads=2: 1724.1 ms/step 37.1 img/s".
var anchorLine = regexp.MustCompile(`^(\S+) torch (\S+) threads=(\d+): ([0-9.]+) ms/step ([0-9.]+) img/s$`)

// anchorScript is the PyTorch anchor: the same I-JEPA step as ours, timed.
//
//go:embed anchor/torch_ijepa_step.py
var anchorScript []byte

// RunAnchor runs the anchor script as a child process and parses its result.
// When python3, torch or the script is missing the error wraps
// ErrAnchorUnavailable and says what is missing.
func RunAnchor(ctx context.Context, o AnchorOptions) (Anchor, error) {
	if o.Script == "" {
		f, err := os.CreateTemp("", "torch_ijepa_step-*.py")
		if err != nil {
			return Anchor{}, fmt.Errorf("bench: anchor: %v", err)
		}
		defer os.Remove(f.Name())
		_, err = f.Write(anchorScript)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return Anchor{}, fmt.Errorf("bench: anchor: %v", err)
		}
		o.Script = f.Name()
	}
	if _, err := os.Stat(o.Script); err != nil {
		return Anchor{}, fmt.Errorf("%w: anchor script %s: %v", ErrAnchorUnavailable, o.Script, errors.Unwrap(err))
	}
	py, err := exec.LookPath(o.Python)
	if err != nil {
		return Anchor{}, fmt.Errorf("%w: %s not found", ErrAnchorUnavailable, o.Python)
	}
	args := []string{o.Script, o.Config}
	if o.Threads > 0 {
		args = append(args, "--threads", strconv.Itoa(o.Threads))
	}
	if o.Steps > 0 {
		args = append(args, "--steps", strconv.Itoa(o.Steps))
	}
	cmd := exec.CommandContext(ctx, py, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if runErr != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "No module named 'torch'") {
			return Anchor{}, fmt.Errorf("%w: %s has no torch (Debian: apt-get install python3-torch)", ErrAnchorUnavailable, o.Python)
		}
		return Anchor{}, fmt.Errorf("bench: anchor %s %s: %v: %s", o.Script, o.Config, runErr, lastLines(msg, 5))
	}
	a, err := parseAnchor(stdout.String())
	if err != nil {
		return Anchor{}, fmt.Errorf("bench: anchor %s %s: %v", o.Script, o.Config, err)
	}
	a.PeakRSS = childPeakRSS(cmd.ProcessState)
	return a, nil
}

// parseAnchor finds the result line in the script's output.
func parseAnchor(out string) (Anchor, error) {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		m := anchorLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ms, err1 := strconv.ParseFloat(m[4], 64)
		ips, err2 := strconv.ParseFloat(m[5], 64)
		if err1 != nil || err2 != nil || ips <= 0 {
			break
		}
		return Anchor{Line: l, Torch: m[2], MsPerStep: ms, ImgPerSec: ips}, nil
	}
	return Anchor{}, fmt.Errorf("no line ending in img/s in its output: %q", lastLines(out, 3))
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}
