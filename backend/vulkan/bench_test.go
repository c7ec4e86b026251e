//go:build linux && cgo

package vulkan_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/backend/vulkan"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/ijepa/model"
)

// The benchmarks run every op and the tiny32 training step on the Vulkan
// device and on the CPU backend, side by side, in one run:
//
//	go test -run '^$' -bench . -benchtime 20x ./backend/vulkan/
//
// BenchmarkOps/OP/BACKEND reports the time of one op of tiny32's sizes
// (batch 64: 4096 patch tokens of width 192, 3 heads, MLP 768), queued
// back to back and synchronised once, so that it is the device's throughput
// (recording and submission included); matmuls also run as
// BenchmarkOps/OP/vulkan-shared, the shared-memory tiling of GPUs, which a
// CPU device like lavapipe otherwise replaces by a register-tiled variant.
// BenchmarkTiny32Step/BACKEND reports the training step's images/s.

// backends opens the two backends, skipping where there is no Vulkan device.
func backends(b *testing.B) []struct {
	name string
	be   backend.Backend
} {
	vk, err := vulkan.Open("")
	if err != nil {
		b.Skipf("no Vulkan device: %v", err)
	}
	b.Cleanup(func() { vk.Close() })
	return []struct {
		name string
		be   backend.Backend
	}{{"vulkan", vk}, {"cpu", cpu.New()}}
}

// benchCall is one op with the shapes of its arguments and its attributes.
type benchCall struct {
	name   string
	op     backend.Op
	shapes []backend.Shape
	attrs  backend.Attrs
}

func S(d ...int) backend.Shape { return backend.Shape(d) }

// tiny32Calls are ops with the sizes of a tiny32 step (B=64 images of 64
// patches, width 192, 3 heads of 64, MLP 768; targets: 4 blocks of 9).
var tiny32Calls = []benchCall{
	{"matmul x@W^T [4096,192]x[768,192]", backend.OpMatMul, []backend.Shape{S(4096, 768), S(4096, 192), S(768, 192)}, backend.Attrs{TransB: true, Alpha: 1}},
	{"matmul dx=dy@W [4096,768]x[768,192]", backend.OpMatMul, []backend.Shape{S(4096, 192), S(4096, 768), S(768, 192)}, backend.Attrs{Alpha: 1}},
	{"matmul dW=dy^T@x [4096,768]^Tx[4096,192]", backend.OpMatMul, []backend.Shape{S(768, 192), S(4096, 768), S(4096, 192)}, backend.Attrs{TransA: true, Alpha: 1}},
	{"matmul q@k^T [192,64,64]", backend.OpMatMul, []backend.Shape{S(192, 64, 64), S(192, 64, 64), S(192, 64, 64)}, backend.Attrs{TransB: true, Alpha: 1}},
	{"add bias [4096,768]+[768]", backend.OpAdd, []backend.Shape{S(4096, 768), S(4096, 768), S(768)}, backend.Attrs{}},
	{"colsum [4096,768]", backend.OpColSum, []backend.Shape{S(768), S(4096, 768)}, backend.Attrs{}},
	{"layernorm [4096,192]", backend.OpLayerNorm, []backend.Shape{S(4096, 192), S(4096), S(4096), S(4096, 192), S(192), S(192)}, backend.Attrs{Eps: 1e-6}},
	{"layernorm_bwd [4096,192]", backend.OpLayerNormBwd, []backend.Shape{S(4096, 192), S(192), S(192), S(4096, 192), S(4096, 192), S(4096), S(4096), S(192)}, backend.Attrs{}},
	{"softmax [12288,64]", backend.OpSoftmax, []backend.Shape{S(12288, 64), S(12288, 64)}, backend.Attrs{Alpha: 0.125}},
	{"softmax_bwd [12288,64]", backend.OpSoftmaxBwd, []backend.Shape{S(12288, 64), S(12288, 64), S(12288, 64)}, backend.Attrs{Alpha: 0.125}},
	{"gelu [4096,768]", backend.OpGELU, []backend.Shape{S(4096, 768), S(4096, 768)}, backend.Attrs{}},
	{"gelu_bwd [4096,768]", backend.OpGELUBwd, []backend.Shape{S(4096, 768), S(4096, 768), S(4096, 768)}, backend.Attrs{}},
	{"gather [2304 of 4096,192]", backend.OpGather, []backend.Shape{S(2304, 192), S(4096, 192), S(2304)}, backend.Attrs{}},
	{"scatter_add [2304 into 4096,192]", backend.OpScatterAdd, []backend.Shape{S(4096, 192), S(2304, 192), S(2304)}, backend.Attrs{}},
	{"split_heads [64,64,576] -> 3x[64,3,64,64]", backend.OpSplitHeads, []backend.Shape{S(64, 3, 64, 64), S(64, 3, 64, 64), S(64, 3, 64, 64), S(64, 64, 576)}, backend.Attrs{Heads: 3}},
	{"merge_heads [64,3,64,64] -> [64,64,192]", backend.OpMergeHeads, []backend.Shape{S(64, 64, 192), S(64, 3, 64, 64)}, backend.Attrs{Heads: 3}},
	{"patchify [64,3,32,32]", backend.OpPatchify, []backend.Shape{S(64, 64, 48), S(64, 3, 32, 32)}, backend.Attrs{Patch: 4}},
	{"smooth_l1 [256,9,192]", backend.OpSmoothL1, []backend.Shape{S(1), S(256, 9, 192), S(256, 9, 192)}, backend.Attrs{Beta: 1}},
	{"sumsq [768,192]", backend.OpSumSq, []backend.Shape{S(1), S(768, 192)}, backend.Attrs{}},
	{"adamw [768,192]", backend.OpAdamW, []backend.Shape{S(768, 192), S(768, 192), S(768, 192), S(768, 192)},
		backend.Attrs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.04, Step: 3}},
	{"ema [768,192]", backend.OpEMA, []backend.Shape{S(768, 192), S(768, 192)}, backend.Attrs{Momentum: 0.996}},
	{"copy [4096,192]", backend.OpCopy, []backend.Shape{S(4096, 192), S(4096, 192)}, backend.Attrs{}},
}

