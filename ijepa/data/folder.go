package data

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // JPEG decoding for ImageFolder
	_ "image/png"  // PNG decoding for ImageFolder
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ijepa-go/ijepa/ijepa/data/internal/turbojpeg"
)

// ImageFolder is torchvision's ImageFolder layout: root/<class>/**/*.jpg
// (or .jpeg, .png, any case); classes are the sub-folders of root in sorted
// order, images sorted by path within each. Images are decoded when read.
type ImageFolder struct {
	root    string
	classes []string
	files   []string
	labels  []int
}

// maxPixels bounds the size of an image ImageFolder will decode.
const maxPixels = 1 << 26

func isImageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// OpenImageFolder scans root. It fails if root has no class sub-folders or a
// class sub-folder has no image files.
func OpenImageFolder(root string) (*ImageFolder, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("ijepa: dataset %q: "+format, append([]any{root}, args...)...)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fail("%w", err)
	}
	d := &ImageFolder{root: root}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := os.Stat(filepath.Join(root, e.Name())) // follows links
		if err != nil || !info.IsDir() {
			continue
		}
		d.classes = append(d.classes, e.Name())
	}
	if len(d.classes) == 0 {
		return nil, fail("no class sub-folders (want root/<class>/<image>.jpg)")
	}
	sort.Strings(d.classes)
	for label, class := range d.classes {
		var files []string
		err := filepath.WalkDir(filepath.Join(root, class), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !e.IsDir() && isImageFile(e.Name()) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fail("class %q: %w", class, err)
		}
		if len(files) == 0 {
			return nil, fail("class folder %q has no .jpg, .jpeg or .png files", class)
		}
		sort.Strings(files)
		for _, f := range files {
			d.files = append(d.files, f)
			d.labels = append(d.labels, label)
		}
	}
	return d, nil
}

// Name implements Dataset.
func (d *ImageFolder) Name() string { return d.root }

// Len implements Dataset.
func (d *ImageFolder) Len() int { return len(d.files) }

// NumClasses implements Dataset.
func (d *ImageFolder) NumClasses() int { return len(d.classes) }

// ClassNames implements Dataset: the class sub-folder names.
func (d *ImageFolder) ClassNames() []string { return append([]string(nil), d.classes...) }

// Label implements Dataset.
func (d *ImageFolder) Label(i int) int { return d.labels[i] }

// Path returns the file of image i.
func (d *ImageFolder) Path(i int) string { return d.files[i] }

// Image implements Dataset: it decodes image i.
func (d *ImageFolder) Image(i int) (*image.RGBA, error) {
	if i < 0 || i >= len(d.files) {
		return nil, indexError(d, i)
	}
	img, err := DecodeFile(d.files[i])
	if err != nil {
		return nil, fmt.Errorf("ijepa: dataset %q: image %d %q: %w", d.root, i, d.files[i], err)
	}
	return img, nil
}

// DecodeFile decodes a JPEG or PNG file (up to 2^26 pixels) as opaque RGB.
// JPEG files go through libjpeg-turbo when it is installed (JPEGDecoder
// says which decoder runs), else through image/jpeg; a file libjpeg-turbo
// refuses is tried again with image/jpeg, whose error is returned if it
// fails too.
func DecodeFile(path string) (*image.RGBA, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(raw)
}

// goJPEG makes Decode use image/jpeg even where libjpeg-turbo is loaded
// (the benchmarks compare the two in one run).
var goJPEG bool

// Decode decodes a JPEG or PNG image held in memory (up to 2^26 pixels) as
// opaque RGB, as DecodeFile does.
func Decode(raw []byte) (*image.RGBA, error) {
	if !goJPEG && len(raw) >= 3 && raw[0] == 0xFF && raw[1] == 0xD8 && raw[2] == 0xFF && turbojpeg.Load() == nil {
		if img, err := turbojpeg.Decode(raw, checkSize); err == nil {
			return img, nil
		}
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return toRGB(img), nil
}

func checkSize(w, h int) error {
	if w < 1 || h < 1 || w*h > maxPixels {
		return fmt.Errorf("image size %dx%d is empty or above %d pixels", w, h, maxPixels)
	}
	return nil
}

// JPEGDecoder says which decoder DecodeFile uses for JPEG files:
// libjpeg-turbo (with the library's name), or Go's image/jpeg and why
// libjpeg-turbo is not used.
func JPEGDecoder() string {
	if err := turbojpeg.Load(); err != nil {
		return fmt.Sprintf("image/jpeg (%v)", err)
	}
	return "libjpeg-turbo (" + turbojpeg.Library() + ")"
}
