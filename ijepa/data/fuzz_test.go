package data

import (
	"bytes"
	"compress/gzip"
	"testing"
)

// FuzzIDX: any pair of files (gzip-compressed or not) gives an MNIST-style
// dataset whose every image reads, or an error; never a panic. Seeds: the
// files of TestIDX and testdata/fuzz/FuzzIDX; scripts/fuzz.sh runs it long.
func FuzzIDX(f *testing.F) {
	pix := make([]byte, 3*2*3)
	for i := range pix {
		pix[i] = byte(i * 13)
	}
	images := idxFile(8, []int{3, 2, 3}, pix)
	labels := idxFile(8, []int{3}, []byte{7, 0, 3})
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(images)
	zw.Close()
	f.Add(images, labels)
	f.Add(z.Bytes(), labels)
	f.Add(idxFile(8, []int{1, 1, 2, 3}, []byte{1, 2, 3, 4, 5, 6}), idxFile(8, []int{1}, []byte{0}))
	f.Add(labels, images)
	f.Fuzz(func(t *testing.T, images, labels []byte) {
		im, err := gunzip(images)
		if err != nil {
			return
		}
		lb, err := gunzip(labels)
		if err != nil {
			return
		}
		d, _, err := parseIDXPair("fuzz", im, lb)
		if err != nil {
			return
		}
		for i := 0; i < d.Len(); i++ {
			img, err := d.Image(i)
			if err != nil || img.Bounds().Dx() != d.w || img.Bounds().Dy() != d.h {
				t.Fatalf("image %d of %d: %v", i, d.Len(), err)
			}
			if l := d.Label(i); l < 0 || l >= d.NumClasses() {
				t.Fatalf("image %d: label %d of %d classes", i, l, d.NumClasses())
			}
		}
	})
}

// FuzzCIFAR: any bytes are a CIFAR-10 batch file whose every record reads,
// or an error; never a panic.
func FuzzCIFAR(f *testing.F) {
	f.Add(append(cifarRec(1), cifarRec(9)...))
	f.Add(cifarRec(10))
	f.Add(cifarRec(3)[:100])
	f.Fuzz(func(t *testing.T, raw []byte) {
		if err := checkCIFAR(raw); err != nil {
			return
		}
		d := &CIFAR10{name: "fuzz", records: raw, classes: CIFAR10Classes}
		for i := 0; i < d.Len(); i++ {
			img, err := d.Image(i)
			if err != nil || img.Bounds().Dx() != 32 {
				t.Fatalf("record %d: %v", i, err)
			}
			if l := d.Label(i); l < 0 || l >= d.NumClasses() {
				t.Fatalf("record %d: label %d", i, l)
			}
		}
	})
}
