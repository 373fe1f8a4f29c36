/*
 * kmem_stats.c -- statistics of an instance and its domains, the census of
 * 2 MiB chunks (promotion and single-domain shares), and JSON output.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem_impl.h"

#define LD(x)	atomic_load_explicit(&(x), RLX)

/* ---- Per-thread counters ------------------------------------------------------------ */

static struct kmem_tstat *
tstat_new(struct kmem *k)
{
	return calloc(1, sizeof(struct kmem_tstat) +
	    (size_t)k->ndomains * sizeof(struct kmem_tdom));
}

/* The calling thread's block, made and listed on first use. */
struct kmem_tstat *
kmem__tstat(struct kmem *k)
{
	struct kmem_tstat *ts = pthread_getspecific(k->tls);

	if (KVMEM_LIKELY(ts != NULL))
		return ts;
	ts = tstat_new(k);
	if (ts == NULL || pthread_setspecific(k->tls, ts) != 0) {
		free(ts);
		return k->ts_shared;
	}
	pthread_mutex_lock(&k->ts_lock);
	ts->next = k->ts_list;
	k->ts_list = ts;
	pthread_mutex_unlock(&k->ts_lock);
	return ts;
}

/* Bring-up: the shared block (also the list's first member). */
int
kmem__tstat_init(struct kmem *k)
{
	pthread_mutex_init(&k->ts_lock, NULL);
	k->ts_shared = tstat_new(k);
	if (k->ts_shared == NULL)
		return ENOMEM;
	k->ts_shared->shared = true;
	k->ts_list = k->ts_shared;
	return 0;
}

void
kmem__tstat_fini(struct kmem *k)
{
	struct kmem_tstat *ts, *next;

	for (ts = k->ts_list; ts != NULL; ts = next) {
		next = ts->next;
		free(ts);
	}
	k->ts_list = k->ts_shared = NULL;
	pthread_mutex_destroy(&k->ts_lock);
}

void
kmem__tsum(struct kmem *k, struct kmem_tdom_sum *sum, uint64_t *remote_cost)
{
	struct kmem_tstat *ts;
	int d;

	memset(sum, 0, sizeof(*sum) * (size_t)k->ndomains);
	if (remote_cost != NULL)
		*remote_cost = 0;
	pthread_mutex_lock(&k->ts_lock);
	for (ts = k->ts_list; ts != NULL; ts = ts->next) {
		for (d = 0; d < k->ndomains; d++) {
			sum[d].pages += LD(ts->d[d].pages);
			sum[d].allocs += LD(ts->d[d].allocs);
			sum[d].frees += LD(ts->d[d].frees);
			sum[d].fallbacks += LD(ts->d[d].fallbacks);
			sum[d].local_pages += LD(ts->d[d].local_pages);
			sum[d].remote_pages += LD(ts->d[d].remote_pages);
		}
		if (remote_cost != NULL)
			*remote_cost += LD(ts->remote_cost);
	}
	pthread_mutex_unlock(&k->ts_lock);
}

/* One domain's sums (sum has room for every domain). */
static struct kmem_tdom_sum
dom_sum(struct kmem *k, int domain, uint64_t *remote_cost)
{
	struct kmem_tdom_sum sum[DOMAINSET_SETSIZE];

	kmem__tsum(k, sum, remote_cost);
	return sum[domain];
}

int
kmem_get_domain_stats(struct kmem *k, int domain, struct kmem_domain_stats *st)
{
	struct kmem_domain *d;

	k = kmem__get(k, "kmem_get_domain_stats");
	if (st == NULL || st->version != KMEM_STATS_VERSION || domain < 0 ||
	    domain >= k->ndomains)
		return EINVAL;
	d = &k->dom[domain];
	struct kmem_tdom_sum s = dom_sum(k, domain, NULL);
	memset(st, 0, sizeof(*st));
	st->version = KMEM_STATS_VERSION;
	st->size = (uint32_t)sizeof(*st);
	st->domain = domain;
	st->kva_inuse = vmem_size(d->arena, VMEM_ALLOC);
	st->kva_total = vmem_size(d->arena, VMEM_ALLOC | VMEM_FREE);
	st->rwx_inuse = vmem_size(d->rwx_arena, VMEM_ALLOC);
	st->rwx_total = vmem_size(d->rwx_arena, VMEM_ALLOC | VMEM_FREE);
	st->pages = s.pages;
	st->allocs = s.allocs;
	st->frees = s.frees;
	st->alloc_fails = LD(d->fails);
	st->fallbacks = s.fallbacks;
	st->local_pages = s.local_pages;
	st->remote_pages = s.remote_pages;
	st->skipped = LD(d->skipped);
	st->free_count = kmem__free_count(k, domain);
	st->free_min = d->free_min;
	st->page_count = d->page_count;
	return 0;
}

