// Package config reads and checks I-JEPA run configurations in the official
// YAML format (facebookresearch/ijepa configs/*.yaml: sections data, mask,
// meta, optimization and logging), plus a section of our own, ijepago, for
// what the official format does not say (backend, seed, dataset kind, loss,
// mask mode, probe settings, ...).
//
// A config starts from a base preset (ijepago.preset, default
// in1k_vith14_ep300) and every key the file gives replaces the base's value,
// so an official file reads as is and a small file can say only what
// differs. Set applies command-line overrides by key ("optimization.lr",
// "1e-3"). Errors are one line naming the source, the key and, for files, the
// line: `config "x.yaml": mask.min_keep: must be a non-negative integer, got -3 (line 14)`.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is a whole run configuration. The yaml tags are the official keys.
type Config struct {
	Data         Data         `yaml:"data"`
	Mask         Mask         `yaml:"mask"`
	Meta         Meta         `yaml:"meta"`
	Optimization Optimization `yaml:"optimization"`
	Logging      Logging      `yaml:"logging"`
	IJEPAGo      IJEPAGo      `yaml:"ijepago"`

	source string            // file or preset name, for messages
	origin map[string]string // key -> "line N" or "--set"
	// defaulted: a file that names no ijepago.preset, whose other keys
	// took DefaultPreset's values.
	defaulted bool
}

// Data is the official data section.
type Data struct {
	// BatchSize is the batch per device (the official configs: 128 per GPU).
	BatchSize int `yaml:"batch_size"`
	// ColorJitterStrength is read for compatibility; colour jitter is not
	// implemented (every official config disables it).
	ColorJitterStrength float64 `yaml:"color_jitter_strength"`
	// CropScale is RandomResizedCrop's area range, [0.3, 1.0] officially.
	CropScale [2]float64 `yaml:"crop_scale"`
	// CropSize is the training image side in pixels.
	CropSize int `yaml:"crop_size"`
	// ImageFolder is the dataset's folder under RootPath.
	ImageFolder string `yaml:"image_folder"`
	// NumWorkers is the number of loader goroutines (0: one per CPU).
	NumWorkers int `yaml:"num_workers"`
	// PinMem is read for compatibility and has no effect.
	PinMem bool `yaml:"pin_mem"`
	// RootPath is the datasets directory.
	RootPath string `yaml:"root_path"`
	// UseColorDistortion, UseGaussianBlur and UseHorizontalFlip must be false:
	// these augmentations are off in every official config and not
	// implemented here.
	UseColorDistortion bool `yaml:"use_color_distortion"`
	UseGaussianBlur    bool `yaml:"use_gaussian_blur"`
	UseHorizontalFlip  bool `yaml:"use_horizontal_flip"`
}

// Mask is the official mask section (see package mask).
type Mask struct {
	AllowOverlap bool       `yaml:"allow_overlap"`
	AspectRatio  [2]float64 `yaml:"aspect_ratio"`
	EncMaskScale [2]float64 `yaml:"enc_mask_scale"`
	MinKeep      int        `yaml:"min_keep"`
	NumEncMasks  int        `yaml:"num_enc_masks"`
	NumPredMasks int        `yaml:"num_pred_masks"`
	// PatchSize is the ViT patch side in pixels; the patch grid is
	// crop_size/patch_size on each side.
	PatchSize     int        `yaml:"patch_size"`
	PredMaskScale [2]float64 `yaml:"pred_mask_scale"`
}

// Meta is the official meta section.
type Meta struct {
	// CopyData is read for compatibility and has no effect.
	CopyData bool `yaml:"copy_data"`
	// LoadCheckpoint resumes from ReadCheckpoint (or the latest checkpoint
	// of the logging folder when ReadCheckpoint is empty).
	LoadCheckpoint bool `yaml:"load_checkpoint"`
	// ModelName is the encoder: one of ModelNames. A config whose
	// ijepago.encoder gives the sizes leaves it empty.
	ModelName string `yaml:"model_name"`
	// PredDepth and PredEmbDim are the predictor's depth and width.
	PredDepth  int `yaml:"pred_depth"`
	PredEmbDim int `yaml:"pred_emb_dim"`
	// ReadCheckpoint is a checkpoint file to start from (null: none).
	ReadCheckpoint string `yaml:"read_checkpoint"`
	// UseBfloat16 asks for bfloat16 compute where a backend supports it;
	// backends without it compute in float32.
	UseBfloat16 bool `yaml:"use_bfloat16"`
}

