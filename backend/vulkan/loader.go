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

typedef void* (*ijepaGetProc)(void* instance, const char* name);

// ijepaSubgroup returns the subgroup size of a physical device, and in *ops
// its supported subgroup operations (when the compute stage has them), through
// vkGetPhysicalDeviceProperties2 (Vulkan 1.1), which the Go binding does not
// wrap, or 0 when it is not available. The structures are declared here by
// hand: VkPhysicalDeviceProperties2 is sType, pNext and the 1.0 properties
// (824 bytes, given 1024 here); VkPhysicalDeviceSubgroupProperties is sType,
// pNext, subgroupSize, supportedStages, supportedOperations and
// quadOperationsInAllStages.
static uint32_t ijepaSubgroup(void* gipa, void* instance, void* pd, uint32_t* ops) {
	void* f = ((ijepaGetProc)gipa)(instance, "vkGetPhysicalDeviceProperties2");
	if (f == NULL) {
		return 0;
	}
	struct {
		uint32_t sType;
		void* pNext;
		uint32_t subgroupSize, stages, ops, quad;
	} sg;
	memset(&sg, 0, sizeof sg);
	sg.sType = 1000094000; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
	struct {
		uint32_t sType;
		void* pNext;
		uint64_t properties[128];
	} p2;
	memset(&p2, 0, sizeof p2);
	p2.sType = 1000059001; // VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
	p2.pNext = &sg;
	((void (*)(void*, void*))f)(pd, &p2);
	*ops = (sg.stages & 0x20) ? sg.ops : 0; // VK_SHADER_STAGE_COMPUTE_BIT
	return sg.subgroupSize;
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

// subgroup returns a device's subgroup size (0 if unknown) and the
// subgroup operations its compute shaders support (VkSubgroupFeatureFlags).
func subgroup(inst vk.Instance, pd vk.PhysicalDevice) (size, ops uint32) {
	if gipa == nil {
		return 0, 0
	}
	var o C.uint32_t
	size = uint32(C.ijepaSubgroup(gipa, unsafe.Pointer(inst), unsafe.Pointer(pd), &o))
	return size, uint32(o)
}

// subgroupShuffle is VK_SUBGROUP_FEATURE_SHUFFLE_BIT.
const subgroupShuffle = 0x10

// errNoLoader reports whether err is the missing-loader error.
var errNoDevice = errors.New("vulkan: no Vulkan device found: the loader has no usable driver " +
	"(install mesa-vulkan-drivers for lavapipe, the CPU device, or your GPU's Vulkan driver)")
