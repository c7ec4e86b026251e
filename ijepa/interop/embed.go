package interop

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/ijepa/data"
	"github.com/ijepa-go/ijepa/ijepa/model"
	"github.com/ijepa-go/ijepa/nn"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// Features are an encoder's features of a list of images or of a dataset.
type Features struct {
	// Images are the images' names, in order (nil for a dataset).
	Images []string
	// Pooled is [N, Dim]: the mean over patch tokens of the encoder's
	// output (after its final norm), or of the last layers' outputs.
	Pooled []float32
	// Patches is [N, Tokens, Dim], the per-patch features, when asked for
	// (nil otherwise).
	Patches []float32
	// Tokens is the number of patches of an image, Dim the feature width.
	Tokens, Dim int
	// Labels are the images' classes and Classes the class names, for a
	// dataset (nil for image files).
	Labels  []int32
	Classes []string
	// Meta is what the features file records beside them (Write keeps
	// it; ReadFeatures returns it): e.g. the dataset, the split, the
	// layers.
	Meta map[string]string
}

// N is the number of images.
func (f *Features) N() int {
	if f.Dim == 0 {
		return 0
	}
	return len(f.Pooled) / f.Dim
}

// EmbedOptions say how Embed and EmbedDataset run.
type EmbedOptions struct {
	// Batch is the number of images per forward pass (default 16).
	Batch int
	// Patches keeps the per-patch features too.
	Patches bool
	// Layers and Concat choose the features (model.Embedding): the mean,
	// or with Concat the concatenation, of the last Layers blocks' outputs
	// through the final norm; 0 or 1 is the encoder's output.
	Layers int
	Concat bool
	// Transform maps a decoded image to the encoder's input; its size and
	// channels must be the encoder's. Nil: the largest central square
	// resized to the encoder's size (bilinear) with ImageNet normalisation
	// (data.NormalizeFor the encoder's channels) for image files; for a
	// dataset the evaluation transform (the whole image resized, as the
	// trainer's evaluation does).
	Transform data.Transform
	// Workers is the number of goroutines decoding and transforming a
	// dataset's images (0: one per CPU).
	Workers int
	// Progress, when set, is called after each batch with the images done.
	Progress func(done int)
}

func (o *EmbedOptions) embedding() model.Embedding {
	return model.Embedding{Layers: o.Layers, Concat: o.Concat, Tokens: o.Patches}
}

// prepare fills the defaults and checks the transform against enc.
func (o *EmbedOptions) prepare(enc *nn.ViT, centerCrop bool) error {
	size := enc.Cfg.ImgSize
	if o.Batch <= 0 {
		o.Batch = 16
	}
	if o.Layers < 0 || o.Layers > max(enc.Cfg.Depth, 1) {
		return fmt.Errorf("interop: embed: %d layers of an encoder of depth %d", o.Layers, enc.Cfg.Depth)
	}
	if o.Transform == nil {
		t, err := data.NewResize(size)
		if err != nil {
			return err
		}
		if t.Norm, err = data.NormalizeFor(enc.Cfg.Channels); err != nil {
			return err
		}
		t.CenterCrop = centerCrop
		o.Transform = t
	}
	if o.Transform.Size() != size || o.Transform.Channels() != enc.Cfg.Channels {
		return fmt.Errorf("interop: embed: the transform makes %dx%dx%d images, the encoder takes %dx%dx%d",
			o.Transform.Channels(), o.Transform.Size(), o.Transform.Size(), enc.Cfg.Channels, size, size)
	}
	return nil
}

func (o *EmbedOptions) newFeatures(enc *nn.ViT) *Features {
	e := o.embedding()
	return &Features{Tokens: enc.Cfg.NumPatches(), Dim: e.Dim(enc.Cfg.Dim), Meta: map[string]string{
		MetaLayers: strconv.Itoa(max(o.Layers, 1)), MetaLayerMode: layerMode(e)}}
}

func layerMode(e model.Embedding) string {
	if e.Concat {
		return "concat"
	}
	return "mean"
}

