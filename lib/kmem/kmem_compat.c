/*
 * kmem_compat.c -- FreeBSD's and NetBSD's (1998 uvm_km) global kernel
 * memory interfaces over a process-wide default instance.
 *
 * This file holds the only process-wide allocator state of the library:
 * the default instance and FreeBSD's and NetBSD's global variables
 * pointing into it.  The FreeBSD calls forward to the instance calls.  The
 * NetBSD calls are the older, map-based allocator: address space comes
 * straight from a map (kernel_map or a submap) as an entry backed by an
 * object at offset (va - vm_map_min(kernel_map)); pages of that object
 * are entered wired; removing the entry (uvm_km_free) has kernel_map's
 * pmap callbacks unmap the range and free the object's pages there.  The
 * pages of one 2 MiB chunk come from one domain, chosen from the address
 * as kmem_back does.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <string.h>

#include <kvmem/kmem_compat.h>

#include "kmem_impl.h"

vmem_t *kernel_arena;
vm_map_t kernel_map;
vm_map_t exec_map;
vm_map_t pipe_map;
vm_object_t kernel_object;
pmap_t kernel_pmap;
const void *zero_region;
struct uvm uvm;
struct uvmexp uvmexp;

static pthread_mutex_t compat_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kmem *_Atomic compat_k;
static struct kmem_config compat_cfg;
static bool compat_cfg_set;

/* The configuration the default instance is built from (compat_lock held). */
static void
compat_config(struct kmem_config *cfg)
{
	if (compat_cfg_set) {
		*cfg = compat_cfg;
		return;
	}
	kmem_config_init(cfg);
	snprintf(cfg->name, sizeof(cfg->name), "default");
	cfg->exec_map_size = 8u << 20;
	cfg->pipe_map_size = 8u << 20;
}

/* Build the default instance and point the globals at it (compat_lock held). */
static struct kmem *
compat_build(const struct kmem_config *cfg)
{
	struct kmem *k = kmem_create(cfg);
	vm_size_t zsize;

	if (k == NULL)
		KVMEM_PANIC("kmem compat: cannot build the default instance (errno %d)", errno);
	kernel_arena = k->kernel_arena;
	kernel_map = k->kernel_map;
	exec_map = k->exec_map;
	pipe_map = k->pipe_map;
	kernel_object = k->kobj;
	kernel_pmap = k->kpmap;
	zero_region = (const void *)(uintptr_t)kmem_zero_region(k, &zsize);
	uvm.kernel_object = k->kobj;
	uvmexp.pagesize = (int)KPAGE;
	uvmexp.pagemask = (int)KPAGE_MASK;
	uvmexp.pageshift = KPAGE_SHIFT;
	uvmexp.kmem_object = pmap_sim_object_create(k->sim, 0);
	uvmexp.mb_object = pmap_sim_object_create(k->sim, 0);
	if (uvmexp.kmem_object == NULL || uvmexp.mb_object == NULL)
		KVMEM_PANIC("kmem compat: cannot create the kmem and mb objects");
	atomic_store_explicit(&compat_k, k, memory_order_release);
	return k;
}

struct kmem *
kmem_compat_instance(void)
{
	struct kmem *k = atomic_load_explicit(&compat_k, memory_order_acquire);
	struct kmem_config cfg;

	if (KVMEM_LIKELY(k != NULL))
		return k;
	pthread_mutex_lock(&compat_lock);
	k = atomic_load_explicit(&compat_k, memory_order_acquire);
	if (k == NULL) {
		compat_config(&cfg);
		k = compat_build(&cfg);
	}
	pthread_mutex_unlock(&compat_lock);
	return k;
}

int
kmem_compat_configure(const struct kmem_config *cfg)
{
	int error = 0;

	if (kmem_config_check(cfg, NULL, 0) != 0)
		return EINVAL;
	pthread_mutex_lock(&compat_lock);
	if (atomic_load(&compat_k) != NULL) {
		error = EBUSY;
	} else {
		compat_cfg = *cfg;
		compat_cfg_set = true;
	}
	pthread_mutex_unlock(&compat_lock);
	return error;
}

