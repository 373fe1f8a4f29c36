/*
 * pmap_sim_impl.h -- internals of the simulated machine, shared by the
 * files of lib/pmap_sim and by white-box tests.
 *
 * Locking order (a thread may take locks only in this order):
 *
 *   sim->obj_lock (object list)  ->  object lock  ->  pmap lock
 *     ->  domain locks (ascending domain number)  ->  sim->fault_lock
 *
 * Normal calls hold at most one object lock and one domain lock at a time;
 * only pmap_sim_check() takes several of a kind (in list / index order).
 * sim->misc_lock (misuse handler) is a leaf taken with nothing else held.
 */
#ifndef KVMEM_PMAP_SIM_IMPL_H
#define KVMEM_PMAP_SIM_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kvmem/pmap_sim.h>

#define PSIM_NONE	UINT32_MAX		/* no page / reservation index */
#define PSIM_NONE64	UINT64_MAX
#define PSIM_MAXORDER	(PMAP_SIM_NFREEORDER - 1)
#define PSIM_RV_ORDER	9			/* reservations: 2 MiB */
#define PSIM_RV_NPAGES	(1u << PSIM_RV_ORDER)
#define PSIM_PAGE	PMAP_SIM_PAGE_SIZE
#define PSIM_MAX_TOTAL	((uint64_t)4 << 40)	/* 4 TiB of simulated memory */
#define PSIM_MAX_PHYS	((uint64_t)1 << 46)	/* MAXPHYADDR */

/* ---- Pages ---------------------------------------------------------------------- */

/* vm_page.flags */
#define PGF_INIT	0x0001	/* struct initialized (its 16 MiB block was carved) */
#define PGF_FREE	0x0002	/* head of a free buddy block (order in .order) */
#define PGF_ALLOC	0x0004	/* allocated: to a caller, a reservation user or a pmap */
#define PGF_ZERO	0x0008	/* contents known to be zero */
#define PGF_PT		0x0010	/* a page-table page */
#define PGF_MANAGED	0x0020	/* belongs to a managed object */

/*
 * One per physical page, in an array indexed by pfn - base_pfn that lives
 * in a no-reserve host mapping: a struct is written (and so costs host
 * memory) only once its 16 MiB block is first handed to the buddy lists.
 *
 * Written under the domain lock: flags, order, fl links, object, pindex
 * (at alloc/free).  Atomic: wire_count, map_count.  pt_valid and pt_level
 * under the pmap lock.
 */
struct vm_page {
	uint32_t		fl_next;	/* free-list links: page indices */
	uint32_t		fl_prev;
	vm_paddr_t		phys;
	struct vm_object	*object;
	vm_pindex_t		pindex;		/* in object; PT pages: va >> level shift */
	_Atomic uint32_t	wire_count;
	_Atomic uint32_t	map_count;	/* 4 KiB or 2 MiB mappings covering it */
	uint16_t		flags;		/* PGF_* */
	uint16_t		pt_valid;	/* PT level: valid entries */
	uint8_t			order;		/* free head: buddy order */
	uint8_t			domain;
	uint8_t			memattr;
	uint8_t			pt_level;	/* 4 = PML4 .. 1 = PT */
};

/* ---- Reservations ----------------------------------------------------------------- */

/*
 * A superpage reservation: one per 2 MiB-aligned physical block, indexed by
 * (pfn >> 9) - (base_pfn >> 9), in a no-reserve host mapping.  Active when
 * object is not NULL: the block then backs object indices
 * [pindex, pindex + 512), populated bit by bit.  Protected by the lock of
 * the block's domain.
 */
struct vm_reserv {
	struct vm_object	*object;
	vm_pindex_t		pindex;
	uint32_t		q_next, q_prev;	/* partially populated queue */
	uint16_t		popcnt;
	uint8_t			inpartpopq;
	uint8_t			domain;
	uint64_t		popmap[PSIM_RV_NPAGES / 64];
};

