/*
 * kvmem-trace -- record, replay and summarise allocation traces in the
 * benchmark suite's CSV format (bench/README.md).  See kvmem-trace(1).
 *
 *   kvmem-trace record -o FILE [--] COMMAND [ARG...]
 *   kvmem-trace replay [--backend B] [--quantum Q] [--qcache-max N] ... FILE
 *   kvmem-trace info FILE
 *   kvmem-trace gen [tracegen arguments]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvmem/vmem.h>

#include "kreplay.h"
#include "ktrace.h"

#define PROG	"kvmem-trace"
#define RECLIB	"libkvmem-trace-record.so"

#ifndef KVMEM_TRACE_LIBDIR
#define KVMEM_TRACE_LIBDIR	"/usr/local/lib"
#endif
#ifndef KVMEM_TRACE_REL_LIBDIR
#define KVMEM_TRACE_REL_LIBDIR	"../lib"
#endif

/* The generator of bench/tracegen.c, compiled in with its main renamed. */
int kvmem_tracegen_main(int argc, char **argv);

static const char usage_main[] =
    "usage: kvmem-trace record -o FILE [--] COMMAND [ARG...]\n"
    "       kvmem-trace replay [OPTIONS] FILE\n"
    "       kvmem-trace info FILE\n"
    "       kvmem-trace gen [--seed N] [--allocs N] [--live N] [-o FILE] KIND\n"
    "       kvmem-trace SUBCOMMAND --help\n"
    "Record a program's malloc calls as a trace, replay a trace against a\n"
    "kvmem arena or malloc, summarise a trace, or generate one.\n";

static const char usage_record[] =
    "usage: kvmem-trace record -o FILE [--] COMMAND [ARG...]\n"
    "Run COMMAND with " RECLIB " preloaded and write its malloc, calloc,\n"
    "realloc, free, posix_memalign, aligned_alloc and memalign calls to FILE\n"
    "as a closed trace.  Exits with COMMAND's status.\n"
    "  -o, --output FILE   the trace to write (replaced)\n"
    "  -h, --help          this text\n"
    "Environment: KVMEM_TRACE_RECORD_LIB overrides the library's path.\n";

static const char usage_replay[] =
    "usage: kvmem-trace replay [OPTIONS] FILE\n"
    "Replay a trace in file order and print a summary.\n"
    "  -b, --backend B        vmem (default), vmem-qcache or malloc\n"
    "  -q, --quantum Q        arena quantum (default: the trace's, else 16)\n"
    "  -c, --qcache-max N     vmem-qcache: cache sizes up to N bytes (default 8 quanta)\n"
    "  -i, --import-quantum N arena imports in units of N (default max(64 KiB, 16 quanta))\n"
    "  -f, --fit F            instant (default), best or next\n"
    "  -t, --time             also time a second, unmeasured replay (ns/event)\n"
    "  -h, --help             this text\n";

static const char usage_info[] =
    "usage: kvmem-trace info FILE\n"
    "Summarise a trace: events, threads, sizes by power of two, peak live bytes.\n"
    "  -h, --help   this text\n";

static const char usage_gen[] =
    "usage: kvmem-trace gen [--seed N] [--allocs N] [--live N] [-o FILE] KIND\n"
    "       kvmem-trace gen --all DIR\n"
    "       kvmem-trace gen --list\n"
    "Write a synthetic trace (the benchmark suite's kvmem-tracegen).\n"
    "  -h, --help   this text\n";

/* Parse an unsigned number (0x hex, or decimal with optional K/M/G suffix). */
static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	x = strtoull(s, &end, 0);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': x <<= 10; end++; break;
	case 'm': case 'M': x <<= 20; end++; break;
	case 'g': case 'G': x <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0')
		return -1;
	*v = x;
	return 0;
}

