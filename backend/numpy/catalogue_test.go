package numpy

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/plugin"
)

// catalogueFile is what the plugin reads at start: the handshake values, the
// versions Hello must carry and the op catalogue, so that its op dispatch is
// keyed by the catalogue's op names rather than by numbers copied by hand.
const catalogueFile = "catalogue.json"

// catalogue is the content of catalogue.json.
type catalogue struct {
	Comment          string           `json:"comment"`
	MagicCookieKey   string           `json:"magic_cookie_key"`
	MagicCookieValue string           `json:"magic_cookie_value"`
	ProtocolVersion  int              `json:"protocol_version"`
	APIVersion       int              `json:"api_version"`
	CatalogueHash    string           `json:"catalogue_hash"`
	ChunkBytes       int              `json:"chunk_bytes"`
	DTypes           map[string]uint8 `json:"dtypes"`
	Ops              []catalogueOp    `json:"ops"`
}

type catalogueOp struct {
	Op       backend.Op      `json:"op"`
	Name     string          `json:"name"`
	Args     []catalogueArg  `json:"args"`
	Attrs    []catalogueAttr `json:"attrs"`
	InPlace  bool            `json:"in_place"`
	Optional bool            `json:"optional"`
}

type catalogueArg struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	DType    string `json:"dtype"`
	Optional bool   `json:"optional,omitempty"`
	Variadic bool   `json:"variadic,omitempty"`
}

// catalogueAttr is one attribute of an op, in the order RunOp.attrs carries
// them: its name (backend.Attrs' field) and type (bool, int or float).
type catalogueAttr struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// generatedCatalogue returns catalogue.json as it must read.
func generatedCatalogue() ([]byte, error) {
	c := catalogue{
		Comment: "Generated from the Go code by TestCatalogueIsCurrent (IJEPA_UPDATE_DOCS=1 go test ./backend/numpy rewrites it): " +
			"the go-plugin handshake, what Hello must say, and the op catalogue (docs/OPS.md has each op's semantics).",
		MagicCookieKey:   plugin.Handshake.MagicCookieKey,
		MagicCookieValue: plugin.Handshake.MagicCookieValue,
		ProtocolVersion:  plugin.ProtocolVersion,
		APIVersion:       backend.APIVersion,
		CatalogueHash:    backend.CatalogueHash(),
		ChunkBytes:       plugin.ChunkBytes,
		DTypes:           map[string]uint8{},
	}
	for d := backend.DType(1); d != 0; d++ {
		if d.Valid() {
			c.DTypes[d.String()] = uint8(d)
		}
	}
	for _, op := range backend.Ops() {
		s := op.Spec()
		o := catalogueOp{Op: op, Name: s.Name, InPlace: s.InPlace, Optional: s.Optional, Args: []catalogueArg{}, Attrs: []catalogueAttr{}}
		for _, a := range s.Args {
			o.Args = append(o.Args, catalogueArg{Name: a.Name, Role: a.Role.String(), DType: a.DType.String(), Optional: a.Optional, Variadic: a.Variadic})
		}
		for _, a := range s.Attrs {
			o.Attrs = append(o.Attrs, catalogueAttr{Name: a, Type: backend.AttrType(a)})
		}
		c.Ops = append(c.Ops, o)
	}
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// catalogue.json is what the Go code says. A change of the catalogue, the
// handshake or the API version that is not carried to the plugin fails
// here, before the host refuses the plugin at start.
func TestCatalogueIsCurrent(t *testing.T) {
	want, err := generatedCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("IJEPA_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(catalogueFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(catalogueFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run IJEPA_UPDATE_DOCS=1 go test ./backend/numpy", catalogueFile)
	}
}
