package backend

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unsafe"
)

// The attributes are declared once, as the fields of Attrs. An op's row names
// the attributes it reads (Spec.Attrs), checked against those fields when the
// package starts; their printing (FormatAttrs, used in conformance case
// names) and their wire encoding (EncodeAttrs, DecodeAttrs: the plugin
// protocol carries a call's attributes as float64 values in the order of the
// op's row) derive from the field's type.

// attrKind is the type of an attribute field.
type attrKind uint8

const (
	attrBool attrKind = iota + 1
	attrInt
	attrFloat
)

// attrField is one field of Attrs.
type attrField struct {
	name string
	kind attrKind
	off  uintptr
}

// attrFields are the fields of Attrs in declaration order.
var attrFields = func() []attrField {
	t := reflect.TypeFor[Attrs]()
	out := make([]attrField, t.NumField())
	for i := range out {
		f := t.Field(i)
		var k attrKind
		switch f.Type.Kind() {
		case reflect.Bool:
			k = attrBool
		case reflect.Int:
			k = attrInt
		case reflect.Float64:
			k = attrFloat
		default:
			panic(fmt.Sprintf("backend: attribute %s has type %v; attributes are bool, int or float64", f.Name, f.Type))
		}
		out[i] = attrField{name: f.Name, kind: k, off: f.Offset}
	}
	return out
}()

// attrsOf resolves the attribute names of every op's row, once.
func attrsOf(s *Spec) []attrField {
	out := make([]attrField, len(s.Attrs))
	for i, name := range s.Attrs {
		found := false
		for _, f := range attrFields {
			if f.name == name {
				out[i], found = f, true
			}
		}
		if !found {
			panic(fmt.Sprintf("backend: op %s reads attribute %q, which is not a field of Attrs", s.Name, name))
		}
	}
	return out
}

// get returns the field's value in a as a float64 (a bool as 0 or 1).
func (f attrField) get(a *Attrs) float64 {
	p := unsafe.Add(unsafe.Pointer(a), f.off)
	switch f.kind {
	case attrBool:
		if *(*bool)(p) {
			return 1
		}
		return 0
	case attrInt:
		return float64(*(*int)(p))
	}
	return *(*float64)(p)
}

// set stores v, which must suit the field (see decode), into a.
func (f attrField) set(a *Attrs, v float64) {
	p := unsafe.Add(unsafe.Pointer(a), f.off)
	switch f.kind {
	case attrBool:
		*(*bool)(p) = v != 0
	case attrInt:
		*(*int)(p) = int(v)
	default:
		*(*float64)(p) = v
	}
}

// valid reports whether v is a value of the field's type: 0 or 1 for a
// bool, an integer within int32 for an int.
func (f attrField) valid(v float64) bool {
	switch f.kind {
	case attrBool:
		return v == 0 || v == 1
	case attrInt:
		return v == math.Trunc(v) && v >= math.MinInt32 && v <= math.MaxInt32
	}
	return true
}

// format formats the field's value in a as "Alpha=0.5", "TransA=true" or
// "Heads=3".
func (f attrField) format(a *Attrs) string {
	v := f.get(a)
	switch f.kind {
	case attrBool:
		return f.name + "=" + strconv.FormatBool(v != 0)
	case attrInt:
		return f.name + "=" + strconv.Itoa(int(v))
	}
	return fmt.Sprintf("%s=%g", f.name, v)
}

// EncodeAttrs returns the attributes op reads, in the order of its row, as
// float64 values (a bool as 0 or 1, an int exactly): a call's attributes on
// the wire. Nil for an op without attributes.
func EncodeAttrs(op Op, a Attrs) []float64 {
	fs := specs[op].attrs
	if len(fs) == 0 {
		return nil
	}
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = f.get(&a)
	}
	return out
}

// DecodeAttrs is the inverse of EncodeAttrs: it refuses a count other than
// the op's and values that are not of the attribute's type.
func DecodeAttrs(op Op, v []float64) (Attrs, error) {
	var a Attrs
	fs := specs[op].attrs
	if len(v) != len(fs) {
		return a, fmt.Errorf("%v takes %d attributes (%s), not %d", op, len(fs), strings.Join(specs[op].Attrs, " "), len(v))
	}
	for i, f := range fs {
		if !f.valid(v[i]) {
			return a, fmt.Errorf("%v: attribute %s = %v is not a value of its type", op, f.name, v[i])
		}
		f.set(&a, v[i])
	}
	return a, nil
}

// FormatAttrs formats the attributes op reads, in the order of its row, as
// "TransA=false TransB=true Alpha=1 Beta=0".
func FormatAttrs(op Op, a Attrs) string {
	fs := specs[op].attrs
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.format(&a)
	}
	return strings.Join(parts, " ")
}

// AttrType returns the type of the attribute called name, as the wire's
// float64 value is read: "bool" (0 or 1), "int" (an exact integer within
// int32) or "float"; "" for a name that is no field of Attrs.
func AttrType(name string) string {
	for _, f := range attrFields {
		if f.name == name {
			return f.kind.String()
		}
	}
	return ""
}

// attrKindName names an attribute type in the catalogue's fingerprint.
func (k attrKind) String() string {
	return [...]string{attrBool: "bool", attrInt: "int", attrFloat: "float"}[k]
}
