package cpu

import (
	"fmt"
	"math"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu/internal/vec"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// kernel computes one checked call.
type kernel func(b *device, c backend.Call) error

// refKernels are the reference backend's kernels. Each is the plain
// statement of its op's semantics in the table of package backend.
var refKernels = map[backend.Op]kernel{
	backend.OpMatMul:       matmul,
	backend.OpAdd:          add,
	backend.OpMul:          mul,
	backend.OpScale:        scale,
	backend.OpAxpy:         axpy,
	backend.OpColSum:       colsum,
	backend.OpLayerNorm:    layernorm,
	backend.OpLayerNormBwd: layernormBwd,
	backend.OpSoftmax:      softmax,
	backend.OpSoftmaxBwd:   softmaxBwd,
	backend.OpGELU:         activation(func(v float64) float64 { return v * normCDF(v) }),
	backend.OpGELUBwd:      activationGrad(func(v float64) float64 { return normCDF(v) + v*normPDF(v) }),
	backend.OpGather:       gather,
	backend.OpScatterAdd:   scatterAdd,
	backend.OpSplitHeads:   splitHeads,
	backend.OpMergeHeads:   mergeHeads,
	backend.OpPatchify:     patchify,
	backend.OpSmoothL1:     smoothL1,
	backend.OpSmoothL1Bwd:  smoothL1Bwd,
	backend.OpMSE:          mse,
	backend.OpMSEBwd:       mseBwd,
	backend.OpSum:          sum,
	backend.OpSumSq:        sumSq,
	backend.OpAdamW:        adamw,
	backend.OpEMA:          ema,
	backend.OpFill:         fill,
	backend.OpCopy:         copyOp,
	backend.OpSiLU:         activation(func(v float64) float64 { return v * sigmoid(v) }),
	backend.OpSiLUBwd:      activationGrad(func(v float64) float64 { s := sigmoid(v); return s * (1 + v*(1-s)) }),
}

// f returns the float32 data of argument i (nil for a nil optional argument).
func f(c backend.Call, i int) []float32 {
	if c.Args[i] == nil {
		return nil
	}
	return c.Args[i].Storage().Impl.(*buffer).f
}

// ix returns the int32 data of argument i.
func ix(c backend.Call, i int) []int32 { return c.Args[i].Storage().Impl.(*buffer).i }

// lastDim returns the size of t's last dimension and the number of rows
// before it.
func lastDim(t *backend.Tensor) (rows, cols int) {
	s := t.Shape()
	cols = s[len(s)-1]
	return t.NumElements() / cols, cols
}

func matmul(b *device, c backend.Call) error {
	cd, ad, bd := f(c, 0), f(c, 1), f(c, 2)
	at, bt := c.Args[1].Shape(), c.Args[2].Shape()
	r := len(at)
	ar, ac := at[r-2], at[r-1]
	br, bc := bt[r-2], bt[r-1]
	batch, m, n, k := backend.MatMulDims(c)
	ta, tb := blas.NoTrans, blas.NoTrans
	if c.Attrs.TransA {
		ta = blas.Trans
	}
	if c.Attrs.TransB {
		tb = blas.Trans
	}
	alpha, beta := float32(c.Attrs.Alpha), float32(c.Attrs.Beta)
	for z := 0; z < batch; z++ {
		cz := cd[z*m*n : (z+1)*m*n]
		if beta == 0 {
			clear(cz) // c is not read when Beta is 0, even if it holds NaN
		}
		if k == 0 {
			continue
		}
		blas32.Gemm(ta, tb, alpha,
			blas32.General{Rows: ar, Cols: ac, Stride: ac, Data: ad[z*ar*ac : (z+1)*ar*ac]},
			blas32.General{Rows: br, Cols: bc, Stride: bc, Data: bd[z*br*bc : (z+1)*br*bc]},
			beta,
			blas32.General{Rows: m, Cols: n, Stride: n, Data: cz})
	}
	return nil
}

// broadcast applies op to y[i] = op(a[i], x[i mod len(x)]).
func broadcast(b *device, c backend.Call, op func(p, q float32) float32) error {
	y, a, x := f(c, 0), f(c, 1), f(c, 2)
	nx := len(x)
	b.parallel(len(y), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = op(a[i], x[i%nx])
		}
	})
	return nil
}

func add(b *device, c backend.Call) error {
	return broadcast(b, c, func(p, q float32) float32 { return p + q })
}

