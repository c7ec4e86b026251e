package interop

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/pytorch"

	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

func names(ps []*nn.Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// TestTorchOrderAndGroups spells out named_parameters() of the official
// classes and the four AdamW groups for a model of depth 1.
func TestTorchOrderAndGroups(t *testing.T) {
	m, err := model.New(model.Config{Dim: 8, Depth: 1, Heads: 2, MLPHidden: 16, ImgSize: 8, Patch: 4, PredDim: 4, PredDepth: 1})
	if err != nil {
		t.Fatal(err)
	}
	block := func(p string) []string {
		var out []string
		for _, n := range []string{"norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
			"norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"} {
			out = append(out, p+n)
		}
		return out
	}
	enc := append(append([]string{"pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"}, block("blocks.0.")...), "norm.weight", "norm.bias")
	pred := append(append([]string{"mask_token", "predictor_pos_embed", "predictor_embed.weight", "predictor_embed.bias"},
		block("predictor_blocks.0.")...), "predictor_norm.weight", "predictor_norm.bias", "predictor_proj.weight", "predictor_proj.bias")
	for _, c := range []struct {
		what      string
		got, want []string
	}{
		{"encoder", names(TorchOrder(m.Encoder.Params())), enc},
		{"predictor", names(TorchOrder(m.Predictor.Params())), pred},
	} {
		if strings.Join(c.got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s order:\n got %v\nwant %v", c.what, c.got, c.want)
		}
	}
	g := OptimizerGroups(m.Encoder.Params(), m.Predictor.Params())
	want := [4]string{
		"pos_embed patch_embed.proj.weight blocks.0.attn.qkv.weight blocks.0.attn.proj.weight blocks.0.mlp.fc1.weight blocks.0.mlp.fc2.weight",
		"mask_token predictor_pos_embed predictor_embed.weight predictor_blocks.0.attn.qkv.weight predictor_blocks.0.attn.proj.weight " +
			"predictor_blocks.0.mlp.fc1.weight predictor_blocks.0.mlp.fc2.weight predictor_proj.weight",
		"patch_embed.proj.bias blocks.0.norm1.weight blocks.0.norm1.bias blocks.0.attn.qkv.bias blocks.0.attn.proj.bias " +
			"blocks.0.norm2.weight blocks.0.norm2.bias blocks.0.mlp.fc1.bias blocks.0.mlp.fc2.bias norm.weight norm.bias",
		"predictor_embed.bias predictor_blocks.0.norm1.weight predictor_blocks.0.norm1.bias predictor_blocks.0.attn.qkv.bias " +
			"predictor_blocks.0.attn.proj.bias predictor_blocks.0.norm2.weight predictor_blocks.0.norm2.bias predictor_blocks.0.mlp.fc1.bias " +
			"predictor_blocks.0.mlp.fc2.bias predictor_norm.weight predictor_norm.bias predictor_proj.bias",
	}
	for i := range g {
		if got := strings.Join(names(g[i]), " "); got != want[i] {
			t.Errorf("group %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}

// writeStateDict writes a ViT's state dict (values 0.01*i) to a
// safetensors file, edited by edit (which may rename, drop, add or reshape
// tensors).
func writeStateDict(t *testing.T, cfg nn.ViTConfig, meta map[string]string, edit func([]safetensors.Tensor) []safetensors.Tensor) string {
	t.Helper()
	v, err := nn.NewViT(nn.NewBuilder(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var list []safetensors.Tensor
	for _, p := range v.Params() {
		shape := make([]int64, len(p.Shape))
		for i, d := range p.Shape {
			shape[i] = int64(d)
		}
		list = append(list, safetensors.Tensor{Name: p.Name, DType: "F32", Shape: shape, Fill: func(b []byte) error { return nil }})
	}
	if edit != nil {
		list = edit(list)
	}
	path := filepath.Join(t.TempDir(), "sd.safetensors")
	if err := safetensors.WriteFile(path, list, meta); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenErrors(t *testing.T) {
	small := nn.ViTConfig{ImgSize: 8, Patch: 4, Channels: 3, Dim: 8, Depth: 2, Heads: 2, MLPHidden: 16}
	tiny := filepath.Join(t.TempDir(), "text.pth")
	if err := os.WriteFile(tiny, []byte("hello, not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(fixtureCkpt)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "cut.pth.tar")
	if err := os.WriteFile(truncated, raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	rename := func(from, to string) func([]safetensors.Tensor) []safetensors.Tensor {
		return func(l []safetensors.Tensor) []safetensors.Tensor {
			for i := range l {
				if l[i].Name == from {
					l[i].Name = to
				}
			}
			return l
		}
	}
	for _, c := range []struct {
		name string
		path string
		opts Options
		want string
	}{
		{"not a checkpoint", tiny, Options{}, "neither a PyTorch checkpoint nor a safetensors file"},
		{"truncated zip", truncated, Options{}, "reading the PyTorch file"},
		{"missing file", filepath.Join(t.TempDir(), "none"), Options{}, "no such file"},
		{"no heads", writeStateDict(t, small, nil, nil), Options{}, "give it (--heads)"},
		{"heads from metadata", writeStateDict(t, small, map[string]string{MetaHeads: "2"}, nil), Options{}, ""},
		{"heads given", writeStateDict(t, small, nil, nil), Options{Heads: 2}, ""},
		{"heads other than recorded", writeStateDict(t, small, map[string]string{MetaHeads: "2"}, nil), Options{Heads: 4}, "records 2 attention heads, 4 were given"},
		{"metadata of another model", writeStateDict(t, small, map[string]string{model.MetaModel: `{"Dim":16,"Depth":2,"Heads":2,"MLPHidden":16,"ImgSize":8,"Patch":4}`}, nil),
			Options{}, "the metadata describes a model with"},
		{"heads that do not divide", writeStateDict(t, small, nil, nil), Options{Heads: 3}, "not a multiple of the 3 heads"},
		{"DDP prefixes", writeStateDict(t, small, nil, func(l []safetensors.Tensor) []safetensors.Tensor {
			for i := range l {
				l[i].Name = "module." + l[i].Name
			}
			return l
		}), Options{Heads: 2}, ""},
		{"missing tensor", writeStateDict(t, small, nil, func(l []safetensors.Tensor) []safetensors.Tensor { return l[:len(l)-1] }),
			Options{Heads: 2}, "target_encoder has no tensor norm.bias"},
		{"renamed tensor", writeStateDict(t, small, nil, rename("norm.bias", "norm.gamma")), Options{Heads: 2}, "has no tensor norm.bias"},
		{"unknown tensor", writeStateDict(t, small, nil, func(l []safetensors.Tensor) []safetensors.Tensor {
			return append(l, safetensors.Tensor{Name: "head.weight", DType: "F32", Shape: []int64{2}, Fill: func([]byte) error { return nil }})
		}), Options{Heads: 2}, "1 tensors the model does not (first: head.weight)"},
		{"transposed tensor", writeStateDict(t, small, nil, func(l []safetensors.Tensor) []safetensors.Tensor {
			for i := range l {
				if l[i].Name == "blocks.1.mlp.fc1.weight" {
					l[i].Shape = []int64{8, 16}
				}
			}
			return l
		}), Options{Heads: 2}, "tensor blocks.1.mlp.fc1.weight has shape [8,16], the model wants [16,8]"},
		{"integer tensor", writeStateDict(t, small, nil, func(l []safetensors.Tensor) []safetensors.Tensor {
			l[0].DType = "I32"
			return l
		}), Options{Heads: 2}, "is I32, not floating point"},
		{"no encoder", writeStateDict(t, small, nil, rename("patch_embed.proj.weight", "stem.weight")), Options{Heads: 2}, "no tensor patch_embed.proj.weight"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ck, err := Open(c.path, c.opts)
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !ck.Has(Target) || ck.Has(Predictor) || ck.Encoder != small {
					t.Errorf("parts %s, encoder %+v", ck.partList(), ck.Encoder)
				}
				ck.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestExportedPartsLoadBack exports each network of the official
// checkpoint as a bare state dict and opens it again: the names are the
// official ones without prefix, the heads come from the metadata, and the
// target encoder computes PyTorch's features.
func TestExportedPartsLoadBack(t *testing.T) {
	e := loadExpect(t)
	be := backends(t)["cpu"]
	dir := t.TempDir()
	for _, p := range []Part{Encoder, Predictor, Target} {
		path := filepath.Join(dir, string(p)+".safetensors")
		if err := openFixture(t).Export(path, p); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		first := "patch_embed.proj.weight"
		if p == Predictor {
			first = "mask_token"
		}
		if _, ok := f.Info(first); !ok || f.Metadata["format"] != "pt" || f.Metadata[MetaPart] != string(p) {
			t.Errorf("%s: names %v, metadata %v", p, f.Names()[:3], f.Metadata)
		}
		f.Close()
		c, err := Open(path, Options{})
		if err != nil {
			if p == Predictor && strings.Contains(err.Error(), "no encoder") {
				continue // a predictor alone does not tell the model's shape
			}
			t.Fatalf("%s: %v", p, err)
		}
		if !c.Has(p) || c.Encoder.Heads != 2 {
			t.Errorf("%s reopened: parts %s, heads %d", p, c.partList(), c.Encoder.Heads)
		}
		if p == Target {
			enc, err := c.LoadEncoder(be, Target)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := model.Embed(be, enc, e["images"].f32(), false)
			if err != nil {
				t.Fatal(err)
			}
			if r := relErr(got, e["features"].v); !(r <= tolerance) {
				t.Errorf("features of the exported target encoder: relative error %.3g", r)
			}
			nn.Free(be, enc.Params())
			if _, err := c.LoadEncoder(be, Target); err != nil {
				t.Errorf("a safetensors checkpoint loads twice: %v", err)
			}
		}
		c.Close()
	}
	// A PyTorch checkpoint's tensors are given back as they are read: it
	// loads once.
	c := openFixture(t)
	enc, err := c.LoadEncoder(be, Target)
	if err != nil {
		t.Fatal(err)
	}
	nn.Free(be, enc.Params())
	if _, err := c.LoadEncoder(be, Target); err == nil || !strings.Contains(err.Error(), "open it again") {
		t.Errorf("a second load of a PyTorch checkpoint: %v", err)
	}
}

// TestTorchTensorLayouts reads tensors that are views into their storage:
// an offset, transposed strides, a broadcast (stride 0) dimension, float64
// data.
func TestTorchTensorLayouts(t *testing.T) {
	data := []float32{0, 1, 2, 3, 4, 5, 6, 7}
	f64s := []float64{0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5}
	for _, c := range []struct {
		name         string
		src          pytorch.StorageInterface
		off          int
		size, stride []int
		want         []float32
		err          string
	}{
		{"contiguous", &pytorch.FloatStorage{Data: data}, 1, []int{2, 3}, []int{3, 1}, []float32{1, 2, 3, 4, 5, 6}, ""},
		{"transposed", &pytorch.FloatStorage{Data: data}, 1, []int{3, 2}, []int{1, 3}, []float32{1, 4, 2, 5, 3, 6}, ""},
		{"broadcast", &pytorch.FloatStorage{Data: data}, 2, []int{2, 2}, []int{0, 1}, []float32{2, 3, 2, 3}, ""},
		{"scalar", &pytorch.FloatStorage{Data: data}, 7, []int{}, []int{}, []float32{7}, ""},
		{"float64", &pytorch.DoubleStorage{Data: f64s}, 0, []int{2, 2}, []int{2, 1}, []float32{0.5, 1.5, 2.5, 3.5}, ""},
		{"float64 strided", &pytorch.DoubleStorage{Data: f64s}, 0, []int{2, 2}, []int{1, 2}, []float32{0.5, 2.5, 1.5, 3.5}, ""},
		{"past the end", &pytorch.FloatStorage{Data: data}, 3, []int{2, 3}, []int{3, 1}, nil, "reach past the 8 values"},
		{"integers", &pytorch.LongStorage{Data: []int64{1}}, 0, []int{1}, []int{1}, nil, "not floating point"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := torchEntry(&pytorch.Tensor{Source: c.src, StorageOffset: c.off, Size: c.size, Stride: c.stride}, storages{})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(c.want))
			if err := e.read(got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("read %v, want %v", got, c.want)
			}
		})
	}
}
