package config

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Diff lists the keys whose values differ between two configs, as
// "section.key: OLD -> NEW" (values written as in YAML), in file order.
func Diff(old, cur *Config) []string {
	var out []string
	ov := reflect.ValueOf(old).Elem()
	walk(reflect.ValueOf(cur).Elem(), func(key string, v reflect.Value) {
		o, _ := fieldOf(ov, key)
		if reflect.DeepEqual(o.Interface(), v.Interface()) {
			return
		}
		out = append(out, fmt.Sprintf("%s: %s -> %s", key, yamlValue(o), yamlValue(v)))
	})
	return out
}

// fieldOf finds the value of key in the config struct value c.
func fieldOf(c reflect.Value, key string) (reflect.Value, bool) {
	var out reflect.Value
	found := false
	walk(c, func(k string, v reflect.Value) {
		if k == key {
			out, found = v, true
		}
	})
	return out, found
}

// yamlValue writes a value as YAML on one line.
func yamlValue(v reflect.Value) string {
	b, err := yaml.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	s := strings.TrimSpace(string(b))
	if v.Kind() == reflect.Array {
		parts := strings.Split(s, "\n")
		for i := range parts {
			parts[i] = strings.TrimSpace(strings.TrimPrefix(parts[i], "- "))
		}
		s = "[" + strings.Join(parts, ", ") + "]"
	}
	return s
}
