/*
 * machine.c -- the simulated machine: configuration, domains, CPUs, host
 * backing, misuse reporting, fault injection and statistics.
 *
 * Theory of operation
 * -------------------
 * A machine is one object (struct pmap_sim) holding everything: nothing in
 * lib/pmap_sim is global except the process-wide default misuse handler and
 * a live-machine counter for tests.
 *
 * Physical memory is one range [phys_base, phys_end) split into consecutive
 * NUMA domains.  It is backed by a single host mapping made with
 * MAP_NORESERVE, so the host commits memory only for simulated pages that
 * are written.  The page array (struct vm_page per page) and the
 * reservation array (struct vm_reserv per 2 MiB) are no-reserve mappings
 * too; a page struct is first written when the buddy allocator carves the
 * 16 MiB block holding it out of the untouched part of its segment (the
 * "frontier", see vm_phys.c).  Creating a 64 GiB machine therefore touches
 * only the few pages of its first carve (the kernel PML4 page).
 *
 * Each domain has a lock protecting its buddy free lists, its
 * reservations and its counters; the kernel pmap has one lock; each object
 * has one.  The order is in pmap_sim_impl.h.
 *
 * CPUs: a thread picks its simulated CPU per machine with
 * pmap_sim_set_cpu(); the value lives in a pthread key owned by the machine.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pmap_sim_impl.h"
#include "kvmem_registry.h"

static atomic_long live_machines;

/* Every live machine, for pmap_sim_foreach() (see kvmem_registry.h). */
static struct kvmem_registry registry = KVMEM_REGISTRY_INIT;

struct foreach_ctx {
	pmap_sim_foreach_fn	*fn;
	void		*arg;
};

static int
foreach_visit(void *item, void *ctx)
{
	struct foreach_ctx *c = ctx;
	return c->fn(item, c->arg);
}

int
pmap_sim_foreach(pmap_sim_foreach_fn *fn, void *arg)
{
	if (fn == NULL)
		return EINVAL;
	struct foreach_ctx c = { fn, arg };
	return kvmem__registry_walk(&registry, foreach_visit, &c);
}
static _Atomic(pmap_sim_misuse_fn *) default_misuse_fn;
static void *_Atomic default_misuse_arg;

long
pmap_sim__live_machines(void)
{
	return atomic_load(&live_machines);
}

/* ---- Configuration ------------------------------------------------------------ */

void
pmap_sim_config_init(struct pmap_sim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = PMAP_SIM_CONFIG_VERSION;
	cfg->ndomains = 1;
	cfg->domain_size = (uint64_t)64 << 20;
	cfg->ncpus = 0;
	cfg->phys_base = (uint64_t)16 << 20;
	cfg->dma32_limit = (uint64_t)4 << 30;
}

static uint64_t
cfg_domain_size(const struct pmap_sim_config *cfg, int i)
{
	return cfg->domain_sizes != NULL ? cfg->domain_sizes[i] : cfg->domain_size;
}

static int
cfg_ncpus(const struct pmap_sim_config *cfg)
{
	return cfg->ncpus == 0 ? cfg->ndomains : cfg->ncpus;
}

#define CFG_FAIL(...) do {						\
	if (msg != NULL && msglen > 0)					\
		snprintf(msg, msglen, __VA_ARGS__);			\
	return EINVAL;							\
} while (0)

