package vkshim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/internal/testdep"
)

// structs are the structures of vkshim.h (ijepaNAME for VkNAME) and the
// fields of each.
var structs = map[string][]string{
	"ApplicationInfo":               {"sType", "pNext", "pApplicationName", "applicationVersion", "pEngineName", "engineVersion", "apiVersion"},
	"InstanceCreateInfo":            {"sType", "pNext", "flags", "pApplicationInfo", "enabledLayerCount", "ppEnabledLayerNames", "enabledExtensionCount", "ppEnabledExtensionNames"},
	"QueueFamilyProperties":         {"queueFlags", "queueCount", "timestampValidBits", "minImageTransferGranularity"},
	"DeviceQueueCreateInfo":         {"sType", "pNext", "flags", "queueFamilyIndex", "queueCount", "pQueuePriorities"},
	"DeviceCreateInfo":              {"sType", "pNext", "flags", "queueCreateInfoCount", "pQueueCreateInfos", "enabledLayerCount", "ppEnabledLayerNames", "enabledExtensionCount", "ppEnabledExtensionNames", "pEnabledFeatures"},
	"CommandPoolCreateInfo":         {"sType", "pNext", "flags", "queueFamilyIndex"},
	"BufferCreateInfo":              {"sType", "pNext", "flags", "size", "usage", "sharingMode", "queueFamilyIndexCount", "pQueueFamilyIndices"},
	"MemoryRequirements":            {"size", "alignment", "memoryTypeBits"},
	"MemoryAllocateInfo":            {"sType", "pNext", "allocationSize", "memoryTypeIndex"},
	"DescriptorSetLayoutBinding":    {"binding", "descriptorType", "descriptorCount", "stageFlags", "pImmutableSamplers"},
	"DescriptorSetLayoutCreateInfo": {"sType", "pNext", "flags", "bindingCount", "pBindings"},
	"PushConstantRange":             {"stageFlags", "offset", "size"},
	"PipelineLayoutCreateInfo":      {"sType", "pNext", "flags", "setLayoutCount", "pSetLayouts", "pushConstantRangeCount", "pPushConstantRanges"},
	"PipelineCacheCreateInfo":       {"sType", "pNext", "flags", "initialDataSize", "pInitialData"},
	"ShaderModuleCreateInfo":        {"sType", "pNext", "flags", "codeSize", "pCode"},
	"SpecializationMapEntry":        {"constantID", "offset", "size"},
	"SpecializationInfo":            {"mapEntryCount", "pMapEntries", "dataSize", "pData"},
	"PipelineShaderStageCreateInfo": {"sType", "pNext", "flags", "stage", "module", "pName", "pSpecializationInfo"},
	"ComputePipelineCreateInfo":     {"sType", "pNext", "flags", "stage", "layout", "basePipelineHandle", "basePipelineIndex"},
	"DescriptorPoolSize":            {"type", "descriptorCount"},
	"DescriptorPoolCreateInfo":      {"sType", "pNext", "flags", "maxSets", "poolSizeCount", "pPoolSizes"},
	"DescriptorSetAllocateInfo":     {"sType", "pNext", "descriptorPool", "descriptorSetCount", "pSetLayouts"},
	"DescriptorBufferInfo":          {"buffer", "offset", "range"},
	"WriteDescriptorSet":            {"sType", "pNext", "dstSet", "dstBinding", "dstArrayElement", "descriptorCount", "descriptorType", "pImageInfo", "pBufferInfo", "pTexelBufferView"},
	"CommandBufferAllocateInfo":     {"sType", "pNext", "commandPool", "level", "commandBufferCount"},
	"FenceCreateInfo":               {"sType", "pNext", "flags"},
	"CommandBufferBeginInfo":        {"sType", "pNext", "flags", "pInheritanceInfo"},
	"SemaphoreCreateInfo":           {"sType", "pNext", "flags"},
	"Extent2D":                      {"width", "height"},
	"Extent3D":                      {"width", "height", "depth"},
	"Offset3D":                      {"x", "y", "z"},
	"SurfaceFormatKHR":              {"format", "colorSpace"},
	"SwapchainCreateInfoKHR":        {"sType", "pNext", "flags", "surface", "minImageCount", "imageFormat", "imageColorSpace", "imageExtent", "imageArrayLayers", "imageUsage", "imageSharingMode", "queueFamilyIndexCount", "pQueueFamilyIndices", "preTransform", "compositeAlpha", "presentMode", "clipped", "oldSwapchain"},
	"ImageSubresourceRange":         {"aspectMask", "baseMipLevel", "levelCount", "baseArrayLayer", "layerCount"},
	"ImageSubresourceLayers":        {"aspectMask", "mipLevel", "baseArrayLayer", "layerCount"},
	"ImageMemoryBarrier":            {"sType", "pNext", "srcAccessMask", "dstAccessMask", "oldLayout", "newLayout", "srcQueueFamilyIndex", "dstQueueFamilyIndex", "image", "subresourceRange"},
	"BufferImageCopy":               {"bufferOffset", "bufferRowLength", "bufferImageHeight", "imageSubresource", "imageOffset", "imageExtent"},
	"PresentInfoKHR":                {"sType", "pNext", "waitSemaphoreCount", "pWaitSemaphores", "swapchainCount", "pSwapchains", "pImageIndices", "pResults"},
	"MemoryBarrier":                 {"sType", "pNext", "srcAccessMask", "dstAccessMask"},
	"BufferCopy":                    {"srcOffset", "dstOffset", "size"},
	"SubmitInfo":                    {"sType", "pNext", "waitSemaphoreCount", "pWaitSemaphores", "pWaitDstStageMask", "commandBufferCount", "pCommandBuffers", "signalSemaphoreCount", "pSignalSemaphores"},
}

