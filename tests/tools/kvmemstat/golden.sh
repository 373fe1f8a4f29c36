#!/bin/sh
# Golden and error tests of kvmemstat.
#   golden.sh KVMEMSTAT FIXTURE SRCDIR
# FIXTURE writes a snapshot of a fixed stack; kvmemstat's views of it and of
# the committed fixtures/*.json are compared byte for byte with expected/*
# (a unified diff is printed on a mismatch: '-' expected, '+' actual).
# KVMEM_GOLDEN_UPDATE=1 rewrites the expected files instead of comparing.
set -u
stat=$1
fixture=$2
src=$3
exp=$src/expected
fix=$src/fixtures
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmemstat-golden.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fails=0
update=${KVMEM_GOLDEN_UPDATE:-0}

fail() {
	echo "FAIL $*"
	fails=$((fails + 1))
}

# golden NAME CMD...: CMD must exit 0 and print exactly expected/NAME.
golden() {
	name=$1
	shift
	"$@" >"$tmp/$name" 2>"$tmp/$name.err"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$name: exit status $rc, stderr:"
		cat "$tmp/$name.err"
		return
	fi
	if [ "$update" = 1 ]; then
		cp "$tmp/$name" "$exp/$name"
		echo "updated $exp/$name"
	elif diff -u "$exp/$name" "$tmp/$name"; then
		echo "ok $name"
	else
		fail "$name: output differs from $exp/$name (diff above)"
	fi
}

# status NAME WANT PATTERN CMD...: CMD must exit WANT with PATTERN (grep -E)
# in its stderr (stdout for status 0).
status() {
	name=$1 want=$2 pat=$3
	shift 3
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	rc=$?
	where=$tmp/$name.err
	[ "$want" = 0 ] && where=$tmp/$name.out
	if [ $rc -ne "$want" ]; then
		fail "$name: exit status $rc, wanted $want; stderr:"
		cat "$tmp/$name.err"
	elif ! grep -Eq -- "$pat" "$where"; then
		fail "$name: output does not match /$pat/:"
		cat "$where"
	else
		echo "ok $name"
	fi
}

snap=$tmp/snap.json
if ! "$fixture" "$snap"; then
	fail "the fixture generator"
	exit 1
fi

golden fixture-all.txt "$stat" "$snap"
golden fixture-arenas.txt "$stat" -a "$snap"
golden fixture-qcaches.txt "$stat" --qcaches "$snap"
golden fixture-memory.txt "$stat" -m "$snap"
golden fixture-pmap.txt "$stat" -P "$snap"
golden fixture-kmem.txt "$stat" -k "$snap"
golden fixture-am.txt "$stat" -a -m "$snap"
golden fixture-json.json "$stat" --json "$snap"
golden minimal-all.txt "$stat" "$fix/minimal.json"
golden minimal-json.json "$stat" -j "$fix/minimal.json"

# The --json output is valid JSON.
for j in fixture-json.json minimal-json.json; do
	if /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/$j"; then
		echo "ok $j parses"
	else
		fail "$j is not valid JSON"
	fi
done

# -p PID reads ${TMPDIR}/kvmem-PID.json.
mkdir "$tmp/piddir"
cp "$snap" "$tmp/piddir/kvmem-4242.json"
TMPDIR=$tmp/piddir "$stat" -p 4242 >"$tmp/pid.out" 2>&1
if cmp -s "$tmp/pid.out" "$tmp/fixture-all.txt"; then
	echo "ok -p"
else
	fail "-p 4242 output differs from the FILE output"
fi
status pid-missing 1 'kvmem-999999\.json' env TMPDIR="$tmp/piddir" "$stat" -p 999999

# -w repeats the display (-c bounds it); the views are separated by a blank line.
"$stat" -a -w 1 -c 2 "$snap" >"$tmp/wait.out" 2>&1
{ cat "$tmp/fixture-arenas.txt"; echo; cat "$tmp/fixture-arenas.txt"; } >"$tmp/wait.want"
if cmp -s "$tmp/wait.out" "$tmp/wait.want"; then
	echo "ok -w -c"
else
	fail "-w 1 -c 2"
	diff -u "$tmp/wait.want" "$tmp/wait.out"
fi

# Usage and errors.
status help 0 '^usage: kvmemstat' "$stat" --help
status help-short 0 '^usage: kvmemstat' "$stat" -h
status bad-option 2 "unknown option" "$stat" -x "$snap"
status bad-long-option 2 "unknown option '--frobnicate'" "$stat" --frobnicate "$snap"
status no-file 2 "no snapshot" "$stat"
status two-files 2 "one snapshot" "$stat" "$snap" "$snap"
status file-and-pid 2 "not both" "$stat" -p 1 "$snap"
status bad-pid 2 "bad process id" "$stat" -p abc
status bad-wait 2 "bad interval" "$stat" -w 0 "$snap"
status count-without-wait 2 "-c needs -w" "$stat" -c 3 "$snap"
status missing-arg 2 "needs an argument" "$stat" "$snap" -w
status unreadable 1 "$tmp/nonexistent\.json: No such file" "$stat" "$tmp/nonexistent.json"
status version-0 1 "version0\.json: snapshot version 0 is not supported \(this kvmemstat reads version 1\)" \
    "$stat" "$fix/version0.json"
status version-2 1 "version2\.json: snapshot version 2 is not supported" "$stat" "$fix/version2.json"
status wrong-schema 1 "wrong-schema\.json: not a kvmem statistics snapshot" \
    "$stat" "$fix/wrong-schema.json"
status truncated 1 "truncated\.json: not valid JSON: line [0-9]+, column [0-9]+" \
    "$stat" "$fix/truncated.json"
status no-arenas 1 "no-arenas\.json: snapshot has no \"arenas\" array" "$stat" "$fix/no-arenas.json"

if [ $fails -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all kvmemstat checks passed"
exit 0
