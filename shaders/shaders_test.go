package shaders

import (
	"bytes"
	"os"
	"testing"

	"github.com/ijepa-go/ijepa/internal/testdep"
	"github.com/ijepa-go/ijepa/shaders/glslc"
)

// The committed SPIR-V is what `go generate` would write now: every .comp
// has its .spv, every .spv its .comp, and recompiling gives the same bytes.
// scripts/deps.sh installs glslc; where it is missing the test skips, and
// under the test command (IJEPA_TEST_STRICT=1) fails.
func TestSPIRVCurrent(t *testing.T) {
	if _, err := glslc.Path(); err != nil {
		testdep.Skip(t, "cannot check the SPIR-V: %v", err)
	}
	version, _ := glslc.Version()
	srcs, err := glslc.Sources(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) == 0 {
		t.Fatal("no .comp sources")
	}
	want := map[string]bool{}
	for _, s := range srcs {
		want[glslc.Output(s)] = true
		got, err := glslc.Compile(".", s)
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(glslc.Output(s))
		if err != nil {
			t.Errorf("%s has no committed %s: run go generate ./shaders", s, glslc.Output(s))
			continue
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("%s is stale: %s compiles to other SPIR-V with %s; run go generate ./shaders", glslc.Output(s), s, version)
		}
	}
	for _, n := range Names() {
		if !want[n+".spv"] {
			t.Errorf("%s.spv has no source %s.comp: run go generate ./shaders", n, n)
		}
	}
}

func TestSPIRV(t *testing.T) {
	names := Names()
	if len(names) == 0 {
		t.Fatal("no embedded kernels")
	}
	for _, n := range names {
		if _, err := SPIRV(n); err != nil {
			t.Error(err)
		}
	}
	if _, err := SPIRV("no-such-kernel"); err == nil {
		t.Error("SPIRV of a missing kernel succeeded")
	}
}
