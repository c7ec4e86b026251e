package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxFile builds an IDX file: type byte typ, the given dimensions, then data.
func idxFile(typ byte, dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, typ, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(t *testing.T, raw []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(raw)
	w.Close()
	return b.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkErr fails unless err is a one-line error containing every want.
func checkErr(t *testing.T, name string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", name, want)
		return
	}
	msg := err.Error()
	t.Logf("%s: %s", name, msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error spans lines: %q", name, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: error %q does not mention %q", name, msg, w)
		}
	}
}

func TestIDX(t *testing.T) {
	dir := t.TempDir()
	// 3 grey images of 2x3 and their labels, the images gzip-compressed.
	pix := []byte{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 255}
	im := writeFile(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), gz(t, idxFile(8, []int{3, 2, 3}, pix)))
	lb := writeFile(t, filepath.Join(dir, "train-labels-idx1-ubyte"), idxFile(8, []int{3}, []byte{7, 0, 3}))
	d, err := OpenMNIST(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || d.NumClasses() != 8 || d.Label(0) != 7 || d.Label(2) != 3 || d.ClassNames()[7] != "7" {
		t.Fatalf("Len %d classes %d labels %d %d", d.Len(), d.NumClasses(), d.Label(0), d.Label(2))
	}
	img, err := d.Image(2)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, 3, 2) {
		t.Fatalf("bounds %v, want 3 wide and 2 high", img.Bounds())
	}
	if got := img.RGBAAt(2, 1); got != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("pixel (2,1) = %v, want grey 255 as RGB", got)
	}
	if got := img.RGBAAt(1, 0); got != (color.RGBA{21, 21, 21, 255}) {
		t.Errorf("pixel (1,0) = %v, want 21", got)
	}
	if _, err := d.Image(3); err == nil {
		t.Error("Image(3) of 3: no error")
	}
	// RGB IDX images [N,H,W,3].
	rgbIm := writeFile(t, filepath.Join(dir, "rgb-images"), idxFile(8, []int{1, 1, 2, 3}, []byte{1, 2, 3, 4, 5, 6}))
	rgbLb := writeFile(t, filepath.Join(dir, "rgb-labels"), idxFile(8, []int{1}, []byte{0}))
	rd, err := OpenIDX(rgbIm, rgbLb)
	if err != nil {
		t.Fatal(err)
	}
	if img, _ := rd.Image(0); img.RGBAAt(1, 0) != (color.RGBA{4, 5, 6, 255}) {
		t.Errorf("RGB IDX pixel = %v", img.RGBAAt(1, 0))
	}

	good := idxFile(8, []int{3, 2, 3}, pix)
	bad := []struct {
		name   string
		images []byte
		labels []byte
		want   []string
	}{
		{"not IDX", append([]byte{0x1, 0x2}, good[2:]...), nil, []string{"not an IDX file", "0x01020803"}},
		{"float", idxFile(0x0D, []int{3, 2, 3}, pix), nil, []string{"float32", "0x08"}},
		{"short header", good[:9], nil, []string{"header of 3 dimensions is truncated"}},
		{"RGB of 4 channels", idxFile(8, []int{1, 1, 1, 4}, []byte{1, 2, 3, 4}), nil, []string{"N x H x W x 3, got 1x1x1x4"}},
		{"truncated data", good[:len(good)-5], nil, []string{"truncated", "3x2x3 = 18 bytes", "has 13"}},
		{"trailing data", append(append([]byte{}, good...), 9, 9), nil, []string{"2 more"}},
		{"labels given as images", idxFile(8, []int{3}, []byte{1, 2, 3}), nil, []string{"magic number 0x00000801 says 1 dimensions", "3 (magic 0x00000803) or 4 (magic 0x00000804)"}},
		{"images given as labels", nil, good, []string{"magic number 0x00000803 says 3 dimensions", "must have 1 (magic 0x00000801)"}},
		// A labels file whose magic is the images' (it said "dimensions
		// too large", reading labels as dimensions).
		{"labels with the images' magic", nil, append([]byte{0, 0, 8, 3, 0, 0, 0, 3}, bytes.Repeat([]byte{0xff, 1, 2, 3}, 3)...), []string{"magic number 0x00000803 says 3 dimensions", "the magic number is wrong"}},
		{"count mismatch", nil, idxFile(8, []int{2}, []byte{1, 2}), []string{"2 labels for 3 images"}},
		{"corrupt gzip", gz(t, good)[:20], nil, []string{"gzip", "unexpected EOF"}},
		{"empty", []byte{}, nil, []string{"too short"}},
	}
	for _, tt := range bad {
		imPath, lbPath := filepath.Join(dir, "bad-images"), filepath.Join(dir, "bad-labels")
		images, labels := tt.images, tt.labels
		if images == nil {
			images = good
		}
		if labels == nil {
			labels = idxFile(8, []int{3}, []byte{1, 2, 3})
		}
		writeFile(t, imPath, images)
		writeFile(t, lbPath, labels)
		_, err := OpenIDX(imPath, lbPath)
		file := imPath
		if tt.images == nil {
			file = lbPath
		}
		checkErr(t, tt.name, err, append(tt.want, file)...)
	}
	_, err = OpenMNIST(dir, false)
	checkErr(t, "no t10k files", err, "t10k-images-idx3-ubyte")
	_, err = OpenIDX(filepath.Join(dir, "missing"), lb)
	checkErr(t, "missing file", err, "missing", "no such file")
	_ = im
}

