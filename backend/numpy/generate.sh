#!/bin/sh
# Generates the Python gRPC stubs of the plugin protocol from
# backend/plugin/pluginpb/backend.proto: backend_pb2.py (the messages) and
# backend_pb2_grpc.py (the service), with Debian's protoc and gRPC's Python
# generator (apt-get install protobuf-compiler protobuf-compiler-grpc).
#
#   backend/numpy/generate.sh         rewrites the stubs beside this script
#   backend/numpy/generate.sh DIR     writes them to DIR instead
#
# The stubs are committed, so the plugin runs with the runtime packages
# alone (python3-grpcio python3-protobuf python3-numpy);
# TestStubsAreCurrent regenerates them and fails when they differ.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
proto_dir=$here/../plugin/pluginpb
out=${1:-$here}
for tool in protoc grpc_python_plugin; do
  if ! command -v "$tool" >/dev/null; then
    echo "generate.sh: $tool is missing (apt-get install protobuf-compiler protobuf-compiler-grpc)" >&2
    exit 1
  fi
done
protoc --proto_path="$proto_dir" --python_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" backend.proto
