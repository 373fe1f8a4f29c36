#!/bin/sh
# golden.sh EXPECTED CMD [ARG...]
# Run CMD and compare its standard output byte for byte with the file
# EXPECTED, showing a unified diff when they differ.  To accept new output
# (regenerate the golden files), run the tests with KVMEM_GOLDEN_UPDATE=1:
#   KVMEM_GOLDEN_UPDATE=1 meson test -C BUILD --suite tools
exp=$1
shift
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$@" > "$out"
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "golden: exit status $rc from: $*" >&2
	exit 1
fi
if [ -n "$KVMEM_GOLDEN_UPDATE" ]; then
	cp "$out" "$exp" && echo "golden: updated $exp"
	exit $?
fi
if ! diff -u "$exp" "$out"; then
	echo "golden: output of '$*' differs from $exp" >&2
	echo "golden: (KVMEM_GOLDEN_UPDATE=1 accepts the new output)" >&2
	exit 1
fi
exit 0
