/*
 * kmem_map.c -- what kmem does with maps rather than arenas: the pmap
 * callbacks of kernel_map, submaps (kmem_subinit), pageable space in a
 * submap (kmap_alloc_wait, kmap_free_wakeup), the zero region, and the
 * bootstrap region (its backing at bring-up, kmem_bootstrap_free).
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "kmem_impl.h"

/* ---- kernel_map's physical-map callbacks --------------------------------------------- */

static void
ops_remove(void *arg, vm_offset_t start, vm_offset_t end)
{
	struct kmem *k = arg;

	(void)pmap_remove(k->kpmap, start, end);
}

static void
ops_free_pages(void *arg, vm_object_t object, vm_ooffset_t offset, vm_size_t size)
{
	kmem__free_object_pages(arg, object, offset, size);
}

static void
ops_protect(void *arg, vm_offset_t start, vm_offset_t end, vm_prot_t prot)
{
	struct kmem *k = arg;

	(void)pmap_protect(k->kpmap, start, end, prot);
}

const struct vm_map_pmap_ops kmem__pmap_ops = {
	.remove = ops_remove,
	.free_pages = ops_free_pages,
	.protect = ops_protect,
};

/*
 * A map entry with an object went away (NetBSD's uvm_km_pgremove): its
 * mappings are gone already; free the object's pages in the range,
 * dropping their wirings.  Called with the map locked.
 */
void
kmem__free_object_pages(struct kmem *k, vm_object_t object, vm_ooffset_t offset,
    vm_size_t size)
{
	vm_pindex_t p, first = (vm_pindex_t)offset >> KPAGE_SHIFT;
	vm_pindex_t end = first + ((size + KPAGE_MASK) >> KPAGE_SHIFT);
	uint64_t freed = 0;

	if (pmap_sim_object_npages(object) == 0)
		return;
	for (p = first; p < end; p++) {
		vm_page_t m = vm_page_lookup(object, p);

		if (m == NULL)
			continue;
		if (vm_page_map_count(m) != 0) {
			/* Mapped somewhere else than where the entry said: leave it. */
			kmem__misuse(k, KMEM_MISUSE_BACKED, (vm_offset_t)vm_page_phys(m), KPAGE,
			    "uvm_km_pgremove", "page 0x%" PRIx64 " of a removed entry is still mapped",
			    (uint64_t)vm_page_phys(m));
			continue;
		}
		while (vm_page_wire_count(m) != 0)
			(void)vm_page_unwire_noq(k->sim, m);
		vm_page_free(k->sim, m);
		freed++;
	}
	if (object == k->kobj && freed != 0)
		atomic_fetch_sub_explicit(&k->compat_kobj_pages, freed, RLX);
	if (freed != 0)
		kmem__wakeup(k);
}

/* ---- Submaps ------------------------------------------------------------------------- */

int
kmem__submap_track(struct kmem *k, vm_map_t map, vm_map_t parent, vm_offset_t min,
    vm_offset_t max)
{
	struct kmem_submap *s = malloc(sizeof(*s));

	if (s == NULL)
		return ENOMEM;
	s->map = map;
	s->parent = parent;
	s->min = min;
	s->max = max;
	pthread_mutex_lock(&k->sub_lock);
	s->next = k->subs;
	k->subs = s;
	pthread_mutex_unlock(&k->sub_lock);
	return 0;
}

/* Newest first, so a submap of a submap goes before its parent. */
void
kmem__submaps_fini(struct kmem *k)
{
	struct kmem_submap *s, *next;

	pthread_mutex_lock(&k->sub_lock);
	s = k->subs;
	k->subs = NULL;
	pthread_mutex_unlock(&k->sub_lock);
	for (; s != NULL; s = next) {
		next = s->next;
		(void)vm_map_remove(s->parent, s->min, s->max);
		vm_map_destroy(s->map);
		free(s);
	}
	k->exec_map = k->pipe_map = NULL;
}

/* Is map kernel_map or a submap the instance made (and will destroy)? */
static bool
owned_map(struct kmem *k, vm_map_t map)
{
	struct kmem_submap *s;
	bool found = map == k->kernel_map;

	pthread_mutex_lock(&k->sub_lock);
	for (s = k->subs; s != NULL && !found; s = s->next)
		found = s->map == map;
	pthread_mutex_unlock(&k->sub_lock);
	return found;
}

