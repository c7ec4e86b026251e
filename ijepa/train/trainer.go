// Package train runs I-JEPA pre-training: it lays out a run from a config
// (datasets, masks, schedules), feeds the model batches built ahead by the
// loader, evaluates the schedules before each step as the official trainer
// does, logs every step, checkpoints atomically, evaluates frozen features,
// and resumes a run exactly.
//
// A run lives in one directory (docs/RUNS.md): config.yaml, log.csv,
// eval.csv and checkpoints/. On the CPU backend a resumed run gives the same
// loss sequence, bit for bit, as an unbroken one: every random draw is a
// function of the seed and the step, and a checkpoint holds the weights, the
// optimiser's moments and step count, and the step.
package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/internal/atomicfile"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// Options configures a run.
type Options struct {
	// Config is the run's resolved, validated config.
	Config *config.Config
	// Backend runs the model.
	Backend backend.Backend
	// Dir is the run directory.
	Dir string
	// Resume continues the run in Dir from its latest checkpoint (or, when
	// it has none yet, from meta.read_checkpoint when set, or else at step
	// 0). Without Resume, Dir must not hold a run, unless the config says
	// meta.load_checkpoint (the official way to resume).
	Resume bool
	// Checkpoint, when set, is the checkpoint to start from: one written by
	// this trainer (an exact resume), or one without its metadata — the
	// official trainer's .pth.tar, or a safetensors export of one — whose
	// networks and AdamW state are loaded and whose epoch sets the step, as
	// the official trainer resumes (docs/RUNS.md). It comes before the
	// run's latest checkpoint, and is recorded in config.yaml as
	// meta.load_checkpoint and meta.read_checkpoint.
	Checkpoint string
	// Strict refuses a Checkpoint whose optimiser state cannot be used
	// (other parameter groups than the official four, say) instead of
	// starting AdamW fresh.
	Strict bool
	// Eval scores the target encoder every ijepago.probe_every steps and at
	// the end, appending to eval.csv.
	Eval bool
	// Progress receives a progress bar with the loss, the learning rate
	// and images/s (when Bar) and the log lines; nil discards them.
	Progress io.Writer
	// Bar draws a progress bar on Progress (a terminal); otherwise a line
	// is logged every ijepago.log_every steps.
	Bar bool
	// Log receives the run's messages (checkpoints, evaluations, resume);
	// nil logs to Progress.
	Log *slog.Logger
	// World is the data-parallel group this process is a rank of (nil: a
	// single process). Every rank runs Run with the same config on its own
	// backend; data.batch_size is per rank; rank 0 alone reads the
	// checkpoint it starts from, writes Dir and evaluates (see
	// distributed.go).
	World dist.Comm

	// afterStep, when set (tests), runs after each step is logged; an
	// error stops the run there as a crash would (no checkpoint).
	afterStep func(step int64) error
	// beforeStep, when set (tests), is given each step's batch and
	// scheduled values just before the model takes the step.
	beforeStep func(step int64, b *data.Batch, h model.Hyper) error
	// globalMasks samples the masks of every global batch, so that they
	// do not depend on the number of ranks (data.LoaderConfig.GlobalMasks;
	// the data-parallel equivalence tests).
	globalMasks bool
}

// Result is what a run did.
type Result struct {
	// Start is the step the run started from (0, or the checkpoint's step);
	// Step is the last step done.
	Start, Step int64
	// Losses holds the loss of each step this run made (steps Start+1 to
	// Step).
	Losses []float64
	// Evals holds the evaluations this run made.
	Evals []runlog.EvalRow
	// Checkpoint is the last checkpoint written ("" if none).
	Checkpoint string
	// Elapsed is the run's wall time.
	Elapsed time.Duration
}

// Trainer holds a run while it runs.
type Trainer struct {
	opt   Options
	cfg   *config.Config
	be    backend.Backend
	log   *slog.Logger
	plan  *plan
	model *model.Model
	ckDir string
	eval  *Evaluator
	// lastGood is the newest checkpoint known to hold a finite model, and
	// lastGoodStep its step.
	lastGood     string
	lastGoodStep int64
	// adamwOffset is the step minus AdamW's step count (MetaAdamWOffset).
	adamwOffset int64
	// lock is the run directory's lock, held while the trainer lives.
	lock *runlog.Lock
	// relaxedSaid is set once the run has said that the mask sampler
	// relaxed.
	relaxedSaid bool
	// good judges whether the model may be checkpointed (good.go).
	good *goodness
	// memory logs the run's memory estimate (memory.go).
	memory func()
	// precision is the precision the run trains in (choosePrecision).
	precision amp.Precision
	// startOffset is the loader's data.LoaderConfig.StartOffset: nonzero
	// when the run resumes a checkpoint of another number of ranks.
	startOffset int64
	loader      *data.Loader

	// Data parallel (distributed.go): the group, the gradient reducer,
	// and whether some rank was interrupted.
	world      dist.Comm
	reducer    *dist.Reducer
	stopAgreed bool
}

