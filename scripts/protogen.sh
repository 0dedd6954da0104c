#!/usr/bin/env bash
# Regenerates the Go code for every .proto under proto/, next to its source.
# Toolchain: protoc from Debian's protobuf-compiler package (installed when
# missing) and protoc-gen-go pinned to the google.golang.org/protobuf version
# in go.mod, installed into ./.tools/bin.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc not found; installing Debian's protobuf-compiler" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq protobuf-compiler >/dev/null
fi

version=$(go list -m -f '{{.Version}}' google.golang.org/protobuf)
bin="$PWD/.tools/bin"
if [ ! -x "$bin/protoc-gen-go" ] || [ "$("$bin/protoc-gen-go" --version 2>/dev/null)" != "protoc-gen-go $version" ]; then
  GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$version"
fi

find proto -name '*.pb.go' -delete
files=$(find proto -name '*.proto' | sort)
PATH="$bin:$PATH" protoc -I proto --go_out=proto --go_opt=module=github.com/tallyledger/tally/proto $files
echo "generated $(find proto -name '*.pb.go' | wc -l) files with $(protoc --version) and protoc-gen-go $version"
