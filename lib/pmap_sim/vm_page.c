/*
 * vm_page.c -- the page array's public face: page allocation and freeing,
 * wiring, accessors, and objects (page owners).
 *
 * An object keeps two maps under its lock: pindex -> page, and "chunks":
 * pindex / 512 -> (reservation slot, number of the object's pages in the
 * chunk).  A new reservation is made for a chunk only when the object has
 * no page there yet, so every page of a valid reservation belongs to the
 * object at the matching index (the reverse need not hold: a chunk may
 * hold ordinary pages left by a broken reservation or by a contiguous
 * allocation).
 *
 * Allocation goes: object lock -> (reservation's domain lock, to use an
 * existing reservation) -> requested domain lock (class check against the
 * free reserve, fault injection, new reservation or buddy page, breaking
 * the oldest partial reservation when the buddy lists are empty).  Page
 * contents are zeroed after the domain lock is dropped.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pmap_sim_impl.h"

#define REQ_KNOWN	(VM_ALLOC_CLASS_MASK | VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL | \
			 VM_ALLOC_ZERO | VM_ALLOC_WIRED | VM_ALLOC_NORECLAIM)

/* Why an attempt failed, for the sleeping variants. */
struct fail_info {
	bool		faulted;	/* injected: never sleep on it */
	int		domain;
	uint64_t	gen;		/* d->free_gen when it failed */
};

static inline uint64_t
page_pa(const struct pmap_sim *sim, const struct vm_page *m)
{
	return psim_pfn(sim, m) << PMAP_SIM_PAGE_SHIFT;
}

/* ---- Objects ------------------------------------------------------------------------ */

void
psim_object_init(struct pmap_sim *sim, struct vm_object *obj, int flags)
{
	obj->sim = sim;
	kvmem_mutex_init_adaptive(&obj->lock);
	obj->flags = flags;
	psim_map_init(&obj->pages);
	psim_map_init(&obj->chunks);
	pthread_mutex_lock(&sim->obj_lock);
	obj->prev = NULL;
	obj->next = sim->objects;
	if (sim->objects != NULL)
		sim->objects->prev = obj;
	sim->objects = obj;
	sim->nobjects++;
	pthread_mutex_unlock(&sim->obj_lock);
}

void
psim_object_fini(struct vm_object *obj)
{
	struct pmap_sim *sim = obj->sim;

	pthread_mutex_lock(&sim->obj_lock);
	if (obj->prev != NULL)
		obj->prev->next = obj->next;
	else
		sim->objects = obj->next;
	if (obj->next != NULL)
		obj->next->prev = obj->prev;
	sim->nobjects--;
	pthread_mutex_unlock(&sim->obj_lock);
	psim_map_fini(&obj->pages);
	psim_map_fini(&obj->chunks);
	pthread_mutex_destroy(&obj->lock);
	free(obj);
}

vm_object_t
pmap_sim_object_create(struct pmap_sim *sim, int flags)
{
	struct vm_object *obj;

	if ((flags & ~(PMAP_SIM_OBJ_MANAGED | PMAP_SIM_OBJ_NORESERV)) != 0) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, (uint64_t)flags, "pmap_sim_object_create",
		    "unknown object flags 0x%x", flags);
		errno = EINVAL;
		return NULL;
	}
	obj = calloc(1, sizeof(*obj));
	if (obj == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	psim_object_init(sim, obj, flags);
	return obj;
}

int
pmap_sim_object_destroy(vm_object_t obj)
{
	struct pmap_sim *sim = obj->sim;
	uint64_t n;

	if (obj->is_kernel) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, 0, "pmap_sim_object_destroy",
		    "the kernel object cannot be destroyed");
		return EINVAL;
	}
	pthread_mutex_lock(&obj->lock);
	n = obj->npages;
	pthread_mutex_unlock(&obj->lock);
	if (n != 0) {
		psim_misuse(sim, PMAP_SIM_MISUSE_OBJECT_BUSY, n, "pmap_sim_object_destroy",
		    "object %p still owns %" PRIu64 " pages", (void *)obj, n);
		return EBUSY;
	}
	psim_object_fini(obj);
	return 0;
}

