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
// argument), and its attributes. A case's name alone reproduces it.
type Case struct {
	Op     backend.Op
	Shapes []backend.Shape
	Attrs  backend.Attrs
}

// Family is everything the suite knows about one op, as test-backend-ops'
// test_case: the cases it is checked on, how their inputs are drawn, the
// error bound, and, for a gradient op, how its finite-difference check is
// set up. (Later variants — dtypes, performance shapes, levels — belong here
// too.)
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
}

// Name formats the case as "matmul(c=[5,11] a=[5,7] b=[11,7]; TransB Alpha=1)".
func (c Case) Name() string {
	names := argNames(c)
	parts := make([]string, 0, len(c.Shapes))
	for i, s := range c.Shapes {
		if s == nil {
			continue
		}
		parts = append(parts, names[i]+"="+s.String())
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

// Call returns the case's call on placeholder tensors (backend.Placeholder):
// what a backend's Supports, or a test of a backend's dispatch choices, is
// asked about before anything is allocated.
func (c Case) Call() backend.Call {
	specs := c.Op.Expand(len(c.Shapes))
	args := make([]*backend.Tensor, len(c.Shapes))
	for i, s := range c.Shapes {
		if s != nil {
			args[i] = backend.Placeholder(specs[i].DType, s...)
		}
	}
	return backend.Call{Op: c.Op, Args: args, Attrs: c.Attrs}
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

// Cases returns every case of every family, in catalogue order.
func Cases() []Case {
	var cs []Case
	for _, f := range Families() {
		cs = append(cs, f.Cases...)
	}
	return cs
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