// Run runs (or resumes) the training Options describe until ijepago.steps
// (or epochs) steps are done, ctx is cancelled (a checkpoint is written
// first), the loss stops being finite, or an error occurs.
func Run(ctx context.Context, opt Options) (*Result, error) {
	t, err := newTrainer(opt)
	if err != nil {
		return nil, err
	}
	defer t.close()
	return t.run(ctx)
}

// close stops the gradient reducer, frees the model and unlocks the run
// directory.
func (t *Trainer) close() {
	t.closeWorld()
	if t.model != nil {
		t.model.Free()
	}
	t.lock.Unlock()
}

func newTrainer(opt Options) (_ *Trainer, err error) {
	if opt.Config == nil || opt.Backend == nil || opt.Dir == "" {
		return nil, fmt.Errorf("ijepa: train: a config, a backend and a run directory are required")
	}
	if opt.Progress == nil {
		opt.Progress = io.Discard
	}
	t := &Trainer{opt: opt, cfg: opt.Config, be: opt.Backend, log: opt.Log,
		ckDir: filepath.Join(opt.Dir, runlog.CheckpointDir), lastGoodStep: -1, world: dist.Or(opt.World)}
	if t.log == nil {
		t.log = slog.New(slog.NewTextHandler(opt.Progress, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	}
	if note := t.cfg.DefaultsNote(); note != "" {
		t.log.Warn(note)
	}
	if err := t.useCheckpoint(); err != nil {
		return nil, err
	}
	if err := t.cfg.Validate(); err != nil {
		return nil, err
	}
	var bar io.Writer
	if opt.Bar {
		bar = opt.Progress
	}
	p, err := newPlan(t.cfg, t.world.Size(), func(msg string) { t.log.Warn(msg) }, bar)
	if err != nil {
		return nil, err
	}
	t.plan = p
	if t.precision, err = t.choosePrecision(); err != nil {
		return nil, err
	}
	if err := t.checkMemory(); err != nil {
		return nil, err
	}
	// Nothing in the run directory is read or written before it is
	// locked, and a run that fails to set up touches nothing there. Of
	// the ranks of a data-parallel run, rank 0 alone touches it.
	if t.root() {
		if t.lock, err = lockRunDir(opt.Dir); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				t.lock.Unlock()
			}
		}()
		if err := t.prepareDir(); err != nil {
			return nil, err
		}
	}
	mc, err := t.cfg.ModelConfig()
	if err != nil {
		return nil, err
	}
	if t.model, err = model.New(mc); err != nil {
		return nil, err
	}
	if err := t.model.Alloc(t.be, t.cfg.IJEPAGo.Seed); err != nil {
		return nil, err
	}
	t.model.SetPrecision(t.precision)
	t.good = newGoodness(t.model)
	if err := t.setupWorld(); err != nil {
		t.model.Free()
		return nil, err
	}
	return t, nil
}

// choosePrecision returns the precision the run trains in: the config's
// (ijepago.precision, or bf16 by meta.use_bfloat16), which the backend must
// hold tensors of. A backend without them fails the run when
// ijepago.precision names the precision, and trains in fp32 with a warning
// when it comes from meta.use_bfloat16 (official configs set it, and some
// devices have no 16-bit storage).
func (t *Trainer) choosePrecision() (amp.Precision, error) {
	p, err := t.cfg.Precision()
	if err != nil {
		return 0, err
	}
	info := t.be.Info()
	if info.SupportsDType(p.Low()) {
		return p, nil
	}
	if t.cfg.PrecisionExplicit() {
		return 0, fmt.Errorf("ijepa: ijepago.precision %v: backend %s (%s) has no %v tensors (its dtypes: %v); train in fp32 or on another backend", p, info.Backend, info.Device, p.Low(), info.DTypes)
	}
	t.log.Warn(fmt.Sprintf("meta.use_bfloat16: backend %s (%s) has no %v tensors: training in fp32", info.Backend, info.Device, p.Low()))
	return amp.FP32, nil
}