uint64_t
pmap_sim_object_npages(vm_object_t obj)
{
	uint64_t n;

	pthread_mutex_lock(&obj->lock);
	n = obj->npages;
	pthread_mutex_unlock(&obj->lock);
	return n;
}

static struct vm_page *
obj_lookup(struct vm_object *obj, vm_pindex_t pindex)
{
	uint64_t *v = psim_map_find(&obj->pages, pindex);

	return v != NULL ? &obj->sim->pages[*v] : NULL;
}

vm_page_t
vm_page_lookup(vm_object_t obj, vm_pindex_t pindex)
{
	struct vm_page *m;

	pthread_mutex_lock(&obj->lock);
	m = obj_lookup(obj, pindex);
	pthread_mutex_unlock(&obj->lock);
	return m;
}

/* Enter m into obj at pindex (room reserved beforehand; obj locked). */
static void
obj_insert(struct vm_object *obj, struct vm_page *m, vm_pindex_t pindex, uint32_t rvi)
{
	struct pmap_sim *sim = obj->sim;
	uint64_t *cv = psim_map_find(&obj->chunks, pindex / PSIM_RV_NPAGES);
	uint32_t cnt = cv != NULL ? CHUNK_COUNT(*cv) : 0;

	if (rvi == PSIM_NONE && cv != NULL)
		rvi = CHUNK_RV(*cv);
	(void)psim_map_put(&obj->pages, pindex, (uint64_t)(m - sim->pages));
	(void)psim_map_put(&obj->chunks, pindex / PSIM_RV_NPAGES, CHUNK_VAL(rvi, cnt + 1));
	obj->npages++;
}

/* Take pindex out of obj's maps (obj locked; the page must be there). */
static void
obj_remove(struct vm_object *obj, vm_pindex_t pindex)
{
	uint64_t *cv = psim_map_find(&obj->chunks, pindex / PSIM_RV_NPAGES);

	psim_map_del(&obj->pages, pindex);
	if (cv != NULL) {
		if (CHUNK_COUNT(*cv) <= 1)
			psim_map_del(&obj->chunks, pindex / PSIM_RV_NPAGES);
		else
			*cv -= 1;
	}
	obj->npages--;
}

/* ---- Allocation ----------------------------------------------------------------------- */

/* Set up a freshly allocated page (domain locked).  Returns true if it needs zeroing. */
static bool
pg_setup(struct psim_domain *d, struct vm_page *m, struct vm_object *obj,
    vm_pindex_t pindex, int req, unsigned extra, vm_memattr_t memattr)
{
	bool zero = (req & VM_ALLOC_ZERO) && !(m->flags & PGF_ZERO);

	KVMEM_ASSERT((m->flags & (PGF_INIT | PGF_ALLOC | PGF_FREE)) == PGF_INIT);
	m->flags = (uint16_t)((m->flags & (PGF_INIT | PGF_ZERO)) | PGF_ALLOC | extra |
	    (obj != NULL && (obj->flags & PMAP_SIM_OBJ_MANAGED) ? PGF_MANAGED : 0) |
	    ((req & VM_ALLOC_ZERO) ? PGF_ZERO : 0));
	m->object = obj;
	m->pindex = pindex;
	m->memattr = memattr;
	m->pt_valid = 0;
	m->pt_level = 0;
	atomic_store_explicit(&m->map_count, 0, memory_order_relaxed);
	if (req & VM_ALLOC_WIRED) {
		atomic_store_explicit(&m->wire_count, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&d->wired, 1, memory_order_relaxed);
	} else
		atomic_store_explicit(&m->wire_count, 0, memory_order_relaxed);
	d->allocated++;
	d->allocs++;
	return zero;
}

