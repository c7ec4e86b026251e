//go:build cgo && unix

package mpi

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Open MPI's handles are pointers to objects the library exports
// (mpi.h: #define MPI_COMM_WORLD ((MPI_Comm) &ompi_mpi_comm_world)), so with
// those symbols found by dlsym no header is needed; MPI_IN_PLACE is
// (void *) 1, MPI_STATUS_IGNORE NULL and MPI_COMM_TYPE_SHARED 0 there.
typedef void *handle;

static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_initialized)(int *);
static int (*p_finalized)(int *);
static int (*p_finalize)(void);
static int (*p_comm_rank)(handle, int *);
static int (*p_comm_size)(handle, int *);
static int (*p_comm_split_type)(handle, int, int, handle, handle *);
static int (*p_comm_free)(handle *);
static int (*p_iallreduce)(const void *, void *, int, handle, handle, handle, handle *);
static int (*p_ibcast)(void *, int, handle, int, handle, handle *);
static int (*p_ibarrier)(handle, handle *);
static int (*p_test)(handle *, int *, void *);
static int (*p_abort)(handle, int);
static int (*p_error_string)(int, char *, int *);
static int (*p_library_version)(char *, int *);
static handle h_comm_world, h_float, h_double, h_byte, h_sum, h_info_null;

static char ijepa_mpi_err[512];

// ijepa_mpi_open opens name with RTLD_GLOBAL (Open MPI's own plugins,
// opened later with dlopen, resolve symbols of libmpi) and resolves every
// entry point and handle used; it returns NULL or why it failed.
static const char *ijepa_mpi_open(const char *name) {
	void *h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(ijepa_mpi_err, sizeof ijepa_mpi_err, "%s", e ? e : "dlopen failed");
		return ijepa_mpi_err;
	}
	struct { void **dst; const char *sym; } syms[] = {
		{(void **)&p_init_thread, "MPI_Init_thread"},
		{(void **)&p_initialized, "MPI_Initialized"},
		{(void **)&p_finalized, "MPI_Finalized"},
		{(void **)&p_finalize, "MPI_Finalize"},
		{(void **)&p_comm_rank, "MPI_Comm_rank"},
		{(void **)&p_comm_size, "MPI_Comm_size"},
		{(void **)&p_comm_split_type, "MPI_Comm_split_type"},
		{(void **)&p_comm_free, "MPI_Comm_free"},
		{(void **)&p_iallreduce, "MPI_Iallreduce"},
		{(void **)&p_ibcast, "MPI_Ibcast"},
		{(void **)&p_ibarrier, "MPI_Ibarrier"},
		{(void **)&p_test, "MPI_Test"},
		{(void **)&p_abort, "MPI_Abort"},
		{(void **)&p_error_string, "MPI_Error_string"},
		{(void **)&p_library_version, "MPI_Get_library_version"},
		{&h_comm_world, "ompi_mpi_comm_world"},
		{&h_float, "ompi_mpi_float"},
		{&h_double, "ompi_mpi_double"},
		{&h_byte, "ompi_mpi_byte"},
		{&h_sum, "ompi_mpi_op_sum"},
		{&h_info_null, "ompi_mpi_info_null"},
	};
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		*syms[i].dst = dlsym(h, syms[i].sym);
		if (*syms[i].dst == NULL) {
			snprintf(ijepa_mpi_err, sizeof ijepa_mpi_err,
				"%s has no symbol %s: not Open MPI (only Open MPI's ABI, libmpi.so.40, is supported)", name, syms[i].sym);
			p_init_thread = NULL;
			dlclose(h);
			return ijepa_mpi_err;
		}
	}
	return NULL;
}

enum { in_place = 1, comm_type_shared = 0 };

static int ijepa_mpi_init(int required, int *provided) { return p_init_thread(NULL, NULL, required, provided); }
static int ijepa_mpi_initialized(void) { int f = 0; p_initialized(&f); return f; }
static int ijepa_mpi_finalized(void) { int f = 0; p_finalized(&f); return f; }
static int ijepa_mpi_finalize(void) { return p_finalize(); }
static int ijepa_mpi_rank(int *r) { return p_comm_rank(h_comm_world, r); }
static int ijepa_mpi_size(int *n) { return p_comm_size(h_comm_world, n); }

