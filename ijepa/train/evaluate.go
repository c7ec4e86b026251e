package train

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/eval"
	"github.com/ijepa-go/ijepa/ijepa/internal/rng"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
)

// PixelSide bounds the side of the raw-pixel baseline: larger images are
// average-pooled to PixelSide x PixelSide (3*32*32 = 3072 features for RGB),
// which keeps the baseline's probe affordable at 224 pixels.
const PixelSide = 32

// maxEvalBytes bounds the memory the evaluation images of one split take.
const maxEvalBytes = 4 << 30

// featureChunk is how many images go through the encoder at once.
const featureChunk = 64

// Evaluator scores a model's frozen features with a linear probe and a
// k-NN classifier on a train/test split of the config's dataset (the
// training set and the held-out set, each capped at probe_train and
// probe_test images drawn evenly at random), beside a random-init encoder
// and raw pixels. The baselines are computed once and reused.
type Evaluator struct {
	cfg     *config.Config
	be      backend.Backend
	classes int
	// trainX and testX are the images [N, C, S, S] after the evaluation
	// transform.
	trainX, testX           []float32
	channels                int
	trainLabels, testLabels []int32
	baselines               []runlog.EvalRow
}

// NewEvaluator loads the evaluation images of c.
func NewEvaluator(c *config.Config, be backend.Backend) (*Evaluator, error) {
	tf, err := c.EvalTransform()
	if err != nil {
		return nil, err
	}
	e := &Evaluator{cfg: c, be: be, channels: tf.Channels()}
	load := func(train bool, limit int) ([]float32, []int32, data.Dataset, error) {
		ds, err := data.Open(c.DatasetSpec(train))
		if err != nil {
			return nil, nil, nil, err
		}
		if ds.Len() == 0 {
			return nil, nil, nil, fmt.Errorf("ijepa: dataset %q has no images", ds.Name())
		}
		idx := pick(ds.Len(), limit, c.IJEPAGo.Seed, train)
		if need := int64(len(idx)) * int64(tf.Channels()*tf.Size()*tf.Size()) * 4; need > maxEvalBytes {
			key := "ijepago.probe_test"
			if train {
				key = "ijepago.probe_train"
			}
			return nil, nil, nil, &config.Error{Source: c.Source(), Key: key, Msg: fmt.Sprintf(
				"%d images of %dx%d (%d: the whole split of %q) need %.1f GiB in memory for the evaluation; set at most %d",
				len(idx), tf.Size(), tf.Size(), limit, ds.Name(), float64(need)/(1<<30), maxEvalBytes/(4*int64(tf.Channels()*tf.Size()*tf.Size())))}
		}
		x, y, err := loadImages(ds, idx, tf)
		return x, y, ds, err
	}
	var trainDS, testDS data.Dataset
	if e.trainX, e.trainLabels, trainDS, err = load(true, c.IJEPAGo.ProbeTrain); err != nil {
		return nil, err
	}
	if e.testX, e.testLabels, testDS, err = load(false, c.IJEPAGo.ProbeTest); err != nil {
		return nil, err
	}
	if trainDS.NumClasses() != testDS.NumClasses() {
		return nil, fmt.Errorf("ijepa: the training set %q has %d classes, the held-out set %q has %d",
			trainDS.Name(), trainDS.NumClasses(), testDS.Name(), testDS.NumClasses())
	}
	e.classes = trainDS.NumClasses()
	return e, nil
}

// Sizes returns the number of train and test images and of classes.
func (e *Evaluator) Sizes() (train, test, classes int) {
	return len(e.trainLabels), len(e.testLabels), e.classes
}

