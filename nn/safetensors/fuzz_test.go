package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader: any bytes are a safetensors file whose every tensor reads
// (and matches its checksum, when the file records one), or an error;
// never a panic, and never an allocation past the file's size. Seeds: a
// file with checksums, one without, and testdata/fuzz/FuzzReader.
func FuzzReader(f *testing.F) {
	tensors := []Tensor{
		{Name: "w", DType: "F32", Shape: []int64{2, 3}, Fill: fill(f32bytes(1, 2, 3, 4, 5, 6))},
		{Name: "i", DType: "I32", Shape: []int64{1}, Fill: fill(f32bytes(7))},
		{Name: "s", DType: "F32", Shape: []int64{}, Fill: fill(f32bytes(-1))},
	}
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := WriteFile(path, tensors, map[string]string{"step": "7"}); err != nil {
		f.Fatal(err)
	}
	withSums, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	var plain bytes.Buffer
	if err := Write(&plain, tensors, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(withSums)
	f.Add(plain.Bytes())
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			return
		}
		for _, name := range r.Names() {
			info, ok := r.Info(name)
			if !ok {
				t.Fatalf("Names lists %q, Info does not know it", name)
			}
			n := info.DataOffsets[1] - info.DataOffsets[0]
			if n < 0 || n > int64(len(raw)) {
				t.Fatalf("tensor %q: %d bytes in a %d-byte file", name, n, len(raw))
			}
			r.Read(name, make([]byte, n))
		}
		r.Verify()
	})
}
