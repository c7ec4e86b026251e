package backend

import (
	"errors"
	"strings"
	"testing"
)

// host makes tensors without a backend: check needs only shapes, dtypes and
// the host-written index range.
func host(dt DType, shape ...int) *Tensor { return Placeholder(dt, shape...) }

func f32(shape ...int) *Tensor { return host(F32, shape...) }

func indices(v ...int32) *Tensor {
	t := host(I32, len(v))
	t.noteWrite(I32Bytes(v))
	return t
}

func TestCheck(t *testing.T) {
	shared := f32(4, 4)
	released := f32(3)
	released.drop()
	tests := []struct {
		name string
		call Call
		err  error  // nil: the call is valid
		msg  string // a part of the message
	}{
		{"matmul ok", Call{Op: OpMatMul, Args: []*Tensor{f32(2, 4), f32(2, 3), f32(4, 3)}, Attrs: Attrs{TransB: true}}, nil, ""},
		{"matmul inner", Call{Op: OpMatMul, Args: []*Tensor{f32(2, 4), f32(2, 3), f32(4, 3)}}, ErrShape, "inner dimensions differ: op(a) is 2x3, op(b) is 4x3"},
		{"matmul ranks", Call{Op: OpMatMul, Args: []*Tensor{f32(2, 2, 4), f32(2, 3), f32(3, 4)}}, ErrShape, "rank"},
		{"matmul batch", Call{Op: OpMatMul, Args: []*Tensor{f32(2, 2, 4), f32(3, 2, 3), f32(2, 3, 4)}}, ErrShape, "batch sizes differ"},
		{"add suffix", Call{Op: OpAdd, Args: []*Tensor{f32(2, 3, 4), f32(2, 3, 4), f32(3, 4)}}, nil, ""},
		{"add not suffix", Call{Op: OpAdd, Args: []*Tensor{f32(2, 3, 4), f32(2, 3, 4), f32(2, 3)}}, ErrShape, "trailing part"},
		{"add in place", Call{Op: OpAdd, Args: []*Tensor{shared, shared, f32(4)}}, nil, ""},
		{"softmax aliasing", Call{Op: OpSoftmax, Args: []*Tensor{shared, shared}}, ErrShape, "shares storage"},
		{"dtype", Call{Op: OpGELU, Args: []*Tensor{f32(3), host(I32, 3)}}, ErrShape, "argument x is i32, want f32"},
		{"released", Call{Op: OpGELU, Args: []*Tensor{f32(3), released}}, ErrReleased, "argument x"},
		{"nil required", Call{Op: OpGELU, Args: []*Tensor{f32(3), nil}}, nil, "argument x is nil"},
		{"arg count", Call{Op: OpGELU, Args: []*Tensor{f32(3)}}, ErrShape, "1 tensor arguments, want 2"},
		{"gather range", Call{Op: OpGather, Args: []*Tensor{f32(2, 5), f32(3, 5), indices(0, 3)}}, ErrIndex, "indices span [0,3], rows are [0,3)"},
		{"gather negative", Call{Op: OpGather, Args: []*Tensor{f32(2, 5), f32(3, 5), indices(-1, 0)}}, ErrIndex, "[-1,0]"},
		{"gather unwritten", Call{Op: OpGather, Args: []*Tensor{f32(2, 5), f32(3, 5), host(I32, 2)}}, ErrIndex, "never written"},
		{"gather shape", Call{Op: OpGather, Args: []*Tensor{f32(2, 4), f32(3, 5), indices(0, 1)}}, ErrShape, "y must be [2,5]"},
		{"layernorm affine pair", Call{Op: OpLayerNorm, Args: []*Tensor{f32(2, 5), f32(2), f32(2), f32(2, 5), f32(5), nil}}, ErrShape, "both given or both nil"},
		{"layernorm eps", Call{Op: OpLayerNorm, Args: []*Tensor{f32(2, 5), f32(2), f32(2), f32(2, 5), nil, nil}, Attrs: Attrs{Eps: -1}}, nil, "Eps -1"},
		{"split heads ok", Call{Op: OpSplitHeads, Args: []*Tensor{f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 5, 36)}, Attrs: Attrs{Heads: 3}}, nil, ""},
		{"split heads names", Call{Op: OpSplitHeads, Args: []*Tensor{f32(2, 3, 5, 4), f32(2, 3, 5, 5), f32(2, 5, 24)}, Attrs: Attrs{Heads: 3}}, ErrShape, "out1=f32[2,3,5,5]"},
		{"patchify", Call{Op: OpPatchify, Args: []*Tensor{f32(1, 4, 12), f32(1, 3, 4, 5)}, Attrs: Attrs{Patch: 2}}, ErrShape, "not a multiple of patch 2"},
		{"smooth l1 beta", Call{Op: OpSmoothL1, Args: []*Tensor{f32(1), f32(3), f32(3)}}, nil, "Beta 0"},
		{"adamw step", Call{Op: OpAdamW, Args: []*Tensor{f32(3), f32(3), f32(3), f32(3)}, Attrs: Attrs{Beta1: 0.9, Beta2: 0.999}}, nil, "Step 0"},
		{"unknown op", Call{Op: 999}, nil, "unknown op 999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.call, true)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("check = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("check = nil, want an error containing %q", tc.msg)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("check = %v, want errors.Is %v", err, tc.err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("check = %q, want it to contain %q", err, tc.msg)
			}
			if tc.call.Op.Valid() && !strings.HasPrefix(err.Error(), tc.call.Op.String()+"(") {
				t.Errorf("check = %q, want it to start with the op and its arguments", err)
			}
		})
	}
}

func TestOpNames(t *testing.T) {
	for _, op := range Ops() {
		got, err := ParseOp(op.String())
		if err != nil || got != op {
			t.Errorf("ParseOp(%q) = %v, %v", op, got, err)
		}
		if op.Spec().Semantics == "" {
			t.Errorf("%v has no semantics", op)
		}
	}
	if _, err := ParseOp("conv2d"); err == nil {
		t.Error("ParseOp(conv2d) succeeded")
	}
}

// check runs on every op: a valid call costs no allocation.
func TestCheckDoesNotAllocate(t *testing.T) {
	for _, c := range []Call{
		{Op: OpMatMul, Args: []*Tensor{f32(2, 4), f32(2, 3), f32(4, 3)}, Attrs: Attrs{TransB: true}},
		{Op: OpSplitHeads, Args: []*Tensor{f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 3, 5, 4), f32(2, 5, 36)}, Attrs: Attrs{Heads: 3}},
		{Op: OpLayerNorm, Args: []*Tensor{f32(2, 5), f32(2), f32(2), f32(2, 5), f32(5), f32(5)}, Attrs: Attrs{Eps: 1e-6}},
	} {
		if n := testing.AllocsPerRun(100, func() { _ = check(c, true) }); n > 0 {
			t.Errorf("Check of a valid %v call allocates %v times", c.Op, n)
		}
	}
}