// Optimization is the official optimization section.
type Optimization struct {
	// EMA is the target encoder's momentum, ramped linearly from EMA[0] to
	// EMA[1] over the run.
	EMA    [2]float64 `yaml:"ema"`
	Epochs int        `yaml:"epochs"`
	// FinalLR is where the cosine learning-rate schedule ends.
	FinalLR float64 `yaml:"final_lr"`
	// FinalWeightDecay is where the cosine weight-decay schedule ends.
	FinalWeightDecay float64 `yaml:"final_weight_decay"`
	// IPEScale stretches the schedules' length: T = int(ipe_scale*epochs*ipe).
	IPEScale float64 `yaml:"ipe_scale"`
	// LR is the peak learning rate, reached after Warmup epochs from StartLR.
	LR      float64 `yaml:"lr"`
	StartLR float64 `yaml:"start_lr"`
	// Warmup is the warmup length in epochs.
	Warmup float64 `yaml:"warmup"`
	// WeightDecay is where the weight-decay schedule starts.
	WeightDecay float64 `yaml:"weight_decay"`
}

// Logging is the official logging section.
type Logging struct {
	// Folder receives logs and checkpoints.
	Folder string `yaml:"folder"`
	// WriteTag prefixes the log and checkpoint file names.
	WriteTag string `yaml:"write_tag"`
}

// IJEPAGo holds the settings of this implementation that the official format
// lacks (section "ijepago").
type IJEPAGo struct {
	// Preset is the base config the file's keys apply to (a name of
	// Presets); it can only be given in a file, not by Set.
	Preset string `yaml:"preset"`
	// Backend names the tensor backend ("cpu", "vulkan", "plugin:PATH").
	Backend string `yaml:"backend"`
	// Seed seeds the weights, the data order, the augmentations and the masks.
	Seed uint64 `yaml:"seed"`
	// Steps stops training after this many steps (0: epochs*ipe); the
	// schedules still span the configured epochs.
	Steps int64 `yaml:"steps"`
	// CheckpointEvery is the number of steps between checkpoints (0: at the
	// end of every epoch, as the official code).
	CheckpointEvery int64 `yaml:"checkpoint_every"`
	// LogEvery is the number of steps between log lines.
	LogEvery int64 `yaml:"log_every"`
	// Dataset is the dataset kind: procedural, mnist, cifar10 or
	// imagefolder (read from root_path/image_folder).
	Dataset string `yaml:"dataset"`
	// DatasetSize and EvalSize are the procedural dataset's train and
	// held-out image counts.
	DatasetSize int `yaml:"dataset_size"`
	EvalSize    int `yaml:"eval_size"`
	// Loss is smooth_l1 (the official code) or l2 (the paper's text).
	Loss string `yaml:"loss"`
	// MaskMode is official (the official sampler's quirks) or fixed.
	MaskMode string `yaml:"mask_mode"`
	// Prefetch is how many batches the loader builds ahead (0: workers+1).
	Prefetch int `yaml:"prefetch"`
	// ProbeEvery is the number of steps between evaluations (0: at the end
	// only).
	ProbeEvery int64 `yaml:"probe_every"`
	// ProbeTrain and ProbeTest cap the images the probes train and score on
	// (0: the whole split).
	ProbeTrain int `yaml:"probe_train"`
	ProbeTest  int `yaml:"probe_test"`
	// ProbeL2 and ProbeIterations configure the linear probe.
	ProbeL2         float64 `yaml:"probe_l2"`
	ProbeIterations int     `yaml:"probe_iterations"`
	// KNNK and KNNTemperature configure the k-NN classifier.
	KNNK           int     `yaml:"knn_k"`
	KNNTemperature float64 `yaml:"knn_temperature"`
	// Encoder gives the encoder's sizes, for a model of no named size;
	// while its embed_dim is 0, meta.model_name names the encoder.
	Encoder EncoderSize `yaml:"encoder"`
	// PredictorHeads is the predictor's number of attention heads (0: the
	// encoder's, as the official init_model builds it).
	PredictorHeads int `yaml:"predictor_heads"`
	// InChans is the number of image channels the encoder takes (the
	// official in_chans): 3 (RGB) or 1 (grey: images become their
	// luminance).
	InChans int `yaml:"in_chans"`
	// SkipBadImages leaves out the images of an image folder that cannot
	// be read, each logged, instead of failing (data.FolderOptions).
	SkipBadImages bool `yaml:"skip_bad_images"`
}

