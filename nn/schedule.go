package nn

import "math"

// The official schedules are stepped before each iteration, so the first
// iteration uses step 1. Every At below takes that 1-based iteration number.

// WarmupCosine is the official learning-rate schedule (WarmupCosineSchedule):
// a linear warmup from StartLR to RefLR over Warmup steps, then a cosine from
// RefLR to FinalLR over the remaining Total-Warmup steps, never below
// FinalLR.
type WarmupCosine struct {
	StartLR, RefLR, FinalLR float64
	Warmup, Total           int
}

// At returns the learning rate of iteration s (1-based).
func (w WarmupCosine) At(s int) float64 {
	if s < w.Warmup {
		p := float64(s) / float64(max(1, w.Warmup))
		return w.StartLR + p*(w.RefLR-w.StartLR)
	}
	p := float64(s-w.Warmup) / float64(max(1, w.Total-w.Warmup))
	return math.Max(w.FinalLR, w.FinalLR+(w.RefLR-w.FinalLR)*0.5*(1+math.Cos(math.Pi*p)))
}

// CosineWD is the official weight-decay schedule (CosineWDSchedule): a
// half cosine from Ref to Final over Total steps (an increase for I-JEPA,
// 0.04 to 0.4), clamped at Final.
type CosineWD struct {
	Ref, Final float64
	Total      int
}

// At returns the weight decay of iteration s (1-based).
func (c CosineWD) At(s int) float64 {
	p := float64(s) / float64(max(1, c.Total))
	wd := c.Final + (c.Ref-c.Final)*0.5*(1+math.Cos(math.Pi*p))
	if c.Final <= c.Ref {
		return math.Max(c.Final, wd)
	}
	return math.Min(c.Final, wd)
}

// LinearEMA is the official EMA momentum schedule: Start + i*(End-Start)/Span
// for i = 0, 1, ..., so the first iteration uses Start. Span is
// ipe*epochs*ipe_scale (not rounded).
type LinearEMA struct {
	Start, End, Span float64
}

// At returns the momentum of iteration s (1-based; it uses i = s-1).
func (l LinearEMA) At(s int) float64 {
	return l.Start + float64(s-1)*(l.End-l.Start)/l.Span
}

// Schedule is the three official schedules of one run.
type Schedule struct {
	LR  WarmupCosine
	WD  CosineWD
	EMA LinearEMA
}

// ScheduleConfig holds the values of the official config that set the
// schedules (the optimization section) and the iterations per epoch.
type ScheduleConfig struct {
	ItersPerEpoch        int
	Epochs               int
	IPEScale             float64
	WarmupEpochs         float64
	StartLR, LR, FinalLR float64
	WeightDecay, FinalWD float64
	EMAStart, EMAEnd     float64
}

// NewSchedule builds the schedules as the official trainer does:
// warmup = int(warmup*ipe), T = int(ipe_scale*epochs*ipe) for the learning
// rate and the weight decay, and an EMA span of ipe*epochs*ipe_scale.
func NewSchedule(c ScheduleConfig) Schedule {
	ipe := float64(c.ItersPerEpoch)
	total := int(c.IPEScale * float64(c.Epochs) * ipe)
	return Schedule{
		LR:  WarmupCosine{StartLR: c.StartLR, RefLR: c.LR, FinalLR: c.FinalLR, Warmup: int(c.WarmupEpochs * ipe), Total: total},
		WD:  CosineWD{Ref: c.WeightDecay, Final: c.FinalWD, Total: total},
		EMA: LinearEMA{Start: c.EMAStart, End: c.EMAEnd, Span: ipe * float64(c.Epochs) * c.IPEScale},
	}
}

// At returns the learning rate, weight decay and EMA momentum of iteration s
// (1-based).
func (s Schedule) At(step int) (lr, wd, momentum float64) {
	return s.LR.At(step), s.WD.At(step), s.EMA.At(step)
}