func mul(b *device, c backend.Call) error {
	return broadcast(b, c, func(p, q float32) float32 { return p * q })
}

func scale(b *device, c backend.Call) error {
	y, x, alpha := f(c, 0), f(c, 1), float32(c.Attrs.Alpha)
	b.parallel(len(y), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = alpha * x[i]
		}
	})
	return nil
}

func axpy(b *device, c backend.Call) error {
	y, x, alpha := f(c, 0), f(c, 1), float32(c.Attrs.Alpha)
	b.parallel(len(y), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] += alpha * x[i]
		}
	})
	return nil
}

func colsum(b *device, c backend.Call) error {
	y, x := f(c, 0), f(c, 1)
	cols := len(y)
	rows := len(x) / cols
	b.parallel(cols, rows, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			var s float64
			for r := 0; r < rows; r++ {
				s += float64(x[r*cols+j])
			}
			y[j] = float32(s)
		}
	})
	return nil
}

func layernorm(b *device, c backend.Call) error {
	y, mean, rstd, x, gamma, beta := f(c, 0), f(c, 1), f(c, 2), f(c, 3), f(c, 4), f(c, 5)
	rows, cols := lastDim(c.Args[3])
	eps := c.Attrs.Eps
	b.parallel(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			mu := s / float64(cols)
			var ss float64
			for _, v := range xr {
				d := float64(v) - mu
				ss += d * d
			}
			rs := 1 / math.Sqrt(ss/float64(cols)+eps)
			mean[r], rstd[r] = float32(mu), float32(rs)
			for j, v := range xr {
				h := (float64(v) - mu) * rs
				if gamma != nil {
					h = h*float64(gamma[j]) + float64(beta[j])
				}
				yr[j] = float32(h)
			}
		}
	})
	return nil
}

func layernormBwd(b *device, c backend.Call) error {
	dx, dgamma, dbeta, dy, x, mean, rstd, gamma := f(c, 0), f(c, 1), f(c, 2), f(c, 3), f(c, 4), f(c, 5), f(c, 6), f(c, 7)
	rows, cols := lastDim(c.Args[4])
	xhat := func(r, j int) float64 { return (float64(x[r*cols+j]) - float64(mean[r])) * float64(rstd[r]) }
	b.parallel(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var sg, sgx float64
			for j := 0; j < cols; j++ {
				g := float64(dy[r*cols+j])
				if gamma != nil {
					g *= float64(gamma[j])
				}
				sg += g
				sgx += g * xhat(r, j)
			}
			sg /= float64(cols)
			sgx /= float64(cols)
			for j := 0; j < cols; j++ {
				g := float64(dy[r*cols+j])
				if gamma != nil {
					g *= float64(gamma[j])
				}
				dx[r*cols+j] = float32(float64(rstd[r]) * (g - sg - xhat(r, j)*sgx))
			}
		}
	})
	if dgamma != nil || dbeta != nil {
		b.parallel(cols, rows, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				var sgm, sb float64
				for r := 0; r < rows; r++ {
					g := float64(dy[r*cols+j])
					sgm += g * xhat(r, j)
					sb += g
				}
				if dgamma != nil {
					dgamma[j] = float32(sgm)
				}
				if dbeta != nil {
					dbeta[j] = float32(sb)
				}
			}
		})
	}
	return nil
}

func softmax(b *device, c backend.Call) error {
	y, x := f(c, 0), f(c, 1)
	rows, cols := lastDim(c.Args[1])
	alpha := c.Attrs.Alpha
	b.parallel(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			vec.SoftmaxRow64(y[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols], alpha)
		}
	})
	return nil
}

func softmaxBwd(b *device, c backend.Call) error {
	dx, dy, y := f(c, 0), f(c, 1), f(c, 2)
	rows, cols := lastDim(c.Args[2])
	alpha := c.Attrs.Alpha
	b.parallel(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var s float64
			for j := r * cols; j < (r+1)*cols; j++ {
				s += float64(dy[j]) * float64(y[j])
			}
			for j := r * cols; j < (r+1)*cols; j++ {
				dx[j] = float32(alpha * float64(y[j]) * (float64(dy[j]) - s))
			}
		}
	})
	return nil
}