// ijepa_mpi_local_rank is the rank among the processes that share this
// node's memory (MPI_Comm_split_type MPI_COMM_TYPE_SHARED).
static int ijepa_mpi_local_rank(int *r, int *n) {
	handle node = NULL;
	int rc = p_comm_split_type(h_comm_world, comm_type_shared, 0, h_info_null, &node);
	if (rc != 0) return rc;
	rc = p_comm_rank(node, r);
	if (rc == 0) rc = p_comm_size(node, n);
	p_comm_free(&node);
	return rc;
}
static int ijepa_mpi_iallreduce_f32(float *x, int n, handle *req) { return p_iallreduce((void *)in_place, x, n, h_float, h_sum, h_comm_world, req); }
static int ijepa_mpi_iallreduce_f64(double *x, int n, handle *req) { return p_iallreduce((void *)in_place, x, n, h_double, h_sum, h_comm_world, req); }
static int ijepa_mpi_ibcast(void *b, int n, int root, handle *req) { return p_ibcast(b, n, h_byte, root, h_comm_world, req); }
static int ijepa_mpi_ibarrier(handle *req) { return p_ibarrier(h_comm_world, req); }
// ijepa_mpi_test is MPI_Test with MPI_STATUS_IGNORE.
static int ijepa_mpi_test(handle *req, int *done) { return p_test(req, done, NULL); }
static int ijepa_mpi_abort(int code) { return p_abort(h_comm_world, code); }
static void ijepa_mpi_error_string(int code, char *s, int cap) {
	char buf[1024];
	int n = 0;
	if (p_error_string(code, buf, &n) != 0 || n <= 0) { snprintf(s, cap, "MPI error %d", code); return; }
	if (n >= (int)sizeof buf) n = sizeof buf - 1;
	buf[n] = 0;
	snprintf(s, cap, "%s", buf);
}
static void ijepa_mpi_library_version(char *s, int cap) {
	char buf[8192];
	int n = 0;
	if (p_library_version(buf, &n) != 0 || n <= 0) { s[0] = 0; return; }
	if (n >= (int)sizeof buf) n = sizeof buf - 1;
	buf[n] = 0;
	snprintf(s, cap, "%s", buf);
}
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/ijepa-go/ijepa/internal/dlopen"
)

func open(names []string) (string, error) {
	return dlopen.First("mpi", names, func(n string) string {
		cs := C.CString(n)
		defer C.free(unsafe.Pointer(cs))
		if msg := C.ijepa_mpi_open(cs); msg != nil {
			return C.GoString(msg)
		}
		return ""
	})
}

func errString(code C.int) string {
	var buf [512]C.char
	C.ijepa_mpi_error_string(code, &buf[0], C.int(len(buf)))
	return C.GoString(&buf[0])
}

// check turns an MPI return code into an error naming the call.
func check(call string, rc C.int) error {
	if rc == 0 {
		return nil
	}
	return fmt.Errorf("mpi: %s: %s", call, errString(rc))
}

func initThread(required int) (int, error) {
	var provided C.int
	err := check("MPI_Init_thread", C.ijepa_mpi_init(C.int(required), &provided))
	return int(provided), err
}

func initialized() bool { return C.ijepa_mpi_initialized() != 0 }
func finalized() bool   { return C.ijepa_mpi_finalized() != 0 }
func finalize() error   { return check("MPI_Finalize", C.ijepa_mpi_finalize()) }

func rankSize() (rank, size int, err error) {
	var r, n C.int
	if err := check("MPI_Comm_rank", C.ijepa_mpi_rank(&r)); err != nil {
		return 0, 0, err
	}
	if err := check("MPI_Comm_size", C.ijepa_mpi_size(&n)); err != nil {
		return 0, 0, err
	}
	return int(r), int(n), nil
}

func localRank() (rank, size int, err error) {
	var r, n C.int
	err = check("MPI_Comm_split_type", C.ijepa_mpi_local_rank(&r, &n))
	return int(r), int(n), err
}

// request is a nonblocking call in flight (an MPI_Request).
type request C.handle

func iallreduceF32(x []float32) (request, error) {
	var r C.handle
	err := check("MPI_Iallreduce", C.ijepa_mpi_iallreduce_f32((*C.float)(unsafe.Pointer(&x[0])), C.int(len(x)), &r))
	return request(r), err
}

func iallreduceF64(x []float64) (request, error) {
	var r C.handle
	err := check("MPI_Iallreduce", C.ijepa_mpi_iallreduce_f64((*C.double)(unsafe.Pointer(&x[0])), C.int(len(x)), &r))
	return request(r), err
}

func ibcast(b []byte, root int) (request, error) {
	var r C.handle
	err := check("MPI_Ibcast", C.ijepa_mpi_ibcast(unsafe.Pointer(&b[0]), C.int(len(b)), C.int(root), &r))
	return request(r), err
}

func ibarrier() (request, error) {
	var r C.handle
	err := check("MPI_Ibarrier", C.ijepa_mpi_ibarrier(&r))
	return request(r), err
}

// test reports whether the call of r has completed (MPI_Test).
func test(r *request) (bool, error) {
	var done C.int
	h := C.handle(*r)
	err := check("MPI_Test", C.ijepa_mpi_test(&h, &done))
	*r = request(h)
	return done != 0, err
}

func abort(code int) { C.ijepa_mpi_abort(C.int(code)) }

func libraryVersion() string {
	var buf [512]C.char
	C.ijepa_mpi_library_version(&buf[0], C.int(len(buf)))
	return strings.TrimSpace(C.GoString(&buf[0]))
}
