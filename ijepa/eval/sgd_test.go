package eval

import (
	"runtime"
	"strings"
	"testing"
)

// The full-dataset protocol on data whose answer is known: classes that a
// linear map separates score 1.0 with either optimizer; labels drawn
// independently of the features score chance on held-out rows (1/10, within
// four standard deviations of a binomial over 2000 rows); XOR, which no
// linear map separates, stays near 1/2.
func TestTrainLinearKnownAnswers(t *testing.T) {
	for _, opt := range []string{SGD, Adam} {
		train, test := blobs(1, 10, 100, 16, 12, false), blobs(2, 10, 50, 16, 12, false)
		r, err := TrainLinear(train, test, 10, LinearOptions{Optimizer: opt, Epochs: 10, Batch: 64, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		if r.TrainAccuracy != 1 || r.TestAccuracy != 1 {
			t.Errorf("%s, separable classes: train %.4f test %.4f, want 1 and 1", opt, r.TrainAccuracy, r.TestAccuracy)
		}
		if want := 10 * ((1000 + 63) / 64); r.Iterations != want {
			t.Errorf("%s: %d steps, want %d (10 epochs of 16 batches)", opt, r.Iterations, want)
		}
	}
	train, test := blobs(1, 10, 200, 16, 12, true), blobs(2, 10, 200, 16, 12, true)
	r, err := TrainLinear(train, test, 10, LinearOptions{Epochs: 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.TestAccuracy < 0.1-4*0.0067 || r.TestAccuracy > 0.1+4*0.0067 {
		t.Errorf("shuffled labels: test %.4f, want chance (0.1 +- 0.027)", r.TestAccuracy)
	}
	r, err = TrainLinear(xor(1, 2000), xor(2, 2000), 2, LinearOptions{Epochs: 5, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.TestAccuracy > 0.6 {
		t.Errorf("XOR: test %.4f; no linear classifier should pass 0.6", r.TestAccuracy)
	}
}

// The result is a function of the inputs and the options: the same on one
// CPU as on several, and another seed draws another order.
func TestTrainLinearDeterministic(t *testing.T) {
	train, test := blobs(1, 5, 300, 8, 2, false), blobs(2, 5, 100, 8, 2, false)
	o := LinearOptions{Epochs: 3, Batch: 100, Seed: 7}
	a, err := TrainLinear(train, test, 5, o)
	if err != nil {
		t.Fatal(err)
	}
	prev := runtime.GOMAXPROCS(1)
	b, err := TrainLinear(train, test, 5, o)
	runtime.GOMAXPROCS(prev)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("GOMAXPROCS %d: %+v, GOMAXPROCS 1: %+v", prev, a, b)
	}
	o.Seed = 8
	if c, _ := TrainLinear(train, test, 5, o); c.Loss == a.Loss {
		t.Errorf("seeds 7 and 8 gave the same loss %v", c.Loss)
	}
}

func TestTrainLinearErrors(t *testing.T) {
	train, test := blobs(1, 3, 10, 4, 2, false), blobs(2, 3, 10, 4, 2, false)
	for _, tc := range []struct {
		o       LinearOptions
		classes int
		want    string
	}{
		{LinearOptions{Optimizer: "lbfgs"}, 3, `unknown optimizer "lbfgs"`},
		{LinearOptions{WeightDecay: -1}, 3, "must be finite and not negative"},
		{LinearOptions{}, 2, "label 2 outside [0,2)"},
	} {
		if _, err := TrainLinear(train, test, tc.classes, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.o, err, tc.want)
		}
	}
}