// newArgs allocates a call's arguments on be with random data (indices in
// range), in the dtypes of signature sig (nil: the op table's first).
func newArgs(b *testing.B, be backend.Backend, c benchCall, sig backend.Sig) []*backend.Tensor {
	specs := c.op.Expand(len(c.shapes))
	r := rand.New(rand.NewPCG(1, 2))
	args := make([]*backend.Tensor, len(c.shapes))
	for i, s := range c.shapes {
		dt := specs[i].DType
		if sig != nil {
			dt = sig[c.op.ArgRow(len(c.shapes), i)]
		}
		t := be.New(dt, s...)
		args[i] = t
		if dt == backend.I32 {
			rows := c.shapes[1][0]
			if c.op == backend.OpScatterAdd {
				rows = c.shapes[0][0]
			}
			v := make([]int32, s.NumElements())
			for k := range v {
				v[k] = int32(r.IntN(rows))
			}
			backend.WriteI32(be, t, v)
			continue
		}
		v := make([]float32, s.NumElements())
		for k := range v {
			v[k] = float32(r.NormFloat64())
		}
		if c.op == backend.OpAdamW && i == 2 {
			for k := range v {
				v[k] *= v[k] // the second moment is not negative
			}
		}
		backend.WriteF32(be, t, v)
	}
	return args
}

func BenchmarkOps(b *testing.B) {
	bes := backends(b)
	shared, err := vulkan.Open("")
	if err != nil {
		b.Fatal(err)
	}
	defer shared.Close()
	vulkan.SetSharedMatmul(shared, true)
	for _, c := range tiny32Calls {
		runs := bes
		if c.op == backend.OpMatMul {
			runs = append(runs[:len(runs):len(runs)], struct {
				name string
				be   backend.Backend
			}{"vulkan-shared", shared})
		}
		for _, x := range runs {
			b.Run(fmt.Sprintf("%s/%s", c.name, x.name), func(b *testing.B) { benchCallOn(b, x.be, c, nil) })
		}
	}
}

