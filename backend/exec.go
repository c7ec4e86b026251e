package backend

import "fmt"

// Typed entry points: one function per op, building the Call in the order of
// the op's row in the table. They add nothing to Run but names.

// MatMul runs c = alpha*op(a)@op(b) + beta*c.
func MatMul(b Backend, c, x, y *Tensor, transA, transB bool, alpha, beta float64) {
	b.Run(Call{Op: OpMatMul, Args: []*Tensor{c, x, y}, Attrs: Attrs{TransA: transA, TransB: transB, Alpha: alpha, Beta: beta}})
}

// Add runs y = a + x (x broadcast over a's leading dims).
func Add(b Backend, y, a, x *Tensor) { b.Run(Call{Op: OpAdd, Args: []*Tensor{y, a, x}}) }

// Mul runs y = a * x (x broadcast over a's leading dims).
func Mul(b Backend, y, a, x *Tensor) { b.Run(Call{Op: OpMul, Args: []*Tensor{y, a, x}}) }

// Scale runs y = alpha*x.
func Scale(b Backend, y, x *Tensor, alpha float64) {
	b.Run(Call{Op: OpScale, Args: []*Tensor{y, x}, Attrs: Attrs{Alpha: alpha}})
}

// Axpy runs y += alpha*x.
func Axpy(b Backend, y, x *Tensor, alpha float64) {
	b.Run(Call{Op: OpAxpy, Args: []*Tensor{y, x}, Attrs: Attrs{Alpha: alpha}})
}

// ColSum runs y[j] = sum_r x[r,j].
func ColSum(b Backend, y, x *Tensor) { b.Run(Call{Op: OpColSum, Args: []*Tensor{y, x}}) }

// LayerNorm normalises x over its last dim; gamma and beta may be nil.
func LayerNorm(b Backend, y, mean, rstd, x, gamma, beta *Tensor, eps float64) {
	b.Run(Call{Op: OpLayerNorm, Args: []*Tensor{y, mean, rstd, x, gamma, beta}, Attrs: Attrs{Eps: eps}})
}

// LayerNormBwd computes the gradients of LayerNorm; dgamma, dbeta and gamma
// may be nil.
func LayerNormBwd(b Backend, dx, dgamma, dbeta, dy, x, mean, rstd, gamma *Tensor) {
	b.Run(Call{Op: OpLayerNormBwd, Args: []*Tensor{dx, dgamma, dbeta, dy, x, mean, rstd, gamma}})
}

// Softmax runs y = softmax(scale*x) over the last dim.
func Softmax(b Backend, y, x *Tensor, scale float64) {
	b.Run(Call{Op: OpSoftmax, Args: []*Tensor{y, x}, Attrs: Attrs{Alpha: scale}})
}

// SoftmaxBwd computes the gradient of Softmax from its output y.
func SoftmaxBwd(b Backend, dx, dy, y *Tensor, scale float64) {
	b.Run(Call{Op: OpSoftmaxBwd, Args: []*Tensor{dx, dy, y}, Attrs: Attrs{Alpha: scale}})
}

// GELU runs the exact GELU.
func GELU(b Backend, y, x *Tensor) { b.Run(Call{Op: OpGELU, Args: []*Tensor{y, x}}) }

// GELUBwd computes the gradient of GELU.
func GELUBwd(b Backend, dx, dy, x *Tensor) { b.Run(Call{Op: OpGELUBwd, Args: []*Tensor{dx, dy, x}}) }

// Gather runs y[r] = x[idx[r]].
func Gather(b Backend, y, x, idx *Tensor) { b.Run(Call{Op: OpGather, Args: []*Tensor{y, x, idx}}) }

// ScatterAdd runs y[idx[r]] += x[r].
func ScatterAdd(b Backend, y, x, idx *Tensor) {
	b.Run(Call{Op: OpScatterAdd, Args: []*Tensor{y, x, idx}})
}

// SplitHeads splits x [B,T,G*H*E] into the G tensors outs, each [B,H,T,E].
func SplitHeads(b Backend, x *Tensor, heads int, outs ...*Tensor) {
	b.Run(Call{Op: OpSplitHeads, Args: append(append([]*Tensor{}, outs...), x), Attrs: Attrs{Heads: heads}})
}

// MergeHeads packs the G tensors ins, each [B,H,T,E], into y [B,T,G*H*E].
func MergeHeads(b Backend, y *Tensor, heads int, ins ...*Tensor) {
	b.Run(Call{Op: OpMergeHeads, Args: append([]*Tensor{y}, ins...), Attrs: Attrs{Heads: heads}})
}

