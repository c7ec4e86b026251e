package amp

import (
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

// Every op of the catalogue has an autocast rule. Catches an op added to
// the catalogue (a cast op, say) without a decision on its dtype.
func TestEveryOpHasARule(t *testing.T) {
	for _, op := range backend.Ops() {
		if RuleOf(op) == 0 {
			t.Errorf("op %v has no autocast rule", op)
		}
	}
}

// The dtypes of a ViT block under bf16 autocast, as PyTorch gives them:
// linear layers in bf16 from float32 weights and activations, the residual
// stream float32 (float32 + bf16), GELU on fc1's bf16 output in bf16,
// softmax, layer norm and the loss in float32; under fp32 all float32.
// Catches a rule on the wrong list and a promotion that keeps the narrow
// type.
func TestDType(t *testing.T) {
	f32, bf, h := backend.F32, backend.BF16, backend.F16
	for _, c := range []struct {
		p    Precision
		op   backend.Op
		in   []backend.DType
		want backend.DType
	}{
		{BF16, backend.OpMatMul, []backend.DType{f32, f32}, bf},
		{FP16, backend.OpMatMul, []backend.DType{f32, bf}, h},
		{BF16, backend.OpAdd, []backend.DType{f32, bf}, f32}, // residual
		{BF16, backend.OpAdd, []backend.DType{bf, bf}, bf},   // bias on a bf16 product
		{BF16, backend.OpGELU, []backend.DType{bf}, bf},
		{BF16, backend.OpSoftmax, []backend.DType{bf}, f32},
		{BF16, backend.OpLayerNorm, []backend.DType{f32, f32, f32}, f32},
		{FP16, backend.OpLayerNorm, []backend.DType{h, f32, f32}, f32},
		{BF16, backend.OpSmoothL1, []backend.DType{bf, f32}, f32},
		{BF16, backend.OpMSE, []backend.DType{bf, bf}, f32},
		{BF16, backend.OpSum, []backend.DType{bf}, f32},
		{BF16, backend.OpGather, []backend.DType{bf, backend.I32}, bf},
		{BF16, backend.OpSplitHeads, []backend.DType{bf}, bf},
		{BF16, backend.OpGELUBwd, []backend.DType{bf, bf}, bf},
		{BF16, backend.OpAdamW, []backend.DType{f32, f32, f32, f32}, f32},
		{FP32, backend.OpMatMul, []backend.DType{f32, f32}, f32},
		{FP32, backend.OpGELU, []backend.DType{f32}, f32},
	} {
		if got := c.p.DType(c.op, c.in...); got != c.want {
			t.Errorf("%v %v%v: %v, want %v", c.p, c.op, c.in, got, c.want)
		}
	}
}

// PyTorch's promotion: float32 wins, the two 16-bit types together give
// float32, indices do not count. Catches bf16 + f16 giving either one.
func TestWidest(t *testing.T) {
	f32, bf, h, i := backend.F32, backend.BF16, backend.F16, backend.I32
	for _, c := range []struct {
		in   []backend.DType
		want backend.DType
	}{
		{nil, f32}, {[]backend.DType{bf}, bf}, {[]backend.DType{h, h}, h}, {[]backend.DType{bf, h}, f32},
		{[]backend.DType{h, bf, h}, f32}, {[]backend.DType{bf, f32}, f32}, {[]backend.DType{i, bf}, bf}, {[]backend.DType{i}, f32},
	} {
		if got := Widest(c.in...); got != c.want {
			t.Errorf("Widest%v = %v, want %v", c.in, got, c.want)
		}
	}
}

// The names round-trip, an unknown one is an error, and meta.use_bfloat16
// picks bf16. Catches a precision that cannot be written in a config.
func TestPrecision(t *testing.T) {
	for _, p := range []Precision{FP32, BF16, FP16} {
		got, err := ParsePrecision(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePrecision(%q) = %v, %v", p.String(), got, err)
		}
	}
	if _, err := ParsePrecision("fp8"); err == nil {
		t.Error("ParsePrecision(fp8): no error")
	}
	if DefaultPrecision(true) != BF16 || DefaultPrecision(false) != FP32 {
		t.Error("DefaultPrecision: use_bfloat16 true should give bf16, false fp32")
	}
	if BF16.Low() != backend.BF16 || FP16.Low() != backend.F16 || FP32.Low() != backend.F32 {
		t.Error("Low: wrong dtype")
	}
}