int
pmap_sim_config_check(const struct pmap_sim_config *cfg, char *msg, size_t msglen)
{
	uint64_t total = 0;
	int i, j, ncpus;

	if (msg != NULL && msglen > 0)
		msg[0] = '\0';
	if (cfg == NULL)
		CFG_FAIL("no configuration");
	if (cfg->version != PMAP_SIM_CONFIG_VERSION)
		CFG_FAIL("config version %" PRIu32 " (expected %d): call pmap_sim_config_init()",
		    cfg->version, PMAP_SIM_CONFIG_VERSION);
	if (cfg->ndomains < 1 || cfg->ndomains > PMAP_SIM_MAXDOMAINS)
		CFG_FAIL("ndomains %d not in 1..%d", cfg->ndomains, PMAP_SIM_MAXDOMAINS);
	for (i = 0; i < cfg->ndomains; i++) {
		uint64_t sz = cfg_domain_size(cfg, i);

		if (sz < ((uint64_t)1 << 20) || (sz & PMAP_SIM_PAGE_MASK) != 0)
			CFG_FAIL("domain %d size %" PRIu64 " is not a multiple of 4096 of at least 1 MiB",
			    i, sz);
		if (sz > PSIM_MAX_TOTAL || total + sz > PSIM_MAX_TOTAL)
			CFG_FAIL("total memory exceeds %" PRIu64 " bytes", PSIM_MAX_TOTAL);
		total += sz;
	}
	if ((cfg->phys_base & PMAP_SIM_PAGE_MASK) != 0)
		CFG_FAIL("phys_base 0x%" PRIx64 " is not page aligned", cfg->phys_base);
	if (cfg->phys_base > PSIM_MAX_PHYS || total > PSIM_MAX_PHYS - cfg->phys_base)
		CFG_FAIL("physical memory ends beyond 2^46");
	if ((cfg->dma32_limit & PMAP_SIM_PAGE_MASK) != 0)
		CFG_FAIL("dma32_limit 0x%" PRIx64 " is not page aligned", cfg->dma32_limit);
	if (cfg->ncpus < 0 || cfg->ncpus > PMAP_SIM_MAXCPUS)
		CFG_FAIL("ncpus %d not in 0..%d", cfg->ncpus, PMAP_SIM_MAXCPUS);
	ncpus = cfg_ncpus(cfg);
	if (cfg->cpu_domain != NULL) {
		for (i = 0; i < ncpus; i++)
			if (cfg->cpu_domain[i] < 0 || cfg->cpu_domain[i] >= cfg->ndomains)
				CFG_FAIL("cpu %d in domain %d of %d", i, cfg->cpu_domain[i],
				    cfg->ndomains);
	}
	if (cfg->distance != NULL) {
		int n = cfg->ndomains;

		for (i = 0; i < n; i++) {
			if (cfg->distance[i * n + i] != 10)
				CFG_FAIL("distance[%d][%d] is %u, local distance must be 10", i, i,
				    cfg->distance[i * n + i]);
			for (j = 0; j < n; j++)
				if (j != i && cfg->distance[i * n + j] <= 10)
					CFG_FAIL("distance[%d][%d] is %u, remote distances must exceed 10",
					    i, j, cfg->distance[i * n + j]);
		}
	}
	return 0;
}

/* ---- Creation ---------------------------------------------------------------------- */

static void *
map_noreserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static size_t
round_host(size_t len)
{
	return (len + 65535) & ~(size_t)65535;
}

/* Release whatever pmap_sim_create() got so far (fields may be NULL). */
static void
sim_free(struct pmap_sim *sim)
{
	int i;

	if (sim->dom != NULL) {
		for (i = 0; i < sim->ndomains; i++) {
			pthread_mutex_destroy(&sim->dom[i].lock);
			pthread_cond_destroy(&sim->dom[i].free_cv);
		}
		free(sim->dom);
	}
	if (sim->host != NULL)
		munmap(sim->host, sim->host_len);
	if (sim->pages != NULL)
		munmap(sim->pages, sim->pages_len);
	if (sim->resv != NULL)
		munmap(sim->resv, sim->resv_len);
	free(sim->cpu_domain);
	free(sim->distance);
	free(sim->dom_order);
	pthread_mutex_destroy(&sim->obj_lock);
	pthread_mutex_destroy(&sim->fault_lock);
	pthread_mutex_destroy(&sim->misc_lock);
	free(sim);
}

