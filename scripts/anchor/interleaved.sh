#!/bin/bash
# Runs the Rust-anchor kit's interleaved side by side (../shared/anchor,
# read-only: its go-side follows the API of the day it was written) with
# this repository's go-side (scripts/anchor/go-side, kept compiling by
# `go vet ./...`). Arguments as the kit's script:
#   scripts/anchor/interleaved.sh ZIPORA_WORK [REPS] [ROUNDS]
# ANCHOR_KIT overrides the kit's folder.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIT=${ANCHOR_KIT:-$ROOT/../shared/anchor}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/go-side"
cp "$KIT/side-by-side-interleaved.sh" "$T/"
cp "$ROOT/scripts/anchor/go-side/main.go" "$T/go-side/"
Z=$1
shift
"$T/side-by-side-interleaved.sh" "$Z" "$ROOT" "$@"
