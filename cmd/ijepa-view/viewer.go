package main

import (
	"context"
	"fmt"
	"image"
	"os"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/runlog"
	"github.com/ijepa-go/ijepa/ijepa/viz"
)

// options configure a viewer.
type options struct {
	// Backend runs the encoder for the feature picture ("": the run's).
	Backend string
	// Page is how many images each panel shows at once.
	Page int
	// Images is how many held-out images the feature picture pages through.
	Images int
	// Poll is how often the run directory is looked at.
	Poll time.Duration
}

// key is a viewer command, bound to keys by the window (see keys.go).
type key int

const (
	keyNext    key = iota // the next page of images
	keyPrev               // the previous page of images
	keyEarlier            // the batch of the step before
	keyLater              // the batch of the step after
	keyFollow             // follow the latest step again
	keyReload             // re-read everything
	keyQuit               // close the window
)

// help documents the keys in the frame's bottom line.
const help = "Right/Left: next/previous images   Up/Down: earlier/later step   F: follow the latest step   R: reload   Q/Esc: quit"

// stamp identifies a version of a file: its size and modification time.
type stamp struct {
	size int64
	mod  time.Time
}

func statStamp(path string) (stamp, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return stamp{}, false
	}
	return stamp{st.Size(), st.ModTime()}, true
}

// viewer follows a run directory: it re-reads log.csv and eval.csv when
// they change, draws the masks of the latest step's batch (or of the step
// chosen with the keys), and the feature picture of the latest checkpoint.
// Batches and features are computed by one background goroutine; every
// other method runs on the caller's goroutine (the window's).
type viewer struct {
	dir string
	opt options
	ctx context.Context
	end context.CancelFunc

	cfg    *config.Config
	train  data.Dataset
	cfgErr string

	stamps   map[string]stamp
	lastPoll time.Time
	log      []runlog.LogRow
	eval     []runlog.EvalRow
	logErr   string

	follow  bool
	step    int64 // the step whose batch is shown (or wanted)
	offset  int   // index of the first image shown
	batch   *viz.Batch
	batchAt int64 // the step batch belongs to
	maskErr string

	ckpt      stamp              // the checkpoint the features are of (or being computed)
	evalIm    *viz.FeatureImages // the held-out images, at the encoder's size
	feats     []float32
	featGrid  int
	featDim   int
	featTitle string
	featErr   string

	jobs    chan func() func(*viewer) // work for the background goroutine
	results chan func(*viewer)        // its results, applied by update
	busy    int                       // jobs queued or running
	wake    func()                    // called when a result is ready (may be nil)
}

func newViewer(dir string, opt options, wake func()) (*viewer, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("ijepa-view: %s is not a run directory", dir)
	}
	if opt.Page < 1 {
		opt.Page = 4
	}
	if opt.Images < opt.Page {
		opt.Images = max(16, opt.Page)
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	v := &viewer{dir: dir, opt: opt, stamps: map[string]stamp{}, follow: true, step: 1,
		jobs: make(chan func() func(*viewer), 4), results: make(chan func(*viewer), 4), wake: wake}
	v.ctx, v.end = context.WithCancel(context.Background())
	go func() {
		for job := range v.jobs {
			res := job()
			select {
			case v.results <- res:
			case <-v.ctx.Done():
				return
			}
			if v.wake != nil {
				v.wake()
			}
		}
	}()
	return v, nil
}

// close stops the background goroutine (a job running finishes first).
func (v *viewer) close() {
	v.end()
	close(v.jobs)
}

// submit queues a job; its result is applied by a later update.
func (v *viewer) submit(job func() func(*viewer)) {
	v.busy++
	v.jobs <- job
}

// update applies finished work, looks at the run directory when the poll
// interval has passed (or force is true), and starts the work the new state
// needs. It reports whether what the frame shows changed.
func (v *viewer) update(force bool) bool {
	changed := false
	for {
		select {
		case apply := <-v.results:
			v.busy--
			apply(v)
			changed = true
			continue
		default:
		}
		break
	}
	if force || time.Since(v.lastPoll) >= v.opt.Poll {
		v.lastPoll = time.Now()
		changed = v.poll(force) || changed
	}
	v.schedule()
	return changed
}

