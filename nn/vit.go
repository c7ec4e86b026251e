package nn

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
)

// ViTConfig is the shape of a Vision Transformer encoder.
type ViTConfig struct {
	ImgSize   int // square input side in pixels
	Patch     int // patch side
	Channels  int // input channels (3)
	Dim       int // token width
	Depth     int // number of blocks
	Heads     int // attention heads
	MLPHidden int // MLP hidden width
}

// Variant is one of the official ViT sizes (vision_transformer.py's vit_*
// factories): width, depth, heads and MLP hidden width.
type Variant struct {
	Name                         string
	Dim, Depth, Heads, MLPHidden int
}

// Variants are the official ViT sizes; the MLP ratio is 4 except for
// vit_giant (48/11).
var Variants = []Variant{
	{"vit_tiny", 192, 12, 3, 768},
	{"vit_small", 384, 12, 6, 1536},
	{"vit_base", 768, 12, 12, 3072},
	{"vit_large", 1024, 24, 16, 4096},
	{"vit_huge", 1280, 32, 16, 5120},
	{"vit_giant", 1408, 40, 16, 6144},
}

// LookupVariant returns the official ViT size with the given name.
func LookupVariant(name string) (Variant, error) {
	for _, v := range Variants {
		if v.Name == name {
			return v, nil
		}
	}
	names := ""
	for i, v := range Variants {
		if i > 0 {
			names += ", "
		}
		names += v.Name
	}
	return Variant{}, fmt.Errorf("nn: unknown model %q (known: %s)", name, names)
}

// Grid returns the number of patches along each side.
func (c ViTConfig) Grid() int { return c.ImgSize / c.Patch }

// NumPatches returns the number of patch tokens of an image.
func (c ViTConfig) NumPatches() int { return c.Grid() * c.Grid() }

// Validate reports a configuration the model cannot be built with.
func (c ViTConfig) Validate() error {
	switch {
	case c.ImgSize <= 0 || c.Patch <= 0 || c.Channels <= 0 || c.Dim <= 0 || c.Depth < 0 || c.Heads <= 0 || c.MLPHidden <= 0:
		return fmt.Errorf("nn: vit %+v: every size must be positive", c)
	case c.ImgSize%c.Patch != 0:
		return fmt.Errorf("nn: vit: image size %d is not a multiple of the patch size %d", c.ImgSize, c.Patch)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("nn: vit: width %d is not a multiple of the %d heads", c.Dim, c.Heads)
	case c.Dim%4 != 0:
		return fmt.Errorf("nn: vit: width %d is not a multiple of 4 (the 2-D sin-cos positions need it)", c.Dim)
	}
	return nil
}

// ViT is the I-JEPA Vision Transformer encoder: a patch embedding (a
// Conv2d with stride = patch, computed as patchify + matmul), fixed 2-D
// sin-cos positions added to every patch, optionally a subset of the
// patches kept, pre-norm blocks and a final LayerNorm. There is no class
// token. Parameter names and shapes are the official ones: patch_embed.proj.*,
// pos_embed [1,N,D] (fixed), blocks.i.*, norm.*.
type ViT struct {
	Cfg        ViTConfig
	PatchEmbed *Linear // weight [D, C, P, P]
	Pos        *Param  // [1, N, D], not trainable
	Blocks     []*Block
	Norm       *LayerNorm
}

// NewViT declares a ViT's parameters on b.
func NewViT(b *Builder, cfg ViTConfig) (*ViT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, d, g := cfg.Patch, cfg.Dim, cfg.Grid()
	v := &ViT{Cfg: cfg}
	v.PatchEmbed = newLinearShaped(b.Sub("patch_embed"), "proj", cfg.Channels*p*p, d, true, d, cfg.Channels, p, p)
	v.Pos = b.Param("pos_embed", Init{Kind: InitSinCos2D, GridH: g, GridW: g}, false, 1, g*g, d)
	for i := 0; i < cfg.Depth; i++ {
		v.Blocks = append(v.Blocks, NewBlock(b, fmt.Sprintf("blocks.%d", i), d, cfg.Heads, cfg.MLPHidden))
	}
	v.Norm = NewLayerNorm(b, "norm", d, BlockEps)
	return v, nil
}

