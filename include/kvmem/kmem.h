/*
 * <kvmem/kmem.h> -- kernel memory: FreeBSD's vm_kern.c on an explicit
 * instance, over a simulated NUMA machine (pmap_sim), a kernel map
 * (vm_map) and vmem arenas.
 *
 * An instance (struct kmem) is built from a configuration: the machine,
 * kernel_map over the kernel address range with a bootstrap region
 * reserved at its bottom, a kernel arena importing KVA from kernel_map in
 * superpage-aligned multiples of the KVA quantum (2 MiB), one arena per
 * domain importing from the kernel arena (in bigger steps when there are
 * several domains, so that 2 MiB chunks of different domains do not
 * interleave) and one executable (rwx) arena per domain that imports and
 * releases 2 MiB at a time.
 *
 * Entry points carry FreeBSD's names with "_k" appended and take the
 * instance first: kmem_malloc(size, flags) is kmem_malloc_k(k, size,
 * flags).  <kvmem/kmem_compat.h> has FreeBSD's (and NetBSD uvm_km's)
 * exact global signatures over a default instance.  kmap_alloc_wait()
 * and kmap_free_wakeup() need no instance (they work on any map).
 *
 * Failures return what FreeBSD returns (0 addresses, KERN_* codes) and set
 * errno: EINVAL for arguments no call could accept (nothing changed),
 * ENOMEM when memory or address space ran out (nothing leaked).  Frees of
 * something that was not allocated, or with another size, go to the
 * misuse handler and change nothing.  See kmem(3) and doc/kmem.md.
 */
#ifndef KVMEM_KMEM_H
#define KVMEM_KMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmem/export.h>
#include <kvmem/vm_types.h>
#include <kvmem/vmem.h>
#include <kvmem/pmap_sim.h>
#include <kvmem/vm_map.h>
#include <kvmem/domainset.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Flags (malloc(9) values; M_NOWAIT ... M_EXEC come from <kvmem/vmem.h>) -- */
#ifndef M_USE_RESERVE
#define M_USE_RESERVE	0x0400	/* may take the domain's last free pages (with M_NOWAIT) */
#endif
#ifndef M_NODUMP
#define M_NODUMP	0x0800	/* accepted and ignored */
#endif
/* Flags the kmem calls accept; exactly one of M_NOWAIT and M_WAITOK is required. */
#define KMEM_FLAGS_MASK	(M_NOWAIT | M_WAITOK | M_ZERO | M_EXEC | M_NORECLAIM | \
			 M_USE_RESERVE | M_NODUMP)

/* Mach status codes returned by kmem_back_k() and friends (FreeBSD values). */
#ifndef KERN_SUCCESS
#define KERN_SUCCESS		0
#define KERN_NO_SPACE		3
#define KERN_INVALID_ARGUMENT	4
#define KERN_RESOURCE_SHORTAGE	6
#endif

#define KMEM_PAGE_SIZE		PMAP_SIM_PAGE_SIZE
#define KMEM_KVA_QUANTUM	PMAP_SIM_SUPERPAGE_SIZE	/* KVA_QUANTUM: 2 MiB */
#define KMEM_NUMA_IMPORT_FACTOR	128	/* KVA_NUMA_IMPORT_QUANTUM = 128 * KVA_QUANTUM */
#define KMEM_NAME_MAX		32

/* ---- Misuse reporting --------------------------------------------------------- */

struct kmem;

enum kmem_misuse {
	KMEM_MISUSE_BAD_FREE = 1,	/* kmem_free_k of what was not allocated, or another size */
	KMEM_MISUSE_NOT_BACKED,		/* unbacking (or bootstrap-freeing) a page that is not backed */
	KMEM_MISUSE_BACKED,		/* backing over backed pages; kva_free_k of backed KVA */
	KMEM_MISUSE_ARENA,		/* reported by one of the instance's arenas (kva_free_k) */
	KMEM_MISUSE_LEAK,		/* kmem_destroy() with live allocations */
	KMEM_MISUSE_BAD_ARG		/* an argument no call could accept, where no errno can say so */
};
/*
 * Called with no kmem lock held.  msg is a complete one-line description
 * naming the instance, the call, the address and the size.  The default
 * handler prints msg to stderr and aborts.  When a handler returns, the
 * misused call has no effect.
 */
typedef void kmem_misuse_fn(void *arg, struct kmem *k, enum kmem_misuse kind,
    vm_offset_t addr, vm_size_t size, const char *msg);
