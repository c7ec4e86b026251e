// Package interop meets users of the official I-JEPA (facebookresearch/ijepa)
// where they are: it reads the official trainer's .pth.tar checkpoints and
// the project's own safetensors checkpoints through one type, Checkpoint,
// loads either into a model (parameters, AdamW moments and step count, so
// training resumes from either), and exports safetensors files that PyTorch
// reads into the official model classes.
//
// Names and layouts are the official ones throughout: a parameter is called
// what VisionTransformer.state_dict() or
// VisionTransformerPredictor.state_dict() calls it (patch_embed.proj.weight
// [D,3,P,P], pos_embed [1,N,D], blocks.0.attn.qkv.weight [3D,D],
// predictor_embed.weight, mask_token, predictor_blocks.0.mlp.fc1.bias,
// predictor_norm.weight, predictor_proj.weight, ...); a checkpoint holds them
// under the official checkpoint's keys (encoder., predictor.,
// target_encoder.) and the moments as opt.exp_avg.encoder.NAME, ...
package interop

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
)

// Format is a checkpoint's file format.
type Format string

// The formats Open reads.
const (
	// Safetensors is a safetensors file: the project's checkpoints, the
	// parts Export writes, or any state dict saved with safetensors.
	Safetensors Format = "safetensors"
	// PyTorch is a file written by torch.save: the official trainer's
	// checkpoints (a zip of pickles), or a bare state dict.
	PyTorch Format = "pytorch"
)

// Part names one network of a checkpoint, or all of it.
type Part string

// The parts of a checkpoint.
const (
	// All is the whole training state: the three networks, AdamW's
	// moments and step count.
	All Part = "all"
	// Encoder is the context encoder (VisionTransformer).
	Encoder Part = "encoder"
	// Predictor is the predictor (VisionTransformerPredictor).
	Predictor Part = "predictor"
	// Target is the target encoder (VisionTransformer), the one evaluated
	// downstream.
	Target Part = "target_encoder"
)

// ParsePart returns the part named s.
func ParsePart(s string) (Part, error) {
	switch p := Part(s); p {
	case All, Encoder, Predictor, Target:
		return p, nil
	}
	return "", fmt.Errorf("interop: unknown part %q (want %s, %s, %s or %s)", s, All, Encoder, Predictor, Target)
}

func (p Part) prefix() string { return string(p) + "." }

// Options are choices Open cannot make from a file.
type Options struct {
	// Heads is the number of attention heads, which no tensor's shape
	// shows. Zero takes it from the project's metadata, else from the
	// official model size whose width, depth and MLP width the encoder
	// has; a file with neither needs it.
	Heads int
	// Model, when set, is the model the checkpoint must be of (a trainer's
	// config): a tensor whose name or shape differs from the model's is
	// reported with both shapes, before the configuration is inferred, and
	// the heads are the model's when neither Heads nor the file gives them.
	Model *model.Config
}

// Checkpoint is a checkpoint opened for reading, in either format, with
// every tensor under the project's checkpoint names. Tensors are read when
// loaded or exported; for a PyTorch file the data is in memory from Open on
// and each tensor's memory is given back once it has been read, so a
// Checkpoint is loaded or exported once.
type Checkpoint struct {
	Path   string
	Format Format
	// Encoder is the configuration of the encoders (Heads resolved as
	// Options.Heads says).
	Encoder nn.ViTConfig
	// Model is the name of the official encoder size ("vit_huge") when the
	// encoder is one, else "".
	Model string
	// PredDim and PredDepth are the predictor's width and depth; both are
	// 0 when the file has no predictor.
	PredDim, PredDepth int
	// PredHeads is the predictor's number of heads: the project's metadata
	// records it, otherwise it is the encoder's (as the official code
	// builds the predictor); 0 when the file has no predictor.
	PredHeads int
	// Steps is AdamW's step count, 0 without optimiser state.
	Steps int
	// HasOptimizer reports whether the file holds AdamW's moments.
	HasOptimizer bool
	// OptimizerSkipped, when not empty, says why the file's optimiser
	// state was left out: it could not be mapped to this model's AdamW
	// (HasOptimizer is then false, and a model loaded from the file starts
	// AdamW fresh). Commands print it as one warning.
	OptimizerSkipped string
	// Meta is the file's metadata: the project's keys, or for an official
	// checkpoint its epoch, loss, batch_size, world_size and lr.
	Meta map[string]string

	parts    map[Part]bool
	tensors  map[string]*entry
	closer   io.Closer
	consumed bool
	// mapOpt adds the optimiser's moments of a PyTorch checkpoint, whose
	// state is keyed by the parameters' positions, once the networks are
	// known.
	mapOpt func(enc, pred []*nn.Param) error
}

