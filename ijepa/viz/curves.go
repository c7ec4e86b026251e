package viz

import (
	"github.com/ijepa-go/ijepa/ijepa/runlog"

	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	vgdraw "gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// CurveOptions say how big Curves draws and what it calls the run.
type CurveOptions struct {
	// Width and Height are the picture's size in pixels (0: 1200 x 900).
	Width, Height int
	// Title is the first line above the panels (empty: none).
	Title string
	// Cols is the number of panels per row: 2 (the default) or 3.
	Cols int
	// Glyphs is the most points a series may have for each to be marked
	// with a dot (0: one per 10 pixels of a panel's width); longer series
	// are drawn as lines alone.
	Glyphs int
}

// Figure is a drawn set of curves, with where each point landed.
type Figure struct {
	Image  *image.RGBA
	Panels []Panel
}

// Panel is one plot of a Figure.
type Panel struct {
	Title string
	// Data is the pixel rectangle of the panel's data area.
	Data   image.Rectangle
	Series []Series
}

// Series is one curve of a panel.
type Series struct {
	Name   string
	Colour color.RGBA
	// X and Y are the points drawn; non-finite values of the log are left
	// out (Dropped counts them).
	X, Y    []float64
	Dropped int
	// At is each point's pixel in the picture.
	At []image.Point
	// Glyphs says whether each point is marked with a dot of Colour (the
	// line between the points is then a lighter shade of it).
	Glyphs bool
	// Dashed series are drawn dashed in the lighter shade, without dots.
	Dashed bool
}

// The colours of the curves.
var (
	LossColour     = color.RGBA{31, 119, 180, 255}
	LRColour       = color.RGBA{255, 127, 14, 255}
	WDColour       = color.RGBA{44, 160, 44, 255}
	MomentumColour = color.RGBA{148, 103, 189, 255}
	SpeedColour    = color.RGBA{140, 86, 75, 255}
	// FeatureColours colour the evaluation of each kind of features.
	FeatureColours = map[string]color.RGBA{
		runlog.FeaturesTarget: {214, 39, 40, 255},
		runlog.FeaturesRandom: {100, 100, 140, 255}, // a bluish grey: pure greys are anti-aliased text
		runlog.FeaturesPixels: {23, 190, 207, 255},
	}
)

// lighter mixes c halfway to white: the colour of a series' line when its
// points are marked with dots of c.
func lighter(c color.RGBA) color.RGBA {
	return color.RGBA{c.R/2 + 128, c.G/2 + 128, c.B/2 + 128, 255}
}

// series builds a Series from the values v(row) of rows, leaving out
// non-finite values.
func series[R any](name string, c color.RGBA, rows []R, x func(R) float64, y func(R) float64) Series {
	s := Series{Name: name, Colour: c}
	for _, r := range rows {
		xv, yv := x(r), y(r)
		if math.IsNaN(xv) || math.IsInf(xv, 0) || math.IsNaN(yv) || math.IsInf(yv, 0) {
			s.Dropped++
			continue
		}
		s.X, s.Y = append(s.X, xv), append(s.Y, yv)
	}
	return s
}

// Curves draws a run's log and evaluations as six panels sharing the step
// axis, in rows of opt.Cols: the loss, the probe accuracy of each kind of features (solid: linear
// probe, dashed: k-NN), the learning rate, the weight decay, the EMA
// momentum, and the throughput. Every row of log is a point of each log
// panel (non-finite values are left out and counted in the panel's title).
func Curves(log []runlog.LogRow, eval []runlog.EvalRow, opt CurveOptions) (*Figure, error) {
	if opt.Width <= 0 || opt.Height <= 0 {
		opt.Width, opt.Height = 1200, 900
	}
	if opt.Width < 200 || opt.Height < 150 {
		return nil, fmt.Errorf("viz: curves: %dx%d pixels is too small (at least 200x150)", opt.Width, opt.Height)
	}
	step := func(r runlog.LogRow) float64 { return float64(r.Step) }
	panels := []Panel{
		{Title: "loss", Series: []Series{series("loss", LossColour, log, step, func(r runlog.LogRow) float64 { return r.Loss })}},
		{Title: "probe accuracy (solid: linear probe, dashed: k-NN)"},
		{Title: "learning rate", Series: []Series{series("lr", LRColour, log, step, func(r runlog.LogRow) float64 { return r.LR })}},
		{Title: "weight decay", Series: []Series{series("wd", WDColour, log, step, func(r runlog.LogRow) float64 { return r.WD })}},
		{Title: "EMA momentum", Series: []Series{series("momentum", MomentumColour, log, step, func(r runlog.LogRow) float64 { return r.Momentum })}},
		{Title: "images / s", Series: []Series{series("img/s", SpeedColour, log, step, func(r runlog.LogRow) float64 { return r.ImgPerS })}},
	}
	for _, kind := range evalKinds(eval) {
		var rows []runlog.EvalRow
		for _, r := range eval {
			if r.Features == kind {
				rows = append(rows, r)
			}
		}
		c, ok := FeatureColours[kind]
		if !ok {
			c = Ink
		}
		es := func(r runlog.EvalRow) float64 { return float64(r.Step) }
		panels[1].Series = append(panels[1].Series,
			series(kind+" probe", c, rows, es, func(r runlog.EvalRow) float64 { return r.ProbeAcc }))
		knn := series(kind+" k-NN", c, rows, es, func(r runlog.EvalRow) float64 { return r.KNNAcc })
		knn.Dashed = true
		panels[1].Series = append(panels[1].Series, knn)
	}

	// The step axis is shared, so panels line up.
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, p := range panels {
		for _, s := range p.Series {
			for _, x := range s.X {
				xmin, xmax = min(xmin, x), max(xmax, x)
			}
		}
	}
	if xmin > xmax {
		xmin, xmax = 0, 1
	}

	cols := 2
	if opt.Cols == 3 {
		cols = 3
	}
	rows := (len(panels) + cols - 1) / cols
	if opt.Glyphs <= 0 {
		// Dots at least about 10 pixels apart.
		opt.Glyphs = opt.Width / cols / 10
	}
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for i := range panels {
		pn := &panels[i]
		p := plot.New()
		p.X.Label.Text = "step"
		p.X.Tick.Marker = stepTicks{}
		p.X.Min, p.X.Max = xmin, xmax
		title := pn.Title
		empty := true
		for j := range pn.Series {
			s := &pn.Series[j]
			if s.Dropped > 0 {
				title += fmt.Sprintf(" (%d non-finite %s values not drawn)", s.Dropped, s.Name)
			}
			if len(s.X) == 0 {
				continue
			}
			empty = false
			xy := make(plotter.XYs, len(s.X))
			for k := range xy {
				xy[k] = plotter.XY{X: s.X[k], Y: s.Y[k]}
			}
			line, err := plotter.NewLine(xy)
			if err != nil {
				return nil, fmt.Errorf("viz: curves: %s: %w", s.Name, err)
			}
			line.Color = s.Colour
			line.Width = vg.Points(1.2)
			s.Glyphs = !s.Dashed && len(s.X) <= opt.Glyphs
			if s.Dashed {
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			}
			if s.Glyphs || s.Dashed {
				line.Color = lighter(s.Colour)
			}
			p.Add(line)
			if s.Glyphs {
				sc, err := plotter.NewScatter(xy)
				if err != nil {
					return nil, fmt.Errorf("viz: curves: %s: %w", s.Name, err)
				}
				sc.GlyphStyle = vgdraw.GlyphStyle{Color: s.Colour, Radius: vg.Points(2.5), Shape: vgdraw.CircleGlyph{}}
				p.Add(sc)
			}
			if !s.Dashed && len(pn.Series) > 1 {
				p.Legend.Add(s.Name, line)
			}
		}
		if empty {
			title += ": no data yet"
			p.Y.Min, p.Y.Max = 0, 1
		}
		if i == 1 && !empty {
			p.Y.Min, p.Y.Max = 0, 1
			p.Legend.Top, p.Legend.Left = true, true
		}
		p.Title.Text = title
		pn.Title = title
		plots[i/cols][i%cols] = p
	}

	const dpi = vgimg.DefaultDPI
	img := image.NewRGBA(image.Rect(0, 0, opt.Width, opt.Height))
	draw.Draw(img, img.Rect, image.NewUniform(Background), image.Point{}, draw.Src)
	top := 0
	if opt.Title != "" {
		top = lineH + margin
	}
	cv := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(dpi))
	dc := vgdraw.New(cv)
	toPx := func(l vg.Length) float64 { return float64(l) * dpi / 72 }
	dc = vgdraw.Crop(dc, 0, 0, 0, -vg.Length(float64(top)*72/dpi))
	tiles := vgdraw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(12),
		PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(12)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range panels {
		p, c := plots[i/cols][i%cols], canvases[i/cols][i%cols]
		p.Draw(c)
		da := p.DataCanvas(c)
		px := func(x, y vg.Length) image.Point {
			return image.Pt(int(math.Floor(toPx(x))), opt.Height-1-int(math.Floor(toPx(y))))
		}
		lo, hi := px(da.Min.X, da.Min.Y), px(da.Max.X, da.Max.Y)
		panels[i].Data = image.Rect(lo.X, hi.Y, hi.X, lo.Y)
		for j := range panels[i].Series {
			s := &panels[i].Series[j]
			trX, trY := p.Transforms(&da)
			for k := range s.X {
				s.At = append(s.At, px(trX(s.X[k]), trY(s.Y[k])))
			}
		}
	}
	out, ok := cv.Image().(*image.RGBA)
	if !ok {
		out = image.NewRGBA(cv.Image().Bounds())
		draw.Draw(out, out.Rect, cv.Image(), image.Point{}, draw.Src)
	}
	if opt.Title != "" {
		drawText(out, margin, margin/2, opt.Title, Ink)
	}
	return &Figure{Image: out, Panels: panels}, nil
}

// evalKinds lists the kinds of features in eval, target, random and pixels
// first.
func evalKinds(eval []runlog.EvalRow) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range []string{runlog.FeaturesTarget, runlog.FeaturesRandom, runlog.FeaturesPixels} {
		for _, r := range eval {
			if r.Features == k && !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	for _, r := range eval {
		if !seen[r.Features] {
			seen[r.Features] = true
			out = append(out, r.Features)
		}
	}
	return out
}

// stepTicks are gonum's default ticks labelled as plain numbers (steps are
// whole: "25", not "25.00").
type stepTicks struct{}

// Ticks implements plot.Ticker.
func (stepTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
