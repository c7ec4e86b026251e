package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"gopkg.in/yaml.v3"
)

// officialFiles are the official configs/*.yaml of facebookresearch/ijepa,
// committed unchanged in testdata/ (testdata/README.md says from where and
// under which licence); each has a preset of the same name.
var officialFiles = []string{"in1k_vith14_ep300", "in1k_vith16-448_ep300", "in22k_vitg16_ep44", "in22k_vith14_ep66"}

// Every official config file loads as it is; every key reads as the value
// the file gives (the file parsed as plain YAML is the expectation, not a
// table typed from it); the file has every official key of the format and
// no other; and the preset of its name holds the same values but for the two
// placeholder paths. Catches a key misread or renamed, and a preset that
// drifts from its file.
func TestOfficialFiles(t *testing.T) {
	for _, name := range officialFiles {
		path := filepath.Join("testdata", name+".yaml")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			t.Errorf("%s does not load as it is: %v", name, err)
			continue
		}
		var doc map[string]map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for sec, kv := range doc {
			for k, v := range kv {
				key := sec + "." + k
				seen[key] = true
				f, ok := c.field(key)
				if !ok {
					t.Errorf("%s: key %s has no field", name, key)
					continue
				}
				if got, want := plain(f), plain(reflect.ValueOf(&v).Elem()); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %s is %v in the file, %v loaded", name, key, want, got)
				}
			}
		}
		for _, k := range Keys() {
			if !strings.HasPrefix(k, "ijepago.") && !seen[k] {
				t.Errorf("%s: the file has no %s", name, k)
			}
		}
		p, err := Preset(name)
		if err != nil {
			t.Errorf("no preset for the official %s: %v", name, err)
			continue
		}
		p.Data.RootPath, p.Logging.Folder = c.Data.RootPath, c.Logging.Folder
		// The official sections only: the ijepago: section is ours.
		pe, ce := exported(p), exported(c)
		pe.IJEPAGo, ce.IJEPAGo = IJEPAGo{}, IJEPAGo{}
		if !reflect.DeepEqual(pe, ce) {
			t.Errorf("preset %s differs from the official file:\n%+v\n%+v", name, pe, ce)
		}
	}
}

// plain turns a config field or a plain-YAML value into comparable form:
// numbers as float64, null as "", lists as []any.
func plain(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Invalid:
		return ""
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return plain(v.Elem())
	case reflect.Int, reflect.Int64:
		return float64(v.Int())
	case reflect.Float64:
		return v.Float()
	case reflect.Array, reflect.Slice:
		out := []any{}
		for i := 0; i < v.Len(); i++ {
			out = append(out, plain(v.Index(i)))
		}
		return out
	}
	return v.Interface()
}

// What in1k_vith14_ep300 implies: a 16x16 grid, ViT-H/14 with its
// predictor, and IJEPA_REFERENCE §6.5's schedule on 16 ranks.
func TestOfficialSchedule(t *testing.T) {
	c, err := Load("testdata/in1k_vith14_ep300.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Grid() != 16 {
		t.Errorf("grid %d, want 16 (224/14)", c.Grid())
	}
	enc, _ := c.Encoder()
	pred, _ := c.Predictor()
	if enc != (Model{"vit_huge", 1280, 32, 16, 5120}) || pred != (Model{"predictor", 384, 12, 16, 1536}) {
		t.Errorf("encoder %+v predictor %+v", enc, pred)
	}
	// 16 ranks share ImageNet-1k's 1,281,167 images: 80,073 each, so
	// ipe = 625, 187,500 steps and 25,000 warmup steps (IJEPA_REFERENCE §6.5).
	s, err := c.Schedule(80073)
	if err != nil {
		t.Fatal(err)
	}
	if s != (Schedule{IPE: 625, Steps: 187500, WarmupSteps: 25000, TotalSteps: 187500, EMAHorizon: 187500}) {
		t.Errorf("schedule %+v", s)
	}
}

// exported drops the bookkeeping fields.
func exported(c *Config) Config {
	return Config{Data: c.Data, Mask: c.Mask, Meta: c.Meta, Optimization: c.Optimization, Logging: c.Logging, IJEPAGo: c.IJEPAGo}
}

