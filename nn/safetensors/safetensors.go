// Package safetensors reads and writes the safetensors format
// (huggingface/safetensors): an 8-byte little-endian header length N, N
// bytes of JSON mapping each tensor name to {"dtype", "shape",
// "data_offsets": [begin, end]} plus an optional "__metadata__" map of
// strings, then the raw little-endian tensor data, offsets counted from the
// end of the header. Tensors are written and read one at a time, so a
// checkpoint larger than memory streams through.
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/ijepa-go/ijepa/internal/atomicfile"
)

// MaxHeader is the largest header accepted (the reference implementation's
// limit, 100 MB).
const MaxHeader = 100 << 20

// DTypeSize returns the size in bytes of one element of a safetensors
// dtype ("F32", "BF16", ...), or 0 for an unknown one.
func DTypeSize(dtype string) int {
	switch dtype {
	case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3":
		return 1
	case "I16", "U16", "F16", "BF16":
		return 2
	case "I32", "U32", "F32":
		return 4
	case "I64", "U64", "F64":
		return 8
	}
	return 0
}

// Info describes one tensor of a file.
type Info struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// NumElements returns the product of the shape (1 for a scalar).
func (i Info) NumElements() int64 {
	n := int64(1)
	for _, d := range i.Shape {
		n *= d
	}
	return n
}

// Tensor is one tensor to write: its name, dtype, shape, and a function
// that fills its data (exactly NumElements*DTypeSize bytes, little-endian).
type Tensor struct {
	Name  string
	DType string
	Shape []int64
	Fill  func(dst []byte) error
}

// Write writes tensors (in the given order) and metadata to w. Names must be
// unique and not "__metadata__".
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	sizes := make([]int64, len(tensors))
	for k, t := range tensors {
		if t.Name == "__metadata__" || t.Name == "" {
			return fmt.Errorf("safetensors: invalid tensor name %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: tensor %q given twice", t.Name)
		}
		es := DTypeSize(t.DType)
		if es == 0 {
			return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		n := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: tensor %q: negative dimension in %v", t.Name, t.Shape)
			}
			n *= d
		}
		sizes[k] = n * int64(es)
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		header[t.Name] = Info{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + sizes[k]}}
		off += sizes[k]
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: header: %w", err)
	}
	// Pad the header with spaces so the data starts 8-byte aligned.
	for (8+len(js))%8 != 0 {
		js = append(js, ' ')
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(js)))
	if _, err := bw.Write(n[:]); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if _, err := bw.Write(js); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	var buf []byte
	for k, t := range tensors {
		if int64(cap(buf)) < sizes[k] {
			buf = make([]byte, sizes[k])
		}
		b := buf[:sizes[k]]
		if err := t.Fill(b); err != nil {
			return fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		if _, err := bw.Write(b); err != nil {
			return fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// WriteFile writes tensors and metadata to the file path atomically: into
// a temporary file in the same directory, synced and renamed over path, so
// a crash or an error leaves either the old file or the complete new one.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, func(f *os.File) error { return Write(f, tensors, metadata) })
}

// File is a safetensors file opened for reading.
type File struct {
	r         io.ReaderAt
	closer    io.Closer
	dataStart int64
	tensors   map[string]Info
	names     []string
	// Metadata is the header's __metadata__ map (nil when absent).
	Metadata map[string]string
}

// Open opens and validates the header of the file at path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	sf, err := NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sf.closer = f
	return sf, nil
}

// NewReader reads and validates the header of a safetensors file of the
// given size from r.
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	var n [8]byte
	if _, err := r.ReadAt(n[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: reading the header length: %w", err)
	}
	hl := binary.LittleEndian.Uint64(n[:])
	if hl > MaxHeader || int64(hl) > size-8 {
		return nil, fmt.Errorf("safetensors: header length %d does not fit a %d-byte file (limit %d)", hl, size, MaxHeader)
	}
	js := make([]byte, hl)
	if _, err := r.ReadAt(js, 8); err != nil {
		return nil, fmt.Errorf("safetensors: reading the header: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	f := &File{r: r, dataStart: 8 + int64(hl), tensors: map[string]Info{}}
	dataLen := size - f.dataStart
	for name, v := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(v, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ is not a map of strings: %w", err)
			}
			continue
		}
		var info Info
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&info); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		es := DTypeSize(info.DType)
		if es == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, info.DType)
		}
		numel := int64(1)
		for _, d := range info.Shape {
			if d < 0 || (d > 0 && numel > math.MaxInt64/d) {
				return nil, fmt.Errorf("safetensors: tensor %q: invalid shape %v", name, info.Shape)
			}
			numel *= d
		}
		b, e := info.DataOffsets[0], info.DataOffsets[1]
		if b < 0 || e < b || e > dataLen {
			return nil, fmt.Errorf("safetensors: tensor %q: data offsets [%d,%d] outside the %d data bytes", name, b, e, dataLen)
		}
		if e-b != numel*int64(es) {
			return nil, fmt.Errorf("safetensors: tensor %q: %d data bytes for %v %v (%d bytes)", name, e-b, info.DType, info.Shape, numel*int64(es))
		}
		f.tensors[name] = info
		f.names = append(f.names, name)
	}
	sort.Slice(f.names, func(i, j int) bool {
		a, b := f.tensors[f.names[i]].DataOffsets, f.tensors[f.names[j]].DataOffsets
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		return f.names[i] < f.names[j]
	})
	for k := 1; k < len(f.names); k++ {
		prev, cur := f.tensors[f.names[k-1]].DataOffsets, f.tensors[f.names[k]].DataOffsets
		if cur[0] < prev[1] {
			return nil, fmt.Errorf("safetensors: tensors %q and %q overlap", f.names[k-1], f.names[k])
		}
	}
	return f, nil
}

// Names returns the tensor names in the order of their data.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	i, ok := f.tensors[name]
	return i, ok
}

// ErrNotFound is returned by Read for a name the file does not hold.
var ErrNotFound = errors.New("no such tensor")

// Read copies the named tensor's raw data into dst, which must hold exactly
// its size.
func (f *File) Read(name string, dst []byte) error {
	info, ok := f.tensors[name]
	if !ok {
		return fmt.Errorf("safetensors: tensor %q: %w", name, ErrNotFound)
	}
	size := info.DataOffsets[1] - info.DataOffsets[0]
	if int64(len(dst)) != size {
		return fmt.Errorf("safetensors: tensor %q: %d bytes, the buffer holds %d", name, size, len(dst))
	}
	if _, err := f.r.ReadAt(dst, f.dataStart+info.DataOffsets[0]); err != nil {
		return fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	return nil
}

// Close closes the underlying file when the File was opened by Open.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}
