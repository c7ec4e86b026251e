package main

// Backends joined by "," (--backend vulkan,cpu) run as one composite backend.
import _ "github.com/ijepa-go/ijepa/backend/composite"
