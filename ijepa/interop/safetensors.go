package interop

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/half"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// Metadata keys of the single-network files Export writes (besides
// "format": "pt", the key safetensors.torch and Hugging Face write).
const (
	MetaPart  = "part"  // which network: encoder, predictor or target_encoder
	MetaHeads = "heads" // the number of attention heads
)

// openSafetensors reads a safetensors file's header: the project's
// checkpoint (names under encoder., predictor., target_encoder., opt.), or
// one network's state dict (bare names, as Export writes a part or
// safetensors.torch.save_file(model.state_dict()) does).
func openSafetensors(path string) (*Checkpoint, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	c := &Checkpoint{Path: path, Format: Safetensors, Meta: map[string]string{}, parts: map[Part]bool{}, tensors: map[string]*entry{}, closer: f}
	for k, v := range f.Metadata {
		c.Meta[k] = v
	}
	if s, ok := c.Meta[model.MetaSteps]; ok {
		if c.Steps, err = strconv.Atoi(s); err != nil || c.Steps < 0 {
			f.Close()
			return nil, fmt.Errorf("interop: %s: optimiser step count %q", path, s)
		}
	}
	names := f.Names()
	prefixed := false
	for _, n := range names {
		for _, p := range []Part{Encoder, Predictor, Target} {
			if strings.HasPrefix(n, p.prefix()) {
				prefixed = true
			}
		}
	}
	bare := Target
	if p, ok := c.Meta[MetaPart]; ok {
		if bare, err = ParsePart(p); err != nil || bare == All {
			f.Close()
			return nil, fmt.Errorf("interop: %s: metadata part %q is not a network", path, p)
		}
	}
	for _, n := range names {
		info, _ := f.Info(n)
		e, err := fileEntry(f, n, info)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("interop: %s: %w", path, err)
		}
		name := n
		if !prefixed {
			name = strings.TrimPrefix(name, ddpPrefix)
			if strings.HasPrefix(name, "predictor_embed.") {
				bare = Predictor
			}
		}
		c.tensors[name] = e
	}
	if !prefixed {
		// One network's state dict: put it under its part's prefix.
		under := make(map[string]*entry, len(c.tensors))
		for n, e := range c.tensors {
			under[bare.prefix()+n] = e
		}
		c.tensors = under
		c.parts[bare] = len(names) > 0
		return c, nil
	}
	for _, p := range []Part{Encoder, Predictor, Target} {
		for n := range c.tensors {
			if strings.HasPrefix(n, p.prefix()) {
				c.parts[p] = true
				break
			}
		}
	}
	return c, nil
}

// fileEntry reads a tensor of a safetensors file as float32 (from F32, F16,
// BF16 or F64).
func fileEntry(f *safetensors.File, name string, info safetensors.Info) (*entry, error) {
	size := safetensors.DTypeSize(info.DType)
	var conv func(b []byte) float32
	switch info.DType {
	case "F32":
	case "F16":
		conv = func(b []byte) float32 { return half.F16ToFloat32(binary.LittleEndian.Uint16(b)) }
	case "BF16":
		conv = func(b []byte) float32 { return half.BF16ToFloat32(binary.LittleEndian.Uint16(b)) }
	case "F64":
		conv = func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }
	default:
		return nil, fmt.Errorf("tensor %s is %s, not floating point", name, info.DType)
	}
	shape := make(backend.Shape, len(info.Shape))
	for i, d := range info.Shape {
		if d > math.MaxInt32 {
			return nil, fmt.Errorf("tensor %s: shape %v", name, info.Shape)
		}
		shape[i] = int(d)
	}
	return &entry{shape: shape, read: func(dst []float32) error {
		if int64(len(dst)) != info.NumElements() {
			return fmt.Errorf("%d values, the tensor %v has %d", len(dst), shape, info.NumElements())
		}
		if conv == nil {
			return f.Read(name, backend.F32Bytes(dst))
		}
		raw := make([]byte, len(dst)*size)
		if err := f.Read(name, raw); err != nil {
			return err
		}
		for i := range dst {
			dst[i] = conv(raw[i*size:])
		}
		return nil
	}}, nil
}