// entry is one tensor: its shape and how to read it as float32.
type entry struct {
	shape   backend.Shape
	read    func(dst []float32) error
	release func()
}

// Has reports whether the checkpoint holds the part (All: every network
// and the optimiser's moments).
func (c *Checkpoint) Has(p Part) bool {
	if p == All {
		return c.parts[Encoder] && c.parts[Predictor] && c.parts[Target] && c.HasOptimizer
	}
	return c.parts[p]
}

// Config returns the configuration of the whole model; the checkpoint must
// hold a predictor.
func (c *Checkpoint) Config() (model.Config, error) {
	if !c.parts[Predictor] {
		return model.Config{}, fmt.Errorf("interop: %s: the checkpoint has no predictor, only %s", c.Path, c.partList())
	}
	return c.shape().Config(), nil
}

// shape is what a checkpoint of this model records (model.Shape).
func (c *Checkpoint) shape() model.Shape {
	e := c.Encoder
	return model.Shape{Dim: e.Dim, Depth: e.Depth, Heads: e.Heads, MLPHidden: e.MLPHidden, ImgSize: e.ImgSize, Patch: e.Patch,
		InChans: e.Channels, PredDim: c.PredDim, PredDepth: c.PredDepth, PredHeads: c.PredHeads}
}

func (c *Checkpoint) partList() string {
	var s []string
	for _, p := range []Part{Encoder, Predictor, Target} {
		if c.parts[p] {
			s = append(s, string(p))
		}
	}
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// Close releases the file and any data held.
func (c *Checkpoint) Close() error {
	c.tensors = nil
	if c.closer != nil {
		err := c.closer.Close()
		c.closer = nil
		return err
	}
	return nil
}

// Open opens a checkpoint: a PyTorch file (torch.save: the official
// trainer's dict of encoder, predictor, target_encoder, opt, ..., with or
// without DistributedDataParallel's "module." prefixes, or a bare state
// dict) or a safetensors file (the project's checkpoint, a part Export
// wrote, or a state dict). The format is told by the file's content. Every
// tensor is checked against the model the shapes describe before anything
// is read.
func Open(path string, opts Options) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	var head [9]byte
	n, _ := io.ReadFull(f, head[:])
	f.Close()
	var c *Checkpoint
	switch {
	case n >= 4 && bytes.Equal(head[:4], []byte("PK\x03\x04")), n >= 2 && head[0] == 0x80 && head[1] <= 5:
		// A zip (torch.save since PyTorch 1.6) or a bare pickle (the
		// legacy format).
		c, err = openPyTorch(path)
	case n == 9 && head[8] == '{':
		c, err = openSafetensors(path)
	default:
		return nil, fmt.Errorf("interop: %s is neither a PyTorch checkpoint nor a safetensors file", path)
	}
	if err != nil {
		return nil, err
	}
	if err := c.resolve(opts); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// resolve infers the configuration from the tensors' shapes, resolves the
// heads, and checks every network's tensors against the model declared from
// that configuration.
func (c *Checkpoint) resolve(opts Options) error {
	if opts.Model != nil {
		if err := c.fits(*opts.Model); err != nil {
			return err
		}
		if opts.Heads == 0 && c.Meta[MetaHeads] == "" && c.Meta[model.MetaModel] == "" {
			opts.Heads = opts.Model.Heads
		}
	}
	enc := Target
	if !c.parts[Target] {
		enc = Encoder
	}
	if !c.parts[enc] {
		if c.parts[Predictor] {
			return fmt.Errorf("interop: %s: the checkpoint has a predictor but no encoder: its shape cannot be told", c.Path)
		}
		return fmt.Errorf("interop: %s: no I-JEPA encoder or predictor in the checkpoint (no tensor %s)", c.Path, enc.prefix()+"patch_embed.proj.weight")
	}
	cfg, err := c.inferEncoder(enc)
	if err != nil {
		return err
	}
	var saved model.Shape
	if js, ok := c.Meta[model.MetaModel]; ok {
		if saved, err = model.ParseShape(js); err != nil {
			return fmt.Errorf("interop: %s: metadata %q: %w", c.Path, model.MetaModel, err)
		}
	}
	recorded := saved.Heads
	if h, ok := c.Meta[MetaHeads]; ok && recorded == 0 {
		if recorded, err = strconv.Atoi(h); err != nil || recorded <= 0 {
			return fmt.Errorf("interop: %s: metadata %s %q is not a number of heads", c.Path, MetaHeads, h)
		}
	}
	switch {
	case opts.Heads > 0 && recorded > 0 && opts.Heads != recorded:
		return fmt.Errorf("interop: %s: the checkpoint records %d attention heads, %d were given", c.Path, recorded, opts.Heads)
	case opts.Heads > 0:
		cfg.Heads = opts.Heads
	default:
		cfg.Heads = recorded
	}
	for _, v := range nn.Variants {
		if v.Dim == cfg.Dim && v.Depth == cfg.Depth && v.MLPHidden == cfg.MLPHidden && (cfg.Heads == 0 || cfg.Heads == v.Heads) {
			c.Model, cfg.Heads = v.Name, v.Heads
		}
	}
	if cfg.Heads == 0 {
		return fmt.Errorf("interop: %s: an encoder of width %d, depth %d, MLP %d is no official size, and the number of attention heads shows in no tensor: give it (--heads)", c.Path, cfg.Dim, cfg.Depth, cfg.MLPHidden)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("interop: %s: %w", c.Path, err)
	}
	c.Encoder = cfg
	if c.parts[Predictor] {
		c.PredDim, c.PredDepth, err = c.inferPredictor()
		if err != nil {
			return err
		}
		c.PredHeads = cfg.Heads
		if saved.PredHeads > 0 {
			c.PredHeads = saved.PredHeads
		} else if opts.Model != nil && opts.Model.PredHeads > 0 && c.Meta[model.MetaModel] == "" {
			c.PredHeads = opts.Model.PredHeads
		}
	}
	if saved != (model.Shape{}) {
		got := c.shape()
		if !c.parts[Predictor] {
			got.PredDim, got.PredDepth, got.PredHeads = saved.PredDim, saved.PredDepth, saved.PredHeads
		}
		if got != saved {
			return fmt.Errorf("interop: %s: the metadata describes a model with %+v, the tensors one with %+v", c.Path, saved, got)
		}
	}
	want, err := c.declare()
	if err != nil {
		return err
	}
	for _, p := range []Part{Encoder, Predictor, Target} {
		if c.parts[p] {
			if err := c.check(p, want[p]); err != nil {
				return err
			}
		}
	}
	if c.mapOpt != nil {
		err := fmt.Errorf("interop: %s: optimiser state without both the encoder and the predictor", c.Path)
		if c.parts[Encoder] && c.parts[Predictor] {
			err = c.mapOpt(want[Encoder], want[Predictor])
		}
		if err != nil {
			c.skipOptimizer(err)
		}
	}
	return c.checkRest()
}

// skipOptimizer drops an optimiser state the model cannot use (other
// parameter groups than the official four, say: a fork's, a fine-tune's,
// a one-group AdamW's) and records why: the networks load, and AdamW
// starts fresh.
func (c *Checkpoint) skipOptimizer(why error) {
	for n, e := range c.tensors {
		if strings.HasPrefix(n, "opt.") {
			if e.release != nil {
				e.release()
			}
			delete(c.tensors, n)
		}
	}
	c.Steps = 0
	c.OptimizerSkipped = why.Error()
}

// fits checks the networks the file holds against the model cfg
// describes: the same names, each with the model's shape.
func (c *Checkpoint) fits(cfg model.Config) error {
	m, err := model.New(cfg)
	if err != nil {
		return fmt.Errorf("interop: %s: %w", c.Path, err)
	}
	for _, p := range []struct {
		part   Part
		params []*nn.Param
	}{{Encoder, m.Encoder.Params()}, {Predictor, m.Predictor.Params()}, {Target, m.Target.Params()}} {
		if c.parts[p.part] {
			if err := c.check(p.part, p.params); err != nil {
				return err
			}
		}
	}
	return nil
}

// declare declares (without allocating) the networks the configuration
// describes.
func (c *Checkpoint) declare() (map[Part][]*nn.Param, error) {
	out := map[Part][]*nn.Param{}
	if c.parts[Predictor] {
		cfg, _ := c.Config()
		m, err := model.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("interop: %s: %w", c.Path, err)
		}
		out[Encoder], out[Predictor], out[Target] = m.Encoder.Params(), m.Predictor.Params(), m.Target.Params()
		return out, nil
	}
	v, err := nn.NewViT(nn.NewBuilder(), c.Encoder)
	if err != nil {
		return nil, fmt.Errorf("interop: %s: %w", c.Path, err)
	}
	out[Encoder], out[Target] = v.Params(), v.Params()
	return out, nil
}