// enums are vkshim.h's constants and the Vulkan enumerants they stand for.
var enums = map[string]string{
	"ijepaSTypeApplicationInfo":                  "VK_STRUCTURE_TYPE_APPLICATION_INFO",
	"ijepaSTypeInstanceCreateInfo":               "VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO",
	"ijepaSTypeDeviceQueueCreateInfo":            "VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO",
	"ijepaSTypeDeviceCreateInfo":                 "VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO",
	"ijepaSTypeSubmitInfo":                       "VK_STRUCTURE_TYPE_SUBMIT_INFO",
	"ijepaSTypeMemoryAllocateInfo":               "VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO",
	"ijepaSTypeFenceCreateInfo":                  "VK_STRUCTURE_TYPE_FENCE_CREATE_INFO",
	"ijepaSTypeBufferCreateInfo":                 "VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO",
	"ijepaSTypeShaderModuleCreateInfo":           "VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO",
	"ijepaSTypePipelineCacheCreateInfo":          "VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO",
	"ijepaSTypePipelineShaderStageCreateInfo":    "VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO",
	"ijepaSTypeComputePipelineCreateInfo":        "VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO",
	"ijepaSTypePipelineLayoutCreateInfo":         "VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO",
	"ijepaSTypeDescriptorSetLayoutCreateInfo":    "VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO",
	"ijepaSTypeDescriptorPoolCreateInfo":         "VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO",
	"ijepaSTypeDescriptorSetAllocateInfo":        "VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO",
	"ijepaSTypeWriteDescriptorSet":               "VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET",
	"ijepaSTypeCommandPoolCreateInfo":            "VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO",
	"ijepaSTypeCommandBufferAllocateInfo":        "VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO",
	"ijepaSTypeCommandBufferBeginInfo":           "VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO",
	"ijepaSTypeMemoryBarrier":                    "VK_STRUCTURE_TYPE_MEMORY_BARRIER",
	"ijepaSTypeSemaphoreCreateInfo":              "VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO",
	"ijepaSTypeImageMemoryBarrier":               "VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER",
	"ijepaSTypeSwapchainCreateInfoKHR":           "VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR",
	"ijepaSTypePresentInfoKHR":                   "VK_STRUCTURE_TYPE_PRESENT_INFO_KHR",
	"ijepaImageAspectColor":                      "VK_IMAGE_ASPECT_COLOR_BIT",
	"ijepaQueueFamilyIgnored":                    "VK_QUEUE_FAMILY_IGNORED",
	"ijepaErrorExtensionNotPresent":              "VK_ERROR_EXTENSION_NOT_PRESENT",
	"ijepaShaderStageCompute":                    "VK_SHADER_STAGE_COMPUTE_BIT",
	"ijepaDescriptorTypeStorageBuffer":           "VK_DESCRIPTOR_TYPE_STORAGE_BUFFER",
	"ijepaSharingModeExclusive":                  "VK_SHARING_MODE_EXCLUSIVE",
	"ijepaCommandBufferLevelPrimary":             "VK_COMMAND_BUFFER_LEVEL_PRIMARY",
	"ijepaCommandPoolCreateResetCommandBuffer":   "VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT",
	"ijepaDescriptorPoolCreateFreeDescriptorSet": "VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT",
	"ijepaCommandBufferUsageOneTimeSubmit":       "VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT",
	"ijepaWholeSize":                             "VK_WHOLE_SIZE",
}

// vkshim.h's hand-written structures and constants agree with the Vulkan
// headers, where they are installed (the build does not need them; the
// test command, which installs libvulkan-dev, fails without them): a C
// program asserts every size, alignment, field offset and field size, and
// every constant. (The entry points' signatures are checked by use: the
// tests of backend/vulkan and cmd/ijepa-view call each of them.)
func TestLayout(t *testing.T) {
	const header = "/usr/include/vulkan/vulkan.h"
	if _, err := os.Stat(header); err != nil {
		testdep.Skip(t, "no Vulkan headers (%s) to check vkshim.h against", header)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		testdep.Skip(t, "no C compiler to check vkshim.h with")
	}
	shim, err := filepath.Abs("vkshim.h")
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	fmt.Fprintf(&src, "#include <vulkan/vulkan.h>\n#include %q\n", shim)
	check := func(cond, what string) {
		fmt.Fprintf(&src, "_Static_assert(%s, %q);\n", cond, what)
	}
	for name, fields := range structs {
		ours, theirs := "ijepa"+name, "Vk"+name
		check(fmt.Sprintf("sizeof(%s) == sizeof(%s)", ours, theirs), ours+": size")
		check(fmt.Sprintf("_Alignof(%s) == _Alignof(%s)", ours, theirs), ours+": alignment")
		for _, f := range fields {
			check(fmt.Sprintf("offsetof(%s, %s) == offsetof(%s, %s)", ours, f, theirs, f), ours+"."+f+": offset")
			check(fmt.Sprintf("sizeof(((%s*)0)->%s) == sizeof(((%s*)0)->%s)", ours, f, theirs, f), ours+"."+f+": size")
		}
	}
	for ours, theirs := range enums {
		check(fmt.Sprintf("(int64_t)%s == (int64_t)%s", ours, theirs), ours)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "check.c")
	if err := os.WriteFile(file, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-std=gnu11", "-Wall", "-Werror", "-Wno-unused-function", "-fsyntax-only", file).CombinedOutput(); err != nil {
		t.Fatalf("vkshim.h disagrees with %s: %v\n%s", header, err, out)
	}
	t.Logf("%d structures and %d constants agree with %s", len(structs), len(enums), header)
}
