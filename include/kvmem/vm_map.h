/*
 * <kvmem/vm_map.h> -- address-space maps (FreeBSD vm_map / NetBSD uvm_map).
 *
 * A map covers the virtual range [min, max) and records which parts of it
 * are in use as entries: [start, end) with protection, maximum protection,
 * inheritance, advice, a wiring count, flags, and either an optional backing
 * object and offset or a submap.  Finding free space costs O(log n) in the
 * number of entries: entries live in a balanced tree in which every node
 * also knows the largest free gap of its subtree.  kmem keeps kernel_map
 * and its submaps as maps.  See vm_map(3) and doc/vm_map.md.
 *
 * Every call takes the map's lock itself, unless the calling thread already
 * holds it through vm_map_lock(), in which case the call runs inside that
 * critical section (so findspace + insert can be made atomic).
 */
#ifndef KVMEM_VM_MAP_H
#define KVMEM_VM_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FreeBSD VM types (vm_offset_t, vm_prot_t, VM_PROT_*, ...), shared by the layers. */
#include <kvmem/vm_types.h>

/* Access advice for vm_map_madvise(); recorded, not acted on. */
#define VM_MAP_ADV_NORMAL	0
#define VM_MAP_ADV_RANDOM	1
#define VM_MAP_ADV_SEQUENTIAL	2

/*
 * find_space for vm_map_find() / vm_map_findspace() (FreeBSD's values).
 *   VMFS_NO_SPACE       no search: use exactly *addr (fixed placement)
 *   VMFS_ANY_SPACE      first fit, page aligned
 *   VMFS_OPTIMAL_SPACE  superpage aligned if possible, else any space
 *   VMFS_SUPER_SPACE    superpage aligned (phase from the object offset)
 *                       when the request can hold a whole superpage
 *   VMFS_ALIGNED_SPACE(n) aligned to 2^n bytes (at least the page size)
 * kvmem extension, OR-ed with any of the searching modes:
 *   VMFS_TOPDOWN        the highest placement at or below the hint
 */
#ifndef VMFS_NO_SPACE
#define VMFS_NO_SPACE		0
#define VMFS_ANY_SPACE		1
#define VMFS_OPTIMAL_SPACE	2
#define VMFS_SUPER_SPACE	3
#define VMFS_ALIGNED_SPACE(n)	((n) << 8)
#endif
#define VMFS_TOPDOWN		0x10000

/* cow flags of vm_map_insert()/vm_map_find(): */
#define VM_MAP_NOFAULT		0x0001	/* no object; pages are entered directly */
#define VM_MAP_NOMERGE		0x0002	/* never merge this entry with a neighbour */
#define VM_MAP_INHERIT_SHARE	0x0100	/* inheritance VM_INHERIT_SHARE, not DEFAULT */

/* Entry flags reported in vm_map_entry_info.flags: */
#define VM_MAP_ENTRY_NOFAULT	VM_MAP_NOFAULT
#define VM_MAP_ENTRY_NOMERGE	VM_MAP_NOMERGE
#define VM_MAP_ENTRY_IS_SUB_MAP	0x0004	/* the entry hands its range to a submap */
#define VM_MAP_ENTRY_FREE	0x0080	/* (lookup) the info describes free space */

#define VM_MAP_NAME_MAX		32
#define VM_MAP_DEFAULT_PAGE_SIZE 4096

/*
 * Storage for one map.  The layout is private; the size is public so a map
 * can be embedded or static and set up with vm_map_init(), as FreeBSD
 * does for kernel_map and its submaps.
 */
#define VM_MAP_STORAGE_SIZE	1024

struct vm_map {
	union {
		unsigned char	vm_opaque[VM_MAP_STORAGE_SIZE];
		long double	vm_align_ld;
		void		*vm_align_p;
		uint64_t	vm_align_u64;
	} vm_storage;
};
typedef struct vm_map *vm_map_t;