void
kmem_compat_fini(void)
{
	struct kmem *k;

	pthread_mutex_lock(&compat_lock);
	k = atomic_load(&compat_k);
	atomic_store(&compat_k, NULL);
	kernel_arena = NULL;
	kernel_map = exec_map = pipe_map = NULL;
	kernel_object = NULL;
	kernel_pmap = NULL;
	zero_region = NULL;
	memset(&uvm, 0, sizeof(uvm));
	memset(&uvmexp, 0, sizeof(uvmexp));
	compat_cfg_set = false;
	pthread_mutex_unlock(&compat_lock);
	if (k != NULL)
		kmem_destroy(k);
}

/* kmem_init / uvm_km_init: the default instance over [min, end), [min, start) reserved. */
static void
compat_init(vm_offset_t start, vm_offset_t end, const char *call)
{
	struct kmem_config cfg;
	struct kmem *k;

	pthread_mutex_lock(&compat_lock);
	k = atomic_load(&compat_k);
	if (k == NULL) {
		compat_config(&cfg);
		if (start < cfg.kva_min || end <= start) {
			pthread_mutex_unlock(&compat_lock);
			KVMEM_PANIC("%s: bad range [0x%" PRIx64 ", 0x%" PRIx64 ")", call,
			    (uint64_t)start, (uint64_t)end);
		}
		cfg.kva_max = end;
		cfg.bootstrap_size = start - cfg.kva_min;
		if (cfg.bootstrap_backed > cfg.bootstrap_size)
			cfg.bootstrap_backed = cfg.bootstrap_size;
		(void)compat_build(&cfg);
		pthread_mutex_unlock(&compat_lock);
		return;
	}
	pthread_mutex_unlock(&compat_lock);
	kmem__misuse(k, KMEM_MISUSE_BAD_ARG, start, end - start, call,
	    "the default instance is already initialized");
}

/* ---- FreeBSD -------------------------------------------------------------------------- */

void
kmem_init(vm_offset_t start, vm_offset_t end)
{
	compat_init(start, end, "kmem_init");
}

void
kmem_init_zero_region(void)
{
	struct kmem *k = kmem_compat_instance();

	pthread_mutex_lock(&compat_lock);
	if (k->zero_va == 0 && kmem__zero_region_init(k, ZERO_REGION_SIZE) == 0)
		zero_region = (const void *)(uintptr_t)k->zero_va;
	pthread_mutex_unlock(&compat_lock);
}

vm_offset_t
kva_alloc(vm_size_t size)
{
	return kva_alloc_k(kmem_compat_instance(), size);
}

void
kva_free(vm_offset_t addr, vm_size_t size)
{
	kva_free_k(kmem_compat_instance(), addr, size);
}

vm_offset_t
kmem_malloc(vm_size_t size, int flags)
{
	return kmem_malloc_k(kmem_compat_instance(), size, flags);
}

vm_offset_t
kmem_malloc_domainset(struct domainset *ds, vm_size_t size, int flags)
{
	return kmem_malloc_domainset_k(kmem_compat_instance(), ds, size, flags);
}

vm_offset_t
kmem_alloc_attr(vm_size_t size, int flags, vm_paddr_t low, vm_paddr_t high,
    vm_memattr_t memattr)
{
	return kmem_alloc_attr_k(kmem_compat_instance(), size, flags, low, high, memattr);
}

vm_offset_t
kmem_alloc_attr_domainset(struct domainset *ds, vm_size_t size, int flags, vm_paddr_t low,
    vm_paddr_t high, vm_memattr_t memattr)
{
	return kmem_alloc_attr_domainset_k(kmem_compat_instance(), ds, size, flags, low, high,
	    memattr);
}

vm_offset_t
kmem_alloc_contig(vm_size_t size, int flags, vm_paddr_t low, vm_paddr_t high,
    unsigned long alignment, vm_paddr_t boundary, vm_memattr_t memattr)
{
	return kmem_alloc_contig_k(kmem_compat_instance(), size, flags, low, high, alignment,
	    boundary, memattr);
}

vm_offset_t
kmem_alloc_contig_domainset(struct domainset *ds, vm_size_t size, int flags, vm_paddr_t low,
    vm_paddr_t high, unsigned long alignment, vm_paddr_t boundary, vm_memattr_t memattr)
{
	return kmem_alloc_contig_domainset_k(kmem_compat_instance(), ds, size, flags, low, high,
	    alignment, boundary, memattr);
}

void
kmem_free(vm_offset_t addr, vm_size_t size)
{
	kmem_free_k(kmem_compat_instance(), addr, size);
}

