package viz

import (
	"github.com/ijepa-go/ijepa/ijepa/runlog"

	"image"
	"image/draw"
)

// FrameState is what one frame of the viewer shows.
type FrameState struct {
	// Title is the line at the top (the run and its last step).
	Title string
	// Masks and Features are the pictures of the two upper panels, drawn
	// by Masks and Features to fit MasksPanel and FeaturesPanel; when one
	// is nil its Note is shown instead (e.g. "computing ..." or an error).
	Masks, Features         *image.RGBA
	MasksNote, FeaturesNote string
	// Log and Eval are the run's rows, drawn by Curves in the lower panel.
	Log  []runlog.LogRow
	Eval []runlog.EvalRow
	// Help is the line at the bottom (the keys).
	Help string
}

// FrameLayout is where a frame of w x h pixels puts its parts.
type FrameLayout struct {
	Masks, Features, Curves image.Rectangle
}

// Layout returns the panels of a w x h frame: a title line on top, the
// masks and feature pictures side by side below it, the curves under them,
// and a help line at the bottom.
func Layout(w, h int) FrameLayout {
	top, bottom := lineH+margin/2, h-lineH-margin/2
	upper := top + (bottom-top)*9/20
	return FrameLayout{
		Masks:    image.Rect(0, top, w/2, upper),
		Features: image.Rect(w/2, top, w, upper),
		Curves:   image.Rect(0, upper, w, bottom),
	}
}

// Frame draws a w x h frame of st. The pictures are placed at their own
// resolution at the top-left of their panels (shrunk only when they do not
// fit), so the window shows what the PNG files show.
func Frame(w, h int, st FrameState) (*image.RGBA, error) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Rect, Background)
	l := Layout(w, h)
	drawText(img, margin, margin/4, st.Title, Ink)
	drawText(img, margin, h-lineH-margin/4, st.Help, Ink)
	for _, p := range []struct {
		pic  *image.RGBA
		note string
		r    image.Rectangle
	}{{st.Masks, st.MasksNote, l.Masks}, {st.Features, st.FeaturesNote, l.Features}} {
		if p.pic == nil {
			drawText(img, p.r.Min.X+margin, p.r.Min.Y+margin, p.note, Ink)
			continue
		}
		pic := Fit(p.pic, p.r.Dx(), p.r.Dy())
		draw.Draw(img, pic.Rect.Add(p.r.Min), pic, pic.Rect.Min, draw.Src)
	}
	if l.Curves.Dx() >= 200 && l.Curves.Dy() >= 150 {
		cols := 2
		if l.Curves.Dx() >= 2*l.Curves.Dy() {
			cols = 3
		}
		fig, err := Curves(st.Log, st.Eval, CurveOptions{Width: l.Curves.Dx(), Height: l.Curves.Dy(), Cols: cols})
		if err != nil {
			return nil, err
		}
		draw.Draw(img, l.Curves, fig.Image, image.Point{}, draw.Src)
	}
	return img, nil
}

// FitCell draws the largest picture that fits in w x h: for each number
// of columns in cols it finds the largest cell (a whole multiple of the
// image side size) for which draw's picture fits, and returns the picture
// with the largest cell of all (the first such on ties). When nothing fits
// even with cells of size, it returns that picture with the first number of
// columns (Frame shrinks it).
func FitCell(size, w, h int, cols []int, draw func(cell, cols int) (*Picture, error)) (*Picture, error) {
	var best *Picture
	for _, c := range cols {
		for k := max(1, min(w, h)/size); k >= 1; k-- {
			if best != nil && k <= best.Scale {
				break
			}
			pic, err := draw(k*size, c)
			if err != nil {
				return nil, err
			}
			if b := pic.Image.Bounds(); b.Dx() <= w && b.Dy() <= h {
				best = pic
				break
			}
		}
	}
	if best == nil {
		return draw(size, cols[0])
	}
	return best, nil
}
