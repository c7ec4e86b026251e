package data

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
)

// cifarRecord is the size of one CIFAR-10 binary record: a label byte and a
// 32x32 image stored as red, green and blue planes.
const cifarRecord = 1 + 3*32*32

// CIFAR10Classes are the class names of CIFAR-10, in label order.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CIFAR10 is a dataset of CIFAR-10 binary batch files (data_batch_1.bin ...,
// test_batch.bin), read into memory when opened.
type CIFAR10 struct {
	name    string
	records []byte
	classes []string
}

// OpenCIFAR10 reads the given CIFAR-10 binary batch files, in order.
func OpenCIFAR10(files ...string) (*CIFAR10, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("ijepa: CIFAR-10: no batch files given")
	}
	d := &CIFAR10{name: files[0], classes: CIFAR10Classes}
	if len(files) > 1 {
		d.name = filepath.Dir(files[0])
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ijepa: dataset %q: %w", d.name, err)
		}
		if err := checkCIFAR(raw); err != nil {
			return nil, fmt.Errorf("ijepa: dataset %q: file %q: %w", d.name, f, err)
		}
		d.records = append(d.records, raw...)
	}
	return d, nil
}

// checkCIFAR checks the contents of a CIFAR-10 binary batch file: whole
// records, each with a label of a CIFAR-10 class.
func checkCIFAR(raw []byte) error {
	if len(raw) == 0 {
		return fmt.Errorf("the file is empty")
	}
	if len(raw)%cifarRecord != 0 {
		return fmt.Errorf("size %d is not a whole number of %d-byte records (record %d is truncated)", len(raw), cifarRecord, len(raw)/cifarRecord)
	}
	for r := 0; r < len(raw)/cifarRecord; r++ {
		if l := raw[r*cifarRecord]; int(l) >= len(CIFAR10Classes) {
			return fmt.Errorf("record %d: label %d is not a CIFAR-10 class (0-9)", r, l)
		}
	}
	return nil
}

// OpenCIFAR10Dir opens the standard files in dir (or in its
// cifar-10-batches-bin sub-folder): data_batch_1.bin to data_batch_5.bin
// for train, test_batch.bin otherwise. Class names come from
// batches.meta.txt when present.
func OpenCIFAR10Dir(dir string, train bool) (*CIFAR10, error) {
	if _, err := os.Stat(filepath.Join(dir, "cifar-10-batches-bin")); err == nil {
		dir = filepath.Join(dir, "cifar-10-batches-bin")
	}
	var files []string
	if train {
		for i := 1; i <= 5; i++ {
			files = append(files, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)))
		}
	} else {
		files = []string{filepath.Join(dir, "test_batch.bin")}
	}
	d, err := OpenCIFAR10(files...)
	if err != nil {
		return nil, err
	}
	d.name = dir
	if meta, err := os.ReadFile(filepath.Join(dir, "batches.meta.txt")); err == nil {
		var names []string
		for _, l := range strings.Split(string(meta), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				names = append(names, l)
			}
		}
		if len(names) == len(CIFAR10Classes) {
			d.classes = names
		}
	}
	return d, nil
}

// Name implements Dataset.
func (d *CIFAR10) Name() string { return d.name }

// Len implements Dataset.
func (d *CIFAR10) Len() int { return len(d.records) / cifarRecord }

// NumClasses implements Dataset.
func (d *CIFAR10) NumClasses() int { return len(d.classes) }

// ClassNames implements Dataset.
func (d *CIFAR10) ClassNames() []string { return append([]string(nil), d.classes...) }

// Label implements Dataset.
func (d *CIFAR10) Label(i int) int { return int(d.records[i*cifarRecord]) }

// Image implements Dataset.
func (d *CIFAR10) Image(i int) (*image.RGBA, error) {
	if i < 0 || i >= d.Len() {
		return nil, indexError(d, i)
	}
	rec := d.records[i*cifarRecord+1 : (i+1)*cifarRecord]
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	const plane = 32 * 32
	for p := 0; p < plane; p++ {
		img.Pix[4*p] = rec[p]
		img.Pix[4*p+1] = rec[plane+p]
		img.Pix[4*p+2] = rec[2*plane+p]
		img.Pix[4*p+3] = 255
	}
	return img, nil
}
