package nn

import (
	"fmt"
	"math"

	"github.com/ijepa-go/ijepa/backend"
)

// Layers take activations as tensors of shape [..., features] and return
// new tensors the caller owns and releases. Their own intermediates are
// released before they return; through a Tape, what the backward pass needs
// stays alive in the tape. Errors returned at once are inputs of the wrong
// shape; allocation and op errors are the backend's sticky error.

// InitStd is the standard deviation of every Linear and conv weight, and of
// the predictor's mask token, in the official trainer.
const InitStd = 0.02

// BlockEps is the LayerNorm epsilon of the ViT blocks and final norms.
const BlockEps = 1e-6

// normalInit is N(0, 0.02^2) truncated at ±2.
var normalInit = Init{Kind: InitNormal, Std: InitStd}

// rows returns the product of all but the last dim of shape.
func rows(shape backend.Shape) int { return shape.NumElements() / shape[len(shape)-1] }

// Linear is y = x W^T + b with W [Out, In] (PyTorch's nn.Linear layout).
type Linear struct {
	Weight, Bias *Param // Bias may be nil
	In, Out      int
}

// NewLinear declares name.weight [out, in] ~ N(0, 0.02^2) and, with bias,
// name.bias [out] = 0.
func NewLinear(b *Builder, name string, in, out int, bias bool) *Linear {
	return newLinearShaped(b, name, in, out, bias, out, in)
}

// newLinearShaped declares a Linear whose weight is stored with another
// shape of [out, in] (a Conv2d weight [out, C, P, P]).
func newLinearShaped(b *Builder, name string, in, out int, bias bool, wshape ...int) *Linear {
	s := b.Sub(name)
	l := &Linear{In: in, Out: out, Weight: s.Param("weight", normalInit, true, wshape...)}
	if bias {
		l.Bias = s.Param("bias", Init{Kind: InitZeros}, true, out)
	}
	return l
}

// Params returns the layer's parameters.
func (l *Linear) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// Forward maps x [..., In] to a new tensor [..., Out]. Under autocast (a
// matrix product: the policy's Lower rule) x, the weight and the bias are
// cast to the 16-bit dtype, summed in float32 and the output rounded once
// to the 16-bit dtype, as PyTorch's linear.
func (l *Linear) Forward(be backend.Backend, x *backend.Tensor) (*backend.Tensor, error) {
	xs := x.Shape()
	if xs[len(xs)-1] != l.In {
		return nil, fmt.Errorf("nn: linear %s: input %v, want last dim %d", l.Weight.Name, xs, l.In)
	}
	s := &backend.Temps{B: be}
	defer s.Release()
	r := rows(xs)
	dt := dtypeFor(be, backend.OpMatMul, x, l.Weight.Value)
	y := be.New(dt, append(xs[:len(xs)-1:len(xs)-1], l.Out)...)
	yv := s.View(y, r, l.Out)
	xv, wv := s.View(s.Cast(x, dt), r, l.In), s.View(s.Cast(l.Weight.Value, dt), l.Out, l.In)
	switch {
	case l.Bias == nil:
		backend.MatMul(be, yv, xv, wv, false, true, 1, 0)
	case dt != backend.F32:
		// A 16-bit output: the bias goes in as the product's c (beta 1), as
		// PyTorch's addmm and cuBLAS take it, summed with the products
		// before the one rounding. Added after the rounded product it would
		// be rounded twice, and a bias small against the products would
		// move the output by whole 16-bit steps or not at all: bf16
		// training then parted from PyTorch's autocast (ijepa/train's
		// TestTrainingFollowsPyTorch measures it).
		backend.Fill(be, yv, 0)
		backend.Add(be, yv, yv, s.Cast(l.Bias.Value, dt))
		backend.MatMul(be, yv, xv, wv, false, true, 1, 1)
	default:
		// float32: the second rounding is 2^-24 relative, and adding after
		// the product spares the fill and the read of c (in a composite
		// whose matmul runs elsewhere, the copy of c there: 276 MiB of a
		// tiny32 step of plugin:cpu?ops=matmul,cpu).
		backend.MatMul(be, yv, xv, wv, false, true, 1, 0)
		backend.Add(be, yv, yv, l.Bias.Value)
	}
	return y, nil
}