// Metadata keys of a features file.
const (
	// MetaLayers is the number of last blocks the features come from and
	// MetaLayerMode how they are combined ("mean" or "concat").
	MetaLayers    = "layers"
	MetaLayerMode = "layer_mode"
	// MetaImages is the JSON list of the images' names, in row order.
	MetaImages = "images"
	// MetaClasses is the JSON list of the class names (label i is
	// class i).
	MetaClasses = "classes"
)

// Embed decodes the image files at paths (JPEG or PNG), transforms them and
// encodes them with enc on be, a batch at a time; it stops between batches
// when ctx is done.
func Embed(ctx context.Context, be backend.Backend, enc *nn.ViT, paths []string, o EmbedOptions) (*Features, error) {
	if err := o.prepare(enc, true); err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("interop: embed: no images")
	}
	f := o.newFeatures(enc)
	f.Images = append([]string(nil), paths...)
	per := enc.Cfg.Channels * enc.Cfg.ImgSize * enc.Cfg.ImgSize
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
		if err := f.add(be, enc, buf[:len(batch)*per], o.embedding()); err != nil {
			return nil, fmt.Errorf("interop: embed: images %d-%d: %w", start, start+len(batch)-1, err)
		}
		if o.Progress != nil {
			o.Progress(start + len(batch))
		}
	}
	return f, nil
}

// EmbedDataset encodes every image of ds, in the dataset's order, with the
// labels: the images are read and transformed by a data.Loader (in order,
// on o.Workers goroutines, ahead of the encoder) and encoded a batch at a
// time; it stops between batches when ctx is done.
func EmbedDataset(ctx context.Context, be backend.Backend, enc *nn.ViT, ds data.Dataset, o EmbedOptions) (*Features, error) {
	if err := o.prepare(enc, false); err != nil {
		return nil, err
	}
	n := ds.Len()
	if n == 0 {
		return nil, fmt.Errorf("interop: embed: dataset %q has no images", ds.Name())
	}
	ld, err := data.NewLoader(ctx, data.LoaderConfig{Dataset: ds, Transform: o.Transform, BatchSize: o.Batch,
		Workers: o.Workers, Steps: data.StepsPerEpoch(n, o.Batch, false)})
	if err != nil {
		return nil, err
	}
	defer ld.Close()
	f := o.newFeatures(enc)
	f.Labels = make([]int32, 0, n)
	f.Classes = ds.ClassNames()
	for done := 0; done < n; {
		b, err := ld.Next()
		if err != nil {
			return nil, fmt.Errorf("interop: embed: dataset %q: stopped after %d of %d images: %w", ds.Name(), done, n, err)
		}
		if err := f.add(be, enc, b.Images, o.embedding()); err != nil {
			return nil, fmt.Errorf("interop: embed: dataset %q: images %d-%d: %w", ds.Name(), done, done+b.B()-1, err)
		}
		f.Labels = append(f.Labels, b.Labels...)
		done += b.B()
		if o.Progress != nil {
			o.Progress(done)
		}
	}
	return f, nil
}

// add encodes a batch of images and appends its features.
func (f *Features) add(be backend.Backend, enc *nn.ViT, images []float32, e model.Embedding) error {
	pooled, tokens, err := model.EmbedWith(be, enc, images, e)
	if err != nil {
		return err
	}
	f.Pooled = append(f.Pooled, pooled...)
	f.Patches = append(f.Patches, tokens...)
	return nil
}

// PatchesPath is where Write puts the per-patch features next to a .npy
// file of pooled features: features.npy gives features_patches.npy.
func PatchesPath(path string) string { return sibling(path, "_patches") }

// LabelsPath is where Write puts the labels next to a .npy file of pooled
// features: features.npy gives features_labels.npy.
func LabelsPath(path string) string { return sibling(path, "_labels") }

func sibling(path, suffix string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + suffix + ext
}