/* Per instance; k NULL sets the process-wide default for instances without one. */
KVMEM_EXPORT void kmem_set_misuse_handler(struct kmem *k, kmem_misuse_fn *fn, void *arg);
KVMEM_EXPORT const char *kmem_misuse_name(enum kmem_misuse kind);

/* ---- Configuration and life cycle -------------------------------------------- */

#define KMEM_CONFIG_VERSION	1
struct kmem_config {
	uint32_t	version;	/* KMEM_CONFIG_VERSION */
	char		name[KMEM_NAME_MAX]; /* for messages ("" -> "kmem") */
	/*
	 * The simulated machine: domains, memory per domain, CPUs and their
	 * domains, the distance matrix (see <kvmem/pmap_sim.h>).
	 */
	struct pmap_sim_config machine;
	/*
	 * Kernel address space: kernel_map covers [kva_min, kva_max);
	 * [kva_min, kva_min + bootstrap_size) is reserved at bring-up (the
	 * kernel's own text and data), of which the first bootstrap_backed
	 * bytes are mapped with pages of domain 0 (preloaded data that
	 * kmem_bootstrap_free_k() can give back).  kva_min must be aligned to
	 * kva_quantum, the others to the page size.
	 */
	vm_offset_t	kva_min, kva_max;
	vm_size_t	bootstrap_size;
	vm_size_t	bootstrap_backed;
	/*
	 * KVA_QUANTUM, the unit of KVA imports and of domain placement (a
	 * power of two, at least a page; 2 MiB makes every chunk a
	 * superpage).  import_quantum: the kernel and per-domain arenas'
	 * import size (a multiple of kva_quantum; 0: kva_quantum with one
	 * domain, 128 * kva_quantum with several).  rwx_import_quantum: the
	 * executable arenas' (0: kva_quantum).
	 */
	vm_size_t	kva_quantum;
	vm_size_t	import_quantum;
	vm_size_t	rwx_import_quantum;
	/* kvmem extension: quantum caches on the per-domain arenas (0, as FreeBSD). */
	vm_size_t	arena_qcache_max;
	/* One zeroed page mapped read-only over this much KVA (0: none). */
	vm_size_t	zero_region_size;
	/* Submaps made at bring-up (0: none), as FreeBSD's vm_ksubmap_init. */
	vm_size_t	exec_map_size;
	vm_size_t	pipe_map_size;
	/*
	 * A domain whose free pages are below its minimum is tried only after
	 * the others (0: 4 + pages / 200 per domain, FreeBSD's v_free_min).
	 */
	uint64_t	free_min;
	/* M_WAITOK sleepers also re-check this often (frees outside kmem). */
	unsigned	wait_poll_ms;	/* 0: 20 */
	kmem_misuse_fn	*misuse_fn;	/* NULL: the process default */
	void		*misuse_arg;
};
/*
 * Defaults: the machine of pmap_sim_config_init() (one 64 MiB domain),
 * kernel_map over FreeBSD amd64's kernel range (PMAP_SIM_VM_MIN/MAX_
 * KERNEL_ADDRESS), a 16 MiB bootstrap region with nothing backed, 2 MiB
 * KVA quantum, a 2 MiB zero region, no submaps.
 */
KVMEM_EXPORT void kmem_config_init(struct kmem_config *cfg);
/* 0, or EINVAL with a one-line reason in msg (if msg is not NULL). */
KVMEM_EXPORT int kmem_config_check(const struct kmem_config *cfg, char *msg, size_t msglen);

/*
 * Bring an instance up (kmem_init's job).  NULL with errno EINVAL for a
 * configuration kmem_config_check() rejects, ENOMEM when the host is out
 * of memory or the bootstrap/zero region/submaps do not fit.
 */
KVMEM_EXPORT struct kmem *kmem_create(const struct kmem_config *cfg);
/*
 * Tear an instance down with its machine, maps and arenas.  Live
 * allocations are reported once (KMEM_MISUSE_LEAK) and discarded.
 * Nothing may use the instance concurrently or afterwards.
 */
KVMEM_EXPORT void kmem_destroy(struct kmem *k);
/*
 * Call fn for every live instance, in creation order, stopping at (and
 * returning) the first nonzero result; 0 when all were visited, EINVAL for
 * fn NULL.  Holds the process-wide instance list lock: fn must not create
 * or destroy instances (a kmem_destroy() elsewhere waits until the walk
 * ends).
 */
typedef int kmem_foreach_fn(struct kmem *k, void *arg);
KVMEM_EXPORT int kmem_foreach(kmem_foreach_fn *fn, void *arg);