func TestModels(t *testing.T) {
	want := map[string][4]int{
		"vit_tiny": {192, 12, 3, 768}, "vit_small": {384, 12, 6, 1536}, "vit_base": {768, 12, 12, 3072},
		"vit_large": {1024, 24, 16, 4096}, "vit_huge": {1280, 32, 16, 5120}, "vit_giant": {1408, 40, 16, 6144},
	}
	for name, w := range want {
		m, err := LookupModel(name)
		if err != nil || [4]int{m.Dim, m.Depth, m.Heads, m.MLPHidden} != w {
			t.Errorf("%s: %+v %v, want %v", name, m, err, w)
		}
	}
	if g, _ := LookupModel("vit_giant"); g.MLPRatio() != 48.0/11 {
		t.Errorf("vit_giant MLP ratio %v, want 48/11", g.MLPRatio())
	}
	if _, err := LookupModel("vit_enormous"); err == nil || !strings.Contains(err.Error(), "vit_small") {
		t.Errorf("unknown model: %v", err)
	}
}

// ModelConfig maps a config to the model it trains: the encoder of
// meta.model_name (its name kept for summaries), the image and patch sides,
// the predictor and the loss; an unknown model is an error naming the key.
func TestModelConfig(t *testing.T) {
	official, err := Load("testdata/in1k_vith14_ep300.yaml")
	if err != nil {
		t.Fatal(err)
	}
	quick, err := Preset("quick")
	if err != nil {
		t.Fatal(err)
	}
	quick.IJEPAGo.Loss = "l2"
	for _, tc := range []struct {
		c    *Config
		want model.Config
	}{
		{official, model.Config{Model: "vit_huge", Dim: 1280, Depth: 32, Heads: 16, MLPHidden: 5120, ImgSize: 224, Patch: 14, InChans: 3,
			PredDim: 384, PredDepth: 12, PredHeads: 16, Loss: model.SmoothL1}},
		{quick, model.Config{Model: quick.Meta.ModelName, Dim: models[quick.Meta.ModelName].Dim, Depth: models[quick.Meta.ModelName].Depth,
			Heads: models[quick.Meta.ModelName].Heads, MLPHidden: models[quick.Meta.ModelName].MLPHidden,
			ImgSize: quick.Data.CropSize, Patch: quick.Mask.PatchSize, InChans: 3, PredDim: quick.Meta.PredEmbDim, PredDepth: quick.Meta.PredDepth,
			PredHeads: models[quick.Meta.ModelName].Heads, Loss: model.L2}},
	} {
		got, err := tc.c.ModelConfig()
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.c.Source(), got, err, tc.want)
		}
		// The mapped config declares a model of that shape.
		if m, err := model.New(got); err != nil || m.EncCfg.Dim != tc.want.Dim || len(m.Predictor.Blocks) != tc.want.PredDepth {
			t.Errorf("%s: model.New: %v", tc.c.Source(), err)
		}
	}
	quick.Meta.ModelName = "vit_enormous"
	if _, err := quick.ModelConfig(); err == nil || !strings.Contains(err.Error(), "meta.model_name") {
		t.Errorf("unknown model: %v, want an error naming meta.model_name", err)
	}
}

