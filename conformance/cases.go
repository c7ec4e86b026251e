// Package conformance checks that a backend computes what the reference
// computes: every op of the catalogue on a table of cases (odd primes, sizes
// that are not multiples of any workgroup size, sizes past the 65,535
// workgroup-count limit, every parameter combination that changes the code
// path), from deterministic inputs derived from one logged seed, compared by
// normalised mean squared error with a per-op bound, with NaN/Inf checks and
// guard regions around every tensor where the backend supports them.
//
// The suite takes any backend.Backend: the CPU reference is checked against
// the naive float64 statement of the ops (package naive), and every other
// backend — Vulkan, plugins — against the CPU reference. Gradient ops (those
// whose row in the catalogue names the op they differentiate) are also
// checked against central finite differences of that op.
//
// What the suite knows about one op is one Family (families.go), as
// test-backend-ops' test_case: its cases, how their inputs are drawn, its
// error bound and its finite-difference settings.
package conformance

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
)

// Case is one conformance test: an op, the shape of each of its arguments
// (in the order of the op's row in the table; nil for an absent optional
// argument), its attributes, and the dtype of each argument (nil: float32
// and indices). A case's name alone reproduces it.
type Case struct {
	Op     backend.Op
	Shapes []backend.Shape
	Attrs  backend.Attrs
	// DTypes, when set, holds one dtype per argument: a signature of the
	// op (Spec.Sigs) other than all float32.
	DTypes []backend.DType
}

// DType returns the dtype of argument i.
func (c Case) DType(i int) backend.DType {
	if c.DTypes != nil {
		return c.DTypes[i]
	}
	return c.Op.Expand(len(c.Shapes))[i].DType
}

// Low returns the dtype the case counts under: bf16 if an argument is
// bf16, else f16 if one is f16, else f32 (its error bound and its row of the
// report are that dtype's).
func (c Case) Low() backend.DType {
	low := backend.F32
	for _, d := range c.DTypes {
		switch {
		case d == backend.BF16:
			return d
		case d == backend.F16:
			low = d
		}
	}
	return low
}

// Family is everything the suite knows about one op, as test-backend-ops'
// test_case: the cases it is checked on, how their inputs are drawn, the
// error bound, and, for a gradient op, how its finite-difference check is
// set up. Its cases run in every signature of the op (Cases), each dtype
// under its own bound (Bounds). (Later variants — performance shapes,
// levels — belong here too.)
type Family struct {
	Op backend.Op
	// Cases are the calls the op is checked on (their Op is set from the
	// family's).
	Cases []Case
	// Inputs, if set, adjusts a case's default inputs (uniform in [-1, 1],
	// NaN in outputs, indices in range) where the op needs a domain or
	// inputs consistent with a forward pass.
	Inputs func(c Case, v Values, r *rand.Rand)
	// Bound is the largest NMSE allowed against the reference; 0 means
	// DefaultBound.
	Bound float64
	// GradCase, for a gradient op, completes the forward case its
	// finite-difference check derives from a case (the attributes the
	// gradient op lacks, arguments it does not name).
	GradCase func(fwd Case) Case
	// GradInputs, for a gradient op, adjusts the forward op's inputs of
	// the finite-difference check.
	GradInputs func(fwd Case, v Values, r *rand.Rand)
	// Bounds, if set, replaces the bound of the 16-bit variants of its
	// dtypes (DefaultBounds otherwise).
	Bounds map[backend.DType]float64
}

// Name formats the case as "matmul(c=[5,11] a=[5,7] b=[11,7]; TransB Alpha=1)",
// each 16-bit argument's shape after its dtype ("a=bf16[5,7]").
func (c Case) Name() string {
	names := argNames(c)
	parts := make([]string, 0, len(c.Shapes))
	for i, s := range c.Shapes {
		if s == nil {
			continue
		}
		dt := ""
		if d := c.DType(i); d == backend.F16 || d == backend.BF16 {
			dt = d.String()
		}
		parts = append(parts, names[i]+"="+dt+s.String())
	}
	name := c.Op.String() + "(" + strings.Join(parts, " ")
	if at := backend.FormatAttrs(c.Op, c.Attrs); at != "" {
		name += "; " + at
	}
	return name + ")"
}

func argNames(c Case) []string {
	specs := c.Op.Expand(len(c.Shapes))
	names := make([]string, len(specs))
	count := map[string]int{}
	for i, a := range specs {
		names[i] = a.Name
		if a.Variadic {
			names[i] = fmt.Sprintf("%s%d", a.Name, count[a.Name])
			count[a.Name]++
		}
	}
	return names
}

// family returns op's family (nil if it has none).
func family(op backend.Op) *Family { return familyOf[op] }

var familyOf = func() map[backend.Op]*Family {
	m := map[backend.Op]*Family{}
	for i := range families {
		f := &families[i]
		if m[f.Op] != nil {
			panic(fmt.Sprintf("conformance: two families for %v", f.Op))
		}
		for k := range f.Cases {
			f.Cases[k].Op = f.Op
		}
		m[f.Op] = f
	}
	return m
}()

// Families returns the family of every op that has one, in catalogue order.
func Families() []*Family {
	var out []*Family
	for _, op := range backend.Ops() {
		if f := family(op); f != nil {
			out = append(out, f)
		}
	}
	return out
}

// Cases returns every case of every family, in catalogue order, each in
// every signature of its op (Spec.Sigs): the float32 one, the 16-bit ones
// (every floating argument f16, or bf16) and the mixed ones (matmul's
// float32 c with 16-bit a and b; cast's conversions).
func Cases() []Case {
	var cs []Case
	for _, f := range Families() {
		for _, c := range f.Cases {
			for _, sig := range f.Op.Spec().Sigs {
				cs = append(cs, withSig(c, sig))
			}
		}
	}
	return cs
}

// withSig returns c with the dtypes of signature sig (DTypes nil for the
// all-float32 one, whose cases keep the names they had before dtypes).
func withSig(c Case, sig backend.Sig) Case {
	specs := c.Op.Expand(len(c.Shapes))
	dts := make([]backend.DType, len(c.Shapes))
	plain := true
	for i := range dts {
		dts[i] = sig[c.Op.ArgRow(len(c.Shapes), i)]
		plain = plain && dts[i] == specs[i].DType
	}
	if !plain {
		c.DTypes = dts
	}
	return c
}

// S is shorthand for a shape literal.
func S(d ...int) backend.Shape { return backend.Shape(d) }

// call is a case of an op not yet named, for the families' tables.
func call(a backend.Attrs, shapes ...backend.Shape) Case { return Case{Shapes: shapes, Attrs: a} }

// suffixes returns s, then each trailing part of it down to the last dim.
func suffixes(s backend.Shape) []backend.Shape {
	out := []backend.Shape{s}
	for k := 1; k < len(s); k++ {
		out = append(out, s[k:])
	}
	return out
}

// each returns f's cases for every shape.
func each(shapes []backend.Shape, f func(s backend.Shape) []Case) []Case {
	var out []Case
	for _, s := range shapes {
		out = append(out, f(s)...)
	}
	return out
}

// same returns, for each shape, the cases of an op of n arguments of that
// one shape, one per attribute set (one case without attributes if none).
func same(n int, shapes []backend.Shape, attrs ...backend.Attrs) []Case {
	if len(attrs) == 0 {
		attrs = []backend.Attrs{{}}
	}
	return each(shapes, func(s backend.Shape) []Case {
		var out []Case
		for _, a := range attrs {
			args := make([]backend.Shape, n)
			for i := range args {
				args[i] = s
			}
			out = append(out, call(a, args...))
		}
		return out
	})
}
