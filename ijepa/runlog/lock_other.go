//go:build !unix

package runlog

import "os"

// tryLock is a no-op where flock does not exist: two trainers on one run
// directory are not detected there.
func tryLock(*os.File) (held bool, err error) { return false, nil }
