/*
 * run.c -- one kvmem-numa run: a fresh kmem instance on the machine, the
 * workload replayed under one domain set and quantum, measurements at the
 * workload's peak and at the end.
 *
 * Each workload thread is a real thread bound to its simulated CPU (so
 * first-touch sees its domain and round-robin keeps a cursor per thread,
 * as in FreeBSD), but the threads take turns: the main thread hands each
 * maximal run of consecutive events of one thread to that thread and waits
 * until it is done.  The interleaving is therefore the event order, and
 * every count is the same from run to run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "numa.h"

struct runner {
	const struct numa_machine	*m;
	const struct numa_workload	*w;
	const struct numa_opts		*o;
	struct numa_result		*r;
	struct kmem			*k;
	struct pmap_sim			*sim;
	const struct domainset		*ds;
	vmem_t				*darena[NUMA_MAXDOM];
	vm_paddr_t			dstart[NUMA_MAXDOM], dend[NUMA_MAXDOM];
	vm_offset_t			*addr;		/* per allocation event; 0: not live */
	int				thread_cpu[NUMA_MAXTHREADS];
	/* The baton. */
	pthread_mutex_t			mu;
	pthread_cond_t			cv_main;
	pthread_cond_t			cv[NUMA_MAXTHREADS];
	int				turn;		/* thread to run, -1: main */
	bool				quit;
	uint32_t			lo, hi;		/* the batch */
	char				err[256];	/* first error, "" if none */
};

struct worker {
	struct runner	*R;
	unsigned	id;
	pthread_t	tid;
};

/* Domain of physical address pa, -1 if none. */
static int
pa_domain(const struct runner *R, vm_paddr_t pa)
{
	for (int d = 0; d < R->m->ndom; d++)
		if (pa >= R->dstart[d] && pa < R->dend[d])
			return d;
	return -1;
}

/* Domain of the page mapped at va: -1 unmapped, -2 not RAM of a domain. */
static int
va_domain(const struct runner *R, vm_offset_t va)
{
	vm_paddr_t pa = pmap_kextract(R->sim, va);

	if (pa == 0)
		return -1;
	int d = pa_domain(R, pa);
	return d < 0 ? -2 : d;
}

static void
set_err(struct runner *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record the first error; later ones are dropped. */
static void
set_err(struct runner *R, const char *fmt, ...)
{
	va_list ap;

	if (R->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(R->err, sizeof(R->err), fmt, ap);
	va_end(ap);
}

/* Record where an allocation's pages landed, seen from domain `from`. */
static void
account(struct runner *R, vm_offset_t a, uint32_t npages, int from)
{
	struct numa_result *r = R->r;
	int arena = -1;

	for (int d = 0; d < R->m->ndom && arena < 0; d++)
		if (vmem_contains(R->darena[d], a))
			arena = d;
	for (uint32_t p = 0; p < npages; p++) {
		int d = va_domain(R, a + (vm_offset_t)p * NUMA_PAGE);

		if (d < 0) {
			set_err(R, "page 0x%" PRIx64 " of an allocation is not mapped to RAM",
			    (uint64_t)(a + (vm_offset_t)p * NUMA_PAGE));
			return;
		}
		r->placed++;
		if (d == from)
			r->local++;
		else
			r->remote++;
		r->cost += R->m->dist[from * R->m->ndom + d];
		if (d != arena)
			r->misplaced++;
	}
}

/* Events [lo, hi) of thread id (the caller holds the baton). */
static void
do_events(struct runner *R, unsigned id, uint32_t lo, uint32_t hi)
{
	int from = R->m->cpu_dom[R->thread_cpu[id]];

	for (uint32_t i = lo; i < hi && R->err[0] == '\0'; i++) {
		const struct numa_ev *e = &R->w->ev[i];
		vm_size_t size = (vm_size_t)e->npages * NUMA_PAGE;

		if (e->thread != id)
			continue;
		if (e->ref == NUMA_NONE) {
			vm_offset_t a;

			errno = 0;
			a = kmem_malloc_domainset_k(R->k, R->ds, size, M_NOWAIT);
			if (a == 0) {
				if (errno != ENOMEM)
					set_err(R, "event %u: kmem_malloc of %u pages: %s", i,
					    e->npages, strerror(errno));
				R->r->fails++;
				continue;
			}
			R->addr[i] = a;
			R->r->allocs++;
			account(R, a, e->npages, from);
		} else if (R->addr[e->ref] != 0) {
			kmem_free_k(R->k, R->addr[e->ref], size);
			R->addr[e->ref] = 0;
		}
	}
}

/* A workload thread: bind to its CPU, then run each batch it is handed until quit. */
static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	struct runner *R = wk->R;

	if (pmap_sim_set_cpu(R->sim, R->thread_cpu[wk->id]) != 0) {
		pthread_mutex_lock(&R->mu);
		set_err(R, "thread %u: cannot bind to CPU %d", wk->id, R->thread_cpu[wk->id]);
		pthread_mutex_unlock(&R->mu);
	}
	pthread_mutex_lock(&R->mu);
	for (;;) {
		while (R->turn != (int)wk->id && !R->quit)
			pthread_cond_wait(&R->cv[wk->id], &R->mu);
		if (R->quit)
			break;
		uint32_t lo = R->lo, hi = R->hi;
		pthread_mutex_unlock(&R->mu);
		do_events(R, wk->id, lo, hi);
		pthread_mutex_lock(&R->mu);
		R->turn = -1;
		pthread_cond_signal(&R->cv_main);
	}
	pthread_mutex_unlock(&R->mu);
	return NULL;
}

/* Hand [lo, hi) to thread t and wait until it is done. */
static void
run_batch(struct runner *R, unsigned t, uint32_t lo, uint32_t hi)
{
	pthread_mutex_lock(&R->mu);
	R->lo = lo;
	R->hi = hi;
	R->turn = (int)t;
	pthread_cond_signal(&R->cv[t]);
	while (R->turn != -1)
		pthread_cond_wait(&R->cv_main, &R->mu);
	pthread_mutex_unlock(&R->mu);
}

/* ---- Segments file ------------------------------------------------------------------- */

struct seg {
	vm_offset_t	start, size;
	int		busy;
};

struct segv {
	struct seg	*v;
	size_t		n, cap;
};

static int
seg_push(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct segv *sv = arg;

	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 256;
		struct seg *nv = realloc(sv->v, nc * sizeof(*nv));

		if (nv == NULL)
			return ENOMEM;
		sv->v = nv;
		sv->cap = nc;
	}
	sv->v[sv->n++] = (struct seg){ addr, size, type == VMEM_ALLOC };
	return 0;
}