/* ---- A small open-addressing map uint64 -> uint64 ----------------------------------- */

struct psim_map {
	uint64_t	*keys;		/* PSIM_NONE64 = empty slot */
	uint64_t	*vals;
	size_t		cap;		/* power of two, or 0 */
	size_t		n;
};
void	psim_map_init(struct psim_map *mp);
void	psim_map_fini(struct psim_map *mp);
/* Pointer to the value of key, or NULL. */
uint64_t *psim_map_find(const struct psim_map *mp, uint64_t key);
/* Insert or replace; 0 or ENOMEM (map unchanged). */
int	psim_map_put(struct psim_map *mp, uint64_t key, uint64_t val);
/* Remove key if present; true if it was. */
bool	psim_map_del(struct psim_map *mp, uint64_t key);
/* Make room for one more insertion now (so a later put cannot fail). */
int	psim_map_reserve(struct psim_map *mp, size_t extra);

/* ---- Objects --------------------------------------------------------------------------- */

struct vm_object {
	struct pmap_sim		*sim;
	pthread_mutex_t		lock;
	int			flags;		/* PMAP_SIM_OBJ_* */
	bool			is_kernel;
	uint64_t		npages;
	struct psim_map		pages;		/* pindex -> page index */
	/* pindex >> 9 -> (reservation index << 32) | pages of the object in that chunk */
	struct psim_map		chunks;
	struct vm_object	*next, *prev;	/* sim->objects, under sim->obj_lock */
};
#define CHUNK_RV(v)		((uint32_t)((v) >> 32))
#define CHUNK_COUNT(v)		((uint32_t)(v))
#define CHUNK_VAL(rv, cnt)	(((uint64_t)(rv) << 32) | (uint32_t)(cnt))

/* ---- Physical memory ----------------------------------------------------------------------- */

/* A run of one domain's pages on one free list; pfns [start, end). */
struct psim_seg {
	uint64_t	start, end;
	uint64_t	frontier;	/* [frontier, end) free and not yet initialized */
	int		freelist;
	uint64_t	imp_blocks[PMAP_SIM_NFREEORDER];	/* blocks beyond frontier */
};

struct psim_domain {
	pthread_mutex_t	lock;
	pthread_cond_t	free_cv;	/* VM_ALLOC_WAITOK sleepers */
	int		id;
	uint64_t	start_pfn, end_pfn;
	int		nseg;
	struct psim_seg	seg[PMAP_SIM_NFREELIST];
	int		seg_of_fl[PMAP_SIM_NFREELIST];	/* -1: none */

	/* Buddy free lists (heads are page indices). */
	uint32_t	fl_head[PMAP_SIM_NFREELIST][PMAP_SIM_NFREEORDER];
	uint64_t	fl_blocks[PMAP_SIM_NFREELIST][PMAP_SIM_NFREEORDER];

	/* Accounting (free count = buddy_free + reserv_free). */
	uint64_t	page_count;
	uint64_t	buddy_free;	/* pages in free blocks, explicit or not */
	uint64_t	reserv_free;	/* unpopulated pages of active reservations */
	uint64_t	free_reserved, interrupt_free_min;
	uint64_t	allocated;
	uint64_t	pt_pages;
	_Atomic uint64_t wired;
	uint64_t	touched;	/* pages whose struct was initialized */
	uint64_t	free_gen;	/* bumped by every page free (for sleepers) */
	unsigned	waiters;

	/* Reservations. */
	uint32_t	partq_head, partq_tail;
	uint64_t	partq_len;
	uint64_t	reserv_active, reserv_fullpop;
	uint64_t	reserv_broken, reserv_freed, reserv_reclaimed;

	uint64_t	allocs, frees, alloc_fails, faults;
} __attribute__((aligned(64)));

/* ---- The kernel pmap ------------------------------------------------------------------------- */

