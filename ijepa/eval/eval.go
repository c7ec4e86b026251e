// Package eval scores frozen features by how well simple classifiers read
// the labels from them: a linear probe (multinomial logistic regression) and a
// k-nearest-neighbour classifier. It works on host feature matrices and knows
// nothing of models: the trainer passes, e.g., mean-pooled target-encoder
// features, a random-init encoder's features, and raw pixels as baselines.
//
// Both classifiers are deterministic: the same inputs give the same
// accuracies on every run.
package eval

import (
	"fmt"
	"math"
)

// Features holds N feature vectors of dimension D (X row-major, N*D values)
// and their class labels.
type Features struct {
	X      []float32
	N, D   int
	Labels []int32
}

// check validates f against the number of classes.
func (f Features) check(name string, classes int) error {
	switch {
	case f.N < 1 || f.D < 1:
		return fmt.Errorf("eval: %s features: need at least one row and one column, got %dx%d", name, f.N, f.D)
	case len(f.X) != f.N*f.D:
		return fmt.Errorf("eval: %s features: %d values for %dx%d", name, len(f.X), f.N, f.D)
	case len(f.Labels) != f.N:
		return fmt.Errorf("eval: %s features: %d labels for %d rows", name, len(f.Labels), f.N)
	}
	for i, l := range f.Labels {
		if l < 0 || int(l) >= classes {
			return fmt.Errorf("eval: %s features: row %d: label %d outside [0,%d)", name, i, l, classes)
		}
	}
	for k, v := range f.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("eval: %s features: row %d column %d is %v", name, k/f.D, k%f.D, v)
		}
	}
	return nil
}

func checkPair(train, test Features, classes int) error {
	if classes < 2 {
		return fmt.Errorf("eval: need at least 2 classes, got %d", classes)
	}
	if err := train.check("train", classes); err != nil {
		return err
	}
	if err := test.check("test", classes); err != nil {
		return err
	}
	if train.D != test.D {
		return fmt.Errorf("eval: train features have %d columns, test features %d", train.D, test.D)
	}
	return nil
}

// Accuracy is the share of predictions equal to their labels.
func Accuracy(pred []int, labels []int32) float64 {
	if len(pred) == 0 {
		return 0
	}
	right := 0
	for i, p := range pred {
		if p == int(labels[i]) {
			right++
		}
	}
	return float64(right) / float64(len(pred))
}
