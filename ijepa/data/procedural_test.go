package data

import (
	"bytes"
	"testing"
)

func TestProcedural(t *testing.T) {
	a, err := NewProcedural(4, 30, 32)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewProcedural(4, 30, 32)
	c, _ := NewProcedural(5, 30, 32)
	if a.NumClasses() != 10 || len(a.ClassNames()) != 10 || a.Len() != 30 {
		t.Fatalf("classes %d names %v len %d", a.NumClasses(), a.ClassNames(), a.Len())
	}
	counts := make([]int, 10)
	for i := 0; i < a.Len(); i++ {
		x, _ := a.Image(i)
		y, _ := b.Image(i)
		z, _ := c.Image(i)
		if !bytes.Equal(x.Pix, y.Pix) {
			t.Fatalf("image %d differs between two datasets with seed 4", i)
		}
		if bytes.Equal(x.Pix, z.Pix) {
			t.Fatalf("image %d is the same with seeds 4 and 5", i)
		}
		if i > 0 {
			p, _ := a.Image(i - 1)
			if bytes.Equal(x.Pix, p.Pix) {
				t.Fatalf("images %d and %d are equal", i-1, i)
			}
		}
		for k := 3; k < len(x.Pix); k += 4 {
			if x.Pix[k] != 255 {
				t.Fatalf("image %d is not opaque", i)
			}
		}
		counts[a.Label(i)]++
	}
	for l, n := range counts {
		if n != 3 {
			t.Errorf("class %d has %d of 30 images, want 3", l, n)
		}
	}
	for _, size := range []int{8, 224} {
		d, err := NewProcedural(1, 10, size)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			img, err := d.Image(i)
			if err != nil || img.Bounds().Dx() != size || img.Bounds().Dy() != size {
				t.Fatalf("size %d image %d: %v %v", size, i, img.Bounds(), err)
			}
		}
	}
	for _, bad := range [][2]int{{0, 32}, {10, 4}, {10, 4096}} {
		if _, err := NewProcedural(1, bad[0], bad[1]); err == nil {
			t.Errorf("NewProcedural(n=%d, size=%d): no error", bad[0], bad[1])
		}
	}
	if _, err := a.Image(30); err == nil {
		t.Error("Image(30) of 30: no error")
	}
}

func BenchmarkProcedural32(b *testing.B)  { benchmarkProcedural(b, 32) }
func BenchmarkProcedural224(b *testing.B) { benchmarkProcedural(b, 224) }

func benchmarkProcedural(b *testing.B, size int) {
	d, _ := NewProcedural(1, 1<<30, size)
	for i := 0; i < b.N; i++ {
		if _, err := d.Image(i); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