// dropTime removes the time from log lines (the run's elapsed time is in
// log.csv).
func dropTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

// prepareDir creates the run directory, refusing one that already holds a
// run unless resuming.
func (t *Trainer) prepareDir() error {
	if !t.resuming() {
		for _, name := range []string{runlog.ConfigFile, runlog.LogFile, filepath.Join(runlog.CheckpointDir, runlog.LatestFile)} {
			if _, err := os.Stat(filepath.Join(t.opt.Dir, name)); err == nil {
				return fmt.Errorf("ijepa: %s already holds a run (%s): continue it with --resume, or choose another run directory", t.opt.Dir, name)
			}
		}
	}
	if err := os.MkdirAll(t.ckDir, 0o755); err != nil {
		return fmt.Errorf("ijepa: %w", err)
	}
	// The lock is held: a temporary file here is a crash's.
	atomicfile.RemoveTemps(t.opt.Dir)
	atomicfile.RemoveTemps(t.ckDir)
	return nil
}

// writeConfig writes the resolved config to config.yaml (atomically),
// keeping a config.yaml that differs (keepChangedConfig).
func (t *Trainer) writeConfig() error {
	path := filepath.Join(t.opt.Dir, runlog.ConfigFile)
	y, err := t.cfg.YAML()
	if err != nil {
		return fmt.Errorf("ijepa: %s: %w", path, err)
	}
	if err := t.keepChangedConfig(path, y); err != nil {
		return err
	}
	return writeFileAtomic(path, y)
}

// resuming reports whether the run continues the run in its directory:
// --resume, or the official meta.load_checkpoint (a run started from
// Options.Checkpoint without Resume is a new run).
func (t *Trainer) resuming() bool {
	return t.opt.Resume || t.cfg.Meta.LoadCheckpoint && t.opt.Checkpoint == ""
}

// resumePoint loads the checkpoint a run starts from (startFile) and
// returns its step (0 without one).
func (t *Trainer) resumePoint() (int64, error) {
	if !t.resuming() && t.opt.Checkpoint == "" {
		return 0, nil
	}
	path := t.startFile()
	if path == "" {
		path = filepath.Join(t.ckDir, runlog.LatestFile)
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			t.log.Info("no checkpoint yet: starting at step 0", "dir", t.opt.Dir)
			return 0, nil
		}
	}
	if !t.ownCheckpoint(path) && !hasTrainerState(path) {
		return t.startFrom(path)
	}
	step, err := t.resumeExact(path)
	if err != nil && t.ownCheckpoint(path) {
		return 0, t.damaged(path, err)
	}
	return step, err
}

// ownCheckpoint reports whether path is in the run's checkpoint directory
// (a checkpoint this trainer wrote, however damaged).
func (t *Trainer) ownCheckpoint(path string) bool {
	a, err1 := filepath.Abs(filepath.Dir(path))
	b, err2 := filepath.Abs(t.ckDir)
	return err1 == nil && err2 == nil && a == b
}

// resumeExact loads a checkpoint with the trainer's metadata and returns
// its step.
func (t *Trainer) resumeExact(path string) (int64, error) {
	info, err := ReadCheckpointInfo(path)
	if err != nil {
		return 0, err
	}
	if info.Seed != t.cfg.IJEPAGo.Seed {
		return 0, fmt.Errorf("ijepa: %s: the checkpoint was trained with seed %d, the config says ijepago.seed %d", path, info.Seed, t.cfg.IJEPAGo.Seed)
	}
	if _, err := t.model.Load(path); err != nil {
		return 0, err
	}
	if int64(t.model.Opt.Steps)+info.AdamWOffset != info.Step {
		return 0, fmt.Errorf("ijepa: %s: the optimiser has done %d steps, the metadata says step %d (%s %d)", path, t.model.Opt.Steps, info.Step, MetaAdamWOffset, info.AdamWOffset)
	}
	start, offset := t.resumeAt(info)
	t.adamwOffset, t.startOffset = info.AdamWOffset+start-info.Step, offset
	if t.model.Scaler != nil && info.Scaler != nil {
		*t.model.Scaler = *info.Scaler
	}
	if start >= t.plan.sched.Steps {
		return 0, fmt.Errorf("ijepa: %s: the run is done (step %d of %d); raise ijepago.steps or optimization.epochs to go on", path, start, t.plan.sched.Steps)
	}
	t.lastGood, t.lastGoodStep = path, start
	if info.Ranks != t.world.Size() {
		t.log.Info("resuming on another number of ranks", "checkpoint", path, "ranks", info.Ranks, "now", t.world.Size(),
			"step", info.Step, "is now step", start, "epoch", start/t.plan.sched.IPE, "images of the epoch seen", offset)
	} else {
		t.log.Info("resuming", "checkpoint", path, "step", info.Step)
	}
	return start, nil
}

