package train

// This file is the trainer's data-parallel part (docs/DISTRIBUTED.md):
// with Options.World of more than one rank, each rank runs this trainer
// on its own backend and its own shard of every global batch, rank 0
// alone decides where the run starts and gives every rank its model, the
// gradients are averaged by a dist.Reducer inside each step, the loss is
// logged as the mean over the ranks, and rank 0 alone writes the run
// directory and evaluates.

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
)

// Checkpoint metadata of the data-parallel position, beside checkpoint.go's.
const (
	// MetaRanks is the number of ranks the run had when it wrote the
	// checkpoint (absent: 1).
	MetaRanks = "ranks"
	// MetaEpochOffset is how many images of epoch MetaEpoch's order the
	// steps before the next one read, all ranks together (absent: the
	// next step's batch index in the epoch times the batch size): the data
	// order goes on from there on any number of ranks.
	MetaEpochOffset = "epoch_offset"
)

// root reports whether this process writes the run directory.
func (t *Trainer) root() bool { return t.world.Rank() == 0 }

// setupWorld prepares a rank of a data-parallel run: the gradient reducer
// in every step, and no evaluation beside rank 0.
func (t *Trainer) setupWorld() error {
	if t.world.Size() == 1 {
		return nil
	}
	if !t.root() {
		t.opt.Eval = false
	}
	r, err := dist.NewReducer(t.world, t.be, t.model.BackwardOrder(), 0)
	if err != nil {
		return err
	}
	t.reducer = r
	t.model.Sync = r
	return nil
}

// closeWorld stops the reducer.
func (t *Trainer) closeWorld() {
	if t.reducer != nil {
		t.model.Sync = nil
		t.reducer.Close()
	}
}

// startState is where rank 0 starts the run, as it tells the other ranks.
type startState struct {
	Start, StartOffset, AdamWOffset, LastGoodStep int64
	AdamWSteps                                    int
	LastGood                                      string
	Err                                           string
}

// startPoint finds the step the run starts from (resumePoint) and, in a
// data-parallel run, gives every rank rank 0's start and model: rank 0
// alone reads a checkpoint; its weights, target encoder, AdamW moments
// and step count go to every rank, whose copies are then compared by
// checksum (so the ranks start identical, as DDP broadcasts the module
// at construction).
func (t *Trainer) startPoint() (int64, error) {
	if t.world.Size() == 1 {
		return t.resumePoint()
	}
	var st startState
	var rootErr error
	if t.root() {
		st.Start, rootErr = t.resumePoint()
		if rootErr != nil {
			st.Err = rootErr.Error()
		}
		st.StartOffset, st.AdamWOffset, st.AdamWSteps = t.startOffset, t.adamwOffset, t.model.Opt.Steps
		st.LastGood, st.LastGoodStep = t.lastGood, t.lastGoodStep
	}
	if err := dist.BcastJSON(t.world, 0, &st); err != nil {
		return 0, err
	}
	if rootErr != nil {
		return 0, rootErr
	}
	if st.Err != "" {
		return 0, fmt.Errorf("ijepa: rank 0 could not start the run: %s", st.Err)
	}
	t.startOffset, t.adamwOffset, t.model.Opt.Steps = st.StartOffset, st.AdamWOffset, st.AdamWSteps
	t.lastGood, t.lastGoodStep = st.LastGood, st.LastGoodStep
	tensors := t.model.Tensors()
	if err := dist.Broadcast(t.world, t.be, tensors, 0); err != nil {
		return 0, err
	}
	if err := dist.Verify(t.world, t.be, tensors, "model and optimiser state at the start"); err != nil {
		return 0, err
	}
	if t.root() {
		t.log.Info("data parallel", "ranks", t.world.Size(), "global batch", t.cfg.Data.BatchSize*t.world.Size(),
			"comm", t.world.Describe(), "buckets", t.reducer.Stats().Buckets, "gradient bytes", t.reducer.Stats().Bytes)
	}
	return st.Start, nil
}

