package dist

import (
	"strings"

	"github.com/ijepa-go/ijepa/backend"
)

// DeviceSpec returns the backend spec rank c opens for spec: spec itself,
// unless it names a driver alone ("vulkan") and the driver lists several
// devices here; then the device at LocalRank modulo their number, so that
// the ranks on a machine share its GPUs out (devices of kind "cpu", such as
// lavapipe, count only where there is no other). A spec that names a
// device ("vulkan:1") puts every rank on it. Each backend of a composite
// ("vulkan,cpu") is chosen so, and a "?ops=" suffix is kept.
func DeviceSpec(spec string, c Comm) string {
	if parts := strings.Split(spec, ","); len(parts) > 1 {
		for i, p := range parts {
			parts[i] = DeviceSpec(p, c)
		}
		return strings.Join(parts, ",")
	}
	if base, ops, ok := strings.Cut(spec, "?"); ok {
		return DeviceSpec(base, c) + "?" + ops
	}
	if c == nil || c.Size() == 1 || strings.Contains(spec, ":") {
		return spec
	}
	for _, d := range backend.Drivers() {
		if d.Name != spec || d.Devices == nil {
			continue
		}
		infos, err := d.Devices()
		if err != nil {
			return spec
		}
		var gpus []backend.Info
		for _, i := range infos {
			if i.Kind != "cpu" {
				gpus = append(gpus, i)
			}
		}
		if len(gpus) > 0 {
			infos = gpus
		}
		if len(infos) < 2 {
			return spec
		}
		if pick := infos[c.LocalRank()%len(infos)].Backend; strings.HasPrefix(pick, spec+":") {
			return pick
		}
	}
	return spec
}
