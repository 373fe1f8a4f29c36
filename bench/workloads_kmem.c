/*
 * workloads_kmem.c -- kmem (kmem_malloc_k + kmem_free_k) on a simulated
 * 4-domain machine, against page-aligned allocations from jemalloc
 * (mallocx with MALLOCX_LG_ALIGN(12), the constant form of
 * MALLOCX_ALIGN(4096), and sdallocx) and glibc (memalign, the function
 * behind its aligned_alloc, called as __libc_memalign so the rows stay
 * glibc's while jemalloc replaces malloc in this binary).
 *
 * The machine: 4 domains of 64 MiB, 8 CPUs (CPUs 2d and 2d+1 in domain d),
 * SLIT distances 10 local, 12 to the sibling domain (0-1, 2-3: one
 * "socket"), 20 across.  The timed thread 0 runs on CPU 0 (domain 0), thread
 * 1 on CPU 4 (domain 2, the other socket): pmap_sim_set_cpu() at the start
 * of every run() call, since Google Benchmark starts fresh threads per run.
 *
 * Setups p[] = {kva_quantum, import_quantum, policy, slots, threads}:
 *   a kmem instance (kva_quantum 0: the default 2 MiB; import_quantum 0:
 *   kmem's default, 128 x kva_quantum with several domains), a domain set
 *   (policy 0: none, kmem_malloc_k's own round-robin; else km_policy[]),
 *   and per thread `slots` live allocations of the size mix, made with the
 *   thread's CPU set.  The baselines take the same p[] (slots, threads).
 * Runs:
 *   pair  q = {pages, zero}: allocate and free one block of `pages` pages
 *         (kmem: M_NOWAIT, | M_ZERO when zero; jemalloc: | MALLOCX_ZERO;
 *         glibc: memset after memalign).
 *   churn q = {pages, zero}: free a random live slot and refill it with a
 *         block of `pages` pages, or, with pages 0, of the next size of the
 *         mix km_mix[] (cyclic: 16 sizes, 5.5 pages on average).
 * One operation is one allocation and one free.  Counters (kmem rows; each
 * covers the run since the previous counters() call, see km_pages_counter):
 *   pages_op       pages allocated per operation (the shim derives ns_page);
 *   local_share    pages placed in the calling thread's domain / all pages;
 *   access_cost    sum of SLIT distances / pages / 10 (1.0: all local);
 *   fallback_share allocations placed off the policy's choice / allocations;
 *   promotions_op  superpage promotions of the machine per operation;
 *   promoted_share chunks mapped by one 2 MiB entry / chunks with pages
 *                  (kmem_chunk_census() of the live set; rows with one).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmem/kmem.h>

#ifdef KB_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "bench.h"

#define KM_PG		4096u
#define KM_MAXTHR	2
#define KiB		(1ULL << 10)
#define MiB		(1ULL << 20)

/*
 * The size mix in pages: 6x1 3x2 3x4 2x8 1x16 1x32, 5.5 pages on average.
 * Allocation i takes entry (kb_stream_picks[i] & 15): pseudo-random, the
 * same for every allocator, and not in step with round-robin or
 * interleaving over 4 domains (a cycle of 16 would be).
 */
#define KM_MIX_LEN	16u
static const uint8_t km_mix[KM_MIX_LEN] = {
	1, 2, 1, 4, 1, 8, 2, 1, 16, 1, 4, 2, 1, 32, 4, 8
};

/* Domain-set specs (domainset_parse) by policy index; 0 is kmem_malloc_k. */
static const char *const km_policy[] = {
	NULL, "rr", "ft", "il", "prefer:0", "fixed:0", "wil:4,2,1,1", "pmany:0,1",
};
#define KM_NPOLICY	(sizeof(km_policy) / sizeof(km_policy[0]))

static const uint8_t km_slit[16] = {
	10, 12, 20, 20,
	12, 10, 20, 20,
	20, 20, 10, 12,
	20, 20, 12, 10,
};

/* The simulated CPU of benchmark thread tid: domains 0 and 2. */
static int
km_cpu(unsigned tid)
{
	return (int)tid * 4;
}

/* One benchmark thread's live blocks and tallies (padded against false sharing). */
struct km_thr {
	uintptr_t	*addr;
	uint32_t	*pages;
	uint64_t	cursor;		/* position in the pick stream and the mix */
	uint64_t	ops, pgs;	/* since the last counters(): ops, pages allocated */
	char		pad[88];
};

