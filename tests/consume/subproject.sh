#!/usr/bin/env bash
# Consume kvmem as a meson subproject: a throwaway superproject in a
# temporary directory with subprojects/kvmem -> SRCDIR, resolved through
# dependency('kvmem', fallback: ...) (forced, so an installed kvmem cannot
# stand in), built offline and run.
#
# usage: subproject.sh SRCDIR CONSUMER.C
# env:   KVMEM_MESON, KVMEM_CC, KVMEM_SANITIZE (as installed.sh)
set -euo pipefail
src=$1 consumer=$2
meson=${KVMEM_MESON:-meson}
opts=()
if [ "${KVMEM_SANITIZE:-none}" != none ]; then
	opts=("-Db_sanitize=$KVMEM_SANITIZE" -Db_lundef=false)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmem-subproject.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/super/subprojects"
ln -s "$src" "$tmp/super/subprojects/kvmem"
cp "$consumer" "$tmp/super/consumer.c"
cat >"$tmp/super/meson.build" <<'MESON'
project('kvmem-consumer', 'c', default_options: ['c_std=c11', 'warning_level=3'])
# The subproject builds its library only: no tests (no recursion), no bench.
kvmem_dep = dependency('kvmem', fallback: ['kvmem', 'kvmem_dep'],
  default_options: ['tests=disabled', 'bench=disabled', 'tools=false',
    'examples=false'])
executable('consumer', 'consumer.c', dependencies: kvmem_dep,
  c_args: ['-Werror'])
MESON

CC=${KVMEM_CC:-cc} "$meson" setup "$tmp/build" "$tmp/super" \
    --wrap-mode=nodownload --force-fallback-for=kvmem "${opts[@]}" >"$tmp/setup.log" 2>&1 ||
	{ cat "$tmp/setup.log"; exit 1; }
grep -q 'Executing subproject kvmem' "$tmp/setup.log" ||
	{ cat "$tmp/setup.log"; echo "subproject.sh: FAIL: kvmem was not used as a subproject" >&2; exit 1; }
ninja -C "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
"$tmp/build/consumer"
echo "subproject.sh: ok"
