// Package memlimit says how much memory this process may use: the
// smallest of its cgroup's memory limit, its address-space limit
// (RLIMIT_AS, less the address space it holds beyond its resident memory)
// and the machine's physical memory. A run whose estimated peak
// is above it is refused before it starts, instead of ending in an
// out-of-memory crash hours in.
package memlimit

import "fmt"

// Limit is the memory the process may use and where the bound comes from.
type Limit struct {
	// Bytes is the bound (0: unknown, no check).
	Bytes int64
	// Source names it: "cgroup memory limit", "RLIMIT_AS (ulimit -v)" or
	// "physical memory".
	Source string
}

func (l Limit) String() string {
	if l.Bytes <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%s (%s)", Format(l.Bytes), l.Source)
}

// Available returns the process's bound on resident memory (see the
// package comment). nonResident is the address space the program comes to
// hold beyond its resident memory (reservations of the Go runtime and the
// libraries, thread stacks): RLIMIT_AS bounds the address space, so that
// much of it is not available as resident memory. The larger of
// nonResident and what the process holds beyond its resident memory now
// is taken.
func Available(nonResident int64) Limit { return available(nonResident) }

// Format writes a number of bytes in GiB (or MiB below 1 GiB).
func Format(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
