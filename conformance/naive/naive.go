// Package naive is a second, independent statement of the op catalogue:
// every op as the most direct float64 loops, written from the semantics
// table of package backend without looking at any other backend. The
// conformance suite checks the CPU reference against it, and computes finite
// differences with it.
//
// It is also a backend.Backend (float64 storage, rounded at Read), so the
// suite can use it as the reference for any backend.
package naive

import (
	"fmt"
	"math"

	"github.com/ijepa-go/ijepa/backend"
)

// Exec runs op on float64 arguments, in the argument order of the op's row
// in the table. args[i] is nil for an absent optional argument; indices are
// stored as float64 integers. Outputs are written in place.
func Exec(op backend.Op, args [][]float64, shapes []backend.Shape, at backend.Attrs) error {
	k, ok := ops[op]
	if !ok {
		return fmt.Errorf("naive: %v: %w", op, backend.ErrUnsupported)
	}
	k(args, shapes, at)
	return nil
}

type opFunc func(x [][]float64, s []backend.Shape, a backend.Attrs)

var ops = map[backend.Op]opFunc{
	backend.OpMatMul: matmul,
	backend.OpAdd: func(x [][]float64, s []backend.Shape, a backend.Attrs) {
		bcast(x, func(p, q float64) float64 { return p + q })
	},
	backend.OpMul: func(x [][]float64, s []backend.Shape, a backend.Attrs) {
		bcast(x, func(p, q float64) float64 { return p * q })
	},
	backend.OpScale:        scale,
	backend.OpAxpy:         axpy,
	backend.OpColSum:       colsum,
	backend.OpLayerNorm:    layernorm,
	backend.OpLayerNormBwd: layernormBwd,
	backend.OpSoftmax:      softmax,
	backend.OpSoftmaxBwd:   softmaxBwd,
	backend.OpGELU:         gelu,
	backend.OpGELUBwd:      geluBwd,
	backend.OpGather:       gather,
	backend.OpScatterAdd:   scatterAdd,
	backend.OpSplitHeads:   splitHeads,
	backend.OpMergeHeads:   mergeHeads,
	backend.OpPatchify:     patchify,
	backend.OpSmoothL1:     smoothL1,
	backend.OpSmoothL1Bwd:  smoothL1Bwd,
	backend.OpMSE:          mse,
	backend.OpMSEBwd:       mseBwd,
	backend.OpSum: func(x [][]float64, s []backend.Shape, a backend.Attrs) {
		x[0][0] = total(x[1], func(v float64) float64 { return v })
	},
	backend.OpSumSq: func(x [][]float64, s []backend.Shape, a backend.Attrs) {
		x[0][0] = total(x[1], func(v float64) float64 { return v * v })
	},
	backend.OpAdamW: adamw,
	backend.OpEMA:   ema,
	backend.OpFill:  fill,
	backend.OpCopy:  func(x [][]float64, s []backend.Shape, a backend.Attrs) { copy(x[0], x[1]) },
	backend.OpSiLU: func(x [][]float64, s []backend.Shape, a backend.Attrs) {
		for i, v := range x[1] {
			x[0][i] = v / (1 + math.Exp(-v))
		}
	},
	backend.OpSiLUBwd: func(x [][]float64, s []backend.Shape, a backend.Attrs) {
		for i, v := range x[2] {
			sg := 1 / (1 + math.Exp(-v))
			x[0][i] = x[1][i] * sg * (1 + v*(1-sg))
		}
	},
}

func matmul(x [][]float64, s []backend.Shape, a backend.Attrs) {
	c, A, B := x[0], x[1], x[2]
	r := len(s[0])
	z := 1
	if r == 3 {
		z = s[0][0]
	}
	m, n := s[0][r-2], s[0][r-1]
	ar, ac := s[1][r-2], s[1][r-1]
	br, bc := s[2][r-2], s[2][r-1]
	k := ac
	if a.TransA {
		k = ar
	}
	at := func(b, i, l int) float64 { // op(A)[i,l]
		if a.TransA {
			return A[b*ar*ac+l*ac+i]
		}
		return A[b*ar*ac+i*ac+l]
	}
	bt := func(b, l, j int) float64 { // op(B)[l,j]
		if a.TransB {
			return B[b*br*bc+j*bc+l]
		}
		return B[b*br*bc+l*bc+j]
	}
	for b := 0; b < z; b++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var sum float64
				for l := 0; l < k; l++ {
					sum += at(b, i, l) * bt(b, l, j)
				}
				o := b*m*n + i*n + j
				old := 0.0
				if a.Beta != 0 {
					old = a.Beta * c[o]
				}
				c[o] = a.Alpha*sum + old
			}
		}
	}
}

func bcast(x [][]float64, op func(p, q float64) float64) {
	y, a, b := x[0], x[1], x[2]
	for i := range y {
		y[i] = op(a[i], b[i%len(b)])
	}
}

