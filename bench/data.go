package bench

import (
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"time"

	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/internal/atomicfile"
)

// DataOptions configure DataLoader.
type DataOptions struct {
	// Dataset is read; Transform makes each image (the training
	// augmentation: RandomResizedCrop and normalisation).
	Dataset   data.Dataset
	Transform data.Transform
	// Batch is the images per batch; Workers the loader's goroutines.
	Batch, Workers int
	// Batches are timed after Warmup untimed ones.
	Warmup, Batches int
	// Seed seeds the order and the crops.
	Seed uint64
}

// DataResult is what DataLoader measured.
type DataResult struct {
	Workers int
	// Images were loaded in Elapsed: ImgPerS per second in all,
	// PerWorker per worker.
	Images             int
	Elapsed            time.Duration
	ImgPerS, PerWorker float64
	// CPU is the process's CPU time over the timed batches and
	// ImgPerCPUSecond the images per second of it: what one core delivers
	// when it is not shared, steadier than the wall-clock rates on a busy
	// machine (0 where the system does not report CPU time).
	CPU             time.Duration
	ImgPerCPUSecond float64
}

// DataLoader times the training loader alone (package data: decode,
// RandomResizedCrop, normalisation into batches, in step order, on
// o.Workers goroutines), as the trainer runs it but with no model to feed:
// the images per second it can deliver.
func DataLoader(ctx context.Context, o DataOptions) (DataResult, error) {
	if o.Batches < 1 || o.Workers < 1 || o.Warmup < 0 {
		return DataResult{}, fmt.Errorf("bench: data: %d batches and %d workers must be at least 1, %d warm-up batches not negative", o.Batches, o.Workers, o.Warmup)
	}
	ld, err := data.NewLoader(ctx, data.LoaderConfig{Dataset: o.Dataset, Transform: o.Transform, BatchSize: o.Batch,
		Seed: o.Seed, Shuffle: true, DropLast: true, Workers: o.Workers, Prefetch: o.Workers + 1,
		Steps: int64(o.Warmup + o.Batches)})
	if err != nil {
		return DataResult{}, err
	}
	defer ld.Close()
	res := DataResult{Workers: o.Workers}
	var start time.Time
	var cpu0 time.Duration
	for i := 0; i < o.Warmup+o.Batches; i++ {
		if i == o.Warmup {
			start, cpu0 = time.Now(), cpuTime()
		}
		b, err := ld.Next()
		if err != nil {
			return res, fmt.Errorf("bench: data: batch %d: %w", i, err)
		}
		if i >= o.Warmup {
			res.Images += b.B()
		}
	}
	res.Elapsed, res.CPU = time.Since(start), cpuTime()-cpu0
	res.ImgPerS = float64(res.Images) / res.Elapsed.Seconds()
	res.PerWorker = res.ImgPerS / float64(o.Workers)
	if res.CPU > 0 {
		res.ImgPerCPUSecond = float64(res.Images) / res.CPU.Seconds()
	}
	return res, nil
}

// WriteJPEGFolder writes n JPEG files of size x size pixels into dir as an
// ImageFolder (dir/CLASS/NNNNN.jpg, the procedural dataset's classes): the
// procedural dataset's images (seed), tinted with a colour gradient of
// their own so that both chroma channels carry data, at the given JPEG
// quality. Files already there are kept.
func WriteJPEGFolder(dir string, n, size, quality int, seed uint64) error {
	ds, err := data.NewProcedural(seed, n, size)
	if err != nil {
		return err
	}
	names := ds.ClassNames()
	for i := 0; i < n; i++ {
		path := filepath.Join(dir, names[ds.Label(i)], fmt.Sprintf("%05d.jpg", i))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		img, err := ds.Image(i)
		if err != nil {
			return err
		}
		tint(img, i)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		err = atomicfile.Write(path, func(f *os.File) error { return jpeg.Encode(f, img, &jpeg.Options{Quality: quality}) })
		if err != nil {
			return fmt.Errorf("bench: %s: %w", path, err)
		}
	}
	return nil
}

// tint scales a grey image's green and blue by gradients across it, which
// differ from image to image.
func tint(img *image.RGBA, i int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	gx, by := 96+(i*37)%160, 96+(i*61)%160
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride:]
		for x := 0; x < w; x++ {
			p := row[4*x : 4*x+4]
			p[1] = uint8(int(p[1]) * (gx + (255-gx)*x/w) / 255)
			p[2] = uint8(int(p[2]) * (by + (255-by)*y/h) / 255)
		}
	}
}
