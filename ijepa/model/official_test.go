package model

import (
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/nn"
)

// The model's constants are the official code's (facebookresearch/ijepa,
// src/models/vision_transformer.py and src/train.py): LayerNorm eps 1e-6 in
// every block and final norm (norm_layer=partial(nn.LayerNorm, eps=1e-6)),
// 1e-5 for the targets' non-affine norm (F.layer_norm's default), every
// Linear and conv weight and the mask token drawn with std 0.02 (init_std),
// MLP ratio 4 (48/11 for vit_giant) in the encoders and the predictor. The
// PyTorch fixture tests would notice some of these only as an error of a
// few 1e-6; this test names the constant. Catches, e.g., a block eps of 1e-5.
func TestOfficialConstants(t *testing.T) {
	if TargetEps != 1e-5 {
		t.Errorf("target layer norm eps %g, want PyTorch's default 1e-5", TargetEps)
	}
	for _, v := range nn.Variants {
		ratio := 4.0
		if v.Name == "vit_giant" {
			ratio = 48.0 / 11
		}
		if got := float64(v.MLPHidden) / float64(v.Dim); got != ratio {
			t.Errorf("%s: MLP ratio %g, want %g", v.Name, got, ratio)
		}
	}
	m, err := New(Config{Model: "vit_tiny", ImgSize: 32, Patch: 8, PredDim: 96, PredDepth: 2})
	if err != nil {
		t.Fatal(err)
	}
	norms := map[string]*nn.LayerNorm{"encoder norm": m.Encoder.Norm, "target norm": m.Target.Norm, "predictor_norm": m.Predictor.Norm}
	blocks := map[string][]*nn.Block{"encoder": m.Encoder.Blocks, "target": m.Target.Blocks, "predictor": m.Predictor.Blocks}
	for who, bs := range blocks {
		dim := m.EncCfg.Dim
		if who == "predictor" {
			dim = m.Predictor.Dim
		}
		for i, b := range bs {
			norms[who+" norm1"], norms[who+" norm2"] = b.Norm1, b.Norm2
			if h := b.MLP.FC1.Weight.Shape[0]; h != 4*dim {
				t.Errorf("%s block %d: MLP hidden width %d, want 4 x %d", who, i, h, dim)
			}
		}
	}
	for who, n := range norms {
		if n.Eps != 1e-6 {
			t.Errorf("%s: LayerNorm eps %g, want the official 1e-6", who, n.Eps)
		}
	}
	params := append(append(m.Encoder.Params(), m.Target.Params()...), m.Predictor.Params()...)
	for _, p := range params {
		weight := strings.HasSuffix(p.Name, "weight") && len(p.Shape) >= 2
		if (weight || p.Name == "mask_token") && (p.Init.Kind != nn.InitNormal || p.Init.Std != 0.02) {
			t.Errorf("%s: init %+v, want normal with std 0.02", p.Name, p.Init)
		}
	}
}
