/*
 * <kvmem/pmap_sim.h> -- a simulated x86-64 NUMA machine.
 *
 * A machine (struct pmap_sim) has NUMA domains of physical memory backed by
 * host memory (reserved lazily, so a machine of many GiB costs little until
 * used), a page array, a buddy page allocator per domain with superpage
 * reservations, and a kernel pmap made of real 4-level x86-64 page tables
 * held in the simulated physical memory, with 2 MiB superpage promotion and
 * demotion.  The calls carry FreeBSD's names and amd64 semantics; unlike
 * FreeBSD every call names its machine (or a pmap or object belonging to
 * it), so several machines can live in one process.
 *
 * Failures are reported as FreeBSD does (NULL page, 0 address) or as errno
 * values; bad input (misaligned or non-canonical addresses, entering over a
 * mapping of another page, freeing a page twice or while it is mapped or
 * wired, pages of another machine) goes to the misuse handler and leaves the
 * machine as it was.  See pmap_sim(3) and doc/pmap_sim.md.
 */
#ifndef KVMEM_PMAP_SIM_H
#define KVMEM_PMAP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FreeBSD VM types (vm_offset_t, vm_prot_t, VM_PROT_*, ...), shared by the layers. */
#include <kvmem/vm_types.h>

typedef struct vm_page		*vm_page_t;	/* one physical page (opaque) */
typedef struct pmap		*pmap_t;	/* an address space (opaque) */

/* Memory attributes (amd64 PAT-less encoding into PWT/PCD). */
#define VM_MEMATTR_WRITE_BACK		((vm_memattr_t)0)
#define VM_MEMATTR_WRITE_THROUGH	((vm_memattr_t)1)
#define VM_MEMATTR_UNCACHED		((vm_memattr_t)2)
#define VM_MEMATTR_UNCACHEABLE		((vm_memattr_t)3)
#define VM_MEMATTR_DEFAULT		VM_MEMATTR_WRITE_BACK

/* ---- Geometry --------------------------------------------------------------- */
#define PMAP_SIM_PAGE_SHIFT	12
#define PMAP_SIM_PAGE_SIZE	((uint64_t)1 << PMAP_SIM_PAGE_SHIFT)
#define PMAP_SIM_PAGE_MASK	(PMAP_SIM_PAGE_SIZE - 1)
#define PMAP_SIM_SUPERPAGE_SHIFT 21
#define PMAP_SIM_SUPERPAGE_SIZE	((uint64_t)1 << PMAP_SIM_SUPERPAGE_SHIFT)	/* NBPDR */
#define PMAP_SIM_SUPERPAGE_MASK	(PMAP_SIM_SUPERPAGE_SIZE - 1)
#define PMAP_SIM_NPTEPG		512		/* entries per page-table page */
#define PMAP_SIM_NFREEORDER	13		/* buddy orders 0..12 (4 KiB..16 MiB) */
#define PMAP_SIM_NFREELIST	2		/* free lists per domain */
#define PMAP_SIM_FREELIST_DEFAULT 0
#define PMAP_SIM_FREELIST_DMA32	1		/* memory below cfg.dma32_limit */
#define PMAP_SIM_MAXDOMAINS	64
#define PMAP_SIM_MAXCPUS	1024
#define PMAP_SIM_NAME_MAX	32

/*
 * Kernel virtual addresses: the kernel pmap maps the canonical upper half,
 * [PMAP_SIM_KVA_MIN, 2^64).  FreeBSD amd64's kernel map range is suggested
 * for vm_map/kmem (PMAP_SIM_VM_MIN/MAX_KERNEL_ADDRESS).
 */
#define PMAP_SIM_KVA_MIN		((vm_offset_t)0xffff800000000000ULL)
#define PMAP_SIM_VM_MIN_KERNEL_ADDRESS	((vm_offset_t)0xfffffe0000000000ULL)
#define PMAP_SIM_VM_MAX_KERNEL_ADDRESS	((vm_offset_t)0xffffffffffe00000ULL)

