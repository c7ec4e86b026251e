package eval

import (
	"fmt"
	"math"

	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/floats"
)

// ProbeOptions configures LinearProbe; zero fields take the defaults.
type ProbeOptions struct {
	// L2 is the weight decay: the objective adds L2/2 * |W|^2 (the bias is
	// not decayed). Default 1e-3; a negative value means none.
	L2 float64
	// Iterations is the most L-BFGS iterations to run (fewer once converged).
	// Default 200.
	Iterations int
}

// ProbeResult is what LinearProbe reports.
type ProbeResult struct {
	// TrainAccuracy and TestAccuracy are the shares classified right.
	TrainAccuracy, TestAccuracy float64
	// Loss is the final training objective (mean cross-entropy plus decay).
	Loss float64
	// Iterations is the number of L-BFGS iterations run (LinearProbe) or
	// of mini-batch steps (TrainLinear).
	Iterations int
}

// LinearProbe trains a multinomial logistic regression on train (features
// standardised with the train mean and standard deviation; full batch,
// L-BFGS from zero weights, fixed iteration budget) and scores it on test.
func LinearProbe(train, test Features, classes int, opt ProbeOptions) (ProbeResult, error) {
	if err := checkPair(train, test, classes); err != nil {
		return ProbeResult{}, err
	}
	if opt.L2 == 0 {
		opt.L2 = 1e-3
	}
	opt.L2 = max(opt.L2, 0)
	if opt.Iterations <= 0 {
		opt.Iterations = 200
	}
	mean, std := moments(train)
	xtr, xte := standardise(train, mean, std), standardise(test, mean, std)
	lr := &logreg{x: xtr, y: train.Labels, n: train.N, d: train.D, c: classes, l2: opt.L2}
	theta := make([]float64, (train.D+1)*classes)
	loss, iters := lbfgs(lr.eval, theta, opt.Iterations)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return ProbeResult{}, fmt.Errorf("eval: linear probe: training objective is %v", loss)
	}
	out := ProbeResult{Loss: loss, Iterations: iters}
	out.TrainAccuracy = Accuracy(lr.predict(xtr, theta), train.Labels)
	out.TestAccuracy = Accuracy(lr.predict(xte, theta), test.Labels)
	return out, nil
}

// lbfgs minimises f (which returns the value and writes the gradient) from
// x, in place, for at most iters iterations: L-BFGS directions (history 10)
// with a backtracking line search (Armijo). It stops early when no step
// decreases f, a step decreases it by less than 1e-12 relative, or the
// gradient vanishes. (gonum/optimize does this too, but
// importing it pulls golang.org/x/tools into the build through
// gonum/stat/distmv.)
func lbfgs(f func(x, g []float64) float64, x []float64, iters int) (fx float64, done int) {
	const hist = 10
	n := len(x)
	g, gn, xn, d := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	var ss, ys [][]float64
	var rho []float64
	alpha := make([]float64, hist)
	fx = f(x, g)
	for done = 0; done < iters; done++ {
		if floats.Norm(g, math.Inf(1)) < 1e-10 {
			break
		}
		// Two-loop recursion: d = -H g.
		copy(d, g)
		for k := len(ss) - 1; k >= 0; k-- {
			alpha[k] = rho[k] * floats.Dot(ss[k], d)
			floats.AddScaled(d, -alpha[k], ys[k])
		}
		if k := len(ss) - 1; k >= 0 {
			floats.Scale(floats.Dot(ss[k], ys[k])/floats.Dot(ys[k], ys[k]), d)
		} else {
			floats.Scale(1/max(1, floats.Norm(g, 2)), d)
		}
		for k := range ss {
			b := rho[k] * floats.Dot(ys[k], d)
			floats.AddScaled(d, alpha[k]-b, ss[k])
		}
		floats.Scale(-1, d)
		slope := floats.Dot(g, d)
		if slope >= 0 { // not a descent direction: restart from the gradient
			ss, ys, rho = nil, nil, nil
			copy(d, g)
			floats.Scale(-1/max(1, floats.Norm(g, 2)), d)
			slope = floats.Dot(g, d)
		}
		step, fn, ok := 1.0, 0.0, false
		for try := 0; try < 40; try++ {
			floats.AddScaledTo(xn, x, step, d)
			if fn = f(xn, gn); fn <= fx+1e-4*step*slope {
				ok = true
				break
			}
			step /= 2
		}
		if !ok {
			break
		}
		s, y := make([]float64, n), make([]float64, n)
		floats.SubTo(s, xn, x)
		floats.SubTo(y, gn, g)
		if sy := floats.Dot(s, y); sy > 1e-12 {
			if len(ss) == hist {
				ss, ys, rho = ss[1:], ys[1:], rho[1:]
			}
			ss, ys, rho = append(ss, s), append(ys, y), append(rho, 1/sy)
		}
		copy(x, xn)
		copy(g, gn)
		converged := fx-fn <= 1e-12*(1+math.Abs(fx))
		fx = fn
		if converged {
			done++
			break
		}
	}
	return fx, done
}