/* Output state: the pending free run is merged with adjacent free pieces. */
struct segout {
	FILE		*f;
	vm_offset_t	fstart, fend;	/* pending free run (fend 0: none) */
};

static void
out_flush(struct segout *so)
{
	if (so->fend != 0)
		fprintf(so->f, "0x%" PRIx64 " 0x%" PRIx64 " free\n", (uint64_t)so->fstart,
		    (uint64_t)(so->fend - so->fstart));
	so->fend = 0;
}

static void
out_free(struct segout *so, vm_offset_t s, vm_offset_t e)
{
	if (so->fend == s) {
		so->fend = e;
		return;
	}
	out_flush(so);
	so->fstart = s;
	so->fend = e;
}

/* A busy range, split where the domain of its pages changes. */
static void
out_busy(const struct runner *R, struct segout *so, vm_offset_t s, vm_offset_t e)
{
	out_flush(so);
	while (s < e) {
		int d = va_domain(R, s);
		vm_offset_t x = s + NUMA_PAGE;

		while (x < e && va_domain(R, x) == d)
			x += NUMA_PAGE;
		if (d >= 0)
			fprintf(so->f, "0x%" PRIx64 " 0x%" PRIx64 " busy %d\n", (uint64_t)s,
			    (uint64_t)(x - s), d);
		else
			fprintf(so->f, "0x%" PRIx64 " 0x%" PRIx64 " busy\n", (uint64_t)s,
			    (uint64_t)(x - s));
		s = x;
	}
}