/* ---- x86-64 page-table entry bits ------------------------------------------ */
#define PMAP_PG_V	((uint64_t)1 << 0)	/* valid (present) */
#define PMAP_PG_RW	((uint64_t)1 << 1)	/* writable */
#define PMAP_PG_U	((uint64_t)1 << 2)	/* user accessible */
#define PMAP_PG_PWT	((uint64_t)1 << 3)	/* write through */
#define PMAP_PG_PCD	((uint64_t)1 << 4)	/* cache disable */
#define PMAP_PG_A	((uint64_t)1 << 5)	/* accessed */
#define PMAP_PG_M	((uint64_t)1 << 6)	/* modified (dirty) */
#define PMAP_PG_PS	((uint64_t)1 << 7)	/* PDE: 2 MiB page */
#define PMAP_PG_G	((uint64_t)1 << 8)	/* global */
#define PMAP_PG_W	((uint64_t)1 << 9)	/* software: wired mapping */
#define PMAP_PG_MANAGED	((uint64_t)1 << 10)	/* software: managed page */
#define PMAP_PG_NX	((uint64_t)1 << 63)	/* no execute */
#define PMAP_PG_FRAME	((uint64_t)0x000ffffffffff000ULL)
#define PMAP_PG_PS_FRAME ((uint64_t)0x000fffffffe00000ULL)

/* ---- Page allocation requests (vm_page_alloc*'s req) ------------------------ */
#ifndef VM_ALLOC_NORMAL
#define VM_ALLOC_NORMAL		0x0000	/* fails below the domain's free reserve */
#define VM_ALLOC_INTERRUPT	0x0001	/* may take the last free page */
#define VM_ALLOC_SYSTEM		0x0002	/* may dig into the reserve, not its last pages */
#define VM_ALLOC_CLASS_MASK	0x0003
#define VM_ALLOC_WAITOK		0x0008	/* sleep until pages are freed */
#define VM_ALLOC_WAITFAIL	0x0010	/* sleep once, then fail */
#define VM_ALLOC_NOWAIT		0x0000	/* (the default) */
#define VM_ALLOC_ZERO		0x0040	/* return zeroed pages */
#define VM_ALLOC_WIRED		0x0100	/* return the pages wired once */
#define VM_ALLOC_NORECLAIM	0x0200	/* contig: do not break reservations */
#endif

/* pmap_enter() flags: the access type in the low bits plus these. */
#ifndef PMAP_ENTER_NOSLEEP
#define PMAP_ENTER_NOSLEEP	0x00000100
#define PMAP_ENTER_WIRED	0x00000200
#endif

/* vm_page_flags() bits. */
#define PMAP_SIM_PG_ZERO	0x0001	/* contents were zero when allocated */
#define PMAP_SIM_PG_MANAGED	0x0002	/* the page's object is managed */
#define PMAP_SIM_PG_PTPAGE	0x0004	/* a page-table page of a pmap */

/* ---- The machine ------------------------------------------------------------------ */

struct pmap_sim;

enum pmap_sim_misuse {
	PMAP_SIM_MISUSE_BAD_ADDRESS = 1,	/* misaligned, non-canonical or user address */
	PMAP_SIM_MISUSE_MAPPED,			/* enter over a mapping of another page */
	PMAP_SIM_MISUSE_DOUBLE_FREE,		/* the page is not allocated */
	PMAP_SIM_MISUSE_FREE_MAPPED,		/* freeing a page that is still mapped */
	PMAP_SIM_MISUSE_FREE_WIRED,		/* freeing a page that is still wired */
	PMAP_SIM_MISUSE_BAD_PAGE,		/* not a (usable) page of this machine */
	PMAP_SIM_MISUSE_PAGE_EXISTS,		/* the object already has a page there */
	PMAP_SIM_MISUSE_OBJECT_BUSY,		/* destroying an object that has pages */
	PMAP_SIM_MISUSE_BAD_ARG			/* any other argument no call accepts */
};
/*
 * Called with no machine lock held.  msg is a complete one-line description
 * naming the machine, the call and the address.  The default handler prints
 * msg to stderr and aborts.  When a handler returns, the misused call has no
 * effect and fails (EINVAL, NULL or 0, as documented per call).
 */