static void
fail_note(struct psim_domain *d, struct fail_info *fi, bool faulted)
{
	if (!faulted)
		d->alloc_fails++;
	if (fi != NULL) {
		fi->faulted = faulted;
		fi->domain = d->id;
		fi->gen = d->free_gen;
	}
}

/* A buddy page from d, breaking partial reservations if the lists are empty (d locked). */
static uint64_t
buddy_page(struct pmap_sim *sim, struct psim_domain *d, int req)
{
	uint64_t pfn;

	if (!psim_class_ok(d, req, 1))
		return PSIM_NONE64;
	while ((pfn = psim_phys_alloc(sim, d, 0)) == PSIM_NONE64)
		if (!psim_rv_reclaim_inactive(sim, d))
			return PSIM_NONE64;
	return pfn;
}

/* One page with no object from domain (fi filled on failure). */
static struct vm_page *
noobj_one(struct pmap_sim *sim, int domain, int req, unsigned pgflags, unsigned what,
    struct fail_info *fi)
{
	struct psim_domain *d = &sim->dom[domain];
	struct vm_page *m;
	uint64_t pfn;
	bool zero;

	pthread_mutex_lock(&d->lock);
	if (psim_fault_check(sim, d, what)) {
		fail_note(d, fi, true);
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	pfn = buddy_page(sim, d, req);
	if (pfn == PSIM_NONE64) {
		fail_note(d, fi, false);
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	m = psim_page(sim, pfn);
	zero = pg_setup(d, m, NULL, 0, req, pgflags, VM_MEMATTR_DEFAULT);
	if (pgflags & PGF_PT)
		d->pt_pages++;
	pthread_mutex_unlock(&d->lock);
	if (zero)
		memset(psim_host(sim, pfn << PMAP_SIM_PAGE_SHIFT), 0, PSIM_PAGE);
	return m;
}

struct vm_page *
psim_alloc_noobj(struct pmap_sim *sim, int domain, int req, unsigned pgflags, unsigned what,
    bool *faultedp)
{
	struct fail_info fi = { .faulted = false };
	struct vm_page *m = noobj_one(sim, domain, req, pgflags, what, &fi);

	if (faultedp != NULL)
		*faultedp = m == NULL && fi.faulted;
	return m;
}

/*
 * One page for obj at pindex (obj locked, no page there, map room reserved),
 * preferring an existing reservation, then a new one, then a buddy page of
 * domain.  NULL on failure with *fi filled.
 */
static struct vm_page *
alloc_obj_page(struct pmap_sim *sim, struct vm_object *obj, vm_pindex_t pindex, int domain,
    int req, struct fail_info *fi)
{
	vm_pindex_t chunk = pindex / PSIM_RV_NPAGES, first = chunk * PSIM_RV_NPAGES;
	unsigned slot = (unsigned)(pindex % PSIM_RV_NPAGES);
	uint64_t *cv = psim_map_find(&obj->chunks, chunk);
	struct psim_domain *d;
	struct vm_reserv *rv;
	struct vm_page *m;
	uint32_t rvi = PSIM_NONE;
	uint64_t pfn;
	bool zero, rv_valid = false;

	if (cv != NULL && CHUNK_RV(*cv) != PSIM_NONE) {
		rv = &sim->resv[CHUNK_RV(*cv)];
		d = &sim->dom[psim_domain_of_pfn(sim, psim_rv_pfn(sim, rv))];
		pthread_mutex_lock(&d->lock);
		if (rv->object == obj && rv->pindex == first) {
			rv_valid = true;
			if (psim_fault_check(sim, d, PMAP_SIM_FAULT_PAGES)) {
				fail_note(d, fi, true);
				pthread_mutex_unlock(&d->lock);
				return NULL;
			}
			if (psim_class_ok(d, req, 1)) {
				pfn = psim_rv_populate(sim, d, rv, slot);
				rvi = CHUNK_RV(*cv);
				goto found;
			}
		} else
			*cv = CHUNK_VAL(PSIM_NONE, CHUNK_COUNT(*cv));	/* stale */
		pthread_mutex_unlock(&d->lock);
	}

	d = &sim->dom[domain];
	pthread_mutex_lock(&d->lock);
	if (psim_fault_check(sim, d, PMAP_SIM_FAULT_PAGES)) {
		fail_note(d, fi, true);
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	if (!rv_valid && !(obj->flags & PMAP_SIM_OBJ_NORESERV) &&
	    (cv == NULL || CHUNK_COUNT(*cv) == 0) && psim_class_ok(d, req, 1) &&
	    (rv = psim_rv_create(sim, d, obj, first)) != NULL) {
		pfn = psim_rv_populate(sim, d, rv, slot);
		rvi = (uint32_t)(rv - sim->resv);
		goto found;
	}
	pfn = buddy_page(sim, d, req);
	if (pfn == PSIM_NONE64) {
		fail_note(d, fi, false);
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
found:
	m = psim_page(sim, pfn);
	zero = pg_setup(d, m, obj, pindex, req, 0, VM_MEMATTR_DEFAULT);
	pthread_mutex_unlock(&d->lock);
	if (zero)
		memset(psim_host(sim, pfn << PMAP_SIM_PAGE_SHIFT), 0, PSIM_PAGE);
	obj_insert(obj, m, pindex, rvi);
	return m;
}

/* Sleep until something is freed in the domain that failed (fi from the failure). */
static void
wait_free(struct pmap_sim *sim, const struct fail_info *fi)
{
	struct psim_domain *d = &sim->dom[fi->domain];

	pthread_mutex_lock(&d->lock);
	d->waiters++;
	while (d->free_gen == fi->gen)
		pthread_cond_wait(&d->free_cv, &d->lock);
	d->waiters--;
	pthread_mutex_unlock(&d->lock);
}

/* Reject unknown request bits (misuse); true if req is acceptable. */
static bool
check_req(struct pmap_sim *sim, int req, const char *call)
{
	if ((req & ~REQ_KNOWN) != 0 || (req & VM_ALLOC_CLASS_MASK) == VM_ALLOC_CLASS_MASK) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, (uint64_t)(unsigned)req, call,
		    "unknown request flags 0x%x", req);
		return false;
	}
	return true;
}

/* obj must be an object of sim and pindex a usable index (else misuse). */
static bool
check_obj(struct pmap_sim *sim, struct vm_object *obj, vm_pindex_t pindex, const char *call)
{
	if (obj == NULL || obj->sim != sim) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, (uint64_t)(uintptr_t)obj, call,
		    "object %p does not belong to this machine", (void *)obj);
		return false;
	}
	if (pindex == PSIM_NONE64) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, pindex, call, "page index 2^64-1 is reserved");
		return false;
	}
	return true;
}