struct pmap_sim *
pmap_sim_create(const struct pmap_sim_config *cfg)
{
	struct pmap_sim *sim;
	uint64_t total = 0, pfn;
	int i, j, k;

	if (pmap_sim_config_check(cfg, NULL, 0) != 0) {
		errno = EINVAL;
		return NULL;
	}
	sim = calloc(1, sizeof(*sim));
	if (sim == NULL)
		goto nomem_early;
	pthread_mutex_init(&sim->obj_lock, NULL);
	pthread_mutex_init(&sim->fault_lock, NULL);
	pthread_mutex_init(&sim->misc_lock, NULL);
	snprintf(sim->name, sizeof(sim->name), "%s", cfg->name[0] != '\0' ? cfg->name : "sim");
	sim->ndomains = cfg->ndomains;
	sim->ncpus = cfg_ncpus(cfg);
	sim->misuse_fn = cfg->misuse_fn;
	sim->misuse_arg = cfg->misuse_arg;
	for (i = 0; i < cfg->ndomains; i++)
		total += cfg_domain_size(cfg, i);
	sim->phys_base = cfg->phys_base;
	sim->phys_end = cfg->phys_base + total;
	sim->base_pfn = cfg->phys_base >> PMAP_SIM_PAGE_SHIFT;
	sim->npages = total >> PMAP_SIM_PAGE_SHIFT;
	sim->nresv = ((sim->phys_end - 1) >> PMAP_SIM_SUPERPAGE_SHIFT) -
	    (sim->phys_base >> PMAP_SIM_SUPERPAGE_SHIFT) + 1;

	sim->host_len = round_host(total);
	sim->pages_len = round_host(sim->npages * sizeof(struct vm_page));
	sim->resv_len = round_host(sim->nresv * sizeof(struct vm_reserv));
	if ((sim->host = map_noreserve(sim->host_len)) == NULL ||
	    (sim->pages = map_noreserve(sim->pages_len)) == NULL ||
	    (sim->resv = map_noreserve(sim->resv_len)) == NULL)
		goto nomem;

	sim->dom = aligned_alloc(64, ((sizeof(struct psim_domain) * (size_t)sim->ndomains) + 63) &
	    ~(size_t)63);
	sim->cpu_domain = calloc((size_t)sim->ncpus, sizeof(int));
	sim->distance = calloc((size_t)sim->ndomains * (size_t)sim->ndomains, 1);
	sim->dom_order = calloc((size_t)sim->ndomains * (size_t)sim->ndomains, sizeof(int));
	if (sim->dom == NULL || sim->cpu_domain == NULL || sim->distance == NULL ||
	    sim->dom_order == NULL) {
		free(sim->dom);
		sim->dom = NULL;
		goto nomem;
	}
	memset(sim->dom, 0, sizeof(struct psim_domain) * (size_t)sim->ndomains);

	pfn = sim->base_pfn;
	for (i = 0; i < sim->ndomains; i++) {
		struct psim_domain *d = &sim->dom[i];
		uint64_t n = cfg_domain_size(cfg, i) >> PMAP_SIM_PAGE_SHIFT;

		kvmem_mutex_init_adaptive(&d->lock);
		pthread_cond_init(&d->free_cv, NULL);
		d->id = i;
		d->start_pfn = pfn;
		d->end_pfn = pfn + n;
		d->page_count = n;
		/* FreeBSD's pageout defaults: 2 pages for interrupts, a reserve above. */
		d->interrupt_free_min = 2;
		d->free_reserved = 32 + d->interrupt_free_min + n / 768;
		pfn += n;
	}
	/* Segments need every domain's range: DMA32 is used only if memory lies above it. */
	for (i = 0; i < sim->ndomains; i++) {
		struct psim_domain *d = &sim->dom[i];
		uint64_t lim = cfg->dma32_limit >> PMAP_SIM_PAGE_SHIFT;
		bool split = cfg->dma32_limit != 0 && sim->phys_end > cfg->dma32_limit;

		d->seg_of_fl[0] = d->seg_of_fl[1] = -1;
		if (split && d->start_pfn < lim) {
			uint64_t mid = d->end_pfn < lim ? d->end_pfn : lim;

			if (mid < d->end_pfn) {
				d->seg[d->nseg] = (struct psim_seg){ .start = mid, .end = d->end_pfn,
				    .freelist = PMAP_SIM_FREELIST_DEFAULT };
				d->seg_of_fl[PMAP_SIM_FREELIST_DEFAULT] = d->nseg++;
			}
			d->seg[d->nseg] = (struct psim_seg){ .start = d->start_pfn, .end = mid,
			    .freelist = PMAP_SIM_FREELIST_DMA32 };
			d->seg_of_fl[PMAP_SIM_FREELIST_DMA32] = d->nseg++;
		} else {
			d->seg[0] = (struct psim_seg){ .start = d->start_pfn, .end = d->end_pfn,
			    .freelist = PMAP_SIM_FREELIST_DEFAULT };
			d->seg_of_fl[PMAP_SIM_FREELIST_DEFAULT] = 0;
			d->nseg = 1;
		}
		psim_phys_init_domain(sim, d);
	}

	for (i = 0; i < sim->ncpus; i++)
		sim->cpu_domain[i] = cfg->cpu_domain != NULL ? cfg->cpu_domain[i] :
		    (int)((int64_t)i * sim->ndomains / sim->ncpus);
	for (i = 0; i < sim->ndomains; i++)
		for (j = 0; j < sim->ndomains; j++)
			sim->distance[i * sim->ndomains + j] = cfg->distance != NULL ?
			    cfg->distance[i * sim->ndomains + j] : (i == j ? 10 : 21);
	/* Per domain, every domain by increasing distance (ties: by number, from i up). */
	for (i = 0; i < sim->ndomains; i++) {
		int *ord = &sim->dom_order[i * sim->ndomains];

		for (j = 0; j < sim->ndomains; j++)
			ord[j] = (i + j) % sim->ndomains;
		for (j = 1; j < sim->ndomains; j++) {
			int v = ord[j];

			for (k = j; k > 0 && sim->distance[i * sim->ndomains + ord[k - 1]] >
			    sim->distance[i * sim->ndomains + v]; k--)
				ord[k] = ord[k - 1];
			ord[k] = v;
		}
	}
	if (pthread_key_create(&sim->cpu_key, NULL) != 0)
		goto nomem;

	sim->kobj = calloc(1, sizeof(*sim->kobj));
	if (sim->kobj == NULL)
		goto nomem_key;
	psim_object_init(sim, sim->kobj, 0);
	sim->kobj->is_kernel = true;
	if (psim_pmap_init(sim) != 0) {
		psim_object_fini(sim->kobj);
		goto nomem_key;
	}
	if (kvmem__registry_link(&registry, sim) != 0) {
		psim_pmap_fini(sim);
		while (sim->objects != NULL)
			psim_object_fini(sim->objects);
		goto nomem_key;
	}
	atomic_fetch_add(&live_machines, 1);
	return sim;

nomem_key:
	pthread_key_delete(sim->cpu_key);
nomem:
	sim_free(sim);
nomem_early:
	errno = ENOMEM;
	return NULL;
}

