package dlopen

import (
	"slices"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	const env = "IJEPA_DLOPEN_TEST"
	t.Setenv(env, "")
	if got, err := Names("lib", env, "a.so.1", "a.so"); err != nil || !slices.Equal(got, []string{"a.so.1", "a.so"}) {
		t.Errorf("unset: %v, %v", got, err)
	}
	t.Setenv(env, "/opt/a.so")
	if got, err := Names("lib", env, "a.so.1"); err != nil || !slices.Equal(got, []string{"/opt/a.so"}) {
		t.Errorf("a path: %v, %v", got, err)
	}
	t.Setenv(env, "off")
	if _, err := Names("lib", env, "a.so.1"); err == nil || !strings.Contains(err.Error(), env+"=off") {
		t.Errorf("off: %v", err)
	}
}

func TestFirst(t *testing.T) {
	var tried []string
	open := func(n string) string {
		tried = append(tried, n)
		if n == "b" {
			return ""
		}
		return n + ": not found"
	}
	if got, err := First("lib", []string{"a", "b", "c"}, open); got != "b" || err != nil || !slices.Equal(tried, []string{"a", "b"}) {
		t.Errorf("First = %q, %v after trying %v", got, err, tried)
	}
	if _, err := First("lib", []string{"a", "c"}, open); err == nil || err.Error() != "lib: a: not found; c: not found" {
		t.Errorf("none opens: %v", err)
	}
	if _, err := First("lib", nil, open); err == nil {
		t.Error("no names: no error")
	}
}

// A Library opens once, whatever the number of calls, and keeps its answer;
// its environment variable turns it off before open is called.
func TestLibrary(t *testing.T) {
	calls := 0
	l := NewLibrary("x", "IJEPA_TEST_DLOPEN_X", func(names []string) (string, error) {
		calls++
		return names[len(names)-1], nil
	}, "libx.so.1", "libx.so")
	for i := 0; i < 3; i++ {
		if err := l.Load(); err != nil || l.Name() != "libx.so" {
			t.Fatalf("Load %v, Name %q; want nil, libx.so", err, l.Name())
		}
	}
	if calls != 1 {
		t.Errorf("open called %d times, want 1", calls)
	}
	t.Setenv("IJEPA_TEST_DLOPEN_X", "off")
	off := NewLibrary("x", "IJEPA_TEST_DLOPEN_X", func([]string) (string, error) {
		t.Error("open called though the library is off")
		return "", nil
	})
	if err := off.Load(); err == nil || off.Name() != "" {
		t.Errorf("Load %v, Name %q; want an error and no name", err, off.Name())
	}
}