/*
 * The common path of the object allocators: domains[] tried in order,
 * sleeping as req asks.  Reports a page already present as misuse.
 */
static struct vm_page *
alloc_obj(struct pmap_sim *sim, struct vm_object *obj, vm_pindex_t pindex, const int *domains,
    int ndomains, int req, const char *call)
{
	struct fail_info fi = { .faulted = false }, first = { .faulted = false };
	struct vm_page *m = NULL;
	int i;

	pthread_mutex_lock(&obj->lock);
	if ((m = obj_lookup(obj, pindex)) != NULL) {
		pthread_mutex_unlock(&obj->lock);
		psim_misuse(sim, PMAP_SIM_MISUSE_PAGE_EXISTS, page_pa(sim, m), call,
		    "object %p already has page 0x%" PRIx64 " at index %" PRIu64, (void *)obj,
		    page_pa(sim, m), pindex);
		return NULL;
	}
	for (;;) {
		if (psim_map_reserve(&obj->pages, 1) != 0 || psim_map_reserve(&obj->chunks, 1) != 0)
			break;
		for (i = 0; i < ndomains; i++) {
			m = alloc_obj_page(sim, obj, pindex, domains[i], req, &fi);
			if (m != NULL)
				goto out;
			if (i == 0)
				first = fi;
		}
		if (first.faulted || !(req & (VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL)))
			break;
		pthread_mutex_unlock(&obj->lock);
		wait_free(sim, &first);
		pthread_mutex_lock(&obj->lock);
		if ((req & VM_ALLOC_WAITFAIL) || obj_lookup(obj, pindex) != NULL)
			break;
	}
out:
	pthread_mutex_unlock(&obj->lock);
	if (m != NULL)
		PSIM_EXPENSIVE_CHECK(sim);
	return m;
}

