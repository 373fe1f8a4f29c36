#!/bin/sh
# run-report.sh -- run the kvmem benchmark suite and print the report.
#
# usage: bench/run-report.sh [--full] [--callgrind] [--callgrind-only]
#                            [--reps N] [--min-time S] [--filter REGEX]
#                            [--out DIR] BUILD_DIR
#
# Builds nothing: BUILD_DIR must hold bench/kvmem-bench (configure with
# -Dbuildtype=release).  Writes the standard allocation traces into
# BUILD_DIR/bench/traces (kvmem-tracegen --all), runs every workload with
# interleaved repetitions under MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1
# (glibc heap trimming off too), then the same for kvmem-bench-mimalloc and
# kvmem-bench-tcmalloc when they were built (each in its own process: every
# one of them replaces malloc), and prints, per workload, the median time per
# operation of kvmem and of each baseline with their ratio, every sweep (free
# segments, live allocations, constraints) with the ratio between its sizes,
# the quantum-cache summaries (hit-path pairs vs jemalloc, 1 vs 2 threads,
# producer/consumer), the kmem summary (per page, placement per NUMA
# policy, superpage promotion per import quantum, against page-aligned
# jemalloc and glibc) and the untimed measurements of kvmem-bench --kb-stats
# (footprint, share of allocations served without the arena lock).
#
#   quick (default)  5 repetitions, min time 0.05 s: under 5 minutes on 2 cores
#   --full           all workloads (--kb-full), 12 repetitions, min time 0.5 s
#   --callgrind      also count instructions per operation under callgrind
#                    (the callgrind-core workloads; with --full, all)
#   --callgrind-only skip the timed run
#
# Writes to DIR (default bench-results/): raw*.json (Google Benchmark, one
# per binary), medians.tsv, callgrind.tsv, stats.txt, summary.json,
# report.txt, and with gnuplot plots/*.png (fragmentation sweep, thread
# scaling, quantum-cache sizes against jemalloc, kmem per NUMA policy; the
# last from summary.json).
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
traces="$build/bench/traces"
alts=''
for a in mimalloc tcmalloc; do
	if [ -x "$build/bench/kvmem-bench-$a" ]; then
		alts="$alts $build/bench/kvmem-bench-$a"
	fi
done
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
if [ -n "$alts" ]; then
	for a in $alts; do
		say "            $("$a" --kb-info | awk -F '\t' '$1 == "sysmalloc" { print $2 }') in $(basename "$a")"
	done
	say "            (libmimalloc-dev $(pkgver libmimalloc-dev), libtcmalloc-minimal4 $(pkgver libtcmalloc-minimal4))"
else
	say "            mimalloc, tcmalloc: not built (install libmimalloc-dev, libgoogle-perftools-dev)"
fi
say "command:    $cmdline"
say "env:        MALLOC_CONF=$MALLOC_CONF GLIBC_TUNABLES=$GLIBC_TUNABLES"
say "note:       Debian's libbenchmark reports itself as a DEBUG build (\"Library was built as"
say "            DEBUG\"); the timed loops are ours (batches of C calls), so this matters little."
say "note:       times are medians of $reps interleaved repetitions; cpu_time per operation,"
say "            except live_free rows (real time around the frees only, measured by the shim)"
say "            and the threaded, producer/consumer and 2-thread trace rows (wall clock; their"
say "            process CPU time is shown in the summaries).  mimalloc/tcmalloc rows come from"
say "            their own binaries, run after the main one (not interleaved with it)."
say "            Other agents share this machine: compare ratios within one run, not absolute ns."
say ""

# The traces the trace_* rows replay: deterministic, rewritten every run.
if [ -x "$build/bench/kvmem-tracegen" ]; then
	"$build/bench/kvmem-tracegen" --all "$traces" ||
	    { echo "run-report.sh: kvmem-tracegen failed" >&2; exit 1; }
fi

# The workload list of every binary, the binary in a 10th column.
: > "$out/list.tsv"
for b in "$bin" $alts; do
	"$b" $kbfull --kb-list | awk -v b="$b" '{ print $0 "\t" b }' >> "$out/list.tsv"
