package data_test

import (
	"math"
	"testing"

	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/eval"
)

// features maps every image of ds through f.
func features(t testing.TB, ds data.Dataset, d int, f func(x []float32, h, w int) []float32) eval.Features {
	out := eval.Features{N: ds.Len(), D: d}
	for i := 0; i < ds.Len(); i++ {
		x, h, w, err := data.CHW(ds, i)
		if err != nil {
			t.Fatal(err)
		}
		out.X = append(out.X, f(x, h, w)...)
		out.Labels = append(out.Labels, int32(ds.Label(i)))
	}
	return out
}

// hog is a small histogram of oriented gradients: the grey image's gradient
// orientations (8 bins over 180 degrees, weighted by magnitude) in each cell
// of a 4x4 grid, each cell normalised - a feature that sees local structure
// and ignores colour.
func hog(x []float32, h, w int) []float32 {
	const cells, bins = 4, 8
	grey := func(px, py int) float64 {
		px, py = min(max(px, 0), w-1), min(max(py, 0), h-1)
		p := py*w + px
		return float64(x[p] + x[h*w+p] + x[2*h*w+p])
	}
	out := make([]float32, cells*cells*bins)
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			gx, gy := grey(px+1, py)-grey(px-1, py), grey(px, py+1)-grey(px, py-1)
			mag := math.Hypot(gx, gy)
			a := math.Atan2(gy, gx)
			if a < 0 {
				a += math.Pi
			}
			b := min(int(a/math.Pi*bins), bins-1)
			c := (py*cells/h)*cells + px*cells/w
			out[c*bins+b] += float32(mag)
		}
	}
	for c := 0; c < cells*cells; c++ {
		n := float32(1e-6)
		for _, v := range out[c*bins : (c+1)*bins] {
			n += v * v
		}
		n = float32(math.Sqrt(float64(n)))
		for b := 0; b < bins; b++ {
			out[c*bins+b] /= n
		}
	}
	return out
}

// On the procedural dataset a linear probe on raw pixels does poorly, while
// one on features that see local structure (a small HOG) does far better:
// the classes live in shapes and textures, not colours or positions.
func TestProceduralRawPixelsAreAWeakBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("probes on 1800 images")
	}
	train, _ := data.NewProcedural(1, 1200, 32)
	test, _ := data.NewProcedural(2, 600, 32)
	raw := func(x []float32, h, w int) []float32 { return x }
	rawTr, rawTe := features(t, train, 3*32*32, raw), features(t, test, 3*32*32, raw)
	hogTr, hogTe := features(t, train, 128, hog), features(t, test, 128, hog)
	pr, err := eval.LinearProbe(rawTr, rawTe, 10, eval.ProbeOptions{Iterations: 60})
	if err != nil {
		t.Fatal(err)
	}
	ph, err := eval.LinearProbe(hogTr, hogTe, 10, eval.ProbeOptions{Iterations: 60})
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := eval.KNN(rawTr, rawTe, 10, eval.KNNOptions{})
	kh, _ := eval.KNN(hogTr, hogTe, 10, eval.KNNOptions{})
	t.Logf("raw pixels: probe %.3f (train %.3f), k-NN %.3f; HOG: probe %.3f (train %.3f), k-NN %.3f; chance 0.100",
		pr.TestAccuracy, pr.TrainAccuracy, kr, ph.TestAccuracy, ph.TrainAccuracy, kh)
	if pr.TestAccuracy > 0.5 {
		t.Errorf("raw pixels reach %.3f: the classes are too easy for a linear probe on pixels", pr.TestAccuracy)
	}
	if ph.TestAccuracy < pr.TestAccuracy+0.2 {
		t.Errorf("structure features (%.3f) do not beat raw pixels (%.3f) by 0.2", ph.TestAccuracy, pr.TestAccuracy)
	}
}
