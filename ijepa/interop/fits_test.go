package interop

import (
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/ijepa/model"
)

// Options.Model checks the file against a model before anything else: a
// file of that model opens with the model's heads (the fixture records
// none), and one of another shape is refused in one line naming the tensor
// with both shapes, or the tensors the model lacks.
func TestOpenForModel(t *testing.T) {
	fixture := model.Config{Dim: 24, Depth: 2, Heads: 2, MLPHidden: 96, ImgSize: 16, Patch: 4, PredDim: 16, PredDepth: 2}
	c, err := Open(fixtureCkpt, Options{Model: &fixture})
	if err != nil {
		t.Fatal(err)
	}
	if c.Encoder.Heads != 2 || !c.Has(All) {
		t.Errorf("heads %d, whole state %v; want the model's 2 heads and everything", c.Encoder.Heads, c.Has(All))
	}
	c.Close()
	for _, tc := range []struct {
		change func(*model.Config)
		want   string
	}{
		{func(m *model.Config) { m.Dim, m.MLPHidden = 32, 128 }, "encoder tensor patch_embed.proj.weight has shape [24,3,4,4], the model wants [32,3,4,4]"},
		{func(m *model.Config) { m.ImgSize = 24 }, "encoder tensor pos_embed has shape [1,16,24], the model wants [1,36,24]"},
		{func(m *model.Config) { m.PredDim = 8 }, "predictor tensor"},
		{func(m *model.Config) { m.Depth = 1 }, "encoder has 12 tensors the model does not (first: blocks.1."},
		{func(m *model.Config) { m.Depth = 3 }, "encoder has no tensor blocks.2."},
	} {
		m := fixture
		tc.change(&m)
		_, err := Open(fixtureCkpt, Options{Model: &m})
		if err == nil || !strings.Contains(err.Error(), fixtureCkpt) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: %v; want one line with %q", m, err, tc.want)
		}
	}
}
