/*
 * pmap.c -- the kernel pmap: x86-64 4-level page tables in simulated
 * physical memory.
 *
 * The PML4 page is allocated when the machine is made.  PDP, PD and PT
 * pages are allocated on demand (class VM_ALLOC_INTERRUPT, wired, zeroed,
 * from the domain of the page being mapped, else the nearest domain that
 * has one) and, as on amd64 for kernel addresses, never freed: once a PD
 * slot has had a mapping its PDE stays valid, pointing either to a PT page
 * or, as a 2 MiB mapping (PS), to 512 physically contiguous pages.  Entries
 * are 64-bit words read and written atomically (acquire/release), so
 * pmap_kextract() can walk the tables without the pmap lock.
 *
 * Promotion: after pmap_enter() fills the last entry of a PT page, if the
 * page's reservation is fully populated, the 512 PTEs are compared: the
 * first must be valid, accessed and map a 2 MiB-aligned frame, each next
 * one the next frame with exactly the same attribute bits.  Then the PDE
 * becomes a PS mapping of the same attributes and the PT page is kept
 * aside ("saved", keyed by va >> 21) with its stale but consistent
 * entries.  Demotion (pmap_enter, pmap_kenter or pmap_kremove inside a 2 MiB
 * mapping, pmap_remove/pmap_protect/pmap_unwire of part of one) refills
 * the saved PT page from the PDE and points the PDE back to it; it never
 * needs to allocate.  Removing a whole 2 MiB mapping puts the zeroed saved
 * PT page back under the PDE.  Counters follow FreeBSD's
 * vm.pmap.pde.{promotions,p_failures,mappings,demotions}.
 *
 * Accounting: every leaf mapping counts in the pmap's resident count (a
 * 2 MiB one as 512) and, with PMAP_PG_W, in its wired count; each page's
 * map_count is the number of leaf mappings covering it, so freeing a
 * mapped page can be refused.  (FreeBSD does not count pmap_kenter or
 * pmap_qenter mappings in pm_stats; the simulator counts them as resident,
 * not wired, so that pmap_remove of any mapping keeps the counts exact.)
 *
 * Locking: the pmap lock serializes all changes; it is taken before
 * domain locks (page-table page allocation, reservation queries).
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "pmap_sim_impl.h"

typedef _Atomic uint64_t pte_t;

#define PML4SHIFT	39
#define PDPSHIFT	30
#define PDRSHIFT	21
#define NBPML4		((uint64_t)1 << PML4SHIFT)
#define NBPDP		((uint64_t)1 << PDPSHIFT)
#define NBPDR		((uint64_t)1 << PDRSHIFT)
#define PDRMASK		(NBPDR - 1)
#define NPTE		PMAP_SIM_NPTEPG

/* Bits compared for promotion and kept through demotion. */
#define PG_ATTRS	(PMAP_PG_V | PMAP_PG_RW | PMAP_PG_U | PMAP_PG_PWT | PMAP_PG_PCD | \
			 PMAP_PG_A | PMAP_PG_M | PMAP_PG_G | PMAP_PG_W | PMAP_PG_MANAGED | \
			 PMAP_PG_NX)
/* A PDE/PDPE/PML4E pointing to a table. */
#define PG_TABLE	(PMAP_PG_V | PMAP_PG_RW | PMAP_PG_A | PMAP_PG_M)

#define ENTER_FLAGS	(VM_PROT_ALL | PMAP_ENTER_WIRED | PMAP_ENTER_NOSLEEP)

static inline pte_t *
tbl(const struct pmap_sim *sim, vm_paddr_t pa)
{
	return (pte_t *)(void *)psim_host(sim, pa);
}

static inline unsigned
ix(vm_offset_t va, int shift)
{
	return (unsigned)(va >> shift) & (NPTE - 1);
}

static inline uint64_t
ld(pte_t *p)
{
	return atomic_load_explicit(p, memory_order_acquire);
}

static inline void
st(pte_t *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
}

static inline struct vm_page *
pa_page(const struct pmap_sim *sim, vm_paddr_t pa)
{
	return psim_page(sim, pa >> PMAP_SIM_PAGE_SHIFT);
}

static inline bool
va_canonical(vm_offset_t va)
{
	uint64_t top = va >> 47;

	return top == 0 || top == 0x1ffff;
}

static uint64_t
memattr_bits(vm_memattr_t ma)
{
	switch (ma) {
	case VM_MEMATTR_WRITE_THROUGH:
		return PMAP_PG_PWT;
	case VM_MEMATTR_UNCACHED:
		return PMAP_PG_PCD;
	case VM_MEMATTR_UNCACHEABLE:
		return PMAP_PG_PCD | PMAP_PG_PWT;
	default:
		return 0;
	}
}

/* Check a kernel address argument; report misuse and return false if bad. */
static bool
check_va(struct pmap_sim *sim, vm_offset_t va, uint64_t align, const char *call)
{
	if (!va_canonical(va)) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ADDRESS, va, call,
		    "non-canonical address 0x%" PRIx64, va);
		return false;
	}
	if (va < PMAP_SIM_KVA_MIN) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ADDRESS, va, call,
		    "0x%" PRIx64 " is not a kernel address", va);
		return false;
	}
	if ((va & (align - 1)) != 0) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ADDRESS, va, call,
		    "address 0x%" PRIx64 " is not %s aligned", va, align == PSIM_PAGE ? "page" :
		    "2 MiB");
		return false;
	}
	return true;
}