// LayerNorm normalises the last dim, with an affine scale and shift unless
// it was declared without (then its Weight and Bias are nil).
type LayerNorm struct {
	Weight, Bias *Param
	Dim          int
	Eps          float64
}

// NewLayerNorm declares name.weight [dim] = 1 and name.bias [dim] = 0.
func NewLayerNorm(b *Builder, name string, dim int, eps float64) *LayerNorm {
	s := b.Sub(name)
	return &LayerNorm{
		Weight: s.Param("weight", Init{Kind: InitOnes}, true, dim),
		Bias:   s.Param("bias", Init{Kind: InitZeros}, true, dim),
		Dim:    dim, Eps: eps,
	}
}

// Params returns the layer's parameters.
func (l *LayerNorm) Params() []*Param {
	if l.Weight == nil {
		return nil
	}
	return []*Param{l.Weight, l.Bias}
}

// Forward normalises x [..., Dim] into a new tensor (float32 under
// autocast, from a 16-bit x cast first).
func (l *LayerNorm) Forward(be backend.Backend, x *backend.Tensor) (*backend.Tensor, error) {
	xs := x.Shape()
	if xs[len(xs)-1] != l.Dim {
		return nil, fmt.Errorf("nn: layernorm: input %v, want last dim %d", xs, l.Dim)
	}
	s := &backend.Temps{B: be}
	defer s.Release()
	r := rows(xs)
	var g, b *backend.Tensor
	if l.Weight != nil {
		g, b = l.Weight.Value, l.Bias.Value
	}
	dt := dtypeFor(be, backend.OpLayerNorm, x, g, b)
	y := be.New(dt, xs...)
	backend.LayerNorm(be, y, s.NewOf(dt, r), s.NewOf(dt, r), s.Cast(x, dt), castOpt(s, g, dt), castOpt(s, b, dt), l.Eps)
	return y, nil
}

// castOpt is Temps.Cast for an optional argument (nil stays nil).
func castOpt(s *backend.Temps, t *backend.Tensor, dt backend.DType) *backend.Tensor {
	if t == nil {
		return nil
	}
	return s.Cast(t, dt)
}

// Attention is multi-head self-attention with a fused qkv projection (with
// bias) split in PyTorch's (3, heads, head_dim) order, scores scaled by
// head_dim^-0.5, softmax, and an output projection.
type Attention struct {
	QKV, Proj *Linear
	Dim       int
	Heads     int
}

// NewAttention declares name.qkv [3*dim, dim] (+bias) and name.proj [dim,
// dim] (+bias).
func NewAttention(b *Builder, name string, dim, heads int) *Attention {
	s := b.Sub(name)
	return &Attention{
		QKV:  NewLinear(s, "qkv", dim, 3*dim, true),
		Proj: NewLinear(s, "proj", dim, dim, true),
		Dim:  dim, Heads: heads,
	}
}

// Params returns the layer's parameters.
func (a *Attention) Params() []*Param { return append(a.QKV.Params(), a.Proj.Params()...) }

// Forward attends over the tokens of x [B, T, Dim] and returns [B, T, Dim].
func (a *Attention) Forward(be backend.Backend, x *backend.Tensor) (*backend.Tensor, error) {
	xs := x.Shape()
	if len(xs) != 3 || a.Dim%a.Heads != 0 {
		return nil, fmt.Errorf("nn: attention: input %v must be [B,T,%d] and %d heads divide it", xs, a.Dim, a.Heads)
	}
	bsz, t, h, e := xs[0], xs[1], a.Heads, a.Dim/a.Heads
	qkv, err := a.QKV.Forward(be, x)
	if err != nil {
		return nil, err
	}
	s := &backend.Temps{B: be}
	s.Keep(qkv)
	defer s.Release()
	// Under autocast every tensor here is 16-bit: the heads of the 16-bit
	// qkv, the scores and the output are 16-bit products, and softmax
	// writes its input's dtype (amp's rules say why).
	dh := dtypeFor(be, backend.OpSplitHeads, qkv)
	q, k, v := s.NewOf(dh, bsz, h, t, e), s.NewOf(dh, bsz, h, t, e), s.NewOf(dh, bsz, h, t, e)
	backend.SplitHeads(be, qkv, h, q, k, v)
	dm := dtypeFor(be, backend.OpMatMul, q, k)
	scores := s.NewOf(dm, bsz*h, t, t)
	backend.MatMul(be, scores, s.View(s.Cast(q, dm), bsz*h, t, e), s.View(s.Cast(k, dm), bsz*h, t, e), false, true, 1, 0)
	ds := dtypeFor(be, backend.OpSoftmax, scores)
	probs := s.NewOf(ds, bsz*h, t, t)
	backend.Softmax(be, probs, s.Cast(scores, ds), 1/math.Sqrt(float64(e)))
	dm = dtypeFor(be, backend.OpMatMul, probs, v)
	o := s.NewOf(dm, bsz*h, t, e)
	backend.MatMul(be, o, s.Cast(probs, dm), s.View(s.Cast(v, dm), bsz*h, t, e), false, false, 1, 0)
	merged := s.NewOf(dm, bsz, t, a.Dim)
	backend.MergeHeads(be, merged, h, s.View(o, bsz, h, t, e))
	return a.Proj.Forward(be, merged)
}

