package data

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"reflect"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/ijepa/mask"
)

func testLoaderConfig(t *testing.T, n int) LoaderConfig {
	t.Helper()
	ds, err := NewProcedural(9, n, 16)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := NewRandomResizedCrop(16, [2]float64{0.3, 1})
	mc := mask.Default(8, 8) // patch 2
	mc.MinKeep = 4
	col, err := mask.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	return LoaderConfig{Dataset: ds, Transform: tr, BatchSize: 4, Masks: col, Seed: 5, Shuffle: true, DropLast: true}
}

func collect(t *testing.T, cfg LoaderConfig) []*Batch {
	t.Helper()
	l, err := NewLoader(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out []*Batch
	for {
		b, err := l.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

func TestLoaderDeterministicAcrossWorkersAndResume(t *testing.T) {
	cfg := testLoaderConfig(t, 10)
	cfg.Steps = 9
	cfg.Workers, cfg.Prefetch = 1, 1
	one := collect(t, cfg)
	cfg.Workers, cfg.Prefetch = 3, 5
	three := collect(t, cfg)
	if len(one) != 9 || !reflect.DeepEqual(one, three) {
		t.Fatalf("1 worker and 3 workers gave different batches (%d, %d)", len(one), len(three))
	}
	for i, b := range one {
		if b.Step != int64(i) || b.Epoch != int64(i/2) || b.B() != 4 || len(b.Images) != 4*3*16*16 || b.Masks == nil || b.Masks.Step != b.Step {
			t.Fatalf("batch %d: step %d epoch %d B %d images %d masks %v", i, b.Step, b.Epoch, b.B(), len(b.Images), b.Masks)
		}
	}
	cfg.StartStep, cfg.Steps = 5, 4
	resumed := collect(t, cfg)
	if !reflect.DeepEqual(resumed, one[5:]) {
		t.Error("a loader started at step 5 differs from steps 5.. of a full run")
	}
	cfg.Seed++
	cfg.StartStep = 0
	other := collect(t, cfg)
	if reflect.DeepEqual(other[0].Images, one[0].Images) {
		t.Error("another seed gave the same first batch")
	}
}

func TestLoaderEpochs(t *testing.T) {
	for _, dropLast := range []bool{false, true} {
		cfg := testLoaderConfig(t, 10)
		cfg.DropLast = dropLast
		ipe := StepsPerEpoch(10, 4, dropLast)
		cfg.Steps = 2 * ipe
		batches := collect(t, cfg)
		var epochs [2][]int
		for _, b := range batches {
			epochs[b.Epoch] = append(epochs[b.Epoch], b.Indices...)
			for p, i := range b.Indices {
				if int(b.Labels[p]) != cfg.Dataset.Label(i) {
					t.Fatalf("label of image %d is %d, want %d", i, b.Labels[p], cfg.Dataset.Label(i))
				}
			}
		}
		want := 10
		if dropLast {
			want = 8
			if ipe != 2 {
				t.Fatalf("drop_last: %d steps per epoch, want 2", ipe)
			}
		} else if ipe != 3 || batches[2].B() != 2 || batches[2].Masks.B() != 2 {
			t.Fatalf("%d steps per epoch, last batch %d images; want 3 and 2", ipe, batches[2].B())
		}
		for e, idx := range epochs {
			s := slices.Clone(idx)
			slices.Sort(s)
			if len(s) != want || len(slices.Compact(s)) != want {
				t.Errorf("drop_last %v epoch %d: indices %v are not %d distinct images", dropLast, e, idx, want)
			}
		}
		if slices.Equal(epochs[0], epochs[1]) {
			t.Errorf("drop_last %v: epochs 0 and 1 have the same order %v", dropLast, epochs[0])
		}
	}
	cfg := testLoaderConfig(t, 10)
	cfg.Shuffle, cfg.Steps = false, 2
	b := collect(t, cfg)
	if !slices.Equal(append(b[0].Indices, b[1].Indices...), []int{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("unshuffled order %v %v", b[0].Indices, b[1].Indices)
	}
}

func TestLoaderEOFAndCancel(t *testing.T) {
	cfg := testLoaderConfig(t, 10)
	cfg.Steps = 1
	l, err := NewLoader(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := l.Next(); err != io.EOF {
			t.Fatalf("after the last step: %v, want io.EOF", err)
		}
	}
	l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cfg.Steps = 0
	l, err = NewLoader(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := l.Next(); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", err)
	}
	done := make(chan struct{})
	go func() { l.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after cancel")
	}
}

// failing wraps a dataset so that one image fails to load.
type failing struct {
	Dataset
	bad   int
	calls atomic.Int64
}

func (f *failing) Image(i int) (*image.RGBA, error) {
	f.calls.Add(1)
	if i == f.bad {
		return nil, fmt.Errorf("ijepa: dataset %q: image %d: unexpected EOF", f.Name(), i)
	}
	return f.Dataset.Image(i)
}

func TestLoaderErrorStops(t *testing.T) {
	cfg := testLoaderConfig(t, 10)
	cfg.Shuffle = false
	cfg.Dataset = &failing{Dataset: cfg.Dataset, bad: 6}
	l, err := NewLoader(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Next(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		_, err := l.Next()
		checkErr(t, "bad image", err, "image 6", "unexpected EOF")
	}
	_, err = NewLoader(context.Background(), LoaderConfig{Dataset: cfg.Dataset, Transform: cfg.Transform, BatchSize: 11, DropLast: true})
	checkErr(t, "batch above dataset", err, "10 images", "fewer than one batch of 11")
}

// Without calls to Next, the loader builds at most Prefetch batches ahead.
func TestLoaderPrefetchBound(t *testing.T) {
	cfg := testLoaderConfig(t, 40)
	f := &failing{Dataset: cfg.Dataset, bad: -1}
	cfg.Dataset, cfg.Workers, cfg.Prefetch = f, 3, 2
	l, err := NewLoader(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	time.Sleep(100 * time.Millisecond)
	if n := f.calls.Load(); n > int64(cfg.Prefetch*cfg.BatchSize) {
		t.Errorf("%d images read ahead, bound is %d batches of %d", n, cfg.Prefetch, cfg.BatchSize)
	}
}

func benchmarkLoader(b *testing.B, size, patch, batch int, cropScale [2]float64) {
	ds, _ := NewProcedural(1, 4096, size)
	tr, _ := NewRandomResizedCrop(size, cropScale)
	mc := mask.Default(size/patch, size/patch)
	if size/patch < 10 {
		mc.MinKeep = 4
	}
	col, err := mask.New(mc)
	if err != nil {
		b.Fatal(err)
	}
	l, err := NewLoader(context.Background(), LoaderConfig{Dataset: ds, Transform: tr, BatchSize: batch, Masks: col, Shuffle: true, DropLast: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkLoaderTiny32 is the tiny32 preset's input: batches of 64 images of
// 32x32 with masks on the 8x8 grid.
func BenchmarkLoaderTiny32(b *testing.B) { benchmarkLoader(b, 32, 4, 64, [2]float64{0.3, 1}) }

// BenchmarkLoaderSmall224 is the small224 preset's input: batches of 16
// images of 224x224 with masks on the 14x14 grid.
func BenchmarkLoaderSmall224(b *testing.B) { benchmarkLoader(b, 224, 16, 16, [2]float64{0.3, 1}) }
