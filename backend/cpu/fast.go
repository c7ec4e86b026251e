package cpu

import (
	"math"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/vec"
)

// fastKernels are the fast backend's kernels: the reference kernels, with
// the ops that dominate a training step replaced by kernels that compute in
// float32 (accumulating sums over many rows in float64), make one pass over
// memory, and run the transcendental and row ops as vector kernels (package
// vec).
var fastKernels = func() map[backend.Op]kernel {
	k := map[backend.Op]kernel{}
	for op, f := range refKernels {
		k[op] = f
	}
	for op, f := range map[backend.Op]kernel{
		backend.OpMatMul:       fastMatmul,
		backend.OpAdd:          fastAdd,
		backend.OpMul:          fastMul,
		backend.OpColSum:       fastColSum,
		backend.OpLayerNorm:    fastLayerNorm,
		backend.OpLayerNormBwd: fastLayerNormBwd,
		backend.OpSoftmax:      fastSoftmax,
		backend.OpSoftmaxBwd:   fastSoftmaxBwd,
		backend.OpGELU:         fastGELU,
		backend.OpGELUBwd:      fastGELUBwd,
		backend.OpCopy:         fastCopy,
		backend.OpAdamW:        fastAdamW,
		backend.OpSmoothL1:     fastSmoothL1,
		backend.OpSmoothL1Bwd:  fastSmoothL1Bwd,
		backend.OpMSE:          fastMSE,
		backend.OpMSEBwd:       fastMSEBwd,
	} {
		k[op] = f
	}
	return k
}()

// fastBroadcast computes y = a+x or a*x with x repeated over rows of len(x)
// elements of a, as vector kernels over chunks of rows (or of elements when
// x is as long as a).
func fastBroadcast(b *device, c backend.Call, mul bool) error {
	y, a, x := f(c, 0), f(c, 1), f(c, 2)
	op := vec.Add
	if mul {
		op = vec.Mul
	}
	nx := len(x)
	if rows := len(y) / nx; rows > 1 {
		b.parallel(rows, nx, func(lo, hi int) { op(y[lo*nx:hi*nx], a[lo*nx:hi*nx], x) })
		return nil
	}
	b.parallel(len(y), 1, func(lo, hi int) { op(y[lo:hi], a[lo:hi], x[lo:hi]) })
	return nil
}

func fastAdd(b *device, c backend.Call) error { return fastBroadcast(b, c, false) }
func fastMul(b *device, c backend.Call) error { return fastBroadcast(b, c, true) }

func fastCopy(b *device, c backend.Call) error {
	y, x := f(c, 0), f(c, 1)
	b.parallel(len(y), 1, func(lo, hi int) { copy(y[lo:hi], x[lo:hi]) })
	return nil
}

// fastColSum sums chunks of rows into per-worker float64 partials, reading x
// row by row (the reference walks it column by column).
func fastColSum(b *device, c backend.Call) error {
	y, x := f(c, 0), f(c, 1)
	cols := len(y)
	rows := len(x) / cols
	chunks := b.workers(rows, cols)
	part := b.scratch64(chunks * cols)
	b.parallelChunks(rows, cols, 1, chunksPerWorker, func(k, lo, hi int) {
		vec.ColSum(part[k*cols:(k+1)*cols], x[lo*cols:hi*cols], cols)
	})
	for j := range y {
		s := part[j]
		for k := 1; k < chunks; k++ {
			s += part[k*cols+j]
		}
		y[j] = float32(s)
	}
	return nil
}

// fastLayerNorm normalises chunks of rows; each row is read from memory
// once (its passes run in cache) and written once.
func fastLayerNorm(b *device, c backend.Call) error {
	y, mean, rstd, x, gamma, beta := f(c, 0), f(c, 1), f(c, 2), f(c, 3), f(c, 4), f(c, 5)
	rows, cols := lastDim(c.Args[3])
	b.parallel(rows, cols, func(lo, hi int) {
		vec.LayerNorm(y[lo*cols:hi*cols], mean[lo:hi], rstd[lo:hi], x[lo*cols:hi*cols], gamma, beta, cols, c.Attrs.Eps)
	})
	return nil
}

// fastLayerNormBwd computes dx for chunks of rows and, in the same pass,
// dgamma and dbeta as per-worker float64 partials (the reference reads the
// tensors a second time, column by column).
func fastLayerNormBwd(b *device, c backend.Call) error {
	dx, dgamma, dbeta, dy, x, mean, rstd, gamma := f(c, 0), f(c, 1), f(c, 2), f(c, 3), f(c, 4), f(c, 5), f(c, 6), f(c, 7)
	rows, cols := lastDim(c.Args[4])
	chunks := b.workers(rows, cols)
	params := dgamma != nil || dbeta != nil
	var part []float64
	if params {
		part = b.scratch64(2 * chunks * cols)
	}
	b.parallelChunks(rows, cols, 1, chunksPerWorker, func(k, lo, hi int) {
		var pg, pb []float64
		if params {
			pg, pb = part[2*k*cols:(2*k+1)*cols], part[(2*k+1)*cols:(2*k+2)*cols]
		}
		vec.LayerNormBwd(dx[lo*cols:hi*cols], pg, pb, dy[lo*cols:hi*cols], x[lo*cols:hi*cols], mean[lo:hi], rstd[lo:hi], gamma, cols)
	})
	if params {
		for j := 0; j < cols; j++ {
			var sg, sb float64
			for k := 0; k < chunks; k++ {
				sg += part[2*k*cols+j]
				sb += part[(2*k+1)*cols+j]
			}
			if dgamma != nil {
				dgamma[j] = float32(sg)
			}
			if dbeta != nil {
				dbeta[j] = float32(sb)
			}
		}
	}
	return nil
}

