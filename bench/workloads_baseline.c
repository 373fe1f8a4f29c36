/*
 * workloads_baseline.c -- the same workloads as workloads_vmem.c on the
 * reference allocators of baseline_*.c (first-fit list, bitmap).
 *
 * Parameters mirror the vmem entries so rows line up:
 *   frag setups p = {quantum, holes, hole quanta, -, arena size, base}
 *   churn setups p = {quantum, slots, -, -, arena size, base}
 *   bitmap setups p = {capacity, live}
 */
#include <stdlib.h>

#include "baseline.h"
#include "bench.h"

#define KB_BASE		0x100000000ULL
#define GiB		(1ULL << 30)

/* ---- First-fit list ------------------------------------------------------ */

struct ff_state {
	struct kb_ffl	a;
	uintptr_t	*addr;		/* churn: address per slot */
	uint32_t	*size;		/* churn: size per slot */
	uint32_t	nslots;
	uint64_t	cursor;		/* churn: position in the streams */
};

static void *
ff_setup_frag(const uint64_t *p)
{
	struct ff_state *s = kb_xcalloc(1, sizeof(*s));
	uint64_t holes = p[1], bsize = p[0] * p[2];
	uintptr_t first = 0, a;

	if (kb_ffl_init(&s->a, p[5], p[4], p[0]) != 0)
		kb_fail("firstfit: init failed");
	/* 2 * holes adjacent blocks, then every other one freed. */
	for (uint64_t i = 0; i < 2 * holes; i++) {
		if (kb_ffl_alloc(&s->a, bsize, &a) != 0)
			kb_fail("firstfit: setup alloc %llu failed", (unsigned long long)i);
		if (i == 0)
			first = a;
		else if (a != first + i * bsize)
			kb_fail("firstfit: setup blocks are not adjacent");
	}
	/* Descending order makes each insertion land at the list head. */
	for (uint64_t i = 2 * holes; i >= 2; i -= 2)
		kb_ffl_free(&s->a, first + (i - 2) * bsize, bsize);
	return s;
}

static void
ff_teardown(void *st)
{
	struct ff_state *s = st;

	kb_ffl_fini(&s->a);
	free(s->addr);
	free(s->size);
	free(s);
}

/* q = {size}: alloc + free of one block. */
static uint64_t
ff_run_pair(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct ff_state *s = st;
	uintptr_t a;

	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		if (KB_UNLIKELY(kb_ffl_alloc(&s->a, q[0], &a) != 0))
			kb_fail("firstfit: alloc of %llu failed", (unsigned long long)q[0]);
		kb_ffl_free(&s->a, a, q[0]);
	}
	return n;
}

static void
ff_counters(void *st, kb_counter_fn *fn, void *arg)
{
	struct ff_state *s = st;

	fn(arg, "free_segs", (double)s->a.nfree);
}

static void *
ff_setup_churn(const uint64_t *p)
{
	struct ff_state *s = kb_xcalloc(1, sizeof(*s));

	if (kb_ffl_init(&s->a, p[5], p[4], p[0]) != 0)
		kb_fail("firstfit: init failed");
	s->nslots = (uint32_t)p[1];
	s->addr = kb_xcalloc(s->nslots, sizeof(*s->addr));
	s->size = kb_xcalloc(s->nslots, sizeof(*s->size));
	for (uint32_t k = 0; k < s->nslots; k++) {
		s->size[k] = kb_churn_size(s->cursor++);
		if (kb_ffl_alloc(&s->a, s->size[k], &s->addr[k]) != 0)
			kb_fail("firstfit: churn setup failed");
	}
	return s;
}

/* Free a random slot, refill it with a random size. */
static uint64_t
ff_run_churn(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct ff_state *s = st;

	(void)q;
	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t c = s->cursor++;
		uint32_t k = kb_churn_pick(c, s->nslots);

		kb_ffl_free(&s->a, s->addr[k], s->size[k]);
		s->size[k] = kb_churn_size(c);
		if (KB_UNLIKELY(kb_ffl_alloc(&s->a, s->size[k], &s->addr[k]) != 0))
			kb_fail("firstfit: churn alloc failed");
	}
	return n;
}

/* ---- Bitmap -------------------------------------------------------------- */

struct bm_state {
	struct kb_bitmap b;
	uint32_t	*live;		/* live units, in any order */
	uint32_t	nlive;
	uint64_t	cursor;
};