static bool
check_range(struct pmap_sim *sim, vm_offset_t sva, vm_offset_t eva, const char *call)
{
	if (!check_va(sim, sva, PSIM_PAGE, call))
		return false;
	if (eva < sva || (eva & PMAP_SIM_PAGE_MASK) != 0) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ADDRESS, eva, call,
		    "bad range [0x%" PRIx64 ", 0x%" PRIx64 ")", sva, eva);
		return false;
	}
	return true;
}

/* ---- Page-table pages --------------------------------------------------------------- */

/* A zeroed page-table page of the given level for va, near domain; 0 or ENOMEM. */
static int
ptp_alloc(struct pmap *pm, int domain, int level, vm_offset_t va, vm_paddr_t *pap)
{
	struct pmap_sim *sim = pm->sim;
	const int *ord = &sim->dom_order[domain * sim->ndomains];
	struct vm_page *m = NULL;
	bool faulted;
	int i;

	for (i = 0; i < sim->ndomains && m == NULL; i++) {
		m = psim_alloc_noobj(sim, ord[i], VM_ALLOC_INTERRUPT | VM_ALLOC_WIRED | VM_ALLOC_ZERO,
		    PGF_PT, PMAP_SIM_FAULT_PTPAGES, &faulted);
		if (faulted)
			return ENOMEM;
	}
	if (m == NULL)
		return ENOMEM;
	m->pt_level = (uint8_t)level;
	m->pindex = va >> (PMAP_SIM_PAGE_SHIFT + 9 * level);
	m->pt_valid = 0;
	pm->pt_pages++;
	*pap = m->phys;
	return 0;
}

/* The PDE slot for va, or NULL if a PML4E or PDPE on the way is empty. */
static pte_t *
pde_lookup(struct pmap *pm, vm_offset_t va)
{
	struct pmap_sim *sim = pm->sim;
	uint64_t e;

	e = ld(&tbl(sim, pm->pml4_pa)[ix(va, PML4SHIFT)]);
	if (!(e & PMAP_PG_V))
		return NULL;
	e = ld(&tbl(sim, e & PMAP_PG_FRAME)[ix(va, PDPSHIFT)]);
	if (!(e & PMAP_PG_V))
		return NULL;
	return &tbl(sim, e & PMAP_PG_FRAME)[ix(va, PDRSHIFT)];
}

/* The PDE slot for va, allocating the PDP and PD pages if needed; 0 or ENOMEM. */
static int
pde_ensure(struct pmap *pm, vm_offset_t va, int domain, pte_t **pdep)
{
	struct pmap_sim *sim = pm->sim;
	pte_t *e = &tbl(sim, pm->pml4_pa)[ix(va, PML4SHIFT)];
	vm_paddr_t pa;
	int level, rc;

	for (level = 3; level >= 2; level--) {
		uint64_t v = ld(e);

		if (!(v & PMAP_PG_V)) {
			if ((rc = ptp_alloc(pm, domain, level, va, &pa)) != 0)
				return rc;
			v = pa | PG_TABLE;
			st(e, v);
		}
		e = &tbl(sim, v & PMAP_PG_FRAME)[ix(va, level == 3 ? PDPSHIFT : PDRSHIFT)];
	}
	*pdep = e;
	return 0;
}

/* Make sure the (non-PS) PDE points to a PT page; 0 or ENOMEM. */
static int
pt_ensure(struct pmap *pm, pte_t *pde, vm_offset_t va, int domain)
{
	vm_paddr_t pa;
	int rc;

	if (ld(pde) & PMAP_PG_V)
		return 0;
	if ((rc = ptp_alloc(pm, domain, 1, va, &pa)) != 0)
		return rc;
	st(pde, pa | PG_TABLE);
	return 0;
}

/* ---- Promotion and demotion ------------------------------------------------------------ */

/* Split the 2 MiB mapping at *pde (for va) back into its saved PT page. */
static void
demote(struct pmap *pm, pte_t *pde, vm_offset_t va)
{
	struct pmap_sim *sim = pm->sim;
	uint64_t v = ld(pde), key = va >> PDRSHIFT, base, *sv;
	struct vm_page *ptp;
	pte_t *pt;
	unsigned i;

	sv = psim_map_find(&pm->saved, key);
	if (sv == NULL)
		KVMEM_PANIC("pmap_sim: no saved page-table page under the 2 MiB mapping at 0x%" PRIx64,
		    va & ~PDRMASK);
	ptp = &sim->pages[*sv];
	pt = tbl(sim, ptp->phys);
	base = v & ~PMAP_PG_PS;
	for (i = 0; i < NPTE; i++)
		st(&pt[i], base + ((uint64_t)i << PMAP_SIM_PAGE_SHIFT));
	ptp->pt_valid = NPTE;
	psim_map_del(&pm->saved, key);
	st(pde, ptp->phys | PG_TABLE);
	pm->demotions++;
}