struct km_state {
	struct kmem		*k;	/* NULL for the malloc baselines */
	struct pmap_sim		*sim;
	struct domainset	ds;
	const struct domainset	*dsp;	/* NULL: kmem_malloc_k */
	uint32_t		nslots, nthreads;
	struct kmem_stats	base;	/* kmem's counters at the last counters() */
	struct km_thr		thr[KM_MAXTHR];
};

/* Pages of the op-th churn allocation: fixed, or (fixed 0) from the mix. */
static inline uint32_t
km_size(uint64_t op, uint32_t fixed)
{
	return fixed != 0 ? fixed :
	    km_mix[kb_stream_picks[op & (KB_STREAM_LEN - 1)] & (KM_MIX_LEN - 1)];
}

/* The common part of every setup: slot arrays; NULL (after a message) on bad p[]. */
static struct km_state *
km_state_new(const uint64_t *p)
{
	struct km_state *s;

	if (p[4] < 1 || p[4] > KM_MAXTHR || p[2] >= KM_NPOLICY) {
		fprintf(stderr, "kmem: bad workload parameters\n");
		return NULL;
	}
	s = kb_xcalloc(1, sizeof(*s));
	s->nslots = (uint32_t)p[3];
	s->nthreads = (uint32_t)p[4];
	for (uint32_t t = 0; t < s->nthreads; t++) {
		s->thr[t].addr = kb_xcalloc(s->nslots + 1, sizeof(uintptr_t));
		s->thr[t].pages = kb_xcalloc(s->nslots + 1, sizeof(uint32_t));
		s->thr[t].cursor = (uint64_t)t * (KB_STREAM_LEN / 2);
	}
	return s;
}

static void
km_state_free(struct km_state *s)
{
	for (uint32_t t = 0; t < s->nthreads; t++) {
		free(s->thr[t].addr);
		free(s->thr[t].pages);
	}
	free(s);
}

/* ---- kmem ------------------------------------------------------------------------ */

static inline uintptr_t
km_alloc(struct km_state *s, uint32_t pages, int flags)
{
	vm_size_t size = (vm_size_t)pages * KM_PG;

	return s->dsp != NULL ? kmem_malloc_domainset_k(s->k, s->dsp, size, flags) :
	    kmem_malloc_k(s->k, size, flags);
}

/*
 * The pair rows' instance: zero two superpages' worth of pages in every
 * domain and free them again, so that the host memory behind the pages the
 * pairs will reuse is already faulted in.  Otherwise the first M_ZERO
 * allocations after a setup (the shim sets cheap states up again when it
 * needs their slot) would time host page faults, about as slow on these VMs
 * as the rest of the row together.
 */
static void
km_warm(struct kmem *k)
{
	for (int d = 0; d < kmem_ndomains(k); d++) {
		vm_offset_t a = kmem_malloc_domain_k(k, d, 2 * MiB, M_NOWAIT | M_ZERO);
		vm_offset_t b = kmem_malloc_domain_k(k, d, 2 * MiB, M_NOWAIT | M_ZERO);

		if (a == 0 || b == 0)
			kb_fail("kmem: warm-up allocation in domain %d failed", d);
		kmem_free_k(k, b, 2 * MiB);
		kmem_free_k(k, a, 2 * MiB);
	}
}

/*
 * Build the instance of p[] (see the file comment) and fill every thread's
 * slots from that thread's CPU.  NULL after a message if kmem refuses.
 */
static void *
km_setup(const uint64_t *p)
{
	struct km_state *s = km_state_new(p);
	struct kmem_config cfg;
	char msg[160];

	if (s == NULL)
		return NULL;
	kmem_config_init(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "bench");
	cfg.machine.ndomains = 4;
	cfg.machine.domain_size = 64 * MiB;
	cfg.machine.ncpus = 8;
	cfg.machine.distance = km_slit;
	if (p[0] != 0)
		cfg.kva_quantum = p[0];
	cfg.import_quantum = p[1];
	if (kmem_config_check(&cfg, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "kmem: %s\n", msg);
		km_state_free(s);
		return NULL;
	}
	if ((s->k = kmem_create(&cfg)) == NULL) {
		fprintf(stderr, "kmem: kmem_create failed (errno %d)\n", errno);
		km_state_free(s);
		return NULL;
	}
	s->sim = kmem_sim(s->k);
	if (p[2] != 0) {
		if (domainset_parse(&s->ds, km_policy[p[2]]) != 0)
			kb_fail("kmem: domainset_parse(%s) failed", km_policy[p[2]]);
		s->dsp = &s->ds;
	}
	for (uint32_t t = 0; t < s->nthreads; t++) {
		struct km_thr *th = &s->thr[t];

		pmap_sim_set_cpu(s->sim, km_cpu(t));
		for (uint32_t i = 0; i < s->nslots; i++) {
			th->pages[i] = km_size(th->cursor++, 0);
			th->addr[i] = km_alloc(s, th->pages[i], M_NOWAIT);
			if (th->addr[i] == 0)
				kb_fail("kmem: setup allocation of %u pages failed", th->pages[i]);
		}
	}
	pmap_sim_set_cpu(s->sim, 0);
	if (s->nslots == 0)
		km_warm(s->k);
	s->base.version = KMEM_STATS_VERSION;
	if (kmem_get_stats(s->k, &s->base) != 0)
		kb_fail("kmem: kmem_get_stats failed");
	return s;
}

