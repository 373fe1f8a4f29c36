/*
 * vm_map_impl.h -- internals of the address-space map, shared by the map's
 * source files and by white-box tests.  Nothing here is part of the ABI.
 */
#ifndef KVMEM_VM_MAP_IMPL_H
#define KVMEM_VM_MAP_IMPL_H

#include "kvmem_config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <kvmem/vm_map.h>

/*
 * One map entry.  Every entry is on the map's address-ordered list (prev,
 * next; the map's header closes the ring) and in its red-black tree (left,
 * right, parent), keyed by start.
 *
 * gap is the free space after the entry: next->start - end, where the
 * header's start is the map's max.  maxgap is the largest gap of any entry
 * in the subtree rooted here.  The free space before the first entry is the
 * header's gap (the header's end is the map's min); the header is not in
 * the tree.
 */
struct vme {
	struct vme	*left;
	struct vme	*right;
	struct vme	*parent;
	struct vme	*prev;
	struct vme	*next;
	vm_offset_t	start;
	vm_offset_t	end;
	vm_size_t	gap;
	vm_size_t	maxgap;
	union {
		vm_object_t		object;		/* plain entries (may be NULL) */
		struct vm_map_impl	*submap;	/* VM_MAP_ENTRY_IS_SUB_MAP */
		struct vme		*idle_next;	/* on the idle list */
	} u;
	vm_ooffset_t	offset;
	uint16_t	wired;
	uint8_t		flags;		/* VM_MAP_ENTRY_* (low byte) */
	uint8_t		prot;
	uint8_t		maxprot;
	uint8_t		inherit;
	uint8_t		advice;
	uint8_t		red;		/* tree colour: 1 red, 0 black */
};

#define VME_WIRED_MAX		0xffffu
#define VME_PER_SLAB		63

struct vme_slab {
	struct vme_slab	*next;
	struct vme	entries[VME_PER_SLAB];
};

#define VM_MAP_MAGIC		0x766d6d70u	/* "vmmp" */

struct vm_map_impl {
	/* Set at creation, read-only afterwards. */
	uint32_t		magic;
	bool			heap_allocated;
	char			name[VM_MAP_NAME_MAX];
	vm_offset_t		min;
	vm_offset_t		max;
	vm_size_t		page_size;
	vm_size_t		page_mask;

	/*
	 * The map lock.  owner is the token of the thread holding it for
	 * writing (NULL otherwise): calls made by that thread skip locking.
	 */
	pthread_rwlock_t	lock;
	_Atomic(void *)		owner;

	/* Sleepers of vm_map_find_wait(): seq bumped by every waking delete. */
	pthread_mutex_t		wait_mtx;
	pthread_cond_t		wait_cv;
	uint64_t		wait_seq;	/* written under lock + wait_mtx */
	uint32_t		nwaiters;	/* under lock */

	/* Nonzero while a parent map's entry hands its range to this map. */
	_Atomic int		installed;

	/* Configuration, under the lock. */
	vm_size_t		superpage;
	struct vm_map_pmap_ops	pmap;
	void			*pmap_arg;
	vm_map_misuse_fn	*misuse_fn;
	void			*misuse_arg;

	/* Entries, under the lock. */
	struct vme		header;
	struct vme		*root;
	_Atomic(struct vme *)	hint;		/* last lookup: an entry or &header */
	uint64_t		nentries;
	uint64_t		nsubmaps;
	vm_size_t		size;		/* bytes in entries */

	/* Entry records: idle list carved from slabs, under the lock. */
	struct vme		*idle;
	uint64_t		nidle;
	uint64_t		ntotal;
	struct vme_slab		*slabs;
	unsigned		inject_nomem;	/* tests: fail this many reserves */

	/* Statistics.  Writers' counters under the lock; readers' atomic. */
	uint64_t		st_finds;
	uint64_t		st_find_fails;
	uint64_t		st_inserts;
	uint64_t		st_merges;
	uint64_t		st_clips;
	uint64_t		st_removes;
	uint64_t		st_entries_removed;
	uint64_t		st_changes;
	uint64_t		st_sleeps;
	uint64_t		st_wakeups;
	_Atomic uint64_t	st_misuses;
	_Atomic uint64_t	st_rfinds;	/* vm_map_findspace (read lock) */
	_Atomic uint64_t	st_rfind_fails;
	_Atomic uint64_t	st_lookups;
	_Atomic uint64_t	st_hint_hits;
};

#define VMI(m)	((struct vm_map_impl *)(void *)(m))
#define VMT(m)	((vm_map_t)(void *)(m))

/* ---- Process-wide counters of live objects (tests' fini checks) ---------- */
long vm_map__live_maps(void);	/* maps created/initialized and not destroyed */
long vm_map__live_slabs(void);	/* entry slabs not yet freed */

/* Tests: make the next n entry reservations of m fail with ENOMEM. */
void vm_map__inject_nomem(vm_map_t map, unsigned n);
/* Tests: the tree root (for corrupting it in checker tests). */
struct vme *vm_map__root(vm_map_t map);

