package eval

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// KNNOptions configures KNN; zero fields take the defaults.
type KNNOptions struct {
	// K is the number of neighbours (default 20; at most the train size).
	K int
	// Temperature weights a neighbour of cosine similarity s by
	// exp(s/Temperature) (default 0.07, as DINO's k-NN evaluation).
	Temperature float64
}

// KNN classifies each test vector by a weighted vote of its K nearest train
// vectors under cosine similarity and returns the test accuracy. Ties in
// similarity go to the lower train index, ties in votes to the lower class.
func KNN(train, test Features, classes int, opt KNNOptions) (float64, error) {
	if err := checkPair(train, test, classes); err != nil {
		return 0, err
	}
	if opt.K <= 0 {
		opt.K = 20
	}
	opt.K = min(opt.K, train.N)
	if opt.Temperature <= 0 {
		opt.Temperature = 0.07
	}
	tr, te := unitRows(train), unitRows(test)
	const block = 256
	pred := make([]int, test.N)
	votes := make([]float64, classes)
	nbIdx, nbSim := make([]int, opt.K), make([]float64, opt.K)
	var sim mat.Dense
	for lo := 0; lo < test.N; lo += block {
		hi := min(lo+block, test.N)
		sim.Reset()
		sim.Mul(te.Slice(lo, hi, 0, test.D), tr.T())
		for i := lo; i < hi; i++ {
			row := sim.RawRowView(i - lo)
			// Keep the K most similar, sorted by similarity, ties by index.
			n := 0
			for j, s := range row {
				if n == opt.K && s <= nbSim[n-1] {
					continue
				}
				p := min(n, opt.K-1)
				for p > 0 && s > nbSim[p-1] {
					nbSim[p], nbIdx[p] = nbSim[p-1], nbIdx[p-1]
					p--
				}
				nbSim[p], nbIdx[p] = s, j
				n = min(n+1, opt.K)
			}
			clear(votes)
			for k := 0; k < n; k++ {
				votes[train.Labels[nbIdx[k]]] += math.Exp((nbSim[k] - 1) / opt.Temperature)
			}
			best := 0
			for c, v := range votes {
				if v > votes[best] {
					best = c
				}
			}
			pred[i] = best
		}
	}
	return Accuracy(pred, test.Labels), nil
}

// unitRows returns f's rows scaled to unit length (zero rows stay zero).
func unitRows(f Features) *mat.Dense {
	x := mat.NewDense(f.N, f.D, nil)
	for i := 0; i < f.N; i++ {
		row := x.RawRowView(i)
		norm := 0.0
		for j, v := range f.X[i*f.D : (i+1)*f.D] {
			row[j] = float64(v)
			norm += row[j] * row[j]
		}
		if norm > 0 {
			inv := 1 / math.Sqrt(norm)
			for j := range row {
				row[j] *= inv
			}
		}
	}
	return x
}
