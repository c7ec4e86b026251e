package conformance

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Write prints the report: a header with the backends and the seed, one row
// per op (cases, passed, failed, unsupported, worst NMSE against its bound,
// time on the backend under test), then the failing cases by name, at most
// maxFailures per op (all of them when maxFailures is negative), then one
// line per missing required op, and the verdict.
func (r Report) Write(w io.Writer, maxFailures int) error {
	fmt.Fprintf(w, "conformance: backend %s against %s, seed %d\n\n", r.Backend, r.Ref, r.Seed)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcases\tpassed\tfailed\tunsupported\tworst NMSE\tbound\ttime\t")
	var cases, passed, failed, unsupp int
	var total time.Duration
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2e\t%.0e\t%s\t\n", o.Op, o.Cases, o.Passed, o.Failed, o.Unsupp, o.Worst, o.Bound, o.Time.Round(time.Millisecond))
		cases, passed, failed, unsupp = cases+o.Cases, passed+o.Passed, failed+o.Failed, unsupp+o.Unsupp
		total += o.Time
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t\t\t%s\t\n", cases, passed, failed, unsupp, total.Round(time.Millisecond))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, o := range r.Ops {
		for i, f := range o.Failures {
			if maxFailures >= 0 && i >= maxFailures {
				fmt.Fprintf(w, "  ... and %d more %s failures\n", len(o.Failures)-i, o.Op)
				break
			}
			fmt.Fprintf(w, "FAIL %s: %s\n", f.Name, f.Msg)
		}
	}
	missing := r.Missing()
	for _, op := range missing {
		fmt.Fprintf(w, "MISSING %s: a required op, and %s supports none of its cases\n", op, r.Backend)
	}
	verdict, tail := "PASS", ""
	if r.Failed() {
		verdict = "FAIL"
	}
	if len(missing) > 0 {
		tail = fmt.Sprintf(", %d required ops missing", len(missing))
	}
	_, err := fmt.Fprintf(w, "%s: %d of %d cases passed, %d failed, %d unsupported%s (replay with --seed %d)\n", verdict, passed, cases, failed, unsupp, tail, r.Seed)
	return err
}