func scale(x [][]float64, s []backend.Shape, a backend.Attrs) {
	for i := range x[0] {
		x[0][i] = a.Alpha * x[1][i]
	}
}

func axpy(x [][]float64, s []backend.Shape, a backend.Attrs) {
	for i := range x[0] {
		x[0][i] += a.Alpha * x[1][i]
	}
}

func colsum(x [][]float64, s []backend.Shape, a backend.Attrs) {
	y, in := x[0], x[1]
	for j := range y {
		y[j] = 0
	}
	for i, v := range in {
		y[i%len(y)] += v
	}
}

func rowsCols(s backend.Shape) (int, int) {
	c := s[len(s)-1]
	return s.NumElements() / c, c
}

func layernorm(x [][]float64, s []backend.Shape, a backend.Attrs) {
	y, mean, rstd, in, gamma, beta := x[0], x[1], x[2], x[3], x[4], x[5]
	rows, cols := rowsCols(s[3])
	for r := 0; r < rows; r++ {
		row := in[r*cols : (r+1)*cols]
		mu := total(row, func(v float64) float64 { return v }) / float64(cols)
		va := total(row, func(v float64) float64 { return (v - mu) * (v - mu) }) / float64(cols)
		rs := 1 / math.Sqrt(va+a.Eps)
		mean[r], rstd[r] = mu, rs
		for j := 0; j < cols; j++ {
			h := (row[j] - mu) * rs
			if gamma != nil {
				h = h*gamma[j] + beta[j]
			}
			y[r*cols+j] = h
		}
	}
}

func layernormBwd(x [][]float64, s []backend.Shape, a backend.Attrs) {
	dx, dgamma, dbeta, dy, in, mean, rstd, gamma := x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
	rows, cols := rowsCols(s[4])
	xhat := func(r, j int) float64 { return (in[r*cols+j] - mean[r]) * rstd[r] }
	g := func(r, j int) float64 {
		if gamma == nil {
			return dy[r*cols+j]
		}
		return dy[r*cols+j] * gamma[j]
	}
	for j := 0; j < cols && dgamma != nil; j++ {
		dgamma[j] = 0
	}
	for j := 0; j < cols && dbeta != nil; j++ {
		dbeta[j] = 0
	}
	for r := 0; r < rows; r++ {
		var sg, sgx float64
		for j := 0; j < cols; j++ {
			sg += g(r, j)
			sgx += g(r, j) * xhat(r, j)
		}
		for j := 0; j < cols; j++ {
			dx[r*cols+j] = rstd[r] * (g(r, j) - sg/float64(cols) - xhat(r, j)*sgx/float64(cols))
			if dgamma != nil {
				dgamma[j] += dy[r*cols+j] * xhat(r, j)
			}
			if dbeta != nil {
				dbeta[j] += dy[r*cols+j]
			}
		}
	}
}

func softmax(x [][]float64, s []backend.Shape, a backend.Attrs) {
	y, in := x[0], x[1]
	rows, cols := rowsCols(s[1])
	for r := 0; r < rows; r++ {
		m := math.Inf(-1)
		for j := 0; j < cols; j++ {
			m = math.Max(m, a.Alpha*in[r*cols+j])
		}
		var z float64
		for j := 0; j < cols; j++ {
			z += math.Exp(a.Alpha*in[r*cols+j] - m)
		}
		for j := 0; j < cols; j++ {
			y[r*cols+j] = math.Exp(a.Alpha*in[r*cols+j]-m) / z
		}
	}
}

func softmaxBwd(x [][]float64, s []backend.Shape, a backend.Attrs) {
	dx, dy, y := x[0], x[1], x[2]
	rows, cols := rowsCols(s[2])
	for r := 0; r < rows; r++ {
		var dot float64
		for j := 0; j < cols; j++ {
			dot += dy[r*cols+j] * y[r*cols+j]
		}
		for j := 0; j < cols; j++ {
			dx[r*cols+j] = a.Alpha * y[r*cols+j] * (dy[r*cols+j] - dot)
		}
	}
}

// Phi is the standard normal distribution function.
func Phi(v float64) float64 { return 0.5 * (1 + math.Erf(v/math.Sqrt2)) }

func gelu(x [][]float64, s []backend.Shape, a backend.Attrs) {
	for i, v := range x[1] {
		x[0][i] = v * Phi(v)
	}
}

func geluBwd(x [][]float64, s []backend.Shape, a backend.Attrs) {
	for i, v := range x[2] {
		x[0][i] = x[1][i] * (Phi(v) + v*math.Exp(-v*v/2)/math.Sqrt(2*math.Pi))
	}
}

func gather(x [][]float64, s []backend.Shape, a backend.Attrs) {
	y, in, idx := x[0], x[1], x[2]
	w := s[1].NumElements() / s[1][0]
	for r, v := range idx {
		for j := 0; j < w; j++ {
			y[r*w+j] = in[int(v)*w+j]
		}
	}
}