typedef void pmap_sim_misuse_fn(void *arg, struct pmap_sim *sim,
    enum pmap_sim_misuse kind, uint64_t addr, const char *msg);

#define PMAP_SIM_CONFIG_VERSION	1
struct pmap_sim_config {
	uint32_t	version;	/* PMAP_SIM_CONFIG_VERSION */
	char		name[PMAP_SIM_NAME_MAX]; /* for messages ("" -> "sim") */
	int		ndomains;	/* 1..PMAP_SIM_MAXDOMAINS */
	uint64_t	domain_size;	/* bytes per domain (page multiple) ... */
	const uint64_t	*domain_sizes;	/* ... or one size per domain (NULL: domain_size) */
	int		ncpus;		/* 1..PMAP_SIM_MAXCPUS; 0: one per domain */
	const int	*cpu_domain;	/* domain of each CPU; NULL: in blocks */
	const uint8_t	*distance;	/* ndomains x ndomains SLIT; NULL: 10/21 */
	uint64_t	phys_base;	/* first physical address (page aligned) */
	uint64_t	dma32_limit;	/* DMA32 free list below this; 0: none */
	pmap_sim_misuse_fn *misuse_fn;	/* NULL: the process default */
	void		*misuse_arg;
};
/*
 * Defaults: one domain of 64 MiB, one CPU, distances 10 local / 21 remote,
 * physical memory starting at 16 MiB, DMA32 limit 4 GiB (used only when
 * the machine has memory above it, as FreeBSD does).
 */
KVMEM_EXPORT void pmap_sim_config_init(struct pmap_sim_config *cfg);
/* 0, or EINVAL with a one-line reason in msg (if msg is not NULL). */
KVMEM_EXPORT int pmap_sim_config_check(const struct pmap_sim_config *cfg,
    char *msg, size_t msglen);

/*
 * Build a machine: host memory is reserved, not touched; the kernel pmap's
 * PML4 page is allocated from domain 0.  Returns NULL with errno EINVAL for
 * a configuration pmap_sim_config_check() rejects, ENOMEM if the host cannot
 * reserve the address space.
 */
KVMEM_EXPORT struct pmap_sim *pmap_sim_create(const struct pmap_sim_config *cfg);
/*
 * Discard the machine and everything in it (pages, mappings, objects).
 * Nothing may use it concurrently or afterwards.
 */
KVMEM_EXPORT void pmap_sim_destroy(struct pmap_sim *sim);
/*
 * Call fn for every live machine (those inside kmem instances too), in
 * creation order, stopping at (and returning) the first nonzero result;
 * 0 when all were visited, EINVAL for fn NULL.  Holds the process-wide
 * machine list lock: fn must not create or destroy machines (a
 * pmap_sim_destroy() elsewhere waits until the walk ends).
 */
typedef int pmap_sim_foreach_fn(struct pmap_sim *sim, void *arg);
KVMEM_EXPORT int pmap_sim_foreach(pmap_sim_foreach_fn *fn, void *arg);

KVMEM_EXPORT const char *pmap_sim_name(const struct pmap_sim *sim);
KVMEM_EXPORT int pmap_sim_ndomains(const struct pmap_sim *sim);
KVMEM_EXPORT int pmap_sim_ncpus(const struct pmap_sim *sim);
/* -1 for a CPU out of range. */
KVMEM_EXPORT int pmap_sim_cpu_domain(const struct pmap_sim *sim, int cpu);
/* SLIT distance between two domains; -1 if either is out of range. */
KVMEM_EXPORT int pmap_sim_distance(const struct pmap_sim *sim, int from, int to);
/*
 * The calling thread's simulated CPU on this machine (per thread and per
 * machine; 0 until set).  pmap_sim_set_cpu returns 0 or EINVAL.
 */
