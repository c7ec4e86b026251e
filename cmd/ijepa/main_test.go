package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
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

func init() {
	backend.Register(backend.Driver{Name: "test-broken", Doc: "a CPU backend with a wrong GELU (tests only)",
		Open:    func(string) (backend.Backend, error) { return broken{cpu.New()}, nil },
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
}
