// Package dlopen is what the run-time loading of an optional shared
// library (OpenBLAS in backend/cpu, libjpeg-turbo in ijepa/data, MPI in
// internal/mpi) shares: the names to try, which an environment variable
// may replace or turn off, and trying them in turn. The dlopen calls
// themselves are cgo in each user.
package dlopen

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Names returns the library names to try: the value of the environment
// variable env when it is set (a path or soname), an error saying that env
// turned the library off when it is "off", else defaults. what names the
// library in the error ("openblas").
func Names(what, env string, defaults ...string) ([]string, error) {
	switch v := os.Getenv(env); v {
	case "":
		return defaults, nil
	case "off":
		return nil, fmt.Errorf("%s: disabled by %s=off", what, env)
	default:
		return []string{v}, nil
	}
}

// First calls open with each name in turn until one succeeds (open returns
// "") and returns that name; otherwise an error that joins what each name's
// open said.
func First(what string, names []string, open func(name string) (failure string)) (string, error) {
	var msgs []string
	for _, n := range names {
		msg := open(n)
		if msg == "" {
			return n, nil
		}
		msgs = append(msgs, msg)
	}
	if len(msgs) == 0 {
		return "", errors.New(what + ": no library name to try")
	}
	return "", fmt.Errorf("%s: %s", what, strings.Join(msgs, "; "))
}