/* One entry, as reported by lookup and walk (a copy: stable after the call). */
struct vm_map_entry_info {
	vm_offset_t	start;
	vm_offset_t	end;
	vm_prot_t	protection;
	vm_prot_t	max_protection;
	vm_inherit_t	inheritance;
	uint8_t		advice;		/* VM_MAP_ADV_* */
	unsigned	flags;		/* VM_MAP_ENTRY_* */
	unsigned	wired_count;
	vm_object_t	object;		/* NULL if none */
	vm_ooffset_t	offset;		/* of start within object */
	vm_map_t	submap;		/* VM_MAP_ENTRY_IS_SUB_MAP */
};

/*
 * What the map asks of the physical map layer (pmap_sim in kmem).  Every
 * member may be NULL.  They are called with the map locked for writing and
 * must not call into the same map.
 *   remove      mappings of [start, end) go away (on every deleted range,
 *               once per deleted entry piece, before free_pages);
 *   free_pages  the pages of object in [offset, offset + size) are no
 *               longer mapped by this map (kernel-object entries: free them);
 *   protect     the rights of [start, end) were reduced to prot.
 */
struct vm_map_pmap_ops {
	void	(*remove)(void *arg, vm_offset_t start, vm_offset_t end);
	void	(*free_pages)(void *arg, vm_object_t object, vm_ooffset_t offset,
		    vm_size_t size);
	void	(*protect)(void *arg, vm_offset_t start, vm_offset_t end,
		    vm_prot_t prot);
};

/* ---- Life cycle ----------------------------------------------------------- */

/*
 * Create an empty map of [min, max).  page_size: a power of two (0 means
 * VM_MAP_DEFAULT_PAGE_SIZE); min and max multiples of it, min < max.  The
 * superpage size starts at 512 pages.  Returns NULL with errno EINVAL for
 * bad arguments, ENOMEM when out of memory.
 */
KVMEM_EXPORT vm_map_t vm_map_create(const char *name, vm_offset_t min,
    vm_offset_t max, vm_size_t page_size);
/* As vm_map_create() in caller storage (at least sizeof(struct vm_map)). */
KVMEM_EXPORT vm_map_t vm_map_init(vm_map_t storage, const char *name,
    vm_offset_t min, vm_offset_t max, vm_size_t page_size);
/*
 * Delete every entry (pmap callbacks included; submaps installed here are
 * released, not destroyed) and free the map.  Destroying a map that is
 * still installed as a submap, or that has threads sleeping in
 * vm_map_find_wait(), is a misuse.
 */
KVMEM_EXPORT void vm_map_destroy(vm_map_t map);

/* Install the pmap callbacks (ops is copied; NULL removes them). */
KVMEM_EXPORT void vm_map_set_pmap(vm_map_t map, const struct vm_map_pmap_ops *ops,
    void *arg);
/* Superpage size for VMFS_SUPER_SPACE: a power-of-two multiple of the page
 * size, or 0 (superpage requests become plain).  0 or EINVAL. */
KVMEM_EXPORT int vm_map_set_superpage_size(vm_map_t map, vm_size_t size);

KVMEM_EXPORT const char *vm_map_name(vm_map_t map);
KVMEM_EXPORT vm_offset_t vm_map_min(vm_map_t map);
KVMEM_EXPORT vm_offset_t vm_map_max(vm_map_t map);
KVMEM_EXPORT vm_size_t vm_map_page_size(vm_map_t map);

/* ---- Locking ---------------------------------------------------------------- */

/*
 * Take / drop the map's lock for writing, to make several calls one atomic
 * step.  While held, this thread's calls on the map run under it; other
 * threads wait.  Not recursive (a second vm_map_lock() is a misuse).
 */
KVMEM_EXPORT void vm_map_lock(vm_map_t map);
KVMEM_EXPORT void vm_map_unlock(vm_map_t map);
/* Whether the calling thread holds the map's lock through vm_map_lock(). */
KVMEM_EXPORT bool vm_map_locked(vm_map_t map);

/* ---- Finding space and inserting -------------------------------------------- */

