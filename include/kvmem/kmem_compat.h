/*
 * <kvmem/kmem_compat.h> -- FreeBSD vm_kern.c's and NetBSD uvm_km.c's
 * (1998) exact global-style interfaces, over one process-wide default
 * kmem instance.
 *
 * The default instance is built by kmem_init() (or uvm_km_init()), else
 * by the first compat call, from the configuration given to
 * kmem_compat_configure() (else kmem_config_init()'s defaults, with an
 * 8 MiB exec_map and pipe_map).  The globals below are valid from then
 * on.  Code that wants several machines uses <kvmem/kmem.h> instead.
 *
 * Simulated addresses are not host addresses: zero_region and the
 * returned vm_offset_t values are to be used with pmap_sim_read(),
 * pmap_sim_write() and friends on kmem_sim(kmem_compat_instance()).
 */
#ifndef KVMEM_KMEM_COMPAT_H
#define KVMEM_KMEM_COMPAT_H

#include <kvmem/kmem.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The default instance ------------------------------------------------------ */

/* The default instance, built on first use (never NULL: aborts if it cannot be). */
KVMEM_EXPORT struct kmem *kmem_compat_instance(void);
/* Configuration for the default instance: 0, or EBUSY once it exists, EINVAL. */
KVMEM_EXPORT int kmem_compat_configure(const struct kmem_config *cfg);
/* Destroy the default instance (for tests and leak checks); globals become NULL. */
KVMEM_EXPORT void kmem_compat_fini(void);

/* ---- FreeBSD <vm/vm_kern.h> ---------------------------------------------------- */

KVMEM_EXPORT extern vmem_t *kernel_arena;
KVMEM_EXPORT extern vm_map_t kernel_map;
KVMEM_EXPORT extern vm_map_t exec_map;
KVMEM_EXPORT extern vm_map_t pipe_map;
KVMEM_EXPORT extern vm_object_t kernel_object;
KVMEM_EXPORT extern pmap_t kernel_pmap;
KVMEM_EXPORT extern const void *zero_region;	/* a simulated address */
#define ZERO_REGION_SIZE	(2u << 20)

#define DOMAINSET_RR()	kmem_domainset(kmem_compat_instance(), DOMAINSET_POLICY_ROUNDROBIN, 0)
#define DOMAINSET_FT()	kmem_domainset(kmem_compat_instance(), DOMAINSET_POLICY_FIRSTTOUCH, 0)
#define DOMAINSET_IL()	kmem_domainset(kmem_compat_instance(), DOMAINSET_POLICY_INTERLEAVE, 0)
#define DOMAINSET_PREF(d) kmem_domainset(kmem_compat_instance(), DOMAINSET_POLICY_PREFER, (d))
#define DOMAINSET_FIXED(d) kmem_domainset(kmem_compat_instance(), DOMAINSET_POLICY_FIXED, (d))

/*
 * kmem_init(start, end): kernel_map over [VM_MIN_KERNEL_ADDRESS, end)
 * with [VM_MIN_KERNEL_ADDRESS, start) reserved, and the arenas.  A second
 * call (or one after the instance was built on first use) is a misuse.
 */
KVMEM_EXPORT void kmem_init(vm_offset_t start, vm_offset_t end);
KVMEM_EXPORT void kmem_init_zero_region(void);	/* already done by kmem_init: no-op */
KVMEM_EXPORT vm_offset_t kva_alloc(vm_size_t size);
KVMEM_EXPORT void kva_free(vm_offset_t addr, vm_size_t size);
KVMEM_EXPORT vm_offset_t kmem_malloc(vm_size_t size, int flags);
KVMEM_EXPORT vm_offset_t kmem_malloc_domainset(struct domainset *ds, vm_size_t size, int flags);
KVMEM_EXPORT vm_offset_t kmem_alloc_attr(vm_size_t size, int flags, vm_paddr_t low,
    vm_paddr_t high, vm_memattr_t memattr);
KVMEM_EXPORT vm_offset_t kmem_alloc_attr_domainset(struct domainset *ds, vm_size_t size,
    int flags, vm_paddr_t low, vm_paddr_t high, vm_memattr_t memattr);
KVMEM_EXPORT vm_offset_t kmem_alloc_contig(vm_size_t size, int flags, vm_paddr_t low,
    vm_paddr_t high, unsigned long alignment, vm_paddr_t boundary, vm_memattr_t memattr);
KVMEM_EXPORT vm_offset_t kmem_alloc_contig_domainset(struct domainset *ds, vm_size_t size,
    int flags, vm_paddr_t low, vm_paddr_t high, unsigned long alignment, vm_paddr_t boundary,
    vm_memattr_t memattr);
