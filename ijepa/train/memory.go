package train

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/mask"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/internal/memlimit"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// Before the first step the trainer estimates the run's peak memory and
// refuses, in one line naming the largest batch that fits, a run that
// cannot fit the memory available (internal/memlimit: the cgroup limit,
// RLIMIT_AS or the physical memory; for a device that holds the tensors,
// its memory). The estimate is a function of the model, the batch, the
// precision and the backend:
//
//   - the tensors: one training step at the largest masks of the run's
//     first steps (at most MaskSampleSteps), counted on a backend that
//     computes nothing (model.CountStep):
//     the model's state and the most the step's tensors ask for at once,
//     in the dtypes the precision gives them;
//   - the backend's footprint of those tensors (backendMemories);
//   - the host: the loader's batches, the dataset held in memory and,
//     with evaluations, their images and datasets;
//   - the program itself (ProcessBytes).

// CountedPrecisions are the precisions (nn/amp) whose steps the estimate
// counts: the tensors are counted as the model allocates them, so a
// precision is one entry here once the model computes in it.
var CountedPrecisions = map[amp.Precision]bool{amp.FP32: true, amp.BF16: true, amp.FP16: true}

// backendMemory is how a kind of backend holds tensors.
type backendMemory struct {
	// prefix matches the backend's registry name.
	prefix string
	// inProcess: the tensors are in this process's memory (the CPU
	// backends; Vulkan on a CPU device, lavapipe); otherwise in a device's
	// memory or another process's (a plugin).
	inProcess bool
	// device: the tensors count against Info.Memory.
	device bool
	// factor is the backend's footprint over what the tensors ask for:
	// the fast CPU backend's pool keeps blocks up to an eighth above its
	// high-water mark and rounds to size classes of an eighth; cpu-ref
	// takes fresh Go-heap memory for every tensor, which the garbage
	// collector lets grow to twice the live heap; Vulkan sub-allocates
	// blocks.
	factor float64
}

var backendMemories = []backendMemory{
	{prefix: "cpu-ref", inProcess: true, factor: 2},
	{prefix: "cpu", inProcess: true, factor: 1.125},
	{prefix: "vulkan", device: true, factor: 1.25},
	{prefix: "plugin:", device: true, factor: 1.25},
}

// NonResidentBytes is the address space the program comes to hold beyond
// its resident memory, which RLIMIT_AS counts and an estimate of resident
// memory does not (measured with /proc/PID/status VmPeak - VmHWM: 2.2 to
// 2.35 GB for runs of vit_femto, tiny32 and small224, whatever their
// size: Go's reservations, the libraries, thread stacks).
const NonResidentBytes = 2560 << 20

// ProcessBytes is the resident memory of the program before it holds any
// data: the Go runtime, the binary, OpenBLAS and the other libraries,
// thread stacks (measured: ijepa train on a model of a few thousand
// parameters peaks at 34 MiB here, /usr/bin/time -f %M).
const ProcessBytes = 40 << 20

// MemoryEstimate is a run's estimated peak memory, in bytes.
type MemoryEstimate struct {
	Precision amp.Precision
	Backend   string
	Batch     int
	// Shape is the step counted: the largest masks of the run's first
	// steps (at most MaskSampleSteps).
	Shape model.StepShape
	// Step is what the step's tensors ask for (the model's state and the
	// step's peak, state included).
	Step model.StepMemory
	// Tensors is the backend's footprint of Step.Peak; InProcess says
	// whether it is in this process's memory, Device whether it counts
	// against the device's.
	Tensors           int64
	InProcess, Device bool
	// Host is the loader's batches, the dataset in memory, the
	// evaluation's images and datasets (Eval of it) and, with more than
	// one rank, the float32 buffers through which the ranks average the
	// gradients (Buckets of it: 4 bytes a trainable parameter); Process
	// the program itself.
	Host, Eval, Buckets, Process int64
	// Total is this process's estimated peak resident memory.
	Total int64
}

