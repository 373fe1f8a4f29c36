/*
 * workloads_trace.c -- trace replay on the vmem arena (instant fit, best
 * fit, quantum caches) and on the first-fit list.  The malloc backends'
 * rows live with their allocators (KB_MALLOC_TRACE in trace.h).
 *
 * Arena backends take the quantum from the trace's "# quantum" line; the
 * quantum-cached arena caches every multiple up to 16 quanta (the cap).
 * Addresses are plain integers from a 64 GiB arena at 4 GiB: nothing is
 * touched, as in every vmem row.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kvmem/vmem.h>

#include "baseline.h"
#include "bench.h"
#include "trace.h"

#define TR_BASE		0x100000000ULL
#define TR_SIZE		(64ULL << 30)
#define TR_QC_QUANTA	16

struct vtr {
	vmem_t		*vm;
	int		flags;
};

static inline uintptr_t
vtr_alloc(struct vtr *c, uint32_t size)
{
	vmem_addr_t a;

	return vmem_alloc(c->vm, size, c->flags, &a) == 0 ? a : 0;
}

static inline void
vtr_free(struct vtr *c, uintptr_t a, uint32_t size)
{
	vmem_free(c->vm, a, size);
}

KB_TRACE_BACKEND(vtr, struct vtr, vtr_alloc, vtr_free)

static void
vtr_free_live(void *bst, uintptr_t a, uint32_t size)
{
	vtr_free(bst, a, size);
}

/*
 * p = {trace index, fit flags, quantum-cached (0/1)}.  The arena is made
 * after the trace is read, since its quantum comes from the trace.
 */
static void *
vtr_setup(const uint64_t *p)
{
	struct vtr *c = kb_xcalloc(1, sizeof(*c));
	struct kb_replay *r = kb_replay_open(kb_trace_names[p[0]], vtr_window, c);

	if (r == NULL) {
		free(c);
		return NULL;
	}
	c->flags = (int)p[1] | M_NOWAIT;
	c->vm = vmem_create("trace", TR_BASE, TR_SIZE, r->t.quantum,
	    p[2] ? TR_QC_QUANTA * r->t.quantum : 0, M_WAITOK);
	if (c->vm == NULL)
		kb_fail("vmem: vmem_create for trace %s failed (errno %d)",
		    r->t.name, errno);
	return r;
}

static void
vtr_teardown(void *st)
{
	struct kb_replay *r = st;
	struct vtr *c = r->bst;

	kb_replay_close(r, vtr_free_live);
	vmem_destroy(c->vm);
	free(c);
}

static uint64_t
vtr_run(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	(void)q;
	(void)tid;
	kb_replay_run(st, n);
	return n;
}

static void
vtr_counters(void *st, kb_counter_fn *fn, void *arg)
{
	struct kb_replay *r = st;
	struct vtr *c = r->bst;
	struct vmem_stats vs;

	memset(&vs, 0, sizeof(vs));
	vs.version = VMEM_STATS_VERSION;
	if (vmem_get_stats(c->vm, &vs) != 0)
		return;
	fn(arg, "busy_segs", (double)vs.busy_segs);
	fn(arg, "free_segs", (double)vs.free_segs);
	fn(arg, "bytes_cached", (double)vs.bytes_cached);
	fn(arg, "hash_resizes", (double)vs.hash_resizes);
}

