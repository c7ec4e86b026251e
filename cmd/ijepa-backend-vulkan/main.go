// Command ijepa-backend-vulkan serves the Vulkan backend as a plugin: ijepa
// runs it with --backend plugin:./ijepa-backend-vulkan (or plugin:vulkan when
// it lies in the plugin directory). IJEPA_VULKAN_DEVICE (an index or a name)
// picks the device, as for the in-process backend. With no Vulkan loader or
// device it says why on standard error and exits, and the host quotes that
// line. Run by hand it only says that it is a plugin.
package main

import (
	"fmt"
	"os"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/plugin"
	_ "github.com/ijepa-go/ijepa/backend/vulkan"
)

func main() {
	b, err := backend.Open("vulkan")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ijepa-backend-vulkan:", err)
		os.Exit(1)
	}
	plugin.Serve(b)
}
