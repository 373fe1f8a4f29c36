#!/bin/sh
# run-report.sh -- run the kvmem benchmark suite and print the report.
#
# usage: bench/run-report.sh [--full] [--callgrind] [--callgrind-only]
#                            [--reps N] [--min-time S] [--filter REGEX]
#                            [--out DIR] BUILD_DIR
#
# Builds nothing: BUILD_DIR must hold bench/kvmem-bench (configure with
# -Dbuildtype=release).  Runs every workload with interleaved repetitions
# under MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 (glibc heap trimming
# off too) and prints, per
# workload, the median time per operation of kvmem and of each baseline with
# their ratio, then every sweep (free segments, live allocations,
# constraints) with the ratio between its sizes.
#
#   quick (default)  5 repetitions, min time 0.05 s: a few minutes on 2 cores
#   --full           all workloads (--kb-full), 12 repetitions, min time 0.5 s
#   --callgrind      also count instructions per operation under callgrind
#                    (the callgrind-core workloads; with --full, all)
#   --callgrind-only skip the timed run
#
# Writes to DIR (default bench-results/): raw.json (Google Benchmark),
# medians.tsv, callgrind.tsv, summary.json, report.txt.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
awkf="$here/report.awk"
full=0 cg=0 timed=1 reps='' mintime='' filter='' out=bench-results build=''
cmdline="$0 $*"

usage() {
	sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--full) full=1 ;;
	--callgrind) cg=1 ;;
	--callgrind-only) cg=1 timed=0 ;;
	--reps) reps=$2; shift ;;
	--min-time) mintime=$2; shift ;;
	--filter) filter=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) usage ;;
	-*) echo "run-report.sh: unknown option $1" >&2; usage ;;
	*) build=$1 ;;
	esac
	shift
done
[ -n "$build" ] || usage
bin="$build/bench/kvmem-bench"
if [ ! -x "$bin" ]; then
	echo "run-report.sh: $bin not found; configure and build first:" >&2
	echo "  meson setup $build --wrap-mode=nodownload -Dbuildtype=release && ninja -C $build" >&2
	exit 1
fi
if [ $full = 1 ]; then
	: "${reps:=12}" "${mintime:=0.5}"
	kbfull=--kb-full
else
	: "${reps:=5}" "${mintime:=0.05}"
	kbfull=
fi
mkdir -p "$out"
# Algorithm-only rows: no time-based purging in jemalloc, and no heap
# trimming in glibc (without it a 64 KiB pair at the heap top shrinks and
# regrows the heap with system calls on every free).
MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1
GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.trim_threshold=4294967296
export MALLOC_CONF GLIBC_TUNABLES

report="$out/report.txt"
: > "$report"
say() { printf '%s\n' "$*" | tee -a "$report"; }

# ---- Header: machine, toolchain, versions, command ------------------------
info() { "$bin" --kb-info | awk -F '\t' -v k="$1" '$1 == k { print $2 }'; }
pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "not installed"; }
model=$(awk -F ': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
buildtype=$(grep -o '"name": "buildtype", "value": "[a-z]*"' \
    "$build/meson-info/intro-buildoptions.json" 2>/dev/null | sed 's/.*"value": "//; s/"//')
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)

say "kvmem benchmark report ($now)"
say "machine:    $(nproc) CPUs, $model, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "compilers:  $(info c_compiler) (C), $(info cxx_compiler) (C++ shim); meson buildtype ${buildtype:-unknown}"
say "libraries:  kvmem $(info kvmem), jemalloc $(info jemalloc) (libjemalloc-dev $(pkgver libjemalloc-dev)),"
say "            glibc $(info glibc), Google Benchmark $(info benchmark) (libbenchmark-dev $(pkgver libbenchmark-dev)),"
say "            valgrind $(pkgver valgrind)"
say "command:    $cmdline"
say "env:        MALLOC_CONF=$MALLOC_CONF GLIBC_TUNABLES=$GLIBC_TUNABLES"
say "note:       Debian's libbenchmark reports itself as a DEBUG build (\"Library was built as"
say "            DEBUG\"); the timed loops are ours (batches of C calls), so this matters little."
say "note:       times are medians of $reps interleaved repetitions; cpu_time per operation,"
say "            except live_free rows (real time around the frees only, measured by the shim)."
say "            Other agents share this machine: compare ratios within one run, not absolute ns."
say ""

"$bin" $kbfull --kb-list > "$out/list.tsv"
if [ -n "$filter" ]; then
	awk -F '\t' -v re="$filter" '$1 ~ re' "$out/list.tsv" > "$out/list.tmp"
	mv "$out/list.tmp" "$out/list.tsv"
fi

