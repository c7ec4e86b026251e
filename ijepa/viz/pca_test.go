package viz

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// TestFitPCA checks the components against the covariance matrix: they are
// orthonormal, each is an eigenvector of the covariance with its variance
// as eigenvalue, the variances decrease and are the largest eigenvalues,
// and each component's largest entry is positive.
func TestFitPCA(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, d, k = 200, 6, 3
	x := mat.NewDense(n, d, nil)
	scale := []float64{5, 0.5, 3, 1, 0.2, 2}
	for i := 0; i < n; i++ {
		for j := 0; j < d; j++ {
			x.Set(i, j, 10*float64(j)+scale[j]*r.NormFloat64())
		}
	}
	p, err := FitPCA(x, k)
	if err != nil {
		t.Fatal(err)
	}
	var g mat.Dense
	g.Mul(p.Components.T(), p.Components)
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			if want := b2f(i == j); math.Abs(g.At(i, j)-want) > 1e-10 {
				t.Fatalf("components are not orthonormal: CᵀC[%d,%d] = %v", i, j, g.At(i, j))
			}
		}
	}
	cov := mat.NewSymDense(d, nil)
	stat.CovarianceMatrix(cov, x, nil)
	var eig mat.EigenSym
	if !eig.Factorize(cov, false) {
		t.Fatal("eigen decomposition failed")
	}
	vals := eig.Values(nil) // ascending
	for j := 0; j < k; j++ {
		c := mat.NewVecDense(d, mat.Col(nil, j, p.Components))
		var cc mat.VecDense
		cc.MulVec(cov, c)
		for i := 0; i < d; i++ {
			if math.Abs(cc.AtVec(i)-p.Vars[j]*c.AtVec(i)) > 1e-8 {
				t.Fatalf("component %d is not an eigenvector of the covariance with eigenvalue %v", j, p.Vars[j])
			}
		}
		if want := vals[d-1-j]; math.Abs(p.Vars[j]-want) > 1e-8*want {
			t.Errorf("variance %d: %v, want the eigenvalue %v", j, p.Vars[j], want)
		}
		big := 0
		for i := 0; i < d; i++ {
			if math.Abs(c.AtVec(i)) > math.Abs(c.AtVec(big)) {
				big = i
			}
		}
		if c.AtVec(big) < 0 {
			t.Errorf("component %d: largest entry %v is negative", j, c.AtVec(big))
		}
	}
	// Projections are centred, with the components' variances.
	proj := p.Project(x)
	for j := 0; j < k; j++ {
		col := mat.Col(nil, j, proj)
		if m := stat.Mean(col, nil); math.Abs(m) > 1e-9 {
			t.Errorf("projection %d has mean %v", j, m)
		}
		if v := stat.Variance(col, nil); math.Abs(v-p.Vars[j]) > 1e-8*v {
			t.Errorf("projection %d has variance %v, want %v", j, v, p.Vars[j])
		}
	}
	if _, err := FitPCA(x, d+1); err == nil {
		t.Error("more components than features accepted")
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestFeaturesPicture gives patch features with a known structure — left
// half of every image near one vector, right half near another — and checks
// that the first component (red) separates the halves, that each map patch
// is a uniform square of its colour, that the images are drawn as they are,
// and that colours span 0 to 255 per channel.
func TestFeaturesPicture(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const n, grid, dim, size = 3, 4, 10, 8
	a, b := make([]float64, dim), make([]float64, dim)
	for j := range a {
		a[j], b[j] = r.NormFloat64(), r.NormFloat64()
	}
	f := make([]float32, n*grid*grid*dim)
	for i := 0; i < n*grid*grid; i++ {
		v := a
		if (i%(grid*grid))%grid >= grid/2 {
			v = b
		}
		for j := 0; j < dim; j++ {
			f[i*dim+j] = float32(3*v[j] + 0.1*r.NormFloat64())
		}
	}
	imgs := randomImages(5, n, size)
	pic, err := Features(imgs, f, grid, dim, FeatureOptions{Cell: 40, Cols: 2, Labels: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	k := pic.Scale
	if k != 5 || len(pic.Cells) != 2*n {
		t.Fatalf("scale %d and %d cells, want 5 and %d", k, len(pic.Cells), 2*n)
	}
	var lo, hi [3]uint8
	lo = [3]uint8{255, 255, 255}
	for i := 0; i < n; i++ {
		ri, rm := pic.Cells[2*i], pic.Cells[2*i+1]
		if ri.Dx() != size*k || rm.Dx() != size*k || ri.Overlaps(rm) {
			t.Fatalf("image %d: cells %v and %v", i, ri, rm)
		}
		for y := 0; y < ri.Dy(); y++ {
			for x := 0; x < ri.Dx(); x++ {
				if pic.Image.RGBAAt(ri.Min.X+x, ri.Min.Y+y) != imgs[i].RGBAAt(x/k, y/k) {
					t.Fatalf("image %d pixel (%d,%d) is not the image's", i, x, y)
				}
			}
		}
		pp := size / grid * k
		for p := 0; p < grid*grid; p++ {
			c := pic.Colours[i*grid*grid+p]
			for ch, v := range [3]uint8{c.R, c.G, c.B} {
				lo[ch], hi[ch] = min(lo[ch], v), max(hi[ch], v)
			}
			x0, y0 := rm.Min.X+(p%grid)*pp, rm.Min.Y+(p/grid)*pp
			for y := y0; y < y0+pp; y++ {
				for x := x0; x < x0+pp; x++ {
					if g := pic.Image.RGBAAt(x, y); g != c {
						t.Fatalf("image %d patch %d: pixel (%d,%d) is %v, want the patch colour %v", i, p, x, y, g, c)
					}
				}
			}
			left := p%grid < grid/2
			ref := pic.Colours[0] // image 0, patch 0: a left patch
			if d := int(c.R) - int(ref.R); left != (d*d < 64*64) {
				t.Errorf("image %d patch %d (left %v): red %d vs a left patch's %d: the first component does not separate the halves", i, p, left, c.R, ref.R)
			}
		}
	}
	if lo != [3]uint8{0, 0, 0} || hi != [3]uint8{255, 255, 255} {
		t.Errorf("channels span %v to %v, want 0 to 255 (each component scaled by its range)", lo, hi)
	}
	for _, tc := range []struct {
		name      string
		f         []float32
		grid, dim int
	}{
		{"wrong length", f[1:], grid, dim},
		{"grid does not divide the image", f[:n*9*dim], 3, dim},
		{"two features", f[:n*grid*grid*2], grid, 2},
	} {
		if _, err := Features(imgs, tc.f, tc.grid, tc.dim, FeatureOptions{}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