func (e MemoryEstimate) String() string {
	where := "in this process"
	if !e.InProcess {
		where = "on the device"
	}
	buckets := ""
	if e.Buckets > 0 {
		buckets = ", gradient buckets " + memlimit.Format(e.Buckets)
	}
	return fmt.Sprintf("about %s at batch %d in %s on %s: tensors %s %s (model state %s, step peak %s at %d context and %dx%d target patches), host %s (evaluation %s%s), program %s",
		memlimit.Format(e.Total+e.deviceOnly()), e.Batch, e.Precision, e.Backend, memlimit.Format(e.Tensors), where,
		memlimit.Format(e.Step.State), memlimit.Format(e.Step.Peak), e.Shape.Kc, e.Shape.M, e.Shape.Kt,
		memlimit.Format(e.Host), memlimit.Format(e.Eval), buckets, memlimit.Format(e.Process))
}

func (e MemoryEstimate) deviceOnly() int64 {
	if e.InProcess {
		return 0
	}
	return e.Tensors
}

// EstimateMemory estimates the peak memory of one rank of a run of c on
// ranks ranks (1 without data parallelism) on the backend info describes,
// in precision, with trainImages images in the training set (0: unknown,
// taken from the config), evaluating or not.
func EstimateMemory(c *config.Config, info backend.Info, precision amp.Precision, trainImages, ranks int, eval bool) (MemoryEstimate, error) {
	e := MemoryEstimate{Precision: precision, Backend: info.Backend, Batch: c.Data.BatchSize, Process: ProcessBytes}
	if !CountedPrecisions[precision] {
		return e, fmt.Errorf("ijepa: memory estimate: training in %v is not counted", precision)
	}
	bm := backendMemory{inProcess: true, factor: 1.25}
	for _, b := range backendMemories {
		if strings.HasPrefix(info.Backend, b.prefix) {
			bm = b
			break
		}
	}
	if info.Kind == "cpu" && bm.device {
		bm.inProcess = true // a device on the CPU (lavapipe) holds its memory in this process
	}
	e.InProcess, e.Device = bm.inProcess, bm.device
	mc, err := c.ModelConfig()
	if err != nil {
		return e, err
	}
	coll, err := mask.New(c.MaskConfig())
	if err != nil {
		return e, fmt.Errorf("config %q: %w", c.Source(), err)
	}
	if trainImages == 0 && c.IJEPAGo.Dataset == data.KindProcedural {
		trainImages = c.IJEPAGo.DatasetSize
	}
	steps := int64(MaskSampleSteps)
	if sched, err := c.Schedule(trainImages); err == nil && trainImages > 0 {
		steps = min(steps, sched.Steps)
	}
	if e.Shape, err = largestMasks(coll, c.Data.BatchSize, int(steps)); err != nil {
		return e, err
	}
	if e.Step, err = model.CountStep(mc, e.Shape, precision); err != nil {
		return e, err
	}
	e.Tensors = int64(float64(e.Step.Peak) * bm.factor)
	e.Host, e.Eval = hostBytes(c, trainImages, eval)
	if ranks > 1 {
		e.Buckets = 4 * e.Step.Trainable
		e.Host += e.Buckets
	}
	e.Total = e.Process + e.Host
	if e.InProcess {
		e.Total += e.Tensors
	}
	return e, nil
}

// MaskSampleSteps is how many steps' masks the estimate draws to find the
// largest a run meets.
const MaskSampleSteps = 200

// largestMasks draws the masks of the first steps of a run (they are a
// function of the seed and the step) and returns the largest context and
// target sizes met: a batch's context is what its images' contexts keep
// after the targets are removed, truncated to the shortest, so it is far
// below the context block's size, and the step's memory follows it.
func largestMasks(coll *mask.Collator, batch, steps int) (model.StepShape, error) {
	s := model.StepShape{B: batch, M: coll.Config().NumPred}
	for step := int64(0); step < int64(steps); step++ {
		b, err := coll.Sample(step, batch)
		if err != nil {
			return s, err
		}
		s.Kc, s.Kt = max(s.Kc, b.Kc()), max(s.Kt, b.Kt())
	}
	return s, nil
}

// readBytes is the memory the training set holds by the end of the run:
// all it keeps, for a dataset read whole when opened; for one that keeps
// what has been read (the procedural dataset's cache), the share of its
// images the run's steps (and the batches built ahead) read.
func readBytes(c *config.Config, trainImages int, inFlight int64) int64 {
	spec := c.DatasetSpec(true)
	all := data.ResidentBytes(spec)
	if spec.Kind != data.KindProcedural || trainImages <= 0 {
		return all
	}
	sched, err := c.Schedule(trainImages)
	if err != nil {
		return all
	}
	read := sched.Steps*int64(c.Data.BatchSize) + inFlight
	if read >= int64(trainImages) {
		return all
	}
	return all * read / int64(trainImages)
}