// cifarRec builds one CIFAR-10 record whose pixel p has colour (p, 2p, 3p) mod 256.
func cifarRec(label byte) []byte {
	rec := make([]byte, cifarRecord)
	rec[0] = label
	for p := 0; p < 1024; p++ {
		rec[1+p], rec[1+1024+p], rec[1+2048+p] = byte(p), byte(2*p), byte(3*p)
	}
	return rec
}

func TestCIFAR10(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cifar-10-batches-bin")
	for i := 1; i <= 5; i++ {
		writeFile(t, filepath.Join(dir, "data_batch_"+string(rune('0'+i))+".bin"), append(cifarRec(byte(i)), cifarRec(9)...))
	}
	writeFile(t, filepath.Join(dir, "test_batch.bin"), cifarRec(4))
	names := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	writeFile(t, filepath.Join(dir, "batches.meta.txt"), []byte(names))
	d, err := OpenCIFAR10Dir(filepath.Dir(dir), true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 10 || d.Label(0) != 1 || d.Label(1) != 9 || d.Label(8) != 5 || d.ClassNames()[9] != "j" || d.NumClasses() != 10 {
		t.Fatalf("Len %d labels %d %d %d names %v", d.Len(), d.Label(0), d.Label(1), d.Label(8), d.ClassNames())
	}
	img, _ := d.Image(3)
	if got := img.RGBAAt(5, 2); got != (color.RGBA{69, 138, 207, 255}) { // p = 2*32+5
		t.Errorf("pixel (5,2) = %v, want the planes interleaved as (69,138,207)", got)
	}
	test, err := OpenCIFAR10Dir(dir, false)
	if err != nil || test.Len() != 1 || test.Label(0) != 4 {
		t.Fatalf("test split: %v, %v", test, err)
	}

	bad := []struct {
		name string
		data []byte
		want []string
	}{
		{"truncated", append(cifarRec(1), cifarRec(2)[:100]...), []string{"size 3173", "3073-byte records", "record 1 is truncated"}},
		{"empty", nil, []string{"is empty"}},
		{"bad label", append(cifarRec(1), cifarRec(12)...), []string{"record 1", "label 12"}},
	}
	for _, tt := range bad {
		p := writeFile(t, filepath.Join(t.TempDir(), "b.bin"), tt.data)
		_, err := OpenCIFAR10(p)
		checkErr(t, tt.name, err, append(tt.want, p)...)
	}
	_, err = OpenCIFAR10Dir(t.TempDir(), true)
	checkErr(t, "missing files", err, "data_batch_1.bin")
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func solid(w, h int, c color.Color) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func TestImageFolder(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "dog", "b.PNG"), encodePNG(t, solid(4, 3, color.NRGBA{10, 20, 30, 255})))
	writeFile(t, filepath.Join(root, "dog", "sub", "a.jpg"), encodeJPEG(t, solid(16, 8, color.NRGBA{200, 100, 50, 255})))
	writeFile(t, filepath.Join(root, "cat", "x.png"), encodePNG(t, solid(2, 2, color.NRGBA{90, 60, 30, 0}))) // transparent
	writeFile(t, filepath.Join(root, "cat", "notes.txt"), []byte("not an image"))
	writeFile(t, filepath.Join(root, "cat", "g.png"), encodePNG(t, image.NewGray(image.Rect(0, 0, 3, 3))))
	writeFile(t, filepath.Join(root, "README"), []byte("ignored"))
	d, err := OpenImageFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.ClassNames(); len(got) != 2 || got[0] != "cat" || got[1] != "dog" {
		t.Fatalf("classes %v, want [cat dog]", got)
	}
	wantFiles := []string{"cat/g.png", "cat/x.png", "dog/b.PNG", "dog/sub/a.jpg"}
	wantLabels := []int{0, 0, 1, 1}
	if d.Len() != len(wantFiles) {
		t.Fatalf("Len %d, want %d", d.Len(), len(wantFiles))
	}
	for i, f := range wantFiles {
		if d.Path(i) != filepath.Join(root, f) || d.Label(i) != wantLabels[i] {
			t.Errorf("image %d: %s label %d, want %s label %d", i, d.Path(i), d.Label(i), f, wantLabels[i])
		}
	}
	tests := []struct {
		i    int
		w, h int
		want color.RGBA
		tol  int
	}{
		{0, 3, 3, color.RGBA{0, 0, 0, 255}, 0},
		{1, 2, 2, color.RGBA{90, 60, 30, 255}, 0}, // colour kept, alpha dropped
		{2, 4, 3, color.RGBA{10, 20, 30, 255}, 0},
		{3, 16, 8, color.RGBA{200, 100, 50, 255}, 4},
	}
	for _, tt := range tests {
		img, err := d.Image(tt.i)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds() != image.Rect(0, 0, tt.w, tt.h) {
			t.Errorf("image %d: bounds %v", tt.i, img.Bounds())
		}
		got := img.RGBAAt(1, 1)
		for c, v := range []uint8{got.R, got.G, got.B, got.A} {
			w := []uint8{tt.want.R, tt.want.G, tt.want.B, tt.want.A}[c]
			if diff := int(v) - int(w); diff > tt.tol || -diff > tt.tol {
				t.Errorf("image %d: pixel %v, want %v", tt.i, got, tt.want)
				break
			}
		}
	}

	// Every image's header is read when the folder opens: a file that is
	// no image, or whose header is cut, fails the open (it used to fail
	// when first read, hours into a run), naming the file and the way on;
	// with SkipBad it is left out and reported.
	full := encodeJPEG(t, solid(16, 16, color.NRGBA{1, 2, 3, 255}))
	junk := writeFile(t, filepath.Join(root, "dog", "z.png"), []byte("this is text"))
	cut := writeFile(t, filepath.Join(root, "cat", "h.jpg"), full[:40])
	_, err = OpenImageFolder(root)
	checkErr(t, "not an image", err, "2 of 6 images cannot be read", cut, "EOF", "(and 1 more)", "--skip-bad-images")
	var warned []string
	d, err = OpenImageFolderWith(root, FolderOptions{SkipBad: true, Warn: func(m string) { warned = append(warned, m) }})
	if err != nil || d.Len() != 4 || len(warned) != 2 || !strings.Contains(warned[0], "skipping image \""+cut) || !strings.Contains(warned[1], junk) {
		t.Fatalf("SkipBad: %v, %d images, warnings %q", err, d.Len(), warned)
	}
	os.Remove(junk)
	os.Remove(cut)

	// A JPEG whose header reads but whose data is cut fails when read,
	// naming the index and the file; with SkipBad the next image that
	// decodes is read in its place, reported once.
	noisy := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range noisy.Pix {
		noisy.Pix[i] = uint8(i * 7919 % 251)
	}
	big := encodeJPEG(t, noisy)
	bad := writeFile(t, filepath.Join(root, "dog", "sub", "c.jpg"), big[:len(big)/2])
	d, err = OpenImageFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Image(4)
	checkErr(t, "truncated jpeg", err, "image 4", bad, "short Huffman data", "--skip-bad-images")
	warned = nil
	d, _ = OpenImageFolderWith(root, FolderOptions{SkipBad: true, Warn: func(m string) { warned = append(warned, m) }})
	for k := 0; k < 2; k++ {
		img, err := d.Image(4)
		if err != nil || img.Bounds().Dx() != 3 {
			t.Errorf("SkipBad read of the cut JPEG: %v, %v; want image 0 (3x3) in its place", err, img.Bounds())
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], bad) || !strings.Contains(warned[0], "read image 0") {
		t.Errorf("warnings %q, want one naming the file and its replacement", warned)
	}

	empty := t.TempDir()
	_, err = OpenImageFolder(empty)
	checkErr(t, "no classes", err, empty, "no class sub-folders")
	os.MkdirAll(filepath.Join(empty, "a"), 0o755)
	writeFile(t, filepath.Join(empty, "a", "x.txt"), nil)
	_, err = OpenImageFolder(empty)
	checkErr(t, "empty class", err, empty, `class folder "a" has no`)
	_, err = OpenImageFolder(filepath.Join(empty, "missing"))
	checkErr(t, "missing root", err, "missing")
}