KVMEM_EXPORT const char *kmem_name(const struct kmem *k);
KVMEM_EXPORT int kmem_ndomains(const struct kmem *k);
KVMEM_EXPORT struct pmap_sim *kmem_sim(struct kmem *k);
KVMEM_EXPORT pmap_t kmem_kernel_pmap(struct kmem *k);
KVMEM_EXPORT vm_object_t kmem_kernel_object(struct kmem *k);
KVMEM_EXPORT vm_map_t kmem_kernel_map(struct kmem *k);
KVMEM_EXPORT vmem_t *kmem_kernel_arena(struct kmem *k);
/* The per-domain arenas; NULL (errno EINVAL) for a domain out of range. */
KVMEM_EXPORT vmem_t *kmem_domain_arena(struct kmem *k, int domain);
KVMEM_EXPORT vmem_t *kmem_rwx_arena(struct kmem *k, int domain);
/* The bring-up submaps (NULL when not configured). */
KVMEM_EXPORT vm_map_t kmem_exec_map(struct kmem *k);
KVMEM_EXPORT vm_map_t kmem_pipe_map(struct kmem *k);
/* Start and size of the zero region (0 when not configured). */
KVMEM_EXPORT vm_offset_t kmem_zero_region(struct kmem *k, vm_size_t *sizep);
/* The bootstrap region [*startp, *endp) and the end of its backed part. */
KVMEM_EXPORT void kmem_bootstrap_region(struct kmem *k, vm_offset_t *startp, vm_offset_t *endp,
    vm_offset_t *backed_endp);
KVMEM_EXPORT vm_size_t kmem_kva_quantum(const struct kmem *k);
KVMEM_EXPORT vm_size_t kmem_import_quantum(const struct kmem *k);
/*
 * The instance's built-in sets (FreeBSD's DOMAINSET_RR(), _FT(), _IL(),
 * _PREF(d), _FIXED(d)): policy ROUNDROBIN, FIRSTTOUCH or INTERLEAVE over
 * every domain (domain ignored), PREFER or FIXED for domain.  NULL with
 * errno EINVAL for other policies or a domain out of range.
 */
KVMEM_EXPORT struct domainset *kmem_domainset(struct kmem *k, int policy, int domain);

/* ---- Kernel virtual address space (kva_alloc, kva_free) ------------------------ */

/*
 * size bytes (rounded up to pages) of kernel address space from the kernel
 * arena, with nothing mapped.  0 with errno EINVAL (size 0 or overflowing)
 * or ENOMEM.  Never sleeps.
 */
KVMEM_EXPORT vm_offset_t kva_alloc_k(struct kmem *k, vm_size_t size);
/*
 * Give back what kva_alloc_k returned (same size after rounding).  Unbacked
 * first (kmem_unback_k): backed KVA is reported as KMEM_MISUSE_BACKED.
 */
KVMEM_EXPORT void kva_free_k(struct kmem *k, vm_offset_t addr, vm_size_t size);

/* ---- Wired kernel memory (kmem_malloc, kmem_free) ------------------------------ */

/*
 * size bytes (rounded up to pages) of wired memory: KVA from a per-domain
 * arena (the executable one for M_EXEC), pages of that domain mapped
 * read/write (and executable for M_EXEC), zeroed for M_ZERO.  The domain
 * follows ds (kmem_malloc_k: round-robin over every domain).  Returns the
 * address, or 0 with errno EINVAL (size 0 or overflowing, unknown flags,
 * not exactly one of M_NOWAIT/M_WAITOK, M_USE_RESERVE without M_NOWAIT, a
 * bad set) or ENOMEM (M_NOWAIT only: M_WAITOK waits for memory).
 */
KVMEM_EXPORT vm_offset_t kmem_malloc_k(struct kmem *k, vm_size_t size, int flags);
KVMEM_EXPORT vm_offset_t kmem_malloc_domainset_k(struct kmem *k, const struct domainset *ds,
    vm_size_t size, int flags);
/* The same from one domain (domain out of range: 0, EINVAL). */
KVMEM_EXPORT vm_offset_t kmem_malloc_domain_k(struct kmem *k, int domain, vm_size_t size,
    int flags);
/*
 * Pages (not necessarily contiguous) in the physical range [low, high)
 * with memory attribute memattr.  With M_WAITOK the iteration over the
 * domains waits and retries a bounded number of times (KMEM_CONTIG_TRIES)
 * and may still fail.
 */
#define KMEM_CONTIG_TRIES	3
KVMEM_EXPORT vm_offset_t kmem_alloc_attr_k(struct kmem *k, vm_size_t size, int flags,
    vm_paddr_t low, vm_paddr_t high, vm_memattr_t memattr);
