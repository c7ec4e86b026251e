// Package turbojpeg decodes JPEG files with libjpeg-turbo's TurboJPEG API,
// found at run time: it opens libturbojpeg with dlopen the first time it is
// needed (as backend/cpu/internal/openblas opens OpenBLAS), so every build
// links and runs without it, and uses it where it is installed (Debian's
// libturbojpeg0).
//
// The library is looked up as libturbojpeg.so.0, then libturbojpeg.so. The
// environment variable IJEPA_TURBOJPEG overrides this: "off" never loads it,
// any other value is the path (or soname) of a library to open instead.
//
// Decoding uses libjpeg-turbo's defaults (the accurate integer IDCT and
// "fancy" chroma upsampling), which is how PIL, and so torchvision's
// ImageFolder, decodes.
package turbojpeg

import (
	"fmt"
	"image"
	"sync"

	"github.com/ijepa-go/ijepa/internal/dlopen"
)

// EnvVar is the environment variable that overrides the library lookup.
const EnvVar = "IJEPA_TURBOJPEG"

// lib is libjpeg-turbo's TurboJPEG API.
var lib = dlopen.NewLibrary("turbojpeg", EnvVar, open, "libturbojpeg.so.0", "libturbojpeg.so")

var (
	// handles are decompressors not in use (a TurboJPEG handle is for one
	// thread at a time); they live as long as the process.
	mu      sync.Mutex
	handles []handle
)

// Load opens the library once per process and reports why it is
// unavailable, if it is.
func Load() error { return lib.Load() }

// Library returns the name the library was opened by, or "" when it is not
// loaded.
func Library() string { return lib.Name() }

// Decode decodes the JPEG image in buf as opaque RGBA (alpha 255). Before
// it allocates the image (4*width*height bytes) it calls check with the
// width and height, and returns check's error if it has one.
func Decode(buf []byte, check func(w, h int) error) (*image.RGBA, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	hd, err := get()
	if err != nil {
		return nil, err
	}
	defer put(hd)
	w, h, err := header(hd, buf)
	if err != nil {
		return nil, err
	}
	if w < 1 || h < 1 {
		return nil, fmt.Errorf("turbojpeg: empty image %dx%d", w, h)
	}
	if err := check(w, h); err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	if err := decode(hd, buf, img.Pix, w, h); err != nil {
		return nil, err
	}
	return img, nil
}

func get() (handle, error) {
	mu.Lock()
	if n := len(handles); n > 0 {
		hd := handles[n-1]
		handles = handles[:n-1]
		mu.Unlock()
		return hd, nil
	}
	mu.Unlock()
	return newHandle()
}

func put(hd handle) {
	mu.Lock()
	handles = append(handles, hd)
	mu.Unlock()
}
