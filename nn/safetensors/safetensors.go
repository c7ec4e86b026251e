// Package safetensors reads and writes the safetensors format
// (huggingface/safetensors): an 8-byte little-endian header length N, N
// bytes of JSON mapping each tensor name to {"dtype", "shape",
// "data_offsets": [begin, end]} plus an optional "__metadata__" map of
// strings, then the raw little-endian tensor data, offsets counted from the
// end of the header. Tensors are written and read one at a time, so a
// checkpoint larger than memory streams through.
//
// WriteFile records a CRC-32C checksum of each tensor's data in the
// metadata (key ChecksumKey), and File.Read verifies it, so that a file
// damaged after it was written (a bad disk, a copy cut short, a stray
// write) is an error naming the tensor, not silently wrong numbers. Files
// without checksums (other programs') read as before.
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"sort"
	"strconv"

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

// ChecksumKey is the metadata key under which WriteFile records each
// tensor's checksum: a JSON object mapping the tensor's name to the
// CRC-32C (Castagnoli) of its data bytes, as 8 hex digits. File.Metadata
// does not show it.
const ChecksumKey = "crc32c"

// castagnoli is the CRC-32C table (hardware-accelerated where the CPU has
// it).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrChecksum marks tensor data that does not match the checksum the file
// records for it: the file was damaged after it was written.
var ErrChecksum = errors.New("checksum mismatch: the file is damaged")

// Write writes tensors (in the given order) and metadata to w, without
// checksums (WriteFile records them). Names must be unique and not
// "__metadata__".
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	_, err := write(w, tensors, metadata, false)
	return err
}

// write writes the file; with sums, the header holds a checksum of zeros
// for each tensor, and the header with the real ones (the same length) is
// returned for the caller to write over it once the data is written.
func write(w io.Writer, tensors []Tensor, metadata map[string]string, sums bool) (final []byte, err error) {
	header := map[string]any{}
	md := map[string]string{}
	for k, v := range metadata {
		md[k] = v
	}
	delete(md, ChecksumKey)
	var off int64
	sizes := make([]int64, len(tensors))
	crcs := make(map[string]string, len(tensors))
	for k, t := range tensors {
		if t.Name == "__metadata__" || t.Name == "" {
			return nil, fmt.Errorf("safetensors: invalid tensor name %q", t.Name)
		}
		if _, dup := header[t.Name]; dup {
			return nil, fmt.Errorf("safetensors: tensor %q given twice", t.Name)
		}
		es := DTypeSize(t.DType)
		if es == 0 {
			return nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		n := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, fmt.Errorf("safetensors: tensor %q: negative dimension in %v", t.Name, t.Shape)
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
		crcs[t.Name] = "00000000"
	}
	encode := func() ([]byte, error) {
		if sums {
			js, err := json.Marshal(crcs)
			if err != nil {
				return nil, err
			}
			md[ChecksumKey] = string(js)
		}
		if len(md) > 0 {
			header["__metadata__"] = md
		}
		js, err := json.Marshal(header)
		if err != nil {
			return nil, fmt.Errorf("safetensors: header: %w", err)
		}
		// Pad the header with spaces so the data starts 8-byte aligned.
		for (8+len(js))%8 != 0 {
			js = append(js, ' ')
		}
		return js, nil
	}
	js, err := encode()
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(js)))
	if _, err := bw.Write(n[:]); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if _, err := bw.Write(js); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var buf []byte
	for k, t := range tensors {
		if int64(cap(buf)) < sizes[k] {
			buf = make([]byte, sizes[k])
		}
		b := buf[:sizes[k]]
		if err := t.Fill(b); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		if sums {
			crcs[t.Name] = fmt.Sprintf("%08x", crc32.Checksum(b, castagnoli))
		}
		if _, err := bw.Write(b); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !sums {
		return nil, nil
	}
	final, err = encode()
	if err != nil {
		return nil, err
	}
	if len(final) != len(js) {
		return nil, fmt.Errorf("safetensors: internal: the header with checksums has %d bytes, the one written %d", len(final), len(js))
	}
	return final, nil
}

// WriteFile writes tensors and metadata to the file path atomically: into
// a temporary file in the same directory, synced and renamed over path, so
// a crash or an error leaves either the old file or the complete new one.
// The file records each tensor's checksum (ChecksumKey): the header is
// written with placeholders, then, once the data is written, again with
// the checksums, which have the same length.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, func(f *os.File) error {
		final, err := write(f, tensors, metadata, true)
		if err != nil {
			return err
		}
		if _, err := f.WriteAt(final, 8); err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
		return nil
	})
}

// File is a safetensors file opened for reading.
type File struct {
	r         io.ReaderAt
	closer    io.Closer
	dataStart int64
	tensors   map[string]Info
	names     []string
	// sums holds the recorded checksum of each tensor (ChecksumKey), when
	// the file has them.
	sums map[string]uint32
	// Metadata is the header's __metadata__ map (nil when absent), without
	// the checksums.
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
	if err := f.readSums(); err != nil {
		return nil, err
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

// readSums moves the checksums out of the metadata into f.sums.
func (f *File) readSums() error {
	js, ok := f.Metadata[ChecksumKey]
	if !ok {
		return nil
	}
	delete(f.Metadata, ChecksumKey)
	var hex map[string]string
	if err := json.Unmarshal([]byte(js), &hex); err != nil {
		return fmt.Errorf("safetensors: metadata %s is not a map of checksums: %w", ChecksumKey, err)
	}
	f.sums = make(map[string]uint32, len(hex))
	for name, h := range hex {
		if _, ok := f.tensors[name]; !ok {
			return fmt.Errorf("safetensors: metadata %s: a checksum for %q, which the file does not hold", ChecksumKey, name)
		}
		v, err := strconv.ParseUint(h, 16, 32)
		if err != nil || len(h) != 8 {
			return fmt.Errorf("safetensors: metadata %s: tensor %q: %q is not 8 hex digits", ChecksumKey, name, h)
		}
		f.sums[name] = uint32(v)
	}
	for _, name := range f.names {
		if _, ok := f.sums[name]; !ok {
			return fmt.Errorf("safetensors: metadata %s: no checksum for tensor %q", ChecksumKey, name)
		}
	}
	return nil
}

// HasChecksums reports whether the file records its tensors' checksums.
func (f *File) HasChecksums() bool { return f.sums != nil }

// Verify reads every tensor and checks it against its recorded checksum
// (nothing to check in a file without them), returning the first
// mismatch, which wraps ErrChecksum and names the tensor.
func (f *File) Verify() error {
	var buf []byte
	for _, name := range f.names {
		info := f.tensors[name]
		n := info.DataOffsets[1] - info.DataOffsets[0]
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		if err := f.Read(name, buf[:n]); err != nil {
			return err
		}
	}
	return nil
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
// its size, and checks it against the recorded checksum, when the file has
// one (an error wrapping ErrChecksum).
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
	if want, ok := f.sums[name]; ok {
		if got := crc32.Checksum(dst, castagnoli); got != want {
			return fmt.Errorf("safetensors: tensor %q: crc32c %08x, the file records %08x: %w", name, got, want, ErrChecksum)
		}
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
