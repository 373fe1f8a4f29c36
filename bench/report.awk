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
	else if (k ~ /^(busy_segs|free_segs|hash_buckets|hash_chain_max|imports|releases|bytes_cached|bytes_inuse|seg_allocs|slabs|mag_size|hash_resizes)$/)
		counters = counters (counters == "" ? "" : ",") k "=" jnum($0)
	next
}

# ---- mode=table / mode=json: read the list, then the values --------------

mode != "medians" && FNR == 1 {
	fileno++
}

mode != "medians" && fileno == 3 {
	if ($1 != "")
		cgv[$1] = $2
	next
}

mode != "medians" && fileno == 1 {
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

mode != "medians" && fileno == 2 {
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
		if (!(n in val))
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

function qcache_block(row, q, what,    imp, ni, j, v, n, line, r1, r2, ref, je, jx) {
	ni = row_impls(row "/quanta:", imp)
	if (ni == 0)
		return
	line = sprintf("%-7s %6s", "quanta", "bytes")
	for (j = 1; j <= ni; j++)
		line = line sprintf(" %16s", imp[j])
	printf "%s %12s %13s\n", line, "qc/je_malloc", "qc/je_mallocx"
	for (v = 1; v <= 8; v++) {
		line = sprintf("%-7s %6s", v, v * q)
		for (j = 1; j <= ni; j++) {
			n = row "/quanta:" v "/" imp[j]
			line = line sprintf(" %16s", what == "ir" ? fmtcg(n) : fmtv(n))
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

function print_qcache(    rows, q, r, any) {
	rows[1] = "qcache_q64"; q[1] = 64
	rows[2] = "qcache_q4K"; q[2] = 4096
	for (r = 1; r <= 2; r++) {
		printf "%s: vmem arena of quantum %d, caches of 1-8 quanta (kvmem_qcache) or none " \
		    "(kvmem_segment);\nmedian ns per alloc+free pair; ratios: kvmem_qcache / " \
		    "jemalloc (target <= 0.75 of malloc+free)\n", rows[r], q[r]
		qcache_block(rows[r], q[r], "ns")
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

function plot_qc(    imp, ni, j, v, n) {
	ni = row_impls(row "/quanta:", imp)
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
	if (mode == "plotfrag") { plot_frag(); exit }
	if (mode == "plotqc") { plot_qc(); exit }
	if (mode == "plotthreads") { plot_threads(); exit }
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
