/*
 * <kvmem/vmem.h> -- the vmem resource allocator.
 *
 * The FreeBSD vmem(9) interface with FreeBSD's names, types and semantics,
 * plus kvmem extensions (all prefixed vmem_ / VMEM_).  An arena hands out
 * integer ranges [addr, addr + size) from spans given to it with vmem_add()
 * or imported from a source through an import callback.  See vmem(3) and
 * doc/vmem.md.
 */
#ifndef KVMEM_VMEM_H
#define KVMEM_VMEM_H

#include <stddef.h>
#include <stdint.h>

#include <kvmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Allocation flags (values as FreeBSD <sys/malloc.h>) ---------------- */
#ifndef M_NOWAIT
#define M_NOWAIT	0x0001	/* fail with ENOMEM rather than sleep */
#endif
#ifndef M_WAITOK
#define M_WAITOK	0x0002	/* sleep until the request can be met */
#endif
#ifndef M_ZERO
#define M_ZERO		0x0100	/* (kmem) zero the memory; ignored by vmem */
#endif
#ifndef M_NORECLAIM
#define M_NORECLAIM	0x0080	/* do not call the reclaim callback */
#endif
#ifndef M_FIRSTFIT
#define M_FIRSTFIT	0x1000	/* instant fit: O(1), from a class of big-enough segments */
#endif
#ifndef M_BESTFIT
#define M_BESTFIT	0x2000	/* the smallest free segment that fits */
#endif
#ifndef M_EXEC
#define M_EXEC		0x4000	/* (kmem) executable memory; ignored by vmem */
#endif
#ifndef M_NEXTFIT
#define M_NEXTFIT	0x8000	/* next fit: continue from a rotor in address order */
#endif

/*
 * kvmem extension: place the allocation at the highest address that fits
 * (searching free segments from the top of the arena down).  Combines with
 * any vmem_xalloc() constraint; the fit strategy flag is then ignored.
 */
#define VMEM_TOPDOWN	0x00010000

/*
 * kvmem extension, vmem_create()/vmem_init() flag: quantum caches without
 * magazines, so a double free of a cached size is caught at the free itself
 * (slower; for debugging).
 */
#define VMEM_QCACHE_DEBUG	0x00020000

/* ---- Type masks for vmem_size() and vmem_walk() ------------------------- */
#define VMEM_ALLOC	0x01	/* bytes (segments) handed out */
#define VMEM_FREE	0x02	/* bytes (segments) free */
#define VMEM_MAXFREE	0x10	/* vmem_size(): the largest free segment */
#define VMEM_SPAN	0x20	/* vmem_walk(): the spans themselves */

#define VMEM_ADDR_MIN	((vmem_addr_t)0)
#define VMEM_ADDR_MAX	(~(vmem_addr_t)0)

/* vmem_create()/vmem_init() name buffer, including the terminating NUL. */
#define VMEM_NAME_MAX	32

/*
 * Storage for one arena.  The layout is private; the size is public so an
 * arena can live in static storage and be set up with vmem_init(), as
 * FreeBSD does for its kernel arenas.
 */
#define VMEM_STORAGE_SIZE	8192

typedef uintptr_t vmem_addr_t;
typedef size_t    vmem_size_t;

typedef struct vmem {
	union {
		unsigned char	vm_opaque[VMEM_STORAGE_SIZE];
		long double	vm_align_ld;
		void		*vm_align_p;
		uint64_t	vm_align_u64;
	} vm_storage;
} vmem_t;

typedef int  vmem_import_t(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp);
typedef void vmem_release_t(void *arg, vmem_addr_t addr, vmem_size_t size);
typedef void vmem_reclaim_t(vmem_t *vm, int flags);

/* ---- The FreeBSD vmem(9) interface -------------------------------------- */

/*
 * Create an arena managing [base, base + size) (size 0: start empty).
 * quantum must be a power of two; base and size must be multiples of it.
 * Returns NULL with errno EINVAL for bad arguments, ENOMEM when out of memory.
 */
