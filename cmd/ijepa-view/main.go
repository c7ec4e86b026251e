//go:build glfw

package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"os"
	"runtime"
	"time"

	"github.com/go-gl/glfw/v3.3/glfw"

	// The backends the feature picture can run the encoder on.
	_ "github.com/ijepa-go/ijepa/backend/cpu"
)

func init() {
	// GLFW must be called from the main thread.
	runtime.LockOSThread()
}

func main() {
	fs := flag.NewFlagSet("ijepa-view", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ijepa-view [flags] RUN_DIR\n\n%s\n\nflags:\n", help)
		fs.PrintDefaults()
	}
	var opt options
	fs.IntVar(&opt.Page, "page", 4, "images shown at once in each panel")
	fs.IntVar(&opt.Images, "images", 16, "held-out images the feature picture pages through")
	fs.StringVar(&opt.Backend, "backend", "", "backend for the encoder (default: the run's)")
	fs.DurationVar(&opt.Poll, "poll", time.Second, "how often to look at the run directory")
	width := fs.Int("width", 1280, "window width")
	height := fs.Int("height", 800, "window height")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	if err := run(fs.Arg(0), opt, *width, *height); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// window is an open viewer window.
type window struct {
	win   *glfw.Window
	p     *presenter
	v     *viewer
	dirty bool
}

// openWindow opens a w x h window following dir. GLFW must be initialised.
func openWindow(dir string, opt options, w, h int) (*window, error) {
	glfw.WindowHint(glfw.ClientAPI, glfw.NoAPI)
	glfw.WindowHint(glfw.Resizable, glfw.True)
	win, err := glfw.CreateWindow(w, h, "ijepa view: "+dir, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("ijepa-view: open a window: %w", err)
	}
	p, err := newPresenter(win)
	if err != nil {
		win.Destroy()
		return nil, err
	}
	v, err := newViewer(dir, opt, glfw.PostEmptyEvent)
	if err != nil {
		p.close()
		win.Destroy()
		return nil, err
	}
	ww := &window{win: win, p: p, v: v, dirty: true}
	win.SetKeyCallback(func(_ *glfw.Window, k glfw.Key, _ int, action glfw.Action, _ glfw.ModifierKey) {
		if action != glfw.Press && action != glfw.Repeat {
			return
		}
		ww.press(k)
	})
	win.SetCharCallback(func(_ *glfw.Window, r rune) { ww.char(r) })
	win.SetFramebufferSizeCallback(func(*glfw.Window, int, int) { ww.dirty = true })
	win.SetRefreshCallback(func(*glfw.Window) { ww.dirty = true })
	return ww, nil
}

// press handles a key by its position-independent name.
func (w *window) press(k glfw.Key) {
	c, ok := keyBindings[k]
	if !ok {
		return
	}
	if c == keyQuit {
		w.win.SetShouldClose(true)
		return
	}
	if w.v.key(c) {
		w.dirty = true
	}
}

// char handles the keys bound to characters, whatever the keyboard layout.
func (w *window) char(r rune) {
	if c, ok := charBindings[r]; ok {
		if c == keyQuit {
			w.win.SetShouldClose(true)
		} else if w.v.key(c) {
			w.dirty = true
		}
	}
}

// draw renders and presents a frame if anything changed; with readback it
// always does, and returns the frame drawn and the frame read back.
func (w *window) draw(readback bool) (want, got *image.RGBA, err error) {
	if !w.dirty && !readback {
		return nil, nil, nil
	}
	for try := 0; ; try++ {
		fw, fh, err := w.p.size()
		if err != nil {
			return nil, nil, err
		}
		if fw == 0 || fh == 0 {
			return nil, nil, nil // minimised
		}
		frame, err := w.v.frame(fw, fh)
		if err != nil {
			return nil, nil, err
		}
		got, err := w.p.present(frame, readback)
		if errors.Is(err, errOutOfDate) && try < 3 {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		w.dirty = false
		return frame, got, nil
	}
}

func (w *window) close() {
	w.v.close()
	w.p.close()
	w.win.Destroy()
}

func run(dir string, opt options, width, height int) error {
	if err := glfw.Init(); err != nil {
		return fmt.Errorf("ijepa-view: %w", err)
	}
	defer glfw.Terminate()
	w, err := openWindow(dir, opt, width, height)
	if err != nil {
		return err
	}
	defer w.close()
	for !w.win.ShouldClose() {
		glfw.WaitEventsTimeout(0.25)
		if w.v.update(false) {
			w.dirty = true
		}
		if _, _, err := w.draw(false); err != nil {
			return err
		}
	}
	return nil
}