void
pmap_sim_destroy(struct pmap_sim *sim)
{
	if (sim == NULL)
		return;
	kvmem__registry_unlink(&registry, sim);
	psim_pmap_fini(sim);
	while (sim->objects != NULL)
		psim_object_fini(sim->objects);
	pthread_key_delete(sim->cpu_key);
	sim_free(sim);
	atomic_fetch_sub(&live_machines, 1);
}

/* ---- Topology ------------------------------------------------------------------------ */

const char *
pmap_sim_name(const struct pmap_sim *sim)
{
	return sim->name;
}

int
pmap_sim_ndomains(const struct pmap_sim *sim)
{
	return sim->ndomains;
}

int
pmap_sim_ncpus(const struct pmap_sim *sim)
{
	return sim->ncpus;
}

int
pmap_sim_cpu_domain(const struct pmap_sim *sim, int cpu)
{
	return cpu >= 0 && cpu < sim->ncpus ? sim->cpu_domain[cpu] : -1;
}

int
pmap_sim_distance(const struct pmap_sim *sim, int from, int to)
{
	if (from < 0 || to < 0 || from >= sim->ndomains || to >= sim->ndomains)
		return -1;
	return sim->distance[from * sim->ndomains + to];
}

int
pmap_sim_set_cpu(struct pmap_sim *sim, int cpu)
{
	if (cpu < 0 || cpu >= sim->ncpus)
		return EINVAL;
	return pthread_setspecific(sim->cpu_key, (void *)(intptr_t)(cpu + 1));
}

int
pmap_sim_curcpu(struct pmap_sim *sim)
{
	intptr_t v = (intptr_t)pthread_getspecific(sim->cpu_key);

	return v > 0 ? (int)(v - 1) : 0;
}

int
pmap_sim_curdomain(struct pmap_sim *sim)
{
	return sim->cpu_domain[pmap_sim_curcpu(sim)];
}

