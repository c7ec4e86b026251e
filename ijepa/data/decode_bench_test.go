package data

import (
	"bytes"
	"image/jpeg"
	"testing"
)

// BenchmarkJPEG times one 224x224 colour JPEG (quality 90, 4:2:0, as Go's
// encoder writes; procedural images tinted by gradients) through each
// decoder, alone ("decode") and with the training transform
// (RandomResizedCrop to 224 with scale [0.3, 1], normalisation: "train"),
// in one run so that the ratios hold on a busy machine; "transform" is the
// training transform alone:
//
//	go test ./ijepa/data -run '^$' -bench JPEG -cpu 1
func BenchmarkJPEG(b *testing.B) {
	ds, _ := NewProcedural(1, 16, 224)
	var files [][]byte
	for i := 0; i < ds.Len(); i++ {
		img, _ := ds.Image(i)
		for p := 0; p < len(img.Pix); p += 4 {
			x, y := p/4%224, p/4/224
			img.Pix[p+1] = uint8(int(img.Pix[p+1]) * (128 + x/2) / 255)
			img.Pix[p+2] = uint8(int(img.Pix[p+2]) * (128 + y/2) / 255)
		}
		var buf bytes.Buffer
		jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
		files = append(files, buf.Bytes())
	}
	tf, _ := NewRandomResizedCrop(224, [2]float64{0.3, 1})
	dst := make([]float32, 3*224*224)
	for _, dec := range []struct {
		name string
		goJ  bool
	}{{"libjpeg-turbo", false}, {"image-jpeg", true}} {
		goJPEG = dec.goJ
		if !dec.goJ && JPEGDecoder()[:4] != "libj" {
			b.Logf("libjpeg-turbo: %s", JPEGDecoder())
			continue
		}
		b.Run("decode/"+dec.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := Decode(files[i%len(files)]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("train/"+dec.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				img, err := Decode(files[i%len(files)])
				if err != nil {
					b.Fatal(err)
				}
				tf.Apply(dst, img, uint64(i))
			}
		})
	}
	goJPEG = false
	img, _ := Decode(files[0])
	b.Run("transform", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tf.Apply(dst, img, uint64(i))
		}
	})
}
