package nn

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
)

// InitKind is how a parameter is initialised.
type InitKind uint8

// The initialisations of the official I-JEPA trainer.
const (
	// InitNormal draws N(0, Std^2), truncated at ±2 absolute (PyTorch's
	// trunc_normal_(std=Std, a=-2, b=2): with Std 0.02 in effect
	// untruncated).
	InitNormal InitKind = iota + 1
	// InitZeros fills 0 (biases, LayerNorm shifts).
	InitZeros
	// InitOnes fills 1 (LayerNorm scales).
	InitOnes
	// InitSinCos2D fills the fixed 2-D sin-cos position table of a
	// GridH x GridW patch grid (see SinCos2D).
	InitSinCos2D
)

// Init describes a parameter's initial value.
type Init struct {
	Kind         InitKind
	Std          float64 // InitNormal
	GridH, GridW int     // InitSinCos2D
}

// TruncBound is the absolute bound of the truncated normal initialisation
// (PyTorch's trunc_normal_ default a=-2, b=2, as the official code uses it).
const TruncBound = 2.0

// Param is one named parameter: its spec (name, shape, initialisation,
// whether the optimiser trains it) and, once allocated, its value and
// gradient on a backend. Names and shapes are the official PyTorch ones.
type Param struct {
	Name      string
	Shape     backend.Shape
	Init      Init
	Trainable bool

	// Value holds the parameter once allocated.
	Value *backend.Tensor
	// Grad holds dL/dValue for trainable parameters once AllocGrads ran.
	Grad *backend.Tensor
}

// NumElements returns the number of scalars of the parameter.
func (p *Param) NumElements() int64 {
	n := int64(1)
	for _, d := range p.Shape {
		n *= int64(d)
	}
	return n
}

// Decay reports whether AdamW applies weight decay to the parameter: a
// trainable parameter of the decayed group (DecayGroup).
func (p *Param) Decay() bool {
	return p.Trainable && p.DecayGroup()
}

// DecayGroup reports whether the parameter belongs to the official trainer's
// weight-decayed parameter groups (src/helper.py init_opt): every parameter
// whose name does not contain "bias" and that is not 1-D (LayerNorm scales
// are), trainable or not — Linear and patch conv weights, the predictor's
// mask token [1,1,d], and the fixed position tables, which the official
// groups hold although they never get a gradient.
func (p *Param) DecayGroup() bool {
	return !strings.Contains(p.Name, "bias") && len(p.Shape) != 1
}

