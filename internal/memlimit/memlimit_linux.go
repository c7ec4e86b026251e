package memlimit

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// unlimited is the value from which a cgroup limit means none (cgroup v1
// reports 2^63 rounded down to a page).
const unlimited = 1 << 62

func available(nonResidentMin int64) Limit {
	best := Limit{}
	take := func(b int64, source string) {
		if b > 0 && b < unlimited && (best.Bytes == 0 || b < best.Bytes) {
			best = Limit{Bytes: b, Source: source}
		}
	}
	take(physical(), "physical memory")
	take(cgroupLimit(), "cgroup memory limit")
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err == nil && rl.Cur < unlimited {
		take(int64(rl.Cur)-max(nonResident(), nonResidentMin), "RLIMIT_AS (ulimit -v)")
	}
	return best
}

// physical is the machine's memory (MemTotal).
func physical() int64 {
	return meminfo("/proc/meminfo", "MemTotal:")
}

// nonResident is the address space the process holds beyond its resident
// memory (VmSize - VmRSS): reservations of the Go runtime, libraries,
// thread stacks, which count against RLIMIT_AS and not against the RSS an
// estimate predicts.
func nonResident() int64 {
	size, rss := meminfo("/proc/self/status", "VmSize:"), meminfo("/proc/self/status", "VmRSS:")
	return max(0, size-rss)
}

// meminfo reads a "Key:   N kB" line of a /proc file, in bytes (0 if
// absent).
func meminfo(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				if v, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					return v << 10
				}
			}
		}
	}
	return 0
}

// cgroupLimit is the smallest memory limit of the process's cgroup and its
// ancestors (cgroup v2 memory.max, v1 memory.limit_in_bytes), 0 if none.
func cgroupLimit() int64 {
	raw, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	best := int64(0)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var root, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			root, file = "/sys/fs/cgroup", "memory.max"
		case strings.Contains(","+parts[1]+",", ",memory,"):
			root, file = "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// Inside a container the cgroup path may not exist below the mount:
		// the mount's own files hold the limit then.
		for dir := filepath.Join(root, parts[2]); ; dir = filepath.Dir(dir) {
			if b := readLimit(filepath.Join(dir, file)); b > 0 && (best == 0 || b < best) {
				best = b
			}
			if dir == root || len(dir) <= len(root) {
				break
			}
		}
	}
	return best
}

func readLimit(path string) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(raw))
	if s == "max" {
		return 0
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v >= unlimited {
		return 0
	}
	return v
}
