//go:build linux && cgo

package vulkan

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// ijepaVkOpen loads the Vulkan loader library and returns its
// vkGetInstanceProcAddr, or NULL.
static void* ijepaVkOpen(const char* name) {
	void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		return NULL;
	}
	void* f = dlsym(lib, "vkGetInstanceProcAddr");
	if (f == NULL) {
		dlclose(lib);
	}
	return f;
}

*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	vk "github.com/vulkan-go/vulkan"
)

// loaderEnv names a Vulkan loader library to use instead of the default
// (libvulkan.so.1, then libvulkan.so).
const loaderEnv = "IJEPA_VULKAN_LOADER"

var (
	loaderOnce sync.Once
	loaderErr  error
	gipa       unsafe.Pointer // vkGetInstanceProcAddr
)

// loadVulkan loads the Vulkan loader once per process and hands its
// vkGetInstanceProcAddr to the binding. Only libvulkan1 is needed at run
// time (the binding's own loader would want libvulkan.so from the -dev
// package).
func loadVulkan() error {
	loaderOnce.Do(func() {
		names := []string{"libvulkan.so.1", "libvulkan.so"}
		if n := os.Getenv(loaderEnv); n != "" {
			names = []string{n}
		}
		for _, n := range names {
			cs := C.CString(n)
			p := C.ijepaVkOpen(cs)
			C.free(unsafe.Pointer(cs))
			if p != nil {
				gipa = p
				break
			}
		}
		if gipa == nil {
			loaderErr = fmt.Errorf("vulkan: no Vulkan loader found (%s): install libvulkan1 and a Vulkan driver "+
				"(Debian/Ubuntu: apt-get install libvulkan1 mesa-vulkan-drivers)", names[0])
			return
		}
		vk.SetGetInstanceProcAddr(gipa)
		if err := vk.Init(); err != nil {
			loaderErr = fmt.Errorf("vulkan: the Vulkan loader does not initialise: %v", err)
		}
	})
	return loaderErr
}

// subgroupShuffle is VK_SUBGROUP_FEATURE_SHUFFLE_BIT.
const subgroupShuffle = 0x10

// errNoLoader reports whether err is the missing-loader error.
var errNoDevice = errors.New("vulkan: no Vulkan device found: the loader has no usable driver " +
	"(install mesa-vulkan-drivers for lavapipe, the CPU device, or your GPU's Vulkan driver)")
