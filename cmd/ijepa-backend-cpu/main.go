// Command ijepa-backend-cpu serves the CPU backend (its fast path, cpu.New) as a plugin:
// ijepa runs it with --backend plugin:./ijepa-backend-cpu (or plugin:cpu
// when it lies in the plugin directory). It exists to test the plugin path
// end to end and to measure what the process boundary costs; run by hand it
// only says that it is a plugin.
package main

import (
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/backend/plugin"
)

func main() { plugin.Serve(cpu.New()) }
