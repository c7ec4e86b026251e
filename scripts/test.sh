#!/usr/bin/env bash
# Runs every check the project has: formatting, vet, the build, and all tests
# (the CPU reference, the Vulkan backend on whatever Vulkan device exists —
# lavapipe in CI —, plugins as subprocesses, and the GLFW viewer under Xvfb).
# This is the README's test command and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh --test

# deps.sh installed everything the tests need, so a test that would skip for
# want of a dependency (OpenBLAS, glslc, a C compiler, a Vulkan
# device, python3-torch, mpirun) fails instead: see internal/testdep.
export IJEPA_TEST_STRICT=1

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
# Without cgo (no Vulkan, OpenBLAS, libjpeg-turbo or MPI: each says so when
# asked for) and on another OS the core must still build.
CGO_ENABLED=0 go build ./...
GOOS=darwin go build ./...

# deps.sh installed Mesa's lavapipe, so a Vulkan device must exist here: the
# Go tests skip Vulkan only where there is none and IJEPA_TEST_STRICT is not
# set, and this run fails instead. It also fails when the backend supports no
# case of a required op.
# A fixed seed keeps CI reproducible (without --seed each run draws a new one).
# The op level runs every case in f32, f16 and bf16 (8 to 11 s on lavapipe on 2
# shared cores); --level all adds a ViT block, attention, the predictor and
# three training steps against cpu-ref (6 s in all on lavapipe); --mode stress runs 500
# random asynchronous programs against the reference run op by op (0.9 s on
# lavapipe, 0.1 s on cpu). A backend that hangs (a fence never signalled)
# ends the run after 5 minutes instead of holding CI.
go build -o "${TMPDIR:-/tmp}/ijepa-ci" ./cmd/ijepa
echo "== ijepa conformance --backend vulkan --level all --seed 20261128" >&2
timeout 300 "${TMPDIR:-/tmp}/ijepa-ci" conformance --backend vulkan --level all --seed 20261128
# The composites of issue 18, at every level: a reference backend running
# three ops with cpu behind it, and vulkan with cpu taking what it refuses
# (about 11 s together: 2.6 s and 8.3 s).
for b in 'cpu-ref?ops=matmul+gelu+gelu_bwd,cpu' 'vulkan,cpu'; do
  echo "== ijepa conformance --backend '$b' --level all --seed 20261128" >&2
  timeout 300 "${TMPDIR:-/tmp}/ijepa-ci" conformance --backend "$b" --level all --seed 20261128
done
for b in vulkan cpu; do
  echo "== ijepa conformance --backend $b --mode stress --seed 20261128" >&2
  timeout 300 "${TMPDIR:-/tmp}/ijepa-ci" conformance --backend $b --mode stress --seed 20261128
done

echo "== go test" >&2
go test -timeout 20m ./...

# The data-parallel tests again, with every rank a process of its own under
# mpirun (go test runs their ranks as goroutines; cmd/ijepa's TestMPI* start
# mpirun themselves): each test binary is started as 2 ranks. About 20 s on
# 2 cores. Open MPI refuses to run as root without its two variables; CI
# runs as root.
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

# Every reader of untrusted input for about 3 s each, as counts of executions
# (scripts/fuzz.sh says why not durations; the seed corpora already ran
# with go test): about 30 s with the build cache warm, 3 min cold on 2
# cores. scripts/fuzz.sh 5m runs them for long.
echo "== fuzz, about 3 s per target (counted executions)" >&2
bash scripts/fuzz.sh quick

echo "== viewer under Xvfb" >&2
bash scripts/test-viewer.sh
echo "== all checks passed" >&2
