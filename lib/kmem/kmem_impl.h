/*
 * kmem_impl.h -- internals of the kmem layer, shared by the files of
 * lib/kmem and by white-box tests.  Nothing here is part of the ABI.
 *
 * Locking.  kmem keeps almost no locked state of its own: counters are
 * per-thread or relaxed atomics, the allocation records are atomic bitmaps,
 * and every structural change happens inside the layers below, each under
 * its own locks.  kmem's own locks are leaves, never held across a call
 * into another layer (kmem_check() alone runs vm_map_check() under
 * sub_lock; nothing that holds a map lock takes sub_lock):
 *
 *   wait_lock   M_WAITOK sleepers (condition variable + generation)
 *   sub_lock    the list of submaps made by kmem_subinit_k()
 *   ts_lock     the list of per-thread counter blocks
 *   misc_lock   the misuse handler
 *
 * Calls into the layers nest as
 *
 *   per-domain arena -> (import) kernel arena -> (import) kernel_map
 *   kernel_map (pmap callbacks) -> pmap_sim (object -> pmap -> domain)
 *
 * and no arena or map lock is ever held while kmem calls pmap_sim, except
 * through vm_map's own callbacks.
 */
#ifndef KVMEM_KMEM_IMPL_H
#define KVMEM_KMEM_IMPL_H

#include "kvmem_config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kvmem/kmem.h>

#define KMEM_MAGIC	0x6b6d656du	/* "kmem" */
#define KMEM_DS_MAGIC	0x64736574u	/* "dset" */
#define KPAGE		KMEM_PAGE_SIZE
#define KPAGE_SHIFT	PMAP_SIM_PAGE_SHIFT
#define KPAGE_MASK	(KPAGE - 1)
#define KSPG		PMAP_SIM_SUPERPAGE_SIZE
#define KSPG_PAGES	(KSPG / KPAGE)

/*
 * Statistics counters, per thread and per domain (as FreeBSD's counter(9)
 * keeps them per CPU): only the owning thread writes its block, with plain
 * relaxed loads and stores, so the hot path has no locked instruction;
 * readers add the blocks up.  A block lives until the instance goes (a
 * thread that exits leaves its counts behind).  If a block cannot be
 * allocated the thread uses the shared one, updated with atomic adds.
 */
struct kmem_tdom {
	_Atomic uint64_t	pages;		/* placed minus freed (wraps) */
	_Atomic uint64_t	allocs;
	_Atomic uint64_t	frees;
	_Atomic uint64_t	fallbacks;
	_Atomic uint64_t	local_pages;
	_Atomic uint64_t	remote_pages;
};

struct kmem_tstat {
	struct kmem_tstat	*next;		/* k->ts_list */
	bool			shared;		/* the fallback block */
	uintptr_t		cursor;		/* round-robin position (owner only) */
	_Atomic uint64_t	remote_cost;	/* distance-weighted remote pages */
	struct kmem_tdom	d[];		/* [ndomains] */
};

/* Per domain; one cache line of counters each. */
struct kmem_domain {
	vmem_t		*arena;		/* vmd_kernel_arena */
	vmem_t		*rwx_arena;	/* vmd_kernel_rwx_arena */
	uint64_t	page_count;
	uint64_t	free_min;
	vm_paddr_t	pa_start, pa_end;
	struct domainset ds_pref;	/* DOMAINSET_PREF(d) */
	struct domainset ds_fixed;	/* DOMAINSET_FIXED(d) */

	/* Rare events: shared counters. */
	_Alignas(64) _Atomic uint64_t fails;
	_Atomic uint64_t skipped;
};

/* An import source: the parent arena's instance and this arena's quantum. */
struct kmem_src {
	struct kmem	*k;
	vm_size_t	quantum;
};

/* A submap made by kmem_subinit_k(), destroyed with the instance. */
struct kmem_submap {
	vm_map_t		map;
	vm_map_t		parent;
	vm_offset_t		min, max;
	struct kmem_submap	*next;
};

struct kmem {
	/* Set at bring-up, read-only afterwards. */
	uint32_t		magic;
	char			name[KMEM_NAME_MAX];
	struct pmap_sim		*sim;
	pmap_t			kpmap;
	vm_object_t		kobj;
	int			ndomains;
	uint64_t		all_mask;	/* every domain */
	vm_offset_t		kva_min, kva_max;
	vm_offset_t		boot_end;	/* bootstrap region: [kva_min, boot_end) */
	vm_offset_t		boot_backed_end;
	vm_size_t		kvaq;		/* KVA_QUANTUM */
	bool			mixed;		/* kvaq < superpage: chunks may mix domains */
	unsigned		kvaq_shift;
	vm_size_t		import_q;
	vm_size_t		rwx_q;
	uint64_t		wait_poll_ns;
	struct kmem_domain	*dom;		/* [ndomains] */
	uint8_t			*dist;		/* [from * ndomains + to] */
	uint8_t			*near;		/* [from * ndomains + i]: by distance */
	struct kmem_src		src_kernel, src_dom, src_rwx;
	struct domainset	ds_rr, ds_ft, ds_il;

