package plugin

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ijepa-go/ijepa/backend"
)

// Discovery: plugins are executables named ijepa-backend-NAME in the plugin
// directories. "plugin:NAME" opens the one called NAME, "plugin:PATH" (any
// argument with a path separator) the executable at PATH.

// Prefix starts the file name of every plugin executable.
const Prefix = "ijepa-backend-"

// DirEnv is the environment variable that lists the plugin directories
// (separated like PATH).
const DirEnv = "IJEPA_PLUGIN_DIR"

// dirFlag is the value of the -plugin-dir flag, when a command defines it.
var dirFlag string

// DirFlag defines the -plugin-dir flag on fs. Commands that open backends
// call it so that the flag overrides IJEPA_PLUGIN_DIR.
func DirFlag(fs *flag.FlagSet) {
	fs.StringVar(&dirFlag, "plugin-dir", "",
		"directories of ijepa-backend-* plugin executables, separated like PATH (default $"+DirEnv+", else the directory of the ijepa executable)")
}

// Dirs returns the plugin directories: those of the -plugin-dir flag, else
// those of IJEPA_PLUGIN_DIR, else the directory of the running executable.
func Dirs() []string {
	list := dirFlag
	if list == "" {
		list = os.Getenv(DirEnv)
	}
	if list != "" {
		var dirs []string
		for _, d := range filepath.SplitList(list) {
			if d != "" {
				dirs = append(dirs, d)
			}
		}
		return dirs
	}
	if exe, err := os.Executable(); err == nil {
		return []string{filepath.Dir(exe)}
	}
	return nil
}

// Found is a plugin executable found in a plugin directory.
type Found struct {
	// Name is what follows the prefix: "cpu" for ijepa-backend-cpu.
	Name string
	// Path is the executable's path.
	Path string
}

// Discover lists the plugin executables in Dirs, sorted by name; when two
// directories hold one name, the earlier directory wins. Directories that
// do not exist are skipped.
func Discover() []Found {
	seen := map[string]bool{}
	var out []Found
	for _, dir := range Dirs() {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), Prefix)
			if !ok || name == "" || seen[name] {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
				continue
			}
			seen[name] = true
			out = append(out, Found{Name: name, Path: path})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Resolve returns the executable that "plugin:arg" names: arg itself when
// it contains a path separator, else the plugin called arg (or the file
// named arg) in Dirs.
func Resolve(arg string) (string, error) {
	if arg == "" {
		return "", fmt.Errorf("plugin: say which plugin: plugin:PATH or plugin:NAME (for %sNAME in %s)", Prefix, strings.Join(Dirs(), string(os.PathListSeparator)))
	}
	if strings.ContainsRune(arg, '/') || strings.ContainsRune(arg, filepath.Separator) {
		return arg, nil
	}
	for _, f := range Discover() {
		if f.Name == arg || Prefix+f.Name == arg {
			return f.Path, nil
		}
	}
	var names []string
	for _, f := range Discover() {
		names = append(names, f.Name)
	}
	found := "none"
	if len(names) > 0 {
		found = strings.Join(names, ", ")
	}
	return "", fmt.Errorf("plugin: no plugin %q (%s%s) in %s (found: %s); set -plugin-dir or %s, or give a path such as plugin:./%s%s",
		arg, Prefix, arg, orNone(strings.Join(Dirs(), string(os.PathListSeparator))), found, DirEnv, Prefix, arg)
}

// Devices starts each discovered plugin, asks for its device and closes it.
// A plugin that fails to start is listed with the reason as its device.
func Devices() ([]backend.Info, error) {
	var out []backend.Info
	for _, f := range Discover() {
		name := "plugin:" + f.Name
		b, err := open(name, f.Path, Options{})
		if err != nil {
			out = append(out, backend.Info{Backend: name, Device: "unavailable: " + err.Error(), Kind: "other"})
			continue
		}
		info := b.Info()
		info.Limits = append(info.Limits, [2]string{"path", f.Path})
		if err := b.Close(); err != nil {
			info.Device += " (close: " + err.Error() + ")"
		}
		out = append(out, info)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s* executables in %s (set -plugin-dir or %s)", Prefix, orNone(strings.Join(Dirs(), string(os.PathListSeparator))), DirEnv)
	}
	return out, nil
}

func init() {
	backend.Register(backend.Driver{
		Name: "plugin",
		Doc:  "a backend in its own executable over go-plugin gRPC: plugin:PATH, or plugin:NAME for " + Prefix + "NAME in the plugin directories",
		Open: func(arg string) (backend.Backend, error) {
			path, err := Resolve(arg)
			if err != nil {
				return nil, err
			}
			return open("plugin:"+arg, path, Options{})
		},
		Devices: Devices,
	})
}