KVMEM_EXPORT int pmap_sim_set_cpu(struct pmap_sim *sim, int cpu);
KVMEM_EXPORT int pmap_sim_curcpu(struct pmap_sim *sim);
KVMEM_EXPORT int pmap_sim_curdomain(struct pmap_sim *sim);
/* Physical range [*startp, *endp) of a domain; 0 or EINVAL. */
KVMEM_EXPORT int pmap_sim_domain_range(const struct pmap_sim *sim, int domain,
    vm_paddr_t *startp, vm_paddr_t *endp);

/* The kernel pmap and the kernel object of the machine. */
KVMEM_EXPORT pmap_t pmap_sim_kernel_pmap(struct pmap_sim *sim);
KVMEM_EXPORT vm_object_t pmap_sim_kernel_object(struct pmap_sim *sim);
KVMEM_EXPORT struct pmap_sim *pmap_sim_of_pmap(pmap_t pmap);

/*
 * Host pointer to the byte at physical address pa (as PHYS_TO_DMAP), or
 * NULL if pa is not RAM of this machine.  Contents of a page survive until
 * it is freed.
 */
KVMEM_EXPORT void *pmap_sim_phys_ptr(struct pmap_sim *sim, vm_paddr_t pa);

/* Per machine; sim NULL sets the process-wide default. */
KVMEM_EXPORT void pmap_sim_set_misuse_handler(struct pmap_sim *sim,
    pmap_sim_misuse_fn *fn, void *arg);
KVMEM_EXPORT const char *pmap_sim_misuse_name(enum pmap_sim_misuse kind);

/* ---- Objects --------------------------------------------------------------------- */

#define PMAP_SIM_OBJ_MANAGED	0x0001	/* pages mapped with PMAP_PG_MANAGED */
#define PMAP_SIM_OBJ_NORESERV	0x0002	/* never use superpage reservations */
/* A new empty object (index space 0..2^64-1); NULL with errno on failure. */
KVMEM_EXPORT vm_object_t pmap_sim_object_create(struct pmap_sim *sim, int flags);
/*
 * Destroy an object that owns no pages: 0; EBUSY (misuse) if it has pages;
 * EINVAL (misuse) for the kernel object.
 */
KVMEM_EXPORT int pmap_sim_object_destroy(vm_object_t obj);
KVMEM_EXPORT uint64_t pmap_sim_object_npages(vm_object_t obj);
/* The page of obj at pindex, or NULL. */
KVMEM_EXPORT vm_page_t vm_page_lookup(vm_object_t obj, vm_pindex_t pindex);

/* ---- Physical pages ---------------------------------------------------------------- */

/*
 * Allocate one page for obj at pindex from domain (through a superpage
 * reservation when the object allows it, as vm_reserv_alloc_page does).
 * NULL when the domain cannot supply it (or a fault was injected); NULL
 * after a misuse report when obj already has a page at pindex.
 */
KVMEM_EXPORT vm_page_t vm_page_alloc_domain(struct pmap_sim *sim, vm_object_t obj,
    vm_pindex_t pindex, int domain, int req);
/* As vm_page_alloc_domain from the current CPU's domain, then the others by distance. */
KVMEM_EXPORT vm_page_t vm_page_alloc(struct pmap_sim *sim, vm_object_t obj,
    vm_pindex_t pindex, int req);
/* A page with no object. */
KVMEM_EXPORT vm_page_t vm_page_alloc_noobj_domain(struct pmap_sim *sim, int domain, int req);
KVMEM_EXPORT vm_page_t vm_page_alloc_noobj(struct pmap_sim *sim, int req);
/*
 * npages physically contiguous pages in [low, high) (high exclusive), the
 * first aligned to alignment (a power of two, 0 = page), not crossing a
 * multiple of boundary (a power of two or 0).  Returns the first page; the
 * others follow it physically (vm_page_from_phys()).  obj may be NULL; else
 * the pages get indices pindex..pindex+npages-1.  Breaks partially
 * populated reservations if that lets the request succeed (unless
 * VM_ALLOC_NORECLAIM).
 */