	/* The kernel map and arena live here (FreeBSD's *_store). */
	struct vm_map		kernel_map_store;
	vmem_t			kernel_arena_store;
	vm_map_t		kernel_map;
	vmem_t			*kernel_arena;
	vm_map_t		exec_map, pipe_map;

	/* Zero region: one page mapped read-only over [zero_va, zero_va + zero_size). */
	vm_offset_t		zero_va;
	vm_size_t		zero_size;
	vm_page_t		zero_page;

	/*
	 * Allocation records, one bit per page of [kva_min, kva_max) in a
	 * no-reserve mapping: the first and the last page of every
	 * kmem_malloc/attr/contig allocation, and the first page of those
	 * from an rwx arena (FreeBSD's VPO_KMEM_EXEC).  Atomic bit ops.
	 */
	uint64_t		*rec_start, *rec_end, *rec_exec;
	size_t			rec_words;
	void			*rec_map;
	size_t			rec_len;

	/* M_WAITOK sleepers. */
	pthread_mutex_t		wait_lock;
	pthread_cond_t		wait_cv;
	_Atomic uint64_t	free_gen;
	_Atomic unsigned	waiters;

	pthread_key_t		tls;		/* the thread's struct kmem_tstat */
	pthread_mutex_t		ts_lock;
	struct kmem_tstat	*ts_list;
	struct kmem_tstat	*ts_shared;

	pthread_mutex_t		sub_lock;
	struct kmem_submap	*subs;

	pthread_mutex_t		misc_lock;
	kmem_misuse_fn		*misuse_fn;
	void			*misuse_arg;
	bool			destroying;

	/*
	 * Rare events (relaxed atomics).  Calls, frees and pages are counted
	 * per thread and domain (struct kmem_tstat); the access cost of local
	 * pages follows from their count.
	 */
	_Alignas(64) _Atomic uint64_t st_fails;
	_Atomic uint64_t	st_einval;
	_Atomic uint64_t	st_waits;
	_Atomic uint64_t	st_misuses;
	_Atomic uint64_t	st_kva_imports;
	_Atomic uint64_t	st_kva_import_fails;
	_Atomic uint64_t	kva_imported;	/* bytes taken from kernel_map */
	_Atomic uint64_t	boot_pages;	/* bootstrap pages still backed */
	_Atomic uint64_t	compat_kobj_pages; /* kernel-object pages of map entries */
	_Atomic uint64_t	boot_freed;	/* bootstrap KVA added to the kernel arena */
};

/* ---- Small helpers ----------------------------------------------------------------- */

#define RLX	memory_order_relaxed

static inline uint64_t
kmem__pindex(const struct kmem *k, vm_offset_t va)
{
	return (va - k->kva_min) >> KPAGE_SHIFT;
}

/* Round size up to pages; false on overflow or size 0. */
static inline bool
kmem__round(vm_size_t size, vm_size_t *outp)
{
	if (size == 0 || size > ~(vm_size_t)0 - KPAGE_MASK)
		return false;
	*outp = (size + KPAGE_MASK) & ~(vm_size_t)KPAGE_MASK;
	return true;
}

/* [addr, addr + size) is page aligned and inside kernel_map. */
static inline bool
kmem__in_kva(const struct kmem *k, vm_offset_t addr, vm_size_t size)
{
	return (addr & KPAGE_MASK) == 0 && addr >= k->kva_min && addr < k->kva_max &&
	    size <= k->kva_max - addr;
}

/* The domain kmem_back places the quantum chunk holding va in. */
static inline int
kmem__chunk_domain(const struct kmem *k, vm_offset_t va)
{
	return k->ndomains == 1 ? 0 : (int)((va >> k->kvaq_shift) % (unsigned)k->ndomains);
}

/* The instance from a public pointer: panics on a pointer that is not one. */
struct kmem *kmem__get(struct kmem *k, const char *call);

/* Flags check shared by the entry points: 0 or EINVAL. */
int kmem__check_flags(int flags);
/* malloc(9) flags -> vm_page_alloc request (no sleeping bits). */
int kmem__req(int flags);

