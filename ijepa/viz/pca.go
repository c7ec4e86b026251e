package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// PCA is a principal component analysis of feature vectors.
type PCA struct {
	// Mean is the mean feature vector, [D].
	Mean []float64
	// Components holds the principal directions in its columns, [D, K],
	// orthonormal, by decreasing variance. Each is signed so that its
	// largest-magnitude entry is positive, which makes the result a
	// function of the data alone.
	Components *mat.Dense
	// Vars are the variances of the data along the components, [K],
	// decreasing.
	Vars []float64
}

// FitPCA computes the first k principal components of the rows of x (one
// observation per row) with gonum's SVD-based stat.PC.
func FitPCA(x *mat.Dense, k int) (*PCA, error) {
	n, d := x.Dims()
	if k < 1 || k > min(n, d) {
		return nil, fmt.Errorf("viz: pca: %d components of %d vectors of %d features: want 1 to %d", k, n, d, min(n, d))
	}
	var pc stat.PC
	if !pc.PrincipalComponents(x, nil) {
		return nil, fmt.Errorf("viz: pca: the SVD of the %dx%d features did not converge", n, d)
	}
	var vecs mat.Dense
	pc.VectorsTo(&vecs)
	vars := pc.VarsTo(nil)
	comp := mat.DenseCopyOf(vecs.Slice(0, d, 0, k))
	for j := 0; j < k; j++ {
		col := mat.Col(nil, j, comp)
		big := 0
		for i := range col {
			if math.Abs(col[i]) > math.Abs(col[big]) {
				big = i
			}
		}
		if col[big] < 0 {
			for i := range col {
				comp.Set(i, j, -col[i])
			}
		}
	}
	mean := make([]float64, d)
	for j := range mean {
		mean[j] = stat.Mean(mat.Col(nil, j, x), nil)
	}
	return &PCA{Mean: mean, Components: comp, Vars: vars[:k]}, nil
}

// Project returns the coordinates of the rows of x along the components,
// [N, K]: (x - Mean) * Components.
func (p *PCA) Project(x *mat.Dense) *mat.Dense {
	n, d := x.Dims()
	c := mat.NewDense(n, d, nil)
	c.Apply(func(_, j int, v float64) float64 { return v - p.Mean[j] }, x)
	var out mat.Dense
	out.Mul(c, p.Components)
	return &out
}

// FeatureOptions say how Features lays out its sheet.
type FeatureOptions struct {
	// Cell is the wanted side of an image cell in pixels (0: 160).
	Cell int
	// Cols is the number of image and map pairs per row (0: 4).
	Cols int
	// Title is the first caption line (empty: none).
	Title string
	// Labels, when given, are written under the images, one per image.
	Labels []string
}

// FeaturePicture is the PCA picture with what it was computed from.
type FeaturePicture struct {
	*Picture
	// PCA is the analysis of all patches of all images together, so
	// colours mean the same in every map.
	PCA *PCA
	// Colours is the colour of each patch, [n*N], image-major.
	Colours []color.RGBA
}

