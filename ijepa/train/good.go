package train

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
)

// A checkpoint is written only when the model is good (docs/RUNS.md):
//
//   - every tensor (parameters and AdamW's moments) is finite;
//   - every parameter's largest magnitude is at most GoodWeightFactor times
//     the scale of its initialisation (6 standard deviations of a normal
//     init, capped at its truncation bound; 1 for LayerNorm scales and the
//     sin-cos position tables; 0 for zero inits), that scale raised to
//     GoodWeightFloor at least: 1200 for the official normal(0.02) Linear
//     weights, 1000 for biases, 10000 for LayerNorm scales;
//   - the step's loss is at most GoodLossFactor times the median loss of
//     the last GoodLossWindow steps of the run (judged once the run has
//     made GoodLossMinSteps steps).
//
// A model that fails the first two is broken for good (weights of 1e29
// after a learning rate of 1e30 pass the finiteness check and diverge again
// when resumed with a sane rate): training stops there and names the newest
// good checkpoint. A loss far above its recent median may be a spike the
// run recovers from: that checkpoint is skipped with a warning, and the
// run goes on.
const (
	GoodWeightFactor = 1e4
	GoodWeightFloor  = 0.1
	GoodLossFactor   = 10
	GoodLossWindow   = 100
	GoodLossMinSteps = 20
)

// ErrNotFinite marks a model whose parameters or optimiser state hold a NaN
// or an infinity: such a model is never written over a checkpoint.
var ErrNotFinite = errors.New("not finite")

// ErrNotGood marks a model that is finite but fails the rule above (a
// weight beyond its bound, or a loss far above its median).
var ErrNotGood = errors.New("not a good checkpoint")

// goodness judges whether the model may be checkpointed.
type goodness struct {
	// bounds holds each parameter's largest allowed magnitude, by
	// checkpoint name; moments are only checked to be finite.
	bounds map[string]float64
	// inits describes each parameter's initialisation, for messages.
	inits map[string]string
	// losses holds the last GoodLossWindow losses.
	losses []float64
}

// newGoodness derives the weight bounds of m's parameters from their
// initialisations.
func newGoodness(m *model.Model) *goodness {
	g := &goodness{bounds: map[string]float64{}, inits: map[string]string{}}
	for _, net := range []struct {
		prefix string
		params []*nn.Param
	}{{model.EncoderPrefix, m.Encoder.Params()}, {model.PredictorPrefix, m.Predictor.Params()}, {model.TargetPrefix, m.Target.Params()}} {
		for _, p := range net.params {
			scale, what := initScale(p.Init)
			g.bounds[net.prefix+p.Name] = GoodWeightFactor * max(scale, GoodWeightFloor)
			g.inits[net.prefix+p.Name] = what
		}
	}
	return g
}

// initScale is the largest magnitude an initialisation gives in practice,
// and its description.
func initScale(in nn.Init) (float64, string) {
	switch in.Kind {
	case nn.InitNormal:
		return min(6*in.Std, nn.TruncBound), fmt.Sprintf("normal, std %g", in.Std)
	case nn.InitOnes:
		return 1, "ones"
	case nn.InitSinCos2D:
		return 1, "sin-cos positions"
	}
	return 0, "zeros"
}

// addLoss records a step's loss.
func (g *goodness) addLoss(loss float64) {
	g.losses = append(g.losses, loss)
	if len(g.losses) > GoodLossWindow {
		g.losses = g.losses[len(g.losses)-GoodLossWindow:]
	}
}

// checkLoss reports a loss above GoodLossFactor times the median of the
// recent losses (an error wrapping ErrNotGood).
func (g *goodness) checkLoss(loss float64) error {
	if len(g.losses) < GoodLossMinSteps {
		return nil
	}
	s := slices.Clone(g.losses)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if loss > GoodLossFactor*med {
		return fmt.Errorf("the loss %.4g is above %d times the median %.4g of the last %d steps: %w", loss, GoodLossFactor, med, len(s), ErrNotGood)
	}
	return nil
}

// checkTensor checks a tensor's little-endian float32 bytes as the
// checkpoint is written: finite, and within the bound of a parameter.
func (g *goodness) checkTensor(name string, data []byte) error {
	bound, isParam := g.bounds[name]
	if !isParam && !strings.HasPrefix(name, "opt.") {
		return nil
	}
	var big float32
	for i := 0; i+4 <= len(data); i += 4 {
		x := math.Float32frombits(binary.LittleEndian.Uint32(data[i:]))
		if x != x || math.IsInf(float64(x), 0) {
			return fmt.Errorf("tensor %s holds %v: %w", name, x, ErrNotFinite)
		}
		big = max(big, x, -x)
	}
	if isParam && float64(big) > bound {
		return fmt.Errorf("tensor %s holds %.3g, beyond %g, %g times the scale of its initialisation (%s): %w",
			name, big, bound, float64(GoodWeightFactor), g.inits[name], ErrNotGood)
	}
	return nil
}
