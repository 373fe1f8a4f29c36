#!/bin/sh
# png.sh KVMEM_PICTURE ARG...
# Draw a picture with gnuplot and check that the output file exists and
# starts with the PNG signature.  Skipped (77) when gnuplot is missing.
kp=$1
shift
if ! command -v gnuplot > /dev/null; then
	echo "skipped: gnuplot is not installed"
	exit 77
fi
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
"$kp" -o "$d/out.png" "$@" || { echo "kvmem-picture failed: $?" >&2; exit 1; }
[ -s "$d/out.png" ] || { echo "no PNG written" >&2; exit 1; }
sig=$(od -An -tx1 -N8 "$d/out.png" | tr -d ' \n')
if [ "$sig" != "89504e470d0a1a0a" ]; then
	echo "not a PNG: starts with $sig" >&2
	exit 1
fi
ls "$d"/* | grep -qv out.png && { echo "stray files left next to the PNG" >&2; exit 1; }
exit 0
