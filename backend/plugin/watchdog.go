package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	pb "github.com/ijepa-go/ijepa/backend/plugin/pluginpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The watchdog: every call that waits on the plugin runs under the session
// context through wait, which asks the plugin for progress while it waits,
// and a failure of the plugin (a hang, an exit, a broken reply) becomes the
// client's fault, which every later call returns.

// setFault records that the plugin failed: the fault every later call
// returns (the Front makes it sticky). It returns the fault.
func (c *client) setFault(err error) error {
	if c.fault == nil {
		if !strings.HasPrefix(err.Error(), c.name+":") {
			err = fmt.Errorf("%s: %w", c.name, err)
		}
		c.fault = err
		c.cancel(err)
	}
	return c.fault
}

// wait runs fn, a call to the plugin, under the session. While fn waits, a
// watchdog asks the plugin for progress every PollInterval; if the plugin
// does not answer within PingTimeout or executes nothing for Timeout, the
// session is cancelled and fn returns. The error names the cause: the
// watchdog's verdict, the process's exit, or fn's own error.
func (c *client) wait(what string, fn func(ctx context.Context) error) error {
	if err := context.Cause(c.ctx); err != nil {
		return c.explain(what, err)
	}
	done := make(chan struct{})
	start := time.Now()
	timer := time.AfterFunc(c.opts.PollInterval, func() { c.watch(what, start, done) })
	err := fn(c.ctx)
	close(done)
	timer.Stop()
	if err == nil {
		return nil
	}
	return c.explain(what, err)
}

// watch is the watchdog of one wait; it returns when done is closed or it
// has cancelled the session. The plugin is hung when it executes nothing
// for Timeout, or does not answer a progress query within PingTimeout. A
// query still unanswered when Timeout has passed without progress ends the
// wait then (or one PollInterval after the query was sent, if later),
// whatever PingTimeout is.
func (c *client) watch(what string, start time.Time, done chan struct{}) {
	var last uint64
	since, seen := start, false
	for {
		now := time.Now()
		limit := since.Add(c.opts.Timeout)
		if l := now.Add(c.opts.PollInterval); limit.Before(l) {
			limit = l // time to answer
		}
		pingBy := now.Add(c.opts.PingTimeout)
		ctx, cancel := context.WithDeadline(c.ctx, earliest(limit, pingBy))
		p, err := c.rpc.Progress(ctx, &pb.ProgressRequest{})
		cancel()
		select {
		case <-done:
			return
		default:
		}
		if c.ctx.Err() != nil {
			return
		}
		late := status.Code(err) == codes.DeadlineExceeded
		switch {
		case late && pingBy.Before(limit):
			c.cancel(fmt.Errorf("%s: %w: it did not answer a progress query within %v while %s%s", c.name, ErrHung, c.opts.PingTimeout, what, c.stderr.quote()))
			return
		case late && !seen:
			c.cancel(fmt.Errorf("%s: %w: it answered nothing for %v while %s (the limit is %v, set by %s)%s",
				c.name, ErrHung, time.Since(since).Round(time.Millisecond), what, c.opts.Timeout, TimeoutEnv, c.stderr.quote()))
			return
		case late, err == nil && seen && p.Commands == last && time.Since(since) > c.opts.Timeout:
			c.cancel(fmt.Errorf("%s: %w: it executed nothing for %v while %s (stuck after command %d; the limit is %v, set by %s)%s",
				c.name, ErrHung, time.Since(since).Round(time.Millisecond), what, last, c.opts.Timeout, TimeoutEnv, c.stderr.quote()))
			return
		case err != nil:
			c.cancel(c.explain(what, err))
			return
		case !seen || p.Commands != last:
			last, since, seen = p.Commands, time.Now(), true
		}
		select {
		case <-done:
			return
		case <-time.After(c.opts.PollInterval):
		}
	}
}

// earliest returns the earlier of two times.
func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// explain turns the error of a call into the reason the plugin failed.
func (c *client) explain(what string, err error) error {
	cause := context.Cause(c.ctx)
	if c.ctx.Err() != nil && cause != nil && cause != context.Canceled {
		return cause // the watchdog's verdict, or an earlier fault
	}
	if c.proc != nil {
		// A dead process breaks the connection at once; go-plugin notices
		// the exit a moment later.
		for deadline := time.Now().Add(2 * time.Second); !c.proc.exited() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if c.proc.exited() {
			return fmt.Errorf("%s: %w (%s) while %s%s", c.name, ErrExited, c.exit.status(), what, c.stderr.quote())
		}
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return fmt.Errorf("%s: %s: %s (%v)%s", c.name, what, s.Message(), s.Code(), c.stderr.quote())
	}
	return fmt.Errorf("%s: %s: %w%s", c.name, what, err, c.stderr.quote())
}
