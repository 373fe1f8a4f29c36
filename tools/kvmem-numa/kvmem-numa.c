/*
 * kvmem-numa -- the NUMA policy experiment runner.
 *
 * Replays a workload (a built-in mix or a trace CSV) on a simulated NUMA
 * machine (a preset or a machine file) under each chosen domain-set
 * policy and KVA quantum, each run on a fresh kmem instance, and reports
 * where the pages landed, what that costs by the distance matrix, how
 * much of the memory superpages cover, and how fragmented the kernel
 * address space and the physical memory are.  See kvmem-numa(1) and
 * doc/numa.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "numa.h"

static const char usage_text[] =
"usage: kvmem-numa [options]\n"
"Run a workload on a simulated NUMA machine under domain-set policies and\n"
"KVA quanta (one fresh kmem instance per run) and report page placement,\n"
"access cost, superpage promotion and fragmentation.\n"
"\n"
"  -m, --machine M       a preset NxSIZE or NxSIZE-ring (2x256M, 4x256M,\n"
"                        4x256M-ring, ...) or a machine file (default 2x256M)\n"
"  -w, --workload W      small, large, mixed, skewed, or a trace CSV file\n"
"                        (bench/README.md format) (default mixed)\n"
"  -p, --policy LIST     domain sets, comma-separated: rr, ft, il, prefer:D,\n"
"                        fixed:D, wil:W0,W1,..., pmany:D,D,... with optional\n"
"                        @MASK and /STRIDE (default: all seven)\n"
"  -q, --quantum LIST    KVA quanta Q[:IMPORT], comma-separated (default 2M,64K)\n"
"  -s, --seed N          seed of the built-in workloads (default 1)\n"
"  -t, --threads N       built-in workloads: threads, 1-16 (default: one per\n"
"                        domain)\n"
"  -l, --live PCT        built-in workloads: live target in percent of memory\n"
"                        (default 50; skewed 80)\n"
"  -n, --allocs N        built-in workloads: allocations (default: the live\n"
"                        target three times over)\n"
"  -j, --json            JSON (schema kvmem-numa, version 1) instead of tables\n"
"      --plot DIR        write charts (PNG, with gnuplot) and their data to DIR\n"
"      --segments DIR    write each run's kernel address space at the peak to\n"
"                        DIR/POLICY_QUANTUM.segments (kvmem-segments format)\n"
"      --check           run kmem_check() at the end of every run\n"
"      --time            report wall-clock seconds per run\n"
"      --show-machine    print the machine in machine-file format and exit\n"
"      --dump-workload F write the workload as a trace CSV to F (- for stdout)\n"
"                        and exit\n"
"  -h, --help            this text\n"
"\n"
"Exit status: 0 ok, 1 runtime error (bad input file, failed run), 2 usage.\n";

static void
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "kvmem-numa: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'kvmem-numa --help'.\n");
	exit(2);
}

static bool
is_builtin(const char *name)
{
	for (int i = 0; numa_workload_names[i] != NULL; i++)
		if (strcmp(numa_workload_names[i], name) == 0)
			return true;
	return false;
}

static bool
looks_like_file(const char *s)
{
	struct stat st;
	size_t n = strlen(s);

	return strchr(s, '/') != NULL || (n > 4 && strcmp(s + n - 4, ".csv") == 0) ||
	    stat(s, &st) == 0;
}

/* Unsigned decimal in [lo, hi] or a usage error naming opt. */
static uint64_t
num_arg(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	char *e;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &e, 10);
	if (*s == '-' || e == s || *e != '\0' || errno != 0 || v < lo || v > hi) {
		fprintf(stderr, "kvmem-numa: %s: bad value '%s' (%" PRIu64 "-%" PRIu64 ")\n"
		    "Try 'kvmem-numa --help'.\n", opt, s, lo, hi);
		exit(2);
	}
	return v;
}

/* Check a parsed set against the machine; 0 or -1. */
static int
policy_fits(const struct domainset *ds, int ndom)
{
	uint64_t all = ndom >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << ndom) - 1);

	if (!ds->ds_all && (ds->ds_mask.__bits[0] & ~all) != 0)
		return -1;
	if (ds->ds_prefer >= ndom)
		return -1;
	if (ds->ds_policy == DOMAINSET_POLICY_PREFERRED_MANY &&
	    (ds->ds_preferred.__bits[0] & all) == 0)
		return -1;
	return 0;
}

