package train

import (
	"context"
	"testing"

	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/ijepa/config"
)

// BenchmarkTrainStep reports training images/s of the tiny32 and small224
// presets on the CPU backend: real batches (procedural images,
// RandomResizedCrop, the presets' multi-block masks) through model.Step.
// Run with -benchtime=Nx (small224 takes seconds per step).
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"quick", "tiny32", "small224"} {
		b.Run(name, func(b *testing.B) {
			c, err := config.Preset(name)
			if err != nil {
				b.Fatal(err)
			}
			// Enough images for the few batches TimeSteps builds.
			if err := c.Set("ijepago.dataset_size", "256"); err != nil {
				b.Fatal(err)
			}
			if err := c.Set("optimization.epochs", "10000"); err != nil {
				b.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			st, err := TimeSteps(context.Background(), c, cpu.New(), 1, b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(st.ImagesPerSecond(), "images/s")
			b.ReportMetric(float64(st.PerStep.Milliseconds()), "ms/step")
		})
	}
}