/* Try to replace the full PT page under *pde by one 2 MiB mapping. */
static void
promote(struct pmap *pm, pte_t *pde, vm_offset_t va)
{
	struct pmap_sim *sim = pm->sim;
	vm_paddr_t ptpa = ld(pde) & PMAP_PG_FRAME;
	pte_t *pt = tbl(sim, ptpa);
	uint64_t first = ld(&pt[0]);
	unsigned i;

	if ((first & (PMAP_PG_V | PMAP_PG_A)) != (PMAP_PG_V | PMAP_PG_A) ||
	    (first & PMAP_PG_FRAME & PDRMASK) != 0)
		goto fail;
	for (i = 1; i < NPTE; i++)
		if (ld(&pt[i]) != first + ((uint64_t)i << PMAP_SIM_PAGE_SHIFT))
			goto fail;
	if (psim_map_put(&pm->saved, va >> PDRSHIFT, (uint64_t)(pa_page(sim, ptpa) - sim->pages)) != 0)
		goto fail;
	st(pde, first | PMAP_PG_PS);
	pm->promotions++;
	return;
fail:
	pm->p_failures++;
}

static bool
fullpop(struct pmap_sim *sim, vm_paddr_t pa)
{
	uint64_t pfn = pa >> PMAP_SIM_PAGE_SHIFT;
	struct psim_domain *d = &sim->dom[psim_domain_of_pfn(sim, pfn)];
	bool r;

	pthread_mutex_lock(&d->lock);
	r = psim_rv_fullpop(sim, pfn);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* ---- Entering mappings ----------------------------------------------------------------- */

/* What stands at va: 0 (nothing), else the physical address mapped there. */
static bool
mapped_at(struct pmap *pm, vm_offset_t va, vm_paddr_t *pap)
{
	pte_t *pde = pde_lookup(pm, va);
	uint64_t v, e;

	if (pde == NULL || !((v = ld(pde)) & PMAP_PG_V))
		return false;
	if (v & PMAP_PG_PS) {
		*pap = (v & PMAP_PG_PS_FRAME) + (va & PDRMASK & ~PMAP_SIM_PAGE_MASK);
		return true;
	}
	e = ld(&tbl(pm->sim, v & PMAP_PG_FRAME)[ix(va, PMAP_SIM_PAGE_SHIFT)]);
	if (!(e & PMAP_PG_V))
		return false;
	*pap = e & PMAP_PG_FRAME;
	return true;
}

/*
 * Install the 4 KiB entry newpte at va (pmap locked).  Returns 0, ENOMEM,
 * or EEXIST with *oldpa when another page is mapped there.
 */
static int
enter_4k(struct pmap *pm, vm_offset_t va, uint64_t newpte, int domain, bool try_promote,
    vm_paddr_t *oldpa)
{
	struct pmap_sim *sim = pm->sim;
	vm_paddr_t pa = newpte & PMAP_PG_FRAME;
	struct vm_page *ptp;
	pte_t *pde, *pte;
	uint64_t v, o;
	int rc;

	/* One walk: a missing level means nothing is mapped, so no conflict. */
	pde = pde_lookup(pm, va);
	if (pde == NULL && (rc = pde_ensure(pm, va, domain, &pde)) != 0)
		return rc;
	v = ld(pde);
	if ((v & (PMAP_PG_V | PMAP_PG_PS)) == (PMAP_PG_V | PMAP_PG_PS)) {
		*oldpa = (v & PMAP_PG_PS_FRAME) + (va & PDRMASK & ~PMAP_SIM_PAGE_MASK);
		if (*oldpa != pa)
			return EEXIST;
		demote(pm, pde, va);
		v = ld(pde);
	} else if (v & PMAP_PG_V) {
		o = ld(&tbl(sim, v & PMAP_PG_FRAME)[ix(va, PMAP_SIM_PAGE_SHIFT)]);
		if ((o & PMAP_PG_V) && (o & PMAP_PG_FRAME) != pa) {
			*oldpa = o & PMAP_PG_FRAME;
			return EEXIST;
		}
	} else {
		if ((rc = pt_ensure(pm, pde, va, domain)) != 0)
			return rc;
		v = ld(pde);
	}
	ptp = pa_page(sim, v & PMAP_PG_FRAME);
	pte = &tbl(sim, v & PMAP_PG_FRAME)[ix(va, PMAP_SIM_PAGE_SHIFT)];
	o = ld(pte);
	if (o & PMAP_PG_V) {
		if ((o ^ newpte) & PMAP_PG_W)
			pm->wired += (newpte & PMAP_PG_W) ? 1 : -1;
		newpte |= o & PMAP_PG_A;
		if (newpte & PMAP_PG_RW)
			newpte |= o & PMAP_PG_M;
		st(pte, newpte);
	} else {
		st(pte, newpte);
		pm->resident++;
		if (newpte & PMAP_PG_W)
			pm->wired++;
		ptp->pt_valid++;
		atomic_fetch_add_explicit(&pa_page(sim, pa)->map_count, 1, memory_order_relaxed);
	}
	if (try_promote && ptp->pt_valid == NPTE && fullpop(sim, pa))
		promote(pm, pde, va);
	return 0;
}

/* Install a 2 MiB mapping newpde at va (pmap locked); as enter_4k. */
static int
enter_2m(struct pmap *pm, vm_offset_t va, uint64_t newpde, int domain, vm_paddr_t *oldpa)
{
	struct pmap_sim *sim = pm->sim;
	vm_paddr_t pa = newpde & PMAP_PG_PS_FRAME;
	struct vm_page *ptp;
	pte_t *pde;
	uint64_t v;
	unsigned i;
	int rc;

	pde = pde_lookup(pm, va);
	if (pde != NULL && ((v = ld(pde)) & PMAP_PG_V)) {
		if (v & PMAP_PG_PS) {
			if ((v & PMAP_PG_PS_FRAME) != pa) {
				*oldpa = v & PMAP_PG_PS_FRAME;
				return EEXIST;
			}
			if ((v ^ newpde) & PMAP_PG_W)
				pm->wired += (newpde & PMAP_PG_W) ? NPTE : -NPTE;
			newpde |= v & PMAP_PG_A;
			if (newpde & PMAP_PG_RW)
				newpde |= v & PMAP_PG_M;
			st(pde, newpde);
			return 0;
		}
		ptp = pa_page(sim, v & PMAP_PG_FRAME);
		if (ptp->pt_valid != 0) {
			pte_t *pt = tbl(sim, v & PMAP_PG_FRAME);

			for (i = 0; i < NPTE; i++)
				if (ld(&pt[i]) & PMAP_PG_V) {
					*oldpa = ld(&pt[i]) & PMAP_PG_FRAME;
					break;
				}
			return EEXIST;
		}
	}
	if ((rc = pde_ensure(pm, va, domain, &pde)) != 0 ||
	    (rc = pt_ensure(pm, pde, va, domain)) != 0)
		return rc;
	ptp = pa_page(sim, ld(pde) & PMAP_PG_FRAME);
	if (psim_map_put(&pm->saved, va >> PDRSHIFT, (uint64_t)(ptp - sim->pages)) != 0)
		return ENOMEM;
	st(pde, newpde);
	pm->resident += NPTE;
	if (newpde & PMAP_PG_W)
		pm->wired += NPTE;
	for (i = 0; i < NPTE; i++)
		atomic_fetch_add_explicit(&pa_page(sim, pa + ((uint64_t)i << PMAP_SIM_PAGE_SHIFT))->map_count,
		    1, memory_order_relaxed);
	pm->mappings++;
	return 0;
}

/*
 * Is the page allocated?  Read without the domain lock: the flags of a page
 * change only when it is allocated or freed, which a correct caller does not
 * do while mapping it (misuse detection is best effort under such races).
 */
static inline bool
page_allocated(const struct vm_page *m)
{
	return (m->flags & PGF_ALLOC) != 0;
}

static bool
check_page(struct pmap_sim *sim, struct vm_page *m, const char *call)
{
	if (!psim_page_ptr_ok(sim, m)) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, (uint64_t)(uintptr_t)m, call,
		    "%p is not a page of this machine", (void *)m);
		return false;
	}
	if (!page_allocated(m)) {
		uint64_t pa = psim_pfn(sim, m) << PMAP_SIM_PAGE_SHIFT;

		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, pa, call,
		    "page 0x%" PRIx64 " is not allocated", pa);
		return false;
	}
	return true;
}

