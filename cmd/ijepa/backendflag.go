package main

import (
	"flag"

	"github.com/ijepa-go/ijepa/backend/plugin"
)

// backendChoices lists what --backend takes.
const backendChoices = "cpu, cpu-ref, vulkan[:DEVICE], plugin:NAME (ijepa-backend-NAME in --plugin-dir) or plugin:PATH"

// backendFlag declares --backend, with default def and a help text that
// starts with what, and --plugin-dir, where --backend plugin:NAME looks for
// ijepa-backend-NAME. Every command that opens a backend declares its
// flags through it.
func backendFlag(fs *flag.FlagSet, def, what string) *string {
	s := fs.String("backend", def, what+": "+backendChoices)
	plugin.DirFlag(fs)
	return s
}