// benchCallOn times call c on be, its arguments in the dtypes of sig (nil:
// the op table's first signature).
func benchCallOn(b *testing.B, be backend.Backend, c benchCall, sig backend.Sig) {
	args := newArgs(b, be, c, sig)
	defer func() {
		for _, t := range args {
			be.Release(t)
		}
	}()
	call := backend.Call{Op: c.op, Args: args, Attrs: c.attrs}
	be.Run(call) // compile the pipelines first
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		be.Run(call)
	}
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMatMulDTypes/OP/SIG runs tiny32's matmuls on the Vulkan device
// in every signature of the op table (c, a, b: float32; f16 or bf16
// throughout; f16 or bf16 in, float32 out), the 16-bit ones reading their
// operands as 16 bits in the shader:
//
//	go test -run '^$' -bench MatMulDTypes -benchtime 20x ./backend/vulkan/
func BenchmarkMatMulDTypes(b *testing.B) {
	benchDTypes(b, func(op backend.Op) bool { return op == backend.OpMatMul })
}

// BenchmarkOpDTypes/OP/SIG does the same for the other ops that a 16-bit
// training step calls with 16-bit tensors, whose kernels read and write
// them too (f32, f16 and bf16 throughout):
//
//	go test -run '^$' -bench OpDTypes -benchtime 20x ./backend/vulkan/
func BenchmarkOpDTypes(b *testing.B) {
	step16 := map[backend.Op]bool{backend.OpAdd: true, backend.OpColSum: true, backend.OpSoftmax: true, backend.OpSoftmaxBwd: true,
		backend.OpGELU: true, backend.OpGELUBwd: true, backend.OpSplitHeads: true, backend.OpMergeHeads: true}
	benchDTypes(b, func(op backend.Op) bool { return step16[op] })
}

// benchDTypes runs the tiny32 calls of the ops keep keeps on the Vulkan
// device, in every signature of each op.
func benchDTypes(b *testing.B, keep func(backend.Op) bool) {
	vk := backends(b)[0].be
	for _, c := range tiny32Calls {
		if !keep(c.op) {
			continue
		}
		for _, sig := range c.op.Spec().Sigs {
			b.Run(fmt.Sprintf("%s/%v", c.name, sig), func(b *testing.B) { benchCallOn(b, vk, c, sig) })
		}
	}
}

// BenchmarkTiny32Step is the training step of the tiny32 preset (ViT width
// 192, depth 6, 3 heads; predictor width 96, depth 4; 64 images of 32x32,
// 4x4 patches, the preset's masks) on each backend.
func BenchmarkTiny32Step(b *testing.B) {
	cfg, err := config.Preset("tiny32")
	if err != nil {
		b.Fatal(err)
	}
	mc, err := cfg.ModelConfig()
	if err != nil {
		b.Fatal(err)
	}
	batch := cfg.Data.BatchSize
	col, err := mask.New(cfg.MaskConfig())
	if err != nil {
		b.Fatal(err)
	}
	mb, err := col.Sample(0, batch)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	s := cfg.Data.CropSize
	img := make([]float32, batch*3*s*s)
	for i := range img {
		img[i] = float32(r.NormFloat64())
	}
	bt := model.Batch{Images: img, Context: mb.Context, Targets: mb.Targets}
	for _, x := range backends(b) {
		b.Run(x.name, func(b *testing.B) {
			m, err := model.New(mc)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Alloc(x.be, 1); err != nil {
				b.Fatal(err)
			}
			defer m.Free()
			h := model.Hyper{LR: 1e-4, WD: 0.04, Momentum: 0.996}
			if _, err := m.Step(bt, h); err != nil { // compile the pipelines first
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := m.Step(bt, h); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
