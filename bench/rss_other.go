//go:build !unix

package bench

import (
	"os"
	"time"
)

// PeakRSS returns 0: this system does not report the peak resident set.
func PeakRSS() int64 { return 0 }

func childPeakRSS(*os.ProcessState) int64 { return 0 }

func minorFaults() int64 { return 0 }

func cpuTime() time.Duration { return 0 }