// hostBytes is the host memory of a run besides its tensors: the loader's
// batches (the prefetched ones, one per worker being built and the one in
// the step), the training set held in memory (readBytes), and with
// evaluations their two datasets and images; Go-heap memory counted twice, as the garbage
// collector lets the heap grow to twice what is live (GOGC=100).
func hostBytes(c *config.Config, trainImages int, eval bool) (host, evalBytes int64) {
	s := int64(c.Data.CropSize)
	image := int64(c.IJEPAGo.InChans) * s * s * 4
	workers := c.Data.NumWorkers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	prefetch := c.IJEPAGo.Prefetch
	if prefetch == 0 {
		prefetch = workers + 1
	}
	inFlight := int64(prefetch+workers+1) * int64(c.Data.BatchSize)
	heap := inFlight*image + readBytes(c, trainImages, inFlight)
	if eval {
		ntr, nte := trainImages, c.IJEPAGo.EvalSize
		if p := c.IJEPAGo.ProbeTrain; p > 0 && (ntr == 0 || p < ntr) {
			ntr = p
		}
		if p := c.IJEPAGo.ProbeTest; p > 0 && (nte == 0 || p < nte) {
			nte = p
		}
		evalBytes = 2 * (int64(ntr+nte)*image + data.ResidentBytes(c.DatasetSpec(true)) + data.ResidentBytes(c.DatasetSpec(false)))
	}
	return 2*heap + evalBytes, evalBytes
}

// largestBatch is the largest batch below c's whose estimate fits (0 if
// none), by bisection: the estimate grows with the batch.
func largestBatch(c *config.Config, info backend.Info, precision amp.Precision, trainImages, ranks int, eval bool, fits func(MemoryEstimate) bool) int {
	lo, hi := 0, c.Data.BatchSize
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		cc := *c
		cc.Data.BatchSize = mid
		m, err := EstimateMemory(&cc, info, precision, trainImages, ranks, eval)
		if err == nil && fits(m) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// checkMemory refuses a run that cannot fit: the process's estimate above
// the memory available, or the tensors above the device's memory. The
// error names the largest batch that fits.
func checkMemory(c *config.Config, info backend.Info, precision amp.Precision, trainImages, ranks int, eval bool, avail memlimit.Limit) (MemoryEstimate, error) {
	e, err := EstimateMemory(c, info, precision, trainImages, ranks, eval)
	if err != nil {
		return e, err
	}
	fits := func(e MemoryEstimate) bool {
		return (avail.Bytes <= 0 || e.Total <= avail.Bytes) && (!e.Device || info.Memory <= 0 || e.Tensors <= info.Memory)
	}
	if fits(e) {
		return e, nil
	}
	what := fmt.Sprintf("this process may use %v", avail)
	if e.Device && info.Memory > 0 && e.Tensors > info.Memory {
		what = fmt.Sprintf("the device %s has %s", info.Device, memlimit.Format(info.Memory))
	}
	way := "no batch fits: choose a smaller model (meta.model_name) or image size (data.crop_size)"
	if b := largestBatch(c, info, e.Precision, trainImages, ranks, eval, fits); b > 0 {
		way = fmt.Sprintf("the largest batch that fits is %d (--batch-size %d)", b, b)
	} else if b := largestBatch(c, info, e.Precision, trainImages, ranks, false, fits); eval && b > 0 {
		way = fmt.Sprintf("no batch fits with evaluations, whose images and datasets need %s (lower ijepago.probe_train and ijepago.probe_test); with --eval=false the largest batch that fits is %d (--batch-size %d)",
			memlimit.Format(e.Eval), b, b)
	}
	return e, fmt.Errorf("ijepa: the run needs %v; %s: %s", e, what, way)
}

// checkMemory estimates the run's memory before its first step (logged
// with the run's start, logMemory) and refuses a run that cannot fit.
func (t *Trainer) checkMemory() error {
	avail := memlimit.Available(NonResidentBytes)
	e, err := checkMemory(t.cfg, t.be.Info(), t.precision, t.plan.train.Len(), t.world.Size(), t.opt.Eval, avail)
	if err != nil {
		return err
	}
	t.memory = func() { t.log.Info("memory", "estimate", e.String(), "available", avail.String()) }
	return nil
}