struct pmap {
	struct pmap_sim	*sim;
	pthread_mutex_t	lock;
	vm_paddr_t	pml4_pa;
	long		resident;	/* 4 KiB units */
	long		wired;
	uint64_t	pt_pages;
	struct psim_map	saved;		/* va >> 21 -> PT page index, under 2 MiB mappings */
	uint64_t	promotions, p_failures, mappings, demotions;
};

/* ---- The machine ----------------------------------------------------------------------------- */

struct pmap_sim {
	char		name[PMAP_SIM_NAME_MAX];
	int		ndomains, ncpus;
	vm_paddr_t	phys_base, phys_end;
	uint64_t	base_pfn, npages;
	unsigned char	*host;		/* backing of [phys_base, phys_end) */
	size_t		host_len;
	struct vm_page	*pages;
	size_t		pages_len;
	struct vm_reserv *resv;
	size_t		resv_len;
	uint64_t	nresv;
	struct psim_domain *dom;
	int		*cpu_domain;
	uint8_t		*distance;	/* [from * ndomains + to] */
	int		*dom_order;	/* per domain: all domains by distance */
	pthread_key_t	cpu_key;

	struct pmap	kpmap;
	struct vm_object *kobj;

	pthread_mutex_t	obj_lock;
	struct vm_object *objects;
	uint64_t	nobjects;

	pthread_mutex_t	fault_lock;
	atomic_bool	fault_on;
	struct pmap_sim_fault fault;
	uint64_t	fault_attempts, fault_count, fault_rng;

	pthread_mutex_t	misc_lock;
	pmap_sim_misuse_fn *misuse_fn;
	void		*misuse_arg;
	_Atomic uint64_t misuses;
};

/* ---- Helpers -------------------------------------------------------------------------------- */

static inline uint64_t
psim_pfn(const struct pmap_sim *sim, const struct vm_page *m)
{
	return sim->base_pfn + (uint64_t)(m - sim->pages);
}

static inline struct vm_page *
psim_page(const struct pmap_sim *sim, uint64_t pfn)
{
	return &sim->pages[pfn - sim->base_pfn];
}

static inline unsigned char *
psim_host(const struct pmap_sim *sim, vm_paddr_t pa)
{
	return sim->host + (pa - sim->phys_base);
}

static inline bool
psim_pfn_is_ram(const struct pmap_sim *sim, uint64_t pfn)
{
	return pfn >= sim->base_pfn && pfn - sim->base_pfn < sim->npages;
}

/* The reservation slot of the 2 MiB block holding pfn. */
static inline struct vm_reserv *
psim_rv_of_pfn(const struct pmap_sim *sim, uint64_t pfn)
{
	return &sim->resv[(pfn >> PSIM_RV_ORDER) - (sim->base_pfn >> PSIM_RV_ORDER)];
}

static inline uint64_t
psim_rv_pfn(const struct pmap_sim *sim, const struct vm_reserv *rv)
{
	return ((uint64_t)(rv - sim->resv) + (sim->base_pfn >> PSIM_RV_ORDER)) << PSIM_RV_ORDER;
}

static inline uint64_t
psim_free_count(const struct psim_domain *d)
{
	return d->buddy_free + d->reserv_free;
}

