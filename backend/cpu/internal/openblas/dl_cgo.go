//go:build cgo && unix

package openblas

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_config_fn)(void);

static sgemm_fn p_sgemm;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;
static get_config_fn p_get_config;

// ijepa_openblas_open opens name and resolves the symbols used; it returns
// NULL on success or the dlerror message.
static char ijepa_openblas_err[512];

static const char *ijepa_openblas_open(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(ijepa_openblas_err, sizeof ijepa_openblas_err, "%s", e ? e : "dlopen failed");
		return ijepa_openblas_err;
	}
	p_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
	p_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
	p_get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
	p_get_config = (get_config_fn)dlsym(h, "openblas_get_config");
	if (p_sgemm == NULL || p_set_threads == NULL || p_get_threads == NULL || p_get_config == NULL) {
		p_sgemm = NULL;
		dlclose(h);
		return "the library lacks cblas_sgemm or openblas_set_num_threads (not OpenBLAS?)";
	}
	return NULL;
}

// CBLAS enum values, fixed by the CBLAS standard.
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

static void ijepa_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc) {
	p_sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void ijepa_set_threads(int n) { p_set_threads(n); }
static int ijepa_get_threads(void) { return p_get_threads(); }
static const char *ijepa_get_config(void) { return p_get_config(); }
*/
import "C"

import (
	"strings"
	"unsafe"

	"github.com/ijepa-go/ijepa/internal/dlopen"
)

func open(names []string) (string, error) {
	return dlopen.First("openblas", names, func(n string) string {
		cs := C.CString(n)
		defer C.free(unsafe.Pointer(cs))
		if msg := C.ijepa_openblas_open(cs); msg != nil {
			return C.GoString(msg)
		}
		return ""
	})
}

func setThreads(n int) { C.ijepa_set_threads(C.int(n)) }
func threads() int     { return int(C.ijepa_get_threads()) }
func config() string   { return strings.TrimSpace(C.GoString(C.ijepa_get_config())) }

func cbool(v bool) C.int {
	if v {
		return 1
	}
	return 0
}

func sgemm(transA, transB bool, m, n, k int, alpha float32, a *float32, lda int, b *float32, ldb int, beta float32, c *float32, ldc int) {
	C.ijepa_sgemm(cbool(transA), cbool(transB), C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(a)), C.int(lda), (*C.float)(unsafe.Pointer(b)), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(c)), C.int(ldc))
}