// pick returns limit indices of n (all when limit is 0 or at least n),
// drawn at random from the seed and kept in increasing order, so that a
// dataset stored class by class is still sampled evenly.
func pick(n, limit int, seed uint64, train bool) []int {
	if limit <= 0 || limit >= n {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	split := uint64(0)
	if train {
		split = 1
	}
	idx := rng.New(seed, 0xe7a1, split).Perm(n)[:limit]
	slices.Sort(idx)
	return idx
}

// loadImages transforms the images idx of ds, on every CPU.
func loadImages(ds data.Dataset, idx []int, tf data.Transform) ([]float32, []int32, error) {
	s := tf.Size()
	per := tf.Channels() * s * s
	x := make([]float32, len(idx)*per)
	y := make([]int32, len(idx))
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(idx); k += workers {
				img, err := ds.Image(idx[k])
				if err == nil {
					err = tf.Apply(x[k*per:(k+1)*per], img, 0)
				}
				if err != nil {
					errs[k] = fmt.Errorf("ijepa: dataset %q: image %d: %w", ds.Name(), idx[k], err)
					continue
				}
				y[k] = int32(ds.Label(idx[k]))
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return x, y, nil
}

// Evaluate scores the target encoder of m (and, the first time, the
// baselines) and returns one row per kind of features, all at step.
func (e *Evaluator) Evaluate(m *model.Model, step int64) ([]runlog.EvalRow, error) {
	return e.EvaluateContext(context.Background(), m, step)
}

// EvaluateContext is Evaluate that stops, returning ctx's error, at the
// next chunk of images or the next classifier once ctx is done (Ctrl-C).
func (e *Evaluator) EvaluateContext(ctx context.Context, m *model.Model, step int64) ([]runlog.EvalRow, error) {
	row, err := e.score(ctx, runlog.FeaturesTarget, step, func(x []float32) ([]float32, int, error) { return encode(ctx, m, x) })
	if err != nil {
		return nil, err
	}
	if e.baselines == nil {
		if err := e.scoreBaselines(ctx, m.Cfg); err != nil {
			return nil, err
		}
	}
	rows := []runlog.EvalRow{row}
	for _, b := range e.baselines {
		b.Step = step
		rows = append(rows, b)
	}
	return rows, nil
}

func (e *Evaluator) scoreBaselines(ctx context.Context, mc model.Config) error {
	rnd, err := model.New(mc)
	if err != nil {
		return err
	}
	if err := rnd.Alloc(e.be, e.cfg.IJEPAGo.Seed); err != nil {
		return err
	}
	defer rnd.Free()
	r, err := e.score(ctx, runlog.FeaturesRandom, 0, func(x []float32) ([]float32, int, error) { return encode(ctx, rnd, x) })
	if err != nil {
		return err
	}
	p, err := e.score(ctx, runlog.FeaturesPixels, 0, func(x []float32) ([]float32, int, error) {
		return poolPixels(x, e.channels, e.cfg.Data.CropSize, PixelSide)
	})
	if err != nil {
		return err
	}
	e.baselines = []runlog.EvalRow{r, p}
	return nil
}

// score maps both splits through f and runs the probe and the k-NN,
// stopping between them once ctx is done.
func (e *Evaluator) score(ctx context.Context, kind string, step int64, f func(x []float32) ([]float32, int, error)) (runlog.EvalRow, error) {
	tr, d, err := f(e.trainX)
	if err != nil {
		return runlog.EvalRow{}, err
	}
	te, _, err := f(e.testX)
	if err != nil {
		return runlog.EvalRow{}, err
	}
	if err := ctx.Err(); err != nil {
		return runlog.EvalRow{}, err
	}
	train := eval.Features{X: tr, N: len(e.trainLabels), D: d, Labels: e.trainLabels}
	test := eval.Features{X: te, N: len(e.testLabels), D: d, Labels: e.testLabels}
	ij := e.cfg.IJEPAGo
	probe, err := eval.LinearProbe(train, test, e.classes, eval.ProbeOptions{L2: ij.ProbeL2, Iterations: ij.ProbeIterations})
	if err != nil {
		return runlog.EvalRow{}, fmt.Errorf("ijepa: %s features: %w", kind, err)
	}
	if err := ctx.Err(); err != nil {
		return runlog.EvalRow{}, err
	}
	knn, err := eval.KNN(train, test, e.classes, eval.KNNOptions{K: ij.KNNK, Temperature: ij.KNNTemperature})
	if err != nil {
		return runlog.EvalRow{}, fmt.Errorf("ijepa: %s features: %w", kind, err)
	}
	return runlog.EvalRow{Step: step, Features: kind, ProbeAcc: probe.TestAccuracy, KNNAcc: knn}, nil
}

// encode returns the mean-pooled target-encoder features of images, in
// chunks of featureChunk images, stopping between chunks once ctx is done.
func encode(ctx context.Context, m *model.Model, images []float32) ([]float32, int, error) {
	s := m.EncCfg.ImgSize
	per := m.EncCfg.Channels * s * s
	n := len(images) / per
	out := make([]float32, 0, n*m.EncCfg.Dim)
	for i := 0; i < n; i += featureChunk {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		f, err := m.Features(images[i*per:min(i+featureChunk, n)*per], false)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, f...)
	}
	return out, m.EncCfg.Dim, nil
}

// poolPixels average-pools images [N, ch, s, s] to [N, ch, o, o] with
// o = min(s, side) (each output pixel the mean of its block of input
// pixels) and returns them with their dimension ch*o*o.
func poolPixels(images []float32, ch, s, side int) ([]float32, int, error) {
	per := ch * s * s
	if s < 1 || ch < 1 || len(images)%per != 0 {
		return nil, 0, fmt.Errorf("ijepa: pixels: %d values are not a whole number of %dx%dx%d images", len(images), ch, s, s)
	}
	o := min(s, side)
	if o == s {
		return images, per, nil
	}
	n := len(images) / per
	out := make([]float32, n*ch*o*o)
	for i := 0; i < n*ch; i++ {
		src, dst := images[i*s*s:(i+1)*s*s], out[i*o*o:(i+1)*o*o]
		for y := 0; y < o; y++ {
			y0, y1 := y*s/o, (y+1)*s/o
			for x := 0; x < o; x++ {
				x0, x1 := x*s/o, (x+1)*s/o
				var sum float32
				for yy := y0; yy < y1; yy++ {
					for xx := x0; xx < x1; xx++ {
						sum += src[yy*s+xx]
					}
				}
				dst[y*o+x] = sum / float32((y1-y0)*(x1-x0))
			}
		}
	}
	return out, ch * o * o, nil
}