KVMEM_EXPORT void kmem_free(vm_offset_t addr, vm_size_t size);
/* object must be kernel_object (else KERN_INVALID_ARGUMENT after a misuse report). */
KVMEM_EXPORT int kmem_back(vm_object_t object, vm_offset_t addr, vm_size_t size, int flags);
KVMEM_EXPORT int kmem_back_domain(int domain, vm_object_t object, vm_offset_t addr,
    vm_size_t size, int flags);
KVMEM_EXPORT void kmem_unback(vm_object_t object, vm_offset_t addr, vm_size_t size);
/* Panics (misuse handler) where FreeBSD panics: no room in parent. */
KVMEM_EXPORT void kmem_subinit(vm_map_t map, vm_map_t parent, vm_offset_t *min,
    vm_offset_t *max, vm_size_t size, bool superpage_align);
KVMEM_EXPORT void kmem_bootstrap_free(vm_offset_t start, vm_size_t size);
/* kmap_alloc_wait() and kmap_free_wakeup() are in <kvmem/kmem.h>. */

/* ---- NetBSD <uvm/uvm_km.h> (1998) ------------------------------------------------ */

#ifndef TRUE
#define TRUE	1
#define FALSE	0
#endif
typedef int boolean_t;
#define uvm_object	vm_object	/* struct uvm_object * is a pmap_sim object */

#define UVM_KMF_NOWAIT	0x1	/* fail instead of waiting for pages */
#define UVM_KMF_VALLOC	0x2	/* address space only */
#define UVM_KMF_TRYLOCK	0x4	/* accepted; the map lock is always waited for */

struct uvm {
	struct uvm_object	*kernel_object;
};
struct uvmexp {
	int			pagesize;
	int			pagemask;
	int			pageshift;
	struct uvm_object	*kmem_object;	/* for kmem_map allocations */
	struct uvm_object	*mb_object;	/* for mb_map allocations */
};
KVMEM_EXPORT extern struct uvm uvm;
KVMEM_EXPORT extern struct uvmexp uvmexp;

/* uvm_km_init(start, end): as kmem_init(). */
KVMEM_EXPORT void uvm_km_init(vm_offset_t start, vm_offset_t end);
/*
 * A submap of size bytes in map (at *min if fixed); submap: storage or
 * NULL.  NULL after a misuse report when there is no room (NetBSD panics).
 */
KVMEM_EXPORT struct vm_map *uvm_km_suballoc(struct vm_map *map, vm_offset_t *min,
    vm_offset_t *max, vm_size_t size, boolean_t pageable, boolean_t fixed,
    struct vm_map *submap);
/* Free uobj's pages at offsets [start, end), unmapping them first. */
KVMEM_EXPORT void uvm_km_pgremove(struct uvm_object *uobj, vm_offset_t start, vm_offset_t end);
/* Wired memory from map backed by obj (UVM_KMF_* flags); 0 on failure. */
KVMEM_EXPORT vm_offset_t uvm_km_kmemalloc(vm_map_t map, struct uvm_object *obj,
    vm_size_t size, int flags);
KVMEM_EXPORT void uvm_km_free(vm_map_t map, vm_offset_t addr, vm_size_t size);
KVMEM_EXPORT void uvm_km_free_wakeup(vm_map_t map, vm_offset_t addr, vm_size_t size);
/* Wired kernel-object memory, waiting for pages; zeroed if zeroit.  0: no VA. */
KVMEM_EXPORT vm_offset_t uvm_km_alloc1(vm_map_t map, vm_size_t size, boolean_t zeroit);
/* Address space only (kernel object entry); _wait sleeps for room. */
KVMEM_EXPORT vm_offset_t uvm_km_valloc(vm_map_t map, vm_size_t size);
KVMEM_EXPORT vm_offset_t uvm_km_valloc_wait(vm_map_t map, vm_size_t size);
KVMEM_EXPORT vm_offset_t uvm_km_alloc_poolpage1(vm_map_t map, struct uvm_object *obj);
KVMEM_EXPORT void uvm_km_free_poolpage1(vm_map_t map, vm_offset_t addr);
#define uvm_km_alloc(map, size)		uvm_km_alloc1((map), (size), FALSE)
#define uvm_km_zalloc(map, size)	uvm_km_alloc1((map), (size), TRUE)

#ifdef __cplusplus
}
#endif

#endif /* KVMEM_KMEM_COMPAT_H */
