package nn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

func TestSaveLoadFile(t *testing.T) {
	be := newCPU(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	mk := func(seed uint64, dim int) []*Param {
		b := NewBuilder()
		NewBlock(b, "blocks.0", dim, 2, 2*dim)
		ps := b.Params()
		must(t, Alloc(be, ps, seed))
		return ps
	}
	src, dst := mk(1, 8), mk(2, 8)
	must(t, SaveFile(path, be, ParamTensors("encoder.", src), map[string]string{"step": "12"}))
	meta, err := LoadFile(path, be, ParamTensors("encoder.", dst))
	must(t, err)
	if meta["step"] != "12" {
		t.Errorf("metadata %v", meta)
	}
	for i := range src {
		a, _ := backend.ReadF32(be, src[i].Value)
		b, err := backend.ReadF32(be, dst[i].Value)
		must(t, err)
		for k := range a {
			if a[k] != b[k] {
				t.Fatalf("%s[%d]: loaded %v, saved %v", src[i].Name, k, b[k], a[k])
			}
		}
	}
	// No temporary file is left beside the checkpoint.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after the save, want 1", len(ents))
	}

	other := mk(3, 12)
	_, err = LoadFile(path, be, ParamTensors("encoder.", other))
	if err == nil || !strings.Contains(err.Error(), "encoder.blocks.0.norm1.weight has shape [8] in the checkpoint, the model wants [12]") {
		t.Errorf("loading into another shape: %v", err)
	}
	_, err = LoadFile(path, be, ParamTensors("target_encoder.", dst))
	if err == nil || !strings.Contains(err.Error(), "no tensor target_encoder.blocks.0.norm1.weight") {
		t.Errorf("loading missing names: %v", err)
	}
	_, err = LoadFile(path, be, ParamTensors("encoder.", dst[:3]))
	if err == nil || !strings.Contains(err.Error(), "tensors the model does not") {
		t.Errorf("loading with extra tensors in the file: %v", err)
	}
}