// Features draws each image beside the map of its patch features' first
// three principal components as RGB (the picture DINO and I-JEPA show):
// features holds n images' patch features, [n, grid*grid, dim] row-major,
// the PCA is fitted to all n*grid*grid patches together, and each component
// is scaled to [0, 255] by its minimum and maximum over all patches. Cells
// are image, map, image, map, ...: Cells[2i] is image i and Cells[2i+1] its
// map, each patch a square of equal pixels.
func Features(images []*image.RGBA, features []float32, grid, dim int, opt FeatureOptions) (*FeaturePicture, error) {
	n, N := len(images), grid*grid
	if n == 0 || grid < 1 || dim < 3 {
		return nil, fmt.Errorf("viz: features: %d images, %dx%d grid, %d features: want images, a grid and at least 3 features", n, grid, grid, dim)
	}
	if len(features) != n*N*dim {
		return nil, fmt.Errorf("viz: features: %d values, want %d images x %d patches x %d = %d", len(features), n, N, dim, n*N*dim)
	}
	if n*N < 3 {
		return nil, fmt.Errorf("viz: features: %d patches, want at least 3 for three components", n*N)
	}
	size := images[0].Bounds().Dx()
	for i, img := range images {
		if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
			return nil, fmt.Errorf("viz: features: image %d is %dx%d, want %dx%d like image 0", i, r.Dx(), r.Dy(), size, size)
		}
	}
	if size%grid != 0 {
		return nil, fmt.Errorf("viz: features: %dx%d images do not split into a %dx%d patch grid", size, size, grid, grid)
	}
	x := mat.NewDense(n*N, dim, nil)
	for i := range n * N {
		for j := range dim {
			x.Set(i, j, float64(features[i*dim+j]))
		}
	}
	pca, err := FitPCA(x, 3)
	if err != nil {
		return nil, err
	}
	proj := pca.Project(x)
	var lo, hi [3]float64
	for k := range 3 {
		col := mat.Col(nil, k, proj)
		lo[k], hi[k] = col[0], col[0]
		for _, v := range col {
			lo[k], hi[k] = min(lo[k], v), max(hi[k], v)
		}
	}
	colours := make([]color.RGBA, n*N)
	for i := range colours {
		var c [3]uint8
		for k := range 3 {
			t := 0.5
			if hi[k] > lo[k] {
				t = (proj.At(i, k) - lo[k]) / (hi[k] - lo[k])
			}
			c[k] = uint8(math.Round(255 * t))
		}
		colours[i] = color.RGBA{c[0], c[1], c[2], 255}
	}

	if opt.Cols <= 0 {
		opt.Cols = 4
	}
	if opt.Cell <= 0 {
		opt.Cell = 160
	}
	k := scaleFor(size, opt.Cell)
	patch := size / grid * k
	lines := []string{fmt.Sprintf("target-encoder patch features: the first 3 principal components of %d patches (%d images, %dx%d each) as R, G, B; explained variance %s",
		n*N, n, grid, grid, varShares(pca.Vars, x))}
	if opt.Title != "" {
		lines = append([]string{opt.Title}, lines...)
	}
	cols := max(1, min(2*opt.Cols, 2*n))
	minW := max(minTextWidth, cols*size*k+(cols-1)*gap)
	lines = wrap(lines, minW)
	labels := len(opt.Labels) > 0
	g := newGrid(2*n, 2*opt.Cols, size*k, size*k, len(lines)*lineH+gap/2, labels, minW)
	pic := &FeaturePicture{Picture: &Picture{Image: g.newSheet(), Scale: k}, PCA: pca, Colours: colours}
	for i, l := range lines {
		drawText(pic.Image, margin, margin+i*lineH, l, Ink)
	}
	for i, img := range images {
		ri, rm := g.cell(2*i), g.cell(2*i+1)
		pic.Cells = append(pic.Cells, ri, rm)
		blowUp(pic.Image, ri, img, k)
		for p := range N {
			fill(pic.Image, patchRect(rm, p, grid, patch), colours[i*N+p])
		}
		if i < len(opt.Labels) {
			drawText(pic.Image, ri.Min.X, ri.Max.Y+2, opt.Labels[i], Ink)
		}
	}
	return pic, nil
}

// varShares formats each component's share of the total variance of x.
func varShares(vars []float64, x *mat.Dense) string {
	_, d := x.Dims()
	total := 0.0
	for j := range d {
		total += stat.Variance(mat.Col(nil, j, x), nil)
	}
	s := ""
	for i, v := range vars {
		if i > 0 {
			s += ", "
		}
		if total > 0 {
			s += fmt.Sprintf("%.0f%%", 100*v/total)
		} else {
			s += "0%"
		}
	}
	return s
}