KVMEM_EXPORT vm_offset_t kmem_alloc_attr_domainset_k(struct kmem *k,
    const struct domainset *ds, vm_size_t size, int flags, vm_paddr_t low, vm_paddr_t high,
    vm_memattr_t memattr);
/*
 * Physically contiguous pages in [low, high), the first aligned to
 * alignment (a power of two; 0: a page), not crossing a multiple of
 * boundary (0 or a power of two not smaller than the size).
 */
KVMEM_EXPORT vm_offset_t kmem_alloc_contig_k(struct kmem *k, vm_size_t size, int flags,
    vm_paddr_t low, vm_paddr_t high, unsigned long alignment, vm_paddr_t boundary,
    vm_memattr_t memattr);
KVMEM_EXPORT vm_offset_t kmem_alloc_contig_domainset_k(struct kmem *k,
    const struct domainset *ds, vm_size_t size, int flags, vm_paddr_t low, vm_paddr_t high,
    unsigned long alignment, vm_paddr_t boundary, vm_memattr_t memattr);
/*
 * Free what kmem_malloc_k, kmem_alloc_attr_k or kmem_alloc_contig_k
 * returned, with the same size.  The arena is found from the first page's
 * domain and the allocation's exec flag.  Anything else (an address or
 * size that does not match an allocation) goes to the misuse handler.
 */
KVMEM_EXPORT void kmem_free_k(struct kmem *k, vm_offset_t addr, vm_size_t size);

/* ---- Backing KVA with pages (kmem_back, kmem_unback) --------------------------- */

/*
 * Back [addr, addr + size) (KVA from kva_alloc_k; size rounded up to pages)
 * with wired pages of the kernel object at the matching indices.  Every
 * page of one KVA quantum chunk comes from one domain, chosen from the
 * chunk's address.  Returns KERN_SUCCESS; KERN_NO_SPACE (M_NOWAIT, out of
 * pages: what was backed is unbacked again); KERN_INVALID_ARGUMENT (errno
 * EINVAL) for bad arguments; KMEM_MISUSE_BACKED if the range is already
 * backed.  M_WAITOK waits for pages.
 */
KVMEM_EXPORT int kmem_back_k(struct kmem *k, vm_offset_t addr, vm_size_t size, int flags);
/* The same with every page from domain. */
KVMEM_EXPORT int kmem_back_domain_k(struct kmem *k, int domain, vm_offset_t addr,
    vm_size_t size, int flags);
/*
 * Unmap and free the pages behind [addr, addr + size), each of which must
 * be backed (else KMEM_MISUSE_NOT_BACKED, nothing changed).  size 0 does
 * nothing.
 */
KVMEM_EXPORT void kmem_unback_k(struct kmem *k, vm_offset_t addr, vm_size_t size);

/* ---- Submaps, pageable space, zero region, bootstrap ---------------------------- */

/*
 * Carve size bytes (rounded to pages; superpage aligned if asked) out of
 * parent and make map (caller storage, or NULL to allocate) a submap over
 * them (kmem_subinit).  Returns 0 with the bounds in *min and *max and the
 * submap in *submapp (if not NULL), or an errno (ENOMEM: no room).  When
 * parent is kernel_map or a submap made here, kmem_destroy() destroys the
 * submap (caller storage must outlive the instance); else it is the
 * caller's to remove and destroy.
 */
KVMEM_EXPORT int kmem_subinit_k(struct kmem *k, vm_map_t map, vm_map_t parent,
    vm_offset_t *min, vm_offset_t *max, vm_size_t size, bool superpage_align,
    vm_map_t *submapp);
/*
 * Pageable (unbacked) space from a submap; sleeps while the map is full.
 * 0 when even an empty map could not hold size (or size is 0).
 */
KVMEM_EXPORT vm_offset_t kmap_alloc_wait(vm_map_t map, vm_size_t size);
/* Give it back and wake the sleepers. */
KVMEM_EXPORT void kmap_free_wakeup(vm_map_t map, vm_offset_t addr, vm_size_t size);
/*
 * Give back the pages behind [start, start + size) of the backed bootstrap
 * region (rounded inwards to pages) and add its KVA to the kernel arena.
 * Pages that are not backed bootstrap pages: KMEM_MISUSE_NOT_BACKED,
 * nothing changed.
 */
KVMEM_EXPORT void kmem_bootstrap_free_k(struct kmem *k, vm_offset_t start, vm_size_t size);

/* ---- Observation -------------------------------------------------------------- */

