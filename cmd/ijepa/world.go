package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/ijepa-go/ijepa/dist"
	"github.com/ijepa-go/ijepa/ijepa/config"
)

// This file is what train and bench do as one rank of a data-parallel
// world (docs/DISTRIBUTED.md): under mpirun every rank runs the same
// command; rank 0 reads the config and prints, the others print only
// errors.

// openWorld opens the world the process was started in: a single process,
// or a rank of an MPI launcher's world (dist.Open).
func openWorld() (dist.Comm, error) { return dist.Open(dist.Options{}) }

// leaveWorld ends a command's part in world. A rank that failed while
// other ranks run prints its error in one line naming itself and aborts
// the world (MPI_Abort), so that no rank waits for it in a collective; it
// does not return. Otherwise — success, or an error every rank returns
// together (dist.ErrAgreed: an interruption they stopped at as one, after
// rank 0 wrote its checkpoint) — it leaves the world (MPI_Finalize) and
// returns err.
func leaveWorld(world dist.Comm, cmd string, stderr io.Writer, err error) error {
	if world.Size() > 1 && err != nil && !errors.Is(err, dist.ErrAgreed) && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "ijepa %s: rank %d of %d: %v\n", cmd, world.Rank(), world.Size(), err)
		world.Abort(1)
	}
	if cerr := world.Close(); err == nil && cerr != nil {
		return cerr
	}
	return err
}

// quietLog is the logger of a rank other than 0: it keeps nothing (the
// errors are returned).
func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// shareConfig gives every rank the config that rank 0 resolves with open
// (flags, presets, the run directory's config.yaml), and the run
// directory: the other ranks need neither the file nor a shared disk.
func shareConfig(world dist.Comm, open func() (*config.Config, string, error)) (*config.Config, string, error) {
	if world.Size() == 1 {
		return open()
	}
	var msg struct {
		YAML, Source, Dir, Err string
	}
	var c *config.Config
	var err error
	if world.Rank() == 0 {
		c, msg.Dir, err = open()
		if err == nil {
			var y []byte
			y, err = c.YAML()
			msg.YAML, msg.Source = string(y), c.Source()
		}
		if err != nil {
			msg.Err = err.Error()
		}
	}
	if berr := dist.BcastJSON(world, 0, &msg); berr != nil {
		return nil, "", berr
	}
	if world.Rank() == 0 {
		return c, msg.Dir, err
	}
	if msg.Err != "" {
		return nil, "", fmt.Errorf("rank 0: %s", msg.Err)
	}
	c, err = config.Parse(msg.Source+" (from rank 0)", []byte(msg.YAML))
	if err == nil {
		err = c.Validate()
	}
	return c, msg.Dir, err
}
