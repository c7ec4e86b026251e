package plugin_test

import (
	"fmt"
	"log"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/backend/cpu"
	"github.com/ijepa-go/ijepa/backend/plugin"
)

// The smallest plugin is a main that serves a backend. Built as
// ijepa-backend-NAME, it runs with `ijepa train --backend plugin:./ijepa-backend-NAME`
// and is checked with `ijepa conformance --backend plugin:./ijepa-backend-NAME`.
func ExampleServe() {
	// package main
	//
	// func main() { plugin.Serve(mybackend.New()) }
	plugin.Serve(cpu.New())
}

// A host opens a plugin by path (or through backend.Open("plugin:PATH"))
// and uses it like any backend.
func ExampleOpen() {
	b, err := plugin.Open("./ijepa-backend-cpu", plugin.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	x := backend.FromF32(b, []float32{1, 2, 3}, 3)
	backend.Scale(b, x, x, 2) // queued, not yet sent
	v, err := backend.ReadF32(b, x)
	if err != nil {
		log.Fatal(err) // an *backend.OpError naming the op, or why the plugin failed
	}
	fmt.Println(v)
}
