package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/ijepa-go/ijepa/ijepa/mask"
)

// TargetColours are the colours of target blocks 1, 2, 3, ... (cycled when a
// config asks for more blocks): distinct, and none close to grey.
var TargetColours = []color.RGBA{
	{230, 25, 75, 255},   // red
	{60, 180, 75, 255},   // green
	{0, 130, 200, 255},   // blue
	{255, 200, 25, 255},  // yellow
	{145, 30, 180, 255},  // purple
	{70, 240, 240, 255},  // cyan
	{245, 130, 48, 255},  // orange
	{240, 50, 230, 255},  // magenta
	{128, 128, 0, 255},   // olive
	{0, 128, 128, 255},   // teal
	{170, 110, 40, 255},  // brown
	{128, 0, 0, 255},     // maroon
	{0, 0, 128, 255},     // navy
	{210, 245, 60, 255},  // lime
	{250, 190, 212, 255}, // pink
	{170, 255, 195, 255}, // mint
}

// TargetColour is the colour of target block m (0-based).
func TargetColour(m int) color.RGBA { return TargetColours[m%len(TargetColours)] }

// How the mask picture draws each patch: context patches show the image as
// it is, target patches are tinted with their block's colour (TargetTint of
// the colour over the image) and outlined in it, and patches the model sees
// in neither role are darkened to Unused of their brightness.
const (
	TargetTint = 0.45
	Unused     = 0.3
)

// tint blends colour t over c with weight a, rounding to nearest.
func tint(c, t uint8, a float64) uint8 {
	return uint8(math.Round(float64(c)*(1-a) + float64(t)*a))
}

// MaskOptions say how Masks lays out its sheet.
type MaskOptions struct {
	// Cell is the wanted side of an image cell in pixels: images are
	// enlarged by the largest whole factor that keeps them within it
	// (0: 192).
	Cell int
	// Cols is the number of images per row (0: 4).
	Cols int
	// Title is the first caption line (empty: none).
	Title string
	// Labels, when given, are written under the images, one per image.
	Labels []string
	// First is the index in the batch of images[0]: the images are batch
	// images First, First+1, ...
	First int
}

// Masks draws images (batch images opt.First, opt.First+1, ... of b, each the
// square crop the model is given) with the masks of b over them: the context
// patches as they are, each target block tinted and outlined in its
// TargetColour, the other patches darkened. Images are enlarged by whole
// factors, so each patch is a square of equal pixels. Targets and context
// are drawn from the patch indices the sampler returned (after the batch's
// truncation), not from block rectangles, so the picture shows exactly what
// the model is given. Below the title a caption states the batch's block
// sizes, followed by a legend; text is wrapped to the width of the cells.
func Masks(images []*image.RGBA, b *mask.Batch, opt MaskOptions) (*Picture, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("viz: masks: no images")
	}
	if opt.First < 0 || opt.First+len(images) > b.B() {
		return nil, fmt.Errorf("viz: masks: images %d to %d of a batch of %d", opt.First, opt.First+len(images)-1, b.B())
	}
	size := images[0].Bounds().Dx()
	for i, img := range images {
		if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
			return nil, fmt.Errorf("viz: masks: image %d is %dx%d, want %dx%d like image 0", i, r.Dx(), r.Dy(), size, size)
		}
	}
	if b.Height != b.Width || size%b.Width != 0 {
		return nil, fmt.Errorf("viz: masks: %dx%d images do not split into the %dx%d patch grid", size, size, b.Height, b.Width)
	}
	if opt.Cols <= 0 {
		opt.Cols = 4
	}
	k := scaleFor(size, opt.Cell)
	patch := size / b.Width * k // patch side in picture pixels
	caption := MaskSummary(b)
	lines := []string{caption}
	if opt.Title != "" {
		lines = append([]string{opt.Title}, lines...)
	}
	cols := max(1, min(opt.Cols, len(images)))
	minW := max(minTextWidth, cols*size*k+(cols-1)*gap)
	lines = wrap(lines, minW)
	legend := legendRows(b.M(), minW)
	top := (len(lines)+len(legend))*lineH + gap/2
	g := newGrid(len(images), opt.Cols, size*k, size*k, top, len(opt.Labels) > 0, minW)
	pic := &Picture{Image: g.newSheet(), Scale: k}
	for i, l := range lines {
		drawText(pic.Image, margin, margin+i*lineH, l, Ink)
	}
	for i, row := range legend {
		drawLegend(pic.Image, margin, margin+(len(lines)+i)*lineH, row)
	}

	n := b.N()
	lw := max(1, min(2, patch/8)) // outline width
	for c, img := range images {
		r, i := g.cell(c), opt.First+c
		pic.Cells = append(pic.Cells, r)
		blowUp(pic.Image, r, img, k)
		// Each patch's role: the last target block that holds it, or -1.
		ctx := make([]bool, n)
		for _, p := range b.Context[i] {
			ctx[p] = true
		}
		tgt := make([]int, n)
		for p := range tgt {
			tgt[p] = -1
		}
		member := make([][]bool, b.M())
		for m := range b.Targets {
			member[m] = make([]bool, n)
			for _, p := range b.Targets[m][i] {
				tgt[p] = m
				member[m][p] = true
			}
		}
		for p := 0; p < n; p++ {
			pr := patchRect(r, p, b.Width, patch)
			switch {
			case tgt[p] >= 0:
				c := TargetColour(tgt[p])
				recolour(pic.Image, pr, func(v uint8, ch int) uint8 { return tint(v, [3]uint8{c.R, c.G, c.B}[ch], TargetTint) })
			case !ctx[p]:
				recolour(pic.Image, pr, func(v uint8, _ int) uint8 { return uint8(math.Round(float64(v) * Unused)) })
			}
		}
		// Outlines: every side of a block's patch that borders a patch
		// outside the block.
		for m := range b.Targets {
			c := TargetColour(m)
			for _, p := range b.Targets[m][i] {
				row, col := int(p)/b.Width, int(p)%b.Width
				pr := patchRect(r, int(p), b.Width, patch)
				in := func(rr, cc int) bool {
					return rr >= 0 && rr < b.Height && cc >= 0 && cc < b.Width && member[m][rr*b.Width+cc]
				}
				if !in(row-1, col) {
					fill(pic.Image, image.Rect(pr.Min.X, pr.Min.Y, pr.Max.X, pr.Min.Y+lw), c)
				}
				if !in(row+1, col) {
					fill(pic.Image, image.Rect(pr.Min.X, pr.Max.Y-lw, pr.Max.X, pr.Max.Y), c)
				}
				if !in(row, col-1) {
					fill(pic.Image, image.Rect(pr.Min.X, pr.Min.Y, pr.Min.X+lw, pr.Max.Y), c)
				}
				if !in(row, col+1) {
					fill(pic.Image, image.Rect(pr.Max.X-lw, pr.Min.Y, pr.Max.X, pr.Max.Y), c)
				}
			}
		}
		if c < len(opt.Labels) {
			drawText(pic.Image, r.Min.X, r.Max.Y+2, opt.Labels[c], Ink)
		}
	}
	return pic, nil
}

