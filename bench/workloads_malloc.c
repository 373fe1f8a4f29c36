/*
 * workloads_malloc.c -- glibc's allocator as a baseline.  Called through
 * __libc_malloc/__libc_free so the rows stay glibc's even when jemalloc
 * replaces malloc in this binary.
 */
#include <stddef.h>

#include "bench.h"
#include "malloc_common.h"
#include "trace.h"

/* glibc exports its own allocator under these names (GLIBC_2.2.5). */
extern void *__libc_malloc(size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void  __libc_free(void *ptr);

#define GLIBC_ALLOC(size, flags)	__libc_malloc(size)
#define GLIBC_FREE(p, size, flags)	__libc_free(p)
#define GLIBC_ALLOC_PAGE(size, flags)	__libc_memalign(4096, size)

KB_MALLOC_FAMILY(glibc, GLIBC_ALLOC, GLIBC_FREE)
KB_MALLOC_FAMILY(glibc_page, GLIBC_ALLOC_PAGE, GLIBC_FREE)
KB_MALLOC_LIVE(glibc, GLIBC_ALLOC, GLIBC_FREE)
KB_MALLOC_PC(glibc, GLIBC_ALLOC, GLIBC_FREE)
KB_MALLOC_TRACE(glibc, GLIBC_ALLOC, GLIBC_FREE)

#define PAIR(row, impl, tag, size) \
	{ row, NULL, NULL, impl, kb_mstate_none, kb_mstate_none_free, NULL, \
	  tag##_run_pair, NULL, { 0 }, { size, 0 }, 0, 0, KB_CG_CORE }

const struct kb_workload kb_malloc_workloads[] = {
	PAIR("pair_64B", "glibc", glibc, 64),
	PAIR("pair_64KiB", "glibc", glibc, 65536),
	PAIR("pair_16KiB_align4K", "glibc_memalign", glibc_page, 16384),
	{ "churn_random", NULL, NULL, "glibc", glibc_setup_churn,
	  glibc_teardown_churn, NULL, glibc_run_churn, NULL, { 0, 10000, 0 },
	  { 0 }, 0, 20000, 0 },
	KB_LIVE_FREE("glibc", glibc, 16, 1000, 0, 0),
	KB_LIVE_FREE("glibc", glibc, 16, 1000000, 0, 0),
	KB_PC_ROW("pc_64B", "glibc", glibc, 64, 0),
	KB_TRACE_ROWS("glibc", glibc),
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, { 0 }, { 0 }, 0, 0, 0 }
};
