# kvmem-numa charts: run 'gnuplot numa.gp' in this directory.
set terminal pngcairo size 900,560 font 'sans,10' noenhanced
set style data histogram
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside right top
set xtics rotate by -30

set output 'numa-local.png'
set multiplot layout 2,1 title 'small on 2x64M: placement per policy'
set style histogram cluster gap 1
set ylabel 'local pages (%)'
set yrange [0:105]
set xtics format ''
plot 'numa-local.dat' using 2:xtic(1) title 'quantum 2M', 'numa-local.dat' using 3:xtic(1) title 'quantum 64K'
set ylabel 'access cost (1.0 = all local)'
set yrange [0:*]
set xtics format '%g'
plot 'numa-local.dat' using 4:xtic(1) title 'quantum 2M', 'numa-local.dat' using 5:xtic(1) title 'quantum 64K'
unset multiplot

set output 'numa-domains.png'
set title 'small on 2x64M: live pages per domain at the peak'
set style histogram rowstacked
set ylabel 'pages'
set yrange [0:*]
set bmargin 6
plot for [i=2:3] 'numa-domains.dat' using i:xtic(1) title sprintf('domain %d', i-2)

set output 'numa-promotion.png'
set title 'small on 2x64M: share of mapped pages in promoted 2 MiB superpages'
set style histogram cluster gap 1
set ylabel 'promoted (%)'
set yrange [0:105]
set xlabel 'KVA quantum'
set xtics norotate
set bmargin
plot 'numa-promotion.dat' using 2:xtic(1) title 'rr', 'numa-promotion.dat' using 3:xtic(1) title 'ft', 'numa-promotion.dat' using 4:xtic(1) title 'il', 'numa-promotion.dat' using 5:xtic(1) title 'prefer:0'