static void
seg_name(char *buf, size_t len, const char *label)
{
	size_t i;

	for (i = 0; label[i] != '\0' && i + 1 < len; i++) {
		char c = label[i];

		buf[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') ? c : '-';
	}
	buf[i] = '\0';
}

/*
 * Write the kernel arena's segments, with the domain arenas' allocations
 * in place of the imports they came from, to DIR/POLICY_QUANTUM.segments.
 * 0, or -1 with the error recorded.
 */
static int
write_segments(struct runner *R)
{
	struct segv ks = { 0 }, ds[NUMA_MAXDOM];
	struct segout so = { 0 };
	char path[4096], pn[80], qn[40];
	int rc = -1;

	memset(ds, 0, sizeof(ds));
	seg_name(pn, sizeof(pn), R->r->pol->label);
	seg_name(qn, sizeof(qn), R->r->q->label);
	snprintf(path, sizeof(path), "%s/%s_%s.segments", R->o->segdir, pn, qn);
	if (vmem_walk(kmem_kernel_arena(R->k), VMEM_ALLOC | VMEM_FREE, seg_push, &ks) != 0)
		goto nomem;
	for (int d = 0; d < R->m->ndom; d++)
		if (vmem_walk(R->darena[d], VMEM_ALLOC | VMEM_FREE, seg_push, &ds[d]) != 0)
			goto nomem;
	so.f = fopen(path, "w");
	if (so.f == NULL) {
		set_err(R, "%s: %s", path, strerror(errno));
		goto out;
	}
	fprintf(so.f, "# kvmem-segments 1\n# name kernel arena: machine %s, workload %s, "
	    "policy %s, quantum %s, at the peak (event %u)\n", R->m->name, R->w->name,
	    R->r->pol->label, R->r->q->label, R->w->peak_event);
	for (size_t i = 0; i < ks.n; i++) {
		vm_offset_t s = ks.v[i].start, e = s + ks.v[i].size;
		int owner = -1;

		if (!ks.v[i].busy) {
			out_free(&so, s, e);
			continue;
		}
		for (int d = 0; d < R->m->ndom && owner < 0; d++)
			if (vmem_contains(R->darena[d], s))
				owner = d;
		if (owner < 0) {
			out_busy(R, &so, s, e);
			continue;
		}
		for (size_t j = 0; j < ds[owner].n; j++) {
			const struct seg *g = &ds[owner].v[j];
			vm_offset_t gs = g->start, ge = g->start + g->size;

			if (ge <= s || gs >= e)
				continue;
			gs = gs < s ? s : gs;
			ge = ge > e ? e : ge;
			if (g->busy)
				out_busy(R, &so, gs, ge);
			else
				out_free(&so, gs, ge);
		}
	}
	out_flush(&so);
	if (fclose(so.f) != 0) {
		set_err(R, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	set_err(R, "segments: out of memory");
out:
	free(ks.v);
	for (int d = 0; d < R->m->ndom; d++)
		free(ds[d].v);
	return rc;
}

/* ---- Measurements at the peak ----------------------------------------------------------- */

static void
snapshot(struct runner *R)
{
	struct numa_result *r = R->r;
	struct vmem_stats vs = { .version = VMEM_STATS_VERSION };

	for (uint32_t i = 0; i <= R->w->peak_event; i++) {
		const struct numa_ev *e = &R->w->ev[i];

		if (e->ref != NUMA_NONE || R->addr[i] == 0)
			continue;
		for (uint32_t p = 0; p < e->npages; p++) {
			int d = va_domain(R, R->addr[i] + (vm_offset_t)p * NUMA_PAGE);

			if (d >= 0)
				r->live_pages[d]++;
		}
	}
	r->census.version = KMEM_STATS_VERSION;
	if (kmem_chunk_census(R->k, &r->census) != 0)
		set_err(R, "kmem_chunk_census failed");
	if (vmem_get_stats(kmem_kernel_arena(R->k), &vs) == 0) {
		r->karena_free_segs = vs.free_segs;
		r->karena_free = vs.bytes_free;
		r->karena_maxfree = vs.maxfree;
	}
	for (int d = 0; d < R->m->ndom; d++) {
		struct pmap_sim_domain_stats ps = { .version = PMAP_SIM_STATS_VERSION };

		vs.version = VMEM_STATS_VERSION;
		if (vmem_get_stats(R->darena[d], &vs) == 0) {
			r->darena_free_segs += vs.free_segs;
			r->darena_free += vs.bytes_free;
			if (vs.maxfree > r->darena_maxfree)
				r->darena_maxfree = vs.maxfree;
		}
		if (pmap_sim_domain_stats(R->sim, d, &ps) == 0) {
			r->frag[d] = ps.frag_index;
			r->free_pages[d] = ps.free_count;
		}
	}
	if (R->o->segdir != NULL)
		(void)write_segments(R);
}

/* ---- One run ----------------------------------------------------------------------------- */

/* The kmem configuration for machine m and quantum q. */
static void
make_config(struct kmem_config *cfg, const struct numa_machine *m,
    const struct numa_quantum *q)
{
	kmem_config_init(cfg);
	snprintf(cfg->name, sizeof(cfg->name), "numa");
	snprintf(cfg->machine.name, sizeof(cfg->machine.name), "numa");
	cfg->machine.ndomains = m->ndom;
	cfg->machine.domain_sizes = m->size;
	cfg->machine.ncpus = m->ncpu;
	cfg->machine.cpu_domain = m->cpu_dom;
	cfg->machine.distance = m->dist;
	cfg->kva_quantum = q->kva;
	cfg->import_quantum = q->import;
	cfg->zero_region_size = 0;
}

int
numa_machine_check(const struct numa_machine *m, char *msg, size_t len)
{
	struct kmem_config cfg;
	struct numa_quantum q = { "2M", (uint64_t)2 << 20, (uint64_t)2 << 20 };

	make_config(&cfg, m, &q);
	return pmap_sim_config_check(&cfg.machine, msg, len);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
numa_run(const struct numa_machine *m, const struct numa_workload *w,
    const struct numa_policy *pol, const struct numa_quantum *q,
    const struct numa_opts *o, struct numa_result *r)
{
	struct kmem_config cfg;
	struct runner *R;
	struct worker wk[NUMA_MAXTHREADS];
	char msg[256];
	unsigned nt = w->nthreads, started = 0;
	double t0 = now();
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->pol = pol;
	r->q = q;
	make_config(&cfg, m, q);
	if (kmem_config_check(&cfg, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "kvmem-numa: quantum %s: %s\n", q->label, msg);
		return -1;
	}
	R = calloc(1, sizeof(*R));
	if (R == NULL || (R->addr = calloc(w->n, sizeof(*R->addr))) == NULL) {
		fprintf(stderr, "kvmem-numa: out of memory\n");
		free(R);
		return -1;
	}
	R->m = m;
	R->w = w;
	R->o = o;
	R->r = r;
	R->ds = &pol->ds;
	R->turn = -1;
	pthread_mutex_init(&R->mu, NULL);
	pthread_cond_init(&R->cv_main, NULL);
	for (unsigned t = 0; t < NUMA_MAXTHREADS; t++)
		pthread_cond_init(&R->cv[t], NULL);
	R->k = kmem_create(&cfg);
	if (R->k == NULL) {
		fprintf(stderr, "kvmem-numa: kmem_create (policy %s, quantum %s): %s\n",
		    pol->label, q->label, strerror(errno));
		goto out;
	}
	R->sim = kmem_sim(R->k);
	for (int d = 0; d < m->ndom; d++) {
		R->darena[d] = kmem_domain_arena(R->k, d);
		pmap_sim_domain_range(R->sim, d, &R->dstart[d], &R->dend[d]);
	}
	for (unsigned t = 0; t < nt; t++) {
		R->thread_cpu[t] = numa_thread_cpu(m, t);
		wk[t].R = R;
		wk[t].id = t;
		if (pthread_create(&wk[t].tid, NULL, worker_main, &wk[t]) != 0) {
			set_err(R, "cannot start thread %u", t);
			break;
		}
		started++;
	}
	if (started == nt) {
		uint32_t i = 0;
		bool snapped = false;

		while (i < w->n && R->err[0] == '\0') {
			unsigned t = w->ev[i].thread;
			uint32_t j = i + 1, cut = snapped ? w->n : w->peak_event + 1;

			while (j < w->n && j < cut && w->ev[j].thread == t)
				j++;
			run_batch(R, t, i, j);
			i = j;
			if (!snapped && i > w->peak_event) {
				snapshot(R);
				snapped = true;
			}
		}
	}
	pthread_mutex_lock(&R->mu);
	R->quit = true;
	for (unsigned t = 0; t < started; t++)
		pthread_cond_signal(&R->cv[t]);
	pthread_mutex_unlock(&R->mu);
	for (unsigned t = 0; t < started; t++)
		pthread_join(wk[t].tid, NULL);
	if (R->err[0] == '\0') {
		r->ks.version = KMEM_STATS_VERSION;
		kmem_get_stats(R->k, &r->ks);
		if (r->ks.pages != 0)
			set_err(R, "%" PRIu64 " pages still held after the workload's last free",
			    r->ks.pages);
		else if (o->check && kmem_check(R->k) != 0)
			set_err(R, "kmem_check failed");
	}
	if (R->err[0] != '\0') {
		fprintf(stderr, "kvmem-numa: policy %s, quantum %s: %s\n", pol->label, q->label,
		    R->err);
		/* Give back what is still live, so kmem_destroy has no leak to report. */
		for (uint32_t i = 0; i < w->n; i++)
			if (w->ev[i].ref == NUMA_NONE && R->addr[i] != 0)
				kmem_free_k(R->k, R->addr[i], (vm_size_t)w->ev[i].npages * NUMA_PAGE);
	} else {
		rc = 0;
	}
	kmem_destroy(R->k);
	r->seconds = now() - t0;
out:
	for (unsigned t = 0; t < NUMA_MAXTHREADS; t++)
		pthread_cond_destroy(&R->cv[t]);
	pthread_cond_destroy(&R->cv_main);
	pthread_mutex_destroy(&R->mu);
	free(R->addr);
	free(R);
	return rc;
}
