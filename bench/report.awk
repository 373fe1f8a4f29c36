# report.awk -- the formatter behind run-report.sh (POSIX awk, no Python).
#
# awk -f report.awk -v mode=medians RAW.json
#     Google Benchmark JSON -> TSV: name, median, cv%, metric, counters.
#     The metric is real_time for manually timed rows (".../manual_time")
#     and wall-clock rows (".../process_time/real_time", whose cpu_time, the
#     process's CPU time per operation, goes into the counters as cpu_ns),
#     cpu_time otherwise; those suffixes and "/threads:N" are dropped from
#     the name.
# awk -f report.awk -v mode=table -v unit=ns/op LIST.tsv VALUES.tsv
# awk -f report.awk -v mode=json  -v unit=ns/op LIST.tsv VALUES.tsv
#     LIST.tsv is `kvmem-bench --kb-list` (name, row, sweep, value, impl,
#     callgrind-core flag, callgrind ops); VALUES.tsv holds name, value and
#     optionally cv% and counters.  "table" prints the comparison of impls
#     within each row (ratio to the row's first kvmem impl) and every sweep
#     (ratio to the sweep's first value and to the previous one); "json"
#     prints the same as two JSON arrays, "rows" and "sweeps".
# awk -f report.awk -v mode=M LIST.tsv MEDIANS.tsv [CALLGRIND.tsv]
#     The focused summaries: M = qcache (hit-path pairs of 1-8 quanta
#     against jemalloc, ns and Ir), threads (1 vs 2 threads), pc
#     (producer/consumer); plotfrag, plotqc (-v row=ROW [-v cg=1]) and
#     plotthreads write gnuplot data.

BEGIN {
	FS = "\t"
	OFS = "\t"
	nlist = 0
}

# ---- mode=medians: read Google Benchmark's JSON -------------------------

