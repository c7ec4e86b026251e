//go:build glfw

package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/ijepa-go/ijepa/ijepa/viz"
)

// mainCalls carries work that GLFW needs done on the main thread: the tests
// run on other goroutines, TestMain's goroutine (locked to the main thread
// by init) runs these.
var mainCalls = make(chan func())

func onMain(f func()) {
	done := make(chan struct{})
	mainCalls <- func() { f(); close(done) }
	<-done
}

func TestMain(m *testing.M) {
	code := make(chan int)
	go func() { code <- m.Run() }()
	for {
		select {
		case f := <-mainCalls:
			f()
		case c := <-code:
			os.Exit(c)
		}
	}
}

// settle pumps events and the viewer until its background work is done and
// both pictures are there.
func settle(t *testing.T, w *window) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var ready bool
		onMain(func() {
			glfw.PollEvents()
			if w.v.update(false) {
				w.dirty = true
			}
			ready = w.v.idle() && w.v.batch != nil && w.v.batchAt == w.v.step && w.v.feats != nil
		})
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the viewer did not settle: mask %q features %q", w.v.maskErr, w.v.featErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// show draws a frame, reads the swapchain image back and checks it is the
// frame, pixel for pixel; it returns the frame.
func show(t *testing.T, w *window) *image.RGBA {
	t.Helper()
	var want, got *image.RGBA
	var err error
	onMain(func() { want, got, err = w.draw(true) })
	if err != nil {
		t.Fatal(err)
	}
	if want == nil {
		t.Fatal("no frame was drawn")
	}
	if got == nil {
		t.Fatalf("the swapchain of %s cannot be read back", w.p.device)
	}
	if got.Rect != want.Rect {
		t.Fatalf("read back %v, drew %v", got.Rect, want.Rect)
	}
	if !bytes.Equal(got.Pix, want.Pix) {
		n := 0
		for i := range got.Pix {
			if got.Pix[i] != want.Pix[i] {
				n++
			}
		}
		saveShot(t, "readback", got)
		t.Fatalf("the presented image differs from the frame in %d of %d bytes", n, len(got.Pix))
	}
	saveShot(t, "frame", want)
	return want
}

// saveShot writes img under $IJEPA_VIEW_SHOTS when it is set (to look at).
func saveShot(t *testing.T, name string, img *image.RGBA) {
	if d := os.Getenv("IJEPA_VIEW_SHOTS"); d != "" {
		p := filepath.Join(d, fmt.Sprintf("%s-%s.png", t.Name(), name))
		if err := viz.WritePNG(p, img); err != nil {
			t.Log(err)
		}
	}
}

