package nn

import (
	"fmt"
	"math"

	"github.com/ijepa-go/ijepa/backend"
)

// AdamW is torch.optim.AdamW (amsgrad off) over a list of parameters, with
// one learning rate for all and the weight decay applied only to parameters
// whose Decay is true (the official I-JEPA parameter groups). Its state — the
// two moments of every trainable parameter and the step count — lives on the
// backend and persists between steps.
type AdamW struct {
	Beta1, Beta2, Eps float64
	// Steps is the number of steps taken; the next step is Steps+1.
	Steps  int
	params []*Param
	m, v   []*backend.Tensor
}

// NewAdamW returns an AdamW with PyTorch's defaults (betas (0.9, 0.999), eps
// 1e-8) over the trainable parameters of params, which must be allocated. The
// moments are allocated on be and zeroed.
func NewAdamW(be backend.Backend, params []*Param) (*AdamW, error) {
	o := &AdamW{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	for _, p := range Trainable(params) {
		if p.Value == nil {
			o.Free(be)
			return nil, fmt.Errorf("nn: adamw: %s is not allocated", p.Name)
		}
		m, v := be.New(backend.F32, p.Shape...), be.New(backend.F32, p.Shape...)
		backend.Fill(be, m, 0)
		backend.Fill(be, v, 0)
		o.params = append(o.params, p)
		o.m = append(o.m, m)
		o.v = append(o.v, v)
	}
	if err := be.Err(); err != nil {
		o.Free(be)
		return nil, fmt.Errorf("nn: adamw: moments: %w", err)
	}
	return o, nil
}

// Params returns the parameters the optimiser updates.
func (o *AdamW) Params() []*Param { return o.params }

// State returns the optimiser's tensors with their names: exp_avg.NAME and
// exp_avg_sq.NAME for each parameter (PyTorch's state names), for saving
// and loading.
func (o *AdamW) State() []Named {
	out := make([]Named, 0, 2*len(o.params))
	for i, p := range o.params {
		out = append(out, Named{"exp_avg." + p.Name, o.m[i]}, Named{"exp_avg_sq." + p.Name, o.v[i]})
	}
	return out
}

// Step takes one step with learning rate lr and weight decay wd (on the
// decayed parameters) from the gradients in each parameter's Grad.
func (o *AdamW) Step(be backend.Backend, lr, wd float64) error {
	if math.IsNaN(lr) || math.IsNaN(wd) {
		return fmt.Errorf("nn: adamw: lr %v and wd %v must be numbers", lr, wd)
	}
	o.Steps++
	for i, p := range o.params {
		if p.Grad == nil {
			return fmt.Errorf("nn: adamw: %s has no gradient", p.Name)
		}
		d := 0.0
		if p.Decay() {
			d = wd
		}
		backend.AdamW(be, p.Value, o.m[i], o.v[i], p.Grad, backend.AdamWParams{
			LR: lr, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: d, Step: o.Steps})
	}
	return nil
}

// Free releases the optimiser's state.
func (o *AdamW) Free(be backend.Backend) {
	for i := range o.m {
		be.Release(o.m[i])
		be.Release(o.v[i])
	}
	o.m, o.v, o.params = nil, nil, nil
}

// EMA updates every target parameter as target = m*target + (1-m)*online;
// the lists pair up by position and must have the same shapes. Fixed
// parameters (positions) are equal in both and skipped.
func EMA(be backend.Backend, target, online []*Param, momentum float64) error {
	if len(target) != len(online) {
		return fmt.Errorf("nn: ema: %d target parameters for %d online ones", len(target), len(online))
	}
	for i := range target {
		if !online[i].Trainable {
			continue
		}
		if !target[i].Shape.Equal(online[i].Shape) {
			return fmt.Errorf("nn: ema: %s %v and %s %v differ", target[i].Name, target[i].Shape, online[i].Name, online[i].Shape)
		}
		backend.EMA(be, target[i].Value, online[i].Value, momentum)
	}
	return nil
}
