// Command ijepa-view is a window that follows a training run: it shows the
// masks of the latest batch drawn over its images, the run's curves as they
// grow, and the principal components of the latest checkpoint's patch
// features, redrawn whenever the run directory changes (docs/RUNS.md). The
// pictures are the ones `ijepa masks`, `ijepa plot` and `ijepa features`
// write (package ijepa/viz), so the window shows what the files show.
//
//	ijepa-view [--page N] [--images N] [--backend NAME] RUN_DIR
//
// Keys:
//
//	Right, Space, N     the next images (of the batch and of the held-out set)
//	Left, Backspace, P  the previous images
//	Up, [               the batch of the step before (stops following)
//	Down, ]             the batch of the step after
//	F, End              follow the latest step again
//	R                   re-read everything, recompute the features
//	Q, Esc              quit
//
// The window is a GLFW window presented through Vulkan: each frame is drawn
// on the CPU and copied into the window's swapchain. It needs a Vulkan
// driver that can present to the window (under Xvfb: Mesa's lavapipe).
// The command is built only with the glfw build tag, so the rest of the
// project builds without the X11 headers GLFW needs:
//
//	go build -tags glfw ./cmd/ijepa-view
//
// `ijepa view RUN_DIR` runs it when it is installed next to ijepa or on
// the PATH.
package main