/* FreeBSD's kmem_back takes the object only to assert it is the kernel's. */
static bool
is_kernel_object(struct kmem *k, vm_object_t object, const char *call)
{
	if (object == k->kobj)
		return true;
	kmem__misuse(k, KMEM_MISUSE_BAD_ARG, (vm_offset_t)(uintptr_t)object, 0, call,
	    "object %p is not the kernel object", (void *)object);
	errno = EINVAL;
	return false;
}

int
kmem_back(vm_object_t object, vm_offset_t addr, vm_size_t size, int flags)
{
	struct kmem *k = kmem_compat_instance();

	if (!is_kernel_object(k, object, "kmem_back"))
		return KERN_INVALID_ARGUMENT;
	return kmem_back_k(k, addr, size, flags);
}

int
kmem_back_domain(int domain, vm_object_t object, vm_offset_t addr, vm_size_t size, int flags)
{
	struct kmem *k = kmem_compat_instance();

	if (!is_kernel_object(k, object, "kmem_back_domain"))
		return KERN_INVALID_ARGUMENT;
	return kmem_back_domain_k(k, domain, addr, size, flags);
}

void
kmem_unback(vm_object_t object, vm_offset_t addr, vm_size_t size)
{
	struct kmem *k = kmem_compat_instance();

	if (is_kernel_object(k, object, "kmem_unback"))
		kmem_unback_k(k, addr, size);
}

void
kmem_subinit(vm_map_t map, vm_map_t parent, vm_offset_t *min, vm_offset_t *max,
    vm_size_t size, bool superpage_align)
{
	struct kmem *k = kmem_compat_instance();
	int error = kmem_subinit_k(k, map, parent, min, max, size, superpage_align, NULL);

	if (error != 0)
		kmem__misuse(k, KMEM_MISUSE_BAD_ARG, 0, size, "kmem_subinit",
		    "cannot make a submap of %" PRIu64 " bytes (error %d)", (uint64_t)size, error);
}

void
kmem_bootstrap_free(vm_offset_t start, vm_size_t size)
{
	kmem_bootstrap_free_k(kmem_compat_instance(), start, size);
}

/* ---- NetBSD uvm_km ------------------------------------------------------------------------ */

void
uvm_km_init(vm_offset_t start, vm_offset_t end)
{
	compat_init(start, end, "uvm_km_init");
}

struct vm_map *
uvm_km_suballoc(struct vm_map *map, vm_offset_t *min, vm_offset_t *max, vm_size_t size,
    boolean_t pageable, boolean_t fixed, struct vm_map *submap)
{
	struct kmem *k = kmem_compat_instance();
	vm_map_t sub = NULL;
	int error;

	(void)pageable;
	error = kmem__subinit(k, submap, map, "uvm submap", min, max, size,
	    fixed ? VMFS_NO_SPACE : VMFS_ANY_SPACE, &sub);
	if (error != 0) {
		kmem__misuse(k, KMEM_MISUSE_BAD_ARG, min != NULL ? *min : 0, size,
		    "uvm_km_suballoc", "unable to allocate space in parent map (error %d)", error);
		return NULL;
	}
	return sub;
}

void
uvm_km_pgremove(struct uvm_object *uobj, vm_offset_t start, vm_offset_t end)
{
	struct kmem *k = kmem_compat_instance();
	vm_offset_t kmin = k->kva_min, off;

	start &= ~(vm_offset_t)KPAGE_MASK;
	for (off = start; off < end; off += KPAGE) {
		vm_page_t m = vm_page_lookup(uobj, off >> KPAGE_SHIFT);

		if (m != NULL && vm_page_map_count(m) != 0)
			(void)pmap_remove(k->kpmap, kmin + off, kmin + off + KPAGE);
	}
	kmem__free_object_pages(k, uobj, (vm_ooffset_t)start, end > start ? end - start : 0);
}

/*
 * The shared body of the NetBSD allocators: a map entry for obj at the
 * kernel-object offset of its address, then (unless va_only) wired pages
 * entered with prot.  nowait: a page shortage removes the entry (freeing
 * the pages entered so far) and fails; otherwise it waits for pages.
 */