vm_page_t
vm_page_alloc_domain(struct pmap_sim *sim, vm_object_t obj, vm_pindex_t pindex, int domain,
    int req)
{
	if (!check_req(sim, req, "vm_page_alloc_domain") ||
	    !check_obj(sim, obj, pindex, "vm_page_alloc_domain"))
		return NULL;
	if (domain < 0 || domain >= sim->ndomains) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, (uint64_t)domain, "vm_page_alloc_domain",
		    "domain %d out of range", domain);
		return NULL;
	}
	return alloc_obj(sim, obj, pindex, &domain, 1, req, "vm_page_alloc_domain");
}

vm_page_t
vm_page_alloc(struct pmap_sim *sim, vm_object_t obj, vm_pindex_t pindex, int req)
{
	if (!check_req(sim, req, "vm_page_alloc") || !check_obj(sim, obj, pindex, "vm_page_alloc"))
		return NULL;
	return alloc_obj(sim, obj, pindex,
	    &sim->dom_order[pmap_sim_curdomain(sim) * sim->ndomains], sim->ndomains, req,
	    "vm_page_alloc");
}

/*
 * An ownerless page from domains[] in order, sleeping as req asks (on the
 * first domain); NULL when none can supply one.
 */
static struct vm_page *
alloc_noobj(struct pmap_sim *sim, const int *domains, int ndomains, int req)
{
	struct fail_info fi = { .faulted = false }, first = { .faulted = false };
	struct vm_page *m;
	int i;

	for (;;) {
		for (i = 0; i < ndomains; i++) {
			m = noobj_one(sim, domains[i], req, 0, PMAP_SIM_FAULT_PAGES, &fi);
			if (m != NULL) {
				PSIM_EXPENSIVE_CHECK(sim);
				return m;
			}
			if (i == 0)
				first = fi;
		}
		if (first.faulted || !(req & (VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL)))
			return NULL;
		wait_free(sim, &first);
		if (req & VM_ALLOC_WAITFAIL)
			return NULL;
	}
}

vm_page_t
vm_page_alloc_noobj_domain(struct pmap_sim *sim, int domain, int req)
{
	if (!check_req(sim, req, "vm_page_alloc_noobj_domain"))
		return NULL;
	if (domain < 0 || domain >= sim->ndomains) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, (uint64_t)domain,
		    "vm_page_alloc_noobj_domain", "domain %d out of range", domain);
		return NULL;
	}
	return alloc_noobj(sim, &domain, 1, req);
}

vm_page_t
vm_page_alloc_noobj(struct pmap_sim *sim, int req)
{
	if (!check_req(sim, req, "vm_page_alloc_noobj"))
		return NULL;
	return alloc_noobj(sim, &sim->dom_order[pmap_sim_curdomain(sim) * sim->ndomains],
	    sim->ndomains, req);
}

