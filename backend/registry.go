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
// "plugin:./ijepa-backend-cpu").
func Open(spec string) (Backend, error) {
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
