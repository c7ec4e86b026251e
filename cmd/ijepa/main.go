// Command ijepa pre-trains Vision Transformers with I-JEPA on any backend
// (cpu, vulkan, plugin:PATH) and checks backends against the CPU reference.
//
// Each subcommand lives in a file of its own and registers itself from init,
// so adding one touches no other file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/ijepa-go/ijepa/backend/plugin"
	"github.com/ijepa-go/ijepa/internal/atomicfile"
)

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string // one line for the command list
	usage   string // arguments after the name, for the usage line
	// run parses args (the flags after the name) and does the work. It
	// writes results to stdout and progress to stderr.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

// register adds a subcommand; files call it from init.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("ijepa: command " + c.name + " registered twice")
	}
	commands[c.name] = c
}

// errUsage marks an error whose message is a usage problem: it is printed
// with a hint to run the command's -h.
var errUsage = errors.New("usage")

// interrupted wraps err, the error of a command whose context Ctrl-C
// cancelled, with what the command was doing and what it kept; other
// errors (and nil) are returned as they are.
func interrupted(ctx context.Context, err error, doing, kept string) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("interrupted while %s: %s: %w", doing, kept, ctx.Err())
}

// exitCode lets a command ask for a specific exit status (for example 1 when
// conformance finds a failure) after printing its own report.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// errInterrupted is the cause of the context's cancellation on the first
// Ctrl-C (or SIGTERM).
var errInterrupted = errors.New("interrupted")

// exitInterrupted is the exit status of a command stopped by Ctrl-C
// (128 + SIGINT, as a shell reports it).
const exitInterrupted = 130

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go onSignals(sigs, cancel, os.Stderr)
	os.Exit(runMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// onSignals handles Ctrl-C: the first cancels the commands' context, so
// that the command stops at its next safe point, says what it saved and
// exits 130; the second exits at once (removing the temporary files of
// writes in progress, so the files they were to replace stay intact, and
// killing the backend plugins it started, which run in process groups of
// their own and so do not see a terminal's Ctrl-C).
func onSignals(sigs <-chan os.Signal, cancel context.CancelCauseFunc, stderr io.Writer) {
	s := <-sigs
	fmt.Fprintf(stderr, "\nijepa: %v: stopping at the next safe point (again to stop at once)\n", s)
	cancel(errInterrupted)
	<-sigs
	fmt.Fprintln(stderr, "\nijepa: interrupted again: stopping at once")
	atomicfile.RemovePending()
	plugin.KillAll()
	os.Exit(exitInterrupted)
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printCommands(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ijepa: unknown command %q\n\n", args[0])
		printCommands(stderr)
		return 2
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	var code exitCode
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Stopped by Ctrl-C at a safe point; the error says what was kept.
		fmt.Fprintf(stderr, "ijepa %s: %v\n", c.name, err)
		return exitInterrupted
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "ijepa %s: %v\nrun 'ijepa %s -h' for usage\n", c.name, err, c.name)
		return 2
	default:
		fmt.Fprintf(stderr, "ijepa %s: %v\n", c.name, err)
		return 1
	}
}

func printCommands(w io.Writer) {
	fmt.Fprintln(w, "ijepa: I-JEPA self-supervised pre-training on any backend")
	fmt.Fprintln(w, "\nusage: ijepa COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'ijepa COMMAND -h' for a command's flags")
}

// newFlagSet returns a flag set for a subcommand that prints its usage line
// and flags on -h and reports parse errors as usage errors.
func newFlagSet(c string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ijepa "+c, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		cmd := commands[c]
		fmt.Fprintf(stderr, "usage: ijepa %s %s\n\n%s\n\nflags:\n", c, strings.TrimSpace(cmd.usage), cmd.summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args with fs, turning parse errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
