package model

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/nn"
)

// The features of the last layers: concatenated, the last block's share is
// Embed's features and the one before is the features of the encoder cut
// one block short (the outputs through the final norm); averaged, their
// mean. Per-patch features follow the same layout.
func TestEmbedLayers(t *testing.T) {
	be := cpu.New()
	cfg := Config{Dim: 8, Depth: 3, Heads: 2, MLPHidden: 16, ImgSize: 8, Patch: 2, PredDim: 8, PredDepth: 1}
	m := newModel(t, be, cfg, 4)
	r := rand.New(rand.NewPCG(2, 3))
	randomize(t, be, r, m.Target.Params(), 0.3)
	images := randomBatch(r, m.EncCfg, 3, 1, 2, 2).Images
	enc := m.Target
	last, lastTok, err := Embed(be, enc, images, true)
	if err != nil {
		t.Fatal(err)
	}
	short := *enc
	short.Blocks = enc.Blocks[:2]
	short.Cfg.Depth = 2
	prev, prevTok, err := Embed(be, &short, images, true)
	if err != nil {
		t.Fatal(err)
	}
	cat, catTok, err := EmbedWith(be, enc, images, Embedding{Layers: 2, Concat: true, Tokens: true})
	if err != nil {
		t.Fatal(err)
	}
	mean, _, err := EmbedWith(be, enc, images, Embedding{Layers: 2})
	if err != nil {
		t.Fatal(err)
	}
	const d = 8
	if len(cat) != 3*2*d || len(catTok) != 3*16*2*d || len(mean) != 3*d {
		t.Fatalf("sizes: concat %d, concat tokens %d, mean %d", len(cat), len(catTok), len(mean))
	}
	for row := 0; row < 3; row++ {
		for j := 0; j < d; j++ {
			a, b := prev[row*d+j], last[row*d+j]
			if cat[row*2*d+j] != a || cat[row*2*d+d+j] != b {
				t.Fatalf("row %d column %d: concatenation %v %v, layers %v %v", row, j, cat[row*2*d+j], cat[row*2*d+d+j], a, b)
			}
			if math.Abs(float64(mean[row*d+j])-float64(a+b)/2) > 1e-6 {
				t.Fatalf("row %d column %d: mean %v, want %v", row, j, mean[row*d+j], (a+b)/2)
			}
		}
	}
	for tok := 0; tok < 3*16; tok++ {
		if catTok[tok*2*d] != prevTok[tok*d] || catTok[tok*2*d+d] != lastTok[tok*d] {
			t.Fatalf("token %d: per-patch concatenation out of place", tok)
		}
	}
	if _, _, err := EmbedWith(be, enc, images, Embedding{Layers: 4}); err == nil || !strings.Contains(err.Error(), "4 layers asked of a ViT of depth 3") {
		t.Errorf("more layers than blocks: %v", err)
	}
}

// A one-channel encoder with a predictor of its own head count trains, and
// its checkpoint records both: a model that differs in either is refused,
// and a checkpoint written before the fields existed reads as 3 channels
// and the encoder's heads.
func TestChannelsAndPredictorHeads(t *testing.T) {
	be := cpu.New()
	cfg := Config{Dim: 16, Depth: 1, Heads: 4, MLPHidden: 32, ImgSize: 8, Patch: 4, InChans: 1, PredDim: 8, PredDepth: 1, PredHeads: 2}
	m := newModel(t, be, cfg, 1)
	if m.Encoder.PatchEmbed.Weight.Shape[1] != 1 || m.Predictor.Heads != 2 || m.Predictor.Blocks[0].Attn.Heads != 2 {
		t.Fatalf("patch embedding %v, predictor heads %d", m.Encoder.PatchEmbed.Weight.Shape, m.Predictor.Heads)
	}
	r := rand.New(rand.NewPCG(1, 1))
	b := randomBatch(r, nn.ViTConfig{ImgSize: 8, Patch: 4}, 2, 1, 3, 1)
	b.Images = b.Images[:2*8*8]
	if _, err := m.Step(b, Hyper{LR: 1e-3, Momentum: 0.99}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "grey.safetensors")
	if err := m.Save(path, nil); err != nil {
		t.Fatal(err)
	}
	if s := m.Shape(); s.InChans != 1 || s.PredHeads != 2 {
		t.Errorf("shape %+v", s)
	}
	if _, err := newModel(t, be, cfg, 2).Load(path); err != nil {
		t.Fatalf("the same model: %v", err)
	}
	other := cfg
	other.PredHeads = 4
	if _, err := newModel(t, be, other, 2).Load(path); err == nil || !strings.Contains(err.Error(), "PredHeads:2") {
		t.Errorf("another predictor head count: %v", err)
	}
	old, err := ParseShape(`{"Dim":16,"Depth":1,"Heads":4,"MLPHidden":32,"ImgSize":8,"Patch":4,"PredDim":8,"PredDepth":1}`)
	if err != nil || old.InChans != 3 || old.PredHeads != 4 {
		t.Errorf("a shape without the new fields: %+v %v", old, err)
	}
}