// TestViewerShowsTheRun opens the window on a run directory, and checks
// each presented frame against the frame the viewer drew: after the
// pictures are computed, after a key pages to the next images, and after
// the run logs more steps. With $IJEPA_VIEW_FBDIR (Xvfb's -fbdir) it also
// checks the X server's screen.
func TestViewerShowsTheRun(t *testing.T) {
	dir := testRun(t, 20)
	var w *window
	var err error
	onMain(func() {
		if err = glfw.Init(); err != nil {
			return
		}
		w, err = openWindow(dir, options{Page: 4, Images: 8, Poll: 10 * time.Millisecond}, 900, 640)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer onMain(func() { w.close(); glfw.Terminate() })
	t.Logf("presenting on %s, format %d", w.p.device, w.p.format)

	settle(t, w)
	first := show(t, w)
	st := w.v.state(first.Rect.Dx(), first.Rect.Dy())
	if st.Masks == nil || st.Features == nil {
		t.Fatalf("the frame lacks a picture: masks %q, features %q", st.MasksNote, st.FeaturesNote)
	}
	if !strings.Contains(st.Title, "step 20") {
		t.Errorf("title %q does not show the last step", st.Title)
	}
	// The masks panel shows the masks picture of step 20's batch.
	l := viz.Layout(first.Rect.Dx(), first.Rect.Dy())
	if !samePixels(first, st.Masks, l.Masks.Min) || !samePixels(first, st.Features, l.Features.Min) {
		t.Error("the frame does not hold the masks and feature pictures at their panels")
	}
	checkScreen(t, w, first)

	onMain(func() { w.press(glfw.KeyRight) })
	next := show(t, w)
	if bytes.Equal(next.Pix, first.Pix) {
		t.Error("Right did not change the frame")
	}
	if w.v.offset != 4 {
		t.Errorf("after Right the offset is %d, want 4", w.v.offset)
	}
	checkScreen(t, w, next)

	// The run goes on: five more steps are appended.
	appendLog(t, dir, 21, 25)
	onMain(func() { time.Sleep(20 * time.Millisecond); w.v.update(true) })
	settle(t, w)
	later := show(t, w)
	if w.v.step != 25 || w.v.batch.Masks.Step != 24 {
		t.Errorf("following: step %d with the batch of sampler step %d, want 25 and 24", w.v.step, w.v.batch.Masks.Step)
	}
	checkScreen(t, w, later)

	// Up shows the batch before, and stops following.
	onMain(func() { w.press(glfw.KeyUp) })
	settle(t, w)
	show(t, w)
	if w.v.follow || w.v.step != 24 {
		t.Errorf("after Up: step %d, following %v; want step 24, not following", w.v.step, w.v.follow)
	}
	onMain(func() { w.char('q') })
	if !w.win.ShouldClose() {
		t.Error("q did not close the window")
	}
}

func samePixels(frame, pic *image.RGBA, at image.Point) bool {
	for y := 0; y < pic.Rect.Dy(); y++ {
		a := frame.Pix[frame.PixOffset(at.X, at.Y+y):][:4*pic.Rect.Dx()]
		b := pic.Pix[pic.PixOffset(0, y):][:4*pic.Rect.Dx()]
		if !bytes.Equal(a, b) {
			return false
		}
	}
	return true
}

// checkScreen compares the window's area of the X screen with frame, when
// the test runs under an Xvfb started with -fbdir $IJEPA_VIEW_FBDIR: the
// screen is an XWD file there.
func checkScreen(t *testing.T, w *window, frame *image.RGBA) {
	t.Helper()
	dir := os.Getenv("IJEPA_VIEW_FBDIR")
	if dir == "" {
		t.Log("IJEPA_VIEW_FBDIR not set: the X screen is not checked (scripts/test-viewer.sh sets it)")
		return
	}
	var x, y int
	onMain(func() { x, y = w.win.GetPos() })
	var last string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		onMain(func() { glfw.PollEvents() })
		screen, err := readXWD(filepath.Join(dir, "Xvfb_screen0"))
		if err != nil {
			t.Fatal(err)
		}
		r := frame.Rect.Add(image.Pt(x, y))
		if !r.In(screen.Rect) {
			t.Fatalf("the window %v is not inside the screen %v", r, screen.Rect)
		}
		sub := screen.SubImage(r).(*image.RGBA)
		diff := 0
		for yy := 0; yy < r.Dy(); yy++ {
			a := sub.Pix[sub.PixOffset(r.Min.X, r.Min.Y+yy):][:4*r.Dx()]
			b := frame.Pix[frame.PixOffset(0, yy):][:4*r.Dx()]
			if !bytes.Equal(a, b) {
				diff++
			}
		}
		if diff == 0 {
			return
		}
		last = fmt.Sprintf("%d of %d rows of the window at %v differ from the frame", diff, r.Dy(), r)
	}
	t.Fatalf("the X screen does not show the frame: %s", last)
}

// readXWD reads an X window dump (the format of Xvfb's -fbdir screens) of
// a TrueColor screen into an RGBA image.
func readXWD(path string) (*image.RGBA, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw) < 100 {
		return nil, fmt.Errorf("%s: %d bytes, too short for an XWD header", path, len(raw))
	}
	u := func(i int) uint32 { return binary.BigEndian.Uint32(raw[4*i:]) }
	headerSize, version := int(u(0)), u(1)
	width, height := int(u(4)), int(u(5))
	byteOrder, bpp, bpl := u(7), int(u(11)), int(u(12))
	masks := [3]uint32{u(14), u(15), u(16)}
	ncolors := int(u(19))
	if version != 7 || bpp != 32 {
		return nil, fmt.Errorf("%s: XWD version %d with %d bits per pixel; want version 7, 32 bits (Xvfb -screen 0 WxHx24)", path, version, bpp)
	}
	off := headerSize + 12*ncolors
	if off+bpl*height > len(raw) {
		return nil, fmt.Errorf("%s: %d bytes, the header says %d", path, len(raw), off+bpl*height)
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := 0; y < height; y++ {
		row := raw[off+y*bpl:]
		for x := 0; x < width; x++ {
			var px uint32
			if byteOrder == 0 {
				px = binary.LittleEndian.Uint32(row[4*x:])
			} else {
				px = binary.BigEndian.Uint32(row[4*x:])
			}
			o := img.PixOffset(x, y)
			for c, m := range masks {
				shift := 0
				for m != 0 && m&1 == 0 {
					m >>= 1
					shift++
				}
				img.Pix[o+c] = uint8((px >> shift) & m)
			}
			img.Pix[o+3] = 255
		}
	}
	return img, nil
}
