package nn

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
)

// TestViTParamCounts counts the official encoders from their parameter specs
// alone (nothing is allocated) against the numbers in IJEPA_REFERENCE §3.4.
func TestViTParamCounts(t *testing.T) {
	cases := []struct {
		model      string
		img, patch int
		trainable  float64 // millions, as the reference rounds them
		pos        int64
		digits     int
	}{
		{"vit_tiny", 224, 16, 5.49, 196 * 192, 2},
		{"vit_small", 224, 16, 21.59, 196 * 384, 2},
		{"vit_base", 224, 16, 85.65, 196 * 768, 2},
		{"vit_large", 224, 16, 303.10, 196 * 1024, 2},
		{"vit_huge", 224, 14, 630.43, 256 * 1280, 2},
		{"vit_giant", 224, 16, 1011.1, 196 * 1408, 1},
	}
	for _, c := range cases {
		v, err := LookupVariant(c.model)
		must(t, err)
		b := NewBuilder()
		vit, err := NewViT(b, ViTConfig{ImgSize: c.img, Patch: c.patch, Channels: 3, Dim: v.Dim, Depth: v.Depth, Heads: v.Heads, MLPHidden: v.MLPHidden})
		must(t, err)
		ps := vit.Params()
		tr, all := Count(ps, true), Count(ps, false)
		got := fmt.Sprintf("%.*f", c.digits, float64(tr)/1e6)
		want := fmt.Sprintf("%.*f", c.digits, c.trainable)
		if got != want {
			t.Errorf("%s/%d: %d trainable parameters (%sM), want %sM", c.model, c.patch, tr, got, want)
		}
		if all-tr != c.pos {
			t.Errorf("%s: %d fixed parameters, want the %d of the position table", c.model, all-tr, c.pos)
		}
		if c.model == "vit_huge" {
			if g := fmt.Sprintf("%.2f", float64(all)/1e6); g != "630.76" {
				t.Errorf("vit_huge/14 with its position table: %sM, want 630.76M", g)
			}
		}
	}
}

func TestDecayGroups(t *testing.T) {
	b := NewBuilder()
	NewBlock(b, "blocks.0", 8, 2, 32)
	NewViT(b.Sub("enc"), ViTConfig{ImgSize: 4, Patch: 2, Channels: 3, Dim: 8, Depth: 0, Heads: 2, MLPHidden: 8})
	b.Param("mask_token", normalInit, true, 1, 1, 8)
	want := map[string]bool{
		"blocks.0.norm1.weight": false, "blocks.0.norm1.bias": false,
		"blocks.0.attn.qkv.weight": true, "blocks.0.attn.qkv.bias": false,
		"blocks.0.attn.proj.weight": true, "blocks.0.attn.proj.bias": false,
		"blocks.0.norm2.weight": false, "blocks.0.norm2.bias": false,
		"blocks.0.mlp.fc1.weight": true, "blocks.0.mlp.fc1.bias": false,
		"blocks.0.mlp.fc2.weight": true, "blocks.0.mlp.fc2.bias": false,
		"enc.patch_embed.proj.weight": true, "enc.patch_embed.proj.bias": false,
		"enc.pos_embed": false, "enc.norm.weight": false, "enc.norm.bias": false,
		"mask_token": true,
	}
	ps := b.Params()
	if len(ps) != len(want) {
		t.Errorf("%d parameters, want %d", len(ps), len(want))
	}
	for _, p := range ps {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected parameter %s", p.Name)
			continue
		}
		if p.Decay() != w {
			t.Errorf("%s %v: decay %v, want %v", p.Name, p.Shape, p.Decay(), w)
		}
		// The official groups also hold the fixed position table among the
		// decayed parameters.
		if g := p.DecayGroup(); g != (w || p.Name == "enc.pos_embed") {
			t.Errorf("%s %v: in the decayed group %v, want %v", p.Name, p.Shape, g, !g)
		}
	}
}