func scatterAdd(x [][]float64, s []backend.Shape, a backend.Attrs) {
	y, in, idx := x[0], x[1], x[2]
	w := s[0].NumElements() / s[0][0]
	for r, v := range idx {
		for j := 0; j < w; j++ {
			y[int(v)*w+j] += in[r*w+j]
		}
	}
}

// headIndex returns the packed offset of element (b,t,g,h,e) and the offset
// in head tensor g of the same element.
func headIndex(ps backend.Shape, g, h int) func(b, t, gi, hi, e int) (int, int) {
	T, E := ps[1], ps[2]/(g*h)
	return func(b, t, gi, hi, e int) (int, int) {
		return (((b*T+t)*g+gi)*h+hi)*E + e, ((b*h+hi)*T+t)*E + e
	}
}

func eachHead(ps backend.Shape, g, h int, f func(packed, part, gi int)) {
	at := headIndex(ps, g, h)
	E := ps[2] / (g * h)
	for b := 0; b < ps[0]; b++ {
		for t := 0; t < ps[1]; t++ {
			for gi := 0; gi < g; gi++ {
				for hi := 0; hi < h; hi++ {
					for e := 0; e < E; e++ {
						p, q := at(b, t, gi, hi, e)
						f(p, q, gi)
					}
				}
			}
		}
	}
}

func splitHeads(x [][]float64, s []backend.Shape, a backend.Attrs) {
	g := len(x) - 1
	packed := x[g]
	eachHead(s[g], g, a.Heads, func(p, q, gi int) { x[gi][q] = packed[p] })
}

func mergeHeads(x [][]float64, s []backend.Shape, a backend.Attrs) {
	g := len(x) - 1
	eachHead(s[0], g, a.Heads, func(p, q, gi int) { x[0][p] = x[1+gi][q] })
}

func patchify(x [][]float64, s []backend.Shape, a backend.Attrs) {
	y, img := x[0], x[1]
	B, C, H, W, P := s[1][0], s[1][1], s[1][2], s[1][3], a.Patch
	gw := W / P
	for b := 0; b < B; b++ {
		for c := 0; c < C; c++ {
			for row := 0; row < H; row++ {
				for col := 0; col < W; col++ {
					i, u, j, v := row/P, row%P, col/P, col%P
					y[(b*(H/P)*gw+i*gw+j)*C*P*P+c*P*P+u*P+v] = img[((b*C+c)*H+row)*W+col]
				}
			}
		}
	}
}

func total(v []float64, f func(float64) float64) float64 {
	var s float64
	for _, e := range v {
		s += f(e)
	}
	return s
}

func smoothL1(x [][]float64, s []backend.Shape, a backend.Attrs) {
	var sum float64
	for i := range x[1] {
		d := x[1][i] - x[2][i]
		if math.Abs(d) < a.Beta {
			sum += 0.5 * d * d / a.Beta
		} else {
			sum += math.Abs(d) - 0.5*a.Beta
		}
	}
	x[0][0] = sum / float64(len(x[1]))
}

func smoothL1Bwd(x [][]float64, s []backend.Shape, a backend.Attrs) {
	n := float64(len(x[2]))
	for i := range x[2] {
		d := x[2][i] - x[3][i]
		var g float64
		if math.Abs(d) < a.Beta {
			g = d / a.Beta
		} else if d > 0 {
			g = 1
		} else if d < 0 {
			g = -1
		}
		x[0][i] = x[1][0] / n * g
	}
}

func mse(x [][]float64, s []backend.Shape, a backend.Attrs) {
	var sum float64
	for i := range x[1] {
		d := x[1][i] - x[2][i]
		sum += d * d
	}
	x[0][0] = sum / float64(len(x[1]))
}

func mseBwd(x [][]float64, s []backend.Shape, a backend.Attrs) {
	n := float64(len(x[2]))
	for i := range x[2] {
		x[0][i] = x[1][0] * 2 * (x[2][i] - x[3][i]) / n
	}
}

func adamw(x [][]float64, s []backend.Shape, a backend.Attrs) {
	p, m, v, g := x[0], x[1], x[2], x[3]
	t := float64(a.Step)
	for i := range p {
		p[i] *= 1 - a.LR*a.WeightDecay
		m[i] = a.Beta1*m[i] + (1-a.Beta1)*g[i]
		v[i] = a.Beta2*v[i] + (1-a.Beta2)*g[i]*g[i]
		mhat := m[i] / (1 - math.Pow(a.Beta1, t))
		vhat := v[i] / (1 - math.Pow(a.Beta2, t))
		p[i] -= a.LR * mhat / (math.Sqrt(vhat) + a.Eps)
	}
}

func ema(x [][]float64, s []backend.Shape, a backend.Attrs) {
	for i := range x[0] {
		x[0][i] = a.Momentum*x[0][i] + (1-a.Momentum)*x[1][i]
	}
}

func fill(x [][]float64, s []backend.Shape, a backend.Attrs) {
	for i := range x[0] {
		x[0][i] = a.Alpha
	}
}
