/*
 * workloads_sysmalloc.c -- the malloc rows for a binary linked with another
 * malloc replacement (mimalloc or tcmalloc): the replacement serves every
 * malloc/free of the process, so it gets a binary of its own and its rows
 * are merged into the report by run-report.sh.  Compiled with
 * -DKB_SYSMALLOC_MIMALLOC or -DKB_SYSMALLOC_TCMALLOC; the impl name is the
 * allocator's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "malloc_common.h"
#include "trace.h"

#if defined(KB_SYSMALLOC_MIMALLOC)
#include <mimalloc.h>
#define IMPL	"mimalloc"
#elif defined(KB_SYSMALLOC_TCMALLOC)
#include <gperftools/tcmalloc.h>
#define IMPL	"tcmalloc"
#else
#error "define KB_SYSMALLOC_MIMALLOC or KB_SYSMALLOC_TCMALLOC"
#endif

#define SYS_ALLOC(size, flags)		malloc(size)
#define SYS_FREE(p, size, flags)	free(p)

KB_MALLOC_FAMILY(sys, SYS_ALLOC, SYS_FREE)
KB_MALLOC_LIVE(sys, SYS_ALLOC, SYS_FREE)
KB_MALLOC_PC(sys, SYS_ALLOC, SYS_FREE)
KB_MALLOC_TRACE(sys, SYS_ALLOC, SYS_FREE)

/* The allocator's own version, which also keeps it linked (--as-needed). */
const char *kb_sysmalloc_version(void);
const char *
kb_sysmalloc_version(void)
{
	static char buf[64];
#if defined(KB_SYSMALLOC_MIMALLOC)
	int v = mi_version();

	snprintf(buf, sizeof(buf), "mimalloc %d.%d.%d", v / 100, v / 10 % 10, v % 10);
#else
	int major, minor;
	const char *patch;
	const char *v = tc_version(&major, &minor, &patch);

	snprintf(buf, sizeof(buf), "tcmalloc %s", v != NULL ? v : "unknown");
#endif
	return buf;
}

#define PAIR(row, sw, val, size, fl) \
	{ row, sw, val, IMPL, kb_mstate_none, kb_mstate_none_free, NULL, \
	  sys_run_pair, NULL, { 0 }, { size, 0 }, 0, 0, fl }
#define QPAIRS(row, q) \
	PAIR(row, "quanta", "1", 1 * q, KB_CG_CORE), \
	PAIR(row, "quanta", "2", 2 * q, KB_CG_CORE), \
	PAIR(row, "quanta", "3", 3 * q, KB_CG_CORE), \
	PAIR(row, "quanta", "4", 4 * q, KB_CG_CORE), \
	PAIR(row, "quanta", "5", 5 * q, KB_CG_CORE), \
	PAIR(row, "quanta", "6", 6 * q, KB_CG_CORE), \
	PAIR(row, "quanta", "7", 7 * q, KB_CG_CORE), \
	PAIR(row, "quanta", "8", 8 * q, KB_CG_CORE)

const struct kb_workload kb_sysmalloc_workloads[] = {
	PAIR("pair_64B", NULL, NULL, 64, KB_CG_CORE),
	PAIR("pair_64KiB", NULL, NULL, 65536, KB_CG_CORE),
	QPAIRS("qcache_q64", 64),
	QPAIRS("qcache_q4K", 4096),
	PAIR("qc_threads", "threads", "1", 64, KB_REALTIME | KB_THREADS(1)),
	PAIR("qc_threads", "threads", "2", 64, KB_REALTIME | KB_THREADS(2)),
	KB_PC_ROW("pc_64B", IMPL, sys, 64, 0),
	KB_PC_ROW("pc_4KiB", IMPL, sys, 4096, 0),
	{ "churn_random", NULL, NULL, IMPL, sys_setup_churn, sys_teardown_churn,
	  NULL, sys_run_churn, NULL, { 0, 10000, 0 }, { 0 }, 0, 20000, 0 },
	KB_LIVE_FREE(IMPL, sys, 16, 1000, 0, 0),
	KB_LIVE_FREE(IMPL, sys, 16, 1000000, 0, 0),
	KB_TRACE_ROWS(IMPL, sys),
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, { 0 }, { 0 }, 0, 0, 0 }
};
