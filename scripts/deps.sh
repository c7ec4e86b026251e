#!/usr/bin/env bash
# Installs the Debian packages the project needs beyond Go and gcc, skipping
# those already present. Called by scripts/quickstart.sh and scripts/test.sh;
# safe to run again. Set IJEPA_NO_DEPS=1 to skip it (you install them).
#
#   glslc                     compiles shaders/*.comp to SPIR-V (the stale-SPIR-V check)
#   libvulkan1 libvulkan-dev  the Vulkan loader (libvulkan.so)
#   mesa-vulkan-drivers       lavapipe, the CPU Vulkan device CI tests on
#   libopenblas-dev           OpenBLAS for the CPU backend's fast matmul
#   libturbojpeg0             libjpeg-turbo for the data loader's JPEG decoding (image/jpeg without it)
#   xvfb xauth                a virtual X server for the GLFW viewer's test
#   openmpi-bin libopenmpi-dev  Open MPI: mpirun and libmpi.so.40, which data-parallel
#                             training (ijepa train under mpirun) opens at run time
#   lib*-dev                  X11 and GL headers GLFW is built against
#
# With --test it also installs what only the tests need:
#   python3-torch             PyTorch, for the interop round-trip test (ijepa/interop)
#   python3-grpcio python3-protobuf python3-numpy
#                             the Python plugin backend/numpy (conformance and training through it)
#   protobuf-compiler protobuf-compiler-grpc
#                             protoc and gRPC's Python generator: its stubs are checked current
set -euo pipefail

[ "${IJEPA_NO_DEPS:-}" = 1 ] && exit 0

packages=(glslc libvulkan1 libvulkan-dev mesa-vulkan-drivers libopenblas-dev libturbojpeg0
  openmpi-bin libopenmpi-dev
  xvfb xauth libx11-dev libxrandr-dev libxinerama-dev libxcursor-dev libxi-dev
  libxxf86vm-dev libgl-dev libgl1-mesa-dev)
[ "${1:-}" = --test ] && packages+=(python3-torch python3-grpcio python3-protobuf python3-numpy
  protobuf-compiler protobuf-compiler-grpc)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "deps.sh: missing packages ${missing[*]}, and there is no apt-get: install them by hand" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then sudo=(sudo); else
    echo "deps.sh: missing packages ${missing[*]}: run as root or install them by hand" >&2
    exit 1
  fi
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q >/dev/null
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
