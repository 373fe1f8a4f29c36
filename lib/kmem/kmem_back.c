/*
 * kmem_back.c -- backing kernel address space with pages and taking them
 * away again (kmem_back, kmem_back_domain, kmem_unback), and the
 * allocation records kmem_free_k() relies on.
 *
 * A page behind kernel address va is the kernel object's page at index
 * (va - kva_min) / PAGE_SIZE.  Since kva_min is aligned to the KVA
 * quantum, the 512 pages behind a 2 MiB-aligned chunk are the 512 indices
 * of one reservation chunk of the object: when they all come from one
 * domain, the machine serves them from one reservation, and the pmap
 * promotes the chunk once the last one is entered.
 *
 * With a KVA quantum below the superpage size two domains' arenas can share
 * a 2 MiB chunk, and the machine serves the second domain's pages from the
 * first domain's reservation (FreeBSD asserts this never happens to the
 * kernel object); so does kmem_back_domain_k into a chunk another domain
 * backed first.  kvmem lets the reservation win: pages are counted in the
 * domain they come from, and kmem_free_k finds the arena by address.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>

#include "kmem_impl.h"

/* ---- Allocation records ------------------------------------------------------------- */

static inline uint64_t
rec_bit(const struct kmem *k, vm_offset_t va)
{
	return (va - k->kva_min) >> KPAGE_SHIFT;
}

bool
kmem__rec_test(const uint64_t *bm, uint64_t bit)
{
	return (__atomic_load_n(&bm[bit / 64], __ATOMIC_RELAXED) >> (bit % 64)) & 1u;
}

static void
rec_or(uint64_t *bm, uint64_t bit)
{
	__atomic_fetch_or(&bm[bit / 64], (uint64_t)1 << (bit % 64), __ATOMIC_RELAXED);
}

/* Clear a bit; returns whether it was set. */
static bool
rec_take(uint64_t *bm, uint64_t bit)
{
	uint64_t mask = (uint64_t)1 << (bit % 64);

	return (__atomic_fetch_and(&bm[bit / 64], ~mask, __ATOMIC_ACQ_REL) & mask) != 0;
}

/* Any bit set in [lo, hi]? */
static bool
rec_any(const uint64_t *bm, uint64_t lo, uint64_t hi)
{
	uint64_t w, first = lo / 64, last = hi / 64;

	for (w = first; w <= last; w++) {
		uint64_t v = __atomic_load_n(&bm[w], __ATOMIC_RELAXED);

		if (w == first)
			v &= ~(uint64_t)0 << (lo % 64);
		if (w == last && hi % 64 != 63)
			v &= ((uint64_t)1 << (hi % 64 + 1)) - 1;
		if (v != 0)
			return true;
	}
	return false;
}

/* Record the allocation [addr, addr + npages pages); call once it is fully backed. */
void
kmem__rec_set(struct kmem *k, vm_offset_t addr, uint64_t npages, bool exec)
{
	uint64_t b = rec_bit(k, addr);

	rec_or(k->rec_end, b + npages - 1);
	if (exec)
		rec_or(k->rec_exec, b);
	rec_or(k->rec_start, b);
}

uint64_t
kmem__live_allocs(struct kmem *k)
{
	struct kmem_tdom_sum sum[DOMAINSET_SETSIZE];
	uint64_t n = 0;

	kmem__tsum(k, sum, NULL);
	for (int d = 0; d < k->ndomains; d++)
		n += sum[d].allocs - sum[d].frees;
	return n;
}

/*
 * Is [addr, addr + npages pages) exactly one recorded allocation?  NULL if
 * so, else a reason for the misuse report.
 */
const char *
kmem__rec_match(struct kmem *k, vm_offset_t addr, uint64_t npages)
{
	uint64_t b = rec_bit(k, addr), e = b + npages - 1;

	if (!kmem__rec_test(k->rec_start, b))
		return pmap_kextract(k->sim, addr) == 0 ?
		    "is not allocated (double free?)" : "is not the start of an allocation";
	if (npages > 1 && rec_any(k->rec_start, b + 1, e))
		return "size is larger than the allocation";
	if (!kmem__rec_test(k->rec_end, e))
		return "size is smaller than the allocation";
	return NULL;
}

/* Take the record of a matching allocation; false if a racing free took it. */
bool
kmem__rec_clear(struct kmem *k, vm_offset_t addr, uint64_t npages, bool *execp)
{
	uint64_t b = rec_bit(k, addr);

	if (!rec_take(k->rec_start, b))
		return false;
	(void)rec_take(k->rec_end, b + npages - 1);
	/* The exec bit is set only for rwx allocations: test before clearing. */
	*execp = kmem__rec_test(k->rec_exec, b) && rec_take(k->rec_exec, b);
	return true;
}

