// Package glslc compiles the GLSL compute shaders of package shaders to
// SPIR-V with the glslc compiler (Debian package glslc, from shaderc), with
// one fixed set of flags. `go generate ./shaders` uses it to write the
// committed .spv files, and the shaders test uses it to check that they are
// current.
package glslc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Args are the flags every shader is compiled with: a compute stage, SPIR-V
// for Vulkan 1.1, and the SPIR-V optimiser. No debug information is emitted,
// so the output depends only on the sources and the glslc version.
var Args = []string{"-fshader-stage=compute", "--target-env=vulkan1.1", "-O"}

// Path returns the glslc executable on PATH, or an error saying how to get
// one.
func Path() (string, error) {
	p, err := exec.LookPath("glslc")
	if err != nil {
		return "", fmt.Errorf("glslc not found on PATH: install it (Debian/Ubuntu: apt-get install glslc)")
	}
	return p, nil
}

// Version returns glslc's version line ("shaderc v2023.2 ...").
func Version() (string, error) {
	p, err := Path()
	if err != nil {
		return "", err
	}
	out, err := exec.Command(p, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("glslc --version: %v", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}

// Sources returns the names of the .comp files in dir, sorted.
func Sources(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*.comp"))
	if err != nil {
		return nil, err
	}
	names := make([]string, len(m))
	for i, p := range m {
		names[i] = filepath.Base(p)
	}
	sort.Strings(names)
	return names, nil
}

// Output returns the name of the SPIR-V file for a source: x.comp -> x.spv.
func Output(src string) string { return strings.TrimSuffix(src, ".comp") + ".spv" }

// Compile compiles dir/src and returns the SPIR-V.
func Compile(dir, src string) ([]byte, error) {
	p, err := Path()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "glslc")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, Output(src))
	args := append(append([]string{}, Args...), "-I", dir, "-o", out, filepath.Join(dir, src))
	cmd := exec.Command(p, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("glslc %s: %v\n%s", src, err, stderr.String())
	}
	return os.ReadFile(out)
}

// Generate compiles every .comp in dir to its .spv beside it and removes .spv
// files that have no source.
func Generate(dir string) error {
	srcs, err := Sources(dir)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, s := range srcs {
		spv, err := Compile(dir, s)
		if err != nil {
			return err
		}
		keep[Output(s)] = true
		if err := os.WriteFile(filepath.Join(dir, Output(s)), spv, 0o644); err != nil {
			return err
		}
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.spv"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if !keep[filepath.Base(p)] {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}