// patchRect is the rectangle of patch p of a grid w patches wide in a cell
// at r with patches of side px.
func patchRect(r image.Rectangle, p, w, px int) image.Rectangle {
	x, y := r.Min.X+(p%w)*px, r.Min.Y+(p/w)*px
	return image.Rect(x, y, x+px, y+px)
}

// recolour replaces each colour channel v of the pixels of r by f(v, ch).
func recolour(img *image.RGBA, r image.Rectangle, f func(v uint8, ch int) uint8) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		o := img.PixOffset(r.Min.X, y)
		for x := 0; x < r.Dx(); x++ {
			for ch := 0; ch < 3; ch++ {
				img.Pix[o+4*x+ch] = f(img.Pix[o+4*x+ch], ch)
			}
		}
	}
}

// MaskSummary states the masks of a batch in one line. Steps are counted
// from 1, as log.csv counts them (the sampler's step index plus one).
func MaskSummary(b *mask.Batch) string {
	full := 0
	for _, c := range b.ContextFull {
		full = max(full, c)
	}
	s := fmt.Sprintf("step %d, %dx%d patches: context block %v keeps %d patches (truncated to the batch's shortest), %d target blocks %v of %d patches",
		b.Step+1, b.Height, b.Width, b.EncSize, b.Kc(), b.M(), b.PredSize, b.Kt())
	if b.Relaxed > 0 {
		s += fmt.Sprintf(", %d relaxed", b.Relaxed)
	}
	return s
}

const swatch = 11

// legendEntry is one swatch of the legend: -2 context, -1 unused, m >= 0
// target block m.
type legendEntry int

func (e legendEntry) text() string {
	switch e {
	case -2:
		return "context"
	case -1:
		return "unused"
	}
	return fmt.Sprintf("target %d", int(e)+1)
}

func (e legendEntry) width() int { return swatch + 4 + textWidth(e.text()) + 2*textPadX + 12 }

// legendRows lays the legend's entries for m target blocks out in rows at
// most width pixels wide.
func legendRows(m, width int) [][]legendEntry {
	var rows [][]legendEntry
	var row []legendEntry
	w := 0
	for e := legendEntry(-2); int(e) < m; e++ {
		if len(row) > 0 && w+e.width() > width {
			rows, row, w = append(rows, row), nil, 0
		}
		row, w = append(row, e), w+e.width()
	}
	return append(rows, row)
}

// drawLegend draws a swatch and a name for each entry, on one line at
// (x, y).
func drawLegend(img *image.RGBA, x, y int, row []legendEntry) {
	for _, e := range row {
		sw := image.Rect(x, y+2, x+swatch, y+2+swatch)
		switch {
		case e == -2: // context: the image as it is; an outlined white box
			fill(img, sw, Ink)
			fill(img, sw.Inset(1), Background)
		case e == -1: // unused: darkened
			g := uint8(math.Round(200 * Unused))
			fill(img, sw, color.RGBA{g, g, g, 255})
		default:
			fill(img, sw, TargetColour(int(e)))
		}
		drawText(img, x+swatch+4, y, e.text(), Ink)
		x += e.width()
	}
}