func (t *Trainer) run(ctx context.Context) (*Result, error) {
	began := time.Now()
	start, err := t.startPoint()
	if err != nil {
		return nil, err
	}
	if t.opt.Eval {
		// The evaluation images are loaded first, so that a dataset
		// problem shows before any training.
		if t.eval, err = NewEvaluator(t.cfg, t.be); err != nil {
			return nil, err
		}
	}
	// (A rank of a data-parallel run stops only where every rank agrees.)
	if t.world.Size() == 1 && ctx.Err() != nil {
		return nil, t.interrupted("before the first step", ctx.Err())
	}
	res := &Result{Start: start, Step: start}
	defer func() { res.Elapsed = time.Since(began) }()
	c, p := t.cfg, t.plan
	var logw *runlog.LogWriter
	if t.root() {
		// Only now that the checkpoint fits is anything in the directory written.
		if err := t.writeConfig(); err != nil {
			return nil, err
		}
		if logw, err = runlog.OpenLog(filepath.Join(t.opt.Dir, runlog.LogFile)); err != nil {
			return nil, err
		}
		defer logw.Close()
	}
	tf, err := c.TrainTransform()
	if err != nil {
		return nil, err
	}
	loaderCtx, stopLoader := context.WithCancel(context.Background())
	defer stopLoader()
	loader, err := data.NewLoader(loaderCtx, data.LoaderConfig{
		Dataset: p.train, Transform: tf, BatchSize: c.Data.BatchSize, Masks: p.masks,
		Seed: c.IJEPAGo.Seed, Shuffle: true, DropLast: true,
		Workers: c.Data.NumWorkers, Prefetch: c.IJEPAGo.Prefetch,
		StartStep: start, Steps: p.sched.Steps - start,
		Ranks: t.world.Size(), Rank: t.world.Rank(), StartOffset: t.startOffset, GlobalMasks: t.opt.globalMasks,
	})
	if err != nil {
		return nil, err
	}
	defer loader.Close()
	t.loader = loader

	every := c.IJEPAGo.CheckpointEvery
	if every == 0 {
		every = p.sched.IPE
	}
	t.log.Info("training", "steps", p.sched.Steps, "from", start, "ipe", p.sched.IPE, "batch", c.Data.BatchSize,
		"images", p.train.Len(), "backend", t.be.Info().Backend, "dir", t.opt.Dir)
	t.memory()
	prog := newProgress(t.opt, t.log, start, p.sched.Steps, c.IJEPAGo.LogEvery)
	defer prog.finish()

	lastLoss := math.NaN()
	step := start // steps done
	for step < p.sched.Steps {
		if t.stopping(ctx) {
			break
		}
		t0 := time.Now()
		b, err := loader.Next()
		if err != nil {
			return res, err
		}
		if t.stopping(ctx) {
			break
		}
		s := step + 1 // the official scheduler steps before the iteration
		lr, wd, mom := p.schedule.At(int(s))
		var scale float64
		if t.model.Scaler != nil {
			scale = t.model.Scaler.Scale
		}
		adamw := t.model.Opt.Steps
		hyper := model.Hyper{LR: lr, WD: wd, Momentum: mom}
		if t.opt.beforeStep != nil {
			if err := t.opt.beforeStep(s, b, hyper); err != nil {
				return res, err
			}
		}
		loss, err := t.model.Step(model.Batch{Images: b.Images, Context: b.Masks.Context, Targets: b.Masks.Targets}, hyper)
		if err != nil {
			return res, fmt.Errorf("ijepa: step %d: %w", s, err)
		}
		if t.model.Opt.Steps == adamw {
			t.adamwOffset++ // the scaler skipped the optimiser step (an overflow)
		}
		mean, err := t.agree(ctx, loss, b.Masks)
		if err != nil {
			return res, fmt.Errorf("ijepa: step %d: %w", s, err)
		}
		loss = mean.loss
		now := time.Now()
		row := runlog.LogRow{Step: s, Epoch: b.Epoch, Loss: loss, LR: lr, WD: wd, Momentum: mom,
			Context: mean.kc, Target: mean.kt, Relaxed: mean.relaxed, LossScale: scale,
			ImgPerS: float64(b.B()*t.world.Size()) / now.Sub(t0).Seconds(), ElapsedS: now.Sub(began).Seconds()}
		if logw != nil {
			if err := logw.Write(row); err != nil {
				return res, err
			}
		}
		t.noteRelaxed(row, prog)
		step = s
		res.Step = s
		res.Losses = append(res.Losses, loss)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			prog.finish()
			return res, fmt.Errorf("ijepa: step %d: the loss is %v: training stopped; %s (lower optimization.lr, or check the data)", s, loss, t.lastGoodText())
		}
		lastLoss = loss
		t.good.addLoss(loss)
		prog.step(row)
		if t.opt.afterStep != nil {
			if err := t.opt.afterStep(s); err != nil {
				return res, err
			}
		}
		if s%every == 0 || s == p.sched.Steps {
			if err := t.checkpoint(res, s, lastLoss, s%every == 0, prog); err != nil {
				return res, err
			}
		}
		if t.opt.Eval && c.IJEPAGo.ProbeEvery > 0 && s%c.IJEPAGo.ProbeEvery == 0 && s != p.sched.Steps {
			if err := t.evaluate(ctx, res, s, prog); err != nil {
				if ctx.Err() != nil {
					break // interrupted: the checkpoint below, no rows for this evaluation
				}
				return res, err
			}
		}
	}
	if t.stopping(ctx) {
		prog.finish()
		if step > 0 && step > t.lastGoodStep {
			if err := t.checkpoint(res, step, lastLoss, false, nil); err != nil {
				return res, fmt.Errorf("ijepa: interrupted at step %d: %w", step, err)
			}
		}
		return res, t.interrupted(fmt.Sprintf("at step %d", step), t.stopErr(ctx))
	}
	prog.finish()
	if t.opt.Eval {
		if err := t.evaluate(ctx, res, step, nil); err != nil {
			if ctx.Err() != nil {
				return res, t.interrupted("during the final evaluation (eval.csv has no rows for it: score the checkpoint with ijepa eval --run "+t.opt.Dir+")", err)
			}
			return res, err
		}
	}
	return res, nil
}

