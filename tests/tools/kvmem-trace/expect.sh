#!/bin/sh
# expect.sh STATUS REGEX CMD [ARG...]
# Run CMD; pass if it exits with STATUS and REGEX (grep -E) matches its
# standard error (its standard output when STATUS is 0).
want=$1
re=$2
shift 2
out=$(mktemp) || exit 1
err=$(mktemp) || exit 1
trap 'rm -f "$out" "$err"' EXIT
"$@" > "$out" 2> "$err"
rc=$?
if [ "$rc" -ne "$want" ]; then
	echo "expect: '$*' exited $rc, want $want" >&2
	cat "$err" >&2
	exit 1
fi
if [ "$want" -eq 0 ]; then f=$out; else f=$err; fi
if ! grep -Eq -- "$re" "$f"; then
	echo "expect: output of '$*' does not match /$re/:" >&2
	cat "$f" >&2
	exit 1
fi
exit 0