static bool
pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* Contiguous allocation (obj locked if not NULL, no page in the range, map room reserved). */
static struct vm_page *
alloc_contig(struct pmap_sim *sim, struct vm_object *obj, vm_pindex_t pindex, int domain,
    int req, uint64_t npages, vm_paddr_t low, vm_paddr_t high, uint64_t align,
    uint64_t boundary, vm_memattr_t memattr, struct fail_info *fi)
{
	struct psim_domain *d = &sim->dom[domain];
	struct vm_page *m;
	uint64_t pfn, i;
	bool zero = false;

	pthread_mutex_lock(&d->lock);
	if (psim_fault_check(sim, d, PMAP_SIM_FAULT_PAGES)) {
		fail_note(d, fi, true);
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	if (!psim_class_ok(d, req, npages))
		goto fail;
	while ((pfn = psim_phys_alloc_contig(sim, d, npages, low, high, align, boundary)) ==
	    PSIM_NONE64)
		if ((req & VM_ALLOC_NORECLAIM) || !psim_rv_reclaim_contig(sim, d, low, high))
			goto fail;
	m = psim_page(sim, pfn);
	for (i = 0; i < npages; i++)
		if (pg_setup(d, &m[i], obj, pindex + i, req, 0, memattr))
			zero = true;
	pthread_mutex_unlock(&d->lock);
	if (zero)
		memset(psim_host(sim, pfn << PMAP_SIM_PAGE_SHIFT), 0, npages * PSIM_PAGE);
	if (obj != NULL)
		for (i = 0; i < npages; i++)
			obj_insert(obj, &m[i], pindex + i, PSIM_NONE);
	return m;
fail:
	fail_note(d, fi, false);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

vm_page_t
vm_page_alloc_contig_domain(struct pmap_sim *sim, vm_object_t obj, vm_pindex_t pindex,
    int domain, int req, unsigned long npages, vm_paddr_t low, vm_paddr_t high,
    unsigned long alignment, vm_paddr_t boundary, vm_memattr_t memattr)
{
	static const char call[] = "vm_page_alloc_contig_domain";
	struct fail_info fi = { .faulted = false };
	struct vm_page *m = NULL;
	uint64_t i;

	if (!check_req(sim, req, call))
		return NULL;
	if (obj != NULL && !check_obj(sim, obj, pindex, call))
		return NULL;
	if (alignment == 0)
		alignment = PSIM_PAGE;
	if (domain < 0 || domain >= sim->ndomains || npages == 0 ||
	    npages > sim->dom[domain].page_count || low >= high || !pow2(alignment) ||
	    (boundary != 0 && (!pow2(boundary) || boundary < npages * PSIM_PAGE)) ||
	    memattr > VM_MEMATTR_UNCACHEABLE ||
	    (obj != NULL && pindex + npages - 1 < pindex)) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, npages, call,
		    "impossible request: domain %d npages %lu low 0x%" PRIx64 " high 0x%" PRIx64
		    " alignment 0x%lx boundary 0x%" PRIx64, domain, npages, low, high, alignment,
		    boundary);
		return NULL;
	}
	if (alignment < PSIM_PAGE)
		alignment = PSIM_PAGE;
	if (obj != NULL) {
		pthread_mutex_lock(&obj->lock);
		for (i = 0; i < npages; i++) {
			struct vm_page *o = obj_lookup(obj, pindex + i);

			if (o != NULL) {
				pthread_mutex_unlock(&obj->lock);
				psim_misuse(sim, PMAP_SIM_MISUSE_PAGE_EXISTS, page_pa(sim, o), call,
				    "object %p already has page 0x%" PRIx64 " at index %" PRIu64,
				    (void *)obj, page_pa(sim, o), pindex + i);
				return NULL;
			}
		}
	}
	for (;;) {
		if (obj != NULL && (psim_map_reserve(&obj->pages, npages) != 0 ||
		    psim_map_reserve(&obj->chunks, npages / PSIM_RV_NPAGES + 2) != 0))
			break;
		m = alloc_contig(sim, obj, pindex, domain, req, npages, low, high, alignment,
		    boundary, memattr, &fi);
		if (m != NULL || fi.faulted || !(req & (VM_ALLOC_WAITOK | VM_ALLOC_WAITFAIL)))
			break;
		if (obj != NULL)
			pthread_mutex_unlock(&obj->lock);
		wait_free(sim, &fi);
		if (obj != NULL)
			pthread_mutex_lock(&obj->lock);
		if (req & VM_ALLOC_WAITFAIL)
			break;
		if (obj != NULL)
			for (i = 0; i < npages; i++)
				if (obj_lookup(obj, pindex + i) != NULL)
					goto out;
	}
out:
	if (obj != NULL)
		pthread_mutex_unlock(&obj->lock);
	if (m != NULL)
		PSIM_EXPENSIVE_CHECK(sim);
	return m;
}