done
if [ -n "$filter" ]; then
	awk -F '\t' -v re="$filter" '$1 ~ re' "$out/list.tsv" > "$out/list.tmp"
	mv "$out/list.tmp" "$out/list.tsv"
fi

# ---- Timed run --------------------------------------------------------------
if [ $timed = 1 ]; then
	start=$(date +%s)
	: > "$out/medians.tsv"
	for b in "$bin" $alts; do
		tag=$(basename "$b" | sed 's/^kvmem-bench//')
		if ! awk -F '\t' -v b="$b" '$10 == b' "$out/list.tsv" | grep -q .; then
			continue
		fi
		set -- "$b" $kbfull --kb-trace-dir "$traces" \
		    --benchmark_repetitions="$reps" \
		    --benchmark_enable_random_interleaving=true \
		    --benchmark_min_time="$mintime" \
		    --benchmark_format=json --benchmark_out="$out/raw$tag.json" \
		    --benchmark_out_format=json
		[ -n "$filter" ] && set -- "$@" --benchmark_filter="$filter"
		say "benchmark: MALLOC_CONF=$MALLOC_CONF GLIBC_TUNABLES=$GLIBC_TUNABLES $*"
		echo "running $(awk -F '\t' -v b="$b" '$10 == b' "$out/list.tsv" | wc -l)" \
		    "workloads of $(basename "$b") x $reps repetitions ..." >&2
		"$@" > "$out/stdout$tag.json" 2> "$out/stderr$tag.txt" || {
			echo "run-report.sh: $(basename "$b") failed; see $out/stderr$tag.txt" >&2
			tail -5 "$out/stderr$tag.txt" >&2
			exit 1
		}
		awk -f "$awkf" -v mode=medians "$out/raw$tag.json" >> "$out/medians.tsv"
	done
	say "(timed runs took $(( $(date +%s) - start )) s; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
	say ""
	awk -f "$awkf" -v mode=table -v unit=ns/op "$out/list.tsv" "$out/medians.tsv" |
	    tee -a "$report"
	say ""
	awk -f "$awkf" -v mode=threads "$out/list.tsv" "$out/medians.tsv" | tee -a "$report"
	awk -f "$awkf" -v mode=pc "$out/list.tsv" "$out/medians.tsv" | tee -a "$report"
fi

