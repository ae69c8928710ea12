#!/bin/sh
# Creates the namespace once. idvflow's search attributes need no step
# here: the worker registers them at start.
set -eu
temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1 ||
  temporal operator namespace create -n "$NAMESPACE" --retention 14d
