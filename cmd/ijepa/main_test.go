package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/conformance"
)

// run runs the CLI in process and returns its exit code and output.
func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// broken is a CPU backend whose GELU is a tanh approximation: close, but
// not the exact GELU the catalogue specifies.
type broken struct{ *backend.Front }

func (b broken) Run(c backend.Call) {
	b.Front.Run(c)
	if c.Op == backend.OpGELU {
		v, _ := backend.ReadF32(b.Front, c.Args[0])
		for i := range v {
			v[i] *= 1.0005
		}
		backend.WriteF32(b.Front, c.Args[0], v)
	}
}

// noOps is a CPU device whose Info lists no ops: a plugin that implements
// nothing yet.
type noOps struct{ backend.Device }

func (n noOps) Info() backend.Info {
	i := n.Device.Info()
	i.Backend, i.Ops = "test-noops", nil
	return i
}

func init() {
	backend.Register(backend.Driver{Name: "test-broken", Doc: "a CPU backend with a wrong GELU (tests only)",
		Open:    func(string) (backend.Backend, error) { return broken{cpu.New()}, nil },
		Devices: func() ([]backend.Info, error) { return nil, nil }})
	backend.Register(backend.Driver{Name: "test-noops", Doc: "a CPU backend that lists no ops (tests only)",
		Open:    func(string) (backend.Backend, error) { return backend.NewFront(noOps{cpu.New().Device()}), nil },
		Devices: func() ([]backend.Info, error) { return nil, nil }})
}

func TestConformanceCommand(t *testing.T) {
	code, out, errs := run("conformance", "--backend", "cpu", "--op", "^(gelu|add)$", "--seed", "5")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, s := range []string{"backend cpu against naive, seed 5", "gelu", "add", "PASS"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = run("conformance", "--backend", "test-broken", "--op", "^(gelu|add)$", "--seed", "5")
	if code != 1 || !strings.Contains(out, "FAIL gelu(") || strings.Contains(out, "FAIL add(") {
		t.Fatalf("a wrong GELU: exit %d, want 1 with gelu failing alone:\n%s", code, out)
	}
}

// ijepa conformance on a backend that lists no ops exits 1 and names every
// missing required op: unsupported must not pass for a required op (it did,
// with 339 "unsupported" cases and exit 0).
func TestConformanceMissingOps(t *testing.T) {
	code, out, errs := run("conformance", "--backend", "test-noops", "--seed", "5")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out, errs)
	}
	n := 0
	for _, op := range backend.Ops() {
		if op.Spec().Optional {
			continue
		}
		n++
		// cast has 16-bit cases only: its rows are "cast f16" and "cast bf16".
		if !regexp.MustCompile(`MISSING ` + op.String() + `( f16| bf16)?: a required op, and test-noops supports none of its cases`).MatchString(out) {
			t.Errorf("output does not name the missing %v:\n%s", op, out)
		}
	}
	cases := len(conformance.Cases()) + len(conformance.GradCases())
	if want := fmt.Sprintf("FAIL: 0 of %d cases passed, 0 failed, %d unsupported, %d required ops missing", cases, cases, n); !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"conformance", "--backend", "nosuch"}, `unknown backend "nosuch"`},
		{[]string{"conformance", "--op", "("}, "--op"},
		{[]string{"conformance", "--bogus"}, "flag provided but not defined"},
	} {
		code, _, errs := run(tc.args...)
		if code == 0 || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tc.args, code, errs, tc.msg)
		}
	}
}

func TestBackendsCommand(t *testing.T) {
	code, out, errs := run("backends")
	if code != 0 || !strings.Contains(out, "cpu:") || !strings.Contains(out, "--backend cpu") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// A composite: its backends, which runs which ops, and what one step
	// ran where and copied.
	code, out, errs = run("backends", "--backend", "cpu?ops=matmul,cpu", "--config", "quick")
	for _, want := range []string{
		fmt.Sprintf("composite backend cpu?ops=matmul,cpu: cpu?ops=matmul runs matmul; cpu runs the %d other ops", len(backend.Ops())-1),
		"open with --backend cpu?ops=matmul\n", fmt.Sprintf("ops 1/%d", len(backend.Ops())), "open with --backend cpu\n",
		"1 quick training step(s) after one warm-up step", "MiB copied between backends per step",
		"  cpu?ops=matmul: 141 calls: matmul 141; in ", "  cpu: 378 calls: add 68,",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("backends --backend cpu?ops=matmul,cpu: exit %d, want %q in\n%s%s", code, want, out, errs)
		}
	}
}
