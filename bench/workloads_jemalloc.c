/*
 * workloads_jemalloc.c -- jemalloc as the main baseline: the malloc/free
 * fast path (thread cache), mallocx/sdallocx, and a dedicated arena without
 * thread cache (MALLOCX_ARENA | MALLOCX_TCACHE_NONE), which is the closest
 * jemalloc has to vmem's segment path.  Run with
 * MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 so time-based purging
 * stays out of the numbers.
 */
#include <stdlib.h>
#include <strings.h>

#include <jemalloc/jemalloc.h>

#include "bench.h"
#include "malloc_common.h"
#include "trace.h"

/* The dedicated arena, created on first use; flags for mallocx/sdallocx. */
static int
je_arena_flags(void)
{
	static int flags = -1;

	if (flags < 0) {
		unsigned ind;
		size_t sz = sizeof(ind);

		if (mallctl("arenas.create", &ind, &sz, NULL, 0) != 0)
			kb_fail("jemalloc: arenas.create failed");
		flags = MALLOCX_ARENA(ind) | MALLOCX_TCACHE_NONE;
	}
	return flags;
}

/* Setups for the arena rows: p[2] receives the arena flags. */
static void *
je_setup_arena_pair(const uint64_t *p)
{
	(void)p;
	(void)je_arena_flags();
	return kb_mstate_none(p);
}

#define JE_MALLOC(size, flags)		malloc(size)
#define JE_FREE(p, size, flags)		free(p)
#define JE_MALLOCX(size, flags)		mallocx(size, flags)
#define JE_SDALLOCX(p, size, flags)	sdallocx(p, size, flags)
#define JE_AMALLOCX(size, flags)	mallocx(size, (flags) | je_arena_flags())
#define JE_ASDALLOCX(p, size, flags)	sdallocx(p, size, (flags) | je_arena_flags())

KB_MALLOC_FAMILY(je_malloc, JE_MALLOC, JE_FREE)
KB_MALLOC_FAMILY(je_mallocx, JE_MALLOCX, JE_SDALLOCX)
KB_MALLOC_FAMILY(je_arena, JE_AMALLOCX, JE_ASDALLOCX)
KB_MALLOC_LIVE(je_malloc, JE_MALLOC, JE_FREE)
KB_MALLOC_LIVE(je_arena, JE_AMALLOCX, JE_ASDALLOCX)
KB_MALLOC_PC(je_malloc, JE_MALLOC, JE_FREE)
KB_MALLOC_TRACE(je_malloc, JE_MALLOC, JE_FREE)