// normCDF is the standard normal distribution function Phi, normPDF its
// density phi.
func normCDF(x float64) float64 { return 0.5 * (1 + math.Erf(x/math.Sqrt2)) }
func normPDF(x float64) float64 { return math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi) }

// sigmoid is 1/(1+exp(-v)).
func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// activation is the kernel of y = act(x) elementwise, act in float64.
func activation(act func(v float64) float64) kernel {
	return func(b *device, c backend.Call) error {
		y, x := f(c, 0), f(c, 1)
		b.parallel(len(y), 8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y[i] = float32(act(float64(x[i])))
			}
		})
		return nil
	}
}

// activationGrad is the kernel of dx = dy * deriv(x) elementwise, in
// float64.
func activationGrad(deriv func(v float64) float64) kernel {
	return func(b *device, c backend.Call) error {
		dx, dy, x := f(c, 0), f(c, 1), f(c, 2)
		b.parallel(len(dx), 8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				dx[i] = float32(float64(dy[i]) * deriv(float64(x[i])))
			}
		})
		return nil
	}
}

// rowWidth returns the number of elements per row of a tensor indexed by its
// first dim.
func rowWidth(t *backend.Tensor) int { return t.NumElements() / t.Shape()[0] }

func gather(b *device, c backend.Call) error {
	y, x, idx := f(c, 0), f(c, 1), ix(c, 2)
	w := rowWidth(c.Args[1])
	b.parallel(len(idx), w, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := int(idx[r])
			copy(y[r*w:(r+1)*w], x[s*w:(s+1)*w])
		}
	})
	return nil
}

func scatterAdd(b *device, c backend.Call) error {
	y, x, idx := f(c, 0), f(c, 1), ix(c, 2)
	w := rowWidth(c.Args[0])
	// Columns are independent, so split by column; rows run in order.
	b.parallel(w, len(idx), func(lo, hi int) {
		for r, s := range idx {
			yr, xr := y[int(s)*w:], x[r*w:]
			for j := lo; j < hi; j++ {
				yr[j] += xr[j]
			}
		}
	})
	return nil
}

// heads returns the packed tensor's [B,T] and G, H, E of a split_heads or
// merge_heads call, and the head tensors.
func heads(c backend.Call) (packed []float32, parts [][]float32, bsz, t, g, h, e int) {
	var pi int
	var pidx []int
	if c.Op == backend.OpSplitHeads {
		pi = len(c.Args) - 1
		for k := 0; k < pi; k++ {
			pidx = append(pidx, k)
		}
	} else {
		pi = 0
		for k := 1; k < len(c.Args); k++ {
			pidx = append(pidx, k)
		}
	}
	s := c.Args[pi].Shape()
	g, h = len(pidx), c.Attrs.Heads
	bsz, t, e = s[0], s[1], s[2]/(g*h)
	packed = f(c, pi)
	for _, k := range pidx {
		parts = append(parts, f(c, k))
	}
	return
}

// headsMove copies between the packed [B,T,G,H,E] layout and the G tensors
// [B,H,T,E], in the direction split says.
func headsMove(b *device, c backend.Call, split bool) error {
	packed, parts, bsz, t, g, h, e := heads(c)
	b.parallel(bsz*t, g*h*e, func(lo, hi int) {
		for bt := lo; bt < hi; bt++ {
			bi, ti := bt/t, bt%t
			for gi := 0; gi < g; gi++ {
				for hi := 0; hi < h; hi++ {
					p := packed[((bt*g+gi)*h+hi)*e:][:e]
					q := parts[gi][((bi*h+hi)*t+ti)*e:][:e]
					if split {
						copy(q, p)
					} else {
						copy(p, q)
					}
				}
			}
		}
	})
	return nil
}

func splitHeads(b *device, c backend.Call) error { return headsMove(b, c, true) }
func mergeHeads(b *device, c backend.Call) error { return headsMove(b, c, false) }

func patchify(b *device, c backend.Call) error {
	y, img := f(c, 0), f(c, 1)
	s := c.Args[1].Shape()
	bsz, ch, hh, ww, p := s[0], s[1], s[2], s[3], c.Attrs.Patch
	gh, gw := hh/p, ww/p
	b.parallel(bsz*gh, gw*ch*p*p, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			bb, i := bi/gh, bi%gh
			for j := 0; j < gw; j++ {
				row := y[((bb*gh+i)*gw+j)*ch*p*p:]
				for cc := 0; cc < ch; cc++ {
					for u := 0; u < p; u++ {
						src := img[((bb*ch+cc)*hh+i*p+u)*ww+j*p:][:p]
						copy(row[cc*p*p+u*p:][:p], src)
					}
				}
			}
		}
	})
	return nil
}