// Params returns the encoder's parameters in declaration order.
func (v *ViT) Params() []*Param {
	ps := append(v.PatchEmbed.Params(), v.Pos)
	for _, bl := range v.Blocks {
		ps = append(ps, bl.Params()...)
	}
	return append(ps, v.Norm.Params()...)
}

// Forward encodes images img [B, C, H, W]. With keep nil every patch is
// encoded and the result is [B, N, D]; otherwise keep is an I32 tensor
// [B, K] of rows into the B*N patch tokens (b*N + patch index) and the
// result is [B, K, D]: positions are added before the patches are kept, as
// the official encoder does.
func (v *ViT) Forward(be backend.Backend, img, keep *backend.Tensor) (*backend.Tensor, error) {
	out, err := v.forward(be, img, keep, 1)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// ForwardLayers encodes images img [B, C, H, W] on every patch and returns
// the outputs of the last n blocks, each through the final norm, oldest
// first, each [B, N, D] (DINO's get_intermediate_layers; n = 1 is
// Forward's result). n is from 1 to the depth (1 for a ViT of no blocks).
func (v *ViT) ForwardLayers(be backend.Backend, img *backend.Tensor, n int) ([]*backend.Tensor, error) {
	if n < 1 || n > max(v.Cfg.Depth, 1) {
		return nil, fmt.Errorf("nn: vit: %d layers asked of a ViT of depth %d", n, v.Cfg.Depth)
	}
	return v.forward(be, img, nil, n)
}

// forward is Forward returning the last n blocks' outputs through the
// final norm.
func (v *ViT) forward(be backend.Backend, img, keep *backend.Tensor, n int) ([]*backend.Tensor, error) {
	c := v.Cfg
	is := img.Shape()
	if len(is) != 4 || is[1] != c.Channels || is[2] != c.ImgSize || is[3] != c.ImgSize {
		return nil, fmt.Errorf("nn: vit: images %v, want [B,%d,%d,%d]", is, c.Channels, c.ImgSize, c.ImgSize)
	}
	bsz, np, d := is[0], c.NumPatches(), c.Dim
	if keep != nil {
		ks := keep.Shape()
		if len(ks) != 2 || ks[0] != bsz || keep.DType() != backend.I32 {
			return nil, fmt.Errorf("nn: vit: kept rows %v, want i32[%d,K]", keep, bsz)
		}
	}
	patches := be.New(backend.F32, bsz, np, c.Channels*c.Patch*c.Patch)
	backend.Patchify(be, patches, img, c.Patch)
	x, err := v.PatchEmbed.Forward(be, patches)
	be.Release(patches)
	if err != nil {
		return nil, err
	}
	pos := backend.Reshape(v.Pos.Value, np, d)
	backend.Add(be, x, x, pos)
	be.Release(pos)
	if keep != nil {
		kept := be.New(backend.F32, append(keep.Shape().Clone(), d)...)
		xv := backend.Reshape(x, bsz*np, d)
		backend.Gather(be, kept, xv, keep)
		be.Release(xv)
		be.Release(x)
		x = kept
	}
	var outs []*backend.Tensor
	fail := func(err error) ([]*backend.Tensor, error) {
		for _, o := range outs {
			be.Release(o)
		}
		return nil, err
	}
	for i, bl := range v.Blocks {
		y, err := bl.Forward(be, x)
		be.Release(x)
		if err != nil {
			return fail(err)
		}
		x = y
		if i >= len(v.Blocks)-n && i < len(v.Blocks)-1 {
			o, err := v.Norm.Forward(be, x)
			if err != nil {
				be.Release(x)
				return fail(err)
			}
			outs = append(outs, o)
		}
	}
	y, err := v.Norm.Forward(be, x)
	be.Release(x)
	if err != nil {
		return fail(err)
	}
	return append(outs, y), nil
}