// interrupted is the error of a run stopped by ctx (Ctrl-C) when, at a
// safe point: it says what is saved and how to go on, and wraps cause.
func (t *Trainer) interrupted(when string, cause error) error {
	if t.lastGood == "" {
		return fmt.Errorf("ijepa: interrupted %s: no checkpoint written: %w", when, cause)
	}
	return fmt.Errorf("ijepa: interrupted %s: the newest checkpoint is %s (step %d); continue with --resume: %w", when, t.lastGood, t.lastGoodStep, cause)
}

// noteRelaxed says, once per run, that the mask sampler dropped a target's
// exclusion (log.csv's relaxed column counts every time).
func (t *Trainer) noteRelaxed(row runlog.LogRow, prog *progress) {
	if row.Relaxed == 0 || t.relaxedSaid {
		return
	}
	t.relaxedSaid = true
	prog.pause()
	t.log.Warn(fmt.Sprintf("step %d: the mask sampler dropped a target's exclusion %d times (no context block kept more than mask.min_keep patches outside the targets in %d draws): those contexts hold target patches; log.csv's relaxed column counts it every step; lower mask.pred_mask_scale or mask.min_keep to avoid it",
		row.Step, row.Relaxed, mask.Timeout))
}

// lastGoodText names the last good checkpoint for messages.
func (t *Trainer) lastGoodText() string {
	if t.lastGood == "" {
		return "no checkpoint was written yet"
	}
	return fmt.Sprintf("the last good checkpoint is %s (step %d)", t.lastGood, t.lastGoodStep)
}