// EncoderSize is an encoder's shape in the terms of the official
// VisionTransformer's arguments (key ijepago.encoder).
type EncoderSize struct {
	// EmbedDim is the token width; 0 means meta.model_name names the
	// encoder instead.
	EmbedDim int `yaml:"embed_dim"`
	// Depth is the number of blocks, NumHeads the attention heads of each.
	Depth    int `yaml:"depth"`
	NumHeads int `yaml:"num_heads"`
	// MLPRatio is the MLP's hidden width over EmbedDim (4 in every
	// official size but vit_giant); the hidden width is int(EmbedDim *
	// MLPRatio), as timm's Block computes it.
	MLPRatio float64 `yaml:"mlp_ratio"`
}

// Explicit reports whether the sizes are given (EmbedDim set).
func (e EncoderSize) Explicit() bool { return e.EmbedDim != 0 }

// Error is a configuration error: which source, which key, where.
type Error struct {
	// Source is the file or preset; Key is "section.key" (empty for the
	// whole file); Origin is "line N", "--set" or empty.
	Source, Key, Origin string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("config %q: ", e.Source)
	if e.Key != "" {
		s += e.Key + ": "
	}
	s += e.Msg
	if e.Origin != "" {
		s += " (" + e.Origin + ")"
	}
	return s
}

// DefaultPreset is the base of a file that names none.
const DefaultPreset = "in1k_vith14_ep300"

// Source is the file or preset name the config came from.
func (c *Config) Source() string { return c.source }

// DefaultsNote says, for a config file that names no ijepago.preset, which
// defaults its missing keys took (a run's first log line says it); it is
// "" for a preset or a file that names one.
func (c *Config) DefaultsNote() string {
	if !c.defaulted {
		return ""
	}
	return fmt.Sprintf("config %q names no ijepago.preset: every key it does not give has the value of the %s preset (the official ViT-H/14 ImageNet config); name a preset (%s) to start from another", c.source, DefaultPreset, strings.Join(Presets(), ", "))
}

// Keys lists every key as "section.key", in file order.
func Keys() []string {
	var keys []string
	walk(reflect.ValueOf(&Config{}).Elem(), func(key string, _ reflect.Value) {
		keys = append(keys, key)
	})
	return keys
}

// walk calls f for every key of c with the field's value. A key whose
// value is a group of keys (a struct, such as ijepago.encoder) is not a key
// itself: its fields are, as "ijepago.encoder.embed_dim".
func walk(c reflect.Value, f func(key string, v reflect.Value)) {
	t := c.Type()
	for i := 0; i < t.NumField(); i++ {
		if sec, ok := t.Field(i).Tag.Lookup("yaml"); ok {
			walkGroup(sec, c.Field(i), f)
		}
	}
}

func walkGroup(prefix string, sv reflect.Value, f func(key string, v reflect.Value)) {
	for j := 0; j < sv.NumField(); j++ {
		key := prefix + "." + sv.Type().Field(j).Tag.Get("yaml")
		if sv.Field(j).Kind() == reflect.Struct {
			walkGroup(key, sv.Field(j), f)
			continue
		}
		f(key, sv.Field(j))
	}
}