#define PAIR(row, impl, tag, setup, size, fl) \
	{ row, NULL, NULL, impl, setup, kb_mstate_none_free, NULL, \
	  tag##_run_pair, NULL, { 0 }, { size, fl }, 0, 0, KB_CG_CORE }
#define CHURN(impl, tag) \
	{ "churn_random", NULL, NULL, impl, tag##_setup_churn, \
	  tag##_teardown_churn, NULL, tag##_run_churn, NULL, { 0, 10000, 0 }, \
	  { 0 }, 0, 20000, 0 }

/* The quantum-cache rows' sizes: malloc+free and mallocx+sdallocx. */
#define QPAIR(row, val, size) \
	{ row, "quanta", #val, "jemalloc_malloc", kb_mstate_none, \
	  kb_mstate_none_free, NULL, je_malloc_run_pair, NULL, { 0 }, \
	  { size, 0 }, 0, 0, KB_CG_CORE }, \
	{ row, "quanta", #val, "jemalloc_mallocx", kb_mstate_none, \
	  kb_mstate_none_free, NULL, je_mallocx_run_pair, NULL, { 0 }, \
	  { size, 0 }, 0, 0, KB_CG_CORE }
/*
 * Page-sized rows also get mallocx(MALLOCX_LG_ALIGN(12)), the constant form
 * of MALLOCX_ALIGN(4096), + sdallocx: what a page allocator's caller would
 * ask for.  From 16 KiB up jemalloc 5.3 serves these outside its thread
 * cache (the report notes it next to the rows).
 */
#define QPAIR_AL(row, val, size) \
	QPAIR(row, val, size), \
	{ row, "quanta", #val, "jemalloc_mallocx_align", kb_mstate_none, \
	  kb_mstate_none_free, NULL, je_mallocx_run_pair, NULL, { 0 }, \
	  { size, MALLOCX_LG_ALIGN(12) }, 0, 0, KB_CG_CORE }
#define QPAIRS_AL(row, q) \
	QPAIR_AL(row, 1, 1 * q), QPAIR_AL(row, 2, 2 * q), QPAIR_AL(row, 3, 3 * q), \
	QPAIR_AL(row, 4, 4 * q), QPAIR_AL(row, 5, 5 * q), QPAIR_AL(row, 6, 6 * q), \
	QPAIR_AL(row, 7, 7 * q), QPAIR_AL(row, 8, 8 * q)
#define QPAIRS(row, q) \
	QPAIR(row, 1, 1 * q), QPAIR(row, 2, 2 * q), QPAIR(row, 3, 3 * q), \
	QPAIR(row, 4, 4 * q), QPAIR(row, 5, 5 * q), QPAIR(row, 6, 6 * q), \
	QPAIR(row, 7, 7 * q), QPAIR(row, 8, 8 * q)
#define THR(n) \
	{ "qc_threads", "threads", #n, "jemalloc_malloc", kb_mstate_none, \
	  kb_mstate_none_free, NULL, je_malloc_run_pair, NULL, { 0 }, \
	  { 64, 0 }, 0, 0, KB_REALTIME | KB_THREADS(n) }

const struct kb_workload kb_jemalloc_workloads[] = {
	QPAIRS("qcache_q64", 64),
	QPAIRS_AL("qcache_q4K", 4096),
	THR(1),
	THR(2),
	KB_PC_ROW("pc_64B", "jemalloc_malloc", je_malloc, 64, 0),
	KB_PC_ROW("pc_4KiB", "jemalloc_malloc", je_malloc, 4096, 0),
	KB_TRACE_ROWS("jemalloc_malloc", je_malloc),
	PAIR("pair_64B", "jemalloc_malloc", je_malloc, kb_mstate_none, 64, 0),
	PAIR("pair_64B", "jemalloc_mallocx", je_mallocx, kb_mstate_none, 64, 0),
	PAIR("pair_64B", "jemalloc_arena_notcache", je_arena, je_setup_arena_pair, 64, 0),
	PAIR("pair_64KiB", "jemalloc_malloc", je_malloc, kb_mstate_none, 65536, 0),
	PAIR("pair_64KiB", "jemalloc_mallocx", je_mallocx, kb_mstate_none, 65536, 0),
	PAIR("pair_64KiB", "jemalloc_arena_notcache", je_arena, je_setup_arena_pair, 65536, 0),
	PAIR("pair_16KiB_align4K", "jemalloc_mallocx_align", je_mallocx,
	    kb_mstate_none, 16384, MALLOCX_LG_ALIGN(12)),
	PAIR("pair_16KiB_align4K", "jemalloc_arena_notcache", je_arena,
	    je_setup_arena_pair, 16384, MALLOCX_LG_ALIGN(12)),
	CHURN("jemalloc_malloc", je_malloc),
	CHURN("jemalloc_arena_notcache", je_arena),
	KB_LIVE_FREE("jemalloc_malloc", je_malloc, 16, 1000, 0, KB_CG_CORE),
	KB_LIVE_FREE("jemalloc_malloc", je_malloc, 16, 1000000, 0, KB_CG_CORE),
	KB_LIVE_FREE("jemalloc_arena_notcache", je_arena, 16, 1000, 0, 0),
	KB_LIVE_FREE("jemalloc_arena_notcache", je_arena, 16, 1000000, 0, 0),
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, { 0 }, { 0 }, 0, 0, 0 }
};

/* "5.3.0-0-g..." from the library itself. */
const char *kb_jemalloc_version(void);
const char *
kb_jemalloc_version(void)
{
	const char *v = NULL;
	size_t sz = sizeof(v);

	if (mallctl("version", &v, &sz, NULL, 0) != 0 || v == NULL)
		return "unknown";
	return v;
}