// checkpoint writes latest.safetensors, and step-NNNNNNN.safetensors when
// numbered, after step steps, when the model is good (good.go): a loss far
// above its recent median skips the checkpoint with a warning; a model
// that is not finite or whose weights are beyond their bounds is not
// written and stops the run.
func (t *Trainer) checkpoint(res *Result, step int64, loss float64, numbered bool, prog *progress) error {
	if err := t.good.checkLoss(loss); err != nil {
		if prog != nil {
			prog.pause()
		}
		t.log.Warn(fmt.Sprintf("step %d: no checkpoint: %v; %s", step, err, t.lastGoodText()))
		return nil
	}
	if err := t.verifyRanks(step); err != nil {
		return err
	}
	latest := filepath.Join(t.ckDir, runlog.LatestFile)
	target := latest
	if numbered {
		target = filepath.Join(t.ckDir, runlog.StepCheckpoint(step))
	}
	if !t.root() { // rank 0 writes it
		t.lastGood, t.lastGoodStep = latest, step
		res.Checkpoint = target
		return nil
	}
	meta, err := checkpointMeta(t.cfg, step, t.plan.sched.IPE, t.adamwOffset, loss)
	if err != nil {
		return err
	}
	t.recordPosition(meta, step)
	scalerMeta(meta, t.model.Scaler)
	if err := saveCheckpoint(t.model, t.good, target, meta); err != nil {
		if errors.Is(err, ErrNotFinite) {
			return fmt.Errorf("ijepa: step %d: the model is no longer finite: training stopped; %s: %w", step, t.lastGoodText(), err)
		}
		if errors.Is(err, ErrNotGood) {
			return fmt.Errorf("ijepa: step %d: the model has diverged: training stopped; %s (lower optimization.lr): %w", step, t.lastGoodText(), err)
		}
		return err
	}
	if numbered {
		if err := atomicfile.Link(target, latest); err != nil {
			return fmt.Errorf("ijepa: %w", err)
		}
	}
	t.lastGood, t.lastGoodStep = latest, step
	res.Checkpoint = target
	if prog == nil || !prog.bar() {
		t.log.Info("checkpoint", "step", step, "file", target)
	}
	return nil
}

// evaluate scores the target encoder and appends the rows to eval.csv.
func (t *Trainer) evaluate(ctx context.Context, res *Result, step int64, prog *progress) error {
	if prog != nil {
		prog.pause()
	}
	t0 := time.Now()
	rows, err := t.eval.EvaluateContext(ctx, t.model, step)
	if err != nil {
		return err
	}
	t.log.Info("evaluated", "step", step, "seconds", strconv.FormatFloat(time.Since(t0).Seconds(), 'f', 1, 64))
	if err := runlog.AppendEval(filepath.Join(t.opt.Dir, runlog.EvalFile), rows); err != nil {
		return err
	}
	res.Evals = append(res.Evals, rows...)
	for _, r := range rows {
		t.log.Info("eval", "step", r.Step, "features", r.Features, "probe_acc", fmt4(r.ProbeAcc), "knn_acc", fmt4(r.KNNAcc))
	}
	return nil
}

func fmt4(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }

// progress shows a run's progress: a bar on a terminal, or a log line every
// log_every steps.
type progress struct {
	b     *progressbar.ProgressBar
	log   *slog.Logger
	every int64
}

func newProgress(opt Options, log *slog.Logger, start, total, every int64) *progress {
	p := &progress{log: log, every: every}
	if opt.Bar {
		p.b = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(opt.Progress),
			progressbar.OptionSetDescription("step"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(24),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
		)
		p.b.Set64(start)
	}
	return p
}

func (p *progress) bar() bool { return p.b != nil }

func (p *progress) step(r runlog.LogRow) {
	if p.b != nil {
		p.b.Describe(fmt.Sprintf("loss %.4f lr %.2e %5.0f img/s", r.Loss, r.LR, r.ImgPerS))
		p.b.Set64(r.Step)
		return
	}
	if r.Step%p.every == 0 {
		p.log.Info("step", "step", r.Step, "epoch", r.Epoch, "loss", strconv.FormatFloat(r.Loss, 'f', 5, 64),
			"lr", strconv.FormatFloat(r.LR, 'e', 2, 64), "img/s", strconv.FormatFloat(r.ImgPerS, 'f', 1, 64))
	}
}

// pause clears the bar so a message can be printed; the next step redraws it.
func (p *progress) pause() {
	if p.b != nil {
		p.b.Clear()
	}
}

func (p *progress) finish() {
	if p.b != nil {
		p.b.Exit()
		p.b = nil
	}
}
