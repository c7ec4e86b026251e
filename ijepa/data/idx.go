package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// IDX is a dataset stored as a pair of IDX files (the MNIST format): unsigned
// byte images [N, H, W] (grey, returned as RGB with R=G=B) or [N, H, W, 3]
// (RGB), and unsigned byte labels [N]. Either file may be gzip-compressed.
// Both are read into memory when opened.
type IDX struct {
	name    string
	n, h, w int
	ch      int
	pix     []byte
	labels  []byte
	classes int
}

// idxTypes names the IDX element types, by type byte.
var idxTypes = map[byte]string{0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"}

// readFile reads a file whole, decompressing it if it is gzip data.
func readFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return gunzip(raw)
}

// gunzip returns raw decompressed when it is gzip data, else raw.
func gunzip(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return out, nil
}

// parseIDX parses an unsigned-byte IDX file whose number of dimensions is
// one of ranks, returning its dimensions and data. The number of
// dimensions is the magic number's last byte, checked before any dimension
// is read, so that a file with a wrong magic is told as one.
func parseIDX(raw []byte, ranks ...int) (dims []int, data []byte, err error) {
	if len(raw) < 4 {
		return nil, nil, fmt.Errorf("%d bytes is too short for an IDX header", len(raw))
	}
	magic := binary.BigEndian.Uint32(raw)
	if raw[0] != 0 || raw[1] != 0 {
		return nil, nil, fmt.Errorf("not an IDX file: magic number 0x%08x does not start with two zero bytes", magic)
	}
	if raw[2] != 0x08 {
		name, ok := idxTypes[raw[2]]
		if !ok {
			name = "unknown"
		}
		return nil, nil, fmt.Errorf("magic number 0x%08x: element type 0x%02x (%s) is not supported, want 0x08 (unsigned byte)", magic, raw[2], name)
	}
	nd := int(raw[3])
	if !slices.Contains(ranks, nd) {
		want := make([]string, len(ranks))
		for i, r := range ranks {
			want[i] = fmt.Sprintf("%d (magic 0x%08x)", r, 0x800+r)
		}
		return nil, nil, fmt.Errorf("magic number 0x%08x says %d dimensions, this file must have %s: the magic number is wrong, or this is another kind of IDX file (images for labels?)", magic, nd, strings.Join(want, " or "))
	}
	if len(raw) < 4+4*nd {
		return nil, nil, fmt.Errorf("magic number 0x%08x: header of %d dimensions is truncated (file has %d bytes)", magic, nd, len(raw))
	}
	size := 1
	for d := 0; d < nd; d++ {
		v := int(binary.BigEndian.Uint32(raw[4+4*d:]))
		if v == 0 {
			return nil, nil, fmt.Errorf("dimension %d is 0: no data", d)
		}
		if size > (1<<40)/v {
			return nil, nil, fmt.Errorf("dimensions %v are too large", dims)
		}
		size *= v
		dims = append(dims, v)
	}
	data = raw[4+4*nd:]
	switch {
	case len(data) < size:
		return nil, nil, fmt.Errorf("truncated: header says %s = %d bytes of data, file has %d", dimString(dims), size, len(data))
	case len(data) > size:
		return nil, nil, fmt.Errorf("header says %s = %d bytes of data, file has %d more", dimString(dims), size, len(data)-size)
	}
	return dims, data, nil
}

func dimString(dims []int) string {
	s := ""
	for i, d := range dims {
		if i > 0 {
			s += "x"
		}
		s += strconv.Itoa(d)
	}
	return s
}

// OpenIDX opens a pair of IDX files: images ([N, H, W] or [N, H, W, 3]) and
// labels ([N]).
func OpenIDX(images, labels string) (*IDX, error) {
	fail := func(file string, err error) error {
		return fmt.Errorf("ijepa: dataset %q: file %q: %w", images, file, err)
	}
	im, err := readFile(images)
	if err != nil {
		return nil, fail(images, err)
	}
	lb, err := readFile(labels)
	if err != nil {
		return nil, fail(labels, err)
	}
	d, file, err := parseIDXPair(images, im, lb)
	if err != nil {
		f := images
		if file == 1 {
			f = labels
		}
		return nil, fail(f, err)
	}
	return d, nil
}

// parseIDXPair makes the dataset named name of the (decompressed) contents
// of an images file and a labels file; on error, file says which was at
// fault (0 images, 1 labels).
func parseIDXPair(name string, images, labels []byte) (d *IDX, file int, err error) {
	dims, pix, err := parseIDX(images, 3, 4)
	if err != nil {
		return nil, 0, err
	}
	ch := 1
	if len(dims) == 4 {
		if dims[3] != 3 {
			return nil, 0, fmt.Errorf("images must have dimensions N x H x W or N x H x W x 3, got %s", dimString(dims))
		}
		ch = 3
	}
	ldims, lab, err := parseIDX(labels, 1)
	if err != nil {
		return nil, 1, err
	}
	if ldims[0] != dims[0] {
		return nil, 1, fmt.Errorf("%d labels for %d images in %q", ldims[0], dims[0], name)
	}
	classes := 0
	for _, l := range lab {
		classes = max(classes, int(l)+1)
	}
	return &IDX{name: name, n: dims[0], h: dims[1], w: dims[2], ch: ch, pix: pix, labels: lab, classes: classes}, 0, nil
}

// OpenMNIST opens the MNIST (or Fashion-MNIST) files in dir: train-images-
// idx3-ubyte and train-labels-idx1-ubyte for train, t10k-* otherwise, each
// also found with a ".gz" suffix or with "." in place of the last "-".
func OpenMNIST(dir string, train bool) (*IDX, error) {
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	find := func(kind, nd string) (string, error) {
		for _, base := range []string{prefix + "-" + kind + "-" + nd + "-ubyte", prefix + "-" + kind + "." + nd + "-ubyte"} {
			for _, suffix := range []string{"", ".gz"} {
				p := filepath.Join(dir, base+suffix)
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
			}
		}
		return "", fmt.Errorf("ijepa: dataset %q: no %s-%s-%s-ubyte[.gz] file", dir, prefix, kind, nd)
	}
	im, err := find("images", "idx3")
	if err != nil {
		return nil, err
	}
	lb, err := find("labels", "idx1")
	if err != nil {
		return nil, err
	}
	return OpenIDX(im, lb)
}

// Name implements Dataset.
func (d *IDX) Name() string { return d.name }

// Len implements Dataset.
func (d *IDX) Len() int { return d.n }

// NumClasses implements Dataset: the largest label plus one.
func (d *IDX) NumClasses() int { return d.classes }

// ClassNames implements Dataset: the labels as decimal numbers.
func (d *IDX) ClassNames() []string {
	names := make([]string, d.classes)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}

// Label implements Dataset.
func (d *IDX) Label(i int) int { return int(d.labels[i]) }

// Image implements Dataset.
func (d *IDX) Image(i int) (*image.RGBA, error) {
	if i < 0 || i >= d.n {
		return nil, indexError(d, i)
	}
	img := image.NewRGBA(image.Rect(0, 0, d.w, d.h))
	per := d.h * d.w * d.ch
	src := d.pix[i*per : (i+1)*per]
	for p := 0; p < d.h*d.w; p++ {
		if d.ch == 1 {
			v := src[p]
			img.Pix[4*p], img.Pix[4*p+1], img.Pix[4*p+2] = v, v, v
		} else {
			copy(img.Pix[4*p:4*p+3], src[3*p:3*p+3])
		}
		img.Pix[4*p+3] = 255
	}
	return img, nil
}
