/*
 * kreplay.c -- sequential trace replay for the tools (see kreplay.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kreplay.h"

const char *
kr_backend_name(enum kr_backend b)
{
	switch (b) {
	case KR_VMEM:		return "vmem";
	case KR_VMEM_QCACHE:	return "vmem-qcache";
	case KR_MALLOC:		return "malloc";
	}
	return "?";
}

int
kr_open(struct kr *r, const struct kr_cfg *cfg, const struct kt_trace *t)
{
	uint64_t q, qmax = 0, iq;

	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	r->t = t;
	r->seg_stride = t->n / KR_SEG_SAMPLES + 1;
	if ((r->addr = calloc(t->n ? t->n : 1, sizeof(*r->addr))) == NULL) {
		fprintf(stderr, "kvmem-trace: out of memory\n");
		return -1;
	}
	if (cfg->backend == KR_MALLOC)
		return 0;
	q = cfg->quantum ? cfg->quantum : t->quantum;
	if (cfg->backend == KR_VMEM_QCACHE)
		qmax = cfg->qcache_max ? cfg->qcache_max : 8 * q;
	iq = cfg->import_quantum;
	if (iq == 0)
		iq = q * 16 > 65536 ? q * 16 : 65536;
	r->cfg.quantum = q;
	r->cfg.qcache_max = qmax;
	r->cfg.import_quantum = iq;
	r->src = vmem_create("trace source", KR_SRC_BASE, KR_SRC_SIZE, q, 0, 0);
	if (r->src == NULL) {
		fprintf(stderr, "kvmem-trace: cannot create an arena of quantum %llu: %s\n",
		    (unsigned long long)q, strerror(errno));
		free(r->addr);
		return -1;
	}
	r->vm = vmem_create("trace", 0, 0, q, qmax, 0);
	if (r->vm == NULL) {
		fprintf(stderr, "kvmem-trace: cannot create an arena (quantum %llu, "
		    "qcache-max %llu): %s\n", (unsigned long long)q,
		    (unsigned long long)qmax, strerror(errno));
		vmem_destroy(r->src);
		free(r->addr);
		return -1;
	}
	vmem_set_source(r->vm, r->src, iq);
	return 0;
}

/*
 * Update the peaks from the arena's state now: bytes at every call (cheap),
 * spans and segments every seg_stride-th call (vmem_get_stats() walks the
 * hash, too slow to call per event on long traces).
 */
static void
measure(struct kr *r)
{
	struct vmem_stats st;
	vmem_size_t v;

	if (r->live_req > r->peak_req)
		r->peak_req = r->live_req;
	if (r->vm == NULL)
		return;
	if ((v = vmem_size(r->vm, VMEM_ALLOC)) > r->peak_inuse)
		r->peak_inuse = v;
	if ((v = vmem_size(r->vm, VMEM_ALLOC | VMEM_FREE)) > r->peak_total)
		r->peak_total = v;
	if (++r->seg_tick < r->seg_stride)
		return;
	r->seg_tick = 0;
	memset(&st, 0, sizeof(st));
	st.version = VMEM_STATS_VERSION;
	if (vmem_get_stats(r->vm, &st) != 0)
		return;
	if (st.busy_segs + st.free_segs > r->peak_segs)
		r->peak_segs = st.busy_segs + st.free_segs;
	if (st.spans > r->peak_spans)
		r->peak_spans = st.spans;
}

void
kr_run(struct kr *r, uint32_t end)
{
	const struct kt_trace *t = r->t;
	int flags = M_NOWAIT | (r->cfg.fit ? r->cfg.fit : M_FIRSTFIT);

	if (end > t->n)
		end = t->n;
	for (uint32_t i = r->next; i < end; i++) {
		uint32_t sz = t->size[i], ref = t->ref[i];

		if (ref == KT_NONE) {
			if (r->vm != NULL) {
				vmem_addr_t a = 0;

				if (vmem_alloc(r->vm, sz, flags, &a) != 0)
					a = 0;
				r->addr[i] = a;
			} else {
				r->addr[i] = (uintptr_t)malloc(sz);
			}
			if (r->addr[i] == 0) {
				r->fails++;
				continue;
			}
			r->allocs++;
			r->live_req += sz;
		} else {
			uintptr_t a = r->addr[ref];

			if (a == 0)
				continue;
			if (r->vm != NULL)
				vmem_free(r->vm, a, sz);
			else
				free((void *)a);
			r->addr[ref] = 0;
			r->frees++;
			r->live_req -= sz;
		}
		if (r->cfg.measure)
			measure(r);
	}
	r->next = end > r->next ? end : r->next;
}

void
kr_close(struct kr *r)
{
	const struct kt_trace *t = r->t;

	for (uint32_t i = 0; i < r->next; i++) {
		if (t->ref[i] != KT_NONE || r->addr[i] == 0)
			continue;
		if (r->vm != NULL)
			vmem_free(r->vm, r->addr[i], t->size[i]);
		else
			free((void *)r->addr[i]);
	}
	if (r->vm != NULL)
		vmem_destroy(r->vm);
	if (r->src != NULL)
		vmem_destroy(r->src);
	free(r->addr);
	r->addr = NULL;
	r->vm = r->src = NULL;
}