static int
report_enter(struct pmap_sim *sim, int rc, vm_offset_t va, vm_paddr_t pa, vm_paddr_t oldpa,
    const char *call)
{
	if (rc == EEXIST) {
		psim_misuse(sim, PMAP_SIM_MISUSE_MAPPED, va, call,
		    "0x%" PRIx64 " already maps page 0x%" PRIx64 ", not 0x%" PRIx64, va, oldpa, pa);
		return EINVAL;
	}
	return rc;
}

int
pmap_enter(pmap_t pm, vm_offset_t va, vm_page_t m, vm_prot_t prot, unsigned flags,
    int8_t psind)
{
	static const char call[] = "pmap_enter";
	struct pmap_sim *sim = pm->sim;
	vm_paddr_t pa, oldpa = 0;
	uint64_t e;
	unsigned i;
	int rc, domain;

	if (!check_va(sim, va, psind == 1 ? NBPDR : PSIM_PAGE, call))
		return EINVAL;
	if ((psind != 0 && psind != 1) || (prot & ~VM_PROT_ALL) != 0 ||
	    (flags & ~(unsigned)ENTER_FLAGS) != 0) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, va, call,
		    "bad arguments for 0x%" PRIx64 ": prot 0x%x flags 0x%x psind %d", va,
		    (unsigned)prot, flags, (int)psind);
		return EINVAL;
	}
	if (!check_page(sim, m, call))
		return EINVAL;
	pa = psim_pfn(sim, m) << PMAP_SIM_PAGE_SHIFT;
	if (psind == 1) {
		if ((pa & PDRMASK) != 0) {
			psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, pa, call,
			    "page 0x%" PRIx64 " is not 2 MiB aligned for a 2 MiB mapping", pa);
			return EINVAL;
		}
		for (i = 1; i < NPTE; i++) {
			uint64_t pfn = (pa >> PMAP_SIM_PAGE_SHIFT) + i;

			if (!psim_pfn_is_ram(sim, pfn) || !page_allocated(psim_page(sim, pfn))) {
				psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, pfn << PMAP_SIM_PAGE_SHIFT,
				    call, "page 0x%" PRIx64 " of the 2 MiB run is not allocated",
				    pfn << PMAP_SIM_PAGE_SHIFT);
				return EINVAL;
			}
		}
	}
	e = pa | PMAP_PG_V | PMAP_PG_A | PMAP_PG_G | memattr_bits(m->memattr);
	if (prot & VM_PROT_WRITE) {
		e |= PMAP_PG_RW;
		if (flags & VM_PROT_WRITE)
			e |= PMAP_PG_M;
	}
	if (!(prot & VM_PROT_EXECUTE))
		e |= PMAP_PG_NX;
	if (flags & PMAP_ENTER_WIRED)
		e |= PMAP_PG_W;
	if (m->flags & PGF_MANAGED)
		e |= PMAP_PG_MANAGED;
	domain = psim_domain_of_pfn(sim, pa >> PMAP_SIM_PAGE_SHIFT);

	pthread_mutex_lock(&pm->lock);
	if (psind == 1)
		rc = enter_2m(pm, va, e | PMAP_PG_PS, domain, &oldpa);
	else
		rc = enter_4k(pm, va, e, domain, true, &oldpa);
	pthread_mutex_unlock(&pm->lock);
	if (rc == 0)
		PSIM_EXPENSIVE_CHECK(sim);
	return report_enter(sim, rc, va, pa, oldpa, call);
}

