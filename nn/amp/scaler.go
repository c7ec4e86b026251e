package amp

import (
	"fmt"
	"math"
)

// GradScaler is PyTorch's torch.amp.GradScaler: the loss is multiplied by
// Scale before the backward pass, the gradients by 1/Scale after it; a step
// whose gradients hold an infinity or a NaN is skipped and the scale
// multiplied by BackoffFactor; after GrowthInterval steps in a row without
// one the scale is multiplied by GrowthFactor.
type GradScaler struct {
	Scale          float64
	GrowthFactor   float64
	BackoffFactor  float64
	GrowthInterval int
	// GrowthTracker counts the steps without an infinity or NaN since the
	// scale last changed (PyTorch's _growth_tracker).
	GrowthTracker int
}

// NewGradScaler returns a GradScaler with PyTorch's defaults: scale 2^16,
// growth factor 2, backoff factor 0.5, growth interval 2000.
func NewGradScaler() *GradScaler {
	return &GradScaler{Scale: 65536, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 2000}
}

// Inverse returns 1/Scale rounded to float32, the factor that unscales the
// gradients (exact while the scale is a power of two).
func (s *GradScaler) Inverse() float32 { return float32(1 / s.Scale) }

// Update records one step whose gradients did (foundInf) or did not hold an
// infinity or a NaN, updates the scale as PyTorch's _amp_update_scale_ does,
// and reports whether the optimiser step is to be taken (no infinity or
// NaN). A grown scale that would be infinite is not applied.
func (s *GradScaler) Update(foundInf bool) (step bool) {
	if foundInf {
		s.Scale *= s.BackoffFactor
		s.GrowthTracker = 0
		return false
	}
	s.GrowthTracker++
	if s.GrowthTracker == s.GrowthInterval {
		if grown := s.Scale * s.GrowthFactor; !math.IsInf(float64(float32(grown)), 0) {
			s.Scale = grown
		}
		s.GrowthTracker = 0
	}
	return true
}

// Validate reports a scaler whose fields PyTorch would not accept, as a
// checkpoint loader needs: a scale that is not positive and finite, a
// growth factor not above 1, a backoff factor not in (0, 1), a growth
// interval below 1 or a tracker outside [0, interval).
func (s *GradScaler) Validate() error {
	switch {
	case !(s.Scale > 0) || math.IsInf(s.Scale, 0):
		return fmt.Errorf("amp: grad scaler: scale %v is not positive and finite", s.Scale)
	case !(s.GrowthFactor > 1) || math.IsInf(s.GrowthFactor, 0):
		return fmt.Errorf("amp: grad scaler: growth factor %v is not above 1", s.GrowthFactor)
	case !(s.BackoffFactor > 0 && s.BackoffFactor < 1):
		return fmt.Errorf("amp: grad scaler: backoff factor %v is not in (0, 1)", s.BackoffFactor)
	case s.GrowthInterval < 1:
		return fmt.Errorf("amp: grad scaler: growth interval %d is below 1", s.GrowthInterval)
	case s.GrowthTracker < 0 || s.GrowthTracker >= s.GrowthInterval:
		return fmt.Errorf("amp: grad scaler: growth tracker %d is outside [0, %d)", s.GrowthTracker, s.GrowthInterval)
	}
	return nil
}