static void
km_teardown(void *st)
{
	struct km_state *s = st;

	for (uint32_t t = 0; t < s->nthreads; t++)
		for (uint32_t i = 0; i < s->nslots; i++)
			kmem_free_k(s->k, s->thr[t].addr[i], (vm_size_t)s->thr[t].pages[i] * KM_PG);
	kmem_destroy(s->k);
	km_state_free(s);
}

static uint64_t
km_run_pair(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct km_state *s = st;
	struct kmem *k = s->k;
	const uint32_t pages = (uint32_t)q[0];
	const vm_size_t size = (vm_size_t)pages * KM_PG;
	const int flags = M_NOWAIT | (q[1] ? M_ZERO : 0);

	pmap_sim_set_cpu(s->sim, km_cpu(tid));
	for (uint64_t i = 0; i < n; i++) {
		uintptr_t va = km_alloc(s, pages, flags);

		if (KB_UNLIKELY(va == 0))
			kb_fail("kmem: kmem_malloc of %u pages failed", pages);
		kmem_free_k(k, va, size);
	}
	s->thr[tid].ops += n;
	s->thr[tid].pgs += n * pages;
	return n;
}

static uint64_t
km_run_churn(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct km_state *s = st;
	struct km_thr *th = &s->thr[tid];
	struct kmem *k = s->k;
	const uint32_t fixed = (uint32_t)q[0];
	const int flags = M_NOWAIT | (q[1] ? M_ZERO : 0);
	uint64_t pgs = 0;

	pmap_sim_set_cpu(s->sim, km_cpu(tid));
	for (uint64_t i = 0; i < n; i++) {
		uint64_t c = th->cursor++;
		uint32_t j = kb_churn_pick(c, s->nslots);

		kmem_free_k(k, th->addr[j], (vm_size_t)th->pages[j] * KM_PG);
		th->pages[j] = km_size(c, fixed);
		th->addr[j] = km_alloc(s, th->pages[j], flags);
		if (KB_UNLIKELY(th->addr[j] == 0))
			kb_fail("kmem: kmem_malloc of %u pages failed", th->pages[j]);
		pgs += th->pages[j];
	}
	th->ops += n;
	th->pgs += pgs;
	return n;
}

/*
 * Report pages per operation since the previous call and start over; returns
 * the operations.  The shim calls counters() right after each benchmark run
 * (all threads done), and states are shared between rows of different sizes,
 * so every figure covers exactly the run that just ended.
 */
static uint64_t
km_pages_counter(struct km_state *s, kb_counter_fn *fn, void *arg)
{
	uint64_t ops = 0, pgs = 0;

	for (uint32_t t = 0; t < s->nthreads; t++) {
		ops += s->thr[t].ops;
		pgs += s->thr[t].pgs;
		s->thr[t].ops = s->thr[t].pgs = 0;
	}
	if (ops > 0)
		fn(arg, "pages_op", (double)pgs / (double)ops);
	return ops;
}

