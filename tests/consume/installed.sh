#!/usr/bin/env bash
# Consume kvmem as an installed package: stage-install the built project
# into a temporary directory, check the shared library's ABI surface, then
# build consumer.c through pkg-config (shared and static) and run it.
#
# usage: installed.sh BUILDDIR SRCDIR CONSUMER.C
# env:   KVMEM_MESON, KVMEM_CC (compiler command), KVMEM_CXX (may be empty),
#        KVMEM_SANITIZE (meson's b_sanitize value)
# Writes only to a temporary directory (meson adds its install log to
# BUILDDIR/meson-logs).
set -euo pipefail
build=$1 src=$2 consumer=$3
meson=${KVMEM_MESON:-meson}
read -r -a cc <<<"${KVMEM_CC:-cc}"
sanitize=()
[ "${KVMEM_SANITIZE:-none}" = none ] || sanitize=("-fsanitize=$KVMEM_SANITIZE")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmem-consume.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "installed.sh: FAIL: $*" >&2; exit 1; }

"$meson" install -C "$build" --no-rebuild --quiet --destdir "$tmp/root" >/dev/null
pc=$(find "$tmp/root" -name kvmem.pc | head -n 1)
so=$(find "$tmp/root" -name 'libkvmem.so.0' | head -n 1)
[ -n "$pc" ] || fail "kvmem.pc was not installed"
[ -n "$so" ] || fail "libkvmem.so.0 was not installed"
[ -f "$(dirname "$so")/libkvmem.a" ] || fail "libkvmem.a was not installed"
echo "installed: ${pc#"$tmp/root"}, ${so#"$tmp/root"}"

# ABI surface: the SONAME, only API names exported, every declared name present.
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = libkvmem.so.0 ] || fail "SONAME is '$soname', not libkvmem.so.0"
nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"
api='^((vmem|pmap|vm_map|vm_page|kmem|kva|kmap|domainset|uvm_km|kvmem_statfile)_[A-Za-z0-9]|(kernel_arena|kernel_map|kernel_object|kernel_pmap|exec_map|pipe_map|zero_region|uvm|uvmexp)$)'
if grep -Ev "$api" "$tmp/exported" >"$tmp/stray"; then
	fail "non-API symbols exported: $(tr '\n' ' ' <"$tmp/stray")"
fi
# Names declared KVMEM_EXPORT in the installed headers (one per line).
inc=$(find "$tmp/root" -type d -name kvmem -path '*/include/*' | head -n 1)
grep -h '^[[:space:]]*KVMEM_EXPORT[[:space:]]' "$inc"/*.h |
    sed -n 's/.*[^A-Za-z0-9_]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*[(;].*/\1/p' |
    sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] || fail "no KVMEM_EXPORT declarations found in $inc"
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
[ -z "$missing" ] || fail "declared but not exported: $missing"
echo "abi: SONAME $soname, $(wc -l <"$tmp/exported") symbols exported, all API"

# Build through pkg-config.  PKG_CONFIG_SYSROOT_DIR maps the .pc file's
# prefix into the staging directory.
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$tmp/root
read -r -a cflags <<<"$(pkg-config --cflags kvmem)"
read -r -a libs <<<"$(pkg-config --libs kvmem)"
read -r -a slibs <<<"$(pkg-config --static --libs kvmem)"
echo "pkg-config: ${cflags[*]} ${libs[*]}"
strict=(-std=c11 -Wall -Wextra -Wpedantic -Werror)

"${cc[@]}" "${strict[@]}" "${sanitize[@]}" "${cflags[@]}" "$consumer" \
    -o "$tmp/consumer" "${libs[@]}"
LD_LIBRARY_PATH=$(dirname "$so") "$tmp/consumer"
ldd_out=$(LD_LIBRARY_PATH=$(dirname "$so") ldd "$tmp/consumer")
grep -q "libkvmem.so.0 => $(dirname "$so")" <<<"$ldd_out" ||
	fail "consumer is not linked to the staged libkvmem.so.0"

# Static: only the archive is offered, so the linker must take it.
mkdir "$tmp/static"
ln -s "$(dirname "$so")/libkvmem.a" "$tmp/static/libkvmem.a"
"${cc[@]}" "${strict[@]}" "${sanitize[@]}" "${cflags[@]}" "$consumer" \
    -o "$tmp/consumer-static" -L"$tmp/static" "${slibs[@]}"
if ldd "$tmp/consumer-static" 2>/dev/null | grep -q libkvmem; then
	fail "static consumer still needs libkvmem.so"
fi
"$tmp/consumer-static"

# The headers compile as C++ too (extern "C" guards, no C-only syntax).
if [ -n "${KVMEM_CXX:-}" ]; then
	read -r -a cxx <<<"$KVMEM_CXX"
	printf '#include <kvmem/vmem.h>\nint main() { return vmem_name(nullptr) != nullptr; }\n' >"$tmp/hdr.cc"
	"${cxx[@]}" -std=c++11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only \
	    "${cflags[@]}" "$tmp/hdr.cc"
	echo "headers: C++ ok"
fi
echo "installed.sh: ok"
