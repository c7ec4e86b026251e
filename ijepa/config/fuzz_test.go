package config

import (
	"os"
	"reflect"
	"testing"
)

// FuzzParse: any bytes are a config that validates and comes back the same
// through YAML, or one error; never a panic. Seeds: the official ViT-H/14
// file, every preset written as YAML, and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	official, err := os.ReadFile("testdata/in1k_vith14_ep300.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(official)
	for _, name := range Presets() {
		c, _ := Preset(name)
		y, err := c.YAML()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(y)
	}
	f.Add([]byte("ijepago:\n  preset: quick\nmask:\n  pred_mask_scale: [0.9, 1.0]\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := Parse("fuzz.yaml", raw)
		if err != nil {
			return
		}
		y, err := c.YAML()
		if err != nil {
			t.Fatalf("a valid config does not write: %v", err)
		}
		back, err := Parse("again.yaml", y)
		if err != nil {
			t.Fatalf("a valid config does not read back: %v\n%s", err, y)
		}
		if !reflect.DeepEqual(exported(back), exported(c)) {
			t.Fatalf("the config changed through YAML:\n%+v\n%+v", exported(c), exported(back))
		}
	})
}