// Export writes part of the checkpoint to path as safetensors (float32,
// row-major, atomically):
//
//   - All: the project's checkpoint — the three networks under encoder.,
//     predictor., target_encoder., AdamW's moments under
//     opt.exp_avg(_sq).{encoder,predictor}.NAME (zero when the checkpoint
//     has none) and the metadata of model.Model.Save with the step count,
//     so training resumes from it; the checkpoint's other metadata (an
//     official checkpoint's epoch, loss, ...) is kept.
//   - Encoder, Target, Predictor: that network's state dict with the
//     official names and no prefix, which PyTorch loads into the official
//     class: model.load_state_dict(safetensors.torch.load_file(path)).
//     The metadata holds format "pt", the part, the encoder's number of
//     heads and the model's shape (model.Shape as JSON: input channels,
//     sizes, the predictor's heads).
func (c *Checkpoint) Export(path string, p Part) error {
	type out struct {
		name, src string
		shape     backend.Shape
	}
	var outs []out
	var meta map[string]string
	add := func(name, src string, shape backend.Shape) { outs = append(outs, out{name, src, shape}) }
	want, err := c.declare()
	if err != nil {
		return err
	}
	switch p {
	case All:
		cfg, err := c.Config()
		if err != nil {
			return err
		}
		if !c.parts[Encoder] || !c.parts[Target] {
			return fmt.Errorf("interop: export %s: the checkpoint has %s; the whole training state needs the encoder, the predictor and the target encoder", c.Path, c.partList())
		}
		for _, q := range []Part{Encoder, Predictor, Target} {
			for _, prm := range want[q] {
				add(q.prefix()+prm.Name, q.prefix()+prm.Name, prm.Shape)
			}
		}
		for _, q := range []Part{Encoder, Predictor} {
			for _, prm := range nn.Trainable(want[q]) {
				avg, sq := model.MomentNames(q.prefix(), prm.Name)
				add(avg, avg, prm.Shape)
				add(sq, sq, prm.Shape)
			}
		}
		m, err := model.New(cfg)
		if err != nil {
			return fmt.Errorf("interop: export %s: %w", c.Path, err)
		}
		extra := map[string]string{}
		for k, v := range c.Meta {
			if k != MetaPart && k != MetaHeads && k != "format" {
				extra[k] = v
			}
		}
		meta = m.Metadata(c.Steps, extra)
	case Encoder, Target, Predictor:
		if !c.parts[p] {
			return fmt.Errorf("interop: export %s: the checkpoint has no %s (it has %s)", c.Path, p, c.partList())
		}
		for _, prm := range want[p] {
			add(prm.Name, p.prefix()+prm.Name, prm.Shape)
		}
		js, err := json.Marshal(c.shape())
		if err != nil {
			return fmt.Errorf("interop: export %s: %w", c.Path, err)
		}
		meta = map[string]string{"format": "pt", MetaPart: string(p), MetaHeads: strconv.Itoa(c.Encoder.Heads), model.MetaModel: string(js)}
	default:
		return fmt.Errorf("interop: export %s: unknown part %q", c.Path, p)
	}
	if err := c.consume("export"); err != nil {
		return err
	}
	list := make([]safetensors.Tensor, len(outs))
	for i, o := range outs {
		dims := make([]int64, len(o.shape))
		for k, d := range o.shape {
			dims[k] = int64(d)
		}
		list[i] = safetensors.Tensor{Name: o.name, DType: "F32", Shape: dims, Fill: func(dst []byte) error {
			if _, ok := c.tensors[o.src]; !ok {
				clear(dst) // moments of a checkpoint without optimiser state
				return nil
			}
			return c.take(o.src, backend.BytesF32(dst))
		}}
	}
	if err := safetensors.WriteFile(path, list, meta); err != nil {
		return fmt.Errorf("interop: export %s to %s: %w", c.Path, path, err)
	}
	return nil
}
