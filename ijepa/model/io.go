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

// shape is what a checkpoint records of the model's configuration: every
// field that fixes the parameters' meaning, including the ones no tensor
// shape shows (the number of heads).
type shape struct {
	Dim, Depth, Heads, MLPHidden int
	ImgSize, Patch               int
	PredDim, PredDepth           int
}

func (m *Model) shape() shape {
	e := m.EncCfg
	return shape{e.Dim, e.Depth, e.Heads, e.MLPHidden, e.ImgSize, e.Patch, m.Cfg.PredDim, m.Cfg.PredDepth}
}

// Metadata returns a checkpoint's metadata: meta's keys, then the format,
// the model's shape (JSON with the fields of Config that fix the
// parameters: Dim, Depth, Heads, MLPHidden, ImgSize, Patch, PredDim,
// PredDepth) and the optimiser's step count. The model need not be
// allocated.
func (m *Model) Metadata(steps int, meta map[string]string) map[string]string {
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	js, err := json.Marshal(m.shape())
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
	var saved shape
	if err := json.Unmarshal([]byte(meta[MetaModel]), &saved); err != nil {
		return nil, fmt.Errorf("model: load %s: model description: %w", path, err)
	}
	if cur := m.shape(); saved != cur {
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
