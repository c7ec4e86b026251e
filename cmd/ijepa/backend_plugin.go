package main

// Backends in their own executables: --backend plugin:PATH or plugin:NAME.
import _ "github.com/ijepa-go/ijepa/backend/plugin"
