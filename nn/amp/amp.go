// Package amp is mixed precision as PyTorch's torch.amp runs it for the
// official I-JEPA trainer: the precision a run trains in, the autocast
// policy (the dtype each op of the catalogue computes in), and GradScaler's
// dynamic loss scaling. It is plain Go over backend's op and dtype names;
// the trainer applies it.
//
// Under autocast the master weights, AdamW's moments and the EMA target
// stay float32; the forward pass casts what each op's rule asks for, and the
// backward pass runs each gradient op in the dtypes of the tensors it is
// given, so gradients reach the float32 masters through the casts.
package amp

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
)

// Precision is the numeric precision of a training run.
type Precision uint8

// The precisions: FP32 throughout, or autocast to bfloat16 or float16.
const (
	FP32 Precision = iota + 1
	BF16
	FP16
)

var precisionNames = map[Precision]string{FP32: "fp32", BF16: "bf16", FP16: "fp16"}

// String returns "fp32", "bf16" or "fp16".
func (p Precision) String() string {
	if s, ok := precisionNames[p]; ok {
		return s
	}
	return fmt.Sprintf("precision(%d)", uint8(p))
}

// ParsePrecision returns the precision named s ("fp32", "bf16", "fp16").
func ParsePrecision(s string) (Precision, error) {
	for p, n := range precisionNames {
		if n == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("amp: unknown precision %q (want fp32, bf16 or fp16)", s)
}

// DefaultPrecision is the precision of a config that names none: bf16 where
// meta.use_bfloat16 is true (as the official trainer runs it), else fp32.
func DefaultPrecision(useBfloat16 bool) Precision {
	if useBfloat16 {
		return BF16
	}
	return FP32
}

// Low returns the 16-bit dtype the precision autocasts to, or F32 for FP32.
func (p Precision) Low() backend.DType {
	switch p {
	case BF16:
		return backend.BF16
	case FP16:
		return backend.F16
	}
	return backend.F32
}

// Rule says in which dtype an op computes under autocast.
type Rule uint8

// The rules, as PyTorch's autocast has them.
const (
	// Promote: the widest floating dtype of the op's floating inputs
	// (float32 beats both 16-bit types; bfloat16 with float16 gives
	// float32). The output has that dtype. Ops on no autocast list.
	Promote Rule = iota + 1
	// Lower: the floating inputs are cast to the low dtype; products are
	// exact and summed in float32; the output is rounded to the low dtype.
	// Matrix products (mm, bmm, addmm, linear, matmul, conv).
	Lower
	// Float32: the floating inputs are cast to float32 and the op computes
	// and outputs float32. layer_norm, softmax, sum, the losses.
	Float32
	// Given: not an autocast op. Gradient ops run in the dtypes of the
	// tensors the backward pass gives them (those of their forward op), the
	// optimiser and EMA on the float32 masters.
	Given
)

var ruleNames = map[Rule]string{Promote: "promote", Lower: "lower", Float32: "float32", Given: "given"}

// String returns the rule's name ("lower").
func (r Rule) String() string {
	if s, ok := ruleNames[r]; ok {
		return s
	}
	return fmt.Sprintf("rule(%d)", uint8(r))
}

// rules is the autocast policy: the rule of every op of the catalogue. Ops
// not named here have no rule, which the tests reject.
var rules = map[backend.Op]Rule{
	backend.OpMatMul: Lower,

	backend.OpLayerNorm: Float32,
	backend.OpSoftmax:   Float32,
	backend.OpSum:       Float32,
	backend.OpSumSq:     Float32,
	backend.OpSmoothL1:  Float32,
	backend.OpMSE:       Float32,

	backend.OpAdd:        Promote,
	backend.OpMul:        Promote,
	backend.OpScale:      Promote,
	backend.OpAxpy:       Promote,
	backend.OpColSum:     Promote,
	backend.OpGELU:       Promote,
	backend.OpSiLU:       Promote,
	backend.OpGather:     Promote,
	backend.OpScatterAdd: Promote,
	backend.OpSplitHeads: Promote,
	backend.OpMergeHeads: Promote,
	backend.OpPatchify:   Promote,
	backend.OpFill:       Promote,
	backend.OpCopy:       Promote,

	backend.OpLayerNormBwd: Given,
	backend.OpSoftmaxBwd:   Given,
	backend.OpGELUBwd:      Given,
	backend.OpSiLUBwd:      Given,
	backend.OpSmoothL1Bwd:  Given,
	backend.OpMSEBwd:       Given,
	backend.OpAdamW:        Given,
	backend.OpEMA:          Given,
}

// RuleOf returns op's autocast rule, or 0 for an op the policy does not
// know.
func RuleOf(op backend.Op) Rule { return rules[op] }

// DType returns the dtype op computes in under precision p, given the
// dtypes of its floating inputs: F32 throughout under FP32; else by op's
// rule (a Given op returns the widest of its inputs, as Promote). It panics
// on an op the policy does not know.
func (p Precision) DType(op backend.Op, inputs ...backend.DType) backend.DType {
	r := rules[op]
	if r == 0 {
		panic(fmt.Sprintf("amp: no autocast rule for op %v", op))
	}
	if p.Low() == backend.F32 {
		return backend.F32
	}
	switch r {
	case Lower:
		return p.Low()
	case Float32:
		return backend.F32
	}
	return Widest(inputs...)
}

// Widest returns the widest of the floating dtypes ds by PyTorch's
// promotion: F32 if any is F32 or if both F16 and BF16 occur, else the one
// 16-bit type; F32 for none. I32 (indices) is ignored.
func Widest(ds ...backend.DType) backend.DType {
	var low backend.DType
	for _, d := range ds {
		switch d {
		case backend.F32:
			return backend.F32
		case backend.F16, backend.BF16:
			if low != 0 && low != d {
				return backend.F32
			}
			low = d
		}
	}
	if low == 0 {
		return backend.F32
	}
	return low
}