func TestInitStatistics(t *testing.T) {
	be := newCPU(t)
	b := NewBuilder()
	vit, err := NewViT(b, ViTConfig{ImgSize: 32, Patch: 4, Channels: 3, Dim: 64, Depth: 2, Heads: 4, MLPHidden: 256})
	must(t, err)
	ps := vit.Params()
	must(t, Alloc(be, ps, 42))
	for _, p := range ps {
		v, err := backend.ReadF32(be, p.Value)
		must(t, err)
		switch p.Init.Kind {
		case InitNormal:
			var s, s2, mx float64
			for _, x := range v {
				s += float64(x)
				s2 += float64(x) * float64(x)
				mx = math.Max(mx, math.Abs(float64(x)))
			}
			n := float64(len(v))
			mean, std := s/n, math.Sqrt(s2/n-(s/n)*(s/n))
			// Four standard errors: mean 0.02/sqrt(n), std 0.02/sqrt(2n).
			if math.Abs(mean) > 4*InitStd/math.Sqrt(n) || math.Abs(std-InitStd) > 4*InitStd/math.Sqrt(2*n) {
				t.Errorf("%s (%d values): mean %.2e std %.5f, want N(0, 0.02^2)", p.Name, len(v), mean, std)
			}
			if mx > TruncBound {
				t.Errorf("%s: |value| %v beyond the truncation bound", p.Name, mx)
			}
		case InitZeros, InitOnes:
			want := float32(0)
			if p.Init.Kind == InitOnes {
				want = 1
			}
			for i, x := range v {
				if x != want {
					t.Fatalf("%s[%d] = %v, want %v", p.Name, i, x, want)
				}
			}
		}
		switch {
		case strings.HasSuffix(p.Name, ".bias"):
			if p.Init.Kind != InitZeros {
				t.Errorf("%s: init %v, want zeros", p.Name, p.Init.Kind)
			}
		case strings.Contains(p.Name, "norm"):
			if p.Init.Kind != InitOnes {
				t.Errorf("%s: init %v, want ones", p.Name, p.Init.Kind)
			}
		case p.Name == "pos_embed":
			if p.Init.Kind != InitSinCos2D || p.Trainable {
				t.Errorf("pos_embed: init %v trainable %v, want a fixed sin-cos table", p.Init.Kind, p.Trainable)
			}
		default: // every Linear and the patch conv, with no depth rescale
			if p.Init.Kind != InitNormal || p.Init.Std != InitStd {
				t.Errorf("%s: init %+v, want N(0, 0.02^2)", p.Name, p.Init)
			}
		}
	}
	// Same seed, same values; another seed, other values.
	w := vit.Blocks[1].MLP.FC2.Weight
	a, _ := InitialValues(w, 42)
	bv, _ := InitialValues(w, 42)
	c, _ := InitialValues(w, 43)
	got, err := backend.ReadF32(be, w.Value)
	must(t, err)
	for i := range a {
		if a[i] != bv[i] || a[i] != got[i] {
			t.Fatalf("seed 42 is not reproducible at %d", i)
		}
	}
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same > len(a)/100 {
		t.Errorf("seeds 42 and 43 agree on %d of %d values", same, len(a))
	}
}

func TestSinCos2DLayout(t *testing.T) {
	// d = 8: omega = [1, 1/100]; grid 2 rows x 3 columns.
	pe, err := SinCos2D(2, 3, 8)
	must(t, err)
	s, c := math.Sin, math.Cos
	row := func(i, j float64) []float64 {
		return []float64{s(j), s(j / 100), c(j), c(j / 100), s(i), s(i / 100), c(i), c(i / 100)}
	}
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			want := row(float64(i), float64(j))
			got := pe[(i*3+j)*8 : (i*3+j+1)*8]
			for k := range want {
				if math.Abs(float64(got[k])-want[k]) > 1e-7 {
					t.Errorf("token (row %d, col %d) [%d] = %v, want %v", i, j, k, got[k], want[k])
				}
			}
		}
	}
	// The first half encodes the column: token (0, 2) has sin(2) first.
	if math.Abs(float64(pe[2*8])-math.Sin(2)) > 1e-7 || pe[2*8+4] != 0 {
		t.Errorf("token (0,2) starts %v ... %v, want sin(2) ... sin(0)", pe[2*8], pe[2*8+4])
	}
	if _, err := SinCos2D(2, 2, 6); err == nil {
		t.Error("a width that is not a multiple of 4 was accepted")
	}
}
