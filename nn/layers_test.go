package nn

import (
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// layerCase builds one layer on a Builder and runs it on an input.
type layerCase struct {
	name  string
	in    []int // input shape; nil for the ViT (images)
	build func(b *Builder) (func(be backend.Backend, x *backend.Tensor) (*backend.Tensor, error), error)
	out   []int
}

func TestLayerGradients(t *testing.T) {
	vit := ViTConfig{ImgSize: 8, Patch: 4, Channels: 3, Dim: 8, Depth: 2, Heads: 2, MLPHidden: 16}
	cases := []layerCase{
		{"linear", []int{2, 3, 5}, func(b *Builder) (func(backend.Backend, *backend.Tensor) (*backend.Tensor, error), error) {
			return NewLinear(b, "fc", 5, 4, true).Forward, nil
		}, []int{2, 3, 4}},
		{"linear/nobias", []int{3, 5}, func(b *Builder) (func(backend.Backend, *backend.Tensor) (*backend.Tensor, error), error) {
			return NewLinear(b, "fc", 5, 4, false).Forward, nil
		}, []int{3, 4}},
		{"layernorm", []int{2, 3, 6}, func(b *Builder) (func(backend.Backend, *backend.Tensor) (*backend.Tensor, error), error) {
			return NewLayerNorm(b, "norm", 6, BlockEps).Forward, nil
		}, []int{2, 3, 6}},
		{"attention", []int{2, 5, 8}, func(b *Builder) (func(backend.Backend, *backend.Tensor) (*backend.Tensor, error), error) {
			return NewAttention(b, "attn", 8, 2).Forward, nil
		}, []int{2, 5, 8}},
		{"mlp", []int{2, 5, 8}, func(b *Builder) (func(backend.Backend, *backend.Tensor) (*backend.Tensor, error), error) {
			return NewMLP(b, "mlp", 8, 32).Forward, nil
		}, []int{2, 5, 8}},
		{"block", []int{2, 5, 8}, func(b *Builder) (func(backend.Backend, *backend.Tensor) (*backend.Tensor, error), error) {
			return NewBlock(b, "blocks.0", 8, 2, 32).Forward, nil
		}, []int{2, 5, 8}},
		{"vit/all", []int{2, 3, 8, 8}, func(b *Builder) (func(backend.Backend, *backend.Tensor) (*backend.Tensor, error), error) {
			v, err := NewViT(b, vit)
			if err != nil {
				return nil, err
			}
			return func(be backend.Backend, x *backend.Tensor) (*backend.Tensor, error) { return v.Forward(be, x, nil) }, nil
		}, []int{2, 4, 8}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			be := newCPU(t)
			b := NewBuilder()
			f, err := c.build(b)
			must(t, err)
			ps := b.Params()
			must(t, Alloc(be, ps, 1))
			r := testRand(t.Name())
			randomize(t, be, r, Trainable(ps), 0.3)
			x := randT(t, be, r, 0, 1, c.in...)
			w := randT(t, be, r, 0, 1, c.out...)
			leaves := paramLeaves(ps)
			if len(c.in) != 4 {
				leaves = append(leaves, leaf{"input", x})
			}
			gradCheck(t, be, leaves, func(b backend.Backend) (*backend.Tensor, error) {
				y, err := f(b, x)
				if err != nil {
					return nil, err
				}
				if !y.Shape().Equal(c.out) {
					t.Fatalf("output %v, want %v", y.Shape(), c.out)
				}
				return dotLoss(b, y, w)
			}, gcTol)
		})
	}
	t.Run("vit/kept", func(t *testing.T) {
		be := newCPU(t)
		b := NewBuilder()
		v, err := NewViT(b, vit)
		must(t, err)
		ps := v.Params()
		must(t, Alloc(be, ps, 1))
		r := testRand(t.Name())
		randomize(t, be, r, Trainable(ps), 0.3)
		img := randT(t, be, r, 0, 1, 2, 3, 8, 8)
		keep := idxT(t, be, []int32{0, 2, 3, 4 + 1, 4 + 2, 4 + 3}, 2, 3)
		w := randT(t, be, r, 0, 1, 2, 3, 8)
		gradCheck(t, be, paramLeaves(ps), func(b backend.Backend) (*backend.Tensor, error) {
			y, err := v.Forward(b, img, keep)
			if err != nil {
				return nil, err
			}
			return dotLoss(b, y, w)
		}, gcTol)
	})
}

// TestViTKeepIsGatherOfAll checks that keeping patches equals encoding all
// of them with the kept ones only: with depth 0 the encoder is per-token, so
// the kept output must equal the corresponding rows of the full output.
func TestViTKeepIsGatherOfAll(t *testing.T) {
	be := newCPU(t)
	b := NewBuilder()
	v, err := NewViT(b, ViTConfig{ImgSize: 8, Patch: 2, Channels: 3, Dim: 8, Depth: 0, Heads: 2, MLPHidden: 16})
	must(t, err)
	must(t, Alloc(be, v.Params(), 3))
	r := testRand(t.Name())
	img := randT(t, be, r, 0, 1, 2, 3, 8, 8)
	rows := []int32{1, 5, 15, 16 + 0, 16 + 9, 16 + 12}
	keep := idxT(t, be, rows, 2, 3)
	all, err := v.Forward(be, img, nil)
	must(t, err)
	kept, err := v.Forward(be, img, keep)
	must(t, err)
	a, _ := backend.ReadF32(be, all)
	k, err := backend.ReadF32(be, kept)
	must(t, err)
	for i, row := range rows {
		for j := 0; j < 8; j++ {
			if a[int(row)*8+j] != k[i*8+j] {
				t.Fatalf("kept row %d (patch row %d) col %d = %v, full encoding has %v", i, row, j, k[i*8+j], a[int(row)*8+j])
			}
		}
	}
}

// Under autocast a linear's bias is summed with the products before the
// output's one rounding to 16 bits, as PyTorch's linear (addmm) computes
// it: with x = [1, u/2], weights [1, 1] and bias u/4 (u the 16-bit ulp at
// 1) the exact output 1 + 3u/4 rounds to 1 + u. Catches a bias added after
// the product was rounded: 1 + u/2 rounds to even (1), and 1 + u/4 to 1
// again.
func TestLinearRoundsOnceUnderAutocast(t *testing.T) {
	for _, c := range []struct {
		p   amp.Precision
		ulp float32
	}{{amp.BF16, 1.0 / 128}, {amp.FP16, 1.0 / 1024}} {
		be := newCPU(t)
		b := NewBuilder()
		l := NewLinear(b, "fc", 2, 1, true)
		must(t, Alloc(be, b.Params(), 1))
		backend.WriteF32(be, l.Weight.Value, []float32{1, 1})
		backend.WriteF32(be, l.Bias.Value, []float32{c.ulp / 4})
		x := backend.FromF32(be, []float32{1, c.ulp / 2}, 1, 2)
		y, err := l.Forward(Autocast(be, c.p), x)
		must(t, err)
		if y.DType() != c.p.Low() {
			t.Fatalf("%v: the output is %v, want %v", c.p, y.DType(), c.p.Low())
		}
		f := be.New(backend.F32, 1, 1)
		backend.Cast(be, f, y)
		got, err := backend.ReadF32(be, f)
		must(t, err)
		if want := 1 + c.ulp; got[0] != want {
			t.Errorf("%v: linear gives %v, want %v (1 + 3u/4 rounded once)", c.p, got[0], want)
		}
	}
}