/*
 * Split a policy list at commas; a comma followed by a digit continues the
 * previous spec (wil:2,1 and pmany:0,1 take lists).
 */
static unsigned
parse_policies(const char *list, struct numa_policy *out, unsigned max, int ndom)
{
	unsigned n = 0;
	const char *s = list;

	while (*s != '\0') {
		const char *e = s;
		size_t len;

		for (;;) {
			e += strcspn(e, ",");
			if (*e == ',' && e[1] >= '0' && e[1] <= '9') {
				e++;
				continue;
			}
			break;
		}
		len = (size_t)(e - s);
		if (len == 0 || len >= sizeof(out[0].label))
			usage_error("bad policy list '%s'", list);
		if (n == max)
			usage_error("too many policies in '%s'", list);
		memcpy(out[n].label, s, len);
		out[n].label[len] = '\0';
		if (domainset_parse(&out[n].ds, out[n].label) != 0)
			usage_error("bad policy '%s' (rr, ft, il, prefer:D, fixed:D, wil:W,..., "
			    "pmany:D,..., optionally @MASK and /STRIDE)", out[n].label);
		if (policy_fits(&out[n].ds, ndom) != 0)
			usage_error("policy '%s' names a domain the machine does not have",
			    out[n].label);
		n++;
		s = *e == ',' ? e + 1 : e;
	}
	if (n == 0)
		usage_error("empty policy list '%s'", list);
	return n;
}

/* Every policy, with parameters taken from the machine (see kvmem-numa(1)). */
static unsigned
all_policies(struct numa_policy *out, const struct numa_machine *m)
{
	char buf[256];
	size_t o;
	uint64_t minsz = m->size[0];
	int d;

	for (d = 1; d < m->ndom; d++)
		if (m->size[d] < minsz)
			minsz = m->size[d];
	o = (size_t)snprintf(buf, sizeof(buf), "rr,ft,il,prefer:0,fixed:0,wil:");
	for (d = 0; d < m->ndom && o < sizeof(buf); d++) {
		uint64_t wgt = (m->size[d] + minsz / 2) / minsz;

		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%" PRIu64, d ? "," : "",
		    wgt > 65535 ? 65535 : wgt);
	}
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, ",pmany:");
	for (d = 0; d < (m->ndom + 1) / 2 && o < sizeof(buf); d++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d", d ? "," : "", d);
	return parse_policies(buf, out, NUMA_MAXRUNS, m->ndom);
}

static unsigned
parse_quanta(const char *list, struct numa_quantum *out, unsigned max)
{
	char *copy = strdup(list), *save = NULL, *tok;
	unsigned n = 0;

	if (copy == NULL) {
		fprintf(stderr, "kvmem-numa: out of memory\n");
		exit(1);
	}
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		uint64_t q, iq;

		if (n == max)
			usage_error("too many quanta in '%s'", list);
		if (strlen(tok) >= sizeof(out[0].label))
			usage_error("bad quantum '%s'", tok);
		snprintf(out[n].label, sizeof(out[n].label), "%s", tok);
		if (colon != NULL)
			*colon = '\0';
		if (numa_parse_size(tok, &q) != 0 || q < NUMA_PAGE || (q & (q - 1)) != 0 ||
		    q > ((uint64_t)1 << 30))
			usage_error("bad quantum '%s' (a power of two from 4K to 1G, e.g. 2M)",
			    out[n].label);
		iq = q;
		if (colon != NULL && (numa_parse_size(colon + 1, &iq) != 0 || iq == 0 ||
		    iq % q != 0 || iq > ((uint64_t)1 << 34)))
			usage_error("bad import quantum in '%s' (a multiple of the quantum)",
			    out[n].label);
		out[n].kva = q;
		out[n].import = iq;
		n++;
	}
	free(copy);
	if (n == 0)
		usage_error("empty quantum list '%s'", list);
	return n;
}

