//go:build cgo && unix

package turbojpeg

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

// The TurboJPEG 2.x API, declared here so that the build needs no header.
typedef void *tjhandle;
typedef tjhandle (*init_fn)(void);
typedef int (*header_fn)(tjhandle, const unsigned char *, unsigned long, int *, int *, int *, int *);
typedef int (*decompress_fn)(tjhandle, const unsigned char *, unsigned long, unsigned char *, int, int, int, int, int);
typedef char *(*errstr_fn)(tjhandle);

static init_fn p_init;
static header_fn p_header;
static decompress_fn p_decompress;
static errstr_fn p_errstr;
static char ijepa_tj_err[512];

static const char *ijepa_tj_open(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(ijepa_tj_err, sizeof ijepa_tj_err, "%s", e ? e : "dlopen failed");
		return ijepa_tj_err;
	}
	p_init = (init_fn)dlsym(h, "tjInitDecompress");
	p_header = (header_fn)dlsym(h, "tjDecompressHeader3");
	p_decompress = (decompress_fn)dlsym(h, "tjDecompress2");
	p_errstr = (errstr_fn)dlsym(h, "tjGetErrorStr2");
	if (p_init == NULL || p_header == NULL || p_decompress == NULL || p_errstr == NULL) {
		p_init = NULL;
		dlclose(h);
		return "the library lacks tjInitDecompress, tjDecompressHeader3, tjDecompress2 or tjGetErrorStr2 (not libjpeg-turbo 2?)";
	}
	return NULL;
}

static tjhandle ijepa_tj_init(void) { return p_init(); }
static int ijepa_tj_header(tjhandle h, const unsigned char *buf, unsigned long n, int *w, int *ht) {
	int subsamp, colorspace;
	return p_header(h, buf, n, w, ht, &subsamp, &colorspace);
}
// TJPF_RGBA is 7: R, G, B, then an alpha the decompressor sets to 0xFF.
static int ijepa_tj_decode(tjhandle h, const unsigned char *buf, unsigned long n, unsigned char *dst, int w, int ht) {
	return p_decompress(h, buf, n, dst, w, 4 * w, ht, 7, 0);
}
static const char *ijepa_tj_errstr(tjhandle h) { return p_errstr(h); }
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/ijepa-go/ijepa/internal/dlopen"
)

type handle = C.tjhandle

func open(names []string) (string, error) {
	return dlopen.First("turbojpeg", names, func(n string) string {
		cs := C.CString(n)
		defer C.free(unsafe.Pointer(cs))
		if msg := C.ijepa_tj_open(cs); msg != nil {
			return C.GoString(msg)
		}
		return ""
	})
}

func newHandle() (handle, error) {
	h := C.ijepa_tj_init()
	if h == nil {
		return nil, errors.New("turbojpeg: tjInitDecompress failed")
	}
	return h, nil
}

func header(h handle, buf []byte) (int, int, error) {
	if len(buf) == 0 {
		return 0, 0, errors.New("turbojpeg: empty file")
	}
	var w, ht C.int
	if C.ijepa_tj_header(h, (*C.uchar)(unsafe.Pointer(&buf[0])), C.ulong(len(buf)), &w, &ht) != 0 {
		return 0, 0, fmt.Errorf("turbojpeg: %s", C.GoString(C.ijepa_tj_errstr(h)))
	}
	return int(w), int(ht), nil
}

func decode(h handle, buf, dst []byte, w, ht int) error {
	if C.ijepa_tj_decode(h, (*C.uchar)(unsafe.Pointer(&buf[0])), C.ulong(len(buf)), (*C.uchar)(unsafe.Pointer(&dst[0])), C.int(w), C.int(ht)) != 0 {
		return fmt.Errorf("turbojpeg: %s", C.GoString(C.ijepa_tj_errstr(h)))
	}
	return nil
}