// resumeAt converts a checkpoint's position to this run's start step and
// loader offset (data.ResumeStep): on the checkpoint's own number of ranks
// that is its step, on another the step at which the data order goes on
// from the images seen. A checkpoint without a recorded offset (written
// before offsets were) is at (step mod steps per epoch) whole batches.
func (t *Trainer) resumeAt(info CheckpointInfo) (start, offset int64) {
	ranks, n, batch := t.world.Size(), t.plan.train.Len(), t.cfg.Data.BatchSize
	epoch, off := info.Epoch, info.EpochOffset
	if off < 0 {
		if info.Ranks == ranks {
			return info.Step, 0
		}
		ipe := data.StepsPerEpoch(data.ShardLen(n, info.Ranks), batch, true)
		epoch, off = info.Step/ipe, info.Step%ipe*int64(batch*info.Ranks)
	}
	return data.ResumeStep(n, batch, ranks, epoch, off)
}

// recordPosition adds the data-parallel position of the next step to a
// checkpoint's metadata.
func (t *Trainer) recordPosition(meta map[string]string, step int64) {
	meta[MetaRanks] = strconv.Itoa(t.world.Size())
	if t.loader != nil {
		e, off := t.loader.Position(step)
		meta[MetaEpoch] = strconv.FormatInt(e, 10)
		meta[MetaEpochOffset] = strconv.FormatInt(off, 10)
	}
}

// parsePosition reads the data-parallel position of a checkpoint's
// metadata into info: 1 rank and no offset (-1) where it says none.
func parsePosition(path string, meta map[string]string, info *CheckpointInfo) error {
	info.Ranks, info.EpochOffset = 1, -1
	if v, ok := meta[MetaRanks]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("ijepa: %s: metadata %q is %q, want a number of ranks", path, MetaRanks, v)
		}
		info.Ranks = n
	}
	if v, ok := meta[MetaEpochOffset]; ok {
		e, err1 := strconv.ParseInt(meta[MetaEpoch], 10, 64)
		off, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil || e < 0 || off < 0 {
			return fmt.Errorf("ijepa: %s: metadata %q %q and %q %q, want an epoch and a number of images", path, MetaEpoch, meta[MetaEpoch], MetaEpochOffset, v)
		}
		info.Epoch, info.EpochOffset = e, off
	}
	return nil
}

// stepMean is a step's loss and mask sizes, averaged over the ranks, and
// the mask sampler's relaxations, summed.
type stepMean struct {
	loss            float64
	kc, kt, relaxed int
}

// agree averages a step's loss and mask sizes over the ranks, sums the
// sampler's relaxations and, in the same all-reduce, learns whether any
// rank was interrupted: then every rank stops after this step (stopping),
// so that none waits in a collective the others never reach.
func (t *Trainer) agree(ctx context.Context, loss float64, m *mask.Batch) (stepMean, error) {
	if t.world.Size() == 1 {
		return stepMean{loss, m.Kc(), m.Kt(), m.Relaxed}, nil
	}
	stop := 0.0
	if ctx.Err() != nil {
		stop = 1
	}
	v := []float64{loss, float64(m.Kc()), float64(m.Kt()), float64(m.Relaxed), stop}
	if err := t.world.AllreduceF64(v); err != nil {
		return stepMean{}, fmt.Errorf("ijepa: averaging the step's loss over the ranks: %w", err)
	}
	t.stopAgreed = v[4] > 0
	n := float64(t.world.Size())
	return stepMean{v[0] / n, int(math.Round(v[1] / n)), int(math.Round(v[2] / n)), int(v[3])}, nil
}

// stopping reports whether the run stops: the context is cancelled (one
// process), or some rank's was by the last step (agree).
func (t *Trainer) stopping(ctx context.Context) bool {
	if t.world.Size() == 1 {
		return ctx.Err() != nil
	}
	return t.stopAgreed
}

// stopErr is the cause of the run's interruption at the end of the step
// loop: the context's error in a single process; in a data-parallel run,
// where every rank stops there together, that error (context.Canceled on a
// rank whose own context was not cancelled) marked dist.ErrAgreed.
func (t *Trainer) stopErr(ctx context.Context) error {
	err := ctx.Err()
	if t.world.Size() == 1 {
		return err
	}
	if err == nil {
		err = context.Canceled
	}
	return fmt.Errorf("%w (%w)", err, dist.ErrAgreed)
}

// verifyRanks checks, at each checkpoint, that every rank still holds the
// same model (the ranks' steps must stay identical: a rank whose backend
// computes differently would drift away unseen).
func (t *Trainer) verifyRanks(step int64) error {
	if t.world.Size() == 1 {
		return nil
	}
	return dist.Verify(t.world, t.be, t.model.Tensors(), fmt.Sprintf("model after step %d", step))
}