/*
 * Find room for length bytes without changing the map.  Bottom-up (the
 * default): the lowest placement at or above hint (hint below min means
 * min).  VMFS_TOPDOWN: the highest placement at or below hint.  For
 * VMFS_NO_SPACE, whether [hint, hint + length) is free.
 * Returns 0 and *addrp; ENOMEM if no placement exists; EEXIST for an
 * occupied VMFS_NO_SPACE range; EINVAL for length 0 or not a page
 * multiple, a bad find_space, or an unaligned / out-of-map fixed range.
 */
KVMEM_EXPORT int vm_map_findspace(vm_map_t map, vm_offset_t hint, vm_size_t length,
    int find_space, vm_offset_t *addrp);

/*
 * Find space (as vm_map_findspace, hint in *addr) and insert an entry
 * there in one step; the placement also ends at or below max_addr when
 * that is not 0.  With an object, VMFS_SUPER_SPACE aligns so that the
 * address and offset agree modulo the superpage size.  Returns 0 and the
 * start in *addr, or the errors of vm_map_findspace() and vm_map_insert().
 */
KVMEM_EXPORT int vm_map_find(vm_map_t map, vm_object_t object, vm_ooffset_t offset,
    vm_offset_t *addr, vm_size_t length, vm_offset_t max_addr, int find_space,
    vm_prot_t prot, vm_prot_t max, int cow);

/*
 * As vm_map_find() (not VMFS_NO_SPACE), but when there is no room, sleep
 * until a deletion in this map frees some and try again (kmap_alloc_wait,
 * uvm_km_valloc_wait).  Fails at once with ENOMEM when even an empty map
 * could not hold the request, EDEADLK when the caller holds the map lock.
 */
KVMEM_EXPORT int vm_map_find_wait(vm_map_t map, vm_object_t object, vm_ooffset_t offset,
    vm_offset_t *addr, vm_size_t length, vm_offset_t max_addr, int find_space,
    vm_prot_t prot, vm_prot_t max, int cow);

/*
 * Insert an entry for exactly [start, end), merging it with a compatible
 * neighbour when neither is VM_MAP_NOMERGE (same protections, inheritance,
 * advice, wiring and flags; same object at contiguous offsets, or none).
 * Returns 0; EINVAL for an unaligned, empty or out-of-map range, unknown
 * cow bits, VM_MAP_NOFAULT with an object, or prot bits outside
 * VM_PROT_ALL; EACCES if prot exceeds max; EEXIST if any part of the range
 * is already mapped; ENOMEM if no entry could be allocated.
 */
KVMEM_EXPORT int vm_map_insert(vm_map_t map, vm_object_t object, vm_ooffset_t offset,
    vm_offset_t start, vm_offset_t end, vm_prot_t prot, vm_prot_t max, int cow);

/* ---- Deleting ------------------------------------------------------------------ */

/*
 * Unmap [start, end): entries inside go, entries straddling an end are
 * clipped; for each deleted piece the pmap's remove is called and, if it
 * has an object, free_pages.  Threads sleeping in vm_map_find_wait() are
 * woken.  Unmapped parts are ignored (an unmapped range is a no-op).
 * Returns 0; EINVAL for an unaligned or out-of-map range, or one that
 * covers only part of a submap entry; ENOMEM if a clip could not allocate
 * an entry.  On error the map is unchanged.
 */
KVMEM_EXPORT int vm_map_remove(vm_map_t map, vm_offset_t start, vm_offset_t end);
/* FreeBSD's name for the same operation under a held lock: identical here. */
KVMEM_EXPORT int vm_map_delete(vm_map_t map, vm_offset_t start, vm_offset_t end);

/* ---- Changing entries ------------------------------------------------------------ */

/*
 * The calls below change the mapped parts of [start, end), clipping
 * entries at the ends and merging compatible neighbours afterwards.  All
 * return EINVAL for an unaligned or out-of-map range or one meeting a
 * submap entry, ENOMEM if a clip could not allocate an entry, and leave the
 * map unchanged on any error.
 *
 * vm_map_protect: new protection (EACCES if it exceeds an entry's maximum);
 * with set_max, the maximum becomes new_prot and the protection is reduced
 * to fit it.  The pmap's protect is called where rights were removed.
 */
