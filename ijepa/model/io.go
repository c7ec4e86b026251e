package model

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/ijepa-go/ijepa/nn"
)

// CheckpointFormat is the value of a checkpoint's "format" metadata.
const CheckpointFormat = "ijepa-go checkpoint 1"

// Metadata keys the model writes into a checkpoint (a caller's keys of the
// same names are overwritten).
const (
	MetaFormat = "format"
	MetaModel  = "model"       // the shape of the model, JSON
	MetaSteps  = "adamw_steps" // the optimiser's step count
)

// Shape is what a checkpoint records of the model's configuration (the
// JSON of its "model" metadata): every field that fixes the parameters'
// meaning, including the ones no tensor shape shows (the numbers of heads).
type Shape struct {
	Dim, Depth, Heads, MLPHidden int
	ImgSize, Patch               int
	PredDim, PredDepth           int
	// InChans and PredHeads were added after the first checkpoints: a
	// file without them has 3 channels and the encoder's heads.
	InChans, PredHeads int
}

// Config is the model configuration the shape describes.
func (s Shape) Config() Config {
	return Config{Dim: s.Dim, Depth: s.Depth, Heads: s.Heads, MLPHidden: s.MLPHidden, ImgSize: s.ImgSize, Patch: s.Patch,
		InChans: s.InChans, PredDim: s.PredDim, PredDepth: s.PredDepth, PredHeads: s.PredHeads}
}

// ParseShape reads a checkpoint's "model" metadata, filling in what files
// written before a field existed leave out (3 input channels, the
// encoder's heads in the predictor).
func ParseShape(js string) (Shape, error) {
	var s Shape
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		return s, err
	}
	if s.InChans == 0 {
		s.InChans = 3
	}
	if s.PredHeads == 0 {
		s.PredHeads = s.Heads
	}
	return s, nil
}

// Shape returns what a checkpoint records of the model.
func (m *Model) Shape() Shape {
	e := m.EncCfg
	return Shape{e.Dim, e.Depth, e.Heads, e.MLPHidden, e.ImgSize, e.Patch, m.Cfg.PredDim, m.Cfg.PredDepth, e.Channels, m.Predictor.Heads}
}

// Metadata returns a checkpoint's metadata: meta's keys, then the format,
// the model's shape (the JSON of Shape) and the optimiser's step count. The
// model need not be allocated.
func (m *Model) Metadata(steps int, meta map[string]string) map[string]string {
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	js, err := json.Marshal(m.Shape())
	if err != nil {
		panic(err) // a struct of ints always marshals
	}
	md[MetaFormat] = CheckpointFormat
	md[MetaModel] = string(js)
	md[MetaSteps] = strconv.Itoa(steps)
	return md
}

// Save writes the model — encoder, predictor, target encoder, the
// optimiser's moments and step count — and meta to path (safetensors,
// written atomically).
func (m *Model) Save(path string, meta map[string]string) error {
	return m.SaveChecked(path, meta, nil)
}

// SaveChecked is Save that passes each tensor's name and bytes to check
// before writing them (nn.SaveFileChecked): an error from check stops the
// write and leaves the file at path as it was.
func (m *Model) SaveChecked(path string, meta map[string]string, check func(name string, data []byte) error) error {
	if m.be == nil {
		return fmt.Errorf("model: save: the model is not allocated")
	}
	return nn.SaveFileChecked(path, m.be, m.Tensors(), m.Metadata(m.Opt.Steps, meta), check)
}

// Load reads a checkpoint written by Save into the model and returns its
// metadata. A checkpoint of another model is refused before anything is
// read: the error names the first tensor whose shape differs, with both
// shapes, or the configuration that differs.
func (m *Model) Load(path string) (map[string]string, error) {
	if m.be == nil {
		return nil, fmt.Errorf("model: load: the model is not allocated")
	}
	tensors := m.Tensors()
	meta, err := nn.CheckFile(path, tensors)
	if err != nil {
		return nil, err
	}
	if meta[MetaFormat] != CheckpointFormat {
		return nil, fmt.Errorf("model: load %s: format %q, want %q", path, meta[MetaFormat], CheckpointFormat)
	}
	saved, err := ParseShape(meta[MetaModel])
	if err != nil {
		return nil, fmt.Errorf("model: load %s: model description: %w", path, err)
	}
	if cur := m.Shape(); saved != cur {
		return nil, fmt.Errorf("model: load %s: the checkpoint is of a model with %+v, this model has %+v (heads %d vs %d)", path, saved, cur, saved.Heads, cur.Heads)
	}
	steps, err := strconv.Atoi(meta[MetaSteps])
	if err != nil || steps < 0 {
		return nil, fmt.Errorf("model: load %s: optimiser step count %q", path, meta[MetaSteps])
	}
	if _, err := nn.LoadFile(path, m.be, tensors); err != nil {
		return nil, err
	}
	m.Opt.Steps = steps
	return meta, nil
}
