package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/plugin"
)

// backendChoices lists what --backend takes.
const backendChoices = "cpu, cpu-ref, vulkan[:DEVICE], plugin:NAME (ijepa-backend-NAME in --plugin-dir) or plugin:PATH; any of them with ?ops=OP+OP (only those ops); several joined by \",\" (each op on the first that runs it)"

// backendFlag declares --backend, with default def and a help text that
// starts with what, and --plugin-dir, where --backend plugin:NAME looks for
// ijepa-backend-NAME. Every command that opens a backend declares its
// flags through it.
func backendFlag(fs *flag.FlagSet, def, what string) *string {
	s := fs.String("backend", def, what+": "+backendChoices)
	plugin.DirFlag(fs)
	return s
}

// openBackend opens the backend spec names. Ctrl-C while it starts (a
// plugin's start-up, bounded by IJEPA_PLUGIN_TIMEOUT) stops the command
// once the start is over: the backend is closed again and nothing is done.
func openBackend(ctx context.Context, spec string) (backend.Backend, error) {
	be, err := backend.Open(spec)
	if ctx.Err() != nil {
		if err == nil {
			be.Close()
		}
		return nil, fmt.Errorf("interrupted while starting backend %s: nothing done: %w", spec, ctx.Err())
	}
	return be, err
}
