//go:build !cgo || !unix

package turbojpeg

import "errors"

type handle = uintptr

func open([]string) (string, error) {
	return "", errors.New("turbojpeg: this build has no cgo (CGO_ENABLED=0) or no dlopen, so it cannot load libjpeg-turbo")
}

func newHandle() (handle, error)                    { return 0, errors.New("turbojpeg: not loaded") }
func header(handle, []byte) (int, int, error)       { return 0, 0, errors.New("turbojpeg: not loaded") }
func decode(handle, []byte, []byte, int, int) error { return errors.New("turbojpeg: not loaded") }