#define KMEM_STATS_VERSION	1
struct kmem_domain_stats {
	uint32_t	version;	/* in: KMEM_STATS_VERSION */
	uint32_t	size;		/* out: sizeof the struct filled */
	int		domain;
	vm_size_t	kva_inuse;	/* the domain arena: handed out */
	vm_size_t	kva_total;	/* ... imported */
	vm_size_t	rwx_inuse;	/* the rwx arena */
	vm_size_t	rwx_total;
	uint64_t	pages;		/* pages kmem holds in this domain now */
	uint64_t	allocs;		/* allocations placed here */
	uint64_t	frees;
	uint64_t	alloc_fails;	/* attempts here that failed */
	uint64_t	fallbacks;	/* placed here though the policy chose another domain */
	uint64_t	local_pages;	/* placed here for a caller of this domain */
	uint64_t	remote_pages;	/* placed here for a caller of another domain */
	uint64_t	skipped;	/* passed over for being below its free minimum */
	uint64_t	free_count;	/* the machine's free pages now */
	uint64_t	free_min;
	uint64_t	page_count;
};
/* 0, or EINVAL (unknown version, domain out of range). */
KVMEM_EXPORT int kmem_get_domain_stats(struct kmem *k, int domain, struct kmem_domain_stats *st);

struct kmem_stats {
	uint32_t	version;	/* in: KMEM_STATS_VERSION */
	uint32_t	size;
	char		name[KMEM_NAME_MAX];
	int		ndomains, ncpus;
	vm_size_t	kva_quantum, import_quantum;
	vm_size_t	kernel_arena_inuse;	/* kernel arena: handed out (domain imports included) */
	vm_size_t	kernel_arena_total;
	vm_size_t	kva_imported;		/* taken from kernel_map by kva imports */
	vm_size_t	kva_alloc_inuse;	/* of which kva_alloc_k's (zero region included) */
	vm_size_t	kernel_map_size;	/* kernel_map: bytes in entries */
	uint64_t	allocs, frees;		/* kmem_malloc/attr/contig and kmem_free calls */
	uint64_t	alloc_fails;		/* calls that returned 0 for want of memory */
	uint64_t	einval;			/* calls rejected for bad arguments */
	uint64_t	waits;			/* M_WAITOK sleeps */
	uint64_t	misuses;
	uint64_t	fallbacks;
	uint64_t	pages;			/* pages kmem holds (all domains) */
	uint64_t	local_pages, remote_pages;
	/*
	 * Sum over placed pages of the SLIT distance from the caller's domain
	 * (10 = local): access_cost / (local + remote) / 10 estimates the
	 * slowdown of touching the memory from where it was requested.
	 */
	uint64_t	access_cost;
	uint64_t	kva_imports, kva_import_fails;
	/* The machine (vm.pmap.pde.*). */
	uint64_t	pde_promotions, pde_demotions, pde_p_failures;
};
/* 0, or EINVAL for an unknown version.  Cheap (no walk). */
KVMEM_EXPORT int kmem_get_stats(struct kmem *k, struct kmem_stats *st);

/*
 * A census of the 2 MiB chunks of kernel address space that hold pages
 * kmem mapped (the zero region excluded): how many are fully populated,
 * how many of those are mapped by a superpage, and how many are backed by
 * a single domain.  Walks the page tables: O(KVA in use).
 */
struct kmem_chunk_stats {
	uint32_t	version;	/* in: KMEM_STATS_VERSION */
	uint32_t	size;
	uint64_t	chunks;		/* with at least one page mapped */
	uint64_t	full;		/* all 512 pages mapped */
	uint64_t	promoted;	/* mapped by one 2 MiB entry */
	uint64_t	one_domain;	/* every mapped page from one domain */
	uint64_t	pages;		/* mapped pages seen */
};
KVMEM_EXPORT int kmem_chunk_census(struct kmem *k, struct kmem_chunk_stats *st);

/* The stats (and every domain's) as one JSON object; returns the length as snprintf. */
KVMEM_EXPORT int kmem_stats_json(struct kmem *k, char *buf, size_t len);

/*
 * Verify that the whole stack agrees: every arena, the maps and the
 * machine pass their own checks; the kernel arena's spans are kernel_map
 * imports; the per-domain arenas' spans are quantum-aligned allocations of
 * the kernel arena; every allocation is recorded, fully mapped, wired,
 * owned by the kernel object at its index, from its arena's domain, with
 * the right protection; page counts agree with the machine.  Needs no
 * concurrent use.  Returns 0, or nonzero after printing the first
 * disagreement to stderr.
 */
KVMEM_EXPORT int kmem_check(struct kmem *k);

#ifdef __cplusplus
}
#endif

#endif /* KVMEM_KMEM_H */