// isGroup reports whether key ("ijepago.encoder") holds a group of keys.
func isGroup(key string) bool {
	for _, k := range Keys() {
		if strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// field finds the value of key ("section.key") in c.
func (c *Config) field(key string) (reflect.Value, bool) {
	return fieldOf(reflect.ValueOf(c).Elem(), key)
}

func sectionNames() []string {
	t := reflect.TypeOf(Config{})
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if s, ok := t.Field(i).Tag.Lookup("yaml"); ok {
			names = append(names, s)
		}
	}
	return names
}

// Open returns the preset called nameOrPath if there is one and no such
// file exists, and otherwise loads the file. A name that is neither a file
// nor a preset is an error that lists the presets.
func Open(nameOrPath string) (*Config, error) {
	if _, err := os.Stat(nameOrPath); err != nil {
		if _, ok := presets[nameOrPath]; ok {
			return Preset(nameOrPath)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Source: nameOrPath, Msg: fmt.Sprintf("no such file, and no preset of that name (presets: %s)", strings.Join(Presets(), ", "))}
		}
	}
	return Load(nameOrPath)
}

// Load reads a YAML config file and validates it.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Source: path, Msg: err.Error()}
	}
	return Parse(path, raw)
}

// Parse reads a YAML config from raw (source names it in messages) and
// validates it. A file with no keys (empty, or only comments) is an error:
// it would silently be the default preset, the official ViT-H/14.
func Parse(source string, raw []byte) (*Config, error) {
	fail := func(key string, n *yaml.Node, format string, args ...any) error {
		e := &Error{Source: source, Key: key, Msg: fmt.Sprintf(format, args...)}
		if n != nil {
			e.Origin = fmt.Sprintf("line %d", n.Line)
		}
		return e
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, &Error{Source: source, Msg: strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = doc.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			root = nil
		} else if root.Kind != yaml.MappingNode {
			return nil, fail("", root, "want a mapping of sections (%s)", strings.Join(sectionNames(), ", "))
		}
	}
	if root == nil || len(root.Content) == 0 {
		return nil, &Error{Source: source, Msg: fmt.Sprintf("the file gives no keys: name a preset (ijepago: {preset: quick}; presets: %s) and the keys that differ from it, or pass a preset's name to --config", strings.Join(Presets(), ", "))}
	}
	// The base preset first.
	base := DefaultPreset
	var baseNode *yaml.Node
	for i := 0; i < len(root.Content); i += 2 {
		if sec := root.Content[i+1]; root.Content[i].Value == "ijepago" && sec.Kind == yaml.MappingNode {
			for j := 0; j < len(sec.Content); j += 2 {
				if sec.Content[j].Value == "preset" {
					baseNode = sec.Content[j+1]
					base = baseNode.Value
				}
			}
		}
	}
	c, err := Preset(base)
	if err != nil {
		return nil, fail("ijepago.preset", baseNode, "unknown preset %q (want one of %s)", base, strings.Join(Presets(), ", "))
	}
	c.source = source
	c.defaulted = baseNode == nil
	seen := map[string]int{}
	for i := 0; i < len(root.Content); i += 2 {
		kn, sec := root.Content[i], root.Content[i+1]
		if !contains(sectionNames(), kn.Value) {
			return nil, fail("", kn, "unknown section %q (want %s)", kn.Value, strings.Join(sectionNames(), ", "))
		}
		if err := c.parseGroup(kn.Value, sec, seen, fail); err != nil {
			return nil, err
		}
	}
	return c, c.Validate()
}

// parseGroup stores the keys of the mapping n into the group prefix (a
// section, or a group of keys inside one such as "ijepago.encoder").
func (c *Config) parseGroup(prefix string, n *yaml.Node, seen map[string]int, fail func(key string, n *yaml.Node, format string, args ...any) error) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fail(prefix, n, "want a mapping of keys")
	}
	for j := 0; j < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		key := prefix + "." + k.Value
		if line, dup := seen[key]; dup {
			return fail(key, k, "given twice (first at line %d)", line)
		}
		seen[key] = k.Line
		if isGroup(key) {
			if err := c.parseGroup(key, v, seen, fail); err != nil {
				return err
			}
			continue
		}
		fv, ok := c.field(key)
		if !ok {
			return fail("", k, "unknown key %q", key)
		}
		if err := decode(fv, v); err != nil {
			return fail(key, v, "%s", err.Error())
		}
		c.origin[key] = fmt.Sprintf("line %d", v.Line)
	}
	return nil
}

// Set overrides one key from a command-line value written as in YAML
// ("1e-3", "true", "[0.3, 1.0]", "vit_small"). Call Validate after the last
// Set.
func (c *Config) Set(key, value string) error { return c.SetFlag("--set", key, value) }