// check compares the part's tensors with the declared parameters: the same
// names, each with its shape.
func (c *Checkpoint) check(p Part, params []*nn.Param) error {
	pre := p.prefix()
	seen := map[string]bool{}
	for _, q := range params {
		e, ok := c.tensors[pre+q.Name]
		if !ok {
			return fmt.Errorf("interop: %s: %s has no tensor %s", c.Path, p, q.Name)
		}
		if !e.shape.Equal(q.Shape) {
			return fmt.Errorf("interop: %s: %s tensor %s has shape %v, the model wants %v", c.Path, p, q.Name, e.shape, q.Shape)
		}
		seen[pre+q.Name] = true
	}
	var extra []string
	for n := range c.tensors {
		if strings.HasPrefix(n, pre) && !seen[n] {
			extra = append(extra, strings.TrimPrefix(n, pre))
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("interop: %s: %s has %d tensors the model does not (first: %s)", c.Path, p, len(extra), extra[0])
	}
	return nil
}

// checkRest checks the tensors outside the networks: the optimiser's
// moments, one pair for each trainable parameter of the encoder and the
// predictor, with its shape.
func (c *Checkpoint) checkRest() error {
	moments := 0
	for n := range c.tensors {
		if strings.HasPrefix(n, "opt.") {
			moments++
			continue
		}
		if !strings.HasPrefix(n, Encoder.prefix()) && !strings.HasPrefix(n, Predictor.prefix()) && !strings.HasPrefix(n, Target.prefix()) {
			return fmt.Errorf("interop: %s: tensor %s belongs to no network of an I-JEPA checkpoint", c.Path, n)
		}
	}
	if moments == 0 {
		return nil
	}
	if !c.parts[Encoder] || !c.parts[Predictor] {
		return fmt.Errorf("interop: %s: optimiser state without both the encoder and the predictor", c.Path)
	}
	want, _ := c.declare()
	n := 0
	for _, p := range []Part{Encoder, Predictor} {
		for _, q := range nn.Trainable(want[p]) {
			avg, sq := model.MomentNames(p.prefix(), q.Name)
			for _, name := range []string{avg, sq} {
				e, ok := c.tensors[name]
				if !ok {
					return fmt.Errorf("interop: %s: the optimiser state has no %s", c.Path, name)
				}
				if !e.shape.Equal(q.Shape) {
					return fmt.Errorf("interop: %s: %s has shape %v, the parameter %v", c.Path, name, e.shape, q.Shape)
				}
				n++
			}
		}
	}
	if n != moments {
		return fmt.Errorf("interop: %s: %d optimiser tensors, the model has %d", c.Path, moments, n)
	}
	c.HasOptimizer = true
	return nil
}

// inferEncoder reads the encoder's configuration (all but the heads) off
// the shapes of part's tensors.
func (c *Checkpoint) inferEncoder(p Part) (nn.ViTConfig, error) {
	pre := p.prefix()
	shape := func(name string, rank int) (backend.Shape, error) {
		e, ok := c.tensors[pre+name]
		if !ok {
			return nil, fmt.Errorf("interop: %s: %s has no tensor %s", c.Path, p, name)
		}
		if len(e.shape) != rank {
			return nil, fmt.Errorf("interop: %s: %s tensor %s has shape %v, want %d dimensions", c.Path, p, name, e.shape, rank)
		}
		return e.shape, nil
	}
	w, err := shape("patch_embed.proj.weight", 4)
	if err != nil {
		return nn.ViTConfig{}, err
	}
	pos, err := shape("pos_embed", 3)
	if err != nil {
		return nn.ViTConfig{}, err
	}
	grid := isqrt(pos[1])
	if grid*grid != pos[1] || w[2] != w[3] {
		return nn.ViTConfig{}, fmt.Errorf("interop: %s: %s: %d patches of %dx%d are not a square image", c.Path, p, pos[1], w[2], w[3])
	}
	cfg := nn.ViTConfig{ImgSize: grid * w[2], Patch: w[2], Channels: w[1], Dim: w[0], Depth: c.count(pre + "blocks."), MLPHidden: 4 * w[0]}
	if cfg.Channels != 3 && cfg.Channels != 1 {
		return cfg, fmt.Errorf("interop: %s: %s takes %d input channels; images have 3 (RGB) or 1 (grey)", c.Path, p, cfg.Channels)
	}
	if cfg.Depth > 0 {
		fc1, err := shape("blocks.0.mlp.fc1.weight", 2)
		if err != nil {
			return cfg, err
		}
		cfg.MLPHidden = fc1[0]
	}
	return cfg, nil
}

// inferPredictor reads the predictor's width and depth off its tensors.
func (c *Checkpoint) inferPredictor() (dim, depth int, err error) {
	e, ok := c.tensors[Predictor.prefix()+"predictor_embed.weight"]
	if !ok || len(e.shape) != 2 {
		return 0, 0, fmt.Errorf("interop: %s: predictor has no tensor predictor_embed.weight [d, D]", c.Path)
	}
	return e.shape[0], c.count(Predictor.prefix() + "predictor_blocks."), nil
}

// count returns the number of blocks under prefix (prefix + "0.", "1.", ...).
func (c *Checkpoint) count(prefix string) int {
	n := 0
	for name := range c.tensors {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest[:max(strings.IndexByte(rest, '.'), 0)])
		if err == nil && i+1 > n {
			n = i + 1
		}
	}
	return n
}

func isqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// take reads the named tensor into dst and gives its memory back.
func (c *Checkpoint) take(name string, dst []float32) error {
	e := c.tensors[name]
	if err := e.read(dst); err != nil {
		return fmt.Errorf("interop: %s: tensor %s: %w", c.Path, name, err)
	}
	if e.release != nil {
		e.release()
	}
	return nil
}

func (c *Checkpoint) consume(what string) error {
	if c.tensors == nil {
		return fmt.Errorf("interop: %s: %s: the checkpoint is closed", c.Path, what)
	}
	if c.consumed && c.Format == PyTorch {
		return fmt.Errorf("interop: %s: %s: the checkpoint's tensors were already read once (open it again)", c.Path, what)
	}
	c.consumed = true
	return nil
}

// Load writes the checkpoint into m, which must be allocated and of the
// checkpoint's configuration: the three networks, AdamW's moments and its
// step count, so that training resumes where the checkpoint stopped. A
// checkpoint without optimiser state leaves the moments at zero and the step
// count at 0 (a fresh optimiser).
func (c *Checkpoint) Load(m *model.Model) error {
	be := m.Backend()
	if be == nil {
		return fmt.Errorf("interop: load %s: the model is not allocated", c.Path)
	}
	for _, p := range []Part{Encoder, Predictor, Target} {
		if !c.parts[p] {
			return fmt.Errorf("interop: load %s: the checkpoint has no %s (it has %s)", c.Path, p, c.partList())
		}
	}
	if want, got := c.shape(), m.Shape(); want != got {
		return fmt.Errorf("interop: load %s: the checkpoint is of a model with %+v, this model has %+v", c.Path, want, got)
	}
	if err := c.consume("load"); err != nil {
		return err
	}
	var buf []float32
	for _, t := range m.Tensors() {
		if _, ok := c.tensors[t.Name]; !ok {
			if strings.HasPrefix(t.Name, "opt.") && !c.HasOptimizer {
				backend.Fill(be, t.T, 0)
				continue
			}
			return fmt.Errorf("interop: load %s: no tensor %s", c.Path, t.Name)
		}
		n := t.T.Shape().NumElements()
		if cap(buf) < n {
			buf = make([]float32, n)
		}
		if err := c.take(t.Name, buf[:n]); err != nil {
			return err
		}
		backend.WriteF32(be, t.T, buf[:n])
		if err := be.Err(); err != nil {
			return fmt.Errorf("interop: load %s: tensor %s: %w", c.Path, t.Name, err)
		}
	}
	if err := be.Sync(); err != nil {
		return fmt.Errorf("interop: load %s: %w", c.Path, err)
	}
	m.Opt.Steps = c.Steps
	return nil
}

