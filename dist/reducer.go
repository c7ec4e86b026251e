package dist

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn"
)

// DefaultBucketBytes is the size a bucket of gradients is filled to
// before another starts: PyTorch DDP's default bucket_cap_mb of 25.
// BucketEnv (a number of MiB) overrides it.
const DefaultBucketBytes = 25 << 20

// FirstBucketBytes caps the first bucket, whose gradients the backward
// pass completes first, so that communication starts early (DDP's first
// bucket is 1 MiB too).
const FirstBucketBytes = 1 << 20

// BucketEnv is the environment variable that sets the bucket size in MiB
// where NewReducer is given none.
const BucketEnv = "IJEPA_DIST_BUCKET_MB"

// bucketBytes is the bucket size NewReducer uses for n <= 0.
func bucketBytes(n int) (int, error) {
	if n > 0 {
		return n, nil
	}
	v := os.Getenv(BucketEnv)
	if v == "" {
		return DefaultBucketBytes, nil
	}
	mb, err := strconv.ParseFloat(v, 64)
	if err != nil || mb <= 0 {
		return 0, fmt.Errorf("dist: %s=%q is not a positive number of MiB", BucketEnv, v)
	}
	return int(mb * (1 << 20)), nil
}

// Reducer averages the gradients of a list of parameters over the ranks of
// a Comm, as DistributedDataParallel does: the gradients are grouped into
// buckets of about DefaultBucketBytes in the order the backward pass
// completes them, and each bucket's all-reduce starts — on a goroutine of
// its own — as soon as every gradient in it is complete and the buckets
// before it have started, while the backward pass goes on. Wait then
// writes the averages back into the parameters' gradients, before the
// optimiser step.
//
// Gradients travel through the host in float32 (the master gradients,
// whatever precision the forward pass runs in): each is read from the
// backend into its bucket when it completes, summed over the ranks in
// place, scaled by 1/Size and written back.
//
// The methods are called from the goroutine that runs the training step;
// GradReady is the nn.Tape OnGrad callback. A step that fails between its
// first GradReady and Wait leaves the ranks' collectives out of step:
// data-parallel training ends there (every rank aborts).
type Reducer struct {
	comm    Comm
	be      backend.Backend
	params  []*nn.Param
	slot    map[*backend.Tensor]int // gradient -> index into params
	loc     []place                 // per parameter: its bucket and offset
	buckets []*bucket
	next    int // the next bucket to start
	ready   int // parameters reported this step
	seen    []bool
	queue   chan *bucket
	stats   ReducerStats
	mu      sync.Mutex // guards stats.Reduce, written by the all-reduce goroutine
}

type place struct{ bucket, off int }

// bucket is a run of consecutive parameters' gradients in one float32
// buffer.
type bucket struct {
	buf     []float32
	members []int // parameter indices, in order
	pending int   // gradients not yet read this step
	done    chan error
}

// ReducerStats is what a Reducer measured.
type ReducerStats struct {
	// Steps is the number of steps reduced; Buckets the buckets per step;
	// Bytes the gradient bytes each rank all-reduces per step.
	Steps, Buckets int
	Bytes          int64
	// Reduce is the time spent in all-reduces (and the 1/Size scaling),
	// on the goroutine that runs them.
	Reduce time.Duration
	// Exposed is the time Wait blocked the training step for all-reduces
	// still running: the part of Reduce the backward pass did not hide.
	Exposed time.Duration
	// Copy is the time spent moving gradients between the backend and
	// the buckets (reads in GradReady, writes in Wait).
	Copy time.Duration
}

// Hidden is the fraction of the all-reduce time that overlapped the
// backward pass: 1 - Exposed/Reduce (0 without any all-reduce).
func (s ReducerStats) Hidden() float64 {
	if s.Reduce <= 0 {
		return 0
	}
	return max(0, 1-s.Exposed.Seconds()/s.Reduce.Seconds())
}