// Write writes the features to path, by its extension:
//
//   - .npy: the pooled features as a float32 array [N, dim] in NumPy's
//     format; with per-patch features a second file (PatchesPath)
//     [N, tokens, dim]; with labels a third (LabelsPath), int64 [N]. Row i
//     is the i-th image.
//   - .safetensors: tensors "features" [N, dim], with per-patch features
//     "patch_features" [N, tokens, dim], with labels "labels" (I64 [N]);
//     the metadata holds f.Meta and, as JSON lists, the images' names
//     ("images") or the class names ("classes").
func (f *Features) Write(path string) error {
	n := f.N()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		if err := WriteNPY(path, f.Pooled, n, f.Dim); err != nil {
			return err
		}
		if f.Patches != nil {
			if err := WriteNPY(PatchesPath(path), f.Patches, n, f.Tokens, f.Dim); err != nil {
				return err
			}
		}
		if f.Labels != nil {
			return WriteLabelsNPY(LabelsPath(path), f.Labels)
		}
		return nil
	case ".safetensors":
		meta := map[string]string{}
		for k, v := range f.Meta {
			meta[k] = v
		}
		for key, list := range map[string][]string{MetaImages: f.Images, MetaClasses: f.Classes} {
			if list != nil {
				js, err := json.Marshal(list)
				if err != nil {
					return err
				}
				meta[key] = string(js)
			}
		}
		host := func(v []float32) func([]byte) error {
			return func(dst []byte) error { copy(dst, backend.F32Bytes(v)); return nil }
		}
		list := []safetensors.Tensor{{Name: "features", DType: "F32", Shape: []int64{int64(n), int64(f.Dim)}, Fill: host(f.Pooled)}}
		if f.Patches != nil {
			list = append(list, safetensors.Tensor{Name: "patch_features", DType: "F32",
				Shape: []int64{int64(n), int64(f.Tokens), int64(f.Dim)}, Fill: host(f.Patches)})
		}
		if f.Labels != nil {
			list = append(list, safetensors.Tensor{Name: "labels", DType: "I64", Shape: []int64{int64(len(f.Labels))},
				Fill: func(dst []byte) error {
					for i, l := range f.Labels {
						binary.LittleEndian.PutUint64(dst[8*i:], uint64(int64(l)))
					}
					return nil
				}})
		}
		if err := safetensors.WriteFile(path, list, meta); err != nil {
			return fmt.Errorf("interop: write %s: %w", path, err)
		}
		return nil
	}
	return fmt.Errorf("interop: write %s: the features file must end in .npy or .safetensors", path)
}

// ReadFeatures reads a safetensors features file that Write wrote: the
// pooled features, the labels when there are any, the metadata (the
// names lists decoded into Images and Classes). Per-patch features are not
// read.
func ReadFeatures(path string) (*Features, error) {
	sf, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("interop: %w", err)
	}
	defer sf.Close()
	fail := func(format string, args ...any) (*Features, error) {
		return nil, fmt.Errorf("interop: features file %s: "+format, append([]any{path}, args...)...)
	}
	info, ok := sf.Info("features")
	if !ok || info.DType != "F32" || len(info.Shape) != 2 {
		return fail("no float32 tensor \"features\" [N, dim]")
	}
	f := &Features{Dim: int(info.Shape[1]), Meta: map[string]string{}}
	n := int(info.Shape[0])
	f.Pooled = make([]float32, n*f.Dim)
	if err := sf.Read("features", backend.F32Bytes(f.Pooled)); err != nil {
		return fail("%v", err)
	}
	if li, ok := sf.Info("labels"); ok {
		if li.DType != "I64" || len(li.Shape) != 1 || int(li.Shape[0]) != n {
			return fail("labels are %s %v, want I64 [%d]", li.DType, li.Shape, n)
		}
		raw := make([]byte, 8*n)
		if err := sf.Read("labels", raw); err != nil {
			return fail("%v", err)
		}
		f.Labels = make([]int32, n)
		for i := range f.Labels {
			l := int64(binary.LittleEndian.Uint64(raw[8*i:]))
			if l < 0 || l > 1<<31-1 {
				return fail("label %d of row %d is out of range", l, i)
			}
			f.Labels[i] = int32(l)
		}
	}
	for k, v := range sf.Metadata {
		switch k {
		case MetaImages:
			err = json.Unmarshal([]byte(v), &f.Images)
		case MetaClasses:
			err = json.Unmarshal([]byte(v), &f.Classes)
		default:
			f.Meta[k] = v
		}
		if err != nil {
			return fail("metadata %q: %v", k, err)
		}
	}
	return f, nil
}
