package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/ijepa-go/ijepa/bench"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
)

// dataBenchFlags are bench's flags of the loader benchmark (--data).
type dataBenchFlags struct {
	dir, workers               *string
	generate, quality, batches *int
	warmup                     *int
}

func addDataBenchFlags(fs *flag.FlagSet) *dataBenchFlags {
	return &dataBenchFlags{
		dir: fs.String("data", "", "time the data loader alone instead of training steps: images/s of decoding, RandomResizedCrop and normalisation "+
			"from this ImageFolder (DIR/CLASS/*.jpg, or DIR/train/CLASS/*.jpg), at the --config's crop_size, crop_scale and batch_size"),
		generate: fs.Int("generate", 0, "--data: first write this many JPEGs of the crop size into DIR (procedural images, tinted; files already there are kept)"),
		quality:  fs.Int("quality", 90, "--data --generate: JPEG quality"),
		workers:  fs.String("workers", "1,2", "--data: loader goroutines to time, a comma-separated list"),
		batches:  fs.Int("batches", 20, "--data: timed batches per worker count"),
		warmup:   fs.Int("data-warmup", 2, "--data: untimed batches first"),
	}
}

// runDataBench times the training loader on an ImageFolder with each
// number of workers, with the preset's crop and batch size.
func runDataBench(ctx context.Context, df *dataBenchFlags, preset string, seed uint64, rounds int, stdout, stderr io.Writer) error {
	var workers []int
	for _, w := range strings.Split(*df.workers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: --workers %q: want positive numbers separated by commas", errUsage, *df.workers)
		}
		workers = append(workers, n)
	}
	if *df.batches < 1 || *df.warmup < 0 || *df.generate < 0 || *df.quality < 1 || *df.quality > 100 {
		return fmt.Errorf("%w: --batches must be at least 1, --data-warmup and --generate not negative, --quality from 1 to 100", errUsage)
	}
	c, err := config.Preset(preset)
	if err != nil {
		return fmt.Errorf("%w: --config: %v", errUsage, err)
	}
	if *df.generate > 0 {
		if err := bench.WriteJPEGFolder(*df.dir, *df.generate, c.Data.CropSize, *df.quality, seed); err != nil {
			return err
		}
	}
	ds, err := data.Open(data.Spec{Kind: data.KindImageFolder, Path: *df.dir, Train: true})
	if err != nil {
		if ds, err = data.OpenImageFolder(*df.dir); err != nil {
			return err
		}
	}
	tf, err := c.TrainTransform()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bench data: %d images of %s, RandomResizedCrop to %d (scale %v) and normalisation, batches of %d, JPEG decoder: %s, GOMAXPROCS %d\n",
		ds.Len(), ds.Name(), c.Data.CropSize, c.Data.CropScale, c.Data.BatchSize, data.JPEGDecoder(), runtime.GOMAXPROCS(0))
	for _, w := range workers {
		var best bench.DataResult
		for r := 0; r < rounds; r++ {
			res, err := bench.DataLoader(ctx, bench.DataOptions{Dataset: ds, Transform: tf, Batch: c.Data.BatchSize, Workers: w,
				Warmup: *df.warmup, Batches: *df.batches, Seed: seed + uint64(r)})
			if err != nil {
				return err
			}
			if res.ImgPerS > best.ImgPerS {
				best = res
			}
		}
		fmt.Fprintf(stdout, "workers %d: %.1f img/s (%.1f per worker), %d images in %.2fs, %.1f img per CPU-second\n",
			w, best.ImgPerS, best.PerWorker, best.Images, best.Elapsed.Seconds(), best.ImgPerCPUSecond)
	}
	return nil
}