func TestOpen(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "train", "a", "1.png"), encodePNG(t, solid(2, 2, color.White)))
	writeFile(t, filepath.Join(root, "val", "a", "2.png"), encodePNG(t, solid(2, 2, color.White)))
	for _, train := range []bool{true, false} {
		d, err := Open(Spec{Kind: KindImageFolder, Path: root, Train: train})
		if err != nil || d.Len() != 1 {
			t.Fatalf("imagefolder train=%v: %v", train, err)
		}
	}
	tr, _ := Open(Spec{Kind: KindProcedural, Seed: 1, N: 10, Size: 16, Train: true})
	te, _ := Open(Spec{Kind: KindProcedural, Seed: 1, N: 10, Size: 16})
	a, _ := tr.Image(0)
	b, _ := te.Image(0)
	if bytes.Equal(a.Pix, b.Pix) {
		t.Error("procedural train and held-out splits share image 0")
	}
	for _, k := range []string{KindMNIST, KindCIFAR10, KindImageFolder} {
		// It said: dataset "": no t10k-images-idx3-ubyte file.
		_, err := Open(Spec{Kind: k, Train: true})
		checkErr(t, k+" without a path", err, "dataset kind "+k+" needs the folder of its files", "--dataset "+k+":DIR")
	}
	_, err := Open(Spec{Kind: "imagenet"})
	checkErr(t, "unknown kind", err, `"imagenet"`, "procedural")
	_, err = Open(Spec{Kind: KindImageFolder, Path: filepath.Join(root, "train")})
	checkErr(t, "no split folder", err, "train")
}