KVMEM_EXPORT vmem_t *vmem_create(const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum, vmem_size_t qcache_max, int flags);
/* As vmem_create() in caller-provided storage (at least sizeof(vmem_t)). */
KVMEM_EXPORT vmem_t *vmem_init(vmem_t *vm, const char *name, vmem_addr_t base,
    vmem_size_t size, vmem_size_t quantum, vmem_size_t qcache_max, int flags);
/*
 * Tear an arena down: imported spans are released, metadata freed.  Live
 * allocations are reported to the misuse handler (VMEM_MISUSE_LEAK).
 */
KVMEM_EXPORT void vmem_destroy(vmem_t *vm);

KVMEM_EXPORT void vmem_set_import(vmem_t *vm, vmem_import_t *importfn,
    vmem_release_t *releasefn, void *arg, vmem_size_t import_quantum);
/* Cap the arena's total size (spans added + imported); 0 means no cap. */
KVMEM_EXPORT void vmem_set_limit(vmem_t *vm, vmem_size_t limit);
KVMEM_EXPORT void vmem_set_reclaim(vmem_t *vm, vmem_reclaim_t *reclaimfn);

/* Returns 0, ENOMEM (cannot be satisfied now) or EINVAL (never could). */
KVMEM_EXPORT int  vmem_alloc(vmem_t *vm, vmem_size_t size, int flags, vmem_addr_t *addrp);
KVMEM_EXPORT void vmem_free(vmem_t *vm, vmem_addr_t addr, vmem_size_t size);
/*
 * Constrained allocation: the result addr satisfies
 *   addr % align == phase (align 0: the quantum),
 *   [addr, addr + size) does not cross a multiple of nocross (0: no limit),
 *   minaddr <= addr and addr + size - 1 <= maxaddr (maxaddr is inclusive).
 */
KVMEM_EXPORT int  vmem_xalloc(vmem_t *vm, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
    vmem_addr_t maxaddr, int flags, vmem_addr_t *addrp);
KVMEM_EXPORT void vmem_xfree(vmem_t *vm, vmem_addr_t addr, vmem_size_t size);
/* Add the span [addr, addr + size).  0, ENOMEM, or EINVAL (bad/overlapping). */
KVMEM_EXPORT int  vmem_add(vmem_t *vm, vmem_addr_t addr, vmem_size_t size, int flags);
KVMEM_EXPORT vmem_size_t vmem_roundup_size(vmem_t *vm, vmem_size_t size);
KVMEM_EXPORT vmem_size_t vmem_size(vmem_t *vm, int typemask);

/* ---- Extensions ---------------------------------------------------------- */

/*
 * Allocate exactly [addr, addr + size) (as NetBSD's vmem_xalloc_addr).
 * 0; ENOMEM if any part of it is not free (after trying to import it when
 * the arena has a constraint-aware import); EINVAL for a misaligned address,
 * size 0 or a range that wraps.
 */
KVMEM_EXPORT int vmem_xalloc_addr(vmem_t *vm, vmem_addr_t addr, vmem_size_t size, int flags);

/*
 * A constraint-aware import callback.  It must return, in *addrp and *sizep,
 * a region of at least size bytes that contains a placement of size bytes
 * satisfying align/phase/nocross/minaddr/maxaddr (maxaddr inclusive).  It
 * may return more than size (*sizep is preset to the suggested size, the
 * request rounded up to the import quantum).  Returns 0 or an errno.
 */
typedef int vmem_ximport_t(void *arg, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
    vmem_addr_t maxaddr, int flags, vmem_addr_t *addrp, vmem_size_t *sizep);
KVMEM_EXPORT void vmem_set_ximport(vmem_t *vm, vmem_ximport_t *importfn,
    vmem_release_t *releasefn, void *arg, vmem_size_t import_quantum);
/*
 * A ready-made source: make child import from the arena parent with every
 * constraint honoured (vmem_xalloc on the parent) and release to it.
 */
KVMEM_EXPORT void vmem_set_source(vmem_t *child, vmem_t *parent, vmem_size_t import_quantum);
KVMEM_EXPORT vmem_ximport_t vmem_ximport_from_arena;	/* arg: the parent vmem_t * */
KVMEM_EXPORT vmem_release_t vmem_release_to_arena;	/* arg: the parent vmem_t * */

