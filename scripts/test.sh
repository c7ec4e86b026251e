#!/usr/bin/env bash
# Runs every check the project has: formatting, vet, the build, and all tests
# (the CPU reference, the Vulkan backend on whatever Vulkan device exists —
# lavapipe in CI —, plugins as subprocesses, and the GLFW viewer under Xvfb).
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh --test

echo "== gofmt" >&2
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

echo "== go vet" >&2
go vet ./...

echo "== go build" >&2
go build ./...

# deps.sh installed Mesa's lavapipe, so a Vulkan device must exist here: the
# Go tests skip Vulkan only where there is none, and this run fails instead.
# A fixed seed keeps CI reproducible (without --seed each run draws a new one).
echo "== ijepa conformance --backend vulkan --seed 20261128" >&2
go run ./cmd/ijepa conformance --backend vulkan --seed 20261128

# deps.sh installed Open MPI, so the tests that start mpirun themselves
# (cmd/ijepa's TestMPI*) fail here instead of skipping where it is missing.
export IJEPA_REQUIRE_MPI=1

echo "== go test" >&2
go test -timeout 20m ./...

# The data-parallel tests again, with every rank a process of its own under
# mpirun (go test runs their ranks as goroutines): each test binary is
# started as 2 ranks. Open MPI refuses to run as root without its two
# variables; CI runs as root.
echo "== data-parallel tests under mpirun --oversubscribe -np 2" >&2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpibin=$(mktemp -d)
trap 'rm -rf "$mpibin"' EXIT
for t in internal/mpi:. dist:. ijepa/train:DataParallel; do
  pkg=${t%%:*} run=${t#*:}
  go test -c -o "$mpibin/test" "./$pkg"
  echo "-- $pkg ($run)" >&2
  mpirun --oversubscribe -np 2 "$mpibin/test" -test.run "$run" -test.timeout 5m
done

if [ -x scripts/test-viewer.sh ]; then
  echo "== viewer under Xvfb" >&2
  scripts/test-viewer.sh
fi
echo "== all checks passed" >&2