/* The kenter/qenter entry for page m at pa: RW, A, M, G, NX, its cache bits. */
static uint64_t
kpte(const struct vm_page *m, vm_paddr_t pa)
{
	return pa | PMAP_PG_V | PMAP_PG_RW | PMAP_PG_A | PMAP_PG_M | PMAP_PG_G | PMAP_PG_NX |
	    memattr_bits(m->memattr);
}

int
pmap_kenter(struct pmap_sim *sim, vm_offset_t va, vm_paddr_t pa)
{
	static const char call[] = "pmap_kenter";
	struct pmap *pm = &sim->kpmap;
	vm_paddr_t oldpa = 0;
	struct vm_page *m;
	int rc;

	if (!check_va(sim, va, PSIM_PAGE, call))
		return EINVAL;
	if ((pa & PMAP_SIM_PAGE_MASK) != 0 || !psim_pfn_is_ram(sim, pa >> PMAP_SIM_PAGE_SHIFT)) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_PAGE, pa, call,
		    "0x%" PRIx64 " is not the address of a RAM page", pa);
		return EINVAL;
	}
	m = pa_page(sim, pa);
	if (!check_page(sim, m, call))
		return EINVAL;
	pthread_mutex_lock(&pm->lock);
	rc = enter_4k(pm, va, kpte(m, pa), psim_domain_of_pfn(sim, pa >> PMAP_SIM_PAGE_SHIFT),
	    false, &oldpa);
	pthread_mutex_unlock(&pm->lock);
	if (rc == 0)
		PSIM_EXPENSIVE_CHECK(sim);
	return report_enter(sim, rc, va, pa, oldpa, call);
}

int
pmap_qenter(struct pmap_sim *sim, vm_offset_t va, vm_page_t *ma, int count)
{
	static const char call[] = "pmap_qenter";
	struct pmap *pm = &sim->kpmap;
	vm_paddr_t oldpa = 0, pa;
	vm_offset_t v;
	pte_t *pde;
	int i, rc = 0;

	if (!check_va(sim, va, PSIM_PAGE, call))
		return EINVAL;
	if (count < 0 || (count > 0 && ma == NULL) ||
	    (uint64_t)count > (0 - va) >> PMAP_SIM_PAGE_SHIFT) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, va, call, "bad page count %d at 0x%" PRIx64,
		    count, va);
		return EINVAL;
	}
	for (i = 0; i < count; i++)
		if (!check_page(sim, ma[i], call))
			return EINVAL;
	pthread_mutex_lock(&pm->lock);
	/* All or nothing: check for conflicts and get every table first. */
	for (i = 0; i < count; i++) {
		v = va + ((uint64_t)i << PMAP_SIM_PAGE_SHIFT);
		pa = psim_pfn(sim, ma[i]) << PMAP_SIM_PAGE_SHIFT;
		if (mapped_at(pm, v, &oldpa) && oldpa != pa) {
			pthread_mutex_unlock(&pm->lock);
			return report_enter(sim, EEXIST, v, pa, oldpa, call);
		}
	}
	for (i = 0; i < count && rc == 0; i++) {
		v = va + ((uint64_t)i << PMAP_SIM_PAGE_SHIFT);
		if (i == 0 || (v & PDRMASK) == 0) {
			int dom = psim_domain_of_pfn(sim, psim_pfn(sim, ma[i]));

			if ((rc = pde_ensure(pm, v, dom, &pde)) == 0 && !(ld(pde) & PMAP_PG_PS))
				rc = pt_ensure(pm, pde, v, dom);
		}
	}
	for (i = 0; i < count && rc == 0; i++) {
		v = va + ((uint64_t)i << PMAP_SIM_PAGE_SHIFT);
		pa = psim_pfn(sim, ma[i]) << PMAP_SIM_PAGE_SHIFT;
		rc = enter_4k(pm, v, kpte(ma[i], pa), 0, false, &oldpa);
		KVMEM_ASSERT(rc == 0);
	}
	pthread_mutex_unlock(&pm->lock);
	if (rc == 0)
		PSIM_EXPENSIVE_CHECK(sim);
	return rc;
}

/* ---- Removing and changing mappings ---------------------------------------------------- */

enum range_op { OP_REMOVE, OP_PROTECT, OP_UNWIRE };

