package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
)

// Gradient checks compare the tape's gradient with central finite
// differences of the forward pass, both on the CPU backend in float32. A
// per-element check in float32 is dominated by rounding, so each check
// compares directional derivatives: for a random direction u (entries
// N(0,1)), the analytic g·u (summed in float64) against
// (L(x+eps*u) - L(x-eps*u)) / (2*eps). The error measure is
// |fd - an| / max(|an|, |fd|, |g|): g·u is N(0, |g|^2) for such u, so |g| is
// the derivative's natural scale and keeps an accidental cancellation in g·u
// from turning rounding noise into a large relative error, while a wrong
// gradient (an error of relative size r in g) still shows as an error near r.

// leaf is a tensor the check differentiates against.
type leaf struct {
	name string
	t    *backend.Tensor
}

const (
	// gcEps is the finite-difference step along a direction with N(0,1)
	// entries. Inputs and weights in these tests are O(0.1..1). The
	// truncation error grows as eps^2 (measured on the 2-block ViT: 3.7e-3
	// at eps 1e-2, 4.6e-4 at 3e-3) and the rounding error as ulp(L)/eps
	// (float32 L of O(1..10): about 3e-4 at 3e-3); 3e-3 balances the two.
	gcEps = 3e-3
	// gcTol bounds the relative error of a directional derivative.
	gcTol = 2e-3
	// gcDirs is the number of random directions per leaf.
	gcDirs = 3
)

// gradCheck differentiates loss (which must return a one-element tensor and
// release its own intermediates) with respect to each leaf and checks the
// result against finite differences. It returns the worst relative error.
func gradCheck(t *testing.T, be backend.Backend, leaves []leaf, loss func(b backend.Backend) (*backend.Tensor, error), tol float64) float64 {
	t.Helper()
	worst := directionalErrors(t, be, leaves, loss, tol, t.Errorf)
	t.Logf("worst relative error %.2e (tolerance %.0e)", worst, tol)
	return worst
}

// directionalErrors does the work of gradCheck, reporting each direction
// whose error exceeds tol through errorf, and returns the worst error.
func directionalErrors(t *testing.T, be backend.Backend, leaves []leaf, loss func(b backend.Backend) (*backend.Tensor, error), tol float64, errorf func(string, ...any)) float64 {
	t.Helper()
	tape := NewTape(be)
	grads := make([]*backend.Tensor, len(leaves))
	for i, l := range leaves {
		g := be.New(backend.F32, l.t.Shape()...)
		defer be.Release(g)
		grads[i] = g
		if err := tape.Watch(l.t, g); err != nil {
			t.Fatal(err)
		}
	}
	out, err := loss(tape)
	if err != nil {
		t.Fatal(err)
	}
	if err := tape.Backward(out); err != nil {
		t.Fatal(err)
	}
	be.Release(out)
	eval := func() float64 {
		y, err := loss(be)
		if err != nil {
			t.Fatal(err)
		}
		v, err := backend.ReadF32(be, y)
		if err != nil {
			t.Fatal(err)
		}
		be.Release(y)
		return float64(v[0])
	}
	r := rand.New(rand.NewPCG(7, 11))
	worst := 0.0
	for i, l := range leaves {
		g, err := backend.ReadF32(be, grads[i])
		if err != nil {
			t.Fatal(err)
		}
		x0, err := backend.ReadF32(be, l.t)
		if err != nil {
			t.Fatal(err)
		}
		for d := 0; d < gcDirs; d++ {
			u := make([]float64, len(x0))
			an, gn := 0.0, 0.0
			for k := range u {
				u[k] = r.NormFloat64()
				an += float64(g[k]) * u[k]
				gn += float64(g[k]) * float64(g[k])
			}
			xs := make([]float32, len(x0))
			at := func(s float64) float64 {
				for k := range xs {
					xs[k] = float32(float64(x0[k]) + s*u[k])
				}
				backend.WriteF32(be, l.t, xs)
				return eval()
			}
			fd := (at(gcEps) - at(-gcEps)) / (2 * gcEps)
			backend.WriteF32(be, l.t, x0)
			rel := math.Abs(fd-an) / math.Max(math.Max(math.Abs(an), math.Abs(fd)), math.Max(math.Sqrt(gn), 1e-6))
			worst = math.Max(worst, rel)
			if !(rel <= tol) {
				errorf("d/d%s along direction %d: analytic %.7g, finite difference %.7g, relative error %.2e > %.0e", l.name, d, an, fd, rel, tol)
			}
		}
	}
	return worst
}

// dotLoss returns L = sum(y * w) for a fixed random w shaped as y, and
// releases y. It turns any output into a scalar without adding curvature.
func dotLoss(be backend.Backend, y, w *backend.Tensor) (*backend.Tensor, error) {
	p := be.New(backend.F32, y.Shape()...)
	backend.Mul(be, p, y, w)
	be.Release(y)
	l := be.New(backend.F32, 1)
	backend.Sum(be, l, p)
	be.Release(p)
	return l, nil
}

// testRand returns a deterministic stream for a test.
func testRand(name string) *rand.Rand { return nameStream(1, name) }

// randT allocates a tensor of the given shape with entries N(mean, std^2).
func randT(t *testing.T, be backend.Backend, r *rand.Rand, mean, std float64, shape ...int) *backend.Tensor {
	t.Helper()
	v := make([]float32, backend.Shape(shape).NumElements())
	for i := range v {
		v[i] = float32(mean + std*r.NormFloat64())
	}
	x := backend.FromF32(be, v, shape...)
	return x
}

// randomize overwrites every parameter with N(mean, std^2) values (LayerNorm
// scales around 1) so that gradient checks exercise the nonlinearities.
func randomize(t *testing.T, be backend.Backend, r *rand.Rand, params []*Param, std float64) {
	t.Helper()
	for _, p := range params {
		mean := 0.0
		if p.Init.Kind == InitOnes {
			mean = 1
		}
		v := make([]float32, p.NumElements())
		for i := range v {
			v[i] = float32(mean + std*r.NormFloat64())
		}
		backend.WriteF32(be, p.Value, v)
	}
}

func paramLeaves(params []*Param) []leaf {
	var out []leaf
	for _, p := range params {
		if p.Trainable {
			out = append(out, leaf{p.Name, p.Value})
		}
	}
	return out
}

func newCPU(t *testing.T) backend.Backend {
	t.Helper()
	be := cpu.New()
	t.Cleanup(func() {
		if err := be.Close(); err != nil {
			t.Errorf("backend error: %v", err)
		}
	})
	return be
}

func idxT(t *testing.T, be backend.Backend, v []int32, shape ...int) *backend.Tensor {
	t.Helper()
	x := backend.FromI32(be, v, shape...)
	return x
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
