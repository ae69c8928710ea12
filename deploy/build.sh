#!/bin/sh
# Builds static, stripped binaries of cmd/receiver and cmd/worker into $1.
# The Dockerfile runs this; so can anyone checking the build without Docker.
set -eu
# What ships is built by go.mod's toolchain line, whatever Go runs this
# script: the go line only says the oldest Go that can build a development
# copy. The go command fetches that toolchain through the module proxy.
GOTOOLCHAIN=$(sed -n 's/^toolchain //p' go.mod)
export GOTOOLCHAIN
go version
out=${1:-bin}
# -buildvcs=true: each binary's -version names the revision it was built
# from (the Dockerfile's context keeps .git for that).
mkdir -p "$out"
for cmd in receiver worker; do
  CGO_ENABLED=0 go build -buildvcs=true -trimpath -ldflags="-s -w" -o "$out/$cmd" "./cmd/$cmd"
done
