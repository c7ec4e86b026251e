package train

import (
	"fmt"
	"github.com/ijepa-go/ijepa/nn/amp"
	"os"
	"strconv"

	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/internal/atomicfile"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// Metadata keys the trainer writes into a checkpoint, beside the model's
// own (model.MetaFormat, model.MetaModel, model.MetaSteps).
//
// Every random draw of a run is a pure function of the seed and the step
// (masks: seed and step; augmentations: seed, step and image; data order:
// seed and epoch), so the step, the loader position and the seed are the
// whole random state: a resumed run draws exactly what the unbroken run
// would have.
const (
	// MetaStep is the number of steps done (the global step of the last
	// one; the next step is MetaStep+1).
	MetaStep = "step"
	// MetaEpoch is the 0-based epoch of the next step.
	MetaEpoch = "epoch"
	// MetaLoaderStep is the loader's position: the 0-based index of the
	// next batch (LoaderConfig.StartStep).
	MetaLoaderStep = "loader_step"
	// MetaSeed is ijepago.seed, which seeds the weights, the data order,
	// the augmentations and the masks.
	MetaSeed = "seed"
	// MetaRNG restates the random state in words, for people reading the
	// file.
	MetaRNG = "rng"
	// MetaLoss is the loss of the last step.
	MetaLoss = "loss"
	// MetaConfig is the run's resolved config (YAML), so that a checkpoint
	// alone says what model and data it belongs to.
	MetaConfig = "config"
	// MetaAdamWOffset is MetaStep minus AdamW's step count
	// (model.MetaSteps): 0, unless the run started from a checkpoint
	// without the trainer's metadata, whose step is its epoch times the
	// config's iterations per epoch while AdamW keeps the file's count, as
	// the official trainer resumes. Absent: 0.
	MetaAdamWOffset = "adamw_offset"
	// MetaLossScale and MetaGrowthTracker are the GradScaler's scale and
	// its count of steps since the scale last changed, in runs that scale
	// the loss (bf16, fp16): a resumed run goes on with them. Absent in
	// fp32 runs.
	MetaLossScale     = "loss_scale"
	MetaGrowthTracker = "growth_tracker"
)

// scalerMeta adds the scaler's state to a checkpoint's metadata (nothing
// for a nil scaler).
func scalerMeta(meta map[string]string, s *amp.GradScaler) {
	if s == nil {
		return
	}
	meta[MetaLossScale] = strconv.FormatFloat(s.Scale, 'g', -1, 64)
	meta[MetaGrowthTracker] = strconv.Itoa(s.GrowthTracker)
}

// checkpointMeta is the metadata of a checkpoint taken after step steps,
// with AdamW at step - offset.
func checkpointMeta(c *config.Config, step, ipe, offset int64, loss float64) (map[string]string, error) {
	y, err := c.YAML()
	if err != nil {
		return nil, err
	}
	seed := c.IJEPAGo.Seed
	return map[string]string{
		MetaStep:       strconv.FormatInt(step, 10),
		MetaEpoch:      strconv.FormatInt(step/ipe, 10),
		MetaLoaderStep: strconv.FormatInt(step, 10),
		MetaSeed:       strconv.FormatUint(seed, 10),
		MetaRNG: fmt.Sprintf("every draw is a function of seed %d and the step: next masks from (seed, step %d), "+
			"augmentations from (seed, step %d, image), data order from (seed, epoch %d)", seed, step, step, step/ipe),
		MetaLoss:        strconv.FormatFloat(loss, 'g', -1, 32),
		MetaConfig:      string(y),
		MetaAdamWOffset: strconv.FormatInt(offset, 10),
	}, nil
}

// saveCheckpoint writes the model to path, checking every tensor as it
// is written (goodness.checkTensor); a model that is not finite, or whose
// weights are beyond their bounds, is refused with an error wrapping
// ErrNotFinite or ErrNotGood, and the file at path, if any, is left as it
// was. The write is atomic (temporary file, sync, rename), so a crash
// leaves the old file or the new one.
func saveCheckpoint(m *model.Model, g *goodness, path string, meta map[string]string) error {
	var bad error
	check := func(name string, data []byte) error {
		bad = g.checkTensor(name, data)
		return bad
	}
	if err := m.SaveChecked(path, meta, check); err != nil {
		if bad != nil {
			return fmt.Errorf("not writing %s: %w", path, bad)
		}
		return fmt.Errorf("ijepa: %w", err)
	}
	return nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, synced and renamed over path.
func writeFileAtomic(path string, b []byte) error {
	err := atomicfile.Write(path, func(f *os.File) error {
		_, err := f.Write(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("ijepa: %s: %w", path, err)
	}
	return nil
}

// CheckpointInfo is what a checkpoint's metadata says about its run.
type CheckpointInfo struct {
	// Step is the number of steps done; Seed the run's seed.
	Step int64
	Seed uint64
	// AdamWOffset is Step minus AdamW's step count (MetaAdamWOffset).
	AdamWOffset int64
	// Config is the run's config, when the checkpoint holds one.
	Config *config.Config
	// Scaler is the GradScaler's state, when the checkpoint holds one
	// (MetaLossScale): PyTorch's defaults with the saved scale and
	// tracker.
	Scaler *amp.GradScaler
	// Ranks is the number of data-parallel ranks that wrote it (MetaRanks);
	// Epoch and EpochOffset the data order's position (MetaEpoch,
	// MetaEpochOffset), EpochOffset -1 where the checkpoint has none.
	Ranks              int
	Epoch, EpochOffset int64
}

// ReadCheckpointInfo reads the trainer's metadata of a checkpoint without
// loading its tensors.
func ReadCheckpointInfo(path string) (CheckpointInfo, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return CheckpointInfo{}, fmt.Errorf("ijepa: %w", err)
	}
	meta := f.Metadata
	f.Close()
	return parseInfo(path, meta)
}

func parseInfo(path string, meta map[string]string) (CheckpointInfo, error) {
	var info CheckpointInfo
	if meta[model.MetaFormat] != model.CheckpointFormat {
		return info, fmt.Errorf("ijepa: %s: not an ijepa-go checkpoint (format %q, want %q)", path, meta[model.MetaFormat], model.CheckpointFormat)
	}
	var err error
	if info.Step, err = strconv.ParseInt(meta[MetaStep], 10, 64); err != nil || info.Step < 0 {
		return info, fmt.Errorf("ijepa: %s: metadata %q is %q, want a step count", path, MetaStep, meta[MetaStep])
	}
	if info.Seed, err = strconv.ParseUint(meta[MetaSeed], 10, 64); err != nil {
		return info, fmt.Errorf("ijepa: %s: metadata %q is %q, want a seed", path, MetaSeed, meta[MetaSeed])
	}
	if o, ok := meta[MetaAdamWOffset]; ok {
		if info.AdamWOffset, err = strconv.ParseInt(o, 10, 64); err != nil || info.AdamWOffset > info.Step {
			return info, fmt.Errorf("ijepa: %s: metadata %q is %q, want a number of steps of at most %d", path, MetaAdamWOffset, o, info.Step)
		}
	}
	if v, ok := meta[MetaLossScale]; ok {
		s := amp.NewGradScaler()
		s.Scale, err = strconv.ParseFloat(v, 64)
		if err == nil {
			s.GrowthTracker, err = strconv.Atoi(meta[MetaGrowthTracker])
		}
		if err == nil {
			err = s.Validate()
		}
		if err != nil {
			return info, fmt.Errorf("ijepa: %s: metadata %q %q and %q %q: %v", path, MetaLossScale, v, MetaGrowthTracker, meta[MetaGrowthTracker], err)
		}
		info.Scaler = s
	}
	if err := parsePosition(path, meta, &info); err != nil {
		return info, err
	}
	if ls := meta[MetaLoaderStep]; ls != meta[MetaStep] {
		return info, fmt.Errorf("ijepa: %s: metadata %q is %q, %q is %q: they must agree", path, MetaLoaderStep, ls, MetaStep, meta[MetaStep])
	}
	if y := meta[MetaConfig]; y != "" {
		c, err := config.Parse(path+" (metadata "+MetaConfig+")", []byte(y))
		if err != nil {
			return info, err
		}
		info.Config = c
	}
	return info, nil
}
