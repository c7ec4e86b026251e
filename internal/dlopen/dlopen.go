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
	"sync"
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

// Library is an optional library opened at most once per process, on first
// use: the names come from Names, open tries them (with First, in its cgo)
// and returns the one that opened. A Library's zero value is not usable:
// make one with NewLibrary.
type Library struct {
	what, env string
	defaults  []string
	open      func(names []string) (string, error)
	once      sync.Once
	err       error
	name      string
}

// NewLibrary describes a library what (as in Names' errors) that env may
// replace or turn off, found by defaults, opened by open.
func NewLibrary(what, env string, open func(names []string) (string, error), defaults ...string) *Library {
	return &Library{what: what, env: env, defaults: defaults, open: open}
}

// Load opens the library the first time it is called and returns, then and
// after, why it is unavailable, if it is.
func (l *Library) Load() error {
	l.once.Do(func() {
		var names []string
		if names, l.err = Names(l.what, l.env, l.defaults...); l.err == nil {
			l.name, l.err = l.open(names)
		}
	})
	return l.err
}

// Name returns the name the library was opened by, or "" when it is not
// loaded (loading it if need be).
func (l *Library) Name() string {
	if l.Load() != nil {
		return ""
	}
	return l.name
}
