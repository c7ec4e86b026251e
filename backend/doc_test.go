package backend_test

import (
	"os"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

const opsDoc = "../docs/OPS.md"

const opsHeader = `# The op catalogue

Generated from the table in backend/ops.go (` + "`IJEPA_UPDATE_DOCS=1 go test ./backend/`" + ` rewrites it);
every backend computes exactly this. Tensors are row-major and contiguous; "x as [R,C]" views
a tensor's elements as R rows of C. Arguments are listed in call order with their role
(in, out: written entirely, inout: read then written), ":i32" for index tensors, "..." for
a variadic argument and "?" for an optional one; attributes follow the semicolon. The plugin
protocol names an op by its number (#) and carries a call's attributes as float64 values in the
order of its row (a bool as 0 or 1).

`

// docs/OPS.md is the op table as backend.Table formats it.
func TestOpsDocIsCurrent(t *testing.T) {
	want := opsHeader + backend.Table()
	if os.Getenv("IJEPA_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(opsDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(opsDoc)
	if err != nil {
		t.Fatalf("%v (run IJEPA_UPDATE_DOCS=1 go test ./backend/)", err)
	}
	if string(got) != want {
		t.Fatalf("%s is stale: run IJEPA_UPDATE_DOCS=1 go test ./backend/", opsDoc)
	}
}
