package nn

import (
	"fmt"
	"sort"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/nn/safetensors"
)

// Named is a tensor with the name it is saved under.
type Named struct {
	Name string
	T    *backend.Tensor
}

// ParamTensors returns the values of params named prefix + parameter name.
func ParamTensors(prefix string, params []*Param) []Named {
	out := make([]Named, len(params))
	for i, p := range params {
		out[i] = Named{prefix + p.Name, p.Value}
	}
	return out
}

// SaveFile writes tensors (read back from be one at a time) and metadata to
// path in safetensors format, atomically (safetensors.WriteFile), so a
// crash leaves either the old file or the new one.
func SaveFile(path string, be backend.Backend, tensors []Named, metadata map[string]string) error {
	return SaveFileChecked(path, be, tensors, metadata, nil)
}

// SaveFileChecked is SaveFile that calls check (when not nil) with each
// tensor's name and little-endian bytes as they are read back, before they
// are written: an error from check stops the write, and the file at path
// stays as it was.
func SaveFileChecked(path string, be backend.Backend, tensors []Named, metadata map[string]string, check func(name string, data []byte) error) error {
	list := make([]safetensors.Tensor, len(tensors))
	for i, t := range tensors {
		t := t
		if t.T == nil || t.T.Released() {
			return fmt.Errorf("nn: save %s: tensor %s is not allocated", path, t.Name)
		}
		shape := make([]int64, len(t.T.Shape()))
		for k, d := range t.T.Shape() {
			shape[k] = int64(d)
		}
		dt := "F32"
		if t.T.DType() == backend.I32 {
			dt = "I32"
		} else if t.T.DType() != backend.F32 {
			return fmt.Errorf("nn: save %s: tensor %s has dtype %v (only f32 and i32 are saved)", path, t.Name, t.T.DType())
		}
		list[i] = safetensors.Tensor{Name: t.Name, DType: dt, Shape: shape,
			Fill: func(dst []byte) error {
				if err := be.Read(t.T, dst); err != nil || check == nil {
					return err
				}
				return check(t.Name, dst)
			}}
	}
	if err := safetensors.WriteFile(path, list, metadata); err != nil {
		return fmt.Errorf("nn: save %s: %w", path, err)
	}
	return nil
}

// CheckFile reports whether the file at path holds exactly the given
// tensors' names, each with the tensor's dtype and shape, and returns its
// metadata; it reads only the header. The error names the first tensor that
// differs, with both shapes.
func CheckFile(path string, tensors []Named) (map[string]string, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nn: load: %w", err)
	}
	defer f.Close()
	return f.Metadata, checkHeader(path, f, tensors)
}

func checkHeader(path string, f *safetensors.File, tensors []Named) error {
	want := map[string]bool{}
	for _, t := range tensors {
		want[t.Name] = true
		info, ok := f.Info(t.Name)
		if !ok {
			return fmt.Errorf("nn: load %s: the checkpoint has no tensor %s (is it from another model?)", path, t.Name)
		}
		if !sameShape(info.Shape, t.T.Shape()) {
			return fmt.Errorf("nn: load %s: tensor %s has shape %v in the checkpoint, the model wants %v", path, t.Name, fmtShape(info.Shape), t.T.Shape())
		}
		dt := "F32"
		if t.T.DType() == backend.I32 {
			dt = "I32"
		}
		if info.DType != dt {
			return fmt.Errorf("nn: load %s: tensor %s is %s in the checkpoint, the model wants %s", path, t.Name, info.DType, dt)
		}
	}
	var extra []string
	for _, n := range f.Names() {
		if !want[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("nn: load %s: the checkpoint has %d tensors the model does not (first: %s)", path, len(extra), extra[0])
	}
	return nil
}

// LoadFile reads the tensors of path into the given tensors by name and
// returns the file's metadata. The file must pass CheckFile; otherwise
// nothing is written to the backend.
func LoadFile(path string, be backend.Backend, tensors []Named) (map[string]string, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nn: load: %w", err)
	}
	defer f.Close()
	if err := checkHeader(path, f, tensors); err != nil {
		return nil, err
	}
	var buf []byte
	for _, t := range tensors {
		n := t.T.Bytes()
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		b := buf[:n]
		if err := f.Read(t.Name, b); err != nil {
			return nil, fmt.Errorf("nn: load %s: %w", path, err)
		}
		be.Write(t.T, b)
	}
	if err := be.Sync(); err != nil {
		return nil, fmt.Errorf("nn: load %s: %w", path, err)
	}
	return f.Metadata, nil
}

func sameShape(a []int64, b backend.Shape) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != int64(b[i]) {
			return false
		}
	}
	return true
}

func fmtShape(s []int64) string {
	sh := make(backend.Shape, len(s))
	for i, d := range s {
		sh[i] = int(d)
	}
	return sh.String()
}