// Builder collects parameter specs under a name prefix. Models are built
// in two phases: constructors declare their parameters on a Builder (which
// allocates nothing, so a ViT-H can be counted on any machine), then Alloc
// gives them values on a backend.
type Builder struct {
	prefix string
	list   *[]*Param
	names  map[string]bool
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder {
	return &Builder{list: new([]*Param), names: map[string]bool{}}
}

// Sub returns a builder that declares into the same list under
// prefix + name + ".".
func (b *Builder) Sub(name string) *Builder {
	return &Builder{prefix: b.prefix + name + ".", list: b.list, names: b.names}
}

// Param declares a parameter. Declaring a name twice panics: it is a bug in
// a model constructor, not a user error.
func (b *Builder) Param(name string, init Init, trainable bool, shape ...int) *Param {
	full := b.prefix + name
	if b.names[full] {
		panic("nn: parameter " + full + " declared twice")
	}
	b.names[full] = true
	p := &Param{Name: full, Shape: backend.Shape(shape).Clone(), Init: init, Trainable: trainable}
	*b.list = append(*b.list, p)
	return p
}

// Params returns every parameter declared so far, in declaration order.
func (b *Builder) Params() []*Param { return append([]*Param(nil), *b.list...) }

// Count returns the number of scalars in params, of the trainable ones only
// when trainable is true.
func Count(params []*Param, trainable bool) int64 {
	var n int64
	for _, p := range params {
		if !trainable || p.Trainable {
			n += p.NumElements()
		}
	}
	return n
}

// Trainable returns the trainable parameters of params, in order.
func Trainable(params []*Param) []*Param {
	var out []*Param
	for _, p := range params {
		if p.Trainable {
			out = append(out, p)
		}
	}
	return out
}

// Alloc allocates every parameter's value on be and initialises it. Random
// initialisations draw from a stream seeded by seed and the parameter's
// name, so a parameter's initial value does not depend on what else the
// model declares. On error, what was allocated is released.
func Alloc(be backend.Backend, params []*Param, seed uint64) error {
	for i, p := range params {
		if p.Value != nil {
			return fmt.Errorf("nn: alloc %s: already allocated", p.Name)
		}
		p.Value = be.New(backend.F32, p.Shape...)
		if err := initValue(be, p, seed); err != nil {
			Free(be, params[:i+1])
			return err
		}
	}
	if err := be.Err(); err != nil {
		Free(be, params)
		return fmt.Errorf("nn: alloc: %w", err)
	}
	return nil
}

// AllocGrads allocates a gradient tensor for every trainable parameter that
// has none.
func AllocGrads(be backend.Backend, params []*Param) error {
	for _, p := range params {
		if !p.Trainable || p.Grad != nil {
			continue
		}
		p.Grad = be.New(backend.F32, p.Shape...)
		backend.Fill(be, p.Grad, 0)
	}
	return be.Err()
}

// Free releases the values and gradients of params.
func Free(be backend.Backend, params []*Param) {
	for _, p := range params {
		if p.Value != nil {
			be.Release(p.Value)
			p.Value = nil
		}
		if p.Grad != nil {
			be.Release(p.Grad)
			p.Grad = nil
		}
	}
}

// AllocCopy allocates dst's values on be as copies of src's (a target
// encoder from its online encoder); the two lists must declare the same
// shapes in the same order. Nothing is drawn at random.
func AllocCopy(be backend.Backend, dst, src []*Param) error {
	if len(dst) != len(src) {
		return fmt.Errorf("nn: copy: %d parameters into %d", len(src), len(dst))
	}
	for i := range dst {
		if !dst[i].Shape.Equal(src[i].Shape) {
			Free(be, dst[:i])
			return fmt.Errorf("nn: copy %s %v into %s %v: shapes differ", src[i].Name, src[i].Shape, dst[i].Name, dst[i].Shape)
		}
		if dst[i].Value != nil || src[i].Value == nil {
			Free(be, dst[:i])
			return fmt.Errorf("nn: copy %s into %s: the source must be allocated and the destination not", src[i].Name, dst[i].Name)
		}
		dst[i].Value = be.New(backend.F32, dst[i].Shape...)
		backend.Copy(be, dst[i].Value, src[i].Value)
	}
	if err := be.Err(); err != nil {
		Free(be, dst)
		return fmt.Errorf("nn: copy: %w", err)
	}
	return nil
}

func nameStream(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// InitialValues returns the initial values of p for the given seed, as
// Alloc writes them.
func InitialValues(p *Param, seed uint64) ([]float32, error) {
	n := int(p.NumElements())
	switch p.Init.Kind {
	case InitZeros:
		return make([]float32, n), nil
	case InitOnes:
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return v, nil
	case InitNormal:
		r := nameStream(seed, p.Name)
		v := make([]float32, n)
		for i := range v {
			x := r.NormFloat64() * p.Init.Std
			for math.Abs(x) > TruncBound {
				x = r.NormFloat64() * p.Init.Std
			}
			v[i] = float32(x)
		}
		return v, nil
	case InitSinCos2D:
		d := int(p.Shape[len(p.Shape)-1])
		if p.Init.GridH*p.Init.GridW*d != n {
			return nil, fmt.Errorf("nn: %s %v: a %dx%d sin-cos table of width %d does not fit", p.Name, p.Shape, p.Init.GridH, p.Init.GridW, d)
		}
		return SinCos2D(p.Init.GridH, p.Init.GridW, d)
	}
	return nil, fmt.Errorf("nn: %s: unknown initialisation %d", p.Name, p.Init.Kind)
}

func initValue(be backend.Backend, p *Param, seed uint64) error {
	switch p.Init.Kind {
	case InitZeros:
		backend.Fill(be, p.Value, 0)
		return nil
	case InitOnes:
		backend.Fill(be, p.Value, 1)
		return nil
	}
	v, err := InitialValues(p, seed)
	if err != nil {
		return err
	}
	backend.WriteF32(be, p.Value, v)
	return nil
}

// SinCos2D returns the fixed 2-D sin-cos positional table of a gh x gw patch
// grid with dim d (a multiple of 4), row-major over the grid, in the MAE
// layout the official code uses: with omega_k = 1/10000^(k/(d/4)) for k < d/4,
// the token at row i, column j (index i*gw+j) is
// [sin(j*omega), cos(j*omega), sin(i*omega), cos(i*omega)] — the first half
// encodes the column. Computed in float64, rounded to float32.
func SinCos2D(gh, gw, d int) ([]float32, error) {
	if d%4 != 0 || d <= 0 || gh <= 0 || gw <= 0 {
		return nil, fmt.Errorf("nn: sin-cos table: dim %d must be a positive multiple of 4 and the grid %dx%d positive", d, gh, gw)
	}
	q := d / 4
	omega := make([]float64, q)
	for k := range omega {
		omega[k] = 1 / math.Pow(10000, float64(k)/float64(q))
	}
	out := make([]float32, gh*gw*d)
	for i := 0; i < gh; i++ {
		for j := 0; j < gw; j++ {
			row := out[(i*gw+j)*d : (i*gw+j+1)*d]
			for k, w := range omega {
				row[k] = float32(math.Sin(float64(j) * w))
				row[q+k] = float32(math.Cos(float64(j) * w))
				row[2*q+k] = float32(math.Sin(float64(i) * w))
				row[3*q+k] = float32(math.Cos(float64(i) * w))
			}
		}
	}
	return out, nil
}
