package train

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ijepa-go/ijepa/ijepa/interop"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// This file chooses the checkpoint a run starts from and starts from one
// that lacks the trainer's metadata (an official .pth.tar, or an export of
// one), as the official trainer's load_checkpoint does.

// MetaEpochKey is the metadata key of an official checkpoint's epoch: the
// number of epochs done (src/train.py saves epoch+1 after each epoch), kept
// by interop.Open and by ijepa export.
const MetaEpochKey = "epoch"

// useCheckpoint records Options.Checkpoint (made absolute) in the run's
// config as the official keys say it: meta.load_checkpoint and
// meta.read_checkpoint. The caller's config is not changed.
func (t *Trainer) useCheckpoint() error {
	if t.opt.Checkpoint == "" {
		return nil
	}
	abs, err := filepath.Abs(t.opt.Checkpoint)
	if err != nil {
		return fmt.Errorf("ijepa: checkpoint %s: %w", t.opt.Checkpoint, err)
	}
	c := *t.cfg
	c.Meta.LoadCheckpoint, c.Meta.ReadCheckpoint = true, abs
	t.cfg, t.opt.Checkpoint = &c, abs
	return nil
}

// startFile is the checkpoint a run starts from: Options.Checkpoint; else,
// when resuming the run in the directory, its latest checkpoint (the run's
// own progress comes before meta.read_checkpoint, which says where it
// started); else meta.read_checkpoint. "" stands for the run's latest
// checkpoint, which may not exist yet.
func (t *Trainer) startFile() string {
	if t.opt.Checkpoint != "" {
		return t.opt.Checkpoint
	}
	if t.opt.Resume {
		latest := filepath.Join(t.ckDir, runlog.LatestFile)
		if _, err := os.Stat(latest); err == nil {
			return latest
		}
	}
	return t.cfg.Meta.ReadCheckpoint
}

// hasTrainerState reports whether path is a safetensors file with the
// trainer's metadata (a checkpoint of ijepa train, resumed exactly).
func hasTrainerState(path string) bool {
	f, err := safetensors.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	_, ok := f.Metadata[MetaStep]
	return ok
}

// startFrom starts the run from a checkpoint without the trainer's
// metadata — the official trainer's .pth.tar, or a safetensors file
// exported from one — as the official load_checkpoint does: it loads the
// encoder, the predictor and the target encoder and, when the file holds
// them, AdamW's moments and step count (else they start at zero); the step
// is the file's epoch times this config's iterations per epoch, so the
// schedules, the masks and the data order go on from there; the seed is
// the config's. It logs what was restored and what was not, and returns
// the step.
func (t *Trainer) startFrom(path string) (int64, error) {
	mc := t.model.Cfg
	ck, err := interop.Open(path, interop.Options{Model: &mc})
	if err != nil {
		return 0, err
	}
	defer ck.Close()
	if ck.OptimizerSkipped != "" && t.opt.Strict {
		return 0, fmt.Errorf("%s; --strict: not starting AdamW fresh from this checkpoint (without --strict its networks are loaded and AdamW starts fresh)", ck.OptimizerSkipped)
	}
	if err := ck.Load(t.model); err != nil {
		return 0, err
	}
	var epoch int64
	e, hasEpoch := ck.Meta[MetaEpochKey]
	if hasEpoch {
		if epoch, err = strconv.ParseInt(e, 10, 64); err != nil || epoch < 0 {
			return 0, fmt.Errorf("ijepa: %s: %s %q is not a number of epochs", path, MetaEpochKey, e)
		}
	}
	ipe := t.plan.sched.IPE
	step := epoch * ipe
	if step >= t.plan.sched.Steps {
		return 0, fmt.Errorf("ijepa: %s: the checkpoint is at epoch %d, step %d (%d iterations per epoch), and this run ends at step %d; raise optimization.epochs or ijepago.steps to go on",
			path, epoch, step, ipe, t.plan.sched.Steps)
	}
	t.adamwOffset = step - int64(t.model.Opt.Steps)
	msg := fmt.Sprintf("starting from %s (%s checkpoint without ijepa-go's training state): loaded the encoder, predictor and target_encoder", path, ck.Format)
	switch {
	case ck.HasOptimizer:
		msg += fmt.Sprintf(", AdamW's moments and step count (%d)", t.model.Opt.Steps)
	case ck.OptimizerSkipped != "":
		msg += fmt.Sprintf("; its optimiser state is not usable here (%s): AdamW starts fresh, moments at zero", ck.OptimizerSkipped)
	default:
		msg += "; no optimiser state: AdamW moments start at zero"
	}
	if hasEpoch {
		msg += fmt.Sprintf("; step %d = epoch %d x %d iterations per epoch", step, epoch, ipe)
	} else {
		msg += "; no epoch: the schedules start at step 0"
	}
	msg += fmt.Sprintf("; seed %d from the config", t.cfg.IJEPAGo.Seed)
	t.log.Info(msg)
	return step, nil
}
