#!/bin/sh
# Build the spandsp benchmark and run the detector-bank bench, which runs it on
# the same input and prints the bank / spandsp ratio. Extra arguments go to
# cargo (e.g. RUSTFLAGS="-C target-cpu=native" ./compare.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cc -O2 "$here/super_tone_bench.c" -lspandsp -o /tmp/super_tone_bench
cd "$here/../../.."
cargo bench -p pickupd-dsp --bench bank "$@"