// fastSoftmax runs the vector softmax over chunks of rows.
func fastSoftmax(b *device, c backend.Call) error {
	y, x := f(c, 0), f(c, 1)
	rows, cols := lastDim(c.Args[1])
	alpha := float32(c.Attrs.Alpha)
	b.parallel(rows, 8*cols, func(lo, hi int) {
		vec.Softmax(y[lo*cols:hi*cols], x[lo*cols:hi*cols], cols, alpha)
	})
	return nil
}

func fastSoftmaxBwd(b *device, c backend.Call) error {
	dx, dy, y := f(c, 0), f(c, 1), f(c, 2)
	rows, cols := lastDim(c.Args[2])
	alpha := float32(c.Attrs.Alpha)
	b.parallel(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr, dyr, dxr := y[r*cols:(r+1)*cols], dy[r*cols:(r+1)*cols], dx[r*cols:(r+1)*cols]
			dyr, dxr = dyr[:len(yr)], dxr[:len(yr)]
			var s0, s1 float32
			j := 0
			for ; j+2 <= len(yr); j += 2 {
				s0 += dyr[j] * yr[j]
				s1 += dyr[j+1] * yr[j+1]
			}
			if j < len(yr) {
				s0 += dyr[j] * yr[j]
			}
			s := s0 + s1
			for j, v := range yr {
				dxr[j] = alpha * v * (dyr[j] - s)
			}
		}
	})
	return nil
}

func fastGELU(b *device, c backend.Call) error {
	y, x := f(c, 0), f(c, 1)
	b.parallel(len(y), 8, func(lo, hi int) { vec.GELU(y[lo:hi], x[lo:hi]) })
	return nil
}

func fastGELUBwd(b *device, c backend.Call) error {
	dx, dy, x := f(c, 0), f(c, 1), f(c, 2)
	b.parallel(len(dx), 8, func(lo, hi int) { vec.GELUGrad(dx[lo:hi], dy[lo:hi], x[lo:hi]) })
	return nil
}

// fastAdamW runs the vector AdamW step over chunks of the tensors, with the
// scalars derived in float64 as the op table says.
func fastAdamW(b *device, c backend.Call) error {
	p, m, v, g := f(c, 0), f(c, 1), f(c, 2), f(c, 3)
	a := c.Attrs
	t := float64(a.Step)
	s := vec.AdamWScalars{
		Decay: float32(1 - a.LR*a.WeightDecay), Beta1: float32(a.Beta1), OneMinusB1: float32(1 - a.Beta1),
		Beta2: float32(a.Beta2), OneMinusB2: float32(1 - a.Beta2), StepSize: float32(a.LR / (1 - math.Pow(a.Beta1, t))),
		BC2Sqrt: float32(math.Sqrt(1 - math.Pow(a.Beta2, t))), Eps: float32(a.Eps),
	}
	b.parallel(len(p), 8, func(lo, hi int) { vec.AdamW(p[lo:hi], m[lo:hi], v[lo:hi], g[lo:hi], s) })
	return nil
}

// lossSum returns the sum over i of term(pred[i]-target[i]) in float64,
// split across goroutines.
func lossSum(b *device, pred, target []float32, term func(d float64) float64) float64 {
	part := b.scratch64(b.workers(len(pred), 4))
	b.parallelChunks(len(pred), 4, 1, chunksPerWorker, func(k, lo, hi int) {
		var s float64
		ps, ts := pred[lo:hi], target[lo:hi]
		ts = ts[:len(ps)]
		for i, p := range ps {
			s += term(float64(p) - float64(ts[i]))
		}
		part[k] += s
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

func fastSmoothL1(b *device, c backend.Call) error {
	beta := c.Attrs.Beta
	pred := f(c, 1)
	s := lossSum(b, pred, f(c, 2), func(d float64) float64 {
		if d < 0 {
			d = -d
		}
		if d < beta {
			return 0.5 * d * d / beta
		}
		return d - 0.5*beta
	})
	f(c, 0)[0] = float32(s / float64(len(pred)))
	return nil
}

func fastMSE(b *device, c backend.Call) error {
	pred := f(c, 1)
	s := lossSum(b, pred, f(c, 2), func(d float64) float64 { return d * d })
	f(c, 0)[0] = float32(s / float64(len(pred)))
	return nil
}

func fastSmoothL1Bwd(b *device, c backend.Call) error {
	dpred, dloss, pred, target := f(c, 0), f(c, 1), f(c, 2), f(c, 3)
	k := float64(dloss[0]) / float64(len(pred))
	beta := c.Attrs.Beta
	kb := k / beta
	b.parallel(len(pred), 4, func(lo, hi int) {
		ds, ps, ts := dpred[lo:hi], pred[lo:hi], target[lo:hi]
		ps, ts = ps[:len(ds)], ts[:len(ds)]
		for i := range ds {
			d := float64(ps[i]) - float64(ts[i])
			switch {
			case d < beta && d > -beta:
				ds[i] = float32(kb * d)
			case d > 0:
				ds[i] = float32(k)
			case d < 0:
				ds[i] = float32(-k)
			default:
				ds[i] = 0
			}
		}
	})
	return nil
}

func fastMSEBwd(b *device, c backend.Call) error {
	dpred, dloss, pred, target := f(c, 0), f(c, 1), f(c, 2), f(c, 3)
	k := 2 * float64(dloss[0]) / float64(len(pred))
	b.parallel(len(pred), 4, func(lo, hi int) {
		ds, ps, ts := dpred[lo:hi], pred[lo:hi], target[lo:hi]
		ps, ts = ps[:len(ds)], ts[:len(ds)]
		for i := range ds {
			ds[i] = float32(k * (float64(ps[i]) - float64(ts[i])))
		}
	})
	return nil
}