func smoothL1Term(d, beta float64) float64 {
	if math.Abs(d) < beta {
		return 0.5 * d * d / beta
	}
	return math.Abs(d) - 0.5*beta
}

func smoothL1Grad(d, beta float64) float64 {
	switch {
	case math.Abs(d) < beta:
		return d / beta
	case d > 0:
		return 1
	case d < 0:
		return -1
	}
	return 0
}

// meanOf returns the mean over i of term(pred[i]-target[i]), summed in float64.
func meanOf(pred, target []float32, term func(d float64) float64) float32 {
	var s float64
	for i := range pred {
		s += term(float64(pred[i]) - float64(target[i]))
	}
	return float32(s / float64(len(pred)))
}

func smoothL1(b *device, c backend.Call) error {
	beta := c.Attrs.Beta
	f(c, 0)[0] = meanOf(f(c, 1), f(c, 2), func(d float64) float64 { return smoothL1Term(d, beta) })
	return nil
}

func mse(b *device, c backend.Call) error {
	f(c, 0)[0] = meanOf(f(c, 1), f(c, 2), func(d float64) float64 { return d * d })
	return nil
}

// lossGrad sets dpred[i] = dloss/N * grad(pred[i]-target[i]).
func lossGrad(b *device, c backend.Call, grad func(d float64) float64) error {
	dpred, dloss, pred, target := f(c, 0), f(c, 1), f(c, 2), f(c, 3)
	k := float64(dloss[0]) / float64(len(pred))
	b.parallel(len(pred), 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dpred[i] = float32(k * grad(float64(pred[i])-float64(target[i])))
		}
	})
	return nil
}

func smoothL1Bwd(b *device, c backend.Call) error {
	beta := c.Attrs.Beta
	return lossGrad(b, c, func(d float64) float64 { return smoothL1Grad(d, beta) })
}

func mseBwd(b *device, c backend.Call) error {
	return lossGrad(b, c, func(d float64) float64 { return 2 * d })
}

func sum(b *device, c backend.Call) error {
	var s float64
	for _, v := range f(c, 1) {
		s += float64(v)
	}
	f(c, 0)[0] = float32(s)
	return nil
}

func sumSq(b *device, c backend.Call) error {
	var s float64
	for _, v := range f(c, 1) {
		s += float64(v) * float64(v)
	}
	f(c, 0)[0] = float32(s)
	return nil
}

func adamw(b *device, c backend.Call) error {
	p, m, v, g := f(c, 0), f(c, 1), f(c, 2), f(c, 3)
	a := c.Attrs
	t := float64(a.Step)
	decay := float32(1 - a.LR*a.WeightDecay)
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	omb1, omb2 := float32(1-a.Beta1), float32(1-a.Beta2)
	stepSize := float32(a.LR / (1 - math.Pow(a.Beta1, t)))
	bc2sqrt := float32(math.Sqrt(1 - math.Pow(a.Beta2, t)))
	eps := float32(a.Eps)
	b.parallel(len(p), 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			p[i] *= decay
			m[i] = b1*m[i] + omb1*g[i]
			v[i] = b2*v[i] + omb2*g[i]*g[i]
			denom := float32(math.Sqrt(float64(v[i])))/bc2sqrt + eps
			p[i] -= stepSize * m[i] / denom
		}
	})
	return nil
}

func ema(b *device, c backend.Call) error {
	t, s := f(c, 0), f(c, 1)
	m, om := float32(c.Attrs.Momentum), float32(1-c.Attrs.Momentum)
	b.parallel(len(t), 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			t[i] = m*t[i] + om*s[i]
		}
	})
	return nil
}

func fill(b *device, c backend.Call) error {
	y, v := f(c, 0), float32(c.Attrs.Alpha)
	for i := range y {
		y[i] = v
	}
	return nil
}

func copyOp(b *device, c backend.Call) error {
	copy(f(c, 0), f(c, 1))
	return nil
}

func init() {
	for _, op := range backend.Ops() {
		if refKernels[op] == nil && !op.Spec().Optional {
			panic(fmt.Sprintf("cpu: no reference kernel for %v", op))
		}
	}
}
