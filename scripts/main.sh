#!/usr/bin/env bash
# The main job: install what is missing, configure and build an optimized
# kvmem in $KVMEM_BUILD_ROOT/release (default build/release), then run the
# benchmark report in quick mode (bench/run-report.sh: a few minutes; the
# report goes to stdout and bench-results/).  Extra arguments go to
# run-report.sh (e.g. --full, --callgrind).
# Environment: KVMEM_BUILD_ROOT (default: build), KVMEM_SKIP_SETUP=1,
# KVMEM_JOBS (default: 2).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KVMEM_BUILD_ROOT:-build}/release

[ "${KVMEM_SKIP_SETUP:-0}" = 1 ] || ./scripts/setup.sh </dev/null
opts=(--wrap-mode=nodownload --buildtype=release -Dtests=disabled)
if [ -f "$dir/build.ninja" ]; then
	meson setup --reconfigure "$dir" "${opts[@]}" </dev/null
else
	meson setup "$dir" "${opts[@]}" </dev/null
fi
ninja -C "$dir" -j "${KVMEM_JOBS:-2}" </dev/null
exec sh bench/run-report.sh "$@" "$dir" </dev/null
