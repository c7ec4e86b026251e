package train

import (
	"testing"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/config"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
	"github.com/ijepa-go/ijepa/nn/amp"
)

// With more than one rank, a rank's estimate adds the host buffers its
// gradients are averaged through: 4 bytes a trainable parameter (the
// encoder's and the predictor's, not the target encoder's).
func TestMemoryEstimateCountsGradientBuckets(t *testing.T) {
	c, err := config.Preset("tiny32")
	if err != nil {
		t.Fatal(err)
	}
	info := cpu.New().Info()
	one, err := EstimateMemory(c, info, amp.FP32, 0, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	two, err := EstimateMemory(c, info, amp.FP32, 0, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := c.ModelConfig()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	trainable := nn.Count(m.Trainable(), true)
	if one.Buckets != 0 || two.Buckets != 4*trainable || two.Total-one.Total != 4*trainable {
		t.Errorf("buckets %d on 1 rank, %d on 2 (totals %d, %d); want 0 and %d, 4 bytes for each of %d trainable parameters",
			one.Buckets, two.Buckets, one.Total, two.Total, 4*trainable, trainable)
	}
	t.Logf("tiny32: %v", two)
}
