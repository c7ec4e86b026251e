package eval

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"

	"github.com/ijepa-go/ijepa/ijepa/internal/rng"
)

// Optimizers TrainLinear knows.
const (
	// SGD is mini-batch SGD with momentum 0.9 (PyTorch's torch.optim.SGD).
	SGD = "sgd"
	// Adam is torch.optim.Adam with betas (0.9, 0.999) and eps 1e-8.
	Adam = "adam"
)

// LinearOptions configures TrainLinear; zero fields take the defaults.
type LinearOptions struct {
	// Optimizer is SGD (the default) or Adam.
	Optimizer string
	// Epochs is the number of passes over the training features (default
	// 100); Batch the mini-batch size (default 256).
	Epochs, Batch int
	// LR is the peak learning rate (default 0.1 for SGD, 1e-3 for Adam);
	// it decays to 0 along a half cosine over the run, per step.
	LR float64
	// WeightDecay adds WeightDecay * W to the weights' gradient (default
	// 0; the bias is not decayed).
	WeightDecay float64
	// Seed draws each epoch's order of the training rows.
	Seed uint64
}

func (o *LinearOptions) defaults() error {
	switch o.Optimizer {
	case "":
		o.Optimizer = SGD
	case SGD, Adam:
	default:
		return fmt.Errorf("eval: linear classifier: unknown optimizer %q (want %s or %s)", o.Optimizer, SGD, Adam)
	}
	if o.Epochs <= 0 {
		o.Epochs = 100
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.LR <= 0 {
		o.LR = 0.1
		if o.Optimizer == Adam {
			o.LR = 1e-3
		}
	}
	if o.WeightDecay < 0 || math.IsNaN(o.WeightDecay) || math.IsInf(o.LR, 0) {
		return fmt.Errorf("eval: linear classifier: weight decay %g and learning rate %g must be finite and not negative", o.WeightDecay, o.LR)
	}
	return nil
}

// TrainLinear is the linear evaluation of the papers' tables: a linear
// classifier (softmax regression, weights from zero) trained on all of
// train with mini-batch SGD or Adam for o.Epochs passes, each in an order
// drawn from o.Seed, on features standardised with the train mean and
// standard deviation (a BatchNorm without affine, as MAE's linear probe),
// and scored top-1 on all of test. Loss is the last epoch's mean training
// cross-entropy; Iterations the number of steps. The result depends only on
// the inputs and the options, not on the number of CPUs.
func TrainLinear(train, test Features, classes int, o LinearOptions) (ProbeResult, error) {
	if err := checkPair(train, test, classes); err != nil {
		return ProbeResult{}, err
	}
	if err := o.defaults(); err != nil {
		return ProbeResult{}, err
	}
	mean, std := moments(train)
	xtr, xte := standardise(train, mean, std), standardise(test, mean, std)
	d, c := train.D, classes
	theta := make([]float64, (d+1)*c) // W (C x D) then b (C)
	grad := make([]float64, len(theta))
	m1, m2 := make([]float64, len(theta)), make([]float64, len(theta))
	lr := &logreg{x: xtr, y: train.Labels, n: train.N, d: d, c: c}
	perBatch := (train.N + o.Batch - 1) / o.Batch
	total := o.Epochs * perBatch
	step := 0
	var loss float64
	for e := 0; e < o.Epochs; e++ {
		order := rng.New(o.Seed, 0x11ea, uint64(e)).Perm(train.N)
		loss = 0
		for k := 0; k < perBatch; k++ {
			rows := order[k*o.Batch : min((k+1)*o.Batch, train.N)]
			loss += lr.batchGrad(theta, grad, rows) * float64(len(rows))
			if o.WeightDecay > 0 {
				floats.AddScaled(grad[:d*c], o.WeightDecay, theta[:d*c])
			}
			rate := o.LR * 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(total)))
			step++
			if o.Optimizer == SGD {
				// torch.optim.SGD: buf = momentum*buf + g; p -= lr*buf.
				floats.Scale(0.9, m1)
				floats.Add(m1, grad)
				floats.AddScaled(theta, -rate, m1)
				continue
			}
			const b1, b2, eps = 0.9, 0.999, 1e-8
			c1, c2 := 1-math.Pow(b1, float64(step)), 1-math.Pow(b2, float64(step))
			for i, g := range grad {
				m1[i] = b1*m1[i] + (1-b1)*g
				m2[i] = b2*m2[i] + (1-b2)*g*g
				theta[i] -= rate / c1 * m1[i] / (math.Sqrt(m2[i]/c2) + eps)
			}
		}
		loss /= float64(train.N)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return ProbeResult{}, fmt.Errorf("eval: linear classifier: the training loss is %v (lower the learning rate)", loss)
	}
	return ProbeResult{
		TrainAccuracy: Accuracy(lr.predict(xtr, theta), train.Labels),
		TestAccuracy:  Accuracy(lr.predict(xte, theta), test.Labels),
		Loss:          loss, Iterations: step,
	}, nil
}

// batchChunk is how many rows of a mini-batch one goroutine sums: a fixed
// size, so the sums are taken in the same order on every machine.
const batchChunk = 32

// batchGrad writes into g the gradient of the mean cross-entropy over the
// given rows at theta and returns that mean, summing chunks of batchChunk
// rows in parallel (sumGrad).
func (m *logreg) batchGrad(theta, g []float64, rows []int) float64 {
	count := (len(rows) + batchChunk - 1) / batchChunk
	loss := m.sumGrad(theta, g, count, func(k int, row func(i int)) {
		for _, i := range rows[k*batchChunk : min((k+1)*batchChunk, len(rows))] {
			row(i)
		}
	})
	inv := 1 / float64(len(rows))
	floats.Scale(inv, g)
	return loss * inv
}