KVMEM_EXPORT int vm_map_protect(vm_map_t map, vm_offset_t start, vm_offset_t end,
    vm_prot_t new_prot, bool set_max);
/* VM_INHERIT_SHARE/COPY/NONE/ZERO, else EINVAL. */
KVMEM_EXPORT int vm_map_inherit(vm_map_t map, vm_offset_t start, vm_offset_t end,
    vm_inherit_t inheritance);
/* VM_MAP_ADV_NORMAL/RANDOM/SEQUENTIAL, else EINVAL. */
KVMEM_EXPORT int vm_map_madvise(vm_map_t map, vm_offset_t start, vm_offset_t end,
    int advice);
/*
 * Count one more (fewer) wiring of every entry in the range.  The range
 * must be mapped without holes (ENOMEM, as mlock(2)); unwiring an entry that
 * is not wired is EINVAL; a wiring count saturates at 65535 (EINVAL).
 */
KVMEM_EXPORT int vm_map_wire(vm_map_t map, vm_offset_t start, vm_offset_t end);
KVMEM_EXPORT int vm_map_unwire(vm_map_t map, vm_offset_t start, vm_offset_t end);

/*
 * Split the entry containing addr at addr (FreeBSD's clip).  A no-op when
 * addr is free or already an entry boundary.  EINVAL for an unaligned or
 * out-of-map address or a submap entry; ENOMEM if no entry could be
 * allocated.  Later changes may merge the pieces again.
 */
KVMEM_EXPORT int vm_map_clip(vm_map_t map, vm_offset_t addr);

/*
 * Whether addr lies in an entry.  If info is not NULL it receives that
 * entry; otherwise the free gap around addr with flags VM_MAP_ENTRY_FREE
 * (start == end == addr when addr is outside the map).  Uses and updates
 * the map's lookup hint.
 */
KVMEM_EXPORT bool vm_map_lookup_entry(vm_map_t map, vm_offset_t addr,
    struct vm_map_entry_info *info);

/* ---- Submaps -------------------------------------------------------------------- */

/*
 * Hand [start, end) of map to submap: the range must be exactly one entry
 * without object, submap or wiring (as inserted by vm_map_find with no
 * object), and submap must cover exactly [start, end) and not be installed
 * anywhere yet.  Else EINVAL, nothing changed.  Allocations in the submap
 * never take map's lock.  Remove the range from map before destroying the
 * submap.
 */
KVMEM_EXPORT int vm_map_submap(vm_map_t map, vm_offset_t start, vm_offset_t end,
    vm_map_t submap);
/*
 * Carve size bytes (rounded up to pages) out of parent and make them a new
 * submap (uvm_km_suballoc, kmem_subinit): find space as vm_map_find from
 * hint *min (VMFS_NO_SPACE: exactly at *min), insert a no-merge entry, and
 * install a map over it with parent's page size, superpage size and pmap.
 * storage: caller storage for the submap, or NULL to allocate it.  Returns
 * the submap and its bounds in *min and *max, or NULL with errno set as
 * vm_map_find() would fail.
 */
KVMEM_EXPORT vm_map_t vm_map_suballoc(vm_map_t parent, vm_map_t storage,
    const char *name, vm_offset_t *min, vm_offset_t *max, vm_size_t size,
    int find_space);

/* ---- Observation ---------------------------------------------------------------- */

KVMEM_EXPORT size_t vm_map_entry_count(vm_map_t map);
/* Bytes mapped (the sum of entry sizes; submap entries included). */
KVMEM_EXPORT vm_size_t vm_map_size(vm_map_t map);

/*
 * Call fn for each entry in address order, with the map locked: fn must not
 * call into the same map.  A nonzero return stops the walk and is returned.
 */
typedef int vm_map_walk_fn(void *arg, const struct vm_map_entry_info *entry);
KVMEM_EXPORT int vm_map_walk(vm_map_t map, vm_map_walk_fn *fn, void *arg);

