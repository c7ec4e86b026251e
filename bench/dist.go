package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ijepa-go/ijepa/dist"
)

// Distribute makes s one rank of data-parallel training over c: every rank
// takes rank 0's weights (checked by checksum), and each step averages the
// gradients across the ranks with a dist.Reducer, as ijepa train does.
// Close stops the reducer.
func (s *Session) Distribute(c dist.Comm) error {
	tensors := s.model.Tensors()
	if err := dist.Broadcast(c, s.prof, tensors, 0); err != nil {
		return err
	}
	if err := dist.Verify(c, s.prof, tensors, "initial weights"); err != nil {
		return err
	}
	r, err := dist.NewReducer(c, s.prof, s.model.BackwardOrder(), 0)
	if err != nil {
		return err
	}
	s.comm, s.reducer = c, r
	s.model.Sync = r
	return nil
}

// WorldResult is a timed round of data-parallel steps, gathered from every
// rank.
type WorldResult struct {
	// Ranks is the number of ranks; Batch the images per rank and step.
	Ranks, Batch int
	// ImgPerS is each rank's images per second; Total their sum.
	ImgPerS []float64
	Total   float64
	// MsPerStep is the mean over the ranks of their time per step.
	MsPerStep float64
	// Buckets and Bytes are the gradient buckets and bytes all-reduced per
	// step (per rank).
	Buckets int
	Bytes   int64
	// ReduceMs is the mean over the ranks of the all-reduce time per step;
	// ExposedMs the part of it that the training step waited for (not
	// hidden by the backward pass); CopyMs the time per step spent moving
	// gradients between the backend and the host buffers.
	ReduceMs, ExposedMs, CopyMs float64
}

// Hidden is the fraction of the all-reduce time the backward pass hid.
func (w WorldResult) Hidden() float64 {
	if w.ReduceMs <= 0 {
		return 0
	}
	return max(0, 1-w.ExposedMs/w.ReduceMs)
}

// Gather collects the timed round r of every rank of s's world (after
// Distribute; Timed resets the all-reduce times): the ranks' speeds and
// their mean all-reduce times per step.
func (s *Session) Gather(r Result) (WorldResult, error) {
	if s.reducer == nil {
		return WorldResult{}, fmt.Errorf("bench: Gather before Distribute")
	}
	st := s.reducer.Stats()
	size, rank := s.comm.Size(), s.comm.Rank()
	// One all-reduce gathers every rank's speed (its own slot) and sums
	// the times, averaged below.
	v := make([]float64, size+4)
	v[rank] = r.ImgPerS
	per := func(d time.Duration) float64 { return 1e3 * d.Seconds() / float64(max(st.Steps, 1)) }
	v[size], v[size+1], v[size+2], v[size+3] = r.MsPerStep, per(st.Reduce), per(st.Exposed), per(st.Copy)
	if err := s.comm.AllreduceF64(v); err != nil {
		return WorldResult{}, err
	}
	w := WorldResult{Ranks: size, Batch: s.cfg.Batch, ImgPerS: v[:size], Buckets: st.Buckets, Bytes: st.Bytes}
	for _, x := range w.ImgPerS {
		w.Total += x
	}
	f := float64(size)
	w.MsPerStep, w.ReduceMs, w.ExposedMs, w.CopyMs = v[size]/f, v[size+1]/f, v[size+2]/f, v[size+3]/f
	return w, nil
}

// Write prints the result in the lines ijepa bench shows under mpirun.
func (w WorldResult) Write(out io.Writer, name, backend string) {
	rates := make([]string, len(w.ImgPerS))
	for i, x := range w.ImgPerS {
		rates[i] = fmt.Sprintf("%.2f", x)
	}
	fmt.Fprintf(out, "ijepa %s %s: %.2f img/s in all on %d ranks x %d images, %.1f ms/step (per rank img/s: %s)\n",
		name, backend, w.Total, w.Ranks, w.Batch, w.MsPerStep, strings.Join(rates, ", "))
	fmt.Fprintf(out, "all-reduce: %.1f MB of gradients per step in %d bucket(s), %.1f ms per step (%.1f%% of the step), %.0f%% of it hidden by the backward pass (%.1f ms exposed); %.1f ms per step copying gradients to and from the backend\n",
		float64(w.Bytes)/1e6, w.Buckets, w.ReduceMs, 100*w.ReduceMs/w.MsPerStep, 100*w.Hidden(), w.ExposedMs, w.CopyMs)
}