int
pmap_sim_domain_range(const struct pmap_sim *sim, int domain, vm_paddr_t *startp,
    vm_paddr_t *endp)
{
	if (domain < 0 || domain >= sim->ndomains)
		return EINVAL;
	*startp = sim->dom[domain].start_pfn << PMAP_SIM_PAGE_SHIFT;
	*endp = sim->dom[domain].end_pfn << PMAP_SIM_PAGE_SHIFT;
	return 0;
}

/* The domain holding pfn (which must be RAM): binary search of the ranges. */
int
psim_domain_of_pfn(const struct pmap_sim *sim, uint64_t pfn)
{
	int lo = 0, hi = sim->ndomains - 1;

	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;

		if (sim->dom[mid].start_pfn <= pfn)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

pmap_t
pmap_sim_kernel_pmap(struct pmap_sim *sim)
{
	return &sim->kpmap;
}

vm_object_t
pmap_sim_kernel_object(struct pmap_sim *sim)
{
	return sim->kobj;
}

struct pmap_sim *
pmap_sim_of_pmap(pmap_t pmap)
{
	return pmap->sim;
}

void *
pmap_sim_phys_ptr(struct pmap_sim *sim, vm_paddr_t pa)
{
	if (pa < sim->phys_base || pa >= sim->phys_end)
		return NULL;
	return psim_host(sim, pa);
}

bool
psim_page_ptr_ok(const struct pmap_sim *sim, const struct vm_page *m)
{
	uintptr_t p = (uintptr_t)m, b = (uintptr_t)sim->pages;

	if (m == NULL || p < b)
		return false;
	if ((p - b) % sizeof(struct vm_page) != 0)
		return false;
	return (p - b) / sizeof(struct vm_page) < sim->npages;
}

/* ---- Misuse ----------------------------------------------------------------------------- */

static const char *const misuse_names[] = {
	[PMAP_SIM_MISUSE_BAD_ADDRESS] = "bad address",
	[PMAP_SIM_MISUSE_MAPPED] = "address mapped to another page",
	[PMAP_SIM_MISUSE_DOUBLE_FREE] = "double free",
	[PMAP_SIM_MISUSE_FREE_MAPPED] = "free of a mapped page",
	[PMAP_SIM_MISUSE_FREE_WIRED] = "free of a wired page",
	[PMAP_SIM_MISUSE_BAD_PAGE] = "bad page",
	[PMAP_SIM_MISUSE_PAGE_EXISTS] = "page exists",
	[PMAP_SIM_MISUSE_OBJECT_BUSY] = "object busy",
	[PMAP_SIM_MISUSE_BAD_ARG] = "bad argument",
};

const char *
pmap_sim_misuse_name(enum pmap_sim_misuse kind)
{
	if ((int)kind < 1 || (size_t)kind >= sizeof(misuse_names) / sizeof(misuse_names[0]))
		return "unknown misuse";
	return misuse_names[kind];
}

void
pmap_sim_set_misuse_handler(struct pmap_sim *sim, pmap_sim_misuse_fn *fn, void *arg)
{
	if (sim == NULL) {
		atomic_store(&default_misuse_arg, arg);
		atomic_store(&default_misuse_fn, fn);
		return;
	}
	pthread_mutex_lock(&sim->misc_lock);
	sim->misuse_fn = fn;
	sim->misuse_arg = arg;
	pthread_mutex_unlock(&sim->misc_lock);
}

void
psim_misuse(struct pmap_sim *sim, enum pmap_sim_misuse kind, uint64_t addr,
    const char *call, const char *fmt, ...)
{
	char detail[256], msg[400];
	pmap_sim_misuse_fn *fn;
	void *arg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "kvmem: pmap_sim '%s': %s (%s)", sim->name, detail, call);
	atomic_fetch_add(&sim->misuses, 1);

	pthread_mutex_lock(&sim->misc_lock);
	fn = sim->misuse_fn;
	arg = sim->misuse_arg;
	pthread_mutex_unlock(&sim->misc_lock);
	if (fn == NULL) {
		arg = atomic_load(&default_misuse_arg);
		fn = atomic_load(&default_misuse_fn);
	}
	if (fn != NULL) {
		fn(arg, sim, kind, addr, msg);
		return;
	}
	fprintf(stderr, "%s\n", msg);
	fflush(stderr);
	abort();
}