/* kmem_init.c */
void kmem__misuse(struct kmem *k, enum kmem_misuse kind, vm_offset_t addr, vm_size_t size,
    const char *call, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void kmem__einval(struct kmem *k);
/* Wake M_WAITOK sleepers after memory or KVA was given back. */
void kmem__wakeup(struct kmem *k);
/* Sleep until kmem frees something after generation gen (or a poll interval). */
void kmem__wait(struct kmem *k, uint64_t gen);

/* kva.c: import callbacks. */
vmem_ximport_t kmem__kva_import;
vmem_ximport_t kmem__kva_import_domain;
vmem_release_t kmem__kva_release_domain;

/* kmem_back.c */
/*
 * Back [addr, addr + size) with pages of domain (KERN_SUCCESS, or
 * KERN_NO_SPACE with everything undone).  No argument checks.
 */
int kmem__back_domain(struct kmem *k, struct kmem_tstat *ts, int domain, vm_offset_t addr,
    vm_size_t size, int flags);
/*
 * Unmap and free the pages behind [addr, addr + size).  With check, every
 * page is verified first (misuse and false if one is not backed, nothing
 * changed).  Without, a missing page is reported after the fact.
 */
bool kmem__unback(struct kmem *k, struct kmem_tstat *ts, vm_offset_t addr, vm_size_t size,
    bool check, const char *call);
/* The calling thread's counters (created on first use). */
struct kmem_tstat *kmem__tstat(struct kmem *k);

/* Add n to a counter of block ts (owner thread, or shared block). */
static inline void
kmem__tadd(const struct kmem_tstat *ts, _Atomic uint64_t *c, uint64_t n)
{
	if (KVMEM_UNLIKELY(ts->shared))
		atomic_fetch_add_explicit(c, n, memory_order_relaxed);
	else
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
		    memory_order_relaxed);
}

struct kmem_tdom_sum {
	uint64_t	pages, allocs, frees, fallbacks, local_pages, remote_pages;
};
int kmem__tstat_init(struct kmem *k);
void kmem__tstat_fini(struct kmem *k);
/* Every thread's counters of every domain added up into sum[ndomains]. */
void kmem__tsum(struct kmem *k, struct kmem_tdom_sum *sum, uint64_t *remote_cost);

/* Page counter updates (stats). */
static inline void
kmem__pages_add(struct kmem_tstat *ts, int domain, int64_t n)
{
	if (n != 0)
		kmem__tadd(ts, &ts->d[domain].pages, (uint64_t)n);
}
/* Recorded allocations now (allocations placed minus kmem_free calls). */
uint64_t kmem__live_allocs(struct kmem *k);

/* Allocation records. */
void kmem__rec_set(struct kmem *k, vm_offset_t addr, uint64_t npages, bool exec);
/* 0 if [addr, +npages) is exactly one recorded allocation, else why not. */
const char *kmem__rec_match(struct kmem *k, vm_offset_t addr, uint64_t npages);
/* Claim and clear the record; false if another thread got there first. */
bool kmem__rec_clear(struct kmem *k, vm_offset_t addr, uint64_t npages, bool *execp);
bool kmem__rec_test(const uint64_t *bm, uint64_t bit);

/* domainset.c */
/* As domainset_iter_init, with the number of waits allowed (0: no bound). */
int kmem__iter_init(struct domainset_iter *di, struct kmem *k, const struct domainset *ds,
    int *domainp, int *flagsp, unsigned max_rounds);
/* Account a success on domain (fallback, local/remote, cost) for npages. */
void kmem__iter_done(struct domainset_iter *di, int domain, uint64_t npages);
/* Is the domain's free page count below its minimum? */
bool kmem__below_min(struct kmem *k, int domain);
uint64_t kmem__free_count(struct kmem *k, int domain);
int kmem__ds_setup_builtin(struct kmem *k);

/* kmem_map.c */
extern const struct vm_map_pmap_ops kmem__pmap_ops;
int kmem__zero_region_init(struct kmem *k, vm_size_t size);
void kmem__zero_region_fini(struct kmem *k);
int kmem__bootstrap_init(struct kmem *k);
/* Register a submap for destruction with the instance. */
int kmem__submap_track(struct kmem *k, vm_map_t map, vm_map_t parent, vm_offset_t min,
    vm_offset_t max);
/* kmem_subinit with a name and any find_space (k NULL: not tracked). */
int kmem__subinit(struct kmem *k, vm_map_t map, vm_map_t parent, const char *name,
    vm_offset_t *min, vm_offset_t *max, vm_size_t size, int find_space, vm_map_t *submapp);
void kmem__submaps_fini(struct kmem *k);
/* Free the pages of object at [offset, offset + size) (unmapped already). */
void kmem__free_object_pages(struct kmem *k, vm_object_t object, vm_ooffset_t offset,
    vm_size_t size);

/* Process-wide count of instances created and not destroyed (for tests). */
long kmem__live_instances(void);

#endif /* KVMEM_KMEM_IMPL_H */