KVMEM_EXPORT vm_page_t vm_page_alloc_contig_domain(struct pmap_sim *sim, vm_object_t obj,
    vm_pindex_t pindex, int domain, int req, unsigned long npages, vm_paddr_t low,
    vm_paddr_t high, unsigned long alignment, vm_paddr_t boundary, vm_memattr_t memattr);
KVMEM_EXPORT vm_page_t vm_page_alloc_noobj_contig_domain(struct pmap_sim *sim, int domain,
    int req, unsigned long npages, vm_paddr_t low, vm_paddr_t high,
    unsigned long alignment, vm_paddr_t boundary, vm_memattr_t memattr);
/*
 * Free an allocated, unmapped, unwired page (removing it from its object).
 * Misuse otherwise; the page is then left as it was.
 */
KVMEM_EXPORT void vm_page_free(struct pmap_sim *sim, vm_page_t m);
KVMEM_EXPORT void vm_page_wire(struct pmap_sim *sim, vm_page_t m);
/* Drop one wiring; true if it was the last one. */
KVMEM_EXPORT bool vm_page_unwire_noq(struct pmap_sim *sim, vm_page_t m);

/* Accessors (for allocated pages). */
KVMEM_EXPORT vm_paddr_t vm_page_phys(vm_page_t m);		/* VM_PAGE_TO_PHYS */
KVMEM_EXPORT int vm_page_domain(vm_page_t m);
KVMEM_EXPORT vm_object_t vm_page_object(vm_page_t m);
KVMEM_EXPORT vm_pindex_t vm_page_pindex(vm_page_t m);
KVMEM_EXPORT unsigned vm_page_wire_count(vm_page_t m);
KVMEM_EXPORT unsigned vm_page_map_count(vm_page_t m);	/* mappings of the page */
KVMEM_EXPORT unsigned vm_page_flags(vm_page_t m);		/* PMAP_SIM_PG_* */
KVMEM_EXPORT vm_memattr_t vm_page_memattr(vm_page_t m);
/* The page at physical address pa (PHYS_TO_VM_PAGE), NULL if not RAM. */
KVMEM_EXPORT vm_page_t vm_page_from_phys(struct pmap_sim *sim, vm_paddr_t pa);
/* Host pointer to the page's contents. */
KVMEM_EXPORT void *vm_page_ptr(struct pmap_sim *sim, vm_page_t m);

/* ---- The kernel pmap -------------------------------------------------------------------- */

/*
 * Map page m at kernel address va with protection prot.  flags: the access
 * type (VM_PROT_* bits: sets A, and M for writes) | PMAP_ENTER_WIRED |
 * PMAP_ENTER_NOSLEEP.  psind 0: a 4 KiB mapping; psind 1: a 2 MiB mapping
 * of the 512 allocated pages starting at m (va and m 2 MiB aligned).
 * Re-entering the same page changes protection and wiring.  Returns 0;
 * ENOMEM if a page-table page could not be allocated (nothing mapped);
 * EINVAL after a misuse report (bad address, page or arguments, or another
 * page mapped at va).  Tries superpage promotion when the page-table page
 * is full and m's reservation fully populated.
 */
KVMEM_EXPORT int pmap_enter(pmap_t pmap, vm_offset_t va, vm_page_t m, vm_prot_t prot,
    unsigned flags, int8_t psind);
/* Remove every mapping in [sva, eva) (page aligned); demotes partly covered superpages. */
KVMEM_EXPORT int pmap_remove(pmap_t pmap, vm_offset_t sva, vm_offset_t eva);
/*
 * Restrict mappings in [sva, eva) to prot (never adds rights; without
 * VM_PROT_READ the mappings are removed).  0 or EINVAL.
 */