func TestPresets(t *testing.T) {
	for _, name := range Presets() {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
		if _, err := mask.New(c.MaskConfig()); err != nil {
			t.Errorf("preset %s masks: %v", name, err)
		}
	}
	tests := []struct {
		name                      string
		crop, patch, batch        int
		enc                       [3]int
		predDim, predDepth, heads int
	}{
		{"tiny32", 32, 4, 64, [3]int{192, 6, 3}, 96, 4, 3},
		{"small224", 224, 16, 16, [3]int{384, 12, 6}, 192, 6, 6},
	}
	for _, tt := range tests {
		c, _ := Preset(tt.name)
		enc, _ := c.Encoder()
		pred, _ := c.Predictor()
		if c.Data.CropSize != tt.crop || c.Mask.PatchSize != tt.patch || c.Data.BatchSize != tt.batch ||
			[3]int{enc.Dim, enc.Depth, enc.Heads} != tt.enc || pred.Dim != tt.predDim || pred.Depth != tt.predDepth || pred.Heads != tt.heads {
			t.Errorf("%s: crop %d patch %d batch %d encoder %+v predictor %+v", tt.name, c.Data.CropSize, c.Mask.PatchSize, c.Data.BatchSize, enc, pred)
		}
		if c.IJEPAGo.Dataset != data.KindProcedural {
			t.Errorf("%s: dataset %q, want the procedural one", tt.name, c.IJEPAGo.Dataset)
		}
	}
	q, _ := Preset("quick")
	s, err := q.Schedule(q.IJEPAGo.DatasetSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quick: %+v", s)
	if s.Steps > 1000 {
		t.Errorf("quick runs %d steps; it must stay short", s.Steps)
	}
	if _, err := Preset("nope"); err == nil {
		t.Error("unknown preset: no error")
	}
}

// Keys covers every key of the official format (DESIGN.md).
func TestKeys(t *testing.T) {
	official := []string{
		"data.batch_size", "data.color_jitter_strength", "data.crop_scale", "data.crop_size", "data.image_folder",
		"data.num_workers", "data.pin_mem", "data.root_path", "data.use_color_distortion", "data.use_gaussian_blur",
		"data.use_horizontal_flip", "logging.folder", "logging.write_tag", "mask.allow_overlap", "mask.aspect_ratio",
		"mask.enc_mask_scale", "mask.min_keep", "mask.num_enc_masks", "mask.num_pred_masks", "mask.patch_size",
		"mask.pred_mask_scale", "meta.copy_data", "meta.load_checkpoint", "meta.model_name", "meta.pred_depth",
		"meta.pred_emb_dim", "meta.read_checkpoint", "meta.use_bfloat16", "optimization.ema", "optimization.epochs",
		"optimization.final_lr", "optimization.final_weight_decay", "optimization.ipe_scale", "optimization.lr",
		"optimization.start_lr", "optimization.warmup", "optimization.weight_decay",
	}
	keys := map[string]bool{}
	for _, k := range Keys() {
		if keys[k] {
			t.Errorf("key %s listed twice", k)
		}
		keys[k] = true
	}
	for _, k := range official {
		if !keys[k] {
			t.Errorf("official key %s missing", k)
		}
	}
	for k := range keys {
		if !strings.HasPrefix(k, "ijepago.") && !contains(official, k) {
			t.Errorf("key %s is neither official nor in the ijepago section", k)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		key        string // "" for file-level errors
		want       string
	}{
		{"negative min_keep", "mask:\n  min_keep: -3\n", "mask.min_keep", "mask.min_keep: must be a non-negative integer, got -3 (line 2)"},
		{"unknown key", "mask:\n  min_kep: 3\n", "", `unknown key "mask.min_kep" (line 2)`},
		{"unknown section", "model:\n  x: 1\n", "", `unknown section "model"`},
		{"not a number", "optimization:\n  lr: fast\n", "optimization.lr", `optimization.lr: must be a number, got "fast" (line 2)`},
		{"not an integer", "data:\n  batch_size: 1.5\n", "data.batch_size", `must be an integer, got "1.5"`},
		{"not a pair", "data:\n  crop_scale: 0.3\n", "data.crop_scale", "must be a pair of numbers"},
		{"pair of three", "data:\n  crop_scale: [0.3, 0.5, 1]\n", "data.crop_scale", "must be a pair of numbers like [0.3, 1.0], got a list"},
		{"bad crop scale", "data:\n  crop_scale: [0.5, 0.3]\n", "data.crop_scale", "0 < min <= max <= 1, got [0.5, 0.3] (line 2)"},
		{"not a bool", "mask:\n  allow_overlap: maybe\n", "mask.allow_overlap", `must be true or false, got "maybe"`},
		{"infinite", "optimization:\n  lr: .inf\n", "optimization.lr", "must be a finite number"},
		{"impossible masks", "ijepago:\n  preset: tiny32\nmask:\n  min_keep: 10\n", "mask.min_keep", "3x3 = 9 patches"},
		{"targets cover the context", "ijepago:\n  preset: quick\nmask:\n  pred_mask_scale: [0.9, 1.0]\n  num_pred_masks: 4\n", "mask.pred_mask_scale", "could only go on by dropping the targets' exclusion"},
		{"patch does not divide", "mask:\n  patch_size: 15\n", "mask.patch_size", "must divide data.crop_size 224, got 15"},
		{"unknown model", "meta:\n  model_name: vit_enormous\n", "meta.model_name", `unknown model "vit_enormous"`},
		{"pred width vs heads", "meta:\n  pred_emb_dim: 392\n", "meta.pred_emb_dim", "multiple of the predictor's 16 heads"},
		{"duplicate", "mask:\n  min_keep: 3\n  min_keep: 4\n", "mask.min_keep", "given twice (first at line 2)"},
		{"syntax", "mask:\n  min_keep: [3\n", "", "yaml:"},
		{"flip", "data:\n  use_horizontal_flip: true\n", "data.use_horizontal_flip", "not supported"},
		{"warmup", "optimization:\n  warmup: 400\n", "optimization.warmup", "from 0 to optimization.epochs (300), got 400"},
		{"loss", "ijepago:\n  loss: l1\n", "ijepago.loss", `must be one of smooth_l1, l2, got "l1"`},
		{"mask mode", "ijepago:\n  mask_mode: vjepa\n", "ijepago.mask_mode", `got "vjepa"`},
		{"preset", "ijepago:\n  preset: huge32\n", "ijepago.preset", `unknown preset "huge32"`},
		{"list", "- a\n- b\n", "", "want a mapping of sections"},
		{"section scalar", "mask: 3\n", "mask", "want a mapping of keys"},
		{"two contexts", "mask:\n  num_enc_masks: 2\n", "mask.num_enc_masks", "only 1"},
		{"negative seed", "ijepago:\n  seed: -1\n", "ijepago.seed", "non-negative"},
		{"ema", "optimization:\n  ema: [0.996, 1.2]\n", "optimization.ema", "<= 1"},
		{"ipe scale", "optimization:\n  ipe_scale: 0.5\n", "optimization.ipe_scale", "at least 1"},
		{"dataset", "ijepago:\n  dataset: imagenet\n", "ijepago.dataset", "procedural"},
		{"procedural size", "ijepago:\n  preset: quick\n  dataset_size: 8\n", "ijepago.dataset_size", "at least one batch (data.batch_size 32), got 8"},
		{"encoder and model name", "meta:\n  model_name: vit_small\nijepago:\n  encoder: {embed_dim: 128, depth: 4, num_heads: 4}\n", "meta.model_name", "give one of them"},
		{"encoder heads", "ijepago:\n  preset: quick\n  encoder: {embed_dim: 128, depth: 4, num_heads: 3}\n", "ijepago.encoder.num_heads", "not a multiple of num_heads 3"},
		{"encoder depth", "ijepago:\n  preset: quick\n  encoder:\n    embed_dim: 128\n    num_heads: 4\n", "ijepago.encoder.depth", "must be positive"},
		{"encoder width", "ijepago:\n  preset: quick\n  encoder: {embed_dim: 126, depth: 4, num_heads: 2}\n", "ijepago.encoder.embed_dim", "multiple of 4"},
		{"encoder mlp", "ijepago:\n  preset: quick\n  encoder: {embed_dim: 128, depth: 4, num_heads: 4, mlp_ratio: 0}\n", "ijepago.encoder.mlp_ratio", "positive MLP width"},
		{"encoder without width", "ijepago:\n  preset: quick\n  encoder: {depth: 4}\n", "ijepago.encoder.embed_dim", "must be given with"},
		{"encoder unknown key", "ijepago:\n  encoder: {width: 4}\n", "", `unknown key "ijepago.encoder.width" (line 2)`},
		{"encoder scalar", "ijepago:\n  encoder: 128\n", "ijepago.encoder", "want a mapping of keys"},
		{"encoder twice", "ijepago:\n  encoder: {depth: 4}\n  encoder: {depth: 4}\n", "ijepago.encoder", "given twice"},
		{"in_chans", "ijepago:\n  in_chans: 2\n", "ijepago.in_chans", "must be 3 (RGB) or 1 (grey), got 2"},
		{"predictor heads", "ijepago:\n  predictor_heads: 5\n", "meta.pred_emb_dim", "multiple of the predictor's 5 heads (ijepago.predictor_heads)"},
		{"predictor heads negative", "ijepago:\n  predictor_heads: -1\n", "ijepago.predictor_heads", "non-negative"},
	}
	for _, tt := range tests {
		_, err := Parse("x.yaml", []byte(tt.yaml))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a config error", tt.name, err)
			continue
		}
		msg := err.Error()
		if ce.Key != tt.key || !strings.HasPrefix(msg, `config "x.yaml": `) || !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: key %q, error %q; want key %q and one line with %q", tt.name, ce.Key, msg, tt.key, tt.want)
		}
	}
}