// changedFile reports whether the file has a new version since the last
// call, and whether it exists.
func (v *viewer) changedFile(name string, force bool) (changed, exists bool) {
	st, ok := statStamp(runlog.Path(v.dir, name))
	old, had := v.stamps[name]
	if !ok {
		delete(v.stamps, name)
		return had, false
	}
	v.stamps[name] = st
	return force || !had || old != st, true
}

func (v *viewer) poll(force bool) bool {
	changed := false
	if v.cfg == nil {
		if ch, ok := v.changedFile(runlog.ConfigFile, force); ch || force {
			changed = true
			if !ok {
				v.cfgErr = "waiting for " + runlog.Path(v.dir, runlog.ConfigFile)
			} else if err := v.loadConfig(); err != nil {
				v.cfgErr = err.Error()
			} else {
				v.cfgErr = ""
			}
		}
	}
	if ch, ok := v.changedFile(runlog.LogFile, force); ch {
		changed = true
		v.log, v.logErr = nil, ""
		if ok {
			log, err := runlog.ReadLog(runlog.Path(v.dir, runlog.LogFile))
			if err != nil {
				v.logErr = err.Error()
			}
			v.log = log
		}
	}
	if ch, ok := v.changedFile(runlog.EvalFile, force); ch {
		changed = true
		v.eval = nil
		if ok {
			v.eval, _ = runlog.ReadEval(runlog.Path(v.dir, runlog.EvalFile))
		}
	}
	if v.follow {
		last := int64(1)
		if len(v.log) > 0 {
			last = v.log[len(v.log)-1].Step
		}
		if last != v.step {
			v.step, changed = last, true
		}
	}
	return changed
}

func (v *viewer) loadConfig() error {
	cfg, err := config.Load(runlog.Path(v.dir, runlog.ConfigFile))
	if err != nil {
		return err
	}
	train, err := data.Open(cfg.DatasetSpec(true))
	if err != nil {
		return err
	}
	v.cfg, v.train = cfg, train
	return nil
}

// schedule starts the batch of the wanted step and the features of a new
// checkpoint, one job at a time.
func (v *viewer) schedule() {
	if v.cfg == nil || v.busy > 0 {
		return
	}
	if v.batchAt != v.step {
		step, cfg, train := v.step, v.cfg, v.train
		v.batchAt = step
		v.submit(func() func(*viewer) {
			b, err := viz.TrainBatch(v.ctx, cfg, train, step, cfg.Data.BatchSize)
			return func(v *viewer) {
				if err != nil {
					v.batch, v.maskErr = nil, fmt.Sprintf("step %d: %v", step, err)
					return
				}
				v.batch, v.maskErr = b, ""
			}
		})
		return
	}
	path := runlog.Path(v.dir, runlog.LatestCheckpoint)
	st, ok := statStamp(path)
	if !ok {
		if v.feats == nil {
			v.featErr = "waiting for the first checkpoint, " + path
		}
		return
	}
	if st == v.ckpt {
		return
	}
	v.ckpt = st
	cfg, be, n := v.cfg, v.opt.Backend, v.opt.Images
	if be == "" {
		be = cfg.IJEPAGo.Backend
	}
	v.submit(func() func(*viewer) {
		fi, f, grid, dim, title, err := checkpointFeatures(cfg, be, path, n)
		return func(v *viewer) {
			if err != nil {
				v.featErr = err.Error()
				return
			}
			v.evalIm, v.feats, v.featGrid, v.featDim, v.featTitle, v.featErr = fi, f, grid, dim, title, ""
		}
	})
}

// checkpointFeatures loads the target encoder of the checkpoint at path on
// the backend and returns the held-out images of cfg at its input size and
// their patch features.
func checkpointFeatures(cfg *config.Config, beName, path string, n int) (fi *viz.FeatureImages, f []float32, grid, dim int, about string, err error) {
	be, err := backend.Open(beName)
	if err != nil {
		return nil, nil, 0, 0, "", err
	}
	defer be.Close()
	enc, err := viz.LoadTarget(be, path)
	if err != nil {
		return nil, nil, 0, 0, "", err
	}
	defer enc.Free()
	if fi, err = viz.LoadFeatureImages(cfg, n, enc.ImageSize()); err != nil {
		return nil, nil, 0, 0, "", err
	}
	if f, err = enc.PatchFeatures(fi.X); err != nil {
		return nil, nil, 0, 0, "", err
	}
	return fi, f, enc.ViT.Cfg.Grid(), enc.ViT.Cfg.Dim, enc.About, nil
}

