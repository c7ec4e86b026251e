#!/usr/bin/env bash
# Regenerates the conformance reports of every backend the project ships
# (docs/reports/*.json: cpu, cpu-ref, vulkan on this machine's device, the
# CPU and Vulkan backends as Go plugins, and the Python plugin
# backend/numpy) at every level, and the support matrix of docs/BACKENDS.md
# from them. cmd/ijepa's TestBackendsDoc fails when the matrix and the
# reports disagree, or the reports no longer cover the op catalogue. About
# 3 minutes on 2 cores with lavapipe.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ijepa" ./cmd/ijepa
go build -o "$tmp/plugins/ijepa-backend-cpu" ./cmd/ijepa-backend-cpu
go build -o "$tmp/plugins/ijepa-backend-vulkan" ./cmd/ijepa-backend-vulkan
mkdir -p docs/reports
report() { # name, backend
  echo "== $2" >&2
  "$tmp/ijepa" conformance --backend "$2" --plugin-dir "$tmp/plugins" --level all --seed 20261128 --format json >"docs/reports/$1.json" || true
}
# The numbers order the matrix's columns.
rm -f docs/reports/*.json
report 1-cpu cpu
report 2-cpu-ref cpu-ref
report 3-vulkan vulkan
report 4-plugin-cpu plugin:cpu
report 5-plugin-vulkan plugin:vulkan
report 6-plugin-numpy plugin:backend/numpy/ijepa-backend-numpy
reports=$(ls docs/reports/*.json | sort | paste -sd, -)
"$tmp/ijepa" conformance --from "$reports" --format markdown >"$tmp/matrix.md"
python3 - "$tmp/matrix.md" <<'PY'
import sys
begin, end = "<!-- matrix: scripts/backends-doc.sh writes it from docs/reports/*.json -->\n", "<!-- end of matrix -->\n"
doc = open("docs/BACKENDS.md").read()
head, rest = doc.split(begin)
_, tail = rest.split(end)
open("docs/BACKENDS.md", "w").write(head + begin + open(sys.argv[1]).read() + end + tail)
PY