// An encoder of no named size: ijepago.encoder gives its sizes (the
// preset's meta.model_name is then not used and written empty),
// predictor_heads the predictor's heads and in_chans its input channels;
// the model, the transforms and --set of a key inside the group follow.
func TestExplicitEncoder(t *testing.T) {
	c, err := Parse("grey.yaml", []byte("ijepago:\n  preset: quick\n  encoder:\n    embed_dim: 128\n    depth: 4\n    num_heads: 4\n    mlp_ratio: 2.5\n  predictor_heads: 2\n  in_chans: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encoder()
	if err != nil || enc != (Model{Dim: 128, Depth: 4, Heads: 4, MLPHidden: 320}) {
		t.Errorf("encoder %+v %v, want 128/4/4 with MLP 320", enc, err)
	}
	mc, err := c.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := model.Config{Dim: 128, Depth: 4, Heads: 4, MLPHidden: 320, ImgSize: 64, Patch: 8, InChans: 1, PredDim: 48, PredDepth: 2, PredHeads: 2, Loss: model.SmoothL1}
	if mc != want {
		t.Errorf("model config %+v, want %+v", mc, want)
	}
	m, err := model.New(mc)
	if err != nil || m.EncCfg.Channels != 1 || m.Predictor.Heads != 2 || m.Encoder.PatchEmbed.Weight.Shape[1] != 1 {
		t.Fatalf("model.New: %v", err)
	}
	tr, err := c.TrainTransform()
	if err != nil || tr.Channels() != 1 {
		t.Errorf("train transform: %d channels, %v", tr.Channels(), err)
	}
	if ev, err := c.EvalTransform(); err != nil || ev.Channels() != 1 {
		t.Errorf("eval transform: %d channels, %v", ev.Channels(), err)
	}
	raw, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("back.yaml", raw)
	if err != nil {
		t.Fatalf("round trip: %v\n%s", err, raw)
	}
	if back.Meta.ModelName != "" || back.IJEPAGo.Encoder != c.IJEPAGo.Encoder || back.IJEPAGo.InChans != 1 || back.IJEPAGo.PredictorHeads != 2 {
		t.Errorf("round trip: %+v", exported(back))
	}
	if err := c.Set("ijepago.encoder.depth", "6"); err != nil || c.IJEPAGo.Encoder.Depth != 6 {
		t.Errorf("Set(ijepago.encoder.depth): %v", err)
	}
	if err := c.SetFlag("--model", "meta.model_name", "vit_small"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "meta.model_name") || !strings.HasSuffix(err.Error(), "(--model)") {
		t.Errorf("both a model name and sizes: %v", err)
	}
}

func TestParsePartialAndEmpty(t *testing.T) {
	c, err := Parse("small.yaml", []byte("ijepago:\n  preset: tiny32\n  seed: 7\noptimization:\n  lr: 5.0e-4\nmeta:\n  read_checkpoint: null\n"))
	if err != nil {
		t.Fatal(err)
	}
	tiny, _ := Preset("tiny32")
	tiny.IJEPAGo.Seed, tiny.Optimization.LR = 7, 5e-4
	if !reflect.DeepEqual(exported(c), exported(tiny)) {
		t.Errorf("partial file: got %+v, want tiny32 with two changes", exported(c))
	}
	if c.MaskConfig().Seed != 7 || c.MaskConfig().Height != 8 {
		t.Errorf("mask config %+v", c.MaskConfig())
	}
	if c.DefaultsNote() != "" {
		t.Errorf("a file naming its preset: defaults note %q", c.DefaultsNote())
	}
	// An empty file is an error (it used to be the official ViT-H/14
	// silently); a file that names no preset says which defaults it took.
	for _, empty := range []string{"", "# nothing\n", "~\n", "{}\n"} {
		_, err := Parse("empty.yaml", []byte(empty))
		if err == nil || !strings.Contains(err.Error(), `config "empty.yaml": the file gives no keys`) || !strings.Contains(err.Error(), "quick") {
			t.Errorf("%q: %v; want an error listing the presets", empty, err)
		}
	}
	c, err = Parse("nopreset.yaml", []byte("optimization:\n  lr: 5.0e-4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if note := c.DefaultsNote(); c.IJEPAGo.Preset != DefaultPreset || !strings.Contains(note, `config "nopreset.yaml" names no ijepago.preset`) || !strings.Contains(note, DefaultPreset) {
		t.Errorf("preset %q, note %q", c.IJEPAGo.Preset, note)
	}
}

func TestSet(t *testing.T) {
	c, _ := Preset("tiny32")
	sets := [][2]string{
		{"optimization.lr", "1e-3"}, {"data.crop_scale", "[0.2, 1.0]"}, {"meta.read_checkpoint", "null"},
		{"mask.allow_overlap", "true"}, {"ijepago.seed", "42"}, {"meta.model_name", "vit_tiny"}, {"logging.folder", ""},
		{"ijepago.mask_mode", "fixed"},
	}
	for _, s := range sets {
		if err := c.Set(s[0], s[1]); err != nil {
			t.Fatalf("Set(%s, %s): %v", s[0], s[1], err)
		}
	}
	if c.Optimization.LR != 1e-3 || c.Data.CropScale != [2]float64{0.2, 1.0} || !c.Mask.AllowOverlap || c.IJEPAGo.Seed != 42 ||
		c.Meta.ModelName != "vit_tiny" || c.Logging.Folder != "" || c.IJEPAGo.MaskMode != "fixed" {
		t.Errorf("after Set: %+v", exported(c))
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []struct{ key, value, want string }{
		{"optimization.lrr", "1", `unknown key "optimization.lrr"`},
		{"optimization.lr", "fast", `optimization.lr: must be a number, got "fast" (--set)`},
		{"ijepago.preset", "quick", "only be chosen in a file"},
		{"data.crop_scale", "[0.2", "cannot read"},
	}
	for _, b := range bad {
		err := c.Set(b.key, b.value)
		if err == nil || !strings.Contains(err.Error(), b.want) || !strings.HasPrefix(err.Error(), `config "tiny32": `) {
			t.Errorf("Set(%s, %s): %v, want %q", b.key, b.value, err, b.want)
		}
	}
	if err := c.Set("mask.min_keep", "20"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "mask.min_keep: impossible settings") || !strings.HasSuffix(err.Error(), "(--set)") {
		t.Errorf("Validate after a bad Set: %v", err)
	}
	// A value from a named flag is reported as coming from that flag, at
	// Set and at Validate.
	if err := c.SetFlag("--batch-size", "data.batch_size", "many"); err == nil || !strings.HasSuffix(err.Error(), `got "many" (--batch-size)`) {
		t.Errorf("SetFlag with a bad value: %v", err)
	}
	c.Set("mask.min_keep", "4")
	if err := c.SetFlag("--steps", "ijepago.steps", "1000000000"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Schedule(1000); err == nil || !strings.Contains(err.Error(), "ijepago.steps: must be at most") || !strings.HasSuffix(err.Error(), "(--steps)") {
		t.Errorf("Schedule after SetFlag(--steps): %v", err)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	for _, name := range Presets() {
		c, _ := Preset(name)
		c.Set("ijepago.seed", "3")
		raw, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(name+".yaml", raw)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, raw)
		}
		if !reflect.DeepEqual(exported(back), exported(c)) {
			t.Errorf("%s: round trip changed the config:\n%+v\n%+v", name, exported(back), exported(c))
		}
	}
}

func TestOpenAndSchedule(t *testing.T) {
	c, err := Open("quick")
	if err != nil || c.Source() != "quick" {
		t.Fatalf("Open(quick): %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "quick")
	os.WriteFile(path, []byte("ijepago:\n  preset: tiny32\n"), 0o644)
	c, err = Open(path)
	if err != nil || c.IJEPAGo.Preset != "tiny32" || c.Source() != path {
		t.Fatalf("Open(file): %+v %v", c, err)
	}
	_, err = Open(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	// A misspelt preset lists the presets.
	if _, err := Open("quik"); err == nil || !strings.Contains(err.Error(), `config "quik": no such file, and no preset of that name (presets: `) || !strings.Contains(err.Error(), "quick") {
		t.Errorf("--config quik: %v", err)
	}

	// The schedule arithmetic on the quick preset with fixed values (the
	// preset itself is tuned by the trainer's authors).
	c, _ = Preset("quick")
	for _, kv := range [][2]string{{"optimization.epochs", "5"}, {"optimization.warmup", "1"}, {"data.crop_size", "32"}, {"mask.patch_size", "4"}} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := c.Schedule(2048)
	if s != (Schedule{IPE: 64, Steps: 320, WarmupSteps: 64, TotalSteps: 320, EMAHorizon: 320}) {
		t.Errorf("quick schedule %+v", s)
	}
	c.Set("ijepago.steps", "100")
	c.Set("optimization.ipe_scale", "1.25")
	s, _ = c.Schedule(2048)
	if s.Steps != 100 || s.TotalSteps != 400 || s.EMAHorizon != 400 {
		t.Errorf("steps 100, ipe_scale 1.25: %+v", s)
	}
	c.Set("ijepago.steps", "401")
	if _, err := c.Schedule(2048); err == nil || !strings.Contains(err.Error(), "ijepago.steps: must be at most") {
		t.Errorf("steps past the schedules: %v", err)
	}
	if _, err := c.Schedule(10); err == nil || !strings.Contains(err.Error(), "10 images, fewer than one batch of 32") {
		t.Errorf("tiny dataset: %v", err)
	}

	spec := c.DatasetSpec(true)
	if spec.Kind != data.KindProcedural || spec.N != 2048 || spec.Size != 32 || !spec.Train {
		t.Errorf("train spec %+v", spec)
	}
	if ev := c.DatasetSpec(false); ev.N != 1024 || ev.Train {
		t.Errorf("eval spec %+v", ev)
	}
	ds, err := data.Open(spec)
	if err != nil || ds.Len() != 2048 {
		t.Fatalf("open the quick dataset: %v", err)
	}
	tr, err := c.TrainTransform()
	if err != nil || tr.Size() != 32 || tr.Scale != [2]float64{0.3, 1} {
		t.Errorf("train transform %+v %v", tr, err)
	}
	if ev, err := c.EvalTransform(); err != nil || ev.Size() != 32 {
		t.Errorf("eval transform %+v %v", ev, err)
	}
}

func TestDiff(t *testing.T) {
	a, _ := Preset("quick")
	b, _ := Preset("quick")
	if d := Diff(a, b); len(d) != 0 {
		t.Errorf("the same config: %q", d)
	}
	b.Set("optimization.lr", "0.002")
	b.Set("data.crop_scale", "[0.5, 1.0]")
	d := Diff(a, b)
	if len(d) != 2 || d[0] != "data.crop_scale: [0.3, 1] -> [0.5, 1]" || d[1] != "optimization.lr: 0.001 -> 0.002" {
		t.Errorf("diff %q", d)
	}
}
