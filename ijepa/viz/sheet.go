// Package viz draws the pictures people judge a self-supervised run by: the
// context and target blocks the mask sampler draws over real images (Masks),
// the training curves of a run directory (Curves), and the first three
// principal components of the target encoder's patch features as RGB
// (Features). The `ijepa masks`, `ijepa plot` and `ijepa features` commands
// write these pictures as PNG files, and the GLFW viewer (cmd/ijepa-view)
// composes the same pictures into its window (Frame), so the window shows
// exactly what the files show.
//
// Everything here is plain Go (image, gonum, gonum/plot): no cgo, no
// display.
package viz

import (
	"bufio"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"strings"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/ijepa-go/ijepa/internal/atomicfile"
)

// The colours of every picture.
var (
	// Background is the colour behind the cells.
	Background = color.RGBA{255, 255, 255, 255}
	// Ink is the colour of text.
	Ink = color.RGBA{33, 33, 33, 255}
)

// Picture is a drawn sheet of images and where each image cell lies in it.
type Picture struct {
	Image *image.RGBA
	// Cells are the rectangles the images were drawn into, in order.
	Cells []image.Rectangle
	// Scale is the number of picture pixels per image pixel along each side.
	Scale int
}

// Layout constants of the sheets (pixels).
const (
	margin   = 10 // around the sheet
	gap      = 10 // between cells
	lineH    = 16 // one line of text
	textPadX = 2
	// minTextWidth is the narrowest a sheet's text is wrapped to.
	minTextWidth = 240
)

// face is the font of every caption: a fixed 7x13 bitmap font, so the
// pictures do not depend on installed fonts.
var face font.Face = basicfont.Face7x13

// textWidth is the width of s in pixels.
func textWidth(s string) int { return font.MeasureString(face, s).Ceil() }

// drawText writes s with its top-left corner at (x, y) in colour c.
func drawText(dst draw.Image, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face,
		Dot: fixed.P(x+textPadX, y+face.Metrics().Ascent.Ceil()+1)}
	d.DrawString(s)
}

// wrap breaks each line into lines at most width pixels wide, between
// words (a word wider than width stays whole).
func wrap(lines []string, width int) []string {
	var out []string
	for _, l := range lines {
		cur := ""
		for _, w := range strings.Fields(l) {
			if cur != "" && textWidth(cur+" "+w)+2*textPadX > width {
				out = append(out, cur)
				cur = ""
			}
			if cur != "" {
				cur += " "
			}
			cur += w
		}
		out = append(out, cur)
	}
	return out
}

// fill paints r of dst with c.
func fill(dst draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(dst, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// grid lays out cells of cellW x cellH in cols columns below top lines of
// text, with one line of label text under each cell when labels is true.
type grid struct {
	n, cols       int
	cellW, cellH  int
	top           int // pixels of text above the cells
	labels        bool
	width, height int // the whole sheet
}

func newGrid(n, cols, cellW, cellH, top int, labels bool, minWidth int) grid {
	cols = max(1, min(cols, n))
	rows := (n + cols - 1) / cols
	g := grid{n: n, cols: cols, cellW: cellW, cellH: cellH, top: top, labels: labels}
	g.width = max(2*margin+cols*cellW+(cols-1)*gap, minWidth+2*margin)
	g.height = margin + top + rows*g.rowH() - gap + margin
	return g
}

func (g grid) rowH() int {
	h := g.cellH + gap
	if g.labels {
		h += lineH
	}
	return h
}

// cell is the rectangle of cell i.
func (g grid) cell(i int) image.Rectangle {
	x := margin + (i%g.cols)*(g.cellW+gap)
	y := margin + g.top + (i/g.cols)*g.rowH()
	return image.Rect(x, y, x+g.cellW, y+g.cellH)
}

// newSheet returns a blank sheet of the grid's size.
func (g grid) newSheet() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, g.width, g.height))
	fill(img, img.Rect, Background)
	return img
}

// scaleFor is the integer upscaling that brings an image of side size
// closest to cell pixels without exceeding it (at least 1).
func scaleFor(size, cell int) int {
	if cell <= 0 {
		cell = 192
	}
	return max(1, cell/size)
}

// blowUp draws src into dst at r, each source pixel a k x k square.
func blowUp(dst *image.RGBA, r image.Rectangle, src *image.RGBA, k int) {
	b := src.Bounds()
	for y := 0; y < r.Dy(); y++ {
		sy := b.Min.Y + y/k
		for x := 0; x < r.Dx(); x++ {
			sx := b.Min.X + x/k
			o := src.PixOffset(sx, sy)
			d := dst.PixOffset(r.Min.X+x, r.Min.Y+y)
			copy(dst.Pix[d:d+4], src.Pix[o:o+4])
		}
	}
}

// Fit returns img scaled down (bilinear) to fit in w x h keeping its aspect
// ratio, or img itself when it already fits.
func Fit(img *image.RGBA, w, h int) *image.RGBA {
	b := img.Bounds()
	if b.Dx() <= w && b.Dy() <= h {
		return img
	}
	s := min(float64(w)/float64(b.Dx()), float64(h)/float64(b.Dy()))
	out := image.NewRGBA(image.Rect(0, 0, max(1, int(float64(b.Dx())*s)), max(1, int(float64(b.Dy())*s))))
	xdraw.ApproxBiLinear.Scale(out, out.Rect, img, b, xdraw.Src, nil)
	return out
}

// WritePNG writes img to path as PNG, through a temporary file renamed into
// place (internal/atomicfile), so a reader never sees half a file.
func WritePNG(path string, img image.Image) error {
	err := atomicfile.Write(path, func(f *os.File) error {
		w := bufio.NewWriter(f)
		if err := png.Encode(w, img); err != nil {
			return err
		}
		return w.Flush()
	})
	if err != nil {
		return fmt.Errorf("viz: write %s: %w", path, err)
	}
	return nil
}