# ---- Timed run --------------------------------------------------------------
if [ $timed = 1 ]; then
	set -- "$bin" $kbfull --benchmark_repetitions="$reps" \
	    --benchmark_enable_random_interleaving=true \
	    --benchmark_min_time="$mintime" \
	    --benchmark_format=json --benchmark_out="$out/raw.json" \
	    --benchmark_out_format=json
	[ -n "$filter" ] && set -- "$@" --benchmark_filter="$filter"
	say "benchmark: MALLOC_CONF=$MALLOC_CONF GLIBC_TUNABLES=$GLIBC_TUNABLES $*"
	echo "running $(wc -l < "$out/list.tsv") workloads x $reps repetitions ..." >&2
	start=$(date +%s)
	"$@" > "$out/stdout.json" 2> "$out/stderr.txt" || {
		echo "run-report.sh: kvmem-bench failed; see $out/stderr.txt" >&2
		tail -5 "$out/stderr.txt" >&2
		exit 1
	}
	say "(timed run took $(( $(date +%s) - start )) s)"
	say ""
	awk -f "$awkf" -v mode=medians "$out/raw.json" > "$out/medians.tsv"
	awk -f "$awkf" -v mode=table -v unit=ns/op "$out/list.tsv" "$out/medians.tsv" |
	    tee -a "$report"
	say ""
fi

# ---- Instruction counts under callgrind ------------------------------------
if [ $cg = 1 ]; then
	command -v valgrind > /dev/null || { echo "run-report.sh: valgrind not found" >&2; exit 1; }
	if [ "$(info callgrind_header)" != yes ]; then
		say "warning: kvmem-bench was built without <valgrind/callgrind.h>: counts include setup"
	fi
	mkdir -p "$out/callgrind"
	: > "$out/callgrind.tsv"
	if [ $full = 1 ]; then
		names=$(cut -f1 "$out/list.tsv")
	else
		names=$(awk -F '\t' '$6 == 1 { print $1 }' "$out/list.tsv")
	fi
	say "callgrind: valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no $bin --callgrind-workload NAME"
	echo "callgrind: $(echo "$names" | wc -l) workloads ..." >&2
	for n in $names; do
		f="$out/callgrind/$(echo "$n" | tr '/:' '__').out"
		if ! valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
		    --callgrind-out-file="$f" "$bin" --callgrind-workload "$n" \
		    > "$f.log" 2>&1; then
			echo "run-report.sh: callgrind run of $n failed; see $f.log" >&2
			continue
		fi
		ops=$(awk -F '\t' '$1 == "kb-callgrind" { print $3 }' "$f.log")
		# With collection toggled, "summary:" may read 0; "totals:" holds the count.
		ir=$(awk '/^totals:/ { t = $2 } /^summary:/ { s = $2 }
		    END { print (t != "" ? t : s) }' "$f")
		awk -v n="$n" -v ir="$ir" -v ops="$ops" \
		    'BEGIN { if (ops > 0) printf "%s\t%.1f\t-\tIr\t\n", n, ir / ops }' \
		    >> "$out/callgrind.tsv"
	done
	say "instructions per operation (callgrind, collection around the measured loop only):"
	awk -f "$awkf" -v mode=table -v unit=Ir/op "$out/list.tsv" "$out/callgrind.tsv" |
	    tee -a "$report"
	say ""
fi

# ---- summary.json -------------------------------------------------------------
jesc() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
{
	printf '{\n"version": 1,\n"date": "%s",\n' "$now"
	printf '"machine": {"nproc": %s, "model": "%s", "kernel": "%s"},\n' \
	    "$(nproc)" "$(jesc "$model")" "$(jesc "$(uname -sr)")"
	printf '"compilers": {"c": "%s", "cxx": "%s", "buildtype": "%s"},\n' \
	    "$(jesc "$(info c_compiler)")" "$(jesc "$(info cxx_compiler)")" "${buildtype:-unknown}"
	printf '"versions": {"kvmem": "%s", "jemalloc": "%s", "glibc": "%s", "benchmark": "%s", "valgrind": "%s"},\n' \
	    "$(info kvmem)" "$(jesc "$(info jemalloc)")" "$(info glibc)" "$(info benchmark)" \
	    "$(pkgver valgrind)"
	printf '"command": "%s",\n"malloc_conf": "%s",\n"glibc_tunables": "%s",\n' \
	    "$(jesc "$cmdline")" "$MALLOC_CONF" "$(jesc "$GLIBC_TUNABLES")"
	printf '"repetitions": %s,\n"min_time": %s,\n' "$reps" "$mintime"
	printf '"benchmark_library_reports_debug": true,\n'
	if [ $timed = 1 ]; then
		printf '"time": {"unit": "ns/op", "raw": "raw.json",\n'
		awk -f "$awkf" -v mode=json -v unit=ns/op "$out/list.tsv" "$out/medians.tsv"
		printf '},\n'
	fi
	if [ $cg = 1 ]; then
		printf '"callgrind": {"unit": "Ir/op",\n'
		awk -f "$awkf" -v mode=json -v unit=Ir/op "$out/list.tsv" "$out/callgrind.tsv"
		printf '},\n'
	fi
	printf '"report": "report.txt"\n}\n'
} > "$out/summary.json"
echo "wrote $report and $out/summary.json" >&2
