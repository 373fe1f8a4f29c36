# plots.gp -- the benchmark report's PNG plots (gnuplot 5).
#
#   gnuplot -e "pd='DIR'; cg=0; part='frag'" bench/plots.gp
#
# run-report.sh writes the data with report.awk (modes plotfrag,
# plotthreads, plotqc) into DIR and calls this once per part: 'frag' reads
# DIR/frag.dat and writes DIR/frag.png; 'threads' DIR/threads.dat ->
# DIR/threads.png; 'qcache' DIR/qcache_q64.dat and DIR/qcache_q4K.dat (and,
# with cg=1, the *_ir.dat instruction counts) -> DIR/qcache.png; 'numa'
# DIR/numa.dat (report.awk mode=plotnuma over summary.json) -> DIR/numa.png.  Missing
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
	set terminal pngcairo size 1100,960 font ",10" noenhanced
	set output pd."/qcache.png"
	set multiplot layout 2,2 title "alloc+free pair on the quantum-cache hit path vs malloc fast paths"
} else {
	set terminal pngcairo size 1100,540 font ",10" noenhanced
	set output pd."/qcache.png"
	set multiplot layout 1,2 title "alloc+free pair on the quantum-cache hit path vs malloc fast paths"
}
set key below horizontal maxrows 3
set bmargin 8
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

if (part eq "numa") {
# ---- kmem per NUMA domain-set policy ------------------------------------------------
# numa.dat: policy ns_page_1t ns_page_2t_wall ns_page_2t_cpu local_1t local_2t cost_1t cost_2t
set terminal pngcairo size 1500,570 font ",11" noenhanced
set output pd."/numa.png"
set multiplot layout 1,3 title "kmem_malloc_domainset_k + kmem_free_k per domain-set policy\n4 domains (SLIT 10 local, 12 sibling, 20 far), mixed sizes of 5.5 pages on average; 1 thread on domain 0, 2 threads on domains 0 and 2"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by 30 right nomirror
set grid ytics
set key inside top left horizontal
set bmargin 7
set yrange [0:*]
set offsets 0, 0, graph 0.3, 0
set key inside top left vertical maxrows 3 samplen 2
set ylabel "ns per page"
set title "time per page (1 thread: CPU; 2 threads: wall and process CPU)"
plot pd."/numa.dat" using 2:xtic(1) title "1 thread (CPU)" lc rgb "#3465a4", \
     '' using 3 title "2 threads (wall)" lc rgb "#f57900", \
     '' using 4 title "2 threads (CPU)" lc rgb "#fcaf3e"
set offsets 0, 0, 0, 0
set key inside top left horizontal samplen 4
set yrange [0:125]
set ytics 0,20,100
set ylabel "% of pages"
set title "pages placed in the caller's domain"
plot pd."/numa.dat" using 5:xtic(1) title "1 thread" lc rgb "#3465a4", \
     '' using 6 title "2 threads" lc rgb "#f57900"
set yrange [0.9:1.8]
set ytics 1,0.1,1.6
set ylabel "mean SLIT distance / 10 (1 = all local)"
set title "access cost of the placed pages"
plot pd."/numa.dat" using 7:xtic(1) title "1 thread" lc rgb "#3465a4", \
     '' using 8 title "2 threads" lc rgb "#f57900"
unset multiplot
}
