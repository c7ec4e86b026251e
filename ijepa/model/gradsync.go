package model

import (
	"slices"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn"
)

// GradSync averages the trainable parameters' gradients across
// data-parallel ranks within a training step (dist.Reducer is one). Step
// hands it each gradient as soon as the backward pass has completed it
// (nn.Tape.OnGrad), so that communication overlaps the rest of the
// backward pass, and waits for it before the optimiser step.
type GradSync interface {
	// GradReady takes the complete gradient g of a trainable parameter.
	GradReady(g *backend.Tensor) error
	// Wait returns once every gradient holds its average over the ranks.
	Wait() error
}

// BackwardOrder returns the trainable parameters in the order the
// backward pass completes their gradients, near enough to bucket them:
// the reverse of Trainable's declaration order (the predictor's output
// layers first, the encoder's patch embedding last).
func (m *Model) BackwardOrder() []*nn.Param {
	ps := m.Trainable()
	slices.Reverse(ps)
	return ps
}