/* Print the map, its entries and gaps through a printf-like function. */
typedef int vm_map_printf_fn(const char *fmt, ...);
KVMEM_EXPORT void vm_map_dump(vm_map_t map, vm_map_printf_fn *pr);

/* Statistics, versioned: set st->version = VM_MAP_STATS_VERSION first. */
#define VM_MAP_STATS_VERSION	1
struct vm_map_stats {
	uint32_t	version;		/* in: VM_MAP_STATS_VERSION */
	uint32_t	size;			/* out: sizeof the struct filled */
	char		name[VM_MAP_NAME_MAX];
	vm_offset_t	min, max;
	vm_size_t	page_size;
	vm_size_t	superpage_size;
	uint64_t	entries;		/* entries now in the map */
	uint64_t	submap_entries;		/* of which hand out a submap */
	vm_size_t	size_mapped;		/* bytes in entries */
	vm_size_t	size_free;
	vm_size_t	maxfree;		/* largest free gap */
	uint64_t	tree_height;		/* longest root-to-leaf path */
	uint64_t	is_submap;		/* installed in a parent map */
	uint64_t	finds;			/* successful searches (find/findspace) */
	uint64_t	find_fails;		/* ENOMEM from a search */
	uint64_t	inserts;		/* successful insertions */
	uint64_t	merges;			/* insertions/changes absorbed by a neighbour */
	uint64_t	clips;			/* entries split */
	uint64_t	removes;		/* remove/delete calls that succeeded */
	uint64_t	entries_removed;
	uint64_t	changes;		/* protect/inherit/madvise/wire calls done */
	uint64_t	lookups;
	uint64_t	lookup_hint_hits;
	uint64_t	sleeps;			/* vm_map_find_wait() sleeps */
	uint64_t	wakeups;		/* deletions that woke sleepers */
	uint64_t	misuses;
	uint64_t	entries_allocated;	/* entry records owned (in use + idle) */
	uint64_t	entries_idle;
	uint64_t	metadata_bytes;
};
/* 0, or EINVAL for a NULL st or an unknown version. */
KVMEM_EXPORT int vm_map_get_stats(vm_map_t map, struct vm_map_stats *st);

/*
 * Verify every invariant of the map: address order, no overlap, bounds and
 * alignment, list/tree agreement, red-black shape, each node's gap and
 * subtree maximum, the lookup hint, submap links and the counters.
 * Returns 0, or nonzero after printing the first violation to stderr.
 */
KVMEM_EXPORT int vm_map_check(vm_map_t map);

/* ---- Misuse reporting ------------------------------------------------------------- */
enum vm_map_misuse {
	VM_MAP_MISUSE_DESTROY_SUBMAP = 1,	/* destroying a map still installed as a submap */
	VM_MAP_MISUSE_DESTROY_WAITERS,		/* destroying a map with sleepers */
	VM_MAP_MISUSE_LOCK_RECURSE,		/* vm_map_lock() while holding it */
	VM_MAP_MISUSE_UNLOCK_NOT_OWNER,		/* vm_map_unlock() without holding it */
	VM_MAP_MISUSE_WAIT_LOCKED		/* vm_map_find_wait() while holding the lock */
};
/*
 * Called with the map unlocked (or still held by the caller through
 * vm_map_lock()).  msg is a complete one-line description.  The default
 * handler prints it to stderr and aborts.  When a handler returns, the
 * misused call has no effect (vm_map_find_wait returns EDEADLK).
 */
typedef void vm_map_misuse_fn(void *arg, vm_map_t map, enum vm_map_misuse kind,
    vm_offset_t addr, const char *msg);
/* Per map; map NULL sets the process-wide default for maps without one. */
KVMEM_EXPORT void vm_map_set_misuse_handler(vm_map_t map, vm_map_misuse_fn *fn, void *arg);
KVMEM_EXPORT const char *vm_map_misuse_name(enum vm_map_misuse kind);

#ifdef __cplusplus
}
#endif

#endif /* KVMEM_VM_MAP_H */