// SetFlag is Set for a value given by the command-line flag named flag
// ("--steps"): errors about the key, now and from Validate, name that flag
// as its origin.
func (c *Config) SetFlag(flag, key, value string) error {
	fail := func(format string, args ...any) error {
		return &Error{Source: c.source, Key: key, Origin: flag, Msg: fmt.Sprintf(format, args...)}
	}
	if key == "ijepago.preset" {
		return fail("the preset can only be chosen in a file or by name")
	}
	fv, ok := c.field(key)
	if !ok {
		return &Error{Source: c.source, Origin: flag, Msg: fmt.Sprintf("unknown key %q (keys are section.key, e.g. optimization.lr)", key)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &doc); err != nil {
		return fail("cannot read %q: %s", value, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	if len(doc.Content) > 0 {
		n = doc.Content[0]
	}
	if err := decode(fv, n); err != nil {
		return fail("%s", err.Error())
	}
	if c.origin == nil {
		c.origin = map[string]string{}
	}
	c.origin[key] = flag
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// describe says what kind of YAML value n is, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "null"
	}
	return fmt.Sprintf("%q", n.Value)
}

// decode stores the YAML value n into v, by v's kind.
func decode(v reflect.Value, n *yaml.Node) error {
	scalar := n.Kind == yaml.ScalarNode && n.Tag != "!!null"
	integer := scalar && n.ShortTag() == "!!int"
	switch v.Kind() {
	case reflect.Int, reflect.Int64:
		var x int64
		if !integer || n.Decode(&x) != nil {
			return fmt.Errorf("must be an integer, got %s", describe(n))
		}
		v.SetInt(x)
	case reflect.Uint64:
		var x int64
		if !integer || n.Decode(&x) != nil {
			return fmt.Errorf("must be an integer, got %s", describe(n))
		}
		if x < 0 {
			return fmt.Errorf("must be a non-negative integer, got %d", x)
		}
		v.SetUint(uint64(x))
	case reflect.Float64:
		x, err := number(n)
		if err != nil {
			return err
		}
		v.SetFloat(x)
	case reflect.Bool:
		var x bool
		if !scalar || n.Decode(&x) != nil {
			return fmt.Errorf("must be true or false, got %s", describe(n))
		}
		v.SetBool(x)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("must be a string, got %s", describe(n))
		}
		if n.Tag == "!!null" {
			v.SetString("")
		} else {
			v.SetString(n.Value)
		}
	case reflect.Array:
		if n.Kind != yaml.SequenceNode || len(n.Content) != v.Len() {
			return fmt.Errorf("must be a pair of numbers like [0.3, 1.0], got %s", describe(n))
		}
		for i, e := range n.Content {
			x, err := number(e)
			if err != nil {
				return fmt.Errorf("entry %d %s", i, err.Error())
			}
			v.Index(i).SetFloat(x)
		}
	default:
		return fmt.Errorf("internal: no decoder for %v", v.Kind())
	}
	return nil
}

func number(n *yaml.Node) (float64, error) {
	var x float64
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Decode(&x) != nil {
		return 0, fmt.Errorf("must be a number, got %s", describe(n))
	}
	if x != x || x > 1e300 || x < -1e300 {
		return 0, fmt.Errorf("must be a finite number, got %s", n.Value)
	}
	return x, nil
}

// YAML returns the config in the official layout (our section last), such
// that Parse gives it back. With the encoder's sizes in ijepago.encoder,
// meta.model_name is written empty: only one of them names the encoder.
func (c *Config) YAML() ([]byte, error) {
	out := *c
	if out.IJEPAGo.Encoder.Explicit() {
		out.Meta.ModelName = ""
	}
	return yaml.Marshal(&out)
}

// Presets lists the built-in configs, sorted.
func Presets() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a fresh copy of a built-in config.
func Preset(name string) (*Config, error) {
	mk, ok := presets[name]
	if !ok {
		return nil, &Error{Source: name, Msg: fmt.Sprintf("unknown preset %q (want one of %s)", name, strings.Join(Presets(), ", "))}
	}
	c := mk()
	c.IJEPAGo.Preset = name
	c.source = name
	c.origin = map[string]string{}
	return c, nil
}