/* ---- Locking helpers (vm_map.c) -------------------------------------------- */

/* Validate a map handle (always on: a dead or foreign map panics). */
struct vm_map_impl *vm_map__get(vm_map_t map, const char *call);
/* Take the lock for writing unless this thread holds it; returns whether taken. */
bool vm_map__wlock(struct vm_map_impl *m);
void vm_map__wunlock(struct vm_map_impl *m, bool taken);
/* Take the lock for reading unless this thread holds it for writing. */
bool vm_map__rlock(struct vm_map_impl *m);
void vm_map__runlock(struct vm_map_impl *m, bool taken);

/* ---- The augmented tree (vm_map_tree.c); lock held for writing ------------- */

/*
 * Link e (start/end set) right after prev (an entry or &m->header) in the
 * list and the tree, set e's and prev's gaps and fix every maxgap.
 * The caller guarantees address order.
 */
void vmt_link_after(struct vm_map_impl *m, struct vme *prev, struct vme *e);
/* Unlink e from list and tree; its predecessor's gap absorbs its range. */
void vmt_unlink(struct vm_map_impl *m, struct vme *e);
/* e's gap or extent changed: recompute e->gap from the list and fix maxgaps. */
void vmt_regap(struct vm_map_impl *m, struct vme *e);
/*
 * The entry containing addr (returns true), or the last entry ending at or
 * before addr, or &m->header (returns false).  Lock held (either mode).
 */
bool vmt_lookup(const struct vm_map_impl *m, vm_offset_t addr, struct vme **out);
/* Largest gap of the subtree (0 for NULL). */
static inline vm_size_t
vmt_maxgap(const struct vme *e)
{
	return e != NULL ? e->maxgap : 0;
}
/* max(gap, children's maxgap) */
static inline vm_size_t
vmt_calc_maxgap(const struct vme *e)
{
	vm_size_t g = e->gap;
	if (e->left != NULL && e->left->maxgap > g)
		g = e->left->maxgap;
	if (e->right != NULL && e->right->maxgap > g)
		g = e->right->maxgap;
	return g;
}
/* The largest free gap of the map (header's gap included). */
static inline vm_size_t
vmt_map_maxgap(const struct vm_map_impl *m)
{
	vm_size_t g = vmt_maxgap(m->root);
	return m->header.gap > g ? m->header.gap : g;
}
uint64_t vmt_height(const struct vme *e);

/* ---- Finding space (vm_map_findspace.c); lock held (either mode) ----------- */

/* A normalized request: a placement a satisfies a % align == phase and
 * lo <= a, a + length <= hi. */
struct vm_map_req {
	vm_size_t	length;
	vm_size_t	align;		/* power of two >= page size */
	vm_size_t	phase;		/* < align, page multiple */
	vm_offset_t	lo;
	vm_offset_t	hi;
	bool		topdown;
};
/* The decoded find_space argument. */
struct vm_map_fs {
	bool		fixed;		/* VMFS_NO_SPACE */
	bool		topdown;
	bool		super;		/* SUPER or OPTIMAL */
	bool		optimal;	/* fall back to page alignment */
	vm_size_t	align;		/* VMFS_ALIGNED_SPACE, else page size */
};
/* Decode find_space for map m.  0 or EINVAL. */
int vm_map__decode_fs(const struct vm_map_impl *m, int find_space, struct vm_map_fs *fs);
/*
 * Build the request for a search (not fixed) of length bytes from hint,
 * bounded by max_addr (0: none), superpage phase from offset.  super
 * selects superpage alignment when the request can hold one.  Returns
 * false when no placement can exist (empty window).
 */
bool vm_map__make_req(const struct vm_map_impl *m, const struct vm_map_fs *fs,
    bool super, vm_offset_t hint, vm_size_t length, vm_offset_t max_addr,
    vm_ooffset_t offset, struct vm_map_req *req);
/* Whether req fits in the free range [glo, ghi); the placement in *addr. */
bool vm_map__fit(const struct vm_map_req *req, vm_offset_t glo, vm_offset_t ghi,
    vm_offset_t *addr);
/*
 * First fit (or, top-down, last fit) of req among the map's gaps.  Returns
 * true with the placement in *addr and the entry owning the gap (an entry
 * or &m->header) in *prev; false if none.
 */
bool vm_map__search(const struct vm_map_impl *m, const struct vm_map_req *req,
    vm_offset_t *addr, struct vme **prev);

/* ---- Checking (vm_map_check.c) ----------------------------------------------- */
/* Whole-map check, lock held.  0 or nonzero after printing. */
int vm_map__check_locked(struct vm_map_impl *m);
/* Fill info from e (an entry). */
void vm_map__info(const struct vme *e, struct vm_map_entry_info *info);

#endif /* KVMEM_VM_MAP_IMPL_H */
