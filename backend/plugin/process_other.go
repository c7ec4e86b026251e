//go:build !unix

package plugin

import "os/exec"

// ownGroup leaves cmd as it is: process groups are a Unix facility.
func ownGroup(*exec.Cmd) {}

// killGroup does nothing: without process groups, procRunner.Kill kills
// the plugin process alone, and what the plugin started lives on.
func killGroup(int) {}
