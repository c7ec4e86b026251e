package interop

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	_ "github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/nn"
)

// FuzzOpen: any bytes are a checkpoint (a torch.save zip or pickle, or
// safetensors) whose networks load, or an error; never a panic, a hang or
// an out-of-memory. Seeds: the official-format fixture, its one-group
// variant, and testdata/fuzz/FuzzOpen.
func FuzzOpen(f *testing.F) {
	for _, p := range []string{fixtureCkpt, "testdata/tiny_1group.pth.tar"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	be, err := backend.Open("cpu")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		path := filepath.Join(t.TempDir(), "ckpt")
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Open(path, Options{Heads: fixtureHeads})
		if err != nil {
			return
		}
		defer c.Close()
		for _, p := range []Part{Target, Encoder} {
			if c.Has(p) {
				v, err := c.LoadEncoder(be, p)
				if err == nil {
					nn.Free(be, v.Params())
				}
				return
			}
		}
	})
}
