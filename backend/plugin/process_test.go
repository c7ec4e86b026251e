package plugin

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ijepa-go/ijepa/backend"
	"github.com/ijepa-go/ijepa/internal/proctest"
)

// The tests below start this test binary as a plugin process (see
// TestMain), in the mode that modeEnv names.

// openMode starts the test binary as a plugin in the given mode.
func openMode(t *testing.T, mode string, o Options) (*backend.Front, error) {
	t.Helper()
	t.Setenv(modeEnv, mode)
	return Open(os.Args[0], o)
}

func mustOpenMode(t *testing.T, mode string, o Options) *backend.Front {
	t.Helper()
	b, err := openMode(t, mode, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// asClient returns the client behind a backend Open returned.
func asClient(b backend.Backend) *client { return b.(*backend.Front).Device().(*client) }

// waitState waits until every thread of process pid is in the given state
// ("T": stopped).
func waitState(t *testing.T, pid int, state string) {
	t.Helper()
	inState := func() bool {
		tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/stat")
		if err != nil || len(tasks) == 0 {
			return false
		}
		for _, task := range tasks {
			stat, err := os.ReadFile(task)
			if err != nil {
				return false
			}
			if _, rest, _ := strings.Cut(string(stat), ") "); !strings.HasPrefix(rest, state) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if inState() {
			return
		}
	}
	t.Fatalf("process %d did not reach state %s", pid, state)
}

// A plugin process computes like the backend in process, describes itself,
// and exits when closed.
func TestProcess(t *testing.T) {
	c := mustOpenMode(t, "cpu", Options{})
	info := c.Info()
	if info.Backend != "plugin:"+os.Args[0] || info.Limits[0] != [2]string{"plugin backend", "cpu"} || !slices.Contains(info.Ops, backend.OpMatMul) {
		t.Errorf("Info = %+v", info)
	}
	a := mustF32(t, c, []float32{1, 2, 3, 4, 5, 6}, 2, 3)
	w := mustF32(t, c, []float32{1, 0, 0, 1, 1, 1}, 2, 3)
	y := c.New(backend.F32, 2, 2)
	backend.MatMul(c, y, a, w, false, true, 2, 0)
	got, err := backend.ReadF32(c, y)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{2, 12, 8, 30}; !slices.Equal(got, want) {
		t.Fatalf("2 a w^T = %v, want %v", got, want)
	}
	pid := asClient(c).pid()
	if err := within(t, 3*time.Second, c.Close); err != nil {
		t.Fatal(err)
	}
	proctest.WaitGone(t, pid, 3*time.Second)
}

// A plugin written from docs/PLUGINS.md alone, with gRPC but without
// go-plugin's server, works and ends promptly.
func TestBarePlugin(t *testing.T) {
	b, err := openMode(t, "bare", fast)
	if err != nil {
		t.Fatal(err)
	}
	x := mustF32(t, b, []float32{1, -2, 3}, 3)
	backend.Scale(b, x, x, -2)
	got, err := backend.ReadF32(b, x)
	if err != nil || !slices.Equal(got, []float32{-2, 4, -6}) {
		t.Fatalf("-2 x = %v, %v", got, err)
	}
	pid := asClient(b).pid()
	if err := within(t, 2*time.Second, b.Close); err != nil {
		t.Fatal(err)
	}
	proctest.WaitGone(t, pid, 2*time.Second)
}

// A plugin killed mid-run is reported, with how it died, at the next
// synchronisation and by every call after it, within seconds.
func TestKilledMidRun(t *testing.T) {
	c := mustOpenMode(t, "cpu", fast)
	x := mustF32(t, c, seq(64, 1), 8, 8)
	backend.Scale(c, x, x, 2)
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(asClient(c).pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	backend.Scale(c, x, x, 2)
	err := within(t, 3*time.Second, func() error { _, err := backend.ReadF32(c, x); return err })
	wantErr(t, err, ErrExited)
	if !strings.Contains(err.Error(), "signal: killed") {
		t.Errorf("error %q does not say the plugin was killed", err)
	}
	if c.New(backend.F32, 2); !errors.Is(c.Err(), ErrExited) {
		t.Errorf("New after the plugin died = %v", c.Err())
	}
	if err := within(t, 3*time.Second, c.Sync); !errors.Is(err, ErrExited) {
		t.Errorf("Sync after the plugin died = %v", err)
	}
	if err := within(t, 3*time.Second, c.Close); !errors.Is(err, ErrExited) {
		t.Errorf("Close after the plugin died = %v", err)
	}
}

// A plugin that exits by itself mid-run: the error quotes its exit status
// and its last words.
func TestExitsMidRun(t *testing.T) {
	c := mustOpenMode(t, "exit-on-gelu", fast)
	x := mustF32(t, c, seq(8, 1), 8)
	backend.GELU(c, x, x)
	err := within(t, 3*time.Second, c.Sync)
	wantErr(t, err, ErrExited)
	for _, want := range []string{"exit status 3", "exiting in gelu as asked", "synchronising"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// A plugin stuck in an op, and a plugin stopped outright (SIGSTOP): clear
// errors within the timeouts, and Close still ends the process.
//
// With only the timeout set (here 1.5 s; the progress query's own timeout
// keeps its default of 5 s), a stopped plugin fails the wait within the
// timeout: a query that went unanswered when the timeout passed ends it.
func TestHangsMidRun(t *testing.T) {
	short := Options{Timeout: 1500 * time.Millisecond}
	for _, tt := range []struct {
		name, mode string
		o          Options
		within     time.Duration
		want       string
	}{
		{"stuck in an op", "hang-on-gelu", fast, fast.Timeout + fast.PingTimeout + 2*time.Second, "executed nothing for"},
		{"stopped", "cpu", fast, fast.Timeout + fast.PingTimeout + 2*time.Second, "did not answer a progress query"},
		{"stopped, only the timeout set", "cpu", short, short.Timeout + time.Second, "answered nothing for 1.5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := mustOpenMode(t, tt.mode, tt.o)
			pid := asClient(c).pid()
			x := mustF32(t, c, seq(8, 1), 8)
			if tt.mode == "cpu" {
				if err := c.Sync(); err != nil {
					t.Fatal(err)
				}
				syscall.Kill(pid, syscall.SIGSTOP)
				defer syscall.Kill(pid, syscall.SIGKILL)
				waitState(t, pid, "T") // signals arrive asynchronously
			}
			backend.GELU(c, x, x)
			if tt.name == "stuck in an op" {
				// Then fill gRPC's flow-control window: sending blocks too.
				big := c.New(backend.F32, 8<<20)
				within(t, fast.Timeout+fast.PingTimeout+2*time.Second, func() error {
					for i := 0; i < 4 && c.Err() == nil; i++ {
						c.Write(big, make([]byte, big.Bytes()))
					}
					return nil
				})
				if !errors.Is(c.Err(), ErrHung) {
					t.Fatalf("after writes to a stuck plugin, Err = %v, want ErrHung", c.Err())
				}
			}
			err := within(t, tt.within, c.Sync)
			wantErr(t, err, ErrHung)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
			if err := within(t, 4*time.Second, c.Close); !errors.Is(err, ErrHung) {
				t.Errorf("Close = %v, want the fault", err)
			}
			proctest.WaitGone(t, pid, 3*time.Second)
		})
	}
}

// A plugin built for another protocol version or op catalogue is refused at
// start, naming both versions.
func TestWrongVersion(t *testing.T) {
	for _, tt := range []struct {
		mode string
		want []string
	}{
		{"version", []string{"protocol version " + strconv.Itoa(ProtocolVersion+1), "this ijepa speaks " + strconv.Itoa(ProtocolVersion)}},
		{"hash", []string{"op catalogue 0123456789abcdef", "op catalogue " + backend.CatalogueHash()}},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			_, err := openMode(t, tt.mode, fast)
			wantErr(t, err, ErrVersion)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// Executables that are not plugins, and files that are not executables.
func TestNotAPlugin(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"prints something else", script("hello", "echo hello world", 0o755), []string{"not an ijepa backend plugin", `printed "hello world"`}},
		{"exits", script("fails", "echo 'no device here' >&2; exit 1", 0o755), []string{"exited (exit status 1) before the go-plugin handshake", "no device here"}},
		{"says nothing", script("sleeps", "exec sleep 30", 0o755), []string{"no go-plugin handshake within 1.5s"}},
		{"not executable", script("plain", "echo hi", 0o644), []string{"not an executable file"}},
		{"a directory", dir, []string{"not an executable file"}},
		{"missing", filepath.Join(dir, "nothing"), []string{"no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			within(t, fast.Timeout+3*time.Second, func() error { _, err = Open(tt.path, fast); return nil })
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), "plugin:"+tt.path+": ") {
				t.Errorf("error %q does not name the plugin", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// Run by hand, a plugin says what it is and exits.
func TestRunByHand(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), Handshake.MagicCookieKey+"=wrong", modeEnv+"=cpu")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "This binary is a plugin") {
		t.Fatalf("running the plugin by hand: %v, %q", err, out)
	}
}

// When its host dies without closing it, the plugin exits too.
func TestHostDies(t *testing.T) {
	host := exec.Command(os.Args[0])
	host.Env = append(os.Environ(), hostEnv+"=1", modeEnv+"=cpu", "TMPDIR="+t.TempDir()) // for the socket it leaves
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		host.Process.Kill()
		t.Fatalf("the host printed no plugin pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	host.Process.Kill()
	host.Wait()
	proctest.WaitGone(t, pid, 5*time.Second)
}

// Plugins in the plugin directory are listed, resolved by name, and opened
// through the registry.
func TestDiscovery(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(os.Args[0], filepath.Join(dir, Prefix+"fake")); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{Prefix + "noexec": 0o644, "unrelated": 0o755} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(DirEnv, filepath.Join(dir, "missing")+string(os.PathListSeparator)+dir)
	t.Setenv(modeEnv, "cpu")
	found := Discover()
	if len(found) != 1 || found[0].Name != "fake" || found[0].Path != filepath.Join(dir, Prefix+"fake") {
		t.Fatalf("Discover = %v, want only fake", found)
	}
	for _, arg := range []string{"fake", Prefix + "fake"} {
		b, err := backend.Open("plugin:" + arg)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Info().Backend; got != "plugin:"+arg {
			t.Errorf("Info().Backend = %q", got)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	infos, err := Devices()
	if err != nil || len(infos) != 1 || infos[0].Backend != "plugin:fake" || infos[0].Kind != "cpu" {
		t.Fatalf("Devices = %+v, %v", infos, err)
	}
	_, err = backend.Open("plugin:nope")
	if err == nil || !strings.Contains(err.Error(), `no plugin "nope"`) || !strings.Contains(err.Error(), "found: fake") {
		t.Fatalf("opening a missing plugin: %v", err)
	}
}

// pidIn returns the process id a test plugin wrote to file (pidEnv), or 0.
func pidIn(file string) int {
	b, _ := os.ReadFile(file)
	pid, _ := strconv.Atoi(string(b))
	return pid
}

// killIn returns a function that kills the processes whose ids are in
// files and pids.
func killIn(files []string, pids ...*int) func() {
	return func() {
		for _, f := range files {
			if pid := pidIn(f); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		for _, p := range pids {
			if *p > 0 {
				syscall.Kill(*p, syscall.SIGKILL)
			}
		}
	}
}

// A plugin started through a shell script that does not exec it runs as
// the shell's child and holds the pipes the host reads. Healthy, it works
// and Close ends it; stopped (SIGSTOP), the fault comes within the timeouts
// and Close ends the script and its child within seconds; silent before
// the handshake, Open fails within the start timeout and ends both. Catches
// a host that killed only the script and then waited for the pipes to
// close, forever (the plugin's whole process group is killed now).
func TestScriptWithoutExec(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "plugin.sh")
	body := "#!/bin/sh\n# no exec: the plugin runs as the shell's child\n'" + os.Args[0] + "'\nexit $?\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"healthy", "stopped", "mute"} {
		mode := map[string]string{"healthy": "cpu", "stopped": "cpu", "mute": "mute"}[name]
		t.Run(name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			t.Setenv(pidEnv, pidFile)
			t.Setenv(modeEnv, mode)
			var shell int
			kill := killIn([]string{pidFile}, &shell)
			defer kill() // whatever happens
			var b *backend.Front
			err := endsWithin(t, fast.Timeout+3*time.Second, kill, func() error {
				var err error
				b, err = Open(script, fast)
				return err
			})
			plugin := pidIn(pidFile)
			if plugin == 0 {
				t.Fatalf("the plugin wrote no process id (Open: %v)", err)
			}
			if name == "mute" {
				wantErr(t, err, ErrStart)
				if !strings.Contains(err.Error(), "no go-plugin handshake within 1.5s") {
					t.Errorf("error %q does not say the handshake did not come", err)
				}
				proctest.WaitGone(t, plugin, 3*time.Second)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			shell = asClient(b).pid()
			x := mustF32(t, b, seq(8, 1), 8)
			if _, err := backend.ReadF32(b, x); err != nil {
				t.Fatal(err)
			}
			if name == "stopped" {
				// Stopped, it answers nothing, go-plugin's request to shut
				// down included.
				syscall.Kill(plugin, syscall.SIGSTOP)
				waitState(t, plugin, "T")
				backend.GELU(b, x, x)
				err := endsWithin(t, fast.Timeout+fast.PingTimeout+2*time.Second, kill, b.Sync)
				wantErr(t, err, ErrHung)
			}
			err = endsWithin(t, 3*time.Second, kill, b.Close)
			if name == "stopped" && !errors.Is(err, ErrHung) || name == "healthy" && err != nil {
				t.Errorf("Close = %v", err)
			}
			proctest.WaitGone(t, plugin, 3*time.Second)
			proctest.WaitGone(t, shell, 3*time.Second)
		})
	}
}

// A plugin that stops answering while it starts fails to open within the
// timeout (IJEPA_PLUGIN_TIMEOUT, here with every other option at its
// default), with an error in the project's words, and its process is gone:
// one that prints the handshake and accepts the connection but never speaks
// gRPC on it, and one that speaks gRPC but never answers Hello. One that
// exits after the handshake fails at once, with its exit status. Catches a
// start that waited for gRPC's own 20 s connection deadline whatever the
// timeout and then failed with gRPC's message (22 s with a 5 s timeout).
func TestStartHangs(t *testing.T) {
	t.Setenv(TimeoutEnv, "1500ms")
	for _, tt := range []struct {
		mode   string
		within time.Duration
		want   []string
	}{
		{"silent", 2500 * time.Millisecond, []string{"printed the go-plugin handshake but did not answer on its socket within 1.5s (" + TimeoutEnv + ")"}},
		{"deaf", 2500 * time.Millisecond, []string{"did not answer Hello within 1.5s of its start (" + TimeoutEnv + ")"}},
		// At once: the message says it exited, not that the timeout passed.
		{"gone", 2500 * time.Millisecond, []string{"exited (exit status 4) after the go-plugin handshake", "exiting after the handshake as asked"}},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			t.Setenv(pidEnv, pidFile)
			kill := killIn([]string{pidFile})
			defer kill()
			err := endsWithin(t, tt.within, kill, func() error {
				_, err := openMode(t, tt.mode, Options{})
				return err
			})
			wantErr(t, err, ErrStart)
			for _, w := range append(tt.want, "plugin:"+os.Args[0]+": plugin did not start: ") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "rpc error") || strings.Contains(err.Error(), "DeadlineExceeded") {
				t.Errorf("error %q speaks gRPC's words", err)
			}
			proctest.WaitGone(t, pidIn(pidFile), 3*time.Second)
		})
	}
}
