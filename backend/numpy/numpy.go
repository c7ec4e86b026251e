// Package numpy is a backend written in Python on numpy and served to ijepa
// as a plugin process: ijepa-backend-numpy, which speaks the protocol of
// docs/PLUGINS.md with grpcio and no Go code. It is the template for
// backends in languages other than Go; README.md explains it to their
// authors.
//
// The Go code here says what the plugin needs to run; the tests check that
// catalogue.json (the handshake values and the op catalogue the plugin
// reads) and the gRPC stubs generated from backend.proto are current, and
// that the plugin process turns malformed input into errors. cmd/ijepa's
// tests run conformance and training through it.
package numpy

import (
	"bytes"
	"fmt"
	"os/exec"
)

// Executable is the plugin's file name in this directory.
const Executable = "ijepa-backend-numpy"

// Python is the interpreter on the plugin's first line: Debian's, for which
// apt installs python3-grpcio, python3-protobuf and python3-numpy (a
// python3 earlier on PATH may lack them).
const Python = "/usr/bin/python3"

// Ready returns nil when Python can import the modules the plugin needs,
// and otherwise an error that says what to install.
func Ready() error {
	out, err := exec.Command(Python, "-c", "import grpc, google.protobuf, numpy").CombinedOutput()
	if err == nil {
		return nil
	}
	why := err.Error()
	if out = bytes.TrimSpace(out); len(out) > 0 { // the last line of the traceback says which import failed
		why += ": " + string(out[bytes.LastIndexByte(out, '\n')+1:])
	}
	return fmt.Errorf("%s cannot run %s (%s): install python3-grpcio python3-protobuf python3-numpy", Python, Executable, why)
}
