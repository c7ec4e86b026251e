//go:build linux && cgo

package vulkan

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// pushBlock returns the members of a shader's push constant block, as
// (GLSL type, name) pairs in order.
func pushBlock(t *testing.T, src string) [][2]string {
	t.Helper()
	m := regexp.MustCompile(`(?s)layout\(push_constant\)\s*uniform\s+\w+\s*\{(.*?)\}\s*p;`).FindStringSubmatch(src)
	if m == nil {
		return nil
	}
	var out [][2]string
	for _, line := range strings.Split(m[1], "\n") {
		line, _, _ = strings.Cut(line, "//")
		for _, decl := range strings.Split(line, ";") {
			decl = strings.TrimSpace(decl)
			if decl == "" {
				continue
			}
			typ, names, ok := strings.Cut(decl, " ")
			if !ok {
				t.Fatalf("cannot read the push constant member %q", decl)
			}
			for _, n := range strings.Split(names, ",") {
				out = append(out, [2]string{typ, strings.TrimSpace(n)})
			}
		}
	}
	return out
}

// Every kernel's Go push constant type matches its shader's block member by
// member (name, type, order), has no padding and fits the pipeline layout;
// every shader has a kernel and every kernel a shader.
func TestPushConstantsMatchShaders(t *testing.T) {
	files, err := filepath.Glob("../../shaders/*.comp")
	if err != nil || len(files) == 0 {
		t.Fatalf("no shaders: %v", err)
	}
	goType := map[string]reflect.Type{"uint": reflect.TypeFor[uint32](), "float": reflect.TypeFor[float32](), "int": reflect.TypeFor[int32]()}
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".comp")
		seen[name] = true
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		typ, ok := kernelTypes[name]
		if !ok {
			t.Errorf("%s.comp has no kernel in kernels.go", name)
			continue
		}
		members := pushBlock(t, string(src))
		if len(members) != typ.NumField() {
			t.Errorf("%s: the shader's block has %d members, %v has %d fields", name, len(members), typ, typ.NumField())
			continue
		}
		for i, m := range members {
			f := typ.Field(i)
			r := []rune(m[1])
			r[0] = unicode.ToUpper(r[0])
			if f.Name != string(r) || f.Type != goType[m[0]] {
				t.Errorf("%s: member %d is %s %s in the shader, %s %v in %v", name, i, m[0], m[1], f.Name, f.Type, typ)
			}
		}
		if size := typ.Size(); size != uintptr(4*typ.NumField()) || size > pushBytes {
			t.Errorf("%s: %v is %d bytes for %d fields (at most %d bytes)", name, typ, size, typ.NumField(), pushBytes)
		}
	}
	for name := range kernelTypes {
		if !seen[name] {
			t.Errorf("kernel %s has no shaders/%s.comp", name, name)
		}
	}
}