vm_page_t
vm_page_alloc_noobj_contig_domain(struct pmap_sim *sim, int domain, int req,
    unsigned long npages, vm_paddr_t low, vm_paddr_t high, unsigned long alignment,
    vm_paddr_t boundary, vm_memattr_t memattr)
{
	return vm_page_alloc_contig_domain(sim, NULL, 0, domain, req, npages, low, high,
	    alignment, boundary, memattr);
}

/* ---- Free, wire ------------------------------------------------------------------------ */

/* Validate m for a page operation: a page struct of sim that is allocated. */
static bool
check_alloc_page(struct pmap_sim *sim, struct vm_page *m, const char *call)
{
	struct psim_domain *d;
	uint16_t flags;

	if (!psim_page_ptr_ok(sim, m)) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, (uint64_t)(uintptr_t)m, call,
		    "%p is not a page of this machine", (void *)m);
		return false;
	}
	d = &sim->dom[psim_domain_of_pfn(sim, psim_pfn(sim, m))];
	pthread_mutex_lock(&d->lock);
	flags = m->flags;
	pthread_mutex_unlock(&d->lock);
	if (!(flags & PGF_ALLOC)) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, page_pa(sim, m), call,
		    "page 0x%" PRIx64 " is not allocated", page_pa(sim, m));
		return false;
	}
	return true;
}

void
vm_page_free(struct pmap_sim *sim, vm_page_t m)
{
	static const char call[] = "vm_page_free";
	struct psim_domain *d;
	struct vm_object *obj;
	enum pmap_sim_misuse bad = 0;
	uint64_t pfn, pa;
	uint32_t n = 0;

	if (!psim_page_ptr_ok(sim, m)) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, (uint64_t)(uintptr_t)m, call,
		    "%p is not a page of this machine", (void *)m);
		return;
	}
	pfn = psim_pfn(sim, m);
	pa = pfn << PMAP_SIM_PAGE_SHIFT;
	d = &sim->dom[psim_domain_of_pfn(sim, pfn)];
	/*
	 * The owner is read before locking (object lock first); it cannot
	 * change under a correct caller and is checked again under the locks.
	 */
	obj = (m->flags & PGF_ALLOC) ? m->object : NULL;
	if (obj != NULL)
		pthread_mutex_lock(&obj->lock);
	pthread_mutex_lock(&d->lock);
	if (!(m->flags & PGF_ALLOC) || m->object != obj)
		bad = PMAP_SIM_MISUSE_DOUBLE_FREE;
	else if (m->flags & PGF_PT)
		bad = PMAP_SIM_MISUSE_BAD_PAGE;
	else if ((n = atomic_load(&m->map_count)) != 0)
		bad = PMAP_SIM_MISUSE_FREE_MAPPED;
	else if ((n = atomic_load(&m->wire_count)) != 0)
		bad = PMAP_SIM_MISUSE_FREE_WIRED;
	if (bad == 0) {
		if (obj != NULL)
			obj_remove(obj, m->pindex);
		m->flags = PGF_INIT;
		m->object = NULL;
		m->pindex = 0;
		if (psim_rv_page_populated(sim, pfn))
			psim_rv_depopulate(sim, d, psim_rv_of_pfn(sim, pfn),
			    (unsigned)(pfn & (PSIM_RV_NPAGES - 1)));
		else
			psim_phys_free(sim, d, pfn, 0);
		d->allocated--;
		d->frees++;
		d->free_gen++;
		if (d->waiters != 0)
			pthread_cond_broadcast(&d->free_cv);
	}
	pthread_mutex_unlock(&d->lock);
	if (obj != NULL)
		pthread_mutex_unlock(&obj->lock);
	if (bad == 0) {
		PSIM_EXPENSIVE_CHECK(sim);
		return;
	}
	switch (bad) {
	case PMAP_SIM_MISUSE_DOUBLE_FREE:
		psim_misuse(sim, bad, pa, call, "double free of page 0x%" PRIx64, pa);
		break;
	case PMAP_SIM_MISUSE_BAD_PAGE:
		psim_misuse(sim, bad, pa, call, "page 0x%" PRIx64 " is a page-table page", pa);
		break;
	case PMAP_SIM_MISUSE_FREE_MAPPED:
		psim_misuse(sim, bad, pa, call, "free of page 0x%" PRIx64 " still mapped %u time(s)",
		    pa, n);
		break;
	case PMAP_SIM_MISUSE_FREE_WIRED:
		psim_misuse(sim, bad, pa, call, "free of page 0x%" PRIx64 " still wired %u time(s)",
		    pa, n);
		break;
	default:
		break;
	}
}