/* Apply op to one valid leaf entry e covering npages pages (pmap locked). */
static uint64_t
leaf_op(struct pmap *pm, uint64_t e, enum range_op op, vm_prot_t prot, long npages)
{
	struct pmap_sim *sim = pm->sim;
	long i;

	switch (op) {
	case OP_REMOVE:
		pm->resident -= npages;
		if (e & PMAP_PG_W)
			pm->wired -= npages;
		for (i = 0; i < npages; i++)
			atomic_fetch_sub_explicit(&pa_page(sim, (e & PMAP_PG_FRAME) +
			    ((uint64_t)i << PMAP_SIM_PAGE_SHIFT))->map_count, 1, memory_order_relaxed);
		return 0;
	case OP_PROTECT:
		if (!(prot & VM_PROT_WRITE))
			e &= ~(PMAP_PG_RW | PMAP_PG_M);
		if (!(prot & VM_PROT_EXECUTE))
			e |= PMAP_PG_NX;
		return e;
	case OP_UNWIRE:
		if (e & PMAP_PG_W) {
			e &= ~PMAP_PG_W;
			pm->wired -= npages;
		}
		return e;
	}
	return e;
}

/* Remove a whole 2 MiB mapping; the saved PT page goes back, empty, under the PDE. */
static void
remove_pde(struct pmap *pm, pte_t *pde, vm_offset_t va)
{
	struct pmap_sim *sim = pm->sim;
	uint64_t key = va >> PDRSHIFT, *sv = psim_map_find(&pm->saved, key);
	struct vm_page *ptp;
	pte_t *pt;
	unsigned i;

	if (sv == NULL)
		KVMEM_PANIC("pmap_sim: no saved page-table page under the 2 MiB mapping at 0x%" PRIx64,
		    va);
	(void)leaf_op(pm, ld(pde) & ~PMAP_PG_PS, OP_REMOVE, 0, NPTE);
	ptp = &sim->pages[*sv];
	pt = tbl(sim, ptp->phys);
	for (i = 0; i < NPTE; i++)
		st(&pt[i], 0);
	ptp->pt_valid = 0;
	psim_map_del(&pm->saved, key);
	st(pde, ptp->phys | PG_TABLE);
}

/* Apply op to every mapping in [sva, eva) (pmap locked). */
static void
range_apply(struct pmap *pm, vm_offset_t sva, vm_offset_t eva, enum range_op op, vm_prot_t prot)
{
	struct pmap_sim *sim = pm->sim;
	vm_offset_t va = sva, next, end;
	uint64_t e;
	pte_t *p;

	if (eva - sva == PSIM_PAGE) {
		/* One page, the common case: no range bookkeeping. */
		p = pde_lookup(pm, sva);
		if (p == NULL || !((e = ld(p)) & PMAP_PG_V))
			return;
		if (!(e & PMAP_PG_PS)) {
			pte_t *pte = &tbl(sim, e & PMAP_PG_FRAME)[ix(sva, PMAP_SIM_PAGE_SHIFT)];
			uint64_t o = ld(pte);

			if (!(o & PMAP_PG_V))
				return;
			if (op == OP_REMOVE) {
				leaf_op(pm, o, op, prot, 1);
				st(pte, 0);
				pa_page(sim, e & PMAP_PG_FRAME)->pt_valid--;
			} else
				st(pte, leaf_op(pm, o, op, prot, 1));
			return;
		}
	}
	while (va < eva) {
		e = ld(&tbl(sim, pm->pml4_pa)[ix(va, PML4SHIFT)]);
		if (!(e & PMAP_PG_V)) {
			next = (va + NBPML4) & ~(NBPML4 - 1);
			goto skip;
		}
		e = ld(&tbl(sim, e & PMAP_PG_FRAME)[ix(va, PDPSHIFT)]);
		if (!(e & PMAP_PG_V)) {
			next = (va + NBPDP) & ~(NBPDP - 1);
			goto skip;
		}
		p = &tbl(sim, e & PMAP_PG_FRAME)[ix(va, PDRSHIFT)];
		next = (va + NBPDR) & ~PDRMASK;
		e = ld(p);
		if (!(e & PMAP_PG_V))
			goto skip;
		if (e & PMAP_PG_PS) {
			if ((va & PDRMASK) == 0 && next != 0 && next <= eva) {
				if (op == OP_REMOVE)
					remove_pde(pm, p, va);
				else
					st(p, leaf_op(pm, e, op, prot, NPTE));
				goto skip;
			}
			demote(pm, p, va);
			e = ld(p);
		}
		{
			struct vm_page *ptp = pa_page(sim, e & PMAP_PG_FRAME);
			pte_t *pt = tbl(sim, e & PMAP_PG_FRAME);

			end = (next == 0 || next > eva) ? eva : next;
			for (; va < end; va += PSIM_PAGE) {
				pte_t *pte = &pt[ix(va, PMAP_SIM_PAGE_SHIFT)];
				uint64_t o = ld(pte);

				if (!(o & PMAP_PG_V))
					continue;
				if (op == OP_REMOVE) {
					leaf_op(pm, o, op, prot, 1);
					st(pte, 0);
					ptp->pt_valid--;
				} else
					st(pte, leaf_op(pm, o, op, prot, 1));
			}
			if (va == 0)
				break;
			continue;
		}
skip:
		if (next == 0 || next <= va)
			break;
		va = next;
	}
}

int
pmap_remove(pmap_t pm, vm_offset_t sva, vm_offset_t eva)
{
	if (!check_range(pm->sim, sva, eva, "pmap_remove"))
		return EINVAL;
	pthread_mutex_lock(&pm->lock);
	range_apply(pm, sva, eva, OP_REMOVE, 0);
	pthread_mutex_unlock(&pm->lock);
	PSIM_EXPENSIVE_CHECK(pm->sim);
	return 0;
}

