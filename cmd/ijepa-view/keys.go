//go:build glfw

package main

import "github.com/go-gl/glfw/v3.3/glfw"

// keyBindings are the keys of the commands by key (as doc.go lists them).
var keyBindings = map[glfw.Key]key{
	glfw.KeyRight:     keyNext,
	glfw.KeySpace:     keyNext,
	glfw.KeyLeft:      keyPrev,
	glfw.KeyBackspace: keyPrev,
	glfw.KeyUp:        keyEarlier,
	glfw.KeyPageUp:    keyEarlier,
	glfw.KeyDown:      keyLater,
	glfw.KeyPageDown:  keyLater,
	glfw.KeyEnd:       keyFollow,
	glfw.KeyEscape:    keyQuit,
}

// charBindings are the commands bound to characters, so they follow the
// keyboard layout.
var charBindings = map[rune]key{
	'n': keyNext, 'N': keyNext,
	'p': keyPrev, 'P': keyPrev,
	'[': keyEarlier,
	']': keyLater,
	'f': keyFollow, 'F': keyFollow,
	'r': keyReload, 'R': keyReload,
	'q': keyQuit, 'Q': keyQuit,
}