int
kmem_get_stats(struct kmem *k, struct kmem_stats *st)
{
	struct pmap_sim_stats ps = { .version = PMAP_SIM_STATS_VERSION };
	struct kmem_tdom_sum sum[DOMAINSET_SETSIZE];
	vm_size_t children = 0;
	uint64_t remote_cost;
	int i;

	k = kmem__get(k, "kmem_get_stats");
	if (st == NULL || st->version != KMEM_STATS_VERSION)
		return EINVAL;
	memset(st, 0, sizeof(*st));
	st->version = KMEM_STATS_VERSION;
	st->size = (uint32_t)sizeof(*st);
	snprintf(st->name, sizeof(st->name), "%s", k->name);
	st->ndomains = k->ndomains;
	st->ncpus = pmap_sim_ncpus(k->sim);
	st->kva_quantum = k->kvaq;
	st->import_quantum = k->import_q;
	st->kernel_arena_inuse = vmem_size(k->kernel_arena, VMEM_ALLOC);
	st->kernel_arena_total = vmem_size(k->kernel_arena, VMEM_ALLOC | VMEM_FREE);
	st->kva_imported = LD(k->kva_imported);
	st->kernel_map_size = vm_map_size(k->kernel_map);
	kmem__tsum(k, sum, &remote_cost);
	for (i = 0; i < k->ndomains; i++) {
		struct kmem_domain *d = &k->dom[i];

		children += vmem_size(d->arena, VMEM_ALLOC | VMEM_FREE);
		children += vmem_size(d->rwx_arena, VMEM_ALLOC | VMEM_FREE);
		st->fallbacks += sum[i].fallbacks;
		st->allocs += sum[i].allocs;
		st->frees += sum[i].frees;
		st->access_cost += sum[i].local_pages * k->dist[i * k->ndomains + i];
		st->pages += sum[i].pages;
		st->local_pages += sum[i].local_pages;
		st->remote_pages += sum[i].remote_pages;
	}
	st->kva_alloc_inuse = st->kernel_arena_inuse - children;
	st->alloc_fails = LD(k->st_fails);
	st->einval = LD(k->st_einval);
	st->waits = LD(k->st_waits);
	st->misuses = LD(k->st_misuses);
	st->access_cost += remote_cost;
	st->kva_imports = LD(k->st_kva_imports);
	st->kva_import_fails = LD(k->st_kva_import_fails);
	if (pmap_sim_stats(k->sim, &ps) == 0) {
		st->pde_promotions = ps.pde_promotions;
		st->pde_demotions = ps.pde_demotions;
		st->pde_p_failures = ps.pde_p_failures;
	}
	return 0;
}

/* ---- Chunk census ------------------------------------------------------------------------ */

struct span_list {
	vmem_addr_t	*start;
	vmem_size_t	*size;
	size_t		n, cap;
	int		error;
};

static int
collect_span(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct span_list *l = arg;

	(void)type;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;
		vmem_addr_t *a = realloc(l->start, cap * sizeof(*a));
		vmem_size_t *s;

		if (a == NULL) {
			l->error = ENOMEM;
			return 1;
		}
		l->start = a;
		s = realloc(l->size, cap * sizeof(*s));
		if (s == NULL) {
			l->error = ENOMEM;
			return 1;
		}
		l->size = s;
		l->cap = cap;
	}
	l->start[l->n] = addr;
	l->size[l->n] = size;
	l->n++;
	return 0;
}

/* The domain holding physical address pa (-1 if none). */
static int
pa_domain(const struct kmem *k, vm_paddr_t pa)
{
	int i;

	for (i = 0; i < k->ndomains; i++)
		if (pa >= k->dom[i].pa_start && pa < k->dom[i].pa_end)
			return i;
	return -1;
}

int
kmem_chunk_census(struct kmem *k, struct kmem_chunk_stats *st)
{
	struct span_list l = { 0 };
	vm_offset_t last = 0;
	size_t i;

	k = kmem__get(k, "kmem_chunk_census");
	if (st == NULL || st->version != KMEM_STATS_VERSION)
		return EINVAL;
	memset(st, 0, sizeof(*st));
	st->version = KMEM_STATS_VERSION;
	st->size = (uint32_t)sizeof(*st);
	(void)vmem_walk(k->kernel_arena, VMEM_SPAN, collect_span, &l);
	if (l.error != 0) {
		free(l.start);
		free(l.size);
		return l.error;
	}
	for (i = 0; i < l.n; i++) {
		vm_offset_t c = l.start[i] & ~(vm_offset_t)(KSPG - 1);
		vm_offset_t end = l.start[i] + l.size[i];

		for (; c < end; c += KSPG) {
			uint64_t n = 0, e;
			int level = 0, dom = -1;
			bool mixed = false;

			if (last != 0 && c <= last)
				continue;		/* counted with the previous span */
			last = c;
			if (k->zero_size != 0 && c < k->zero_va + k->zero_size &&
			    c + KSPG > k->zero_va)
				continue;
			e = pmap_sim_kpte(k->sim, c, &level);
			if ((e & PMAP_PG_V) && level == 2) {
				st->chunks++;
				st->full++;
				st->promoted++;
				st->one_domain++;
				st->pages += KSPG_PAGES;
				continue;
			}
			for (vm_offset_t v = c; v < c + KSPG; v += KPAGE) {
				vm_paddr_t pa = pmap_kextract(k->sim, v);
				int pd;

				if (pa == 0)
					continue;
				n++;
				pd = pa_domain(k, pa);
				if (dom < 0)
					dom = pd;
				else if (pd != dom)
					mixed = true;
			}
			if (n == 0)
				continue;
			st->chunks++;
			st->pages += n;
			if (n == KSPG_PAGES)
				st->full++;
			if (!mixed)
				st->one_domain++;
		}
	}
	free(l.start);
	free(l.size);
	return 0;
}

