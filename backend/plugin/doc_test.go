package plugin

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

const (
	pluginsDoc = "../../docs/PLUGINS.md"
	genBegin   = "<!-- generated: TestPluginsDocIsCurrent (IJEPA_UPDATE_DOCS=1 go test ./backend/plugin/ rewrites this part) -->\n"
	genEnd     = "<!-- end generated -->\n"
)

// generatedDoc is the part of docs/PLUGINS.md that comes from the code: the
// handshake values, the versions and the op table with its numbers.
func generatedDoc() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| handshake | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| magic cookie | `%s=%s` |\n", Handshake.MagicCookieKey, Handshake.MagicCookieValue)
	fmt.Fprintf(&b, "| protocol version (go-plugin app version) | %d |\n", ProtocolVersion)
	fmt.Fprintf(&b, "| `api_version` in Hello | %d |\n", backend.APIVersion)
	fmt.Fprintf(&b, "| `catalogue_hash` in Hello | `%s` |\n", backend.CatalogueHash())
	fmt.Fprintf(&b, "| largest chunk of tensor data | %d bytes |\n", ChunkBytes)
	b.WriteString("\nWhat every op computes (the same table as [OPS.md](OPS.md)), with the numbers ops and dtypes\n" +
		"have on the wire (index tensors are i32; f32 is required). Arguments are in call order, with\n" +
		"their role (in; out: written entirely; inout: read then written), \":i32\" for index tensors,\n" +
		"\"...\" for a variadic argument and \"?\" for an optional one; attributes follow the semicolon,\n" +
		"and travel in that order:\n\n")
	b.WriteString(backend.Table())
	return b.String()
}

// The generated part of docs/PLUGINS.md is current.
func TestPluginsDocIsCurrent(t *testing.T) {
	raw, err := os.ReadFile(pluginsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, genBegin), strings.Index(doc, genEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-part markers", pluginsDoc)
	}
	want := doc[:i+len(genBegin)] + generatedDoc() + doc[j:]
	if os.Getenv("IJEPA_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(pluginsDoc, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		doc = want
	}
	if doc != want {
		t.Fatalf("%s is stale: run IJEPA_UPDATE_DOCS=1 go test ./backend/plugin/", pluginsDoc)
	}
}
