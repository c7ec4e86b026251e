// Package shaders holds the GLSL compute kernels of the Vulkan backend, one
// .comp file per op family, and their SPIR-V, compiled by `go generate` with
// glslc (package glslc gives the flags) and embedded here, so that users need
// no shader compiler. The test of this package fails when a committed .spv
// is stale.
//
// Conventions shared by every kernel are in common.glsl: each tensor argument
// is bound as a whole memory block, with its element offset in the push
// constants; specialisation constant 0 is the workgroup size.
package shaders

//go:generate go run gen.go

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.spv
var files embed.FS

// Names returns the name of every kernel ("matmul", "softmax", ...), sorted.
func Names() []string {
	ents, _ := files.ReadDir(".")
	var names []string
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e.Name(), ".spv"))
	}
	sort.Strings(names)
	return names
}

// SPIRV returns the SPIR-V of the named kernel as 32-bit words.
func SPIRV(name string) ([]uint32, error) {
	b, err := files.ReadFile(name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shaders: no kernel %q", name)
	}
	if len(b)%4 != 0 || len(b) < 20 {
		return nil, fmt.Errorf("shaders: %s.spv is not SPIR-V (%d bytes)", name, len(b))
	}
	words := make([]uint32, len(b)/4)
	for i := range words {
		words[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
	}
	if words[0] != 0x07230203 {
		return nil, fmt.Errorf("shaders: %s.spv does not start with the SPIR-V magic number", name)
	}
	return words, nil
}