/* ---- Allocation classes and fault injection -------------------------------------------------- */

bool
psim_class_ok(const struct psim_domain *d, int req, uint64_t n)
{
	uint64_t limit;

	switch (req & VM_ALLOC_CLASS_MASK) {
	case VM_ALLOC_INTERRUPT:
		limit = 0;
		break;
	case VM_ALLOC_SYSTEM:
		limit = d->interrupt_free_min;
		break;
	default:
		limit = d->free_reserved;
		break;
	}
	return psim_free_count(d) >= limit + n;
}

int
pmap_sim_set_fault(struct pmap_sim *sim, const struct pmap_sim_fault *f)
{
	if (f != NULL && (f->version != PMAP_SIM_FAULT_VERSION ||
	    (f->what & ~(unsigned)(PMAP_SIM_FAULT_PAGES | PMAP_SIM_FAULT_PTPAGES)) != 0 ||
	    f->domain < -1 || f->domain >= sim->ndomains ||
	    !(f->probability >= 0.0 && f->probability <= 1.0)))
		return EINVAL;
	pthread_mutex_lock(&sim->fault_lock);
	if (f != NULL) {
		sim->fault = *f;
		if (sim->fault.what == 0)
			sim->fault.what = PMAP_SIM_FAULT_PAGES | PMAP_SIM_FAULT_PTPAGES;
		sim->fault_rng = f->seed != 0 ? f->seed : 0x9e3779b97f4a7c15ULL;
	}
	sim->fault_attempts = 0;
	sim->fault_count = 0;
	atomic_store(&sim->fault_on, f != NULL);
	pthread_mutex_unlock(&sim->fault_lock);
	return 0;
}

