//go:build glfw

package main

import (
	"bytes"
	"errors"
	"image"
	"testing"

	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/ijepa-go/ijepa/internal/gctest"
)

// TestPresentWhileGCRuns sets up the presenter and presents frames, each
// read back and compared with what was drawn, while another goroutine runs
// the garbage collector without pause; the window is resized on the way,
// so that the swapchain is created again. Through vulkan-go's wrappers,
// whose C copies of the structures (submit and present infos, barriers,
// copy regions, create infos) finalizers free, the driver could read freed
// memory here.
func TestPresentWhileGCRuns(t *testing.T) {
	const frames = 90
	sizes := []image.Point{{160, 120}, {200, 96}, {128, 160}}
	var err error
	presented := 0
	seen := map[image.Rectangle]bool{}
	gctest.WhileGCRuns(t, func() {
		onMain(func() {
			if err = glfw.Init(); err != nil {
				return
			}
			defer glfw.Terminate()
			glfw.WindowHint(glfw.ClientAPI, glfw.NoAPI)
			glfw.WindowHint(glfw.Resizable, glfw.True)
			var win *glfw.Window
			if win, err = glfw.CreateWindow(sizes[0].X, sizes[0].Y, "ijepa-view: present test", nil, nil); err != nil {
				return
			}
			defer win.Destroy()
			var p *presenter
			if p, err = newPresenter(win); err != nil {
				return
			}
			defer p.close()
			for i := 0; i < frames; i++ {
				if i > 0 && i%(frames/len(sizes)) == 0 {
					s := sizes[i/(frames/len(sizes))%len(sizes)]
					win.SetSize(s.X, s.Y)
				}
				glfw.PollEvents()
				var got, frame *image.RGBA
				for try := 0; ; try++ {
					var w, h int
					if w, h, err = p.size(); err != nil {
						return
					}
					frame = pattern(w, h, i)
					got, err = p.present(frame, true)
					if !errors.Is(err, errOutOfDate) || try == 10 {
						break
					}
					glfw.PollEvents()
				}
				if err != nil {
					return
				}
				if got == nil {
					if frame.Rect.Empty() {
						continue
					}
					err = errors.New("the swapchain of " + p.device + " cannot be read back")
					return
				}
				if !bytes.Equal(got.Pix, frame.Pix) {
					t.Errorf("frame %d (%v): the presented image differs from the frame", i, frame.Rect)
				}
				presented++
				seen[frame.Rect] = true
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if presented < frames {
		t.Errorf("%d of %d frames presented and read back", presented, frames)
	}
	if len(seen) < 2 {
		t.Errorf("frames of %d sizes presented, want the window's resizes to show (%v)", len(seen), sizes)
	}
	t.Logf("%d frames of %d sizes presented", presented, len(seen))
}

// pattern is an opaque w x h frame that differs from frame to frame.
func pattern(w, h, frame int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(x+frame), uint8(y*3+frame), uint8(x^y^frame), 255
		}
	}
	return img
}
