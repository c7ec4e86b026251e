package eval

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// blobs draws n points per class around class centres at distance sep from
// the origin in d dimensions (unit noise); with shuffle the labels are
// redrawn at random, independent of the points.
func blobs(seed uint64, classes, n, d int, sep float64, shuffle bool) Features {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, classes)
	cr := rand.New(rand.NewPCG(99, 2)) // the same centres for train and test
	for c := range centres {
		centres[c] = make([]float64, d)
		norm := 0.0
		for j := range centres[c] {
			centres[c][j] = cr.NormFloat64()
			norm += centres[c][j] * centres[c][j]
		}
		for j := range centres[c] {
			centres[c][j] *= sep / math.Sqrt(norm)
		}
	}
	f := Features{N: classes * n, D: d}
	for i := 0; i < f.N; i++ {
		c := i % classes
		for j := 0; j < d; j++ {
			f.X = append(f.X, float32(centres[c][j]+r.NormFloat64()))
		}
		if shuffle {
			c = r.IntN(classes)
		}
		f.Labels = append(f.Labels, int32(c))
	}
	return f
}

// xor has two classes no linear map separates: the sign of x0*x1, with
// a few noise columns.
func xor(seed uint64, n int) Features {
	r := rand.New(rand.NewPCG(seed, 3))
	f := Features{N: n, D: 4}
	for i := 0; i < n; i++ {
		a, b := r.Float64()*2-1, r.Float64()*2-1
		f.X = append(f.X, float32(a), float32(b), float32(0.1*r.NormFloat64()), float32(0.1*r.NormFloat64()))
		l := int32(0)
		if a*b > 0 {
			l = 1
		}
		f.Labels = append(f.Labels, l)
	}
	return f
}

