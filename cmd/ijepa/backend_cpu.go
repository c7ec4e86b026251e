package main

// The CPU reference backend is always linked in.
import _ "github.com/ijepa-go/ijepa/backend/cpu"
