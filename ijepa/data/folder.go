package data

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // JPEG decoding for ImageFolder
	_ "image/png"  // PNG decoding for ImageFolder
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/schollz/progressbar/v3"

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
	opt     FolderOptions
	// warned holds the files Image has reported as undecodable.
	warned sync.Map
}

// FolderOptions says what OpenImageFolderWith does with images it cannot
// read.
type FolderOptions struct {
	// SkipBad leaves out every image whose header cannot be read, each
	// reported to Warn; without it the first such image fails the open.
	// An image whose header reads but whose data does not decode is, with
	// SkipBad, replaced where it is read by the next image of the folder
	// that decodes (reported once); without it, it fails the read.
	SkipBad bool
	// Warn receives one line per image skipped or replaced (nil: the
	// default slog logger).
	Warn func(msg string)
	// Progress, when set, shows a progress bar while a folder of more than
	// CheckBarFrom images is checked.
	Progress io.Writer
}

// CheckBarFrom is the number of images from which checking a folder's
// images shows a progress bar.
const CheckBarFrom = 5000

func (o FolderOptions) warn(msg string) {
	if o.Warn != nil {
		o.Warn(msg)
		return
	}
	slog.Warn(msg)
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

// OpenImageFolder scans root and checks every image's header, failing at
// the first it cannot read (OpenImageFolderWith with no options).
func OpenImageFolder(root string) (*ImageFolder, error) {
	return OpenImageFolderWith(root, FolderOptions{})
}

// OpenImageFolderWith scans root and reads every image's header (format
// and size; in parallel), so that a corrupt image shows when the dataset
// opens, not when a long run first reads it. It fails if root has no class
// sub-folders, a class sub-folder has no image files, or an image's header
// cannot be read (unless opt.SkipBad).
func OpenImageFolderWith(root string, opt FolderOptions) (*ImageFolder, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("ijepa: dataset %q: "+format, append([]any{root}, args...)...)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fail("%w", err)
	}
	d := &ImageFolder{root: root, opt: opt}
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
	if err := d.checkHeaders(); err != nil {
		return nil, err
	}
	return d, nil
}

// checkHeaders reads every image's header on a few goroutines and drops
// (SkipBad) or reports the images whose header does not read.
func (d *ImageFolder) checkHeaders() error {
	n := len(d.files)
	errs := make([]error, n)
	var bar *progressbar.ProgressBar
	if d.opt.Progress != nil && n >= CheckBarFrom {
		bar = progressbar.NewOptions(n, progressbar.OptionSetWriter(d.opt.Progress),
			progressbar.OptionSetDescription("checking "+strconv.Itoa(n)+" images"), progressbar.OptionClearOnFinish())
		defer bar.Exit()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(n, 2*runtime.GOMAXPROCS(0)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				errs[i] = checkHeader(d.files[i])
				if bar != nil {
					bar.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	bad := 0
	first := -1
	for i, err := range errs {
		if err != nil {
			bad++
			if first < 0 {
				first = i
			}
		}
	}
	if bad == 0 {
		return nil
	}
	if !d.opt.SkipBad {
		more := ""
		if bad > 1 {
			more = fmt.Sprintf(" (and %d more)", bad-1)
		}
		return fmt.Errorf("ijepa: dataset %q: %d of %d images cannot be read: %q: %v%s; remove them, or pass --skip-bad-images (ijepago.skip_bad_images) to leave them out",
			d.root, bad, n, d.files[first], errs[first], more)
	}
	files, labels := d.files[:0], d.labels[:0]
	for i, err := range errs {
		if err != nil {
			d.opt.warn(fmt.Sprintf("ijepa: dataset %q: skipping image %q: %v", d.root, d.files[i], err))
			continue
		}
		files, labels = append(files, d.files[i]), append(labels, d.labels[i])
	}
	d.files, d.labels = files, labels
	if len(d.files) == 0 {
		return fmt.Errorf("ijepa: dataset %q: none of its %d images can be read", d.root, n)
	}
	return nil
}

// checkHeader reads an image file's header: its format and a size within
// the limits DecodeFile accepts.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(bufio.NewReaderSize(f, 4096))
	if err != nil {
		return err
	}
	return checkSize(cfg.Width, cfg.Height)
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

// Image implements Dataset: it decodes image i. With SkipBad, an image
// that does not decode is replaced by the next one of the folder that
// does (the same one every time, so a resumed run reads what the unbroken
// one read), reported once.
func (d *ImageFolder) Image(i int) (*image.RGBA, error) {
	if i < 0 || i >= len(d.files) {
		return nil, indexError(d, i)
	}
	img, err := DecodeFile(d.files[i])
	if err == nil {
		return img, nil
	}
	first := fmt.Errorf("ijepa: dataset %q: image %d %q: %w", d.root, i, d.files[i], err)
	if !d.opt.SkipBad {
		return nil, fmt.Errorf("%w (pass --skip-bad-images to go on without it)", first)
	}
	for k := 1; k < len(d.files); k++ {
		j := (i + k) % len(d.files)
		if img, err := DecodeFile(d.files[j]); err == nil {
			if _, seen := d.warned.LoadOrStore(i, true); !seen {
				d.opt.warn(fmt.Sprintf("%v: read image %d %q in its place", first, j, d.files[j]))
			}
			return img, nil
		}
	}
	return nil, first
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
