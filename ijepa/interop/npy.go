package interop

import (
	"fmt"
	"os"

	"codeberg.org/sbinet/npyio/npy"

	"github.com/ijepa-go/ijepa/internal/atomicfile"
)

// WriteNPY writes v, a row-major float32 array of the given shape (one to
// three dimensions), to path in NumPy's .npy format (through npyio;
// numpy.load reads it), atomically.
func WriteNPY(path string, v []float32, shape ...int) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(shape) == 0 || len(shape) > 3 || n != len(v) {
		return fmt.Errorf("interop: write %s: %d values do not make an array of shape %v (1 to 3 dimensions)", path, len(v), shape)
	}
	// npyio takes the shape from nested slices: views of v, no copy.
	var arr any = v
	switch len(shape) {
	case 2:
		arr = rows(v, shape[0])
	case 3:
		planes := make([][][]float32, shape[0])
		per := shape[1] * shape[2]
		for i := range planes {
			planes[i] = rows(v[i*per:(i+1)*per], shape[1])
		}
		arr = planes
	}
	err := atomicfile.Write(path, func(f *os.File) error { return npy.Write(f, arr) })
	if err != nil {
		return fmt.Errorf("interop: write %s: %w", path, err)
	}
	return nil
}

// WriteLabelsNPY writes class labels to path as a NumPy int64 array [N]
// (the dtype PyTorch's cross-entropy takes), atomically.
func WriteLabelsNPY(path string, labels []int32) error {
	wide := make([]int64, len(labels))
	for i, l := range labels {
		wide[i] = int64(l)
	}
	err := atomicfile.Write(path, func(f *os.File) error { return npy.Write(f, wide) })
	if err != nil {
		return fmt.Errorf("interop: write %s: %w", path, err)
	}
	return nil
}

// rows views v as n rows.
func rows(v []float32, n int) [][]float32 {
	out := make([][]float32, n)
	if n == 0 {
		return out
	}
	w := len(v) / n
	for i := range out {
		out[i] = v[i*w : (i+1)*w : (i+1)*w]
	}
	return out
}