/* xorshift64* step of the fault injection generator (fault_lock held). */
static uint64_t
fault_next(struct pmap_sim *sim)
{
	uint64_t x = sim->fault_rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	sim->fault_rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

bool
psim_fault_check(struct pmap_sim *sim, struct psim_domain *d, unsigned what)
{
	const struct pmap_sim_fault *f = &sim->fault;
	bool fail = false;

	if (!atomic_load_explicit(&sim->fault_on, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&sim->fault_lock);
	if (!atomic_load_explicit(&sim->fault_on, memory_order_relaxed) ||
	    (f->what & what) == 0 || (f->domain >= 0 && f->domain != d->id) ||
	    (f->max_faults != 0 && sim->fault_count >= f->max_faults))
		goto out;
	sim->fault_attempts++;
	if (sim->fault_attempts <= f->skip)
		goto out;
	if (f->every_nth != 0 && (sim->fault_attempts - f->skip) % f->every_nth == 0)
		fail = true;
	if (f->probability > 0.0 &&
	    (double)(fault_next(sim) >> 11) * (1.0 / 9007199254740992.0) < f->probability)
		fail = true;
	if (f->below_free != 0 && psim_free_count(d) < f->below_free)
		fail = true;
	if (fail) {
		sim->fault_count++;
		d->faults++;
	}
out:
	pthread_mutex_unlock(&sim->fault_lock);
	return fail;
}

/* ---- Statistics ------------------------------------------------------------------------------- */

/* Fill st from domain d (d locked); the implicit blocks count as free blocks. */
static void
domain_stats_locked(struct pmap_sim *sim, struct psim_domain *d, struct pmap_sim_domain_stats *st)
{
	uint64_t below = 0, total = d->buddy_free;
	int fl, o, s;

	st->domain = d->id;
	st->start = d->start_pfn << PMAP_SIM_PAGE_SHIFT;
	st->end = d->end_pfn << PMAP_SIM_PAGE_SHIFT;
	st->page_count = d->page_count;
	st->free_count = psim_free_count(d);
	st->free_reserved = d->free_reserved;
	st->interrupt_free_min = d->interrupt_free_min;
	st->buddy_free = d->buddy_free;
	st->reserv_free = d->reserv_free;
	for (fl = 0; fl < PMAP_SIM_NFREELIST; fl++)
		for (o = 0; o < PMAP_SIM_NFREEORDER; o++)
			st->free_blocks[fl][o] = d->fl_blocks[fl][o];
	for (s = 0; s < d->nseg; s++)
		for (o = 0; o < PMAP_SIM_NFREEORDER; o++)
			st->free_blocks[d->seg[s].freelist][o] += d->seg[s].imp_blocks[o];
	for (o = 0; o < PMAP_SIM_NFREEORDER; o++) {
		/* below: free pages in blocks smaller than 2^o */
		st->unusable_index[o] = total == 0 ? 1000 : (uint32_t)(below * 1000 / total);
		for (fl = 0; fl < PMAP_SIM_NFREELIST; fl++)
			below += st->free_blocks[fl][o] << o;
	}
	st->frag_index = st->unusable_index[PSIM_RV_ORDER];
	st->allocated = d->allocated;
	st->wired_count = atomic_load(&d->wired);
	st->pt_pages = d->pt_pages;
	st->reserv_active = d->reserv_active;
	st->reserv_partial = d->partq_len;
	st->reserv_fullpop = d->reserv_fullpop;
	st->allocs = d->allocs;
	st->frees = d->frees;
	st->alloc_fails = d->alloc_fails;
	st->faults_injected = d->faults;
	st->host_touched = d->touched;
	(void)sim;
}

int
pmap_sim_domain_stats(struct pmap_sim *sim, int domain, struct pmap_sim_domain_stats *st)
{
	struct psim_domain *d;

	if (st == NULL || st->version != PMAP_SIM_STATS_VERSION || domain < 0 ||
	    domain >= sim->ndomains)
		return EINVAL;
	memset(st, 0, sizeof(*st));
	st->version = PMAP_SIM_STATS_VERSION;
	st->size = (uint32_t)sizeof(*st);
	d = &sim->dom[domain];
	pthread_mutex_lock(&d->lock);
	domain_stats_locked(sim, d, st);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int
pmap_sim_stats(struct pmap_sim *sim, struct pmap_sim_stats *st)
{
	struct pmap *pm = &sim->kpmap;
	int i;

	if (st == NULL || st->version != PMAP_SIM_STATS_VERSION)
		return EINVAL;
	memset(st, 0, sizeof(*st));
	st->version = PMAP_SIM_STATS_VERSION;
	st->size = (uint32_t)sizeof(*st);
	snprintf(st->name, sizeof(st->name), "%s", sim->name);
	st->ndomains = sim->ndomains;
	st->ncpus = sim->ncpus;
	pthread_mutex_lock(&pm->lock);
	st->pde_promotions = pm->promotions;
	st->pde_p_failures = pm->p_failures;
	st->pde_mappings = pm->mappings;
	st->pde_demotions = pm->demotions;
	st->kernel_resident = pm->resident;
	st->kernel_wired = pm->wired;
	pthread_mutex_unlock(&pm->lock);
	for (i = 0; i < sim->ndomains; i++) {
		struct psim_domain *d = &sim->dom[i];

		pthread_mutex_lock(&d->lock);
		st->page_count += d->page_count;
		st->free_count += psim_free_count(d);
		st->wired_count += atomic_load(&d->wired);
		st->pt_pages += d->pt_pages;
		st->reserv_broken += d->reserv_broken;
		st->reserv_freed += d->reserv_freed;
		st->reserv_fullpop += d->reserv_fullpop;
		st->reserv_reclaimed += d->reserv_reclaimed;
		st->reserv_partpopq += d->partq_len;
		st->faults_injected += d->faults;
		pthread_mutex_unlock(&d->lock);
	}
	st->misuses = atomic_load(&sim->misuses);
	st->host_reserved_bytes = sim->host_len + sim->pages_len + sim->resv_len;
	pthread_mutex_lock(&sim->obj_lock);
	st->objects = sim->nobjects;
	pthread_mutex_unlock(&sim->obj_lock);
	return 0;
}

/* Names: FreeBSD's sysctl names where one exists. */
int
pmap_sim_sysctl(struct pmap_sim *sim, const char *name, uint64_t *valp)
{
	static const struct {
		const char	*name;
		size_t		off;
		bool		is_long;
	} tab[] = {
#define F(n, f)		{ n, offsetof(struct pmap_sim_stats, f), false }
#define L(n, f)		{ n, offsetof(struct pmap_sim_stats, f), true }
		F("vm.pmap.pde.promotions", pde_promotions),
		F("vm.pmap.pde.p_failures", pde_p_failures),
		F("vm.pmap.pde.mappings", pde_mappings),
		F("vm.pmap.pde.demotions", pde_demotions),
		F("vm.pmap.kernel_pt_page_count", pt_pages),
		F("vm.reserv.broken", reserv_broken),
		F("vm.reserv.freed", reserv_freed),
		F("vm.reserv.fullpop", reserv_fullpop),
		F("vm.reserv.reclaimed", reserv_reclaimed),
		F("vm.reserv.partpopq", reserv_partpopq),
		F("vm.stats.vm.v_page_count", page_count),
		F("vm.stats.vm.v_free_count", free_count),
		F("vm.stats.vm.v_wire_count", wired_count),
		L("vm.pmap.kernel_resident", kernel_resident),
		L("vm.pmap.kernel_wired", kernel_wired),
		F("kvmem.pmap_sim.faults_injected", faults_injected),
		F("kvmem.pmap_sim.misuses", misuses),
#undef F
#undef L
	};
	struct pmap_sim_stats st;
	size_t i;
	int dom, n = 0;
	char field[64];

	if (name == NULL || valp == NULL)
		return EINVAL;
	if (strcmp(name, "vm.ndomains") == 0) {
		*valp = (uint64_t)sim->ndomains;
		return 0;
	}
	if (sscanf(name, "vm.domain.%d.stats.%63[a-z_]%n", &dom, field, &n) == 2 &&
	    name[n] == '\0') {
		struct pmap_sim_domain_stats ds = { .version = PMAP_SIM_STATS_VERSION };

		if (pmap_sim_domain_stats(sim, dom, &ds) != 0)
			return ENOENT;
		if (strcmp(field, "page_count") == 0)
			*valp = ds.page_count;
		else if (strcmp(field, "free_count") == 0)
			*valp = ds.free_count;
		else if (strcmp(field, "free_reserved") == 0)
			*valp = ds.free_reserved;
		else if (strcmp(field, "interrupt_free_min") == 0)
			*valp = ds.interrupt_free_min;
		else if (strcmp(field, "wired_count") == 0)
			*valp = ds.wired_count;
		else if (strcmp(field, "pt_pages") == 0)
			*valp = ds.pt_pages;
		else if (strcmp(field, "frag_index") == 0)
			*valp = ds.frag_index;
		else
			return ENOENT;
		return 0;
	}
	st.version = PMAP_SIM_STATS_VERSION;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(name, tab[i].name) != 0)
			continue;
		pmap_sim_stats(sim, &st);
		if (tab[i].is_long) {
			long v;

			memcpy(&v, (char *)&st + tab[i].off, sizeof(v));
			*valp = (uint64_t)v;
		} else
			memcpy(valp, (char *)&st + tab[i].off, sizeof(*valp));
		return 0;
	}
	return ENOENT;
}

int
pmap_sim_buddyinfo(struct pmap_sim *sim, char *buf, size_t len)
{
	static const char *const flname[PMAP_SIM_NFREELIST] = { "default", "dma32" };
	size_t used = 0;
	int i, fl, o, r;

#define PUT(...) do {							\
	r = snprintf(len == 0 ? NULL : buf + (used < len ? used : len - 1),	\
	    used < len ? len - used : 0, __VA_ARGS__);			\
	if (r < 0)							\
		return r;						\
	used += (size_t)r;						\
} while (0)
	if (buf == NULL)
		len = 0;
	if (len > 0)
		buf[0] = '\0';
	for (i = 0; i < sim->ndomains; i++) {
		struct pmap_sim_domain_stats st = { .version = PMAP_SIM_STATS_VERSION };

		pmap_sim_domain_stats(sim, i, &st);
		for (fl = 0; fl < PMAP_SIM_NFREELIST; fl++) {
			if (sim->dom[i].seg_of_fl[fl] < 0)
				continue;
			PUT("Node %d, freelist %-7s", i, flname[fl]);
			for (o = 0; o < PMAP_SIM_NFREEORDER; o++)
				PUT(" %6" PRIu64, st.free_blocks[fl][o]);
			PUT("\n");
		}
	}
#undef PUT
	return (int)used;
}