/* machine.c */
int	psim_domain_of_pfn(const struct pmap_sim *sim, uint64_t pfn);
/* Report misuse (formats "kvmem: pmap_sim '<name>': <fmt> (<call>)"); call with no lock held. */
void	psim_misuse(struct pmap_sim *sim, enum pmap_sim_misuse kind, uint64_t addr,
	    const char *call, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Fault injection decision for one attempt on domain d (d locked). */
bool	psim_fault_check(struct pmap_sim *sim, struct psim_domain *d, unsigned what);
/* Whether a request of class req for n pages may proceed on d (d locked). */
bool	psim_class_ok(const struct psim_domain *d, int req, uint64_t n);
/* Is m a pointer to a page struct of sim (in range and aligned)? */
bool	psim_page_ptr_ok(const struct pmap_sim *sim, const struct vm_page *m);

/* vm_phys.c -- all with the domain locked. */
void	psim_phys_init_domain(struct pmap_sim *sim, struct psim_domain *d);
/* Allocate a 2^order block (free lists in preference order); pfn or PSIM_NONE64. */
uint64_t psim_phys_alloc(struct pmap_sim *sim, struct psim_domain *d, int order);
/* Free a 2^order block at pfn with coalescing. */
void	psim_phys_free(struct pmap_sim *sim, struct psim_domain *d, uint64_t pfn, int order);
/* Free the pages [pfn, pfn + n) (any alignment) with coalescing. */
void	psim_phys_free_range(struct pmap_sim *sim, struct psim_domain *d, uint64_t pfn,
	    uint64_t n);
uint64_t psim_phys_alloc_contig(struct pmap_sim *sim, struct psim_domain *d, uint64_t npages,
	    vm_paddr_t low, vm_paddr_t high, uint64_t align, uint64_t boundary);
/* Blocks of each order beyond a segment's frontier, recomputed. */
void	psim_phys_implicit_blocks(const struct psim_seg *seg,
	    uint64_t out[PMAP_SIM_NFREEORDER]);
int	psim_carve_order(uint64_t pfn, uint64_t end);

/* vm_reserv.c -- all with the block's domain locked. */
struct vm_reserv *psim_rv_create(struct pmap_sim *sim, struct psim_domain *d,
	    struct vm_object *obj, vm_pindex_t first);
/* Populate slot index; returns the page's pfn. */
uint64_t psim_rv_populate(struct pmap_sim *sim, struct psim_domain *d, struct vm_reserv *rv,
	    unsigned index);
void	psim_rv_depopulate(struct pmap_sim *sim, struct psim_domain *d, struct vm_reserv *rv,
	    unsigned index);
void	psim_rv_break(struct pmap_sim *sim, struct psim_domain *d, struct vm_reserv *rv);
bool	psim_rv_reclaim_inactive(struct pmap_sim *sim, struct psim_domain *d);
bool	psim_rv_reclaim_contig(struct pmap_sim *sim, struct psim_domain *d, vm_paddr_t low,
	    vm_paddr_t high);
/* Is pfn a populated page of an active reservation? */
bool	psim_rv_page_populated(const struct pmap_sim *sim, uint64_t pfn);
/* Is pfn's reservation active and fully populated? */
bool	psim_rv_fullpop(const struct pmap_sim *sim, uint64_t pfn);

/* vm_page.c */
/*
 * Allocate one page with no object from domain d: pgflags are added to
 * the page's flags (PGF_PT for page-table pages); fault class what.  NULL
 * on failure, with *faultedp (if not NULL) telling whether it was injected.
 */
struct vm_page *psim_alloc_noobj(struct pmap_sim *sim, int domain, int req, unsigned pgflags,
	    unsigned what, bool *faultedp);
void	psim_object_init(struct pmap_sim *sim, struct vm_object *obj, int flags);
void	psim_object_fini(struct vm_object *obj);

/* pmap.c */
int	psim_pmap_init(struct pmap_sim *sim);
void	psim_pmap_fini(struct pmap_sim *sim);

/*
 * Third assertion tier (meson -Dexpensive_checks=true): the whole machine is
 * checked after every successful public call that changes it.  Call with no
 * lock held.
 */
#ifdef KVMEM_EXPENSIVE
#define PSIM_EXPENSIVE_CHECK(sim) KVMEM_ASSERT_ALWAYS(pmap_sim_check(sim) == 0)
#else
#define PSIM_EXPENSIVE_CHECK(sim) ((void)0)
#endif

/* Process-wide count of machines created and not destroyed (for tests). */
long	pmap_sim__live_machines(void);

#endif /* KVMEM_PMAP_SIM_IMPL_H */