enum {
	OPT_PLOT = 256, OPT_SEGMENTS, OPT_CHECK, OPT_TIME, OPT_SHOW_MACHINE, OPT_DUMP
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "machine", required_argument, NULL, 'm' },
		{ "workload", required_argument, NULL, 'w' },
		{ "policy", required_argument, NULL, 'p' },
		{ "quantum", required_argument, NULL, 'q' },
		{ "seed", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "live", required_argument, NULL, 'l' },
		{ "allocs", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, OPT_PLOT },
		{ "segments", required_argument, NULL, OPT_SEGMENTS },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "time", no_argument, NULL, OPT_TIME },
		{ "show-machine", no_argument, NULL, OPT_SHOW_MACHINE },
		{ "dump-workload", required_argument, NULL, OPT_DUMP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *machine = "2x256M", *workload = "mixed", *policies = NULL;
	const char *quanta = "2M,64K", *plotdir = NULL, *dumpfile = NULL;
	static struct numa_machine m;
	static struct numa_policy pol[NUMA_MAXRUNS];
	static struct numa_quantum q[NUMA_MAXRUNS];
	static struct numa_result runs[NUMA_MAXRUNS];
	struct numa_workload w;
	struct numa_wparams wp = { .seed = 1 };
	struct numa_opts o = { 0 };
	bool json = false, show_machine = false;
	unsigned np, nq, nruns = 0;
	int c, rc = 0;
	char msg[256];

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:w:p:q:s:t:l:n:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': machine = optarg; break;
		case 'w': workload = optarg; break;
		case 'p': policies = optarg; break;
		case 'q': quanta = optarg; break;
		case 's': wp.seed = num_arg("--seed", optarg, 0, UINT64_MAX); break;
		case 't': wp.threads = (unsigned)num_arg("--threads", optarg, 1, NUMA_MAXTHREADS); break;
		case 'l': wp.live_pct = (unsigned)num_arg("--live", optarg, 1, 95); break;
		case 'n': wp.allocs = num_arg("--allocs", optarg, 1, 100000000); break;
		case 'j': json = true; break;
		case OPT_PLOT: plotdir = optarg; break;
		case OPT_SEGMENTS: o.segdir = optarg; break;
		case OPT_CHECK: o.check = true; break;
		case OPT_TIME: o.timing = true; break;
		case OPT_SHOW_MACHINE: show_machine = true; break;
		case OPT_DUMP: dumpfile = optarg; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			usage_error("option '%s' needs an argument", argv[optind - 1]);
			break;
		default:
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);

	if (numa_machine_preset(&m, machine) != 0 && numa_machine_load(&m, machine) != 0)
		return 1;
	if (numa_machine_check(&m, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "kvmem-numa: %s: %s\n", machine, msg);
		return 1;
	}
	if (show_machine) {
		numa_machine_print(&m, stdout);
		return 0;
	}
	np = policies ? parse_policies(policies, pol, NUMA_MAXRUNS, m.ndom) : all_policies(pol, &m);
	nq = parse_quanta(quanta, q, NUMA_MAXRUNS);
	if (np * nq > NUMA_MAXRUNS)
		usage_error("too many runs (policies x quanta > %s)", "64");

	if (is_builtin(workload)) {
		if (numa_workload_builtin(&w, workload, &m, &wp) != 0)
			return 1;
	} else if (looks_like_file(workload)) {
		if (numa_workload_trace(&w, workload) != 0)
			return 1;
	} else {
		usage_error("unknown workload '%s' (small, large, mixed, skewed, or a trace file)",
		    workload);
	}
	if (dumpfile != NULL) {
		FILE *f = strcmp(dumpfile, "-") == 0 ? stdout : fopen(dumpfile, "w");

		if (f == NULL || numa_workload_write(&w, f) != 0 ||
		    (f != stdout && fclose(f) != 0)) {
			fprintf(stderr, "kvmem-numa: %s: %s\n", dumpfile, strerror(errno));
			numa_workload_free(&w);
			return 1;
		}
		numa_workload_free(&w);
		return 0;
	}
	if (o.segdir != NULL && mkdir(o.segdir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "kvmem-numa: %s: %s\n", o.segdir, strerror(errno));
		numa_workload_free(&w);
		return 1;
	}

	for (unsigned i = 0; i < np && rc == 0; i++)
		for (unsigned j = 0; j < nq && rc == 0; j++)
			if (numa_run(&m, &w, &pol[i], &q[j], &o, &runs[nruns++]) != 0)
				rc = 1;
	if (rc == 0) {
		struct numa_report rep = { &m, &w, wp.seed, o.timing, nruns, runs };

		if (json)
			numa_print_json(&rep, stdout);
		else
			numa_print_table(&rep, stdout);
		if (plotdir != NULL && numa_plot(&rep, plotdir) != 0)
			rc = 1;
	}
	numa_workload_free(&w);
	if (fflush(stdout) != 0)
		rc = 1;
	return rc;
}