static int
bad_usage(const char *usage, const char *fmt, const char *arg)
{
	if (fmt != NULL) {
		fprintf(stderr, PROG ": ");
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	fputs(usage, stderr);
	return 2;
}

static const char *
base_name(const char *path)
{
	const char *b = strrchr(path, '/');

	return b != NULL ? b + 1 : path;
}

/* ---- info ---------------------------------------------------------------- */

static int
cmd_info(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };
	struct kt_trace t;
	char err[512];
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage_info, stdout);
			return 0;
		}
		return bad_usage(usage_info, NULL, NULL);
	}
	if (optind + 1 != argc)
		return bad_usage(usage_info, "info needs exactly one FILE", NULL);
	if (kt_load(&t, argv[optind], KT_ALLOW_OPEN, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}

	uint64_t hist[33] = { 0 }, per_a[KT_MAXT] = { 0 }, per_f[KT_MAXT] = { 0 };
	uint64_t live = 0, peak = 0, nlive = 0, peak_blocks = 0, total = 0;
	uint32_t peak_at = 0, smin = UINT32_MAX, smax = 0, cross = 0;

	for (uint32_t i = 0; i < t.n; i++) {
		uint32_t sz = t.size[i];

		if (t.ref[i] == KT_NONE) {
			int b = 0;

			while (b < 32 && ((uint64_t)1 << (b + 1)) <= sz)
				b++;
			hist[b]++;
			per_a[t.thread[i]]++;
			total += sz;
			smin = sz < smin ? sz : smin;
			smax = sz > smax ? sz : smax;
			live += sz;
			nlive++;
			if (live > peak) {
				peak = live;
				peak_at = i;
				peak_blocks = nlive;
			}
		} else {
			per_f[t.thread[i]]++;
			if (t.thread[t.ref[i]] != t.thread[i])
				cross++;
			live -= sz;
			nlive--;
		}
	}
	printf("trace           %s\n", base_name(argv[optind]));
	if (t.kind[0] != '\0')
		printf("kind            %s\n", t.kind);
	printf("quantum         %" PRIu64 "%s\n", t.quantum, t.has_quantum ? "" : " (default)");
	printf("events          %" PRIu32 "\n", t.n);
	printf("allocations     %" PRIu32 "\n", t.nallocs);
	printf("frees           %" PRIu32 "\n", t.nfrees);
	if (t.closed)
		printf("closed          yes\n");
	else
		printf("closed          no: %" PRIu32 " allocations never freed\n",
		    t.nallocs - t.nfrees);
	printf("threads         %" PRIu32 "\n", t.nthreads);
	for (uint32_t k = 0; k < t.nthreads && t.nthreads > 1; k++)
		printf("  thread %-6" PRIu32 " %" PRIu64 " allocations, %" PRIu64 " frees\n",
		    k, per_a[k], per_f[k]);
	if (t.nthreads > 1)
		printf("cross-thread    %" PRIu32 " frees\n", cross);
	if (t.nallocs > 0) {
		printf("sizes           min %" PRIu32 ", max %" PRIu32 ", mean %.1f, "
		    "total %" PRIu64 " bytes\n", smin, smax,
		    (double)total / (double)t.nallocs, total);
		printf("peak live       %" PRIu64 " bytes in %" PRIu64 " blocks, "
		    "after event %" PRIu32 "\n", peak, peak_blocks, peak_at);
		printf("size histogram  (allocations by size, power-of-two buckets)\n");
		for (int b = 0; b <= 32; b++) {
			char range[48];
			int bar;

			if (hist[b] == 0)
				continue;
			snprintf(range, sizeof(range), "[%" PRIu64 ", %" PRIu64 ")",
			    (uint64_t)1 << b, (uint64_t)1 << (b + 1));
			bar = (int)((hist[b] * 40 + t.nallocs - 1) / t.nallocs);
			printf("  %-24s %10" PRIu64 " %5.1f%%  %.*s\n", range, hist[b],
			    100.0 * (double)hist[b] / (double)t.nallocs, bar,
			    "########################################");
		}
	}
	kt_free(&t);
	return 0;
}

