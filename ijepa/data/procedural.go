package data

import (
	"fmt"
	"image"
	"math"

	"github.com/ijepa-go/ijepa/ijepa/internal/rng"
)

// ProceduralClasses names the classes of the procedural dataset, in label
// order: five shapes (told apart by their outline) and five textures (told
// apart by the orientation or layout of their pattern).
var ProceduralClasses = []string{
	"disc", "ring", "square", "triangle", "cross",
	"hstripes", "vstripes", "dstripes", "checker", "dots",
}

// Procedural is a labelled image dataset generated on the fly from a seed:
// no download, any size (e.g. 32x32 or 224x224), the same images on every
// machine. Image i shows one object of class i mod 10 (ProceduralClasses)
// with a random foreground colour, position, size and rotation, on a random
// background with a gradient and pixel noise. The class lives in the shape or
// texture, not in the colours or the position, so a linear probe on raw
// pixels does poorly while features that see local structure do well.
type Procedural struct {
	seed uint64
	n    int
	size int
}

// NewProcedural returns n images of size x size pixels generated from seed.
// Different seeds give independent images (use another seed, or Split, for a
// held-out set).
func NewProcedural(seed uint64, n, size int) (*Procedural, error) {
	if n < 1 {
		return nil, fmt.Errorf("ijepa: procedural dataset: need at least 1 image, got %d", n)
	}
	if size < 8 || size > 2048 {
		return nil, fmt.Errorf("ijepa: procedural dataset: image size must be 8 to 2048 pixels, got %d", size)
	}
	return &Procedural{seed: seed, n: n, size: size}, nil
}

// Name implements Dataset.
func (p *Procedural) Name() string {
	return fmt.Sprintf("procedural(seed=%d,n=%d,size=%d)", p.seed, p.n, p.size)
}

// Len implements Dataset.
func (p *Procedural) Len() int { return p.n }

// NumClasses implements Dataset.
func (p *Procedural) NumClasses() int { return len(ProceduralClasses) }

// ClassNames implements Dataset.
func (p *Procedural) ClassNames() []string { return append([]string(nil), ProceduralClasses...) }

// Label implements Dataset: image i has class i mod 10.
func (p *Procedural) Label(i int) int { return i % len(ProceduralClasses) }

// Image implements Dataset: it renders image i.
func (p *Procedural) Image(i int) (*image.RGBA, error) {
	if i < 0 || i >= p.n {
		return nil, indexError(p, i)
	}
	return render(rng.New(p.seed, uint64(i)), p.Label(i), p.size), nil
}

type rgb [3]float64

func luminance(c rgb) float64 { return 0.299*c[0] + 0.587*c[1] + 0.114*c[2] }

func randomColour(r *rng.RNG) rgb { return rgb{r.Float64(), r.Float64(), r.Float64()} }

// contrasting draws a colour whose luminance differs from c's by at least
// 0.3, falling back to black or white.
func contrasting(r *rng.RNG, c rgb) rgb {
	for try := 0; try < 32; try++ {
		f := randomColour(r)
		if math.Abs(luminance(f)-luminance(c)) >= 0.3 {
			return f
		}
	}
	if luminance(c) > 0.5 {
		return rgb{}
	}
	return rgb{1, 1, 1}
}

func hypot(x, y float64) float64 { return math.Sqrt(x*x + y*y) }

func clamp01(x float64) float64 { return min(max(x, 0), 1) }

// cover turns a signed distance in pixels (negative inside) into an
// anti-aliased coverage in [0, 1].
func cover(d float64) float64 { return clamp01(0.5 - d) }

// wave is a square wave of period per with stripes of half a period, +1 on a
// stripe and -1 between, anti-aliased over one pixel.
func wave(t, per float64) float64 {
	m := t - per*math.Floor(t/per) - per/2
	return max(-1, min(1, 2*(per/4-math.Abs(m))))
}