int
kmem__subinit(struct kmem *k, vm_map_t map, vm_map_t parent, const char *name,
    vm_offset_t *min, vm_offset_t *max, vm_size_t size, int find_space, vm_map_t *submapp)
{
	vm_map_t sub;
	int error;

	if (parent == NULL || min == NULL || max == NULL || size == 0)
		return EINVAL;
	if (find_space != VMFS_NO_SPACE)
		*min = vm_map_min(parent);
	sub = vm_map_suballoc(parent, map, name, min, max, size, find_space);
	if (sub == NULL)
		return errno != 0 ? errno : ENOMEM;
	if (k != NULL && !owned_map(k, parent))
		k = NULL;	/* a map of the caller's: the submap is the caller's too */
	if (k != NULL && (error = kmem__submap_track(k, sub, parent, *min, *max)) != 0) {
		(void)vm_map_remove(parent, *min, *max);
		vm_map_destroy(sub);
		return error;
	}
	if (submapp != NULL)
		*submapp = sub;
	return 0;
}

int
kmem_subinit_k(struct kmem *k, vm_map_t map, vm_map_t parent, vm_offset_t *min,
    vm_offset_t *max, vm_size_t size, bool superpage_align, vm_map_t *submapp)
{
	k = kmem__get(k, "kmem_subinit_k");
	return kmem__subinit(k, map, parent, "submap", min, max, size,
	    superpage_align ? VMFS_SUPER_SPACE : VMFS_ANY_SPACE, submapp);
}

/* ---- Pageable space in a submap ----------------------------------------------------------- */

vm_offset_t
kmap_alloc_wait(vm_map_t map, vm_size_t size)
{
	vm_offset_t addr;

	if (map == NULL || !kmem__round(size, &size)) {
		errno = EINVAL;
		return 0;
	}
	addr = vm_map_min(map);
	if (vm_map_find_wait(map, NULL, 0, &addr, size, 0, VMFS_ANY_SPACE, VM_PROT_RW,
	    VM_PROT_RW, 0) != 0)
		return 0;
	return addr;
}

void
kmap_free_wakeup(vm_map_t map, vm_offset_t addr, vm_size_t size)
{
	vm_offset_t start, end;

	if (map == NULL || addr > ~(vm_offset_t)0 - size - KPAGE_MASK)
		return;
	start = addr & ~(vm_offset_t)KPAGE_MASK;
	end = (addr + size + KPAGE_MASK) & ~(vm_offset_t)KPAGE_MASK;
	(void)vm_map_remove(map, start, end);	/* wakes vm_map_find_wait() sleepers */
}

/* ---- Zero region ---------------------------------------------------------------------------- */

/*
 * One zeroed page mapped over [addr, addr + size) and made read-only
 * (kmem_init_zero_region).  0 or ENOMEM with nothing kept.
 */
int
kmem__zero_region_init(struct kmem *k, vm_size_t size)
{
	vm_offset_t addr = kva_alloc_k(k, size), va;
	vm_page_t m;

	if (addr == 0)
		return ENOMEM;
	m = vm_page_alloc_noobj(k->sim, VM_ALLOC_SYSTEM | VM_ALLOC_WIRED | VM_ALLOC_ZERO);
	if (m == NULL) {
		kva_free_k(k, addr, size);
		return ENOMEM;
	}
	for (va = addr; va < addr + size; va += KPAGE)
		if (pmap_qenter(k->sim, va, &m, 1) != 0) {
			(void)pmap_remove(k->kpmap, addr, va);
			(void)vm_page_unwire_noq(k->sim, m);
			vm_page_free(k->sim, m);
			kva_free_k(k, addr, size);
			return ENOMEM;
		}
	(void)pmap_protect(k->kpmap, addr, addr + size, VM_PROT_READ);
	k->zero_page = m;
	k->zero_size = size;
	k->zero_va = addr;
	return 0;
}

