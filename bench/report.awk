# report.awk -- the formatter behind run-report.sh (POSIX awk, no Python).
#
# awk -f report.awk -v mode=medians RAW.json
#     Google Benchmark JSON -> TSV: name, median, cv%, metric, counters.
#     The metric is real_time for manually timed rows (".../manual_time",
#     whose suffix is dropped from the name) and cpu_time otherwise.
# awk -f report.awk -v mode=table -v unit=ns/op LIST.tsv VALUES.tsv
# awk -f report.awk -v mode=json  -v unit=ns/op LIST.tsv VALUES.tsv
#     LIST.tsv is `kvmem-bench --kb-list` (name, row, sweep, value, impl,
#     callgrind-core flag, callgrind ops); VALUES.tsv holds name, value and
#     optionally cv% and counters.  "table" prints the comparison of impls
#     within each row (ratio to the row's first kvmem impl) and every sweep
#     (ratio to the sweep's first value and to the previous one); "json"
#     prints the same as two JSON arrays, "rows" and "sweeps".

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

function flush_record(    name, metric, v) {
	if (rn == "" || rtype != "aggregate")
		return
	name = rn
	metric = "cpu_time"
	if (name ~ /\/manual_time$/) {
		sub(/\/manual_time$/, "", name)
		metric = "real_time"
	} else if (name ~ /\/real_time$/) {
		sub(/\/real_time$/, "", name)
		metric = "real_time"
	}
	v = (metric == "real_time") ? rt : ct
	if (agg == "median") {
		med[name] = v
		met[name] = metric
		cnt[name] = counters
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
	else if (k ~ /^(busy_segs|free_segs|hash_buckets|hash_chain_max|imports|releases)$/)
		counters = counters (counters == "" ? "" : ",") k "=" jnum($0)
	next
}

# ---- mode=table / mode=json: read the list, then the values --------------

mode != "medians" && FNR == NR {
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

mode != "medians" {
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

END {
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
