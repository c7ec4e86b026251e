package backend

import (
	"slices"
	"strings"
	"testing"
)

// Every op's attributes survive encoding; a wrong count, a bool other than
// 0 or 1 and an integer that is not one (or does not fit int32) are refused.
func TestAttrsRoundTrip(t *testing.T) {
	all := Attrs{TransA: true, TransB: true, Alpha: 1.5, Beta: -2, Eps: 1e-6, Heads: 3, Patch: 4,
		LR: 1e-3, Beta1: 0.9, Beta2: 0.999, WeightDecay: 0.04, Step: 7, Momentum: 0.996}
	for _, op := range Ops() {
		v := EncodeAttrs(op, all)
		got, err := DecodeAttrs(op, v)
		if err != nil {
			t.Fatalf("%v: %v", op, err)
		}
		if FormatAttrs(op, got) != FormatAttrs(op, all) || len(v) != len(op.Spec().Attrs) {
			t.Errorf("%v: %s came back as %s", op, FormatAttrs(op, all), FormatAttrs(op, got))
		}
	}
	for _, tc := range []struct {
		op  Op
		v   []float64
		msg string
	}{
		{OpFill, nil, "fill takes 1 attributes (Alpha), not 0"},
		{OpMatMul, []float64{2, 0, 1, 0}, "TransA = 2 is not a value of its type"},
		{OpSplitHeads, []float64{2.5}, "Heads = 2.5"},
		{OpSplitHeads, []float64{1 << 40}, "Heads = 1.099511627776e+12"},
	} {
		if _, err := DecodeAttrs(tc.op, tc.v); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("DecodeAttrs(%v, %v) = %v, want %q", tc.op, tc.v, err, tc.msg)
		}
	}
	if got := FormatAttrs(OpMatMul, Attrs{TransB: true, Alpha: 0.5}); got != "TransA=false TransB=true Alpha=0.5 Beta=0" {
		t.Errorf("FormatAttrs = %q", got)
	}
}

// A gradient op's call maps onto the call of the op it differentiates, a
// variadic argument tensor by tensor.
func TestGradCall(t *testing.T) {
	fwd, m, binds := OpMergeHeads.GradCall(4) // y, in0, in1, in2
	want := []Bind{{Grad, 3}, {Upstream, 0}, {Upstream, 1}, {Upstream, 2}}
	if fwd != OpSplitHeads || m != 4 || !slices.Equal(binds, want) {
		t.Errorf("merge_heads with 3 inputs: %v %d %v, want split_heads 4 %v", fwd, m, binds, want)
	}
	fwd, m, binds = OpLayerNormBwd.GradCall(8)
	if fwd != OpLayerNorm || m != 6 || binds[0] != (Bind{Grad, 3}) || binds[5] != (Bind{Value, 1}) {
		t.Errorf("layernorm_bwd: %v %d %v", fwd, m, binds)
	}
}
