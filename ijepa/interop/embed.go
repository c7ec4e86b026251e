package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// Features are an encoder's features of a list of images.
type Features struct {
	// Images are the images' names, in order.
	Images []string
	// Pooled is [len(Images), Dim]: the mean over patch tokens of the
	// encoder's output (after its final norm).
	Pooled []float32
	// Patches is [len(Images), Tokens, Dim], the output itself, when asked
	// for (nil otherwise).
	Patches []float32
	// Tokens is the number of patches of an image, Dim the feature width.
	Tokens, Dim int
}

// EmbedOptions say how Embed runs.
type EmbedOptions struct {
	// Batch is the number of images per forward pass (default 16).
	Batch int
	// Patches keeps the per-patch features too.
	Patches bool
	// Transform maps a decoded image to the encoder's input; its size must
	// be the encoder's image size. Nil: the largest central square resized
	// to the encoder's size (bilinear) with ImageNet normalisation.
	Transform data.Transform
	// Progress, when set, is called after each batch with the images done.
	Progress func(done int)
}

// Embed decodes the image files at paths (JPEG or PNG), transforms them and
// encodes them with enc on be, a batch at a time; it stops between batches
// when ctx is done.
func Embed(ctx context.Context, be backend.Backend, enc *nn.ViT, paths []string, o EmbedOptions) (*Features, error) {
	size := enc.Cfg.ImgSize
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Transform == nil {
		t, err := data.NewResize(size)
		if err != nil {
			return nil, err
		}
		t.CenterCrop = true
		o.Transform = t
	}
	if o.Transform.Size() != size {
		return nil, fmt.Errorf("interop: embed: the transform makes %dx%d images, the encoder takes %dx%d", o.Transform.Size(), o.Transform.Size(), size, size)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("interop: embed: no images")
	}
	f := &Features{Images: append([]string(nil), paths...), Tokens: enc.Cfg.NumPatches(), Dim: enc.Cfg.Dim}
	per := 3 * size * size
	buf := make([]float32, o.Batch*per)
	for start := 0; start < len(paths); start += o.Batch {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("interop: embed: stopped after %d of %d images: %w", start, len(paths), err)
		}
		batch := paths[start:min(start+o.Batch, len(paths))]
		for i, p := range batch {
			img, err := data.DecodeFile(p)
			if err != nil {
				return nil, fmt.Errorf("interop: embed: image %d %q: %w", start+i, p, err)
			}
			if err := o.Transform.Apply(buf[i*per:(i+1)*per], img, 0); err != nil {
				return nil, fmt.Errorf("interop: embed: image %d %q: %w", start+i, p, err)
			}
		}
		pooled, tokens, err := model.Embed(be, enc, buf[:len(batch)*per], o.Patches)
		if err != nil {
			return nil, fmt.Errorf("interop: embed: images %d-%d: %w", start, start+len(batch)-1, err)
		}
		f.Pooled = append(f.Pooled, pooled...)
		f.Patches = append(f.Patches, tokens...)
		if o.Progress != nil {
			o.Progress(start + len(batch))
		}
	}
	return f, nil
}

// PatchesPath is where Write puts the per-patch features next to a .npy
// file of pooled features: features.npy gives features_patches.npy.
func PatchesPath(path string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "_patches" + ext
}

// Write writes the features to path, by its extension:
//
//   - .npy: the pooled features as a float32 array [images, dim] in NumPy's
//     format, and with per-patch features a second file (PatchesPath)
//     [images, tokens, dim]; row i is the i-th image.
//   - .safetensors: tensors "features" [images, dim] and, with per-patch
//     features, "patch_features" [images, tokens, dim]; the metadata's
//     "images" is the JSON list of the images' names, in row order.
func (f *Features) Write(path string) error {
	n := len(f.Images)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		if err := WriteNPY(path, f.Pooled, n, f.Dim); err != nil {
			return err
		}
		if f.Patches != nil {
			return WriteNPY(PatchesPath(path), f.Patches, n, f.Tokens, f.Dim)
		}
		return nil
	case ".safetensors":
		names, err := json.Marshal(f.Images)
		if err != nil {
			return err
		}
		host := func(v []float32) func([]byte) error {
			return func(dst []byte) error { copy(dst, backend.F32Bytes(v)); return nil }
		}
		list := []safetensors.Tensor{{Name: "features", DType: "F32", Shape: []int64{int64(n), int64(f.Dim)}, Fill: host(f.Pooled)}}
		if f.Patches != nil {
			list = append(list, safetensors.Tensor{Name: "patch_features", DType: "F32",
				Shape: []int64{int64(n), int64(f.Tokens), int64(f.Dim)}, Fill: host(f.Patches)})
		}
		if err := safetensors.WriteFile(path, list, map[string]string{"images": string(names)}); err != nil {
			return fmt.Errorf("interop: write %s: %w", path, err)
		}
		return nil
	}
	return fmt.Errorf("interop: write %s: the features file must end in .npy or .safetensors", path)
}
