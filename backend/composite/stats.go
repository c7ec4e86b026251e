package composite

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ijepa-go/ijepa/backend"
)

// MemberStats counts what one backend of a composite did.
type MemberStats struct {
	// Name is the member's backend name ("plugin:cpu?ops=matmul").
	Name string
	// Calls counts the calls the member ran, by op.
	Calls map[backend.Op]int64
	// CopiesIn and BytesIn count the tensors copied into the member from
	// another member (host writes are not copies); CopiesOut and BytesOut
	// those copied out of it, each a Read that waits for the work queued
	// on it.
	CopiesIn, BytesIn, CopiesOut, BytesOut int64
	// CopyTime is the time the copies into the member took: the Read on
	// the source, with its wait for the source's queued work, and the
	// Write here.
	CopyTime time.Duration
}

func (s *MemberStats) count(op backend.Op) {
	if s.Calls == nil {
		s.Calls = map[backend.Op]int64{}
	}
	s.Calls[op]++
}

// Stats is what a composite did since it was opened, member by member in
// the composite's order.
type Stats struct {
	Members []MemberStats
}

// StatsOf returns the counters of b if it is a composite backend.
func StatsOf(b backend.Backend) (Stats, bool) {
	d := deviceOf(b)
	if d == nil {
		return Stats{}, false
	}
	var s Stats
	for _, m := range d.members {
		ms := m.stats
		ms.Calls = make(map[backend.Op]int64, len(m.stats.Calls))
		for op, n := range m.stats.Calls {
			ms.Calls[op] = n
		}
		s.Members = append(s.Members, ms)
	}
	return s, true
}

// Members returns the Info of each backend of b, a composite (nil for any
// other backend).
func Members(b backend.Backend) []backend.Info {
	d := deviceOf(b)
	if d == nil {
		return nil
	}
	infos := make([]backend.Info, len(d.members))
	for i, m := range d.members {
		infos[i] = m.info
	}
	return infos
}

func deviceOf(b backend.Backend) *device {
	if f, ok := b.(*backend.Front); ok {
		if d, ok := f.Device().(*device); ok {
			return d
		}
	}
	return nil
}

// Sub returns s minus an earlier snapshot o of the same composite: what
// happened in between.
func (s Stats) Sub(o Stats) Stats {
	out := Stats{Members: make([]MemberStats, len(s.Members))}
	for i, m := range s.Members {
		r := m
		r.Calls = map[backend.Op]int64{}
		var p MemberStats
		if i < len(o.Members) {
			p = o.Members[i]
		}
		for op, n := range m.Calls {
			if n -= p.Calls[op]; n != 0 {
				r.Calls[op] = n
			}
		}
		r.CopiesIn -= p.CopiesIn
		r.BytesIn -= p.BytesIn
		r.CopiesOut -= p.CopiesOut
		r.BytesOut -= p.BytesOut
		r.CopyTime -= p.CopyTime
		out.Members[i] = r
	}
	return out
}

// Copied returns the copies between members and their bytes.
func (s Stats) Copied() (copies, bytes int64) {
	for _, m := range s.Members {
		copies += m.CopiesIn
		bytes += m.BytesIn
	}
	return copies, bytes
}

// CopyTime returns the time spent copying between members.
func (s Stats) CopyTime() time.Duration {
	var d time.Duration
	for _, m := range s.Members {
		d += m.CopyTime
	}
	return d
}

// Summary formats, per step over steps steps, the bytes and copies between
// members and their time: "1.52 MiB copied per step (88 copies, 3.1 ms)".
func (s Stats) Summary(steps int) string {
	n, b := s.Copied()
	f := float64(max(steps, 1))
	return fmt.Sprintf("%s copied between backends per step (%.0f copies, %.1f ms)",
		formatBytes(float64(b)/f), float64(n)/f, s.CopyTime().Seconds()*1e3/f)
}

// Write writes, per step over steps steps, which ops ran on which member
// (calls per step by op, most first) and what was copied into and out of
// each, one member per line.
func (s Stats) Write(w io.Writer, steps int) error {
	f := float64(max(steps, 1))
	for _, m := range s.Members {
		var total int64
		for _, n := range m.Calls {
			total += n
		}
		var ops []string
		for _, op := range backend.Ops() {
			if n := m.Calls[op]; n > 0 {
				ops = append(ops, fmt.Sprintf("%s %s", op, perStep(float64(n)/f)))
			}
		}
		ran := "no calls"
		if total > 0 {
			ran = fmt.Sprintf("%s calls: %s", perStep(float64(total)/f), strings.Join(ops, ", "))
		}
		if _, err := fmt.Fprintf(w, "  %s: %s; in %s (%s copies), out %s (%s copies)\n", m.Name, ran,
			formatBytes(float64(m.BytesIn)/f), perStep(float64(m.CopiesIn)/f), formatBytes(float64(m.BytesOut)/f), perStep(float64(m.CopiesOut)/f)); err != nil {
			return err
		}
	}
	return nil
}

// perStep formats a count per step: whole numbers as such.
func perStep(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// formatBytes formats a byte count: "812 B", "3.4 KiB", "1.52 MiB".
func formatBytes(n float64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", n/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}

// Describe says, in one line, how b splits the ops by the members' op
// lists: "plugin:cpu?ops=matmul runs matmul; cpu the 28 other ops and the
// calls the backends before it refuse". ok is false for a backend that is
// not a composite.
func Describe(b backend.Backend) (line string, ok bool) {
	d := deviceOf(b)
	if d == nil {
		return "", false
	}
	taken := map[backend.Op]bool{}
	var parts []string
	for i, m := range d.members {
		var mine []string
		for _, op := range m.info.Ops {
			if !taken[op] {
				taken[op] = true
				mine = append(mine, op.String())
			}
		}
		var what string
		switch {
		case len(mine) == 0:
			what = "only the calls the backends before it refuse"
		case i > 0 && len(mine) > 3:
			what = fmt.Sprintf("the %d other ops and the calls the backends before it refuse", len(mine))
		case i > 0:
			what = strings.Join(mine, ", ") + " and the calls the backends before it refuse"
		case len(mine) > 3:
			what = fmt.Sprintf("all %d ops it lists", len(mine))
		default:
			what = strings.Join(mine, ", ")
		}
		parts = append(parts, m.name+" runs "+what)
	}
	return fmt.Sprintf("composite backend %s: %s (each call on the first backend that supports its op, dtypes and shapes)",
		d.info.Backend, strings.Join(parts, "; ")), true
}