static vm_offset_t
km_alloc(vm_map_t map, vm_object_t obj, vm_size_t size, bool va_only, bool nowait,
    bool zero)
{
	struct kmem *k = kmem_compat_instance();
	vm_offset_t kva, va;
	int req = VM_ALLOC_SYSTEM | VM_ALLOC_WIRED | (zero ? VM_ALLOC_ZERO : 0) |
	    (nowait ? 0 : VM_ALLOC_WAITOK);
	int error;

	if (map == NULL || obj == NULL || !kmem__round(size, &size))
		return 0;
	vm_map_lock(map);
	error = vm_map_findspace(map, vm_map_min(map), size, VMFS_ANY_SPACE, &kva);
	if (error == 0 && (kva < k->kva_min || kva + size > k->kva_max))
		error = EINVAL;
	if (error == 0)
		error = vm_map_insert(map, obj, (vm_ooffset_t)(kva - k->kva_min), kva, kva + size,
		    VM_PROT_ALL, VM_PROT_ALL, 0);
	vm_map_unlock(map);
	if (error != 0)
		return 0;
	if (va_only)
		return kva;
	for (va = kva; va < kva + size;) {
		vm_page_t m = vm_page_alloc_domain(k->sim, obj, kmem__pindex(k, va),
		    kmem__chunk_domain(k, va), req);

		if (m != NULL && pmap_enter(k->kpmap, va, m, VM_PROT_ALL,
		    VM_PROT_ALL | PMAP_ENTER_WIRED, 0) != 0) {
			(void)vm_page_unwire_noq(k->sim, m);
			vm_page_free(k->sim, m);
			m = NULL;
		}
		if (m == NULL) {
			if (nowait) {
				(void)vm_map_remove(map, kva, kva + size);
				return 0;
			}
			sched_yield();
			continue;
		}
		if (obj == k->kobj)
			atomic_fetch_add_explicit(&k->compat_kobj_pages, 1, RLX);
		va += KPAGE;
	}
	return kva;
}

vm_offset_t
uvm_km_kmemalloc(vm_map_t map, struct uvm_object *obj, vm_size_t size, int flags)
{
	return km_alloc(map, obj, size, (flags & UVM_KMF_VALLOC) != 0,
	    (flags & UVM_KMF_NOWAIT) != 0, false);
}

void
uvm_km_free(vm_map_t map, vm_offset_t addr, vm_size_t size)
{
	kmap_free_wakeup(map, addr, size);
}

void
uvm_km_free_wakeup(vm_map_t map, vm_offset_t addr, vm_size_t size)
{
	kmap_free_wakeup(map, addr, size);
}

vm_offset_t
uvm_km_alloc1(vm_map_t map, vm_size_t size, boolean_t zeroit)
{
	return km_alloc(map, kmem_compat_instance()->kobj, size, false, false, zeroit != 0);
}

vm_offset_t
uvm_km_valloc(vm_map_t map, vm_size_t size)
{
	return km_alloc(map, kmem_compat_instance()->kobj, size, true, false, false);
}

/*
 * Sleep for room with vm_map_find_wait (which knows no object), then turn
 * the entry into a kernel-object one under the map lock.
 */
vm_offset_t
uvm_km_valloc_wait(vm_map_t map, vm_size_t size)
{
	struct kmem *k = kmem_compat_instance();
	vm_offset_t kva;
	int error;

	if (map == NULL || !kmem__round(size, &size) || size > vm_map_max(map) - vm_map_min(map))
		return 0;
	kva = vm_map_min(map);
	if (vm_map_find_wait(map, NULL, 0, &kva, size, 0, VMFS_ANY_SPACE, VM_PROT_ALL,
	    VM_PROT_ALL, 0) != 0)
		return 0;
	vm_map_lock(map);
	error = vm_map_remove(map, kva, kva + size);
	if (error == 0)
		error = vm_map_insert(map, k->kobj, (vm_ooffset_t)(kva - k->kva_min), kva,
		    kva + size, VM_PROT_ALL, VM_PROT_ALL, 0);
	vm_map_unlock(map);
	return error == 0 ? kva : 0;
}

vm_offset_t
uvm_km_alloc_poolpage1(vm_map_t map, struct uvm_object *obj)
{
	return uvm_km_kmemalloc(map, obj, KPAGE, UVM_KMF_NOWAIT);
}

void
uvm_km_free_poolpage1(vm_map_t map, vm_offset_t addr)
{
	uvm_km_free(map, addr, KPAGE);
}