func TestClassifiers(t *testing.T) {
	tests := []struct {
		name             string
		train, test      Features
		classes          int
		probeLo, probeHi float64
		knnLo, knnHi     float64
	}{
		{"separable blobs", blobs(1, 4, 100, 16, 6, false), blobs(2, 4, 100, 16, 6, false), 4, 0.97, 1, 0.97, 1},
		{"overlapping blobs", blobs(1, 4, 200, 16, 1.5, false), blobs(2, 4, 200, 16, 1.5, false), 4, 0.45, 0.85, 0.4, 0.85},
		{"random labels", blobs(1, 4, 100, 16, 6, true), blobs(2, 4, 100, 16, 6, true), 4, 0.15, 0.36, 0.15, 0.36},
		{"xor", xor(1, 600), xor(2, 600), 2, 0.4, 0.62, 0.9, 1},
	}
	for _, tt := range tests {
		p, err := LinearProbe(tt.train, tt.test, tt.classes, ProbeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		k, err := KNN(tt.train, tt.test, tt.classes, KNNOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		t.Logf("%s: probe train %.3f test %.3f (loss %.3f, %d iterations), k-NN %.3f", tt.name, p.TrainAccuracy, p.TestAccuracy, p.Loss, p.Iterations, k)
		if p.TestAccuracy < tt.probeLo || p.TestAccuracy > tt.probeHi {
			t.Errorf("%s: probe accuracy %.3f outside [%.2f, %.2f]", tt.name, p.TestAccuracy, tt.probeLo, tt.probeHi)
		}
		if k < tt.knnLo || k > tt.knnHi {
			t.Errorf("%s: k-NN accuracy %.3f outside [%.2f, %.2f]", tt.name, k, tt.knnLo, tt.knnHi)
		}
	}
}

// The probe standardises: a column scaled by 1e6 and one shifted by 1e4
// leave the result unchanged up to rounding.
func TestProbeStandardises(t *testing.T) {
	tr, te := blobs(1, 3, 60, 6, 3, false), blobs(2, 3, 60, 6, 3, false)
	base, err := LinearProbe(tr, te, 3, ProbeOptions{Iterations: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*Features{&tr, &te} {
		for i := 0; i < f.N; i++ {
			f.X[i*f.D] *= 1e6
			f.X[i*f.D+1] += 1e4
		}
	}
	scaled, err := LinearProbe(tr, te, 3, ProbeOptions{Iterations: 100})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(scaled.TestAccuracy-base.TestAccuracy) > 0.02 || math.Abs(scaled.Loss-base.Loss) > 1e-2 {
		t.Errorf("rescaled columns changed the probe: %+v vs %+v", scaled, base)
	}
}

// Two runs on the same data give the same result, and a stronger L2 penalty
// fits the training set no better. Every error is checked, so a probe or
// k-NN that always fails cannot pass by comparing two zero results.
func TestDeterministic(t *testing.T) {
	tr, te := blobs(3, 5, 80, 32, 2, false), blobs(4, 5, 80, 32, 2, false)
	probe := func(o ProbeOptions) ProbeResult {
		t.Helper()
		r, err := LinearProbe(tr, te, 5, o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	knn := func() float64 {
		t.Helper()
		acc, err := KNN(tr, te, 5, KNNOptions{K: 7})
		if err != nil {
			t.Fatal(err)
		}
		return acc
	}
	a, b := probe(ProbeOptions{}), probe(ProbeOptions{})
	if a != b {
		t.Errorf("two probes differ: %+v vs %+v", a, b)
	}
	if a.Iterations == 0 || !(a.TestAccuracy > 0.5) {
		t.Errorf("the probe learned nothing on separable blobs: %+v", a)
	}
	if ka, kb := knn(), knn(); ka != kb || !(ka > 0.5) {
		t.Errorf("two k-NN runs: %v and %v (want equal, above 0.5)", ka, kb)
	}
	// More decay: a smaller weight norm, so a larger data loss at the end.
	strong := probe(ProbeOptions{L2: 1})
	if strong.TrainAccuracy > a.TrainAccuracy+1e-9 && a.TrainAccuracy < 1 {
		t.Errorf("strong decay fits train better (%.3f) than weak (%.3f)", strong.TrainAccuracy, a.TrainAccuracy)
	}
}

// k-NN with K=1 returns the label of the most similar train vector; the
// vote weights favour closer neighbours.
func TestKNNNeighbours(t *testing.T) {
	train := Features{N: 4, D: 2, X: []float32{1, 0, 0, 1, -1, 0, 0.9, 0.1}, Labels: []int32{0, 1, 2, 1}}
	test := Features{N: 3, D: 2, X: []float32{2, 0.05, 0.1, 3, -5, -0.5}, Labels: []int32{0, 1, 2}}
	if acc, err := KNN(train, test, 3, KNNOptions{K: 1}); err != nil || acc != 1 {
		t.Errorf("K=1: accuracy %v, %v; want 1", acc, err)
	}
	// K=3 for (2, 0.05): neighbours 0 (class 0, sim ~1), 3 (class 1, sim ~0.99), 1 (class 1, sim ~0.02).
	// Two votes for class 1 but weighted by exp(s/0.07) class 0 wins.
	one := Features{N: 1, D: 2, X: []float32{2, 0.05}, Labels: []int32{0}}
	if acc, err := KNN(train, one, 3, KNNOptions{K: 3}); err != nil || acc != 1 {
		t.Errorf("K=3: accuracy %v, %v; the weighted vote should go to the nearest neighbour's class 0", acc, err)
	}
	if acc, err := KNN(train, one, 3, KNNOptions{K: 3, Temperature: 100}); err != nil || acc != 0 {
		t.Errorf("K=3, flat weights: accuracy %v, %v; two votes for class 1 should win", acc, err)
	}
	// K above the train size votes with every train vector, as K = 4 does:
	// the nearest (by far, at temperature 0.07) still decides each.
	all, err := KNN(train, test, 3, KNNOptions{K: 4})
	if err != nil || all != 1 {
		t.Errorf("K=4: accuracy %v, %v; want 1", all, err)
	}
	if acc, err := KNN(train, test, 3, KNNOptions{K: 50}); err != nil || acc != all {
		t.Errorf("K above the train size: accuracy %v, %v; want %v as with K=4", acc, err, all)
	}
}

func TestBadInput(t *testing.T) {
	good := blobs(1, 2, 5, 3, 1, false)
	nan := blobs(1, 2, 5, 3, 1, false)
	nan.X[7] = float32(math.NaN())
	badLabel := blobs(1, 2, 5, 3, 1, false)
	badLabel.Labels[3] = 2
	short := good
	short.X = short.X[:10]
	wide := blobs(1, 2, 5, 4, 1, false)
	tests := []struct {
		name        string
		train, test Features
		classes     int
		want        string
	}{
		{"nan", nan, good, 2, "row 2 column 1 is NaN"},
		{"label", good, badLabel, 2, "test features: row 3: label 2 outside [0,2)"},
		{"short", short, good, 2, "10 values for 10x3"},
		{"columns", good, wide, 2, "3 columns, test features 4"},
		{"classes", good, good, 1, "at least 2 classes"},
		{"empty", Features{}, good, 2, "at least one row"},
	}
	for _, tt := range tests {
		_, err1 := LinearProbe(tt.train, tt.test, tt.classes, ProbeOptions{})
		_, err2 := KNN(tt.train, tt.test, tt.classes, KNNOptions{})
		for _, err := range []error{err1, err2} {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: got %v, want an error with %q", tt.name, err, tt.want)
			}
		}
	}
}

func BenchmarkLinearProbe2000x384(b *testing.B) {
	tr, te := blobs(1, 10, 200, 384, 2, false), blobs(2, 10, 100, 384, 2, false)
	for i := 0; i < b.N; i++ {
		LinearProbe(tr, te, 10, ProbeOptions{})
	}
}

func BenchmarkKNN2000x384(b *testing.B) {
	tr, te := blobs(1, 10, 200, 384, 2, false), blobs(2, 10, 100, 384, 2, false)
	for i := 0; i < b.N; i++ {
		KNN(tr, te, 10, KNNOptions{})
	}
}
