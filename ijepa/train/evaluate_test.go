package train

import "testing"

func TestPickAndPool(t *testing.T) {
	idx := pick(100, 30, 5, true)
	if len(idx) != 30 {
		t.Fatalf("%d indices", len(idx))
	}
	classes := map[int]bool{}
	for i := range idx {
		if i > 0 && idx[i] <= idx[i-1] {
			t.Fatalf("not increasing: %v", idx)
		}
		classes[idx[i]%10] = true
	}
	if len(classes) < 8 {
		t.Errorf("30 of 100 images cover %d of 10 classes stored in turn: %v", len(classes), idx)
	}
	if all := pick(10, 0, 5, true); len(all) != 10 || all[9] != 9 {
		t.Errorf("pick all: %v", all)
	}
	// A 4x4 image pooled to 2x2: each output the mean of a 2x2 block.
	img := make([]float32, 3*16)
	for i := range img {
		img[i] = float32(i)
	}
	out, d, err := poolPixels(img, 3, 4, 2)
	if err != nil || d != 12 {
		t.Fatal(d, err)
	}
	if want := []float32{2.5, 4.5, 10.5, 12.5}; out[0] != want[0] || out[1] != want[1] || out[2] != want[2] || out[3] != want[3] {
		t.Errorf("channel 0 pooled %v, want %v", out[:4], want)
	}
	if out[4] != 18.5 {
		t.Errorf("channel 1 starts %v, want 18.5", out[4])
	}
	same, d, _ := poolPixels(img, 3, 4, 32)
	if d != 48 || &same[0] != &img[0] {
		t.Error("an image no larger than the side is not used as is")
	}
}