# ---- Untimed quantum-cache measurements ---------------------------------------
if [ -z "$filter" ]; then
	say "kvmem-bench --kb-stats (untimed counts: exact and repeatable for one thread; the"
	say "2-thread trace and producer/consumer figures depend on how the threads interleave):"
	"$bin" --kb-trace-dir "$traces" --kb-stats > "$out/stats.txt" 2>&1 ||
	    echo "run-report.sh: kvmem-bench --kb-stats reported a problem" >&2
	tee -a "$report" < "$out/stats.txt"
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
		awk -F '\t' '$9 == 0 { print $1 "\t" $10 }' "$out/list.tsv" > "$out/cglist.tsv"
	else
		awk -F '\t' '$6 == 1 && $9 == 0 { print $1 "\t" $10 }' "$out/list.tsv" \
		    > "$out/cglist.tsv"
	fi
	say "callgrind: valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no BINARY --callgrind-workload NAME"
	echo "callgrind: $(wc -l < "$out/cglist.tsv") workloads ..." >&2
	while IFS='	' read -r n b; do
		f="$out/callgrind/$(basename "$b")_$(echo "$n" | tr '/:' '__').out"
		if ! valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
		    --callgrind-out-file="$f" "$b" --kb-trace-dir "$traces" \
		    --callgrind-workload "$n" > "$f.log" 2>&1; then
			echo "run-report.sh: callgrind run of $n failed; see $f.log" >&2
			continue
		fi
		ops=$(awk -F '\t' '$1 == "kb-callgrind" { print $3 }' "$f.log")
		# pages_op (kmem rows) rides along in the counters column: Ir per page.
		pgop=$(awk -F '\t' '$1 == "kb-counter" && $2 == "pages_op" { print "pages_op=" $3 }' "$f.log")
		# With collection toggled, "summary:" may read 0; "totals:" holds the count.
		ir=$(awk '/^totals:/ { t = $2 } /^summary:/ { s = $2 }
		    END { print (t != "" ? t : s) }' "$f")
		awk -v n="$n" -v ir="$ir" -v ops="$ops" -v c="$pgop" \
		    'BEGIN { if (ops > 0) printf "%s\t%.1f\t-\tIr\t%s\n", n, ir / ops, c }' \
		    >> "$out/callgrind.tsv"
	done < "$out/cglist.tsv"
	say "instructions per operation (callgrind, collection around the measured loop only):"
	awk -f "$awkf" -v mode=table -v unit=Ir/op "$out/list.tsv" "$out/callgrind.tsv" |
	    tee -a "$report"
	say ""
fi

# ---- Quantum caches against jemalloc: ns and instructions per pair ------------
med="$out/medians.tsv"
[ $timed = 1 ] || { med="$out/medians.none"; printf -- '-\t0\n' > "$med"; }
if [ $cg = 1 ]; then
	awk -f "$awkf" -v mode=qcache "$out/list.tsv" "$med" "$out/callgrind.tsv"
else
	awk -f "$awkf" -v mode=qcache "$out/list.tsv" "$med"
fi | tee -a "$report"

# ---- kmem: per page, placement, promotion ----------------------------------------
if [ $cg = 1 ]; then
	awk -f "$awkf" -v mode=kmem "$out/list.tsv" "$med" "$out/callgrind.tsv"
else
	awk -f "$awkf" -v mode=kmem "$out/list.tsv" "$med"
fi | tee -a "$report"

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
		printf '"time": {"unit": "ns/op", "raw": "%s",\n' \
	    "$(cd "$out" && ls raw*.json 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
		awk -f "$awkf" -v mode=json -v unit=ns/op "$out/list.tsv" "$out/medians.tsv"
		printf '},\n'
	fi
	if [ $cg = 1 ]; then
		printf '"callgrind": {"unit": "Ir/op",\n'
		awk -f "$awkf" -v mode=json -v unit=Ir/op "$out/list.tsv" "$out/callgrind.tsv"
		printf '},\n'
	fi
	printf '"stats": "stats.txt",\n"report": "report.txt"\n}\n'
} > "$out/summary.json"

# ---- Plots ----------------------------------------------------------------------
if command -v gnuplot > /dev/null && [ $timed = 1 ]; then
	mkdir -p "$out/plots"
	pd="$out/plots"
	awk -f "$awkf" -v mode=plotfrag "$out/list.tsv" "$med" > "$pd/frag.dat"
	awk -f "$awkf" -v mode=plotthreads "$out/list.tsv" "$med" > "$pd/threads.dat"
	# The NUMA policy plot reads summary.json (written above), so it can be
	# redrawn from a kept summary alone.
	awk -f "$awkf" -v mode=plotnuma "$out/summary.json" > "$pd/numa.dat"
	for r in qcache_q64 qcache_q4K; do
		awk -f "$awkf" -v mode=plotqc -v row=$r "$out/list.tsv" "$med" > "$pd/$r.dat"
		if [ $cg = 1 ]; then
			awk -f "$awkf" -v mode=plotqc -v row=$r -v cg=1 "$out/list.tsv" "$med" \
			    "$out/callgrind.tsv" > "$pd/${r}_ir.dat"
		fi
	done
	made=''
	: > "$pd/gnuplot.log"
	for part in frag threads qcache numa; do
		rm -f "$pd/$part.png"
		if gnuplot -e "pd='$pd'; cg=$cg; part='$part'" "$here/plots.gp" \
		    2>> "$pd/gnuplot.log"; then
			made="$made $pd/$part.png"
		else
			echo "run-report.sh: no $part plot (no data?); see $pd/gnuplot.log" >&2
			rm -f "$pd/$part.png"
		fi
	done
	[ -z "$made" ] || say "plots:$made"
fi

echo "wrote $report and $out/summary.json" >&2
