/*
 * kmem_malloc.c -- wired kernel memory: kmem_malloc(_domainset),
 * kmem_alloc_attr(_domainset), kmem_alloc_contig(_domainset), kmem_free.
 *
 * Each allocator has a per-domain step (KVA from that domain's arena, then
 * pages) that either succeeds completely or leaves nothing behind, and a
 * domainset step that asks the iterator for domains until one succeeds.
 * Per-domain steps never sleep; the iterator does.  Attribute and
 * contiguous requests may be impossible however long one waits, so their
 * iteration waits at most KMEM_CONTIG_TRIES times before giving up.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>

#include "kmem_impl.h"

/* vmem flags for a per-domain step: no sleeping, best fit as FreeBSD. */
static inline int
arena_flags(int flags)
{
	return (flags & (M_NOWAIT | M_WAITOK | M_NORECLAIM)) | M_BESTFIT;
}

/* ---- kmem_malloc ----------------------------------------------------------------------- */

/* kmem_malloc_domain: KVA and pages of one domain, or 0 with nothing kept. */
static vm_offset_t
malloc_domain(struct kmem *k, struct kmem_tstat *ts, int domain, vm_size_t size, int flags)
{
	struct kmem_domain *d = &k->dom[domain];
	vmem_t *arena = KVMEM_LIKELY((flags & M_EXEC) == 0) ? d->arena : d->rwx_arena;
	vmem_addr_t addr;

	if (vmem_alloc(arena, size, arena_flags(flags), &addr) != 0) {
		atomic_fetch_add_explicit(&d->fails, 1, RLX);
		return 0;
	}
	if (kmem__back_domain(k, ts, domain, addr, size, flags) != KERN_SUCCESS) {
		vmem_free(arena, addr, size);
		return 0;
	}
	kmem__rec_set(k, addr, size >> KPAGE_SHIFT, (flags & M_EXEC) != 0);
	return addr;
}

vm_offset_t
kmem_malloc_domainset_k(struct kmem *k, const struct domainset *ds, vm_size_t size, int flags)
{
	struct domainset_iter di;
	vm_offset_t addr;
	int domain;

	k = kmem__get(k, "kmem_malloc_domainset_k");
	if (kmem__check_flags(flags) != 0 || !kmem__round(size, &size) ||
	    kmem__iter_init(&di, k, ds, &domain, &flags, 0) != 0) {
		kmem__einval(k);
		return 0;
	}
	do {
		addr = malloc_domain(k, di.di_ts, domain, size, flags);
		if (addr != 0) {
			kmem__iter_done(&di, domain, size >> KPAGE_SHIFT);
			return addr;
		}
	} while (domainset_iter_next(&di, &domain) == 0);
	atomic_fetch_add_explicit(&k->st_fails, 1, RLX);
	errno = ENOMEM;
	return 0;
}

vm_offset_t
kmem_malloc_k(struct kmem *k, vm_size_t size, int flags)
{
	return kmem_malloc_domainset_k(k, &kmem__get(k, "kmem_malloc_k")->ds_rr, size, flags);
}

vm_offset_t
kmem_malloc_domain_k(struct kmem *k, int domain, vm_size_t size, int flags)
{
	k = kmem__get(k, "kmem_malloc_domain_k");
	if (domain < 0 || domain >= k->ndomains) {
		kmem__einval(k);
		return 0;
	}
	return kmem_malloc_domainset_k(k, &k->dom[domain].ds_fixed, size, flags);
}

/* ---- Physically constrained allocations --------------------------------------------- */

struct phys_req {
	vm_paddr_t	low, high;
	unsigned long	alignment;
	vm_paddr_t	boundary;
	vm_memattr_t	memattr;
};

/* Arguments the machine would refuse: false (the caller says EINVAL). */
static bool
phys_ok(const struct phys_req *r, vm_size_t size, bool contig)
{
	if (r->low >= r->high || r->memattr > VM_MEMATTR_UNCACHEABLE)
		return false;
	if (!contig)
		return true;
	if ((r->alignment & (r->alignment - 1)) != 0)
		return false;
	if (r->boundary != 0 && ((r->boundary & (r->boundary - 1)) != 0 || r->boundary < size))
		return false;
	return true;
}

/*
 * kmem_alloc_attr_domain: KVA from the domain's (ordinary) arena, each page
 * allocated on its own within [low, high).  M_EXEC maps the pages
 * executable but, as in FreeBSD, the memory still belongs to the ordinary
 * arena and is freed there.
 */