static void *
bm_setup(const uint64_t *p)
{
	struct bm_state *s = kb_xcalloc(1, sizeof(*s));

	if (kb_bitmap_init(&s->b, p[0]) != 0)
		kb_fail("bitmap: init failed");
	s->nlive = (uint32_t)p[1];
	s->live = kb_xcalloc(s->nlive, sizeof(*s->live));
	for (uint32_t k = 0; k < s->nlive; k++) {
		long u = kb_bitmap_alloc(&s->b);

		if (u < 0)
			kb_fail("bitmap: setup full");
		s->live[k] = (uint32_t)u;
	}
	return s;
}

static void
bm_teardown(void *st)
{
	struct bm_state *s = st;

	kb_bitmap_fini(&s->b);
	free(s->live);
	free(s);
}

static uint64_t
bm_run_pair(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct bm_state *s = st;

	(void)q;
	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		long u = kb_bitmap_alloc(&s->b);

		if (KB_UNLIKELY(u < 0))
			kb_fail("bitmap: full");
		kb_bitmap_free(&s->b, (size_t)u);
	}
	return n;
}

static uint64_t
bm_run_churn(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct bm_state *s = st;

	(void)q;
	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t k = kb_churn_pick(s->cursor++, s->nlive);
		long u;

		kb_bitmap_free(&s->b, s->live[k]);
		u = kb_bitmap_alloc(&s->b);
		if (KB_UNLIKELY(u < 0))
			kb_fail("bitmap: full");
		s->live[k] = (uint32_t)u;
	}
	return n;
}

/* ---- Table --------------------------------------------------------------- */

#define FF_FRAG(h, hq)	{ 16, h, hq, 0, 13 * GiB, KB_BASE }
#define FF_ENTRY(row, sw, val, ps, qs, fl, cg) \
	{ row, sw, val, "firstfit_list", ff_setup_frag, ff_teardown, NULL, \
	  ff_run_pair, ff_counters, ps, qs, 0, cg, fl }

const struct kb_workload kb_baseline_workloads[] = {
	FF_ENTRY("pair_64B", NULL, NULL, FF_FRAG(0, 1), { 64 }, 0, 0),
	{ "pair_64KiB", NULL, NULL, "firstfit_list", ff_setup_frag, ff_teardown,
	  NULL, ff_run_pair, ff_counters, { 4096, 0, 1, 0, 13 * GiB, KB_BASE },
	  { 65536 }, 0, 0, 0 },
	FF_ENTRY("frag_nofit", "holes", "0", FF_FRAG(0, 1), { 32 }, 0, 0),
	FF_ENTRY("frag_nofit", "holes", "1000", FF_FRAG(1000, 1), { 32 }, 0, 2000),
	FF_ENTRY("frag_nofit", "holes", "1000000", FF_FRAG(1000000, 1), { 32 }, 0, 20),
	FF_ENTRY("frag_fit", "holes", "0", FF_FRAG(0, 1), { 16 }, 0, 0),
	FF_ENTRY("frag_fit", "holes", "1000", FF_FRAG(1000, 1), { 16 }, 0, 0),
	FF_ENTRY("frag_fit", "holes", "1000000", FF_FRAG(1000000, 1), { 16 }, 0, 0),
	{ "churn_random", NULL, NULL, "firstfit_list", ff_setup_churn, ff_teardown,
	  NULL, ff_run_churn, ff_counters, { 16, 10000, 0, 0, 13 * GiB, KB_BASE },
	  { 0 }, 0, 2000, 0 },
	{ "ids_pair", NULL, NULL, "bitmap", bm_setup, bm_teardown, NULL,
	  bm_run_pair, NULL, { KB_ID_CAPACITY, 0 }, { 0 }, 0, 0, 0 },
	{ "ids_churn", "live", "1000", "bitmap", bm_setup, bm_teardown, NULL,
	  bm_run_churn, NULL, { KB_ID_CAPACITY, 1000 }, { 0 }, 0, 0, 0 },
	{ "ids_churn", "live", "1000000", "bitmap", bm_setup, bm_teardown, NULL,
	  bm_run_churn, NULL, { KB_ID_CAPACITY, 1000000 }, { 0 }, 0, 0, 0 },
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, { 0 }, { 0 }, 0, 0, 0 }
};