/* Nonzero if addr lies inside one of the arena's spans. */
KVMEM_EXPORT int vmem_contains(vmem_t *vm, vmem_addr_t addr);

/*
 * Call fn for each segment whose type is in typemask (VMEM_ALLOC,
 * VMEM_FREE, VMEM_SPAN), in address order.  fn runs with the arena locked:
 * it must not call into the same arena.  A nonzero return stops the walk
 * and is returned.
 */
typedef int vmem_walk_fn(void *arg, vmem_addr_t addr, vmem_size_t size, int type);
KVMEM_EXPORT int vmem_walk(vmem_t *vm, int typemask, vmem_walk_fn *fn, void *arg);

/*
 * Statistics, versioned: set st->version = VMEM_STATS_VERSION before the
 * call.  Version 2 added the lone-object counters at the end of struct
 * vmem_qcache_stats; a caller built for version 1 still gets version 1.
 */
#define VMEM_STATS_VERSION	2
struct vmem_stats {
	uint32_t	version;		/* in: VMEM_STATS_VERSION */
	uint32_t	size;			/* out: sizeof the struct filled */
	char		name[VMEM_NAME_MAX];
	vmem_size_t	quantum;
	vmem_size_t	qcache_max;
	uint64_t	allocs;			/* successful allocations */
	uint64_t	frees;
	uint64_t	alloc_fails;		/* ENOMEM returned */
	uint64_t	alloc_einval;		/* EINVAL returned */
	uint64_t	imports;
	uint64_t	import_fails;		/* callback failed or limit reached */
	uint64_t	releases;
	uint64_t	reclaims;		/* reclaim callback calls */
	uint64_t	sleeps;			/* M_WAITOK waits */
	uint64_t	misuses;		/* reports made to the misuse handler */
	uint64_t	spans;			/* spans now present */
	uint64_t	busy_segs;
	uint64_t	free_segs;
	uint64_t	hash_buckets;
	uint64_t	hash_longest_chain;
	uint64_t	hash_resizes;
	uint64_t	bt_total;		/* boundary tags allocated (metadata) */
	uint64_t	bt_free;		/* of which idle in the tag reserve */
	uint64_t	metadata_bytes;		/* tag slabs + hash table */
	vmem_size_t	bytes_inuse;		/* handed to callers */
	vmem_size_t	bytes_free;
	vmem_size_t	bytes_total;		/* all spans */
	vmem_size_t	bytes_imported;		/* of which imported */
	vmem_size_t	bytes_cached;		/* held by quantum caches */
	vmem_size_t	limit;
	vmem_size_t	maxfree;
};
/* 0, or EINVAL for an unknown version. */
KVMEM_EXPORT int vmem_get_stats(vmem_t *vm, struct vmem_stats *st);
/* The stats as one JSON object; returns the length as snprintf() does. */
KVMEM_EXPORT int vmem_stats_json(vmem_t *vm, char *buf, size_t len);
KVMEM_EXPORT const char *vmem_name(vmem_t *vm);

/*
 * Observation of the whole process.  vmem_foreach() calls fn for every
 * live arena in creation order, stopping at (and returning) the first
 * nonzero result; 0 when all were visited, EINVAL for fn NULL.  It holds
 * the process-wide arena list lock: fn must not create or destroy arenas
 * (a vmem_destroy() elsewhere waits until the walk ends).
 */
typedef int vmem_foreach_fn(vmem_t *vm, void *arg);
KVMEM_EXPORT int vmem_foreach(vmem_foreach_fn *fn, void *arg);
/*
 * The arena vm imports from, for observers such as kvmemstat: set by
 * vmem_set_source(), or recorded with vmem_set_parent() by a caller whose
 * own import callback takes from another arena (parent NULL forgets it).
 * NULL when unknown; destroying the parent forgets it too.
 */
KVMEM_EXPORT vmem_t *vmem_get_parent(vmem_t *vm);
KVMEM_EXPORT void vmem_set_parent(vmem_t *vm, vmem_t *parent);

