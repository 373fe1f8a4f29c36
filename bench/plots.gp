# plots.gp -- the benchmark report's PNG plots (gnuplot 5).
#
#   gnuplot -e "pd='DIR'; cg=0; part='frag'" bench/plots.gp
#
# run-report.sh writes the data with report.awk (modes plotfrag,
# plotthreads, plotqc) into DIR and calls this once per part: 'frag' reads
# DIR/frag.dat and writes DIR/frag.png; 'threads' DIR/threads.dat ->
# DIR/threads.png; 'qcache' DIR/qcache_q64.dat and DIR/qcache_q4K.dat (and,
# with cg=1, the *_ir.dat instruction counts) -> DIR/qcache.png.  Missing
# values are NaN and skipped (a panel with no value at all is an error, so
# each part is its own gnuplot run).

if (!exists("pd")) pd = "."
if (!exists("cg")) cg = 0
if (!exists("part")) part = "frag"

set terminal pngcairo size 1100,480 font ",10" noenhanced
set grid
set key top left

if (part eq "frag") {
# ---- Fragmentation sweep ------------------------------------------------------
set output pd."/frag.png"
set multiplot layout 1,2 title "vmem: alloc+free pair vs free segments in the arena (ns per pair, log-log; 0 plotted at 1)"
set logscale xy
set xrange [0.5:3e6]
set xtics ("0" 1, "10" 10, "100" 100, "10^3" 1000, "10^4" 1e4, "10^5" 1e5, "10^6" 1e6)
set xlabel "free segments (1-quantum holes between busy blocks)"
set ylabel "ns per pair"
set format y "%g"
set title "request the holes cannot hold (frag_nofit)"
plot pd."/frag.dat" index 0 using 1:2 with linespoints lw 2 title "kvmem instant fit", \
     ''            index 0 using 1:3 with linespoints lw 2 title "kvmem best fit", \
     ''            index 0 using 1:4 with linespoints lw 2 title "kvmem next fit", \
     ''            index 0 using 1:5 with linespoints lw 2 dt 2 title "naive first-fit list"
set title "request the holes fit exactly (frag_fit)"
plot pd."/frag.dat" index 1 using 1:2 with linespoints lw 2 title "kvmem instant fit", \
     ''            index 1 using 1:3 with linespoints lw 2 title "kvmem best fit", \
     ''            index 1 using 1:4 with linespoints lw 2 title "kvmem next fit", \
     ''            index 1 using 1:5 with linespoints lw 2 dt 2 title "naive first-fit list"
unset multiplot
}

if (part eq "threads") {
# ---- Thread scaling -------------------------------------------------------------
set output pd."/threads.png"
set multiplot layout 1,2 title "64-byte alloc+free pairs, 1 vs 2 threads (millions of pairs per second, all threads)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:*]
set xlabel ""
set ylabel "Mpairs/s"
set xtics rotate by -20
set title "measured (wall clock, shared 2-core machine)"
plot pd."/threads.dat" using 2:xtic(1) title "1 thread", '' using 3 title "2 threads"
set title "with a free core per thread (from process CPU time)"
plot pd."/threads.dat" using 4:xtic(1) title "1 thread", '' using 5 title "2 threads"
unset multiplot
}

if (part eq "qcache") {
# ---- Quantum caches against the malloc fast paths --------------------------------------
set output pd."/qcache.png"
if (cg) {
	set terminal pngcairo size 1100,860 font ",10" noenhanced
	set output pd."/qcache.png"
	set multiplot layout 2,2 title "alloc+free pair on the quantum-cache hit path vs malloc fast paths"
} else {
	set multiplot layout 1,2 title "alloc+free pair on the quantum-cache hit path vs malloc fast paths"
}
set key bottom right
set logscale y
set yrange [1:*]
set xrange [0.5:8.5]
set xtics 1
set xlabel "size (quanta)"
set ylabel "ns per pair"
set title "quantum 64 B (64-512 bytes)"
plot for [i=2:*] pd."/qcache_q64.dat" using 1:i with linespoints lw 2 title columnhead(i)
set title "quantum 4 KiB (4-32 KiB)"
plot for [i=2:*] pd."/qcache_q4K.dat" using 1:i with linespoints lw 2 title columnhead(i)
if (cg) {
	set ylabel "instructions per pair (callgrind)"
	set title "quantum 64 B: instructions"
	plot for [i=2:*] pd."/qcache_q64_ir.dat" using 1:i with linespoints lw 2 title columnhead(i)
	set title "quantum 4 KiB: instructions"
	plot for [i=2:*] pd."/qcache_q4K_ir.dat" using 1:i with linespoints lw 2 title columnhead(i)
}
unset multiplot
}
