package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func f32bytes(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func fill(data []byte) func([]byte) error {
	return func(dst []byte) error { copy(dst, data); return nil }
}

// TestWriteLayout checks the exact bytes of a small file: the header length,
// the JSON header (sorted keys, padded with spaces to 8-byte alignment) and
// the data in the given order.
func TestWriteLayout(t *testing.T) {
	var buf bytes.Buffer
	a, b := f32bytes(1, 2, 3, 4, 5, 6), f32bytes(-1)
	err := Write(&buf, []Tensor{
		{Name: "w", DType: "F32", Shape: []int64{2, 3}, Fill: fill(a)},
		{Name: "b", DType: "F32", Shape: []int64{1}, Fill: fill(b)},
	}, map[string]string{"step": "7"})
	if err != nil {
		t.Fatal(err)
	}
	js := `{"__metadata__":{"step":"7"},"b":{"dtype":"F32","shape":[1],"data_offsets":[24,28]},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}`
	for (8+len(js))%8 != 0 {
		js += " "
	}
	want := make([]byte, 8)
	binary.LittleEndian.PutUint64(want, uint64(len(js)))
	want = append(want, js...)
	want = append(want, a...)
	want = append(want, b...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("file bytes\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	data := map[string][]byte{"a.weight": f32bytes(1.5, -2, 3e-8), "z": {1, 0, 0, 0, 255, 255, 255, 255}, "scalar": f32bytes(9)}
	err = Write(f, []Tensor{
		{Name: "a.weight", DType: "F32", Shape: []int64{3}, Fill: fill(data["a.weight"])},
		{Name: "z", DType: "I32", Shape: []int64{1, 2}, Fill: fill(data["z"])},
		{Name: "scalar", DType: "F32", Shape: nil, Fill: fill(data["scalar"])},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := strings.Join(r.Names(), ","); got != "a.weight,z,scalar" {
		t.Errorf("names in data order: %s", got)
	}
	if r.Metadata != nil {
		t.Errorf("metadata %v, want none", r.Metadata)
	}
	for name, want := range data {
		info, ok := r.Info(name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		got := make([]byte, len(want))
		if err := r.Read(name, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		if info.NumElements()*int64(DTypeSize(info.DType)) != int64(len(want)) {
			t.Errorf("%s: info %+v does not describe %d bytes", name, info, len(want))
		}
	}
	if err := r.Read("nope", nil); err == nil {
		t.Error("reading a missing tensor succeeded")
	}
}

func rawFile(header string, data int) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), make([]byte, data)...)
}

func TestRejectsMalformed(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<40)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2}, "header length"},
		{"header past the end", huge, "does not fit"},
		{"not json", rawFile(`{"a":`, 0), "not a JSON object"},
		{"unknown dtype", rawFile(`{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}`, 4), "unknown dtype"},
		{"size mismatch", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 8), "4 data bytes"},
		{"past the data", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "outside"},
		{"negative dim", rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, 0), "invalid shape"},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "overlap"},
		{"bad metadata", rawFile(`{"__metadata__":{"x":1}}`, 0), "__metadata__"},
		{"unknown field", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), "unknown field"},
	}
	for _, c := range cases {
		_, err := NewReader(bytes.NewReader(c.file), int64(len(c.file)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestWriteRejectsBadTensors(t *testing.T) {
	for _, ts := range [][]Tensor{
		{{Name: "a", DType: "F32", Shape: []int64{1}, Fill: fill(f32bytes(1))}, {Name: "a", DType: "F32", Shape: []int64{1}, Fill: fill(f32bytes(1))}},
		{{Name: "__metadata__", DType: "F32", Shape: []int64{1}, Fill: fill(f32bytes(1))}},
		{{Name: "a", DType: "X", Shape: []int64{1}}},
	} {
		if err := Write(&bytes.Buffer{}, ts, nil); err == nil {
			t.Errorf("wrote %v", ts)
		}
	}
}

// WriteFile records a CRC-32C of every tensor; Read and Verify check it, so
// that bytes damaged after the write are an error naming the tensor (a
// damaged checkpoint used to resume without complaint and go NaN later).
// Metadata does not show the checksums; a file without them reads as
// before.
func TestChecksums(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.safetensors")
	a, b := f32bytes(1, 2, 3, 4), f32bytes(5, 6)
	err := WriteFile(path, []Tensor{
		{Name: "a", DType: "F32", Shape: []int64{4}, Fill: fill(a)},
		{Name: "b", DType: "F32", Shape: []int64{2}, Fill: fill(b)},
	}, map[string]string{"k": "v", ChecksumKey: "a caller's value is replaced"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if !f.HasChecksums() || len(f.Metadata) != 1 || f.Metadata["k"] != "v" {
		t.Errorf("checksums %v, metadata %v", f.HasChecksums(), f.Metadata)
	}
	if err := f.Verify(); err != nil {
		t.Errorf("an intact file: %v", err)
	}
	f.Close()

	raw, _ := os.ReadFile(path)
	raw[len(raw)-3] ^= 0x40 // a bit of tensor b
	os.WriteFile(path, raw, 0o644)
	f, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, 16)
	if err := f.Read("a", got); err != nil || !bytes.Equal(got, a) {
		t.Errorf("the intact tensor: %v", err)
	}
	err = f.Verify()
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), `tensor "b"`) {
		t.Errorf("Verify of a damaged file: %v", err)
	}
	if err := f.Read("b", got[:8]); !errors.Is(err, ErrChecksum) {
		t.Errorf("Read of the damaged tensor: %v", err)
	}

	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{{Name: "a", DType: "F32", Shape: []int64{4}, Fill: fill(a)}}, nil); err != nil {
		t.Fatal(err)
	}
	g, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || g.HasChecksums() || g.Verify() != nil {
		t.Errorf("a file without checksums: %v", err)
	}
}