/*
 * Quantum caches.  An arena created with qcache_max > 0 (capped at 16
 * quanta) serves vmem_alloc()/vmem_free() of sizes up to qcache_max from a
 * cache per multiple of the quantum: per-thread magazines, a depot, and
 * slabs of at least 3 * qcache_max taken from the arena.  vmem_size()
 * counts bytes held by the caches as free (VMEM_FREE), not allocated.
 */
/* Return every cached object (all threads' magazines too) to the arena. */
KVMEM_EXPORT void vmem_qcache_drain(vmem_t *vm);
/* Number of caches (qcache_max / quantum). */
KVMEM_EXPORT unsigned vmem_qcache_count(vmem_t *vm);
struct vmem_qcache_stats {
	uint32_t	version;		/* in: VMEM_STATS_VERSION */
	uint32_t	size;			/* out: sizeof the struct filled */
	vmem_size_t	objsize;
	uint64_t	hits;			/* allocations served by magazines */
	uint64_t	misses;			/* visits to the depot or slab layer */
	uint64_t	contention;		/* depot lock found held */
	uint64_t	mag_size;		/* capacity of new magazines */
	uint64_t	slabs;			/* slabs now held */
	vmem_size_t	slab_size;
	uint64_t	slab_imports;
	uint64_t	slab_releases;
	uint64_t	depot_full;		/* magazines in the depot */
	uint64_t	depot_empty;
	uint64_t	objs_in_threads;	/* cached in threads' magazines */
	uint64_t	objs_in_depot;
	uint64_t	objs_in_slabs;		/* free inside slabs */
	uint64_t	objs_out;		/* handed to callers */
	uint64_t	threads;		/* threads with a cache here */
	/* Version 2: objects taken from the arena one at a time, when no
	 * slab fitted (an arena smaller than a slab, or fragmented). */
	uint64_t	lone;			/* such objects the cache owns now */
	uint64_t	lone_imports;
	uint64_t	lone_releases;
};
/* Stats of cache idx (objects of idx + 1 quanta); 0 or EINVAL. */
KVMEM_EXPORT int vmem_get_qcache_stats(vmem_t *vm, unsigned idx, struct vmem_qcache_stats *st);

/* Print every span and segment through a printf-like function. */
typedef int vmem_printf_fn(const char *fmt, ...);
KVMEM_EXPORT void vmem_dump(vmem_t *vm, vmem_printf_fn *pr);

/*
 * Verify every invariant of the arena (address order, no overlap,
 * coalescing, free lists and bitmap, hash, counters).  Returns 0, or
 * nonzero after printing the first violation to stderr.
 */
KVMEM_EXPORT int vmem_check(vmem_t *vm);

/* ---- Misuse reporting ---------------------------------------------------- */
enum vmem_misuse {
	VMEM_MISUSE_DOUBLE_FREE = 1,	/* the address is already free */
	VMEM_MISUSE_UNKNOWN_FREE,	/* the address was never allocated here */
	VMEM_MISUSE_SIZE_MISMATCH,	/* freed with another size than allocated */
	VMEM_MISUSE_ADD_OVERLAP,	/* vmem_add() over an existing span */
	VMEM_MISUSE_LEAK,		/* vmem_destroy() with live allocations */
	VMEM_MISUSE_BAD_ARG		/* an argument no call could accept */
};
/*
 * Called with the arena unlocked.  msg is a complete one-line description.
 * The default handler prints msg to stderr and aborts.  When a handler
 * returns, the misused call has no effect.
 */
typedef void vmem_misuse_fn(void *arg, vmem_t *vm, enum vmem_misuse kind,
    vmem_addr_t addr, vmem_size_t size, const char *msg);
/* Per arena; vm NULL sets the process-wide default for arenas without one. */
KVMEM_EXPORT void vmem_set_misuse_handler(vmem_t *vm, vmem_misuse_fn *fn, void *arg);
KVMEM_EXPORT const char *vmem_misuse_name(enum vmem_misuse kind);

#ifdef __cplusplus
}
#endif

#endif /* KVMEM_VMEM_H */
