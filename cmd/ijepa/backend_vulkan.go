package main

// The Vulkan backend; without a Vulkan loader or device it reports why and
// the other backends keep working.
import _ "github.com/ijepa-go/ijepa/backend/vulkan"