/* kmem's figures for the run that just ended (see km_pages_counter). */
static void
km_counters(void *st, kb_counter_fn *fn, void *arg)
{
	struct km_state *s = st;
	struct kmem_stats ks = { .version = KMEM_STATS_VERSION };
	struct kmem_chunk_stats cs = { .version = KMEM_STATS_VERSION };
	uint64_t ops = km_pages_counter(s, fn, arg);

	if (kmem_get_stats(s->k, &ks) != 0)
		return;
	double placed = (double)(ks.local_pages - s->base.local_pages) +
	    (double)(ks.remote_pages - s->base.remote_pages);
	double allocs = (double)(ks.allocs - s->base.allocs);
	if (placed > 0) {
		fn(arg, "local_share", (double)(ks.local_pages - s->base.local_pages) / placed);
		fn(arg, "access_cost",
		    (double)(ks.access_cost - s->base.access_cost) / placed / 10.0);
	}
	if (allocs > 0)
		fn(arg, "fallback_share", (double)(ks.fallbacks - s->base.fallbacks) / allocs);
	if (ops > 0)
		fn(arg, "promotions_op",
		    (double)(ks.pde_promotions - s->base.pde_promotions) / (double)ops);
	if (s->nslots > 0 && kmem_chunk_census(s->k, &cs) == 0 && cs.chunks > 0)
		fn(arg, "promoted_share", (double)cs.promoted / (double)cs.chunks);
	s->base = ks;
}

/* ---- Page-aligned malloc baselines ------------------------------------------------ */

/*
 * KM_MALLOC(tag, ALLOC, FREE) defines tag##_setup/_teardown/_run_pair/
 * _run_churn over ALLOC(bytes, zero) and FREE(ptr, bytes): the same
 * operations as the kmem rows (the memory is not touched unless zero).
 */