/*
 * Wiring changes take the domain lock so that a page's wire count and its
 * domain's count of wired pages change together (pmap_sim_check compares them).
 */
void
vm_page_wire(struct pmap_sim *sim, vm_page_t m)
{
	struct psim_domain *d;

	if (!check_alloc_page(sim, m, "vm_page_wire"))
		return;
	d = &sim->dom[m->domain];
	pthread_mutex_lock(&d->lock);
	if (atomic_fetch_add(&m->wire_count, 1) == 0)
		atomic_fetch_add(&d->wired, 1);
	pthread_mutex_unlock(&d->lock);
}

bool
vm_page_unwire_noq(struct pmap_sim *sim, vm_page_t m)
{
	struct psim_domain *d;
	uint32_t w;

	if (!check_alloc_page(sim, m, "vm_page_unwire_noq"))
		return false;
	d = &sim->dom[m->domain];
	pthread_mutex_lock(&d->lock);
	w = atomic_load(&m->wire_count);
	if (w != 0) {
		atomic_store(&m->wire_count, w - 1);
		if (w == 1)
			atomic_fetch_sub(&d->wired, 1);
	}
	pthread_mutex_unlock(&d->lock);
	if (w == 0) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, page_pa(sim, m), "vm_page_unwire_noq",
		    "page 0x%" PRIx64 " is not wired", page_pa(sim, m));
		return false;
	}
	return w == 1;
}

/* ---- Accessors ---------------------------------------------------------------------------- */

vm_paddr_t
vm_page_phys(vm_page_t m)
{
	return m->phys;
}

int
vm_page_domain(vm_page_t m)
{
	return m->domain;
}

vm_object_t
vm_page_object(vm_page_t m)
{
	return m->object;
}

vm_pindex_t
vm_page_pindex(vm_page_t m)
{
	return m->pindex;
}

unsigned
vm_page_wire_count(vm_page_t m)
{
	return atomic_load(&m->wire_count);
}

unsigned
vm_page_map_count(vm_page_t m)
{
	return atomic_load(&m->map_count);
}

unsigned
vm_page_flags(vm_page_t m)
{
	unsigned f = 0;

	if (m->flags & PGF_ZERO)
		f |= PMAP_SIM_PG_ZERO;
	if (m->flags & PGF_MANAGED)
		f |= PMAP_SIM_PG_MANAGED;
	if (m->flags & PGF_PT)
		f |= PMAP_SIM_PG_PTPAGE;
	return f;
}

vm_memattr_t
vm_page_memattr(vm_page_t m)
{
	return m->memattr;
}

vm_page_t
vm_page_from_phys(struct pmap_sim *sim, vm_paddr_t pa)
{
	uint64_t pfn = pa >> PMAP_SIM_PAGE_SHIFT;

	return psim_pfn_is_ram(sim, pfn) ? psim_page(sim, pfn) : NULL;
}

void *
vm_page_ptr(struct pmap_sim *sim, vm_page_t m)
{
	if (!psim_page_ptr_ok(sim, m))
		return NULL;
	return psim_host(sim, psim_pfn(sim, m) << PMAP_SIM_PAGE_SHIFT);
}