KVMEM_EXPORT int pmap_protect(pmap_t pmap, vm_offset_t sva, vm_offset_t eva, vm_prot_t prot);
/* Clear the wired attribute of the mappings in [sva, eva).  0 or EINVAL. */
KVMEM_EXPORT int pmap_unwire(pmap_t pmap, vm_offset_t sva, vm_offset_t eva);
/* Physical address va maps to, or 0 if none (pmap_extract takes the pmap lock). */
KVMEM_EXPORT vm_paddr_t pmap_extract(pmap_t pmap, vm_offset_t va);
KVMEM_EXPORT vm_paddr_t pmap_kextract(struct pmap_sim *sim, vm_offset_t va); /* lock free */
/*
 * Wired kernel mappings without page bookkeeping beyond the mapping count:
 * pmap_kenter maps the allocated page at pa read/write, global, no-execute.
 * 0, ENOMEM (page-table page), EINVAL (misuse).
 */
KVMEM_EXPORT int pmap_kenter(struct pmap_sim *sim, vm_offset_t va, vm_paddr_t pa);
KVMEM_EXPORT int pmap_kremove(struct pmap_sim *sim, vm_offset_t va);
/* count consecutive pages from ma[] at va; all or nothing. */
KVMEM_EXPORT int pmap_qenter(struct pmap_sim *sim, vm_offset_t va, vm_page_t *ma, int count);
KVMEM_EXPORT int pmap_qremove(struct pmap_sim *sim, vm_offset_t va, int count);
KVMEM_EXPORT void pmap_zero_page(struct pmap_sim *sim, vm_page_t m);
/* Mapped 4 KiB pages (a 2 MiB mapping counts 512) and wired ones. */
KVMEM_EXPORT long pmap_resident_count(pmap_t pmap);
KVMEM_EXPORT long pmap_wired_count(pmap_t pmap);

/*
 * Copy between a caller buffer and simulated kernel virtual memory through
 * the page tables, setting A (and M on writes) as the MMU would.  0; EFAULT
 * if some page of the range is not mapped (bytes before it were copied);
 * EACCES for a write to a read-only mapping.
 */
KVMEM_EXPORT int pmap_sim_read(struct pmap_sim *sim, vm_offset_t va, void *buf, size_t len);
KVMEM_EXPORT int pmap_sim_write(struct pmap_sim *sim, vm_offset_t va, const void *buf,
    size_t len);
/*
 * Host pointer for the byte at va, valid up to the end of its (4 KiB or
 * 2 MiB) page while the mapping lasts; NULL if unmapped or if access asks
 * for VM_PROT_WRITE on a read-only mapping.  Sets A (and M for writes).
 */
KVMEM_EXPORT void *pmap_sim_kva_ptr(struct pmap_sim *sim, vm_offset_t va, vm_prot_t access);
/*
 * The leaf entry mapping va (a PTE, or a PDE with PMAP_PG_PS) or 0; *levelp
 * (if not NULL) gets 1 for a PTE, 2 for a PDE.
 */
KVMEM_EXPORT uint64_t pmap_sim_kpte(struct pmap_sim *sim, vm_offset_t va, int *levelp);

/* ---- Fault injection ------------------------------------------------------------------- */

#define PMAP_SIM_FAULT_VERSION	1
#define PMAP_SIM_FAULT_PAGES	0x0001	/* vm_page_alloc* calls */
#define PMAP_SIM_FAULT_PTPAGES	0x0002	/* page-table pages for the pmap */
struct pmap_sim_fault {
	uint32_t	version;	/* PMAP_SIM_FAULT_VERSION */
	unsigned	what;		/* PMAP_SIM_FAULT_* (0: both) */
	int		domain;		/* only this domain; -1: all */
	uint64_t	skip;		/* let the first skip eligible attempts pass */
	uint64_t	every_nth;	/* then fail every Nth attempt (0: off) */
	double		probability;	/* or fail with this probability (0: off) */
	uint64_t	seed;		/* for probability */
	uint64_t	below_free;	/* or fail while the domain has fewer free pages */
	uint64_t	max_faults;	/* stop injecting after this many (0: no cap) */
};
/* Install (f not NULL) or remove (f NULL) fault injection.  0 or EINVAL. */
KVMEM_EXPORT int pmap_sim_set_fault(struct pmap_sim *sim, const struct pmap_sim_fault *f);