#define KM_MALLOC(tag, ALLOC, FREE)					\
static void *								\
tag##_setup(const uint64_t *p)						\
{									\
	struct km_state *s = km_state_new(p);				\
									\
	if (s == NULL)							\
		return NULL;						\
	for (uint32_t t = 0; t < s->nthreads; t++) {			\
		struct km_thr *th = &s->thr[t];				\
									\
		for (uint32_t i = 0; i < s->nslots; i++) {		\
			th->pages[i] = km_size(th->cursor++, 0);	\
			th->addr[i] = (uintptr_t)ALLOC((size_t)th->pages[i] * KM_PG, 0); \
			if (th->addr[i] == 0)				\
				kb_fail(#tag ": setup allocation failed"); \
		}							\
	}								\
	return s;							\
}									\
									\
static void								\
tag##_teardown(void *st)						\
{									\
	struct km_state *s = st;					\
									\
	for (uint32_t t = 0; t < s->nthreads; t++)			\
		for (uint32_t i = 0; i < s->nslots; i++)		\
			FREE((void *)s->thr[t].addr[i],			\
			    (size_t)s->thr[t].pages[i] * KM_PG);	\
	km_state_free(s);						\
}									\
									\
static uint64_t								\
tag##_run_pair(void *st, const uint64_t *q, unsigned tid, uint64_t n)	\
{									\
	struct km_state *s = st;					\
	const size_t size = (size_t)q[0] * KM_PG;			\
	const int zero = (int)q[1];					\
									\
	for (uint64_t i = 0; i < n; i++) {				\
		void *m = ALLOC(size, zero);				\
									\
		if (KB_UNLIKELY(m == NULL))				\
			kb_fail(#tag ": allocation of %zu failed", size); \
		KB_ESCAPE(m);						\
		FREE(m, size);						\
	}								\
	s->thr[tid].ops += n;						\
	s->thr[tid].pgs += n * q[0];					\
	return n;							\
}									\
									\
static uint64_t								\
tag##_run_churn(void *st, const uint64_t *q, unsigned tid, uint64_t n)	\
{									\
	struct km_state *s = st;					\
	struct km_thr *th = &s->thr[tid];				\
	const uint32_t fixed = (uint32_t)q[0];				\
	const int zero = (int)q[1];					\
	uint64_t pgs = 0;						\
									\
	for (uint64_t i = 0; i < n; i++) {				\
		uint64_t c = th->cursor++;				\
		uint32_t j = kb_churn_pick(c, s->nslots);		\
									\
		FREE((void *)th->addr[j], (size_t)th->pages[j] * KM_PG); \
		th->pages[j] = km_size(c, fixed);			\
		th->addr[j] = (uintptr_t)ALLOC((size_t)th->pages[j] * KM_PG, zero); \
		if (KB_UNLIKELY(th->addr[j] == 0))			\
			kb_fail(#tag ": churn allocation failed");	\
		pgs += th->pages[j];					\
	}								\
	th->ops += n;							\
	th->pgs += pgs;							\
	return n;							\
}

static void
km_malloc_counters(void *st, kb_counter_fn *fn, void *arg)
{
	km_pages_counter(st, fn, arg);
}

/* glibc's own memalign and free (jemalloc owns malloc in this binary). */
extern void *__libc_memalign(size_t align, size_t size);
extern void  __libc_free(void *ptr);

static inline void *
km_glibc_alloc(size_t size, int zero)
{
	void *m = __libc_memalign(KM_PG, size);

	if (zero && m != NULL)
		memset(m, 0, size);
	return m;
}

#define KM_GLIBC_FREE(m, size)	__libc_free(m)
KM_MALLOC(km_glibc, km_glibc_alloc, KM_GLIBC_FREE)

#ifdef KB_HAVE_JEMALLOC
#define KM_JE_ALLOC(size, zero) \
	mallocx(size, MALLOCX_LG_ALIGN(12) | ((zero) ? MALLOCX_ZERO : 0))
#define KM_JE_FREE(m, size)	sdallocx(m, size, MALLOCX_LG_ALIGN(12))
KM_MALLOC(km_je, KM_JE_ALLOC, KM_JE_FREE)
#endif

/* ---- Table ----------------------------------------------------------------------- */

#define U(...)		__VA_ARGS__
#define CORE		KB_CG_CORE
#define KVA2M		0, 0			/* 2 MiB KVA quantum, default imports */
#define T2		(KB_THREADS(2) | KB_REALTIME)

/* One entry: impl km (kvmem_kmem), km_je (jemalloc) or km_glibc. */
#define KE(row, sw, val, impl, tag, cnt, run, ps, qs, cg, fl) \
	{ row, sw, val, impl, tag##_setup, tag##_teardown, NULL, tag##_run_##run, \
	  cnt, { U ps }, { U qs }, 0, cg, fl }
#define KM(row, sw, val, run, ps, qs, cg, fl) \
	KE(row, sw, val, "kvmem_kmem", km, km_counters, run, ps, qs, cg, fl)
#ifdef KB_HAVE_JEMALLOC
#define KJE(row, sw, val, run, ps, qs, cg, fl) \
	KE(row, sw, val, "jemalloc_mallocx_align", km_je, km_malloc_counters, run, \
	   ps, qs, cg, fl),
#else
#define KJE(row, sw, val, run, ps, qs, cg, fl)
#endif
#define KGL(row, sw, val, run, ps, qs, cg, fl) \
	KE(row, sw, val, "glibc_memalign", km_glibc, km_malloc_counters, run, \
	   ps, qs, cg, fl)
/* kmem and both baselines for one row. */
#define K3(row, sw, val, run, ps, qs, cg) \
	KM(row, sw, val, run, ps, qs, cg, CORE), \
	KJE(row, sw, val, run, ps, qs, cg, CORE) \
	KGL(row, sw, val, run, ps, qs, cg, CORE)

#define PAIRS(row, z) \
	K3(row, "pages", "1", pair, (KVA2M, 0, 0, 1), (1, z), 20000), \
	K3(row, "pages", "8", pair, (KVA2M, 0, 0, 1), (8, z), 5000), \
	K3(row, "pages", "512", pair, (KVA2M, 0, 0, 1), (512, z), 200)

/* Policy pol (km_policy[]) with 1 thread (domain 0) or 2 (domains 0, 2). */
#define NUMA(val, pol) \
	KM("kmem_numa_1t", "policy", val, churn, (KVA2M, pol, 256, 1), (0, 0), 20000, CORE), \
	KM("kmem_numa_2t", "policy", val, churn, (KVA2M, pol, 256, 2), (0, 0), 0, T2)

/* KVA quantum and import quantum: superpage-sized against 64 KiB. */
#define QUANTA(val, kq, iq) \
	KM("kmem_quantum_mixed", "kva_import", val, churn, (kq, iq, 0, 2048, 1), \
	   (0, 0), 20000, CORE), \
	KM("kmem_quantum_512p", "kva_import", val, churn, (kq, iq, 0, 24, 1), \
	   (512, 0), 500, CORE)

const struct kb_workload kb_kmem_workloads[] = {
	PAIRS("kmem_pair", 0),
	PAIRS("kmem_pair_zero", 1),
	K3("kmem_mixed", NULL, NULL, churn, (KVA2M, 0, 256, 1), (0, 0), 20000),
	NUMA("rr", 1),
	NUMA("ft", 2),
	NUMA("il", 3),
	NUMA("prefer0", 4),
	NUMA("fixed0", 5),
	NUMA("wil4211", 6),
	NUMA("pmany01", 7),
	QUANTA("kq2M_iq256M", 0, 0),
	QUANTA("kq64K_iq8M", 64 * KiB, 0),
	QUANTA("kq64K_iq64K", 64 * KiB, 64 * KiB),
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, { 0 }, { 0 }, 0, 0, 0 }
};