/* ---- replay ---------------------------------------------------------------- */

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmd_replay(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "backend", required_argument, NULL, 'b' },
		{ "quantum", required_argument, NULL, 'q' },
		{ "qcache-max", required_argument, NULL, 'c' },
		{ "import-quantum", required_argument, NULL, 'i' },
		{ "fit", required_argument, NULL, 'f' },
		{ "time", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	struct kr_cfg cfg = { KR_VMEM, 0, 0, 0, M_FIRSTFIT, 1 };
	const char *fitname = "instant";
	struct kt_trace t;
	struct kr r;
	char err[512];
	int c, timed = 0, qmax_set = 0;

	while ((c = getopt_long(argc, argv, "b:q:c:i:f:th", lo, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (strcmp(optarg, "vmem") == 0)
				cfg.backend = KR_VMEM;
			else if (strcmp(optarg, "vmem-qcache") == 0)
				cfg.backend = KR_VMEM_QCACHE;
			else if (strcmp(optarg, "malloc") == 0)
				cfg.backend = KR_MALLOC;
			else
				return bad_usage(usage_replay, "unknown backend '%s'", optarg);
			break;
		case 'q':
			if (parse_u64(optarg, &cfg.quantum) != 0 || cfg.quantum == 0 ||
			    (cfg.quantum & (cfg.quantum - 1)) != 0)
				return bad_usage(usage_replay,
				    "--quantum wants a power of two, not '%s'", optarg);
			break;
		case 'c':
			if (parse_u64(optarg, &cfg.qcache_max) != 0)
				return bad_usage(usage_replay, "bad --qcache-max '%s'", optarg);
			qmax_set = 1;
			break;
		case 'i':
			if (parse_u64(optarg, &cfg.import_quantum) != 0)
				return bad_usage(usage_replay, "bad --import-quantum '%s'", optarg);
			break;
		case 'f':
			fitname = optarg;
			if (strcmp(optarg, "instant") == 0)
				cfg.fit = M_FIRSTFIT;
			else if (strcmp(optarg, "best") == 0)
				cfg.fit = M_BESTFIT;
			else if (strcmp(optarg, "next") == 0)
				cfg.fit = M_NEXTFIT;
			else
				return bad_usage(usage_replay, "unknown fit '%s'", optarg);
			break;
		case 't':
			timed = 1;
			break;
		case 'h':
			fputs(usage_replay, stdout);
			return 0;
		default:
			return bad_usage(usage_replay, NULL, NULL);
		}
	}
	if (optind + 1 != argc)
		return bad_usage(usage_replay, "replay needs exactly one FILE", NULL);
	if (qmax_set && cfg.backend != KR_VMEM_QCACHE)
		return bad_usage(usage_replay, "--qcache-max needs --backend vmem-qcache", NULL);
	if (qmax_set && cfg.qcache_max == 0)
		return bad_usage(usage_replay, "--qcache-max must be positive", NULL);
	if (kt_load(&t, argv[optind], 0, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	if (kr_open(&r, &cfg, &t) != 0) {
		kt_free(&t);
		return 1;
	}
	kr_run(&r, t.n);

	struct vmem_stats st;
	int arena = r.vm != NULL;

	memset(&st, 0, sizeof(st));
	st.version = VMEM_STATS_VERSION;
	if (arena)
		vmem_get_stats(r.vm, &st);
	printf("trace             %s\n", base_name(argv[optind]));
	printf("events            %" PRIu32 "\n", t.n);
	printf("allocations       %" PRIu64 "\n", r.allocs);
	printf("frees             %" PRIu64 "\n", r.frees);
	printf("threads           %" PRIu32 " (replayed in file order)\n", t.nthreads);
	printf("backend           %s", kr_backend_name(cfg.backend));
	if (arena)
		printf(", %s fit", fitname);
	printf("\n");
	if (arena) {
		printf("quantum           %" PRIu64 "\n", r.cfg.quantum);
		if (cfg.backend == KR_VMEM_QCACHE)
			printf("qcache-max        %" PRIu64 "\n", r.cfg.qcache_max);
		printf("import quantum    %" PRIu64 "\n", r.cfg.import_quantum);
	}
	printf("peak requested    %" PRIu64 " bytes live\n", r.peak_req);
	if (arena) {
		printf("peak in use       %" PRIu64 " bytes (rounded to the quantum)\n",
		    r.peak_inuse);
		printf("peak arena total  %" PRIu64 " bytes (spans imported)\n", r.peak_total);
		printf("footprint         %.3f (peak total / peak requested)\n",
		    r.peak_req ? (double)r.peak_total / (double)r.peak_req : 0.0);
		printf("imports           %" PRIu64 "\n", st.imports);
		printf("releases          %" PRIu64 "\n", st.releases);
		if (r.seg_stride > 1) {
			printf("peak spans        %" PRIu64 " (sampled every %" PRIu32
			    " events)\n", r.peak_spans, r.seg_stride);
			printf("peak segments     %" PRIu64 " (busy + free, sampled every %"
			    PRIu32 " events)\n", r.peak_segs, r.seg_stride);
		} else {
			printf("peak spans        %" PRIu64 "\n", r.peak_spans);
			printf("peak segments     %" PRIu64 " (busy + free)\n", r.peak_segs);
		}
		printf("segment allocs    %" PRIu64 " (arena lock taken)\n", st.allocs);
		printf("end in use        %" PRIu64 " bytes\n", (uint64_t)st.bytes_inuse);
	}
	printf("fails             %" PRIu64 "\n", r.fails);
	kr_close(&r);
	if (timed) {
		double t0, t1;

		cfg.measure = 0;
		if (kr_open(&r, &cfg, &t) != 0) {
			kt_free(&t);
			return 1;
		}
		t0 = now_ns();
		kr_run(&r, t.n);
		t1 = now_ns();
		kr_close(&r);
		printf("time              %.1f ns/event (%" PRIu32 " events, one pass)\n",
		    (t1 - t0) / (double)t.n, t.n);
	}
	kt_free(&t);
	return r.fails != 0 ? 1 : 0;
}

/* ---- record ---------------------------------------------------------------- */

/* Find the preload library: the environment, then next to the tool, then installed. */
static int
find_reclib(char *out, size_t len)
{
	const char *env = getenv("KVMEM_TRACE_RECORD_LIB");
	char exe[PATH_MAX], cand[PATH_MAX + 64];
	ssize_t n;

	if (env != NULL && *env != '\0') {
		if (access(env, R_OK) != 0) {
			fprintf(stderr, PROG ": KVMEM_TRACE_RECORD_LIB=%s: %s\n", env,
			    strerror(errno));
			return -1;
		}
		if (strlen(env) >= len) {
			fprintf(stderr, PROG ": KVMEM_TRACE_RECORD_LIB is too long\n");
			return -1;
		}
		strcpy(out, env);
		return 0;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		char *slash;

		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		snprintf(cand, sizeof(cand), "%s/" RECLIB, exe);
		if (access(cand, R_OK) == 0 && realpath(cand, out) != NULL)
			return 0;
		snprintf(cand, sizeof(cand), "%s/" KVMEM_TRACE_REL_LIBDIR "/" RECLIB, exe);
		if (access(cand, R_OK) == 0 && realpath(cand, out) != NULL)
			return 0;
	}
	if (access(KVMEM_TRACE_LIBDIR "/" RECLIB, R_OK) == 0 &&
	    strlen(KVMEM_TRACE_LIBDIR "/" RECLIB) < len) {
		strcpy(out, KVMEM_TRACE_LIBDIR "/" RECLIB);
		return 0;
	}
	fprintf(stderr, PROG ": cannot find " RECLIB " (looked next to the program, in "
	    KVMEM_TRACE_REL_LIBDIR " from it and in " KVMEM_TRACE_LIBDIR "); set "
	    "KVMEM_TRACE_RECORD_LIB\n");
	return -1;
}

/* Write the trace header for the command; returns its length or -1. */
static long
write_header(const char *path, char **cmd)
{
	FILE *f = fopen(path, "w");
	char desc[256];
	size_t dl = 0;
	long len;

	if (f == NULL) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	desc[0] = '\0';
	for (int i = 0; cmd[i] != NULL && dl + 1 < sizeof(desc); i++) {
		int w = snprintf(desc + dl, sizeof(desc) - dl, "%s%s", i ? " " : "", cmd[i]);

		dl = w < 0 ? dl : dl + (size_t)w;
		if (dl >= sizeof(desc))
			dl = sizeof(desc) - 1;
	}
	for (char *p = desc; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(f, "# kvmem allocation trace, format 1\n");
	fprintf(f, "# kind recorded: %s\n", desc);
	fprintf(f, "# generator kvmem-trace record\n");
	fprintf(f, "# quantum 16\n");
	fprintf(f, "op,size,ref,thread\n");
	len = ftell(f);
	if (fclose(f) != 0 || len < 0) {
		fprintf(stderr, PROG ": %s: write error\n", path);
		return -1;
	}
	return len;
}

/*
 * Close a trace the library could not close (the program died, called
 * _exit, or exec'd): drop a partial last line, free what is live.
 * 0, or 1 after printing why.
 */
static int
repair(const char *path, struct kt_trace *t, const char *why)
{
	FILE *f;
	uint32_t n = 0;

	if (truncate(path, (off_t)t->good_bytes) != 0 || (f = fopen(path, "a")) == NULL) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->ref[i] == KT_NONE && t->freed_at[i] == KT_NONE) {
			fprintf(f, "f,%" PRIu32 ",%" PRIu32 ",%u\n", t->size[i], i,
			    (unsigned)t->thread[i]);
			n++;
		}
	}
	fprintf(f, "# closed by kvmem-trace record (%s): %" PRIu32 " still live freed\n",
	    why, n);
	if (fclose(f) != 0) {
		fprintf(stderr, PROG ": %s: write error\n", path);
		return 1;
	}
	return 0;
}

static int
cmd_record(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *out = NULL;
	char lib[PATH_MAX], env[PATH_MAX + 64], err[512];
	struct sigaction ign, oint, oquit;
	struct kt_trace t;
	long hdr;
	pid_t pid;
	int c, status, rc;

	while ((c = getopt_long(argc, argv, "+o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(usage_record, stdout);
			return 0;
		default:
			return bad_usage(usage_record, NULL, NULL);
		}
	}
	if (out == NULL)
		return bad_usage(usage_record, "record needs -o FILE", NULL);
	if (optind >= argc)
		return bad_usage(usage_record, "record needs a COMMAND", NULL);
	if (find_reclib(lib, sizeof(lib)) != 0)
		return 1;
	if ((hdr = write_header(out, argv + optind)) < 0)
		return 1;
	fflush(NULL);
	/* As system(3): the command gets the terminal's signals, not us. */
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &oint);
	sigaction(SIGQUIT, &ign, &oquit);
	if ((pid = fork()) < 0) {
		fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		const char *old = getenv("LD_PRELOAD");

		sigaction(SIGINT, &oint, NULL);
		sigaction(SIGQUIT, &oquit, NULL);
		snprintf(env, sizeof(env), "%ld:%ld:%s", (long)getpid(), hdr, out);
		setenv("KVMEM_TRACE_RECORD", env, 1);
		if (old != NULL && *old != '\0') {
			char *both = malloc(strlen(lib) + strlen(old) + 2);

			if (both == NULL)
				_exit(127);
			sprintf(both, "%s:%s", lib, old);
			setenv("LD_PRELOAD", both, 1);
		} else {
			setenv("LD_PRELOAD", lib, 1);
		}
		execvp(argv[optind], argv + optind);
		fprintf(stderr, PROG ": %s: %s\n", argv[optind], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, PROG ": waitpid: %s\n", strerror(errno));
			return 1;
		}
	}
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGQUIT, &oquit, NULL);
	rc = WIFEXITED(status) ? WEXITSTATUS(status) :
	    WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 1;

	if (kt_load(&t, out, KT_ALLOW_OPEN | KT_ALLOW_TAIL, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": the recorded trace is not valid: %s\n", err);
		return 1;
	}
	if (!t.closed_marker) {
		const char *why = WIFSIGNALED(status) ? "killed by a signal" :
		    "exit handlers did not run";

		if (repair(out, &t, why) != 0) {
			kt_free(&t);
			return 1;
		}
		fprintf(stderr, PROG ": %s: the program ended without closing the trace "
		    "(%s); closed it\n", out, why);
	}
	if (t.n == 0)
		fprintf(stderr, PROG ": %s: no events recorded (a static program, or "
		    "one that did not start?)\n", out);
	else
		fprintf(stderr, PROG ": %s: %" PRIu32 " events, %" PRIu32 " allocations, "
		    "%" PRIu32 " thread%s\n", out, t.n, t.nallocs, t.nthreads,
		    t.nthreads == 1 ? "" : "s");
	kt_free(&t);
	return rc;
}

/* ---- gen --------------------------------------------------------------------- */

static int
cmd_gen(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_gen, stdout);
			return 0;
		}
	return kvmem_tracegen_main(argc, argv);
}

int
main(int argc, char **argv)
{
	const char *sub;

	if (argc < 2)
		return bad_usage(usage_main, "a subcommand is needed", NULL);
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
	    strcmp(sub, "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	argv[1] = argv[0];
	argc--;
	argv++;
	if (strcmp(sub, "record") == 0)
		return cmd_record(argc, argv);
	if (strcmp(sub, "replay") == 0)
		return cmd_replay(argc, argv);
	if (strcmp(sub, "info") == 0)
		return cmd_info(argc, argv);
	if (strcmp(sub, "gen") == 0)
		return cmd_gen(argc, argv);
	return bad_usage(usage_main, "unknown subcommand '%s'", sub);
}