/* ---- Statistics ------------------------------------------------------------------------- */

#define PMAP_SIM_STATS_VERSION	1
struct pmap_sim_domain_stats {
	uint32_t	version;	/* in: PMAP_SIM_STATS_VERSION */
	uint32_t	size;		/* out: sizeof the struct filled */
	int		domain;
	vm_paddr_t	start, end;	/* physical range */
	uint64_t	page_count;
	uint64_t	free_count;	/* free pages, including reserved unused ones */
	uint64_t	free_reserved;	/* VM_ALLOC_NORMAL fails below this */
	uint64_t	interrupt_free_min; /* VM_ALLOC_SYSTEM fails below this */
	uint64_t	buddy_free;	/* of free_count: in the buddy free lists */
	uint64_t	reserv_free;	/* of free_count: unused in reservations */
	/* Free blocks per list and order (as /proc/buddyinfo). */
	uint64_t	free_blocks[PMAP_SIM_NFREELIST][PMAP_SIM_NFREEORDER];
	/*
	 * Unusable free space index per order, in thousandths: the share of
	 * the buddy's free pages in blocks too small for that order.
	 */
	uint32_t	unusable_index[PMAP_SIM_NFREEORDER];
	uint32_t	frag_index;	/* unusable_index at the superpage order (9) */
	uint64_t	allocated;	/* pages allocated (including page-table pages) */
	uint64_t	wired_count;
	uint64_t	pt_pages;	/* page-table pages in this domain */
	uint64_t	reserv_active;	/* reservations in use */
	uint64_t	reserv_partial;	/* on the partially populated queue */
	uint64_t	reserv_fullpop;
	uint64_t	allocs, frees, alloc_fails, faults_injected;
	uint64_t	host_touched;	/* page structs initialized (lazy), in pages */
};
/* 0, or EINVAL for an unknown version or domain. */
KVMEM_EXPORT int pmap_sim_domain_stats(struct pmap_sim *sim, int domain,
    struct pmap_sim_domain_stats *st);

struct pmap_sim_stats {
	uint32_t	version;	/* in: PMAP_SIM_STATS_VERSION */
	uint32_t	size;
	char		name[PMAP_SIM_NAME_MAX];
	int		ndomains, ncpus;
	uint64_t	page_count, free_count, wired_count, pt_pages;
	/* vm.pmap.pde.* */
	uint64_t	pde_promotions, pde_p_failures, pde_mappings, pde_demotions;
	/* vm.reserv.* */
	uint64_t	reserv_broken, reserv_freed, reserv_fullpop, reserv_reclaimed;
	uint64_t	reserv_partpopq;
	uint64_t	faults_injected, misuses;
	long		kernel_resident, kernel_wired;
	uint64_t	host_reserved_bytes;	/* host address space reserved */
	uint64_t	objects;		/* live objects (kernel object included) */
};
KVMEM_EXPORT int pmap_sim_stats(struct pmap_sim *sim, struct pmap_sim_stats *st);
/*
 * Read one counter by its FreeBSD sysctl name ("vm.pmap.pde.promotions",
 * "vm.reserv.broken", "vm.domain.0.stats.free_count", ... see pmap_sim(3)).
 * 0 or ENOENT.
 */
KVMEM_EXPORT int pmap_sim_sysctl(struct pmap_sim *sim, const char *name, uint64_t *valp);
/* Free blocks per domain, list and order as text; returns the length as snprintf(). */
KVMEM_EXPORT int pmap_sim_buddyinfo(struct pmap_sim *sim, char *buf, size_t len);

/*
 * Verify every invariant: free lists and page array, buddy coalescing,
 * reservations and objects, page tables against the page array, counters.
 * Returns 0, or nonzero after printing the first violation to stderr.
 * Takes every lock of the machine (no concurrent calls needed).
 */
KVMEM_EXPORT int pmap_sim_check(struct pmap_sim *sim);

#ifdef __cplusplus
}
#endif

#endif /* KVMEM_PMAP_SIM_H */