/* ---- JSON --------------------------------------------------------------------------------- */

struct jbuf {
	char	*buf;
	size_t	len, pos;
};

static void __attribute__((format(printf, 2, 3)))
jput(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(j->pos < j->len ? j->buf + j->pos : NULL,
	    j->pos < j->len ? j->len - j->pos : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		j->pos += (size_t)n;
}

int
kmem_stats_json(struct kmem *k, char *buf, size_t len)
{
	struct kmem_stats st = { .version = KMEM_STATS_VERSION };
	struct jbuf j = { buf, len, 0 };
	int i;

	k = kmem__get(k, "kmem_stats_json");
	(void)kmem_get_stats(k, &st);
	if (buf != NULL && len > 0)
		buf[0] = '\0';
	jput(&j, "{\"version\":%d,\"name\":\"%s\",\"ndomains\":%d,\"ncpus\":%d,"
	    "\"kva_quantum\":%" PRIu64 ",\"import_quantum\":%" PRIu64 ","
	    "\"kernel_arena_inuse\":%" PRIu64 ",\"kernel_arena_total\":%" PRIu64 ","
	    "\"kva_imported\":%" PRIu64 ",\"kva_alloc_inuse\":%" PRIu64 ","
	    "\"kernel_map_size\":%" PRIu64 ",\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ","
	    "\"alloc_fails\":%" PRIu64 ",\"einval\":%" PRIu64 ",\"waits\":%" PRIu64 ","
	    "\"misuses\":%" PRIu64 ",\"fallbacks\":%" PRIu64 ",\"pages\":%" PRIu64 ","
	    "\"local_pages\":%" PRIu64 ",\"remote_pages\":%" PRIu64 ","
	    "\"access_cost\":%" PRIu64 ",\"kva_imports\":%" PRIu64 ","
	    "\"kva_import_fails\":%" PRIu64 ",\"pde_promotions\":%" PRIu64 ","
	    "\"pde_demotions\":%" PRIu64 ",\"pde_p_failures\":%" PRIu64 ",\"domains\":[",
	    KMEM_STATS_VERSION, st.name, st.ndomains, st.ncpus, (uint64_t)st.kva_quantum,
	    (uint64_t)st.import_quantum, (uint64_t)st.kernel_arena_inuse,
	    (uint64_t)st.kernel_arena_total, (uint64_t)st.kva_imported,
	    (uint64_t)st.kva_alloc_inuse, (uint64_t)st.kernel_map_size, st.allocs, st.frees,
	    st.alloc_fails, st.einval, st.waits, st.misuses, st.fallbacks, st.pages,
	    st.local_pages, st.remote_pages, st.access_cost, st.kva_imports,
	    st.kva_import_fails, st.pde_promotions, st.pde_demotions, st.pde_p_failures);
	for (i = 0; i < k->ndomains; i++) {
		struct kmem_domain_stats ds = { .version = KMEM_STATS_VERSION };

		(void)kmem_get_domain_stats(k, i, &ds);
		jput(&j, "%s{\"domain\":%d,\"kva_inuse\":%" PRIu64 ",\"kva_total\":%" PRIu64 ","
		    "\"rwx_inuse\":%" PRIu64 ",\"rwx_total\":%" PRIu64 ",\"pages\":%" PRIu64 ","
		    "\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"alloc_fails\":%" PRIu64 ","
		    "\"fallbacks\":%" PRIu64 ",\"local_pages\":%" PRIu64 ","
		    "\"remote_pages\":%" PRIu64 ",\"skipped\":%" PRIu64 ","
		    "\"free_count\":%" PRIu64 ",\"free_min\":%" PRIu64 ",\"page_count\":%" PRIu64
		    "}", i ? "," : "", i, (uint64_t)ds.kva_inuse, (uint64_t)ds.kva_total,
		    (uint64_t)ds.rwx_inuse, (uint64_t)ds.rwx_total, ds.pages, ds.allocs, ds.frees,
		    ds.alloc_fails, ds.fallbacks, ds.local_pages, ds.remote_pages, ds.skipped,
		    ds.free_count, ds.free_min, ds.page_count);
	}
	jput(&j, "]}");
	return (int)j.pos;
}