// MLP is Linear(dim, hidden) -> exact GELU -> Linear(hidden, dim).
type MLP struct {
	FC1, FC2 *Linear
}

// NewMLP declares name.fc1 [hidden, dim] and name.fc2 [dim, hidden], with
// biases.
func NewMLP(b *Builder, name string, dim, hidden int) *MLP {
	s := b.Sub(name)
	return &MLP{FC1: NewLinear(s, "fc1", dim, hidden, true), FC2: NewLinear(s, "fc2", hidden, dim, true)}
}

// Params returns the layer's parameters.
func (m *MLP) Params() []*Param { return append(m.FC1.Params(), m.FC2.Params()...) }

// Forward maps x [..., dim] to a new tensor [..., dim].
func (m *MLP) Forward(be backend.Backend, x *backend.Tensor) (*backend.Tensor, error) {
	h, err := m.FC1.Forward(be, x)
	if err != nil {
		return nil, err
	}
	s := &backend.Temps{B: be}
	s.Keep(h)
	defer s.Release()
	dt := dtypeFor(be, backend.OpGELU, h)
	g := s.NewOf(dt, h.Shape()...)
	backend.GELU(be, g, s.Cast(h, dt))
	return m.FC2.Forward(be, g)
}

// Block is a pre-norm transformer block:
// x = x + attn(norm1(x)); x = x + mlp(norm2(x)).
type Block struct {
	Norm1 *LayerNorm
	Attn  *Attention
	Norm2 *LayerNorm
	MLP   *MLP
}

// NewBlock declares name.norm1, name.attn, name.norm2 and name.mlp.
func NewBlock(b *Builder, name string, dim, heads, hidden int) *Block {
	s := b.Sub(name)
	return &Block{
		Norm1: NewLayerNorm(s, "norm1", dim, BlockEps),
		Attn:  NewAttention(s, "attn", dim, heads),
		Norm2: NewLayerNorm(s, "norm2", dim, BlockEps),
		MLP:   NewMLP(s, "mlp", dim, hidden),
	}
}

// Params returns the block's parameters.
func (bl *Block) Params() []*Param {
	var ps []*Param
	ps = append(ps, bl.Norm1.Params()...)
	ps = append(ps, bl.Attn.Params()...)
	ps = append(ps, bl.Norm2.Params()...)
	return append(ps, bl.MLP.Params()...)
}

// Forward maps x [B, T, dim] to a new tensor [B, T, dim]. The residual sums
// are added in place into the branch outputs (under autocast into their
// float32 casts: the residual stream stays float32).
func (bl *Block) Forward(be backend.Backend, x *backend.Tensor) (*backend.Tensor, error) {
	h, err := bl.Norm1.Forward(be, x)
	if err != nil {
		return nil, err
	}
	a, err := bl.Attn.Forward(be, h)
	be.Release(h)
	if err != nil {
		return nil, err
	}
	a = Sum(be, a, x)
	h, err = bl.Norm2.Forward(be, a)
	if err != nil {
		be.Release(a)
		return nil, err
	}
	m, err := bl.MLP.Forward(be, h)
	be.Release(h)
	if err != nil {
		be.Release(a)
		return nil, err
	}
	m = Sum(be, m, a)
	be.Release(a)
	return m, nil
}