int
pmap_protect(pmap_t pm, vm_offset_t sva, vm_offset_t eva, vm_prot_t prot)
{
	if (!check_range(pm->sim, sva, eva, "pmap_protect"))
		return EINVAL;
	if ((prot & ~VM_PROT_ALL) != 0) {
		psim_misuse(pm->sim, PMAP_SIM_MISUSE_BAD_ARG, sva, "pmap_protect",
		    "bad protection 0x%x", (unsigned)prot);
		return EINVAL;
	}
	if (!(prot & VM_PROT_READ))
		return pmap_remove(pm, sva, eva);
	if ((prot & (VM_PROT_WRITE | VM_PROT_EXECUTE)) == (VM_PROT_WRITE | VM_PROT_EXECUTE))
		return 0;
	pthread_mutex_lock(&pm->lock);
	range_apply(pm, sva, eva, OP_PROTECT, prot);
	pthread_mutex_unlock(&pm->lock);
	PSIM_EXPENSIVE_CHECK(pm->sim);
	return 0;
}

int
pmap_unwire(pmap_t pm, vm_offset_t sva, vm_offset_t eva)
{
	if (!check_range(pm->sim, sva, eva, "pmap_unwire"))
		return EINVAL;
	pthread_mutex_lock(&pm->lock);
	range_apply(pm, sva, eva, OP_UNWIRE, 0);
	pthread_mutex_unlock(&pm->lock);
	PSIM_EXPENSIVE_CHECK(pm->sim);
	return 0;
}

int
pmap_kremove(struct pmap_sim *sim, vm_offset_t va)
{
	if (!check_va(sim, va, PSIM_PAGE, "pmap_kremove"))
		return EINVAL;
	pthread_mutex_lock(&sim->kpmap.lock);
	range_apply(&sim->kpmap, va, va + PSIM_PAGE, OP_REMOVE, 0);
	pthread_mutex_unlock(&sim->kpmap.lock);
	PSIM_EXPENSIVE_CHECK(sim);
	return 0;
}

int
pmap_qremove(struct pmap_sim *sim, vm_offset_t va, int count)
{
	if (!check_va(sim, va, PSIM_PAGE, "pmap_qremove"))
		return EINVAL;
	if (count < 0 || (uint64_t)count > (0 - va) >> PMAP_SIM_PAGE_SHIFT) {
		psim_misuse(sim, PMAP_SIM_MISUSE_BAD_ARG, va, "pmap_qremove",
		    "bad page count %d at 0x%" PRIx64, count, va);
		return EINVAL;
	}
	pthread_mutex_lock(&sim->kpmap.lock);
	range_apply(&sim->kpmap, va, va + ((uint64_t)count << PMAP_SIM_PAGE_SHIFT), OP_REMOVE, 0);
	pthread_mutex_unlock(&sim->kpmap.lock);
	PSIM_EXPENSIVE_CHECK(sim);
	return 0;
}

/* ---- Lookups ------------------------------------------------------------------------------ */

/* The leaf entry for va and its level (1 PTE, 2 PDE), or 0.  Lock free. */
static uint64_t
leaf(struct pmap *pm, vm_offset_t va, int *levelp)
{
	struct pmap_sim *sim = pm->sim;
	uint64_t e;

	if (va < PMAP_SIM_KVA_MIN)
		return 0;
	e = ld(&tbl(sim, pm->pml4_pa)[ix(va, PML4SHIFT)]);
	if (!(e & PMAP_PG_V))
		return 0;
	e = ld(&tbl(sim, e & PMAP_PG_FRAME)[ix(va, PDPSHIFT)]);
	if (!(e & PMAP_PG_V))
		return 0;
	e = ld(&tbl(sim, e & PMAP_PG_FRAME)[ix(va, PDRSHIFT)]);
	if (!(e & PMAP_PG_V))
		return 0;
	if (e & PMAP_PG_PS) {
		*levelp = 2;
		return e;
	}
	e = ld(&tbl(sim, e & PMAP_PG_FRAME)[ix(va, PMAP_SIM_PAGE_SHIFT)]);
	if (!(e & PMAP_PG_V))
		return 0;
	*levelp = 1;
	return e;
}

static vm_paddr_t
leaf_pa(uint64_t e, int level, vm_offset_t va)
{
	if (e == 0)
		return 0;
	if (level == 2)
		return (e & PMAP_PG_PS_FRAME) | (va & PDRMASK);
	return (e & PMAP_PG_FRAME) | (va & PMAP_SIM_PAGE_MASK);
}

vm_paddr_t
pmap_extract(pmap_t pm, vm_offset_t va)
{
	uint64_t e;
	int level = 0;

	pthread_mutex_lock(&pm->lock);
	e = leaf(pm, va, &level);
	pthread_mutex_unlock(&pm->lock);
	return leaf_pa(e, level, va);
}

vm_paddr_t
pmap_kextract(struct pmap_sim *sim, vm_offset_t va)
{
	int level = 0;
	uint64_t e = leaf(&sim->kpmap, va, &level);

	return leaf_pa(e, level, va);
}

uint64_t
pmap_sim_kpte(struct pmap_sim *sim, vm_offset_t va, int *levelp)
{
	int level = 0;
	uint64_t e = leaf(&sim->kpmap, va, &level);

	if (levelp != NULL)
		*levelp = level;
	return e;
}

