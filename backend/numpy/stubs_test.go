package numpy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ijepa-go/ijepa/internal/testdep"
)

// The committed Python stubs are what generate.sh makes from backend.proto
// today: a change of the proto that is not carried to the plugin fails here.
// It needs protoc and gRPC's Python generator (Debian's protobuf-compiler
// and protobuf-compiler-grpc, which scripts/deps.sh --test installs).
func TestStubsAreCurrent(t *testing.T) {
	for _, tool := range []string{"protoc", "grpc_python_plugin"} {
		if _, err := exec.LookPath(tool); err != nil {
			testdep.Skip(t, "the stubs cannot be checked: %v", err)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("./generate.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("generate.sh: %v\n%s", err, out)
	}
	for _, name := range []string{"backend_pb2.py", "backend_pb2_grpc.py"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			version, _ := exec.Command("protoc", "--version").Output()
			t.Errorf("%s is stale (generated with %s): run backend/numpy/generate.sh", name, bytes.TrimSpace(version))
		}
	}
}
