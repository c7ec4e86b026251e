package mpi

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestMain finalises MPI after the tests when a launcher started the
// binary (scripts/test.sh runs it under mpirun -np 2).
func TestMain(m *testing.M) {
	code := m.Run()
	if Launched().ByMPI && initWorld != nil {
		if err := initWorld.Finalize(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestWorld checks, under mpirun, that MPI's rank and size agree with the
// launcher's variables, and every collective on a few values, including a
// Go panic after MPI_Init (Open MPI must not have taken Go's signal
// handlers). Without a launcher it checks that none is seen.
func TestWorld(t *testing.T) {
	l := Launched()
	if !l.ByMPI {
		for _, v := range launchVars {
			if os.Getenv(v[0]) != "" {
				t.Fatalf("%s is set but Launched says no launcher", v[0])
			}
		}
		t.Skip("not started by an MPI launcher")
	}
	w, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	if l.Size != 0 && (w.Size() != l.Size || w.Rank() != l.Rank) {
		t.Fatalf("MPI says rank %d of %d, the launcher's %s rank %d of %d", w.Rank(), w.Size(), l.Var, l.Rank, l.Size)
	}
	if w.LocalSize() < 1 || w.LocalRank() < 0 || w.LocalRank() >= w.LocalSize() {
		t.Errorf("local rank %d of %d", w.LocalRank(), w.LocalSize())
	}
	x := []float32{float32(w.Rank() + 1), 0.5}
	if err := w.AllreduceF32(x); err != nil {
		t.Fatal(err)
	}
	n := float32(w.Size())
	if want := n * (n + 1) / 2; x[0] != want || x[1] != 0.5*n {
		t.Errorf("float32 all-reduce gave %v, want [%v %v]", x, want, 0.5*n)
	}
	y := []float64{1e-300 * float64(w.Rank()+1)}
	if err := w.AllreduceF64(y); err != nil {
		t.Fatal(err)
	}
	if want := 1e-300 * float64(w.Size()*(w.Size()+1)/2); y[0] != want {
		t.Errorf("float64 all-reduce gave %v, want %v", y[0], want)
	}
	b := make([]byte, 5)
	if w.Rank() == w.Size()-1 {
		copy(b, "hello")
	}
	if err := w.Bcast(b, w.Size()-1); err != nil {
		t.Fatal(err)
	}
	if string(b) != "hello" {
		t.Errorf("broadcast gave %q", b)
	}
	if err := w.Barrier(); err != nil {
		t.Fatal(err)
	}
	t.Logf("rank %d of %d, local %d of %d, %s", w.Rank(), w.Size(), w.LocalRank(), w.LocalSize(), w.Library())
	defer func() {
		if recover() == nil {
			t.Error("a nil dereference did not panic")
		}
	}()
	var p *int
	_ = *p
}

// TestLoadOff checks that IJEPA_MPI=off keeps the library closed, with a
// message naming the variable.
func TestLoadOff(t *testing.T) {
	if Launched().ByMPI {
		t.Skip("MPI is in use")
	}
	t.Setenv(EnvVar, "off")
	if err := Load(); err == nil || !strings.Contains(err.Error(), EnvVar+"=off") {
		t.Errorf("Load with %s=off: %v", EnvVar, err)
	}
	if _, err := open([]string{"/nonexistent/libmpi.so.40"}); err == nil {
		t.Error("opening a missing library succeeded")
	}
}