/* ---- Backing ------------------------------------------------------------------------- */

/*
 * kmem_back_domain: back [addr, addr + size) (page aligned, unbacked) with
 * wired pages of domain, mapped RW (RWX for M_EXEC).  M_NOWAIT: on a
 * shortage unback what was done and return KERN_NO_SPACE.  M_WAITOK: sleep
 * (once per failure, in the machine) and retry the page.
 */
int
kmem__back_domain(struct kmem *k, struct kmem_tstat *ts, int domain, vm_offset_t addr,
    vm_size_t size, int flags)
{
	vm_pindex_t pidx = kmem__pindex(k, addr);
	vm_prot_t prot = (flags & M_EXEC) ? VM_PROT_ALL : VM_PROT_RW;
	unsigned eflags = (unsigned)prot | PMAP_ENTER_WIRED;
	int req = kmem__req(flags) | VM_ALLOC_WIRED;
	uint64_t elsewhere = 0;
	vm_size_t i = 0;

	if (flags & M_WAITOK)
		req |= VM_ALLOC_WAITFAIL;
	while (i < size) {
		vm_page_t m = vm_page_alloc_domain(k->sim, k->kobj, pidx + (i >> KPAGE_SHIFT),
		    domain, req);

		if (m != NULL) {
			if (KVMEM_LIKELY(pmap_enter(k->kpmap, addr + i, m, prot, eflags, 0) == 0)) {
				int pd = vm_page_domain(m);

				if (KVMEM_UNLIKELY(pd != domain)) {
					/* another domain's reservation served it (see above) */
					kmem__pages_add(ts, pd, 1);
					elsewhere++;
				}
				i += KPAGE;
				continue;
			}
			/* No page-table page: give the page back and treat it as a shortage. */
			(void)vm_page_unwire_noq(k->sim, m);
			vm_page_free(k->sim, m);
		}
		atomic_fetch_add_explicit(&k->dom[domain].fails, 1, RLX);
		if (flags & M_NOWAIT) {
			if (i != 0) {
				kmem__pages_add(ts, domain,
				    (int64_t)(i >> KPAGE_SHIFT) - (int64_t)elsewhere);
				(void)kmem__unback(k, ts, addr, i, false, "kmem_back_domain");
			}
			return KERN_NO_SPACE;
		}
		/* The machine slept for a page shortage; injected faults do not sleep. */
		sched_yield();
	}
	kmem__pages_add(ts, domain, (int64_t)(size >> KPAGE_SHIFT) - (int64_t)elsewhere);
	return KERN_SUCCESS;
}

/*
 * Unmap and free the pages behind [addr, addr + size) (page aligned),
 * one 2 MiB piece at a time: find the pages, remove the mappings of the
 * piece (a promoted chunk goes at the PDE), then unwire and free them.
 * check: verify every page first and change nothing if one is not a
 * kernel-object page at its index.  Does not wake sleepers (callers do,
 * once the KVA is back too).
 */
bool
kmem__unback(struct kmem *k, struct kmem_tstat *ts, vm_offset_t addr, vm_size_t size,
    bool check, const char *call)
{
	vm_page_t pages[KSPG_PAGES];
	vm_offset_t va, end = addr + size, next;
	uint64_t missing = 0;
	vm_offset_t first_missing = 0;

	if (size == 0)
		return true;
	if (check) {
		for (va = addr; va < end; va += KPAGE) {
			vm_paddr_t pa = pmap_kextract(k->sim, va);
			vm_page_t m = pa != 0 ? vm_page_from_phys(k->sim, pa) : NULL;

			if (m == NULL || vm_page_object(m) != k->kobj ||
			    vm_page_pindex(m) != kmem__pindex(k, va)) {
				kmem__misuse(k, KMEM_MISUSE_NOT_BACKED, va, size, call,
				    "page 0x%" PRIx64 " of range 0x%" PRIx64 " size %" PRIu64
				    " is not backed by kmem", (uint64_t)va, (uint64_t)addr,
				    (uint64_t)size);
				return false;
			}
		}
	}
	for (va = addr; va < end; va = next) {
		int run_dom = -1;
		int64_t run = 0;
		size_t n = 0, j;

		next = (va & ~(vm_offset_t)(KSPG - 1)) + KSPG;
		if (next > end || next < va)
			next = end;
		for (vm_offset_t v = va; v < next; v += KPAGE) {
			vm_paddr_t pa = pmap_kextract(k->sim, v);
			vm_page_t m = pa != 0 ? vm_page_from_phys(k->sim, pa) : NULL;

			if (m == NULL) {
				if (missing++ == 0)
					first_missing = v;
				continue;
			}
			pages[n++] = m;
		}
		(void)pmap_remove(k->kpmap, va, next);
		for (j = 0; j < n; j++) {
			int d = vm_page_domain(pages[j]);

			if (d != run_dom) {
				if (run_dom >= 0)
					kmem__pages_add(ts, run_dom, -run);
				run_dom = d;
				run = 0;
			}
			run++;
			(void)vm_page_unwire_noq(k->sim, pages[j]);
			vm_page_free(k->sim, pages[j]);
		}
		if (run_dom >= 0)
			kmem__pages_add(ts, run_dom, -run);
	}
	if (missing != 0)
		kmem__misuse(k, KMEM_MISUSE_NOT_BACKED, first_missing, size, call,
		    "%" PRIu64 " page(s) of range 0x%" PRIx64 " size %" PRIu64
		    " were not backed, the first at 0x%" PRIx64, missing, (uint64_t)addr,
		    (uint64_t)size, (uint64_t)first_missing);
	return true;
}