void
kmem__zero_region_fini(struct kmem *k)
{
	if (k->zero_va == 0)
		return;
	(void)pmap_remove(k->kpmap, k->zero_va, k->zero_va + k->zero_size);
	(void)vm_page_unwire_noq(k->sim, k->zero_page);
	vm_page_free(k->sim, k->zero_page);
	vmem_free(k->kernel_arena, k->zero_va, k->zero_size);
	k->zero_va = 0;
	k->zero_size = 0;
	k->zero_page = NULL;
}

/* ---- Bootstrap region ------------------------------------------------------------------------- */

/*
 * Map pages of domain 0 (no object, wired) over the backed part of the
 * bootstrap region, as preloaded kernel data would be.  0 or ENOMEM (the
 * pages go with the machine).
 */
int
kmem__bootstrap_init(struct kmem *k)
{
	vm_offset_t va;

	for (va = k->kva_min; va < k->boot_backed_end; va += KPAGE) {
		vm_page_t m = vm_page_alloc_noobj_domain(k->sim, 0,
		    VM_ALLOC_SYSTEM | VM_ALLOC_WIRED);

		if (m == NULL)
			return ENOMEM;
		if (pmap_enter(k->kpmap, va, m, VM_PROT_RW, VM_PROT_RW | PMAP_ENTER_WIRED, 0) != 0) {
			(void)vm_page_unwire_noq(k->sim, m);
			vm_page_free(k->sim, m);
			return ENOMEM;
		}
		atomic_fetch_add_explicit(&k->boot_pages, 1, RLX);
	}
	return 0;
}

/*
 * kmem_bootstrap_free: the whole pages inside [start, start + size) must
 * all be backed pages of the bootstrap region; they are unmapped and freed
 * and their KVA becomes a span of the kernel arena.
 */
void
kmem_bootstrap_free_k(struct kmem *k, vm_offset_t start, vm_size_t size)
{
	static const char call[] = "kmem_bootstrap_free_k";
	vm_offset_t end, va, lim;

	k = kmem__get(k, call);
	if (start > ~(vm_offset_t)0 - size - KPAGE_MASK) {
		kmem__misuse(k, KMEM_MISUSE_BAD_ARG, start, size, call,
		    "range 0x%" PRIx64 " size %" PRIu64 " wraps", (uint64_t)start, (uint64_t)size);
		return;
	}
	end = (start + size) & ~(vm_offset_t)KPAGE_MASK;
	start = (start + KPAGE_MASK) & ~(vm_offset_t)KPAGE_MASK;
	if (start >= end)
		return;
	for (va = start; va < end; va += KPAGE) {
		vm_paddr_t pa = va >= k->kva_min && va < k->boot_backed_end ?
		    pmap_kextract(k->sim, va) : 0;
		vm_page_t m = pa != 0 ? vm_page_from_phys(k->sim, pa) : NULL;

		if (m == NULL || vm_page_object(m) != NULL) {
			kmem__misuse(k, KMEM_MISUSE_NOT_BACKED, va, end - start, call,
			    "page 0x%" PRIx64 " is not a backed page of the bootstrap region",
			    (uint64_t)va);
			return;
		}
	}
	for (va = start; va < end; va = lim) {
		vm_page_t pages[KSPG_PAGES];
		vm_offset_t v;
		size_t n = 0, j;

		lim = (va & ~(vm_offset_t)(KSPG - 1)) + KSPG;
		if (lim > end)
			lim = end;
		for (v = va; v < lim; v += KPAGE)
			pages[n++] = vm_page_from_phys(k->sim, pmap_kextract(k->sim, v));
		(void)pmap_remove(k->kpmap, va, lim);
		for (j = 0; j < n; j++) {
			(void)vm_page_unwire_noq(k->sim, pages[j]);
			vm_page_free(k->sim, pages[j]);
		}
		atomic_fetch_sub_explicit(&k->boot_pages, n, RLX);
	}
	if (vmem_add(k->kernel_arena, start, end - start, M_WAITOK) == 0)
		atomic_fetch_add_explicit(&k->boot_freed, end - start, RLX);
	else
		kmem__misuse(k, KMEM_MISUSE_BAD_ARG, start, end - start, call,
		    "could not add 0x%" PRIx64 " size %" PRIu64 " to the kernel arena",
		    (uint64_t)start, (uint64_t)(end - start));
	kmem__wakeup(k);
}