function jstr(line,    v) {
	v = line
	sub(/^[^:]*: *"/, "", v)
	sub(/",? *$/, "", v)
	return v
}

function jnum(line,    v) {
	v = line
	sub(/^[^:]*: */, "", v)
	sub(/,? *$/, "", v)
	return v + 0
}

function jkey(line,    k) {
	k = line
	sub(/^ *"/, "", k)
	sub(/".*$/, "", k)
	return k
}

function flush_record(    name, metric, v, c) {
	if (rn == "" || rtype != "aggregate")
		return
	name = rn
	metric = "cpu_time"
	sub(/\/threads:[0-9]+$/, "", name)
	c = counters
	if (name ~ /\/manual_time$/) {
		sub(/\/manual_time$/, "", name)
		metric = "real_time"
	} else if (name ~ /\/real_time$/) {
		sub(/\/real_time$/, "", name)
		sub(/\/process_time$/, "", name)
		metric = "real_time"
		c = c (c == "" ? "" : ",") "cpu_ns=" ct
	}
	v = (metric == "real_time") ? rt : ct
	if (agg == "median") {
		med[name] = v
		met[name] = metric
		cnt[name] = c
		if (!(name in seen)) {
			seen[name] = 1
			order[++norder] = name
		}
	} else if (agg == "cv") {
		cv[name] = v * 100
	}
}

mode == "medians" && /"benchmarks": \[/ { inbench = 1; next }
mode == "medians" && inbench && /^    \{/ {
	rn = ""; rtype = ""; agg = ""; rt = 0; ct = 0; counters = ""
	next
}
mode == "medians" && inbench && /^    \}/ { flush_record(); rn = ""; next }
mode == "medians" && inbench {
	k = jkey($0)
	if (k == "run_name") rn = jstr($0)
	else if (k == "run_type") rtype = jstr($0)
	else if (k == "aggregate_name") agg = jstr($0)
	else if (k == "real_time") rt = jnum($0)
	else if (k == "cpu_time") ct = jnum($0)
	else if (k ~ /^(busy_segs|free_segs|hash_buckets|hash_chain_max|imports|releases|bytes_cached|bytes_inuse|seg_allocs|slabs|mag_size|hash_resizes|pages_op|ns_page|local_share|access_cost|fallback_share|promotions_op|promoted_share)$/)
		counters = counters (counters == "" ? "" : ",") k "=" jnum($0)
	next
}

# ---- mode=table / mode=json: read the list, then the values --------------

mode != "medians" && mode != "plotnuma" && FNR == 1 {
	fileno++
}

mode != "medians" && mode != "plotnuma" && fileno == 3 {
	if ($1 != "") {
		cgv[$1] = $2
		cgcnt[$1] = $5
	}
	next
}

mode != "medians" && mode != "plotnuma" && fileno == 1 {
	if ($1 == "")
		next
	nlist++
	lname[nlist] = $1
	lrow[$1] = $2
	lsweep[$1] = ($3 == "-") ? "" : $3
	lval[$1] = ($4 == "-") ? "" : $4
	limpl[$1] = $5
	next
}

mode != "medians" && mode != "plotnuma" && fileno == 2 {
	if ($1 == "")
		next
	val[$1] = $2
	vcv[$1] = ($3 == "" || $3 == "-") ? "" : $3
	vcnt[$1] = $5
	next
}

function rowkey(n) {
	return lsweep[n] == "" ? lrow[n] : lrow[n] "/" lsweep[n] ":" lval[n]
}

function fmtnum(x) {
	x = x + 0
	if (x >= 100000) return sprintf("%.0f", x)
	if (x >= 100) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}

# Group the listed names that have values into rows and sweeps, in list order.
function build(    i, n, rk, sk) {
	nrows = 0
	nsweeps = 0
	for (i = 1; i <= nlist; i++) {
		n = lname[i]
		if (!(n in val) && !(build_cg && (n in cgv)))
			continue
		rk = rowkey(n)
		if (!(rk in rowidx)) {
			rowidx[rk] = ++nrows
			rowname[nrows] = rk
			rowcount[nrows] = 0
		}
		rowmem[rowidx[rk], ++rowcount[rowidx[rk]]] = n
		if (!(rk in rowref) && limpl[n] ~ /^kvmem/)
			rowref[rk] = n
		if (lsweep[n] != "") {
			sk = lrow[n] SUBSEP lsweep[n] SUBSEP limpl[n]
			if (!(sk in swidx)) {
				swidx[sk] = ++nsweeps
				swcount[nsweeps] = 0
			}
			swmem[swidx[sk], ++swcount[swidx[sk]]] = n
		}
	}
}

function ratio(a, b) {
	return (b + 0 > 0) ? sprintf("%.2f", a / b) : "-"
}

function print_table(    r, j, n, ref, label, s, first, prev, hdr) {
	printf "%-36s %-26s %12s %6s %9s\n", "workload", "impl", unit, "cv%", "x kvmem"
	for (r = 1; r <= nrows; r++) {
		label = rowname[r]
		ref = (label in rowref) ? val[rowref[label]] : ""
		for (j = 1; j <= rowcount[r]; j++) {
			n = rowmem[r, j]
			printf "%-36s %-26s %12s %6s %9s\n", (j == 1 ? label : ""),
			    limpl[n], fmtnum(val[n]),
			    (vcv[n] == "" ? "-" : sprintf("%.1f", vcv[n])),
			    (ref == "" ? "-" : ratio(val[n], ref))
		}
		print_notes(r, "    ")
	}
	hdr = 0
	for (s = 1; s <= nsweeps; s++)
		if (swcount[s] >= 2)
			hdr = 1
	if (!hdr)
		return
	printf "\n%-36s %-26s %-26s %12s %8s %8s\n", "sweep", "impl", "value", unit,
	    "/first", "/prev"
	for (s = 1; s <= nsweeps; s++) {
		if (swcount[s] < 2)
			continue
		for (j = 1; j <= swcount[s]; j++) {
			n = swmem[s, j]
			if (j == 1)
				first = val[n]
			printf "%-36s %-26s %-26s %12s %8s %8s\n",
			    (j == 1 ? lrow[n] " (" lsweep[n] ")" : ""),
			    (j == 1 ? limpl[n] : ""), lval[n], fmtnum(val[n]),
			    ratio(val[n], first), (j == 1 ? "" : ratio(val[n], prev))
			prev = val[n]
		}
	}
}

# ---- Notes under rows whose baseline takes a path worth knowing about ----------

# Bytes per block of a row member (0: unknown or mixed sizes).
function row_bytes(n) {
	if (lsweep[n] == "pages" || (lrow[n] == "qcache_q4K" && lsweep[n] == "quanta"))
		return lval[n] * 4096
	if (lrow[n] == "pair_16KiB_align4K")
		return 16384
	return 0
}

# The note lines for row r (index into rowname/rowmem), each prefixed by pre.
function print_notes(r, pre,    j, n, b, je, gl, zero, mixed) {
	je = 0; gl = 0
	for (j = 1; j <= rowcount[r]; j++) {
		n = rowmem[r, j]
		b = row_bytes(n)
		mixed = (lrow[n] == "kmem_mixed")
		zero = (lrow[n] ~ /_zero$/)
		if (limpl[n] ~ /^jemalloc.*align/ && (b >= 16384 || mixed))
			je = 1
		if (limpl[n] ~ /^glibc_memalign/ && lrow[n] ~ /^kmem_pair/ && b >= 131072)
			gl = 1
	}
	if (je) {
		printf "%snote: jemalloc 5.3 takes a slow path for page-aligned mallocx of 16 KiB and more:\n", pre
		printf "%s      arena_palloc -> large_palloc (extent allocation under the arena's locks),\n", pre
		printf "%s      not the thread cache that unaligned mallocx of the same size uses.\n", pre
		if (mixed)
			printf "%s      7 of the 16 entries of the size mix are 16 KiB or more.\n", pre
		if (zero)
			printf "%s      MALLOCX_ZERO of such blocks purges (madvise) instead of writing zeros: the\n" \
			    "%s      zeroing moves to page faults on first touch, which these rows never make.\n",
			    pre, pre
	}
	if (gl)
		printf "%snote: glibc serves this size with mmap+munmap per pair (the report's trim_threshold\n" \
		    "%s      tunable turns the dynamic mmap threshold off)%s.\n", pre, pre,
		    (zero ? "; the memset then faults in every page" : "")
}

function jq(s) {
	return "\"" s "\""
}

function print_json(    r, j, n, ref, label, s, first, prev, sep) {
	printf "\"rows\": ["
	sep = ""
	for (r = 1; r <= nrows; r++) {
		label = rowname[r]
		ref = (label in rowref) ? val[rowref[label]] : ""
		for (j = 1; j <= rowcount[r]; j++) {
			n = rowmem[r, j]
			printf "%s\n  {\"name\": %s, \"row\": %s, \"sweep\": %s, \"value\": %s, " \
			    "\"impl\": %s, \"median\": %s, \"cv_pct\": %s, \"ratio_to_kvmem\": %s%s}",
			    sep, jq(n), jq(lrow[n]), (lsweep[n] == "" ? "null" : jq(lsweep[n])),
			    (lval[n] == "" ? "null" : jq(lval[n])), jq(limpl[n]), val[n] + 0,
			    (vcv[n] == "" ? "null" : sprintf("%.2f", vcv[n])),
			    (ref == "" ? "null" : ratio(val[n], ref)),
			    (vcnt[n] == "" ? "" : ", \"counters\": " jq(vcnt[n]))
			sep = ","
		}
	}
	printf "\n],\n\"sweeps\": ["
	sep = ""
	for (s = 1; s <= nsweeps; s++) {
		for (j = 1; j <= swcount[s]; j++) {
			n = swmem[s, j]
			if (j == 1)
				first = val[n]
			printf "%s\n  {\"row\": %s, \"sweep\": %s, \"impl\": %s, \"value\": %s, " \
			    "\"median\": %s, \"ratio_to_first\": %s, \"ratio_to_prev\": %s}",
			    sep, jq(lrow[n]), jq(lsweep[n]), jq(limpl[n]), jq(lval[n]),
			    val[n] + 0, ratio(val[n], first),
			    (j == 1 ? "null" : ratio(val[n], prev))
			prev = val[n]
			sep = ","
		}
	}
	printf "\n]"
}

# ---- Focused summaries ------------------------------------------------------

# The value of counter k of name n ("" if absent).
function counter(n, k,    s, parts, i, m) {
	s = vcnt[n]
	m = split(s, parts, ",")
	for (i = 1; i <= m; i++)
		if (index(parts[i], k "=") == 1)
			return substr(parts[i], length(k) + 2)
	return ""
}

function has(n) {
	return (n in val)
}

function fmtv(n) {
	return has(n) ? fmtnum(val[n]) : "-"
}

function fmtcg(n) {
	return (n in cgv) ? fmtnum(cgv[n]) : "-"
}

# Impls present in a row (list order), into the array imp; returns count.
function row_impls(prefix, imp,    i, n, k, seen2) {
	k = 0
	for (i = 1; i <= nlist; i++) {
		n = lname[i]
		if (index(n, prefix) == 1 && !((limpl[n]) in seen2)) {
			seen2[limpl[n]] = 1
			imp[++k] = limpl[n]
		}
	}
	return k
}

function qcache_block(row, q, what,    imp, ni, j, v, n, line, r1, r2, ref, je, jx, w) {
	ni = row_impls(row "/quanta:", imp)
	if (ni == 0)
		return
	line = sprintf("%-7s %6s", "quanta", "bytes")
	for (j = 1; j <= ni; j++) {
		w[j] = length(imp[j]) > 16 ? length(imp[j]) : 16
		line = line sprintf(" %" w[j] "s", imp[j])
	}
	printf "%s %12s %13s\n", line, "qc/je_malloc", "qc/je_mallocx"
	for (v = 1; v <= 8; v++) {
		line = sprintf("%-7s %6s", v, v * q)
		for (j = 1; j <= ni; j++) {
			n = row "/quanta:" v "/" imp[j]
			line = line sprintf(" %" w[j] "s", what == "ir" ? fmtcg(n) : fmtv(n))
		}
		ref = row "/quanta:" v "/kvmem_qcache"
		je = row "/quanta:" v "/jemalloc_malloc"
		jx = row "/quanta:" v "/jemalloc_mallocx"
		if (what == "ir") {
			r1 = (ref in cgv && je in cgv) ? ratio(cgv[ref], cgv[je]) : "-"
			r2 = (ref in cgv && jx in cgv) ? ratio(cgv[ref], cgv[jx]) : "-"
		} else {
			r1 = (has(ref) && has(je)) ? ratio(val[ref], val[je]) : "-"
			r2 = (has(ref) && has(jx)) ? ratio(val[ref], val[jx]) : "-"
		}
		printf "%s %12s %13s\n", line, r1, r2
	}
}

function print_qcache(    rows, q, r, any, dummy) {
	rows[1] = "qcache_q64"; q[1] = 64
	rows[2] = "qcache_q4K"; q[2] = 4096
	for (r = 1; r <= 2; r++) {
		printf "%s: vmem arena of quantum %d, caches of 1-8 quanta (kvmem_qcache) or none " \
		    "(kvmem_segment);\nmedian ns per alloc+free pair; ratios: kvmem_qcache / " \
		    "jemalloc (target <= 0.75 of malloc+free)\n", rows[r], q[r]
		qcache_block(rows[r], q[r], "ns")
		if (row_impls(rows[r] "/quanta:4/jemalloc_mallocx_align", dummy) > 0)
			printf "note: jemalloc_mallocx_align is mallocx(MALLOCX_ALIGN(4096)) + sdallocx; jemalloc 5.3 serves\n" \
			    "page-aligned requests of 16 KiB (4 quanta) and more outside its thread cache\n" \
			    "(arena_palloc -> large_palloc), unlike the same sizes without alignment.\n"
		any = 0
		for (n in cgv)
			if (index(n, rows[r] "/") == 1)
				any = 1
		if (any) {
			printf "instructions per pair (callgrind):\n"
			qcache_block(rows[r], q[r], "ir")
		}
		printf "\n"
	}
}

function print_threads(    imp, ni, j, n1, n2, w1, w2, c1, c2) {
	ni = row_impls("qc_threads/threads:1/", imp)
	if (ni == 0)
		return
	printf "thread scaling, 64-byte alloc+free pairs in 1 or 2 threads (wall ns per pair over all\n" \
	    "threads = 1/throughput; cpu = process CPU ns per pair):\n"
	printf "%-16s %10s %10s %10s %10s %10s %12s\n", "impl", "wall_1thr", "wall_2thr",
	    "thrpt_x", "cpu_1thr", "cpu_2thr", "cpu_scaling"
	for (j = 1; j <= ni; j++) {
		n1 = "qc_threads/threads:1/" imp[j]
		n2 = "qc_threads/threads:2/" imp[j]
		if (!has(n1) || !has(n2))
			continue
		w1 = val[n1]; w2 = val[n2]
		c1 = counter(n1, "cpu_ns"); c2 = counter(n2, "cpu_ns")
		printf "%-16s %10s %10s %10s %10s %10s %12s\n", imp[j], fmtnum(w1), fmtnum(w2),
		    ratio(w1, w2), (c1 == "" ? "-" : fmtnum(c1)), (c2 == "" ? "-" : fmtnum(c2)),
		    (c1 == "" || c2 + 0 <= 0) ? "-" : sprintf("%.2f", 2 * c1 / c2)
	}
	printf "thrpt_x = wall_1thr / wall_2thr, the throughput ratio on this (shared) machine;\n" \
	    "cpu_scaling = 2 * cpu_1thr / cpu_2thr, the ratio with a free core per thread.\n\n"
}

function print_pc(    rows, r, imp, ni, j, n, ref, c, bc) {
	rows[1] = "pc_64B"; rows[2] = "pc_4KiB"
	printf "producer/consumer: one thread allocates, another frees, through a ring of 1024\n" \
	    "(wall ns per transfer; cpu = process CPU ns per transfer, both threads):\n"
	printf "%-10s %-16s %10s %8s %10s %12s %12s\n", "row", "impl", "wall_ns", "x kvmem",
	    "cpu_ns", "bytes_cached", "seg_allocs"
	for (r = 1; r <= 2; r++) {
		delete imp
		ni = row_impls(rows[r] "/", imp)
		ref = rows[r] "/kvmem_qcache"
		for (j = 1; j <= ni; j++) {
			n = rows[r] "/" imp[j]
			if (!has(n))
				continue
			c = counter(n, "cpu_ns")
			bc = counter(n, "bytes_cached")
			printf "%-10s %-16s %10s %8s %10s %12s %12s\n", (j == 1 ? rows[r] : ""),
			    imp[j], fmtnum(val[n]), has(ref) ? ratio(val[n], val[ref]) : "-",
			    (c == "" ? "-" : fmtnum(c)), (bc == "" ? "-" : bc),
			    (counter(n, "seg_allocs") == "" ? "-" : counter(n, "seg_allocs"))
		}
	}
	printf "\n"
}

# ---- kmem summary --------------------------------------------------------------

function cgcounter(n, k,    s, parts, i, m) {
	s = cgcnt[n]
	m = split(s, parts, ",")
	for (i = 1; i <= m; i++)
		if (index(parts[i], k "=") == 1)
			return substr(parts[i], length(k) + 2)
	return ""
}

function pct(x) {
	return (x == "") ? "-" : sprintf("%.1f", 100 * x)
}

function print_kmem(    r, j, n, ref, pg, cpu, cgpg, lab, any, last) {
	any = 0
	for (r = 1; r <= nrows; r++)
		if (rowname[r] ~ /^kmem_/)
			any = 1
	if (!any)
		return
	printf "kmem: kmem_malloc_k + kmem_free_k (M_NOWAIT) on a simulated machine of 4 domains x 64 MiB,\n" \
	    "8 CPUs, SLIT 10 local / 12 sibling / 20 far; thread 0 on domain 0, thread 1 on domain 2.\n" \
	    "Baselines: jemalloc mallocx(MALLOCX_ALIGN(4096)) + sdallocx, glibc memalign(4096) + free\n" \
	    "(+ MALLOCX_ZERO / memset in the _zero rows).  One op = one allocation + one free.\n" \
	    "ns/page = ns/op / pages/op (2t rows: wall clock over both threads; cpu/pg: process CPU);\n" \
	    "local%% = pages placed in the caller's domain; cost = SLIT distance per page / 10;\n" \
	    "fallb%% = allocations placed off the policy's choice; promo/op = superpage promotions per op;\n" \
	    "prom%% = 2 MiB chunks with pages that are mapped by one superpage (live-set rows).\n"
	printf "%-42s %-23s %9s %6s %8s %7s %7s %6s %5s %6s %8s %6s%s\n", "row", "impl", "ns/op",
	    "pg/op", "ns/page", "cpu/pg", "x kvmem", "local%", "cost", "fallb%", "promo/op", "prom%",
	    (cgfile ? sprintf(" %8s", "Ir/page") : "")
	for (r = 1; r <= nrows; r++) {
		lab = rowname[r]
		if (lab !~ /^kmem_/)
			continue
		ref = (lab in rowref) && (rowref[lab] in val) ? val[rowref[lab]] : ""
		for (j = 1; j <= rowcount[r]; j++) {
			n = rowmem[r, j]
			pg = counter(n, "pages_op")
			cpu = counter(n, "cpu_ns")
			cgpg = cgcounter(n, "pages_op")
			if (pg == "")
				pg = cgpg
			printf "%-42s %-23s %9s %6s %8s %7s %7s %6s %5s %6s %8s %6s%s\n",
			    (j == 1 ? lab : ""), limpl[n], fmtv(n),
			    (pg == "" ? "-" : sprintf("%.2f", pg)),
			    (pg + 0 > 0 && has(n) ? fmtnum(val[n] / pg) : "-"),
			    (pg + 0 > 0 && cpu != "" ? fmtnum(cpu / pg) : "-"),
			    (ref == "" || !has(n) ? "-" : ratio(val[n], ref)),
			    pct(counter(n, "local_share")),
			    (counter(n, "access_cost") == "" ? "-" : sprintf("%.2f", counter(n, "access_cost"))),
			    pct(counter(n, "fallback_share")),
			    (counter(n, "promotions_op") == "" ? "-" : sprintf("%.3g", counter(n, "promotions_op"))),
			    pct(counter(n, "promoted_share")),
			    (!cgfile ? "" : sprintf(" %8s",
				(n in cgv) && cgpg + 0 > 0 ? fmtnum(cgv[n] / cgpg) : "-"))
		}
		print_notes(r, "  ")
	}
	printf "\n"
}

# ---- Plot data from summary.json (mode=plotnuma) -----------------------------------

# The value of "key": "..." or "key": number on a summary.json row line.
function jfield(line, key,    i, v) {
	i = index(line, "\"" key "\": ")
	if (i == 0)
		return ""
	v = substr(line, i + length(key) + 4)
	if (substr(v, 1, 1) == "\"") {
		v = substr(v, 2)
		sub(/".*$/, "", v)
	} else
		sub(/[,}].*$/, "", v)
	return v
}

# One counter out of a row's "counters" string.
function jcounter(line, k,    s, parts, i, m) {
	s = jfield(line, "counters")
	m = split(s, parts, ",")
	for (i = 1; i <= m; i++)
		if (index(parts[i], k "=") == 1)
			return substr(parts[i], length(k) + 2)
	return ""
}

function plot_numa(    i, p, t, pg, x, lab) {
	printf "# policy ns_page_1t ns_page_2t_wall ns_page_2t_cpu local_1t local_2t cost_1t cost_2t\n"
	lab["rr"] = "round-robin"; lab["ft"] = "first-touch"; lab["il"] = "interleave"
	lab["prefer0"] = "prefer:0"; lab["fixed0"] = "fixed:0"
	lab["wil4211"] = "weighted-il:4,2,1,1"; lab["pmany01"] = "preferred-many:0,1"
	for (i = 1; i <= npol; i++) {
		p = pols[i]
		printf "\"%s\"", (p in lab) ? lab[p] : p
		x = p SUBSEP "1t"
		printf " %s", (x in nsp) ? nsp[x] : "NaN"
		x = p SUBSEP "2t"
		printf " %s %s", (x in nsp) ? nsp[x] : "NaN", (x in cpp) ? cpp[x] : "NaN"
		for (t = 1; t <= 2; t++) {
			x = p SUBSEP t "t"
			printf " %s", (x in loc) ? loc[x] * 100 : "NaN"
		}
		for (t = 1; t <= 2; t++) {
			x = p SUBSEP t "t"
			printf " %s", (x in cst) ? cst[x] : "NaN"
		}
		printf "\n"
	}
}

mode == "plotnuma" && /"row": "kmem_numa_[12]t"/ {
	if (injson != 1)
		next
	pn = jfield($0, "value")
	tn = jfield($0, "row")
	sub(/^kmem_numa_/, "", tn)
	if (!(pn in polseen)) {
		polseen[pn] = 1
		pols[++npol] = pn
	}
	pg = jcounter($0, "pages_op")
	if (pg + 0 <= 0)
		next
	nsp[pn, tn] = jfield($0, "median") / pg
	if (jcounter($0, "cpu_ns") != "")
		cpp[pn, tn] = jcounter($0, "cpu_ns") / pg
	if (jcounter($0, "local_share") != "")
		loc[pn, tn] = jcounter($0, "local_share")
	if (jcounter($0, "access_cost") != "")
		cst[pn, tn] = jcounter($0, "access_cost")
	next
}
# Only the timed section's rows (not the callgrind section's).
mode == "plotnuma" && /^"time": / { injson = 1; next }
mode == "plotnuma" && /^"callgrind": / { injson = 2; next }
mode == "plotnuma" { next }

function num_or_nan(n) {
	return has(n) ? val[n] : "NaN"
}

function plot_frag(    rows, r, vals, v, x, impls, j) {
	rows[1] = "frag_nofit"; rows[2] = "frag_fit"
	vals[1] = "0"; vals[2] = "1000"; vals[3] = "1000000"
	impls[1] = "kvmem_instant"; impls[2] = "kvmem_best"; impls[3] = "kvmem_next"
	impls[4] = "firstfit_list"
	for (r = 1; r <= 2; r++) {
		printf "# %s: holes instant best next firstfit (ns/op)\n", rows[r]
		for (v = 1; v <= 3; v++) {
			x = (vals[v] == "0") ? 1 : vals[v]
			printf "%s", x
			for (j = 1; j <= 4; j++)
				printf " %s", num_or_nan(rows[r] "/holes:" vals[v] "/" impls[j])
			printf "\n"
		}
		printf "\n\n"
	}
}

function plot_qc(    imp, ni, j, v, n, t) {
	ni = row_impls(row "/quanta:", imp)
	# Impls only some rows have (page-aligned mallocx) go last, so the
	# shared ones keep their column, and colour, in every panel.
	for (j = 1; j < ni; j++)
		if (imp[j] ~ /align/) {
			t = imp[j]
			for (v = j; v < ni; v++)
				imp[v] = imp[v + 1]
			imp[ni] = t
			break
		}
	printf "quanta"		# a header line: gnuplot's columnhead titles
	for (j = 1; j <= ni; j++)
		printf " %s", imp[j]
	printf "\n"
	for (v = 1; v <= 8; v++) {
		printf "%d", v
		for (j = 1; j <= ni; j++) {
			n = row "/quanta:" v "/" imp[j]
			if (cg)
				printf " %s", (n in cgv) ? cgv[n] : "NaN"
			else
				printf " %s", num_or_nan(n)
		}
		printf "\n"
	}
}

function plot_threads(    imp, ni, j, n1, n2, c1, c2) {
	ni = row_impls("qc_threads/threads:1/", imp)
	printf "# impl mops_1thr mops_2thr cpu_mops_1thr cpu_mops_2thr\n"
	for (j = 1; j <= ni; j++) {
		n1 = "qc_threads/threads:1/" imp[j]
		n2 = "qc_threads/threads:2/" imp[j]
		if (!has(n1) || !has(n2))
			continue
		c1 = counter(n1, "cpu_ns"); c2 = counter(n2, "cpu_ns")
		# Throughput in millions of pairs per second; the cpu columns are
		# what 1 and 2 threads would do with a free core each.
		printf "%s %.3f %.3f %s %s\n", imp[j], 1000 / val[n1], 1000 / val[n2],
		    (c1 + 0 > 0) ? sprintf("%.3f", 1000 / c1) : "NaN",
		    (c2 + 0 > 0) ? sprintf("%.3f", 2000 / c2) : "NaN"
	}
}

END {
	if (mode == "qcache") { print_qcache(); exit }
	if (mode == "threads") { print_threads(); exit }
	if (mode == "pc") { print_pc(); exit }
	if (mode == "kmem") { cgfile = build_cg = (fileno >= 3); build(); print_kmem(); exit }
	if (mode == "plotfrag") { plot_frag(); exit }
	if (mode == "plotqc") { plot_qc(); exit }
	if (mode == "plotthreads") { plot_threads(); exit }
	if (mode == "plotnuma") { plot_numa(); exit }
	if (mode == "medians") {
		for (i = 1; i <= norder; i++) {
			n = order[i]
			print n, med[n], (n in cv) ? sprintf("%.2f", cv[n]) : "-", met[n], cnt[n]
		}
		exit
	}
	build()
	if (mode == "table")
		print_table()
	else if (mode == "json")
		print_json()
}