long
pmap_resident_count(pmap_t pm)
{
	long n;

	pthread_mutex_lock(&pm->lock);
	n = pm->resident;
	pthread_mutex_unlock(&pm->lock);
	return n;
}

long
pmap_wired_count(pmap_t pm)
{
	long n;

	pthread_mutex_lock(&pm->lock);
	n = pm->wired;
	pthread_mutex_unlock(&pm->lock);
	return n;
}

void
pmap_zero_page(struct pmap_sim *sim, vm_page_t m)
{
	if (!check_page(sim, m, "pmap_zero_page"))
		return;
	memset(psim_host(sim, psim_pfn(sim, m) << PMAP_SIM_PAGE_SHIFT), 0, PSIM_PAGE);
}

/* ---- Access through the MMU ------------------------------------------------------------ */

/*
 * Translate va for an access (pmap locked), setting A (and M): the host
 * pointer and the bytes left in its page, or NULL with *errp.
 */
static unsigned char *
mmu_access(struct pmap *pm, vm_offset_t va, bool write, size_t *availp, int *errp)
{
	struct pmap_sim *sim = pm->sim;
	uint64_t e, set = PMAP_PG_A | (write ? PMAP_PG_M : 0);
	pte_t *p;
	vm_paddr_t pa;

	*errp = EFAULT;
	if (va < PMAP_SIM_KVA_MIN)
		return NULL;
	e = ld(&tbl(sim, pm->pml4_pa)[ix(va, PML4SHIFT)]);
	if (!(e & PMAP_PG_V))
		return NULL;
	e = ld(&tbl(sim, e & PMAP_PG_FRAME)[ix(va, PDPSHIFT)]);
	if (!(e & PMAP_PG_V))
		return NULL;
	p = &tbl(sim, e & PMAP_PG_FRAME)[ix(va, PDRSHIFT)];
	e = ld(p);
	if (!(e & PMAP_PG_V))
		return NULL;
	if (e & PMAP_PG_PS) {
		pa = (e & PMAP_PG_PS_FRAME) | (va & PDRMASK);
		*availp = NBPDR - (va & PDRMASK);
	} else {
		p = &tbl(sim, e & PMAP_PG_FRAME)[ix(va, PMAP_SIM_PAGE_SHIFT)];
		e = ld(p);
		if (!(e & PMAP_PG_V))
			return NULL;
		pa = (e & PMAP_PG_FRAME) | (va & PMAP_SIM_PAGE_MASK);
		*availp = PSIM_PAGE - (va & PMAP_SIM_PAGE_MASK);
	}
	if (write && !(e & PMAP_PG_RW)) {
		*errp = EACCES;
		return NULL;
	}
	if ((e & set) != set)
		atomic_fetch_or_explicit(p, set, memory_order_relaxed);
	*errp = 0;
	return psim_host(sim, pa);
}

/*
 * Copy len bytes between buf and kernel virtual memory at va, page by
 * page through the MMU; 0, EFAULT or EACCES (bytes before the fault are
 * copied).
 */
static int
copy_kva(struct pmap_sim *sim, vm_offset_t va, void *buf, size_t len, bool write)
{
	struct pmap *pm = &sim->kpmap;
	unsigned char *b = buf;

	while (len > 0) {
		size_t avail = 0, n;
		unsigned char *h;
		int err;

		pthread_mutex_lock(&pm->lock);
		h = mmu_access(pm, va, write, &avail, &err);
		pthread_mutex_unlock(&pm->lock);
		if (h == NULL)
			return err;
		n = avail < len ? avail : len;
		if (write)
			memcpy(h, b, n);
		else
			memcpy(b, h, n);
		b += n;
		va += n;
		len -= n;
		if (va == 0 && len > 0)
			return EFAULT;
	}
	return 0;
}

int
pmap_sim_read(struct pmap_sim *sim, vm_offset_t va, void *buf, size_t len)
{
	return copy_kva(sim, va, buf, len, false);
}

int
pmap_sim_write(struct pmap_sim *sim, vm_offset_t va, const void *buf, size_t len)
{
	return copy_kva(sim, va, (void *)(uintptr_t)buf, len, true);
}

void *
pmap_sim_kva_ptr(struct pmap_sim *sim, vm_offset_t va, vm_prot_t access)
{
	struct pmap *pm = &sim->kpmap;
	size_t avail;
	unsigned char *h;
	int err;

	pthread_mutex_lock(&pm->lock);
	h = mmu_access(pm, va, (access & VM_PROT_WRITE) != 0, &avail, &err);
	pthread_mutex_unlock(&pm->lock);
	return h;
}

/* ---- Setup ------------------------------------------------------------------------------------ */

int
psim_pmap_init(struct pmap_sim *sim)
{
	struct pmap *pm = &sim->kpmap;

	pm->sim = sim;
	kvmem_mutex_init_adaptive(&pm->lock);
	psim_map_init(&pm->saved);
	if (ptp_alloc(pm, 0, 4, 0, &pm->pml4_pa) != 0) {
		pthread_mutex_destroy(&pm->lock);
		return ENOMEM;
	}
	return 0;
}

void
psim_pmap_fini(struct pmap_sim *sim)
{
	psim_map_fini(&sim->kpmap.saved);
	pthread_mutex_destroy(&sim->kpmap.lock);
}