// NewReducer prepares a reducer for params, whose gradients (Param.Grad,
// float32) live on be. params must be in the order the backward pass
// completes their gradients — for a model declared from input to output,
// the reverse of its declaration order — and the same on every rank: that
// order fills the buckets and starts their all-reduces. Buckets hold up to
// size bytes (<= 0: BucketEnv, else DefaultBucketBytes), the first up to
// FirstBucketBytes; a parameter larger than that gets a bucket of its own.
func NewReducer(c Comm, be backend.Backend, params []*nn.Param, size int) (*Reducer, error) {
	size, err := bucketBytes(size)
	if err != nil {
		return nil, err
	}
	r := &Reducer{comm: c, be: be, params: params, slot: map[*backend.Tensor]int{},
		loc: make([]place, len(params)), seen: make([]bool, len(params)), queue: make(chan *bucket, 1)}
	var cur *bucket
	for i, p := range params {
		if p.Grad == nil || p.Grad.DType() != backend.F32 {
			return nil, fmt.Errorf("dist: reducer: parameter %s has no float32 gradient", p.Name)
		}
		if _, dup := r.slot[p.Grad]; dup {
			return nil, fmt.Errorf("dist: reducer: parameter %s listed twice", p.Name)
		}
		r.slot[p.Grad] = i
		n := p.Grad.NumElements()
		limit := size
		if len(r.buckets) == 1 {
			limit = min(size, FirstBucketBytes)
		}
		if cur == nil || len(cur.members) > 0 && 4*(len(cur.buf)+n) > limit {
			cur = &bucket{done: make(chan error, 1)}
			r.buckets = append(r.buckets, cur)
		}
		r.loc[i] = place{len(r.buckets) - 1, len(cur.buf)}
		cur.members = append(cur.members, i)
		cur.buf = append(cur.buf, make([]float32, n)...)
		r.stats.Bytes += 4 * int64(n)
	}
	r.stats.Buckets = len(r.buckets)
	r.reset()
	go r.reduceLoop()
	return r, nil
}

func (r *Reducer) reset() {
	for _, b := range r.buckets {
		b.pending = len(b.members)
	}
	clear(r.seen)
	r.next, r.ready = 0, 0
}

// reduceLoop all-reduces the buckets in the order they are started, until
// Close.
func (r *Reducer) reduceLoop() {
	scale := 1 / float32(r.comm.Size())
	for b := range r.queue {
		t0 := time.Now()
		err := r.comm.AllreduceF32(b.buf)
		if err == nil && scale != 1 {
			for i := range b.buf {
				b.buf[i] *= scale
			}
		}
		r.mu.Lock()
		r.stats.Reduce += time.Since(t0)
		r.mu.Unlock()
		b.done <- err
	}
}

// GradReady notes that the gradient g of one of the parameters is
// complete. When that completes a bucket, its gradients are read into the
// bucket's buffer — once per bucket, since a read waits for the backend's
// queued work (a Vulkan submit and fence) — and every complete bucket whose
// predecessors have started is handed to the all-reduce goroutine.
func (r *Reducer) GradReady(g *backend.Tensor) error {
	i, ok := r.slot[g]
	if !ok {
		return fmt.Errorf("dist: reducer: gradient %v is not one of the %d parameters'", g, len(r.params))
	}
	if r.seen[i] {
		return fmt.Errorf("dist: reducer: gradient of %s reported twice in one step", r.params[i].Name)
	}
	r.seen[i] = true
	r.ready++
	b := r.buckets[r.loc[i].bucket]
	if b.pending--; b.pending == 0 {
		t0 := time.Now()
		for _, m := range b.members {
			p, off := r.params[m], r.loc[m].off
			if err := r.be.Read(p.Grad, backend.F32Bytes(b.buf[off:off+p.Grad.NumElements()])); err != nil {
				return fmt.Errorf("dist: reducer: reading the gradient of %s: %w", p.Name, err)
			}
		}
		r.stats.Copy += time.Since(t0)
	}
	for r.next < len(r.buckets) && r.buckets[r.next].pending == 0 {
		r.queue <- r.buckets[r.next]
		r.next++
	}
	return nil
}

// Wait waits for every bucket's all-reduce and writes the averaged
// gradients back into the parameters' gradient tensors. Every parameter's
// gradient must have been reported by GradReady since the last Wait.
func (r *Reducer) Wait() error {
	defer r.reset()
	if r.ready != len(r.params) {
		for i, s := range r.seen {
			if !s {
				return fmt.Errorf("dist: reducer: %d of %d gradients were reported this step; %s was not", r.ready, len(r.params), r.params[i].Name)
			}
		}
	}
	t0 := time.Now()
	var first error
	for _, b := range r.buckets {
		if err := <-b.done; err != nil && first == nil {
			first = err
		}
	}
	r.stats.Exposed += time.Since(t0)
	if first != nil {
		return first
	}
	t1 := time.Now()
	for i, p := range r.params {
		l := r.loc[i]
		r.be.Write(p.Grad, backend.F32Bytes(r.buckets[l.bucket].buf[l.off:l.off+p.Grad.NumElements()]))
	}
	r.stats.Copy += time.Since(t1)
	r.stats.Steps++
	return nil
}

// Stats returns what the reducer measured so far.
func (r *Reducer) Stats() ReducerStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

// ResetStats zeroes the measured times and step count (after warm-up).
func (r *Reducer) ResetStats() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.Steps, r.stats.Reduce, r.stats.Exposed, r.stats.Copy = 0, 0, 0, 0
}

// Close stops the all-reduce goroutine. The reducer must not be used
// afterwards.
func (r *Reducer) Close() { close(r.queue) }