// moments returns the per-column mean and standard deviation of f (1 for
// constant columns).
func moments(f Features) (mean, std []float64) {
	mean, std = make([]float64, f.D), make([]float64, f.D)
	for i := 0; i < f.N; i++ {
		for j, v := range f.X[i*f.D : (i+1)*f.D] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(f.N)
	}
	for i := 0; i < f.N; i++ {
		for j, v := range f.X[i*f.D : (i+1)*f.D] {
			d := float64(v) - mean[j]
			std[j] += d * d
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(f.N))
		if std[j] < 1e-12 {
			std[j] = 1
		}
	}
	return mean, std
}

func standardise(f Features, mean, std []float64) []float64 {
	x := make([]float64, f.N*f.D)
	for i := 0; i < f.N; i++ {
		row := x[i*f.D : (i+1)*f.D]
		for j, v := range f.X[i*f.D : (i+1)*f.D] {
			row[j] = (float64(v) - mean[j]) / std[j]
		}
	}
	return x
}

// logreg is the probe's objective: x is N x D row-major (standardised),
// theta holds W (C x D, row-major) then the bias b (C).
type logreg struct {
	x       []float64
	y       []int32
	n, d, c int
	l2      float64
	parts   [][]float64 // per row block: gradient then loss
}

// rowBlocks splits n rows into blocks of a size that depends on n only, so
// the sums below are taken in the same order on every machine.
func rowBlocks(n int) (size, count int) {
	size = max(256, (n+63)/64)
	return size, (n + size - 1) / size
}

// eval returns the objective at theta and writes its gradient into g. Row
// blocks run in parallel; their partial sums are added in block order.
func (m *logreg) eval(theta, g []float64) float64 {
	dc := m.d * m.c
	size, count := rowBlocks(m.n)
	loss := m.sumGrad(theta, g, count, func(k int, row func(i int)) {
		for i := k * size; i < min((k+1)*size, m.n); i++ {
			row(i)
		}
	})
	inv := 1 / float64(m.n)
	floats.Scale(inv, g)
	floats.AddScaled(g[:dc], m.l2, theta[:dc])
	w := theta[:dc]
	return loss*inv + 0.5*m.l2*floats.Dot(w, w)
}

// sumGrad sums the cross-entropy at theta of the rows of count blocks
// (block k visits its rows with each(k, row)): it writes the summed
// gradient into g and returns the summed loss. Blocks run in parallel;
// their partial sums are added in block order, so the result does not
// depend on the number of CPUs.
func (m *logreg) sumGrad(theta, g []float64, count int, each func(k int, row func(i int))) float64 {
	dc := m.d * m.c
	if len(m.parts) < count {
		m.parts = make([][]float64, count)
		for k := range m.parts {
			m.parts[k] = make([]float64, dc+m.c+1)
		}
	}
	parallel(count, func(k int) {
		part := m.parts[k]
		clear(part)
		logits := make([]float64, m.c)
		each(k, func(i int) { m.addRow(theta, part, logits, i) })
	})
	clear(g)
	loss := 0.0
	for _, part := range m.parts[:count] {
		floats.Add(g, part[:dc+m.c])
		loss += part[dc+m.c]
	}
	return loss
}

// addRow adds row i's cross-entropy at theta to part[D*C+C] and its
// gradient to part[:D*C+C]; logits is scratch of C values.
func (m *logreg) addRow(theta, part, logits []float64, i int) {
	dc := m.d * m.c
	xi := m.x[i*m.d : (i+1)*m.d]
	top := math.Inf(-1)
	for c := range logits {
		logits[c] = floats.Dot(xi, theta[c*m.d:(c+1)*m.d]) + theta[dc+c]
		top = max(top, logits[c])
	}
	zy := logits[m.y[i]] - top
	sum := 0.0
	for c := range logits {
		logits[c] = math.Exp(logits[c] - top)
		sum += logits[c]
	}
	part[dc+m.c] += math.Log(sum) - zy
	for c := range logits {
		r := logits[c] / sum
		if c == int(m.y[i]) {
			r--
		}
		floats.AddScaled(part[c*m.d:(c+1)*m.d], r, xi)
		part[dc+c] += r
	}
}

// parallel runs f(0..n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(k int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for k := int(next.Add(1)) - 1; k < n; k = int(next.Add(1)) - 1 {
				f(k)
			}
		}()
	}
	wg.Wait()
}

// predict returns the most likely class of each row of x (ties to the lower
// class).
func (m *logreg) predict(x []float64, theta []float64) []int {
	n := len(x) / m.d
	dc := m.d * m.c
	pred := make([]int, n)
	for i := range pred {
		xi := x[i*m.d : (i+1)*m.d]
		best, bestV := 0, math.Inf(-1)
		for c := 0; c < m.c; c++ {
			if v := floats.Dot(xi, theta[c*m.d:(c+1)*m.d]) + theta[dc+c]; v > bestV {
				best, bestV = c, v
			}
		}
		pred[i] = best
	}
	return pred
}