// idle reports whether no work is queued or running.
func (v *viewer) idle() bool { return v.busy == 0 }

// key applies a command and reports whether the frame changed.
func (v *viewer) key(k key) bool {
	switch k {
	case keyNext:
		v.offset += v.opt.Page
	case keyPrev:
		v.offset -= v.opt.Page
	case keyEarlier:
		if v.step <= 1 {
			return false
		}
		v.follow, v.step = false, v.step-1
	case keyLater:
		v.follow, v.step = false, v.step+1
		if n := len(v.log); n > 0 && v.step >= v.log[n-1].Step {
			v.follow, v.step = true, v.log[n-1].Step
		}
	case keyFollow:
		v.follow = true
		v.poll(false)
	case keyReload:
		v.ckpt, v.batchAt, v.cfg = stamp{}, 0, nil
		v.update(true)
	default:
		return false
	}
	return true
}

// page returns the indices [from, to) of the page of images at the
// viewer's offset in a list of n, wrapping around.
func (v *viewer) page(n int) (from, to int) {
	if n == 0 {
		return 0, 0
	}
	p := min(v.opt.Page, n)
	pages := (n + p - 1) / p
	i := ((v.offset/v.opt.Page)%pages + pages) % pages
	return i * p, min(i*p+p, n)
}

// state is what the frame shows now, drawn to fit a w x h frame.
func (v *viewer) state(w, h int) viz.FrameState {
	l := viz.Layout(w, h)
	st := viz.FrameState{Title: viz.RunTitle(v.dir, v.log), Log: v.log, Eval: v.eval, Help: help}
	if v.follow {
		st.Title += "  [following]"
	} else {
		st.Title += fmt.Sprintf("  [step %d: press F to follow]", v.step)
	}
	if v.logErr != "" {
		st.Title += "  " + v.logErr
	}
	// Images per row to try: all in one row, in two rows, in one column.
	cols := []int{v.opt.Page, max(1, (v.opt.Page+1)/2), 1}
	switch {
	case v.cfg == nil:
		st.MasksNote, st.FeaturesNote = v.cfgErr, v.cfgErr
		return st
	case v.maskErr != "":
		st.MasksNote = v.maskErr
	case v.batch == nil || v.batchAt != v.step || v.batch.Masks.Step != v.step-1:
		st.MasksNote = fmt.Sprintf("sampling the batch of step %d ...", v.step)
	default:
		b := v.batch
		from, to := v.page(len(b.Images))
		size := b.Images[0].Bounds().Dx()
		pic, err := viz.FitCell(size, l.Masks.Dx(), l.Masks.Dy(), cols, func(cell, cols int) (*viz.Picture, error) {
			return viz.Masks(b.Images[from:to], b.Masks, viz.MaskOptions{Cell: cell, Cols: cols, Labels: b.Labels[from:to], First: from})
		})
		if err != nil {
			st.MasksNote = err.Error()
		} else {
			st.Masks = pic.Image
		}
	}
	switch {
	case v.feats == nil && v.featErr != "":
		st.FeaturesNote = v.featErr
	case v.feats == nil:
		st.FeaturesNote = "computing the features of the latest checkpoint ..."
	default:
		fi := v.evalIm
		from, to := v.page(len(fi.Images))
		per := v.featGrid * v.featGrid * v.featDim
		size := fi.Images[0].Bounds().Dx()
		title := v.featTitle
		if v.featErr != "" {
			title += " (newer: " + v.featErr + ")"
		}
		pic, err := viz.FitCell(size, l.Features.Dx(), l.Features.Dy(), cols, func(cell, cols int) (*viz.Picture, error) {
			fp, err := viz.Features(fi.Images[from:to], v.feats[from*per:to*per], v.featGrid, v.featDim,
				viz.FeatureOptions{Cell: cell, Cols: cols, Labels: fi.Labels[from:to], Title: title})
			if err != nil {
				return nil, err
			}
			return fp.Picture, nil
		})
		if err != nil {
			st.FeaturesNote = err.Error()
		} else {
			st.Features = pic.Image
		}
	}
	return st
}

// frame draws the current state as a w x h image.
func (v *viewer) frame(w, h int) (*image.RGBA, error) {
	return viz.Frame(w, h, v.state(w, h))
}
