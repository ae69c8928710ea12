#!/bin/sh
# Builds static, stripped binaries of cmd/receiver and cmd/worker into $1.
# The Dockerfile runs this; so can anyone checking the build without Docker.
set -eu
out=${1:-bin}
mkdir -p "$out"
for cmd in receiver worker; do
  CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$out/$cmd" "./cmd/$cmd"
done
