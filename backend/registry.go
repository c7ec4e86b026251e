package backend

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Driver is a kind of backend that can be opened by name.
type Driver struct {
	// Name is the registry name: "cpu", "vulkan", "plugin".
	Name string
	// Doc is a one-line description for `ijepa backends`.
	Doc string
	// Open opens the backend. arg is what followed "name:" in the spec
	// ("" for a bare name): a device index or name for vulkan, a path for
	// plugin.
	Open func(arg string) (Backend, error)
	// Devices lists the devices the driver can open, without opening a
	// backend; an error says why there are none (no Vulkan loader, ...).
	Devices func() ([]Info, error)
}

var (
	regMu   sync.Mutex
	drivers = map[string]Driver{}
	// composite opens specs joined by "," (RegisterComposite).
	composite func(specs []string) (Backend, error)
)

// Register makes a driver available to Open. Backend packages call it from
// init; registering one name twice panics.
func Register(d Driver) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := drivers[d.Name]; dup {
		panic("backend: driver " + d.Name + " registered twice")
	}
	drivers[d.Name] = d
}

// Drivers returns the registered drivers sorted by name.
func Drivers() []Driver {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]Driver, 0, len(drivers))
	for _, d := range drivers {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Open opens a backend from a spec "NAME" or "NAME:ARG" ("cpu", "vulkan:0",
// "plugin:./ijepa-backend-cpu"), optionally followed by "?ops=OP+OP", which
// keeps only those ops of it (Restrict: "plugin:cpu?ops=matmul"). Several
// specs joined by "," ("vulkan,cpu", "cpu-ref?ops=matmul+gelu,cpu") open one
// composite backend that runs each op on the first of them that supports it
// (package backend/composite, which must be linked into the program).
func Open(spec string) (Backend, error) {
	if strings.Contains(spec, ",") {
		regMu.Lock()
		open := composite
		regMu.Unlock()
		if open == nil {
			return nil, fmt.Errorf("backend %q: several backends need package backend/composite, which this program does not link", spec)
		}
		b, err := open(strings.Split(spec, ","))
		if err != nil {
			return nil, fmt.Errorf("backend %q: %w", spec, err)
		}
		return b, nil
	}
	base, query, restrict := strings.Cut(spec, "?")
	var ops []Op
	if restrict {
		list, ok := strings.CutPrefix(query, "ops=")
		if !ok {
			return nil, fmt.Errorf("backend %q: unknown suffix %q (the one suffix is ?ops=OP+OP)", spec, "?"+query)
		}
		var err error
		if ops, err = ParseOps(list); err != nil {
			return nil, fmt.Errorf("backend %q: ?ops=: %w", spec, err)
		}
	}
	b, err := openDriver(base)
	if err != nil || !restrict {
		return b, err
	}
	r, err := Restrict(b, ops)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("backend %q: %w", spec, err)
	}
	return r, nil
}

// openDriver opens "NAME" or "NAME:ARG" through its registered driver.
func openDriver(spec string) (Backend, error) {
	name, arg, _ := strings.Cut(spec, ":")
	regMu.Lock()
	d, ok := drivers[name]
	regMu.Unlock()
	if !ok {
		names := []string{}
		for _, d := range Drivers() {
			names = append(names, d.Name)
		}
		return nil, fmt.Errorf("backend: unknown backend %q (known: %s)", spec, strings.Join(names, ", "))
	}
	b, err := d.Open(arg)
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", spec, err)
	}
	return b, nil
}

// RegisterComposite installs what Open does with several specs joined by ","
// (each spec without the ","). Package backend/composite calls it from init;
// a second call panics.
func RegisterComposite(open func(specs []string) (Backend, error)) {
	regMu.Lock()
	defer regMu.Unlock()
	if composite != nil {
		panic("backend: composite opener registered twice")
	}
	composite = open
}
