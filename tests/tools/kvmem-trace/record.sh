#!/bin/sh
# record.sh KVMEM_TRACE RECPROG SANITIZE
# Tests of `kvmem-trace record`: a threaded program of ours (every wrapped
# call, cross-thread frees, blocks live at exit), _exit without exit
# handlers, fork, and real programs (ls, python3).  Each recorded trace must
# load and replay (kvmem-trace replay validates it: frees refer to earlier
# allocations of the same size, every allocation freed once).
# Skipped (77) in sanitized builds: the recorder library is then built with
# the sanitizer runtime, which cannot be preloaded into programs that are
# not built with it.
kt=$1
prog=$2
if [ "$3" != "none" ]; then
	echo "skipped: sanitized build ($3): an ASan/UBSan-instrumented LD_PRELOAD library cannot run in uninstrumented programs"
	exit 77
fi
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
fails=0
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
count() { grep -c "^$1" "$2"; }

# 1. Threads.
"$kt" record -o "$d/t.csv" -- "$prog" threads > "$d/out" 2> "$d/err" || bad "threads: status $?"
grep -q 'recprog: done' "$d/out" || bad "threads: the program's output is missing"
for s in 3001 3003 3004 3005 3008 3009; do
	n=$(count "a,$s," "$d/t.csv"); [ "$n" -eq 200 ] || bad "threads: $n allocations of $s, want 200"
	n=$(count "f,$s," "$d/t.csv"); [ "$n" -eq 200 ] || bad "threads: $n frees of $s, want 200"
done
n=$(count "a,3002," "$d/t.csv"); [ "$n" -eq 201 ] || bad "threads: $n allocations of 3002 (calloc + keep), want 201"
grep -q '^# closed at exit' "$d/t.csv" || bad "threads: no closing line"
th=$(awk -F, '/^[af],/ { print $4 }' "$d/t.csv" | sort -u | wc -l)
[ "$th" -ge 5 ] || bad "threads: $th thread numbers, want at least 5"
# memalign blocks (3009) are freed by the main thread: cross-thread frees.
x=$(awk -F, '/^a,/ { t[n] = $4 } /^[af],/ { if ($1 == "f" && $2 == 3009 && t[$3] != $4) c++; n++ } END { print c + 0 }' "$d/t.csv")
[ "$x" -eq 200 ] || bad "threads: $x cross-thread frees of 3009, want 200"
"$kt" replay "$d/t.csv" > "$d/r" || bad "threads: replay failed"
grep -q '^fails  *0$' "$d/r" || bad "threads: replay had failures"
"$kt" info "$d/t.csv" | grep -q '^closed  *yes' || bad "threads: info does not say closed"

# 2. _exit: the recorder closes the trace before it.
"$kt" record -o "$d/e.csv" "$prog" exit 2> "$d/err"
rc=$?
[ "$rc" -eq 3 ] || bad "exit: status $rc, want the program's 3"
grep -q '^# closed at exit' "$d/e.csv" || bad "exit: the recorder did not close the trace"
n=$(count "a,3333," "$d/e.csv"); [ "$n" -eq 10 ] || bad "exit: $n allocations of 3333, want 10"
n=$(count "f,3333," "$d/e.csv"); [ "$n" -eq 10 ] || bad "exit: $n frees of 3333, want 10"
"$kt" replay "$d/e.csv" > /dev/null || bad "exit: replay failed"

# 2b. SIGKILL: the tool closes what was written (a prefix of the events).
"$kt" record -o "$d/k.csv" "$prog" kill 2> "$d/err"
rc=$?
[ "$rc" -eq 137 ] || bad "kill: status $rc, want 128 + 9"
grep -q 'closed it' "$d/err" || bad "kill: no note that the tool closed the trace"
grep -q '^# closed by kvmem-trace record' "$d/k.csv" || bad "kill: no closing line"
a=$(count "a,3334," "$d/k.csv")
f=$(count "f,3334," "$d/k.csv")
[ "$a" -gt 1000 ] && [ "$a" -eq "$f" ] || bad "kill: $a allocations and $f frees of 3334"
"$kt" replay "$d/k.csv" > /dev/null || bad "kill: replay failed"

# 3. fork: the child records nothing.
"$kt" record -o "$d/f.csv" "$prog" fork 2> "$d/err" || bad "fork: status $?"
n=$(count "a,3777," "$d/f.csv"); [ "$n" -eq 0 ] || bad "fork: the child's allocations were recorded"
n=$(count "a,3001," "$d/f.csv"); [ "$n" -eq 1 ] || bad "fork: the parent's allocation is missing"
"$kt" replay "$d/f.csv" > /dev/null || bad "fork: replay failed"

# 4. Real programs; the library named through the environment once.
lib=$(dirname "$kt")/libkvmem-trace-record.so
KVMEM_TRACE_RECORD_LIB=$lib "$kt" record -o "$d/ls.csv" ls -l / > /dev/null 2>&1 || bad "ls: status $?"
"$kt" replay "$d/ls.csv" > /dev/null || bad "ls: replay failed"
n=$(count "a," "$d/ls.csv"); [ "$n" -gt 10 ] || bad "ls: only $n allocations"
if command -v python3 > /dev/null; then
	PYTHONMALLOC=malloc "$kt" record -o "$d/py.csv" python3 -c \
	    'import threading; t = [threading.Thread(target=lambda: [str(i) * 3 for i in range(2000)]) for _ in range(3)]; [x.start() for x in t]; [x.join() for x in t]' \
	    > /dev/null 2>&1 || bad "python3: status $?"
	"$kt" replay "$d/py.csv" > /dev/null || bad "python3: replay failed"
fi

# 5. Errors.
"$kt" record -o "$d/n.csv" /nonexistent/program 2> "$d/err"
rc=$?
[ "$rc" -eq 127 ] || bad "missing command: status $rc, want 127"
KVMEM_TRACE_RECORD_LIB=/nonexistent.so "$kt" record -o "$d/n.csv" true 2> "$d/err"
rc=$?
[ "$rc" -eq 1 ] && grep -q nonexistent.so "$d/err" || bad "missing library: status $rc, want 1 naming it"

[ "$fails" -eq 0 ] && echo "record: all checks passed"
exit $((fails != 0))