// Patchify cuts img [B,C,H,W] into patches y [B,N,C*P*P].
func Patchify(b Backend, y, img *Tensor, patch int) {
	b.Run(Call{Op: OpPatchify, Args: []*Tensor{y, img}, Attrs: Attrs{Patch: patch}})
}

// SmoothL1 runs loss = mean(smoothL1_beta(pred-target)).
func SmoothL1(b Backend, loss, pred, target *Tensor, beta float64) {
	b.Run(Call{Op: OpSmoothL1, Args: []*Tensor{loss, pred, target}, Attrs: Attrs{Beta: beta}})
}

// SmoothL1Bwd computes the gradient of SmoothL1 with respect to pred.
func SmoothL1Bwd(b Backend, dpred, dloss, pred, target *Tensor, beta float64) {
	b.Run(Call{Op: OpSmoothL1Bwd, Args: []*Tensor{dpred, dloss, pred, target}, Attrs: Attrs{Beta: beta}})
}

// MSE runs loss = mean((pred-target)^2).
func MSE(b Backend, loss, pred, target *Tensor) {
	b.Run(Call{Op: OpMSE, Args: []*Tensor{loss, pred, target}})
}

// MSEBwd computes the gradient of MSE with respect to pred.
func MSEBwd(b Backend, dpred, dloss, pred, target *Tensor) {
	b.Run(Call{Op: OpMSEBwd, Args: []*Tensor{dpred, dloss, pred, target}})
}

// Sum runs y[0] = sum(x).
func Sum(b Backend, y, x *Tensor) { b.Run(Call{Op: OpSum, Args: []*Tensor{y, x}}) }

// SumSq runs y[0] = sum(x^2).
func SumSq(b Backend, y, x *Tensor) { b.Run(Call{Op: OpSumSq, Args: []*Tensor{y, x}}) }

// AdamWParams are the scalars of one AdamW step.
type AdamWParams struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Step                               int
}

// AdamW runs one AdamW step on param with moments m and v.
func AdamW(b Backend, param, m, v, grad *Tensor, p AdamWParams) {
	b.Run(Call{Op: OpAdamW, Args: []*Tensor{param, m, v, grad}, Attrs: Attrs{
		LR: p.LR, Beta1: p.Beta1, Beta2: p.Beta2, Eps: p.Eps, WeightDecay: p.WeightDecay, Step: p.Step}})
}

// EMA runs target = m*target + (1-m)*online.
func EMA(b Backend, target, online *Tensor, momentum float64) {
	b.Run(Call{Op: OpEMA, Args: []*Tensor{target, online}, Attrs: Attrs{Momentum: momentum}})
}

// Fill sets every element of y to v.
func Fill(b Backend, y *Tensor, v float64) {
	b.Run(Call{Op: OpFill, Args: []*Tensor{y}, Attrs: Attrs{Alpha: v}})
}

// Copy runs y = x.
func Copy(b Backend, y, x *Tensor) { b.Run(Call{Op: OpCopy, Args: []*Tensor{y, x}}) }

// WriteF32 queues a write of float32 data into t.
func WriteF32(b Backend, t *Tensor, v []float32) { b.Write(t, F32Bytes(v)) }

// WriteI32 queues a write of int32 data into t.
func WriteI32(b Backend, t *Tensor, v []int32) { b.Write(t, I32Bytes(v)) }

// ReadF32 synchronises and returns t's data as float32.
func ReadF32(b Backend, t *Tensor) ([]float32, error) {
	if t.DType() != F32 {
		return nil, fmt.Errorf("backend: ReadF32 of %v", t)
	}
	v := make([]float32, t.NumElements())
	return v, b.Read(t, F32Bytes(v))
}

// ReadI32 synchronises and returns t's data as int32.
func ReadI32(b Backend, t *Tensor) ([]int32, error) {
	if t.DType() != I32 {
		return nil, fmt.Errorf("backend: ReadI32 of %v", t)
	}
	v := make([]int32, t.NumElements())
	return v, b.Read(t, I32Bytes(v))
}

// FromF32 allocates an F32 tensor of the given shape and queues a write of v
// into it; errors (v of another length too) are sticky.
func FromF32(b Backend, v []float32, shape ...int) *Tensor {
	t := b.New(F32, shape...)
	WriteF32(b, t, v)
	return t
}

// FromI32 allocates an I32 tensor of the given shape and queues a write of v
// into it; errors (v of another length too) are sticky.
func FromI32(b Backend, v []int32, shape ...int) *Tensor {
	t := b.New(I32, shape...)
	WriteI32(b, t, v)
	return t
}