// render draws one image of class label; every random choice comes from r,
// in a fixed order.
func render(r *rng.RNG, label, size int) *image.RGBA {
	s := float64(size)
	bg0 := randomColour(r)
	var bg1 rgb
	for c := range bg1 {
		bg1[c] = clamp01(bg0[c] + r.Uniform(-0.25, 0.25))
	}
	ga := r.Uniform(0, 2*math.Pi)
	gx, gy := math.Cos(ga), math.Sin(ga)
	fg := contrasting(r, bg0)
	cx, cy := r.Uniform(0.3, 0.7)*s, r.Uniform(0.3, 0.7)*s
	rad := r.Uniform(0.18, 0.32) * s
	rot := r.Uniform(0, 2*math.Pi)
	cr, sr := math.Cos(rot), math.Sin(rot)
	per := max(r.Uniform(0.15, 0.25)*s, 3)
	phase := r.Uniform(0, per)
	const jitter = 10 * math.Pi / 180
	region := r.Uniform(0.3, 0.42) * s

	// coverage of the foreground at pixel centre (x, y).
	var coverage func(x, y float64) float64
	local := func(x, y float64) (u, v float64) {
		dx, dy := x-cx, y-cy
		return cr*dx + sr*dy, -sr*dx + cr*dy
	}
	stripes := func(normal float64) func(x, y float64) float64 {
		a := normal + r.Uniform(-jitter, jitter)
		nx, ny := math.Cos(a), math.Sin(a)
		return func(x, y float64) float64 {
			dx, dy := x-cx, y-cy
			in := cover(hypot(dx, dy) - region)
			return in * (0.5 + 0.5*wave(dx*nx+dy*ny+phase, per))
		}
	}
	switch ProceduralClasses[label] {
	case "disc":
		coverage = func(x, y float64) float64 { return cover(hypot(x-cx, y-cy) - rad) }
	case "ring":
		half := max(0.2*rad, 0.8)
		coverage = func(x, y float64) float64 { return cover(math.Abs(hypot(x-cx, y-cy)-0.72*rad) - half) }
	case "square":
		a := 0.8 * rad
		coverage = func(x, y float64) float64 {
			u, v := local(x, y)
			return cover(max(math.Abs(u), math.Abs(v)) - a)
		}
	case "triangle":
		var nx, ny [3]float64
		for k := range nx {
			a := -math.Pi/2 + float64(k)*2*math.Pi/3
			nx[k], ny[k] = math.Cos(a), math.Sin(a)
		}
		coverage = func(x, y float64) float64 {
			u, v := local(x, y)
			d := max(u*nx[0]+v*ny[0], u*nx[1]+v*ny[1], u*nx[2]+v*ny[2])
			return cover(d - rad/2)
		}
	case "cross":
		w := max(0.28*rad, 0.8)
		coverage = func(x, y float64) float64 {
			u, v := local(x, y)
			u, v = math.Abs(u), math.Abs(v)
			return cover(min(max(u-rad, v-w), max(u-w, v-rad)))
		}
	case "hstripes":
		coverage = stripes(math.Pi / 2)
	case "vstripes":
		coverage = stripes(0)
	case "dstripes":
		coverage = stripes(math.Pi / 4)
	case "checker":
		coverage = func(x, y float64) float64 {
			u, v := local(x, y)
			in := cover(hypot(u, v) - region)
			return in * (0.5 + 0.5*wave(u+phase, per)*wave(v+phase, per))
		}
	case "dots":
		k := 4 + r.IntN(3)
		dots := make([][3]float64, k)
		for j := range dots {
			dots[j] = [3]float64{r.Uniform(0.15, 0.85) * s, r.Uniform(0.15, 0.85) * s, max(r.Uniform(0.06, 0.1)*s, 1.5)}
		}
		coverage = func(x, y float64) float64 {
			c := 0.0
			for _, d := range dots {
				c = max(c, cover(hypot(x-d[0], y-d[1])-d[2]))
			}
			return c
		}
	}

	img := image.NewRGBA(image.Rect(0, 0, size, size))
	// Pixel noise: uniform with standard deviation 0.03, 16 random bits per
	// channel from one draw per pixel.
	const noise = 0.03 * 1.7320508075688772 / (1 << 15) // sqrt(3): std of U[-1,1) is 1/sqrt(3)
	for py := 0; py < size; py++ {
		y := float64(py) + 0.5
		row := img.Pix[py*img.Stride:]
		for px := 0; px < size; px++ {
			x := float64(px) + 0.5
			t := clamp01(0.5 + ((x-s/2)*gx+(y-s/2)*gy)/s)
			a := coverage(x, y)
			bits := r.Uint64()
			for c := 0; c < 3; c++ {
				b := bg0[c] + t*(bg1[c]-bg0[c])
				u := float64(int64(bits>>(16*c))&0xffff - 1<<15)
				v := b + a*(fg[c]-b) + noise*u
				row[4*px+c] = uint8(clamp01(v)*255 + 0.5)
			}
			row[4*px+3] = 255
		}
	}
	return img
}