// Every prefix of a valid file and every single-byte change of its header
// gives an error or a valid dataset, never a panic.
func TestCorruptFilesNeverPanic(t *testing.T) {
	dir := t.TempDir()
	pix := make([]byte, 2*3*3)
	images := idxFile(8, []int{2, 3, 3}, pix)
	labels := idxFile(8, []int{2}, []byte{1, 0})
	lb := writeFile(t, filepath.Join(dir, "labels"), labels)
	variants := [][]byte{gz(t, images)}
	for n := 0; n < len(images); n++ {
		variants = append(variants, images[:n])
	}
	for i := 0; i < 16; i++ {
		for _, b := range []byte{0x00, 0x01, 0x7f, 0xff} {
			v := append([]byte{}, images...)
			v[i] = b
			variants = append(variants, v)
		}
	}
	zipped := gz(t, images)
	for n := 0; n < len(zipped); n += 3 {
		variants = append(variants, zipped[:n])
	}
	for k, v := range variants {
		im := writeFile(t, filepath.Join(dir, "images"), v)
		d, err := OpenIDX(im, lb)
		if err == nil {
			for i := 0; i < d.Len(); i++ {
				if _, err := d.Image(i); err != nil {
					t.Errorf("variant %d: image %d: %v", k, i, err)
				}
			}
		}
	}
	for n := 0; n < 2*cifarRecord; n += 101 {
		p := writeFile(t, filepath.Join(dir, "c.bin"), append(cifarRec(1), cifarRec(2)...)[:n])
		if _, err := OpenCIFAR10(p); err == nil {
			t.Errorf("CIFAR-10 file cut to %d bytes: no error", n)
		}
	}
	full := encodePNG(t, solid(8, 8, color.NRGBA{1, 2, 3, 255}))
	root := t.TempDir()
	for n := 0; n < len(full); n += 7 {
		writeFile(t, filepath.Join(root, "a", "x.png"), full[:n])
		d, err := OpenImageFolder(root)
		if err != nil {
			continue // the header check found it
		}
		if _, err := d.Image(0); err == nil {
			t.Errorf("PNG cut to %d of %d bytes decoded without error", n, len(full))
		}
	}
}
