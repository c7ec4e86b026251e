#!/usr/bin/env bash
# The GLFW viewer's checks (cmd/ijepa-view, built with the glfw tag): vet,
# then its tests under a virtual X server. The test opens the window, lets
# it follow a run directory, presents frames through Vulkan (lavapipe in
# CI), reads each swapchain image back and compares it with the frame drawn;
# with Xvfb's -fbdir it also compares the X screen itself (an XWD file) with
# the frame. scripts/test.sh runs this script.
#
# Needs: xvfb and xauth (xvfb-run), the X11 headers GLFW builds against, a
# Vulkan loader and driver that can present to X11 (libvulkan1,
# mesa-vulkan-drivers) — all in scripts/deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet -tags glfw ./cmd/ijepa-view" >&2
go vet -tags glfw ./cmd/ijepa-view/...

fb=$(mktemp -d)
trap 'rm -rf "$fb"' EXIT
echo "== go test -tags glfw ./cmd/ijepa-view under Xvfb" >&2
IJEPA_VIEW_FBDIR="$fb" xvfb-run -a -s "-screen 0 1280x1024x24 -fbdir $fb" \
  go test -tags glfw -count=1 -timeout 10m ./cmd/ijepa-view/...
