// Package level checks a backend above the level of one op: layers (a ViT
// block, attention, the I-JEPA predictor, forward and backward) and whole
// I-JEPA training steps, each run on the backend under test and on a
// reference from one identical state — weights, inputs, masks — and
// compared quantity by quantity, each within its bound.
//
// A backend can pass every op-level case and still train wrong: the op
// cases run one op on fresh tensors and read the result at once, while a
// training step queues hundreds of ops over tensors that are reshaped,
// written in place, released and reallocated while earlier work is still
// queued. These checks run the real layers and the real step (package
// ijepa/model), so ordering faults, memory reused too early and missing
// barriers show as wrong losses, gradients or weights.
package level

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/conformance"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
)

// The bounds of the checks: a contract for any backend that computes in
// float32 (docs/CONFORMANCE.md lists the errors measured under them).
const (
	// LayerBound is the NMSE bound of a layer's output and of every
	// gradient of its backward pass.
	LayerBound = 1e-9
	// LossBound is the bound of a training step's loss, relative.
	LossBound = 1e-6
	// GradBound is the NMSE bound of every parameter's gradient after a
	// training step.
	GradBound = 1e-9
	// WeightBound is the NMSE bound of every parameter after AdamW and
	// of every target parameter after the EMA. (Not the largest relative
	// difference: AdamW's first steps move a weight by lr*g/(|g|+eps), so
	// a gradient element near eps = 1e-8, whose float32 rounding error is
	// a part in a thousand of it, moves a bias that starts at zero by
	// 1e-4 of the bias's largest element on one backend more than on
	// another.)
	WeightBound = 1e-7
)

// NumSteps is the number of training steps the step level runs.
const NumSteps = 3

// Options configure the checks.
type Options struct {
	// Seed derives the weights, the inputs and the masks.
	Seed uint64
	// Reference computes the expected values.
	Reference backend.Backend
	// Stop, if set, is asked between checks: true skips the rest.
	Stop func() bool
}

func (o Options) stopped() bool { return o.Stop != nil && o.Stop() }

// row starts a report row of a check.
func row(lv conformance.Level, name, metric string, bound float64) conformance.OpReport {
	return conformance.OpReport{Level: lv, Name: name, DType: backend.F32, Metric: metric, Bound: bound}
}

// compare adds one compared quantity to a row: got against want in the
// row's metric, or a failure when either side could not be read.
func compare(o *conformance.OpReport, name string, got, want []float32, gotErr, wantErr error, args []string) {
	res := conformance.Result{Name: name, Kind: "ok", Args: args}
	switch {
	case gotErr != nil:
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), gotErr.Error()
	case wantErr != nil:
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), "reference: "+wantErr.Error()
	case len(got) != len(want):
		res.Kind, res.Err, res.Msg = "fail", math.NaN(), fmt.Sprintf("%d values, the reference has %d", len(got), len(want))
	default:
		var msg string
		if o.Metric == conformance.MetricRel {
			res.Err, msg = conformance.RelMax(got, want)
		} else {
			res.Err, msg = conformance.Compare(got, want)
		}
		if msg == "" && res.Err > o.Bound {
			msg = fmt.Sprintf("error %.3g exceeds the bound %.0e", res.Err, o.Bound)
		}
		if msg != "" {
			res.Kind, res.Msg = "fail", msg
		}
	}
	o.Add(res)
}

// side is one backend's run of a check.
type side struct {
	be  backend.Backend
	err error
}

func (s *side) read(t *backend.Tensor) []float32 {
	if s.err != nil {
		return nil
	}
	v, err := backend.ReadF32(s.be, t)
	if err != nil {
		s.err = err
	}
	return v
}

// uniform returns n values uniform in [-1, 1).
func uniform(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*r.Float64() - 1)
	}
	return v
}

// layer is one layer check: its parameters, and its forward pass from an
// input of a shape.
type layer struct {
	name string
	// build declares the layer's parameters and returns them, the shape
	// of its input and its forward pass (which runs on a tape).
	build func(seed uint64) (params []*nn.Param, in backend.Shape, forward forwardFunc, err error)
}

// The layer checks' sizes: odd token counts, several heads, widths that
// are not powers of two.
const (
	layerBatch  = 2
	layerTokens = 17
	layerDim    = 48
	layerHeads  = 3
)

// forwardFunc is a layer's forward pass.
type forwardFunc = func(be backend.Backend, x *backend.Tensor) (*backend.Tensor, error)

