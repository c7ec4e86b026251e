//go:build !glfw

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "ijepa-view: this build has no window: build it with the glfw tag, `go build -tags glfw ./cmd/ijepa-view` (needs the X11 development headers)")
	os.Exit(2)
}