static vm_offset_t
attr_domain(struct kmem *k, struct kmem_tstat *ts, int domain, vm_size_t size, int flags,
    const struct phys_req *r)
{
	struct kmem_domain *d = &k->dom[domain];
	vm_prot_t prot = (flags & M_EXEC) ? VM_PROT_ALL : VM_PROT_RW;
	int req = kmem__req(flags) | VM_ALLOC_WIRED;
	vm_pindex_t pidx;
	vmem_addr_t addr;
	vm_size_t i;

	if (r->high <= d->pa_start || r->low >= d->pa_end) {
		atomic_fetch_add_explicit(&d->fails, 1, RLX);
		return 0;		/* the domain has no memory in the range */
	}
	if (vmem_alloc(d->arena, size, arena_flags(flags), &addr) != 0) {
		atomic_fetch_add_explicit(&d->fails, 1, RLX);
		return 0;
	}
	pidx = kmem__pindex(k, addr);
	for (i = 0; i < size; i += KPAGE) {
		vm_page_t m = vm_page_alloc_contig_domain(k->sim, k->kobj, pidx + (i >> KPAGE_SHIFT),
		    domain, req, 1, r->low, r->high, KPAGE, 0, r->memattr);

		if (m != NULL && pmap_enter(k->kpmap, addr + i, m, prot,
		    (unsigned)prot | PMAP_ENTER_WIRED, 0) != 0) {
			(void)vm_page_unwire_noq(k->sim, m);
			vm_page_free(k->sim, m);
			m = NULL;
		}
		if (m == NULL) {
			atomic_fetch_add_explicit(&d->fails, 1, RLX);
			kmem__pages_add(ts, domain, (int64_t)(i >> KPAGE_SHIFT));
			(void)kmem__unback(k, ts, addr, i, false, "kmem_alloc_attr");
			vmem_free(d->arena, addr, size);
			return 0;
		}
	}
	kmem__pages_add(ts, domain, (int64_t)(size >> KPAGE_SHIFT));
	kmem__rec_set(k, addr, size >> KPAGE_SHIFT, false);
	return addr;
}

/*
 * kmem_alloc_contig_domain: KVA from the domain's arena and one run of
 * physically contiguous pages, entered page by page.
 */
static vm_offset_t
contig_domain(struct kmem *k, struct kmem_tstat *ts, int domain, vm_size_t size, int flags,
    const struct phys_req *r)
{
	struct kmem_domain *d = &k->dom[domain];
	uint64_t npages = size >> KPAGE_SHIFT, j;
	int req = kmem__req(flags) | VM_ALLOC_WIRED;
	vmem_addr_t addr;
	vm_paddr_t pa;
	vm_page_t m;

	if (npages > d->page_count || r->high <= d->pa_start || r->low >= d->pa_end) {
		atomic_fetch_add_explicit(&d->fails, 1, RLX);
		return 0;
	}
	if (vmem_alloc(d->arena, size, arena_flags(flags), &addr) != 0) {
		atomic_fetch_add_explicit(&d->fails, 1, RLX);
		return 0;
	}
	m = vm_page_alloc_contig_domain(k->sim, k->kobj, kmem__pindex(k, addr), domain, req,
	    (unsigned long)npages, r->low, r->high, r->alignment, r->boundary, r->memattr);
	if (m == NULL) {
		atomic_fetch_add_explicit(&d->fails, 1, RLX);
		vmem_free(d->arena, addr, size);
		return 0;
	}
	pa = vm_page_phys(m);
	for (j = 0; j < npages; j++) {
		vm_page_t mj = j == 0 ? m : vm_page_from_phys(k->sim, pa + j * KPAGE);

		if (pmap_enter(k->kpmap, addr + j * KPAGE, mj, VM_PROT_RW,
		    VM_PROT_RW | PMAP_ENTER_WIRED, 0) != 0) {
			/* A page-table page was missing: take everything back. */
			uint64_t x;

			atomic_fetch_add_explicit(&d->fails, 1, RLX);
			(void)pmap_remove(k->kpmap, addr, addr + j * KPAGE);
			for (x = 0; x < npages; x++) {
				vm_page_t mx = vm_page_from_phys(k->sim, pa + x * KPAGE);

				(void)vm_page_unwire_noq(k->sim, mx);
				vm_page_free(k->sim, mx);
			}
			vmem_free(d->arena, addr, size);
			kmem__wakeup(k);
			return 0;
		}
	}
	kmem__pages_add(ts, domain, (int64_t)npages);
	kmem__rec_set(k, addr, npages, false);
	return addr;
}

typedef vm_offset_t phys_step_fn(struct kmem *, struct kmem_tstat *, int, vm_size_t, int,
    const struct phys_req *);

/* The domainset step of the attr and contig allocators. */
static vm_offset_t
phys_domainset(struct kmem *k, const struct domainset *ds, vm_size_t size, int flags,
    const struct phys_req *r, bool contig, phys_step_fn *step)
{
	struct domainset_iter di;
	vm_offset_t addr;
	int domain;

	if (kmem__check_flags(flags) != 0 || !kmem__round(size, &size) ||
	    !phys_ok(r, size, contig) ||
	    kmem__iter_init(&di, k, ds, &domain, &flags, KMEM_CONTIG_TRIES) != 0) {
		kmem__einval(k);
		return 0;
	}
	do {
		addr = step(k, di.di_ts, domain, size, flags, r);
		if (addr != 0) {
			kmem__iter_done(&di, domain, size >> KPAGE_SHIFT);
			return addr;
		}
	} while (domainset_iter_next(&di, &domain) == 0);
	atomic_fetch_add_explicit(&k->st_fails, 1, RLX);
	errno = ENOMEM;
	return 0;
}

