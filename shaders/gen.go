//go:build ignore

// gen compiles every shader of this directory to SPIR-V; run it with
// `go generate ./shaders`.
package main

import (
	"fmt"
	"os"

	"github.com/ijepa-go/ijepa/shaders/glslc"
)

func main() {
	if err := glslc.Generate("."); err != nil {
		fmt.Fprintln(os.Stderr, "shaders:", err)
		os.Exit(1)
	}
}