int
kb_trace_qcache_share(const char *name, unsigned passes, struct kb_share *out)
{
	struct vtr c = { NULL, M_FIRSTFIT | M_NOWAIT };
	struct kb_replay *r = kb_replay_open(name, vtr_window, &c);
	struct vmem_stats vs;

	memset(out, 0, sizeof(*out));
	if (r == NULL)
		return -1;
	c.vm = vmem_create("share", TR_BASE, TR_SIZE, r->t.quantum,
	    TR_QC_QUANTA * r->t.quantum, M_WAITOK);
	if (c.vm == NULL)
		kb_fail("vmem: vmem_create for trace %s failed", name);
	/* In the benchmark rows' windows, so threads stay within 4096 events
	 * of each other. */
	for (uint64_t left = (uint64_t)passes * r->t.n; left > 0; ) {
		uint64_t w = left < 4096 ? left : 4096;

		kb_replay_run(r, w);
		left -= w;
	}

	out->threads = r->t.nthreads;
	out->quantum = r->t.quantum;
	out->qcache_max = TR_QC_QUANTA * r->t.quantum;
	out->events = (uint64_t)passes * r->t.n;
	out->allocs = (uint64_t)passes * r->t.nallocs;
	for (uint32_t i = 0; i < r->t.n; i++)
		if (r->t.ev[i].ref == KB_TRACE_NONE &&
		    r->t.ev[i].size <= out->qcache_max)
			out->cached_allocs += passes;
	for (unsigned k = 0; k < vmem_qcache_count(c.vm); k++) {
		struct vmem_qcache_stats qs = { .version = VMEM_STATS_VERSION };

		if (vmem_get_qcache_stats(c.vm, k, &qs) != 0)
			continue;
		out->hits += qs.hits;
		out->misses += qs.misses;
		out->slab_imports += qs.slab_imports;
		out->slab_releases += qs.slab_releases;
	}
	memset(&vs, 0, sizeof(vs));
	vs.version = VMEM_STATS_VERSION;
	if (vmem_get_stats(c.vm, &vs) == 0) {
		out->seg_allocs = vs.allocs;
		out->seg_frees = vs.frees;
		out->bytes_cached = vs.bytes_cached;
		out->bytes_inuse = vs.bytes_inuse;
	}
	kb_replay_close(r, vtr_free_live);
	vmem_destroy(c.vm);
	return 0;
}

/* ---- First-fit list (single-thread traces) ------------------------------ */

static inline uintptr_t
ftr_alloc(struct kb_ffl *a, uint32_t size)
{
	uintptr_t addr;

	return kb_ffl_alloc(a, size, &addr) == 0 ? addr : 0;
}

static inline void
ftr_free(struct kb_ffl *a, uintptr_t addr, uint32_t size)
{
	kb_ffl_free(a, addr, size);
}

KB_TRACE_BACKEND(ftr, struct kb_ffl, ftr_alloc, ftr_free)

static void
ftr_free_live(void *bst, uintptr_t a, uint32_t size)
{
	ftr_free(bst, a, size);
}

static void *
ftr_setup(const uint64_t *p)
{
	struct kb_ffl *a = kb_xcalloc(1, sizeof(*a));
	struct kb_replay *r = kb_replay_open(kb_trace_names[p[0]], ftr_window, a);

	if (r == NULL) {
		free(a);
		return NULL;
	}
	if (r->t.nthreads != 1)
		kb_fail("firstfit: trace %s has %u threads", r->t.name, r->t.nthreads);
	if (kb_ffl_init(a, TR_BASE, TR_SIZE, r->t.quantum) != 0)
		kb_fail("firstfit: init failed");
	return r;
}

static void
ftr_teardown(void *st)
{
	struct kb_replay *r = st;
	struct kb_ffl *a = r->bst;

	kb_replay_close(r, ftr_free_live);
	kb_ffl_fini(a);
	free(a);
}

/* ---- Table ----------------------------------------------------------------- */

#define VROW1(row, idx, impl, fit, qc) \
	{ row, NULL, NULL, impl, vtr_setup, vtr_teardown, NULL, vtr_run, \
	  vtr_counters, { idx, fit, qc }, { 0 }, 0, 0, KB_CG_CORE }
#define VROWN(row, idx, impl, fit, qc) \
	{ row, NULL, NULL, impl, vtr_setup, vtr_teardown, NULL, vtr_run, \
	  vtr_counters, { idx, fit, qc }, { 0 }, 4096, 0, KB_REALTIME }
#define VROWS(impl, fit, qc) \
	VROW1("trace_small", 0, impl, fit, qc), \
	VROW1("trace_pages", 1, impl, fit, qc), \
	VROWN("trace_mixed2t", 2, impl, fit, qc), \
	VROWN("trace_prodcons2t", 3, impl, fit, qc)

const struct kb_workload kb_trace_workloads[] = {
	VROWS("kvmem_qcache", M_FIRSTFIT, 1),
	VROWS("kvmem_instant", M_FIRSTFIT, 0),
	VROWS("kvmem_best", M_BESTFIT, 0),
	KB_TRACE_ROW1("trace_small", 0, "firstfit_list", ftr_setup, ftr_teardown,
	    vtr_run, 20000),
	KB_TRACE_ROW1("trace_pages", 1, "firstfit_list", ftr_setup, ftr_teardown,
	    vtr_run, 20000),
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, { 0 }, { 0 }, 0, 0, 0 }
};