// NewModel declares a model of the checkpoint's configuration with the
// given loss, allocates it on be and loads the checkpoint into it.
func (c *Checkpoint) NewModel(be backend.Backend, loss model.Loss) (*model.Model, error) {
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	cfg.Model, cfg.Loss = c.Model, loss
	m, err := model.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("interop: %s: %w", c.Path, err)
	}
	if err := m.Alloc(be, 0); err != nil {
		return nil, fmt.Errorf("interop: %s: %w", c.Path, err)
	}
	if err := c.Load(m); err != nil {
		m.Free()
		return nil, err
	}
	return m, nil
}

// LoadEncoder allocates one encoder of the checkpoint's configuration on be
// (Target, the one evaluated downstream, or Encoder) and loads it.
func (c *Checkpoint) LoadEncoder(be backend.Backend, p Part) (*nn.ViT, error) {
	if p != Target && p != Encoder {
		return nil, fmt.Errorf("interop: %s: %s is not an encoder", c.Path, p)
	}
	if !c.parts[p] {
		return nil, fmt.Errorf("interop: %s: the checkpoint has no %s (it has %s)", c.Path, p, c.partList())
	}
	if err := c.consume("load " + string(p)); err != nil {
		return nil, err
	}
	v, err := nn.NewViT(nn.NewBuilder(), c.Encoder)
	if err != nil {
		return nil, err
	}
	ps := v.Params()
	if err := nn.Alloc(be, ps, 0); err != nil {
		return nil, fmt.Errorf("interop: %s: %w", c.Path, err)
	}
	var buf []float32
	for _, q := range ps {
		n := int(q.NumElements())
		if cap(buf) < n {
			buf = make([]float32, n)
		}
		if err := c.take(p.prefix()+q.Name, buf[:n]); err != nil {
			nn.Free(be, ps)
			return nil, err
		}
		backend.WriteF32(be, q.Value, buf[:n])
	}
	if err := be.Sync(); err != nil {
		nn.Free(be, ps)
		return nil, fmt.Errorf("interop: %s: %w", c.Path, err)
	}
	return v, nil
}