var layers = []layer{
	{"block", func(seed uint64) ([]*nn.Param, backend.Shape, forwardFunc, error) {
		bl := nn.NewBlock(nn.NewBuilder(), "block", layerDim, layerHeads, 4*layerDim)
		return bl.Params(), backend.Shape{layerBatch, layerTokens, layerDim}, bl.Forward, nil
	}},
	{"attention", func(seed uint64) ([]*nn.Param, backend.Shape, forwardFunc, error) {
		a := nn.NewAttention(nn.NewBuilder(), "attn", layerDim, layerHeads)
		return a.Params(), backend.Shape{layerBatch, layerTokens, layerDim}, a.Forward, nil
	}},
	{"predictor", func(seed uint64) ([]*nn.Param, backend.Shape, forwardFunc, error) {
		m, cfg, err := stepModel()
		if err != nil {
			return nil, nil, nil, err
		}
		bt, err := batches(cfg, m, 1, seed)
		if err != nil {
			return nil, nil, nil, err
		}
		in := backend.Shape{len(bt[0].Context), len(bt[0].Context[0]), m.EncCfg.Dim}
		fwd := func(be backend.Backend, z *backend.Tensor) (*backend.Tensor, error) { return m.Predict(be, z, bt[0]) }
		return m.Predictor.Params(), in, fwd, nil
	}},
}

// Layers checks a ViT block, attention and the I-JEPA predictor on b
// against the reference: from one initialisation and one input, the
// forward output, the input's gradient and every parameter's gradient of
// the loss sum(y*dy) for a random dy, each within LayerBound (NMSE). One
// row per layer.
func Layers(b backend.Backend, opts Options) []conformance.OpReport {
	var out []conformance.OpReport
	args := []string{"--seed", fmt.Sprint(opts.Seed), "--level", "layer"}
	for _, l := range layers {
		o := row(conformance.LevelLayer, l.name, conformance.MetricNMSE, LayerBound)
		if opts.stopped() {
			break
		}
		start := time.Now()
		got, gerr := runLayer(b, l, opts.Seed)
		o.Time = time.Since(start)
		want, werr := runLayer(opts.Reference, l, opts.Seed)
		if gerr != nil || werr != nil {
			compare(&o, l.name, nil, nil, gerr, werr, args)
		} else {
			for i := range want {
				compare(&o, l.name+" "+want[i].name, got[i].v, want[i].v, nil, nil, args)
			}
		}
		out = append(out, o)
	}
	return out
}

// named is one quantity a check compares.
type named struct {
	name string
	v    []float32
}

// runLayer runs layer l forward and backward on be and returns its output,
// the input's gradient and the parameters' gradients.
func runLayer(be backend.Backend, l layer, seed uint64) ([]named, error) {
	params, in, forward, err := l.build(seed)
	if err != nil {
		return nil, err
	}
	if err := nn.Alloc(be, params, seed); err != nil {
		return nil, err
	}
	defer nn.Free(be, params)
	trainable := nn.Trainable(params)
	if err := nn.AllocGrads(be, trainable); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x1a7e5))
	x := backend.FromF32(be, uniform(r, in.NumElements()), in...)
	dx := be.New(backend.F32, in...)
	defer be.Release(x)
	defer be.Release(dx)
	tape := nn.NewTape(be)
	defer tape.Close()
	if err := tape.Watch(x, dx); err != nil {
		return nil, err
	}
	for _, p := range trainable {
		if err := tape.Watch(p.Value, p.Grad); err != nil {
			return nil, err
		}
	}
	y, err := forward(tape, x)
	if err != nil {
		return nil, err
	}
	defer be.Release(y)
	dy := backend.FromF32(be, uniform(r, y.NumElements()), y.Shape()...)
	defer be.Release(dy)
	prod := be.New(backend.F32, y.Shape()...)
	defer be.Release(prod)
	loss := be.New(backend.F32, 1)
	defer be.Release(loss)
	backend.Mul(tape, prod, y, dy)
	backend.Sum(tape, loss, prod)
	s := &side{be: be}
	out := []named{{"output", s.read(y)}}
	if err := tape.Backward(loss); err != nil {
		return nil, err
	}
	out = append(out, named{"input gradient", s.read(dx)})
	for _, p := range trainable {
		out = append(out, named{"gradient of " + p.Name, s.read(p.Grad)})
	}
	return out, s.err
}

// stepModel is the model of the step level and of the predictor check: the
// tiny32 preset's 32-pixel images in 4-pixel patches and its masks, with a
// narrower and shallower network (width 64, 2 blocks of 2 heads, predictor
// width 32 with 2 blocks), so that three steps take seconds on lavapipe and
// through plugins.
func stepModel() (*model.Model, *config.Config, error) {
	cfg, err := config.Preset("tiny32")
	if err != nil {
		return nil, nil, err
	}
	m, err := model.New(model.Config{Dim: 64, Depth: 2, Heads: 2, MLPHidden: 256,
		ImgSize: cfg.Data.CropSize, Patch: cfg.Mask.PatchSize, PredDim: 32, PredDepth: 2})
	return m, cfg, err
}

