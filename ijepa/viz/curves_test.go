package viz

import (
	"github.com/ijepa-go/ijepa/ijepa/runlog"

	"image"
	"image/color"
	"math"
	"strings"
	"testing"
)

// components counts the 8-connected regions of pixels of exactly colour c
// inside r.
func components(img *image.RGBA, r image.Rectangle, c color.RGBA) int {
	r = r.Intersect(img.Rect)
	seen := map[image.Point]bool{}
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := image.Pt(x, y)
			if seen[p] || img.RGBAAt(x, y) != c {
				continue
			}
			n++
			stack := []image.Point{p}
			seen[p] = true
			for len(stack) > 0 {
				q := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						s := q.Add(image.Pt(dx, dy))
						if s.In(r) && !seen[s] && img.RGBAAt(s.X, s.Y) == c {
							seen[s] = true
							stack = append(stack, s)
						}
					}
				}
			}
		}
	}
	return n
}

func panelByTitle(t *testing.T, f *Figure, prefix string) Panel {
	t.Helper()
	for _, p := range f.Panels {
		if strings.HasPrefix(p.Title, prefix) {
			return p
		}
	}
	t.Fatalf("no panel %q", prefix)
	return Panel{}
}

// TestCurvesPointsAreTheLog draws a short log and checks, in the pixels,
// that every log row is one dot of its series' colour where its values put
// it, that a non-finite loss is left out and said so, and that the probe
// panel has a dot per evaluation of each kind of features.
func TestCurvesPointsAreTheLog(t *testing.T) {
	var log []runlog.LogRow
	for s := int64(1); s <= 9; s++ {
		r := runlog.LogRow{Step: s, Loss: 0.5 - 0.04*float64(s) + 0.02*float64(s%2), LR: 1e-4 * float64(s), WD: 0.04 + 0.01*float64(s),
			Momentum: 0.996 + 0.0004*float64(s), ImgPerS: 100 + 10*float64(s%3)}
		if s == 5 {
			r.Loss = math.NaN()
		}
		log = append(log, r)
	}
	var eval []runlog.EvalRow
	for _, s := range []int64{0, 4, 9} {
		eval = append(eval, runlog.EvalRow{Step: s, Features: runlog.FeaturesTarget, ProbeAcc: 0.45 + 0.05*float64(s), KNNAcc: 0.4 + 0.05*float64(s)},
			runlog.EvalRow{Step: s, Features: runlog.FeaturesRandom, ProbeAcc: 0.3, KNNAcc: 0.27},
			runlog.EvalRow{Step: s, Features: runlog.FeaturesPixels, ProbeAcc: 0.2, KNNAcc: 0.18})
	}
	fig, err := Curves(log, eval, CurveOptions{Width: 1000, Height: 750, Title: "a run"})
	if err != nil {
		t.Fatal(err)
	}
	if b := fig.Image.Bounds(); b.Dx() != 1000 || b.Dy() != 750 {
		t.Fatalf("picture %v, want 1000x750", b)
	}
	for _, tc := range []struct {
		panel  string
		colour color.RGBA
		points int
		value  func(runlog.LogRow) float64
	}{
		{"loss", LossColour, 8, func(r runlog.LogRow) float64 { return r.Loss }},
		{"learning rate", LRColour, 9, func(r runlog.LogRow) float64 { return r.LR }},
		{"weight decay", WDColour, 9, func(r runlog.LogRow) float64 { return r.WD }},
		{"EMA momentum", MomentumColour, 9, func(r runlog.LogRow) float64 { return r.Momentum }},
		{"images / s", SpeedColour, 9, func(r runlog.LogRow) float64 { return r.ImgPerS }},
	} {
		p := panelByTitle(t, fig, tc.panel)
		s := p.Series[0]
		if len(s.At) != tc.points || !s.Glyphs {
			t.Fatalf("%s: %d points (dots %v), want %d dots", tc.panel, len(s.At), s.Glyphs, tc.points)
		}
		if got := components(fig.Image, p.Data.Inset(-8), tc.colour); got != tc.points {
			t.Errorf("%s: %d dots of %v in the picture, want one per finite log row: %d", tc.panel, got, tc.colour, tc.points)
		}
		// Each dot sits where its value puts it: x by step, y by value,
		// within the panel's data area.
		var rows []runlog.LogRow
		for _, r := range log {
			if !math.IsNaN(tc.value(r)) {
				rows = append(rows, r)
			}
		}
		for k, at := range s.At {
			if fig.Image.RGBAAt(at.X, at.Y) != tc.colour || !at.In(p.Data.Inset(-1)) {
				t.Errorf("%s: point %d at %v is %v (data area %v), want a dot of %v", tc.panel, k, at, fig.Image.RGBAAt(at.X, at.Y), p.Data, tc.colour)
			}
			for j := 0; j < k; j++ {
				dx := float64(at.X - s.At[j].X)
				dy := float64(s.At[j].Y - at.Y) // up is positive
				wx := float64(rows[k].Step - rows[j].Step)
				wy := tc.value(rows[k]) - tc.value(rows[j])
				if dx <= 0 || (wy > 0) != (dy > 0) && math.Abs(dy) > 1 {
					t.Errorf("%s: points %d and %d are %v apart, want %v steps and %v apart", tc.panel, j, k, image.Pt(int(dx), int(dy)), wx, wy)
				}
			}
		}
	}
	if p := panelByTitle(t, fig, "loss"); !strings.Contains(p.Title, "1 non-finite loss") {
		t.Errorf("loss panel title %q does not say a NaN was left out", p.Title)
	}
	probe := panelByTitle(t, fig, "probe accuracy")
	for _, kind := range []string{"target", "random", "pixels"} {
		found := false
		for _, s := range probe.Series {
			if s.Name == kind+" probe" {
				found = true
				if got := components(fig.Image, probe.Data.Inset(-8), FeatureColours[kind]); got != 3 || len(s.At) != 3 {
					t.Errorf("probe accuracy of %s features: %d dots, %d points, want 3", kind, got, len(s.At))
				}
			}
		}
		if !found {
			t.Errorf("no probe series for %s features", kind)
		}
	}
}