/* ---- Public entry points ----------------------------------------------------------------- */

/* Common checks of kmem_back_k / kmem_back_domain_k; KERN_SUCCESS or why not. */
static int
back_args(struct kmem *k, vm_offset_t addr, vm_size_t *sizep, int flags, const char *call)
{
	vm_size_t size;

	if (kmem__check_flags(flags) != 0 || !kmem__round(*sizep, &size) ||
	    !kmem__in_kva(k, addr, size) || !vmem_contains(k->kernel_arena, addr) ||
	    !vmem_contains(k->kernel_arena, addr + size - 1)) {
		kmem__einval(k);
		return KERN_INVALID_ARGUMENT;
	}
	if (pmap_kextract(k->sim, addr) != 0 || pmap_kextract(k->sim, addr + size - KPAGE) != 0) {
		kmem__misuse(k, KMEM_MISUSE_BACKED, addr, size, call,
		    "range 0x%" PRIx64 " size %" PRIu64 " is already backed", (uint64_t)addr,
		    (uint64_t)size);
		errno = EINVAL;
		return KERN_INVALID_ARGUMENT;
	}
	*sizep = size;
	return KERN_SUCCESS;
}

int
kmem_back_domain_k(struct kmem *k, int domain, vm_offset_t addr, vm_size_t size, int flags)
{
	static const char call[] = "kmem_back_domain_k";
	int rv;

	k = kmem__get(k, call);
	if (domain < 0 || domain >= k->ndomains) {
		kmem__einval(k);
		return KERN_INVALID_ARGUMENT;
	}
	if ((rv = back_args(k, addr, &size, flags, call)) != KERN_SUCCESS)
		return rv;
	rv = kmem__back_domain(k, kmem__tstat(k), domain, addr, size, flags);
	if (rv != KERN_SUCCESS)
		errno = ENOMEM;
	return rv;
}

/*
 * kmem_back: each KVA-quantum chunk of the range from the domain its
 * address selects ((va / quantum) mod ndomains), so a chunk never mixes
 * domains.  A failure unbacks the chunks already done.
 */
int
kmem_back_k(struct kmem *k, vm_offset_t addr, vm_size_t size, int flags)
{
	static const char call[] = "kmem_back_k";
	vm_offset_t start = addr, end, next;
	struct kmem_tstat *ts;
	int rv = KERN_SUCCESS;

	k = kmem__get(k, call);
	if ((rv = back_args(k, addr, &size, flags, call)) != KERN_SUCCESS)
		return rv;
	ts = kmem__tstat(k);
	for (end = addr + size; addr < end; addr = next) {
		int domain = kmem__chunk_domain(k, addr);

		next = k->ndomains == 1 ? end : (addr | (k->kvaq - 1)) + 1;
		if (next > end || next < start)
			next = end;
		rv = kmem__back_domain(k, ts, domain, addr, next - addr, flags);
		if (rv != KERN_SUCCESS) {
			(void)kmem__unback(k, ts, start, addr - start, false, call);
			errno = ENOMEM;
			break;
		}
	}
	return rv;
}

void
kmem_unback_k(struct kmem *k, vm_offset_t addr, vm_size_t size)
{
	static const char call[] = "kmem_unback_k";
	vm_size_t len;

	k = kmem__get(k, call);
	if (size == 0)
		return;
	if (!kmem__round(size, &len) || !kmem__in_kva(k, addr, len)) {
		kmem__misuse(k, KMEM_MISUSE_NOT_BACKED, addr, size, call,
		    "bad range 0x%" PRIx64 " size %" PRIu64, (uint64_t)addr, (uint64_t)size);
		return;
	}
	if (kmem__unback(k, kmem__tstat(k), addr, len, true, call))
		kmem__wakeup(k);
}