// stepBatch is the number of images of a step.
const stepBatch = 4

// batches returns n training batches: images from seed and the preset's
// multi-block masks of steps 0..n-1.
func batches(cfg *config.Config, m *model.Model, n int, seed uint64) ([]model.Batch, error) {
	col, err := mask.New(cfg.MaskConfig())
	if err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0xba7c4))
	s, ch := m.EncCfg.ImgSize, m.EncCfg.Channels
	out := make([]model.Batch, n)
	for i := range out {
		mb, err := col.Sample(int64(i), stepBatch)
		if err != nil {
			return nil, err
		}
		img := make([]float32, stepBatch*ch*s*s)
		for k := range img {
			img[k] = float32(r.NormFloat64())
		}
		out[i] = model.Batch{Images: img, Context: mb.Context, Targets: mb.Targets}
	}
	return out, nil
}

// stepState is what one step leaves on one backend.
type stepState struct {
	loss                   float64
	grads, weights, target []named
}

// Steps runs NumSteps I-JEPA training steps of a small model (stepModel) on b
// and on the reference from one initialisation, one set of images and one
// set of masks, and compares after each step the loss (LossBound), every
// trainable parameter's gradient (GradBound), every trainable parameter
// after AdamW and every target parameter after the EMA (WeightBound). One row per
// quantity: loss, gradients, weights, target; the time of the steps on b is
// the loss row's.
func Steps(b backend.Backend, opts Options) []conformance.OpReport {
	args := []string{"--seed", fmt.Sprint(opts.Seed), "--level", "step"}
	rows := []conformance.OpReport{
		row(conformance.LevelStep, "loss", conformance.MetricRel, LossBound),
		row(conformance.LevelStep, "gradients", conformance.MetricNMSE, GradBound),
		row(conformance.LevelStep, "weights", conformance.MetricNMSE, WeightBound),
		row(conformance.LevelStep, "target", conformance.MetricNMSE, WeightBound),
	}
	if opts.stopped() {
		return rows
	}
	start := time.Now()
	got, gerr := runSteps(b, opts.Seed)
	rows[0].Time = time.Since(start)
	want, werr := runSteps(opts.Reference, opts.Seed)
	for i := 0; i < NumSteps; i++ {
		var g, w stepState
		var ge, we error = gerr, werr
		if i < len(got) {
			g, ge = got[i], nil
		}
		if i < len(want) {
			w, we = want[i], nil
		}
		step := fmt.Sprintf("step %d ", i+1)
		compare(&rows[0], step+"loss", []float32{float32(g.loss)}, []float32{float32(w.loss)}, ge, we, args)
		if ge != nil || we != nil {
			for k := 1; k < len(rows); k++ {
				compare(&rows[k], step+rows[k].Name, nil, nil, ge, we, args)
			}
			continue
		}
		for k, qs := range [][2][]named{{g.grads, w.grads}, {g.weights, w.weights}, {g.target, w.target}} {
			for j := range qs[1] {
				compare(&rows[k+1], step+qs[1][j].name, qs[0][j].v, qs[1][j].v, nil, nil, args)
			}
		}
	}
	return rows
}

// runSteps runs the training steps on be and returns what each left; on
// an error, the steps before it and the error.
func runSteps(be backend.Backend, seed uint64) ([]stepState, error) {
	m, cfg, err := stepModel()
	if err != nil {
		return nil, err
	}
	if err := m.Alloc(be, seed); err != nil {
		return nil, err
	}
	defer m.Free()
	bt, err := batches(cfg, m, NumSteps, seed)
	if err != nil {
		return nil, err
	}
	h := model.Hyper{LR: 1e-3, WD: 0.04, Momentum: 0.996}
	var out []stepState
	for _, b := range bt {
		loss, err := m.Step(b, h)
		if err != nil {
			return out, err
		}
		s := &side{be: be}
		st := stepState{loss: loss}
		for _, p := range m.Trainable() {
			st.grads = append(st.grads, named{"gradient of " + p.Name, s.read(p.Grad)})
			st.weights = append(st.weights, named{p.Name, s.read(p.Value)})
		}
		for _, p := range m.Target.Params() {
			st.target = append(st.target, named{"target " + p.Name, s.read(p.Value)})
		}
		if s.err != nil {
			return out, s.err
		}
		out = append(out, st)
	}
	return out, nil
}