// TestCurvesLongLog checks a log too long for dots: the line passes through
// each point, and a log of another run draws another picture.
func TestCurvesLongLog(t *testing.T) {
	mk := func(f func(s float64) float64) []runlog.LogRow {
		var log []runlog.LogRow
		for s := int64(1); s <= 600; s++ {
			log = append(log, runlog.LogRow{Step: s, Loss: f(float64(s)), LR: 1e-3, WD: 0.04, Momentum: 0.996, ImgPerS: 50})
		}
		return log
	}
	a, err := Curves(mk(func(s float64) float64 { return math.Exp(-s / 200) }), nil, CurveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := panelByTitle(t, a, "loss")
	s := p.Series[0]
	if s.Glyphs || len(s.At) != 600 {
		t.Fatalf("%d points, dots %v: want 600 points as a line", len(s.At), s.Glyphs)
	}
	for k := 0; k < len(s.At); k += 37 {
		at, hit := s.At[k], false
		for dy := -2; dy <= 2 && !hit; dy++ {
			for dx := -2; dx <= 2 && !hit; dx++ {
				hit = near(a.Image.RGBAAt(at.X+dx, at.Y+dy), LossColour, 40)
			}
		}
		if !hit {
			t.Errorf("point %d at %v: no pixel of the loss line nearby", k, at)
		}
	}
	if !strings.Contains(panelByTitle(t, a, "probe").Title, "no data yet") {
		t.Errorf("without eval.csv the probe panel should say there is no data yet: %q", panelByTitle(t, a, "probe").Title)
	}
	b, _ := Curves(mk(func(s float64) float64 { return 1 - math.Exp(-s/200) }), nil, CurveOptions{})
	if string(a.Image.Pix) == string(b.Image.Pix) {
		t.Error("a falling and a rising loss drew the same picture")
	}
	if _, err := Curves(nil, nil, CurveOptions{Width: 50, Height: 50}); err == nil {
		t.Error("a 50x50 picture was accepted")
	}
	empty, err := Curves(nil, nil, CurveOptions{Width: 400, Height: 300})
	if err != nil {
		t.Fatalf("no rows yet: %v", err)
	}
	for _, p := range empty.Panels {
		if !strings.HasSuffix(p.Title, "no data yet") {
			t.Errorf("empty log: panel %q does not say there is no data yet", p.Title)
		}
	}
}
