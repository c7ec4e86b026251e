package data

import (
	"fmt"
	"image"
	"math"
	"sync/atomic"

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
// machine. Image i shows class i mod 10 (ProceduralClasses) all over it:
// 3 to 6 shapes of that kind at random positions, sizes and rotations, or
// the texture covering the whole image at a random scale, phase and
// rotation; dark on light or light on dark (two fixed grey levels, the
// polarity drawn at random), with pixel noise. The class lives in the
// shapes or the texture, not in the grey levels or the positions, so a
// linear probe on raw pixels does poorly while features that see local
// structure do well. Every part of an image shows its class, so the blocks
// I-JEPA predicts from a context share it. Whatever varies from image to
// image and is the same all over one image is the most predictable part of
// a target block, and a short pre-training learns it first: with random
// hues it learnt colours, with random grey levels and gradients it learnt
// grey levels, neither of which says anything of the class; so the only
// such nuisance left is the polarity, one bit (docs/ARCHITECTURE.md).
type Procedural struct {
	seed uint64
	n    int
	size int
	// cache holds the images rendered so far when they all fit in
	// cacheBytes (nil otherwise): a later epoch reads instead of drawing.
	cache []atomic.Pointer[image.RGBA]
}

// cacheBytes bounds the memory Procedural keeps rendered images in.
const cacheBytes = 256 << 20

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
	p := &Procedural{seed: seed, n: n, size: size}
	if int64(n)*int64(size)*int64(size)*4 <= cacheBytes {
		p.cache = make([]atomic.Pointer[image.RGBA], n)
	}
	return p, nil
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
	if p.cache == nil {
		return render(rng.New(p.seed, uint64(i)), p.Label(i), p.size), nil
	}
	img := p.cache[i].Load()
	if img == nil {
		img = render(rng.New(p.seed, uint64(i)), p.Label(i), p.size)
		p.cache[i].Store(img)
	}
	// A copy: the caller may draw on what it gets.
	out := *img
	out.Pix = append([]uint8(nil), img.Pix...)
	return &out, nil
}

// The two grey levels of every image: background and foreground are one
// each, which one is drawn per image.
const greyDark, greyLight = 0.3, 0.7

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

// shapeDistance returns the signed distance (in pixels, negative inside)
// from the point (u, v), in an instance's rotated frame, to the outline of a
// shape of radius rad, for the five shape classes.
func shapeDistance(class string, u, v, rad float64) float64 {
	switch class {
	case "disc":
		return hypot(u, v) - rad
	case "ring":
		return math.Abs(hypot(u, v)-0.72*rad) - max(0.2*rad, 0.8)
	case "square":
		return max(math.Abs(u), math.Abs(v)) - 0.8*rad
	case "triangle":
		d := math.Inf(-1)
		for k := 0; k < 3; k++ {
			a := -math.Pi/2 + float64(k)*2*math.Pi/3
			d = max(d, u*math.Cos(a)+v*math.Sin(a))
		}
		return d - rad/2
	default: // cross
		w := max(0.28*rad, 0.8)
		u, v = math.Abs(u), math.Abs(v)
		return min(max(u-rad, v-w), max(u-w, v-rad))
	}
}

// instance is one shape of a scene: centre, radius and rotation.
type instance struct{ cx, cy, rad, cos, sin float64 }

// scatter places k shapes of radius rlo to rhi (fractions of the side s)
// at random positions and rotations, avoiding overlaps where a few tries
// allow.
func scatter(r *rng.RNG, k int, rlo, rhi, s float64) []instance {
	out := make([]instance, 0, k)
	for len(out) < k {
		rad := r.Uniform(rlo, rhi) * s
		var in instance
		for try := 0; try < 16; try++ {
			in = instance{cx: r.Uniform(rad, s-rad), cy: r.Uniform(rad, s-rad), rad: rad}
			free := true
			for _, o := range out {
				free = free && hypot(in.cx-o.cx, in.cy-o.cy) > in.rad+o.rad
			}
			if free {
				break
			}
		}
		a := r.Uniform(0, 2*math.Pi)
		in.cos, in.sin = math.Cos(a), math.Sin(a)
		out = append(out, in)
	}
	return out
}

// render draws one image of class label; every random choice comes from r,
// in a fixed order. A shape class scatters 3 to 6 shapes of that kind over
// the image; a texture class covers the whole image with its pattern; so
// every part of an image shows its class.
func render(r *rng.RNG, label, size int) *image.RGBA {
	s := float64(size)
	bg, fg := greyDark, greyLight
	if r.IntN(2) == 1 {
		bg, fg = fg, bg
	}
	rot := r.Uniform(0, 2*math.Pi)
	cr, sr := math.Cos(rot), math.Sin(rot)
	per := max(r.Uniform(0.12, 0.2)*s, 3)
	phase := r.Uniform(0, per)
	const jitter = 10 * math.Pi / 180

	// coverage of the foreground at pixel centre (x, y).
	var coverage func(x, y float64) float64
	stripes := func(normal float64) func(x, y float64) float64 {
		a := normal + r.Uniform(-jitter, jitter)
		nx, ny := math.Cos(a), math.Sin(a)
		return func(x, y float64) float64 { return 0.5 + 0.5*wave(x*nx+y*ny+phase, per) }
	}
	class := ProceduralClasses[label]
	switch class {
	case "hstripes":
		coverage = stripes(math.Pi / 2)
	case "vstripes":
		coverage = stripes(0)
	case "dstripes":
		coverage = stripes(math.Pi / 4)
	case "checker":
		coverage = func(x, y float64) float64 {
			u, v := cr*x+sr*y, -sr*x+cr*y
			return 0.5 + 0.5*wave(u+phase, per)*wave(v+phase, per)
		}
	case "dots":
		dots := scatter(r, 10+r.IntN(8), 0.035, 0.06, s)
		coverage = func(x, y float64) float64 {
			c := 0.0
			for _, d := range dots {
				c = max(c, cover(hypot(x-d.cx, y-d.cy)-d.rad))
			}
			return c
		}
	default:
		shapes := scatter(r, 3+r.IntN(4), 0.09, 0.15, s)
		coverage = func(x, y float64) float64 {
			c := 0.0
			for _, in := range shapes {
				dx, dy := x-in.cx, y-in.cy
				if dx*dx+dy*dy > 2*in.rad*in.rad+4 {
					continue
				}
				c = max(c, cover(shapeDistance(class, in.cos*dx+in.sin*dy, -in.sin*dx+in.cos*dy, in.rad)))
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
			a := coverage(x, y)
			bits := r.Uint64()
			b := bg + a*(fg-bg)
			for c := 0; c < 3; c++ {
				u := float64(int64(bits>>(16*c))&0xffff - 1<<15)
				v := b + noise*u
				row[4*px+c] = uint8(clamp01(v)*255 + 0.5)
			}
			row[4*px+3] = 255
		}
	}
	return img
}
