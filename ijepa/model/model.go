// Package model is the I-JEPA model of the official code
// (facebookresearch/ijepa): a context encoder, a target encoder that follows
// it by EMA, a narrow predictor, the layer-normed targets, the loss, and one
// training step — forward, backward, AdamW, EMA — on any backend.
//
// Parameters carry the official names and layouts. A checkpoint holds them
// under the prefixes of the official checkpoint's dicts: encoder.NAME,
// predictor.NAME, target_encoder.NAME, then the optimiser's moments as
// opt.exp_avg.encoder.NAME, opt.exp_avg_sq.predictor.NAME, ...
package model

import (
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// Loss selects the regression loss between predictions and targets.
type Loss string

// The losses.
const (
	// SmoothL1 is PyTorch's smooth_l1_loss with beta 1, averaged over all
	// elements: the official code's loss (the default).
	SmoothL1 Loss = "smooth_l1"
	// L2 is the mean squared error over all elements: the paper's loss
	// (which sums over features; the mean differs by the factor D).
	L2 Loss = "l2"
)

// TargetEps is the epsilon of the non-affine layer norm applied to the
// target encoder's output (PyTorch's F.layer_norm default).
const TargetEps = 1e-5

// Config is the shape of an I-JEPA model.
type Config struct {
	// Model names the encoder (the config's meta.model_name; summaries
	// show it). When Dim is 0 it must be an official size (vit_tiny ...
	// vit_giant), which gives Dim, Depth, Heads and MLPHidden; otherwise
	// those fields give the encoder and Model may be any name, or empty.
	Model                        string
	Dim, Depth, Heads, MLPHidden int
	// ImgSize is the square image side and Patch the patch side.
	ImgSize, Patch int
	// InChans is the number of input channels: 3 (RGB, when 0) or 1
	// (grey), as the official VisionTransformer's in_chans.
	InChans int
	// PredDim and PredDepth are the predictor's width (pred_emb_dim) and
	// depth (pred_depth).
	PredDim, PredDepth int
	// PredHeads is the predictor's number of attention heads; 0 gives it
	// the encoder's, as the official init_model does.
	PredHeads int
	// Loss is SmoothL1 (when empty) or L2.
	Loss Loss
}

// Encoder returns the encoder's configuration, resolving Model.
func (c Config) Encoder() (nn.ViTConfig, error) {
	v := nn.ViTConfig{ImgSize: c.ImgSize, Patch: c.Patch, Channels: c.channels(), Dim: c.Dim, Depth: c.Depth, Heads: c.Heads, MLPHidden: c.MLPHidden}
	if c.Model != "" && c.Dim == 0 {
		variant, err := nn.LookupVariant(c.Model)
		if err != nil {
			return v, err
		}
		v.Dim, v.Depth, v.Heads, v.MLPHidden = variant.Dim, variant.Depth, variant.Heads, variant.MLPHidden
	}
	return v, v.Validate()
}

// channels is InChans, 3 when 0.
func (c Config) channels() int {
	if c.InChans == 0 {
		return 3
	}
	return c.InChans
}

// predHeads is the predictor's number of heads for an encoder of encHeads.
func (c Config) predHeads(encHeads int) int {
	if c.PredHeads == 0 {
		return encHeads
	}
	return c.PredHeads
}

// Predictor is the I-JEPA predictor (VisionTransformerPredictor): a linear
// embedding to the predictor width, its own fixed sin-cos positions, a
// learned mask token, pre-norm blocks (with the encoder's number of heads in
// the official code), a final norm and a projection back to the encoder
// width.
type Predictor struct {
	Embed     *nn.Linear // predictor_embed [d, D]
	MaskToken *nn.Param  // mask_token [1, 1, d]
	Pos       *nn.Param  // predictor_pos_embed [1, N, d], fixed
	Blocks    []*nn.Block
	Norm      *nn.LayerNorm // predictor_norm
	Proj      *nn.Linear    // predictor_proj [D, d]
	Dim       int           // d
	Heads     int           // attention heads of every block
	N         int           // patches per image
}

// NewPredictor declares the predictor's parameters on b: width dim, depth
// blocks of heads attention heads.
func NewPredictor(b *nn.Builder, enc nn.ViTConfig, dim, depth, heads int) (*Predictor, error) {
	if dim <= 0 || depth < 0 || heads <= 0 || dim%4 != 0 || dim%heads != 0 {
		return nil, fmt.Errorf("model: predictor width %d must be a positive multiple of 4 and of the %d heads, depth %d not negative", dim, heads, depth)
	}
	g := enc.Grid()
	p := &Predictor{Dim: dim, Heads: heads, N: enc.NumPatches()}
	p.Embed = nn.NewLinear(b, "predictor_embed", enc.Dim, dim, true)
	p.MaskToken = b.Param("mask_token", nn.Init{Kind: nn.InitNormal, Std: nn.InitStd}, true, 1, 1, dim)
	p.Pos = b.Param("predictor_pos_embed", nn.Init{Kind: nn.InitSinCos2D, GridH: g, GridW: g}, false, 1, g*g, dim)
	for i := 0; i < depth; i++ {
		p.Blocks = append(p.Blocks, nn.NewBlock(b, fmt.Sprintf("predictor_blocks.%d", i), dim, heads, 4*dim))
	}
	p.Norm = nn.NewLayerNorm(b, "predictor_norm", dim, nn.BlockEps)
	p.Proj = nn.NewLinear(b, "predictor_proj", dim, enc.Dim, true)
	return p, nil
}

// Params returns the predictor's parameters in declaration order.
func (p *Predictor) Params() []*nn.Param {
	ps := append(p.Embed.Params(), p.MaskToken, p.Pos)
	for _, bl := range p.Blocks {
		ps = append(ps, bl.Params()...)
	}
	ps = append(ps, p.Norm.Params()...)
	return append(ps, p.Proj.Params()...)
}

// Model is an I-JEPA model: its parameters, and once allocated, their
// values, gradients and optimiser state on one backend.
type Model struct {
	Cfg       Config
	EncCfg    nn.ViTConfig
	Encoder   *nn.ViT
	Target    *nn.ViT
	Predictor *Predictor
	Opt       *nn.AdamW
	// Precision is the precision steps train in: FP32 (when 0), or
	// autocast to BF16 or FP16 with float32 parameters, gradients, AdamW
	// moments and target encoder (nn.Autocast).
	Precision amp.Precision
	// Scaler, when set, scales the loss before the backward pass and
	// skips the steps whose gradients overflow, as PyTorch's GradScaler
	// (the official trainer uses one with bf16; fp16 needs one).
	Scaler *amp.GradScaler
	// Sync, when set, averages the gradients across data-parallel ranks
	// in every Step, between the backward pass and AdamW.
	Sync GradSync

	be backend.Backend
}

// New declares a model's parameters; nothing is allocated (so any size can
// be counted).
func New(cfg Config) (*Model, error) {
	if cfg.Loss == "" {
		cfg.Loss = SmoothL1
	}
	if cfg.Loss != SmoothL1 && cfg.Loss != L2 {
		return nil, fmt.Errorf("model: unknown loss %q (want %s or %s)", cfg.Loss, SmoothL1, L2)
	}
	enc, err := cfg.Encoder()
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m := &Model{Cfg: cfg, EncCfg: enc}
	if m.Encoder, err = nn.NewViT(nn.NewBuilder(), enc); err != nil {
		return nil, err
	}
	if m.Target, err = nn.NewViT(nn.NewBuilder(), enc); err != nil {
		return nil, err
	}
	if m.Predictor, err = NewPredictor(nn.NewBuilder(), enc, cfg.PredDim, cfg.PredDepth, cfg.predHeads(enc.Heads)); err != nil {
		return nil, err
	}
	return m, nil
}

// SetPrecision makes the steps train in p, with a fresh GradScaler where p
// computes in 16 bits (none in FP32), as the official trainer pairs them.
// A resumed run then restores the scaler's state into *m.Scaler.
func (m *Model) SetPrecision(p amp.Precision) {
	m.Precision, m.Scaler = p, nil
	if p.Low() != backend.F32 {
		m.Scaler = amp.NewGradScaler()
	}
}

// Trainable returns the parameters the optimiser updates: the context
// encoder's, then the predictor's.
func (m *Model) Trainable() []*nn.Param {
	return append(nn.Trainable(m.Encoder.Params()), nn.Trainable(m.Predictor.Params())...)
}

// Backend returns the backend the model is allocated on (nil before Alloc).
func (m *Model) Backend() backend.Backend { return m.be }

// Alloc allocates and initialises the model on be: the encoder and the
// predictor from seed (the official init: Linear and conv weights
// N(0, 0.02^2), biases 0, LayerNorm 1/0, mask token N(0, 0.02^2), fixed sin-cos
// positions), the target encoder as a copy of the encoder, gradients, and
// AdamW's zeroed moments.
func (m *Model) Alloc(be backend.Backend, seed uint64) error {
	if m.be != nil {
		return fmt.Errorf("model: already allocated")
	}
	return m.alloc(be, func(ps []*nn.Param) error { return nn.Alloc(be, ps, seed) })
}

// alloc allocates the model on be, the encoder's and the predictor's
// parameters with params (nn.Alloc, or CountStep's allocation without
// values), the rest as Alloc says.
func (m *Model) alloc(be backend.Backend, params func([]*nn.Param) error) error {
	m.be = be
	fail := func(err error) error { m.Free(); return err }
	if err := params(m.Encoder.Params()); err != nil {
		return fail(err)
	}
	if err := params(m.Predictor.Params()); err != nil {
		return fail(err)
	}
	if err := nn.AllocCopy(be, m.Target.Params(), m.Encoder.Params()); err != nil {
		return fail(err)
	}
	if err := nn.AllocGrads(be, m.Trainable()); err != nil {
		return fail(err)
	}
	opt, err := nn.NewAdamW(be, m.Trainable())
	if err != nil {
		return fail(err)
	}
	m.Opt = opt
	return be.Sync()
}

// Free releases everything the model holds on its backend.
func (m *Model) Free() {
	if m.be == nil {
		return
	}
	if m.Opt != nil {
		m.Opt.Free(m.be)
		m.Opt = nil
	}
	nn.Free(m.be, m.Encoder.Params())
	nn.Free(m.be, m.Predictor.Params())
	nn.Free(m.be, m.Target.Params())
	m.be = nil
}

// The prefixes of the three networks' parameters in a checkpoint: the keys
// of the official checkpoint's dict.
const (
	EncoderPrefix   = "encoder."
	PredictorPrefix = "predictor."
	TargetPrefix    = "target_encoder."
)

// MomentNames returns the checkpoint names of AdamW's two moments (PyTorch's
// exp_avg and exp_avg_sq) of the parameter name of the network with the
// given prefix (EncoderPrefix or PredictorPrefix).
func MomentNames(prefix, name string) (expAvg, expAvgSq string) {
	return "opt.exp_avg." + prefix + name, "opt.exp_avg_sq." + prefix + name
}

// Tensors returns every tensor a checkpoint holds, with its name: the three
// networks' parameters and the optimiser's moments.
func (m *Model) Tensors() []nn.Named {
	var out []nn.Named
	out = append(out, nn.ParamTensors(EncoderPrefix, m.Encoder.Params())...)
	out = append(out, nn.ParamTensors(PredictorPrefix, m.Predictor.Params())...)
	out = append(out, nn.ParamTensors(TargetPrefix, m.Target.Params())...)
	if m.Opt != nil {
		enc := map[*nn.Param]bool{}
		for _, p := range m.Encoder.Params() {
			enc[p] = true
		}
		state := m.Opt.State() // exp_avg.NAME, exp_avg_sq.NAME per parameter, in order
		for i, p := range m.Opt.Params() {
			net := PredictorPrefix
			if enc[p] {
				net = EncoderPrefix
			}
			avg, sq := MomentNames(net, p.Name)
			out = append(out, nn.Named{Name: avg, T: state[2*i].T}, nn.Named{Name: sq, T: state[2*i+1].T})
		}
	}
	return out
}