vm_offset_t
kmem_alloc_attr_domainset_k(struct kmem *k, const struct domainset *ds, vm_size_t size,
    int flags, vm_paddr_t low, vm_paddr_t high, vm_memattr_t memattr)
{
	struct phys_req r = { low, high, KPAGE, 0, memattr };

	k = kmem__get(k, "kmem_alloc_attr_domainset_k");
	return phys_domainset(k, ds, size, flags, &r, false, attr_domain);
}

vm_offset_t
kmem_alloc_attr_k(struct kmem *k, vm_size_t size, int flags, vm_paddr_t low, vm_paddr_t high,
    vm_memattr_t memattr)
{
	k = kmem__get(k, "kmem_alloc_attr_k");
	return kmem_alloc_attr_domainset_k(k, &k->ds_rr, size, flags, low, high, memattr);
}

vm_offset_t
kmem_alloc_contig_domainset_k(struct kmem *k, const struct domainset *ds, vm_size_t size,
    int flags, vm_paddr_t low, vm_paddr_t high, unsigned long alignment, vm_paddr_t boundary,
    vm_memattr_t memattr)
{
	struct phys_req r = { low, high, alignment, boundary, memattr };

	k = kmem__get(k, "kmem_alloc_contig_domainset_k");
	return phys_domainset(k, ds, size, flags, &r, true, contig_domain);
}

vm_offset_t
kmem_alloc_contig_k(struct kmem *k, vm_size_t size, int flags, vm_paddr_t low,
    vm_paddr_t high, unsigned long alignment, vm_paddr_t boundary, vm_memattr_t memattr)
{
	k = kmem__get(k, "kmem_alloc_contig_k");
	return kmem_alloc_contig_domainset_k(k, &k->ds_rr, size, flags, low, high, alignment,
	    boundary, memattr);
}

/* ---- kmem_free -------------------------------------------------------------------------- */

/*
 * With chunks that mix domains the page's domain may not be the arena's:
 * look for the arena whose spans hold addr, the page's domain first.
 */
static int
arena_by_address(struct kmem *k, int domain, vm_offset_t addr, bool exec)
{
	for (int i = -1; i < k->ndomains; i++) {
		int d = i < 0 ? domain : i;
		vmem_t *a = exec ? k->dom[d].rwx_arena : k->dom[d].arena;

		if (vmem_contains(a, addr))
			return d;
	}
	return domain;
}

/*
 * Check the range against the records before touching anything, take the
 * record (so of two racing frees one loses and is reported), find the
 * arena from the first page's domain and the exec record, unback, and
 * give the KVA back.
 */
void
kmem_free_k(struct kmem *k, vm_offset_t addr, vm_size_t size)
{
	static const char call[] = "kmem_free_k";
	struct kmem_tstat *ts;
	const char *why;
	vm_size_t len;
	vm_paddr_t pa;
	uint64_t npages;
	vm_page_t m;
	vmem_t *arena;
	bool exec;
	int domain;

	k = kmem__get(k, call);
	if (!kmem__round(size, &len) || !kmem__in_kva(k, addr, len)) {
		kmem__misuse(k, KMEM_MISUSE_BAD_FREE, addr, size, call,
		    "free of 0x%" PRIx64 " size %" PRIu64 ": not a page-aligned kernel range",
		    (uint64_t)addr, (uint64_t)size);
		return;
	}
	npages = len >> KPAGE_SHIFT;
	if ((why = kmem__rec_match(k, addr, npages)) != NULL) {
		kmem__misuse(k, KMEM_MISUSE_BAD_FREE, addr, len, call,
		    "free of 0x%" PRIx64 " size %" PRIu64 ": %s", (uint64_t)addr,
		    (uint64_t)len, why);
		return;
	}
	if (!kmem__rec_clear(k, addr, npages, &exec)) {
		kmem__misuse(k, KMEM_MISUSE_BAD_FREE, addr, len, call,
		    "free of 0x%" PRIx64 " size %" PRIu64 ": freed twice at the same time",
		    (uint64_t)addr, (uint64_t)len);
		return;
	}
	/* The allocation is this call's now. */
	pa = pmap_kextract(k->sim, addr);
	m = pa != 0 ? vm_page_from_phys(k->sim, pa) : NULL;
	if (m == NULL) {
		kmem__rec_set(k, addr, npages, exec);	/* put it back as it was */
		kmem__misuse(k, KMEM_MISUSE_NOT_BACKED, addr, len, call,
		    "free of 0x%" PRIx64 " size %" PRIu64 ": its first page was unbacked",
		    (uint64_t)addr, (uint64_t)len);
		return;
	}
	domain = vm_page_domain(m);
	if (KVMEM_UNLIKELY(k->mixed))
		domain = arena_by_address(k, domain, addr, exec);
	arena = exec ? k->dom[domain].rwx_arena : k->dom[domain].arena;
	ts = kmem__tstat(k);
	(void)kmem__unback(k, ts, addr, len, false, call);
	vmem_free(arena, addr, len);
	kmem__tadd(ts, &ts->d[domain].frees, 1);
	kmem__wakeup(k);
}
