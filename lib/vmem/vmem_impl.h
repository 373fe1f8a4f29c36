/*
 * vmem_impl.h -- internals of the vmem arena, shared by the arena's source
 * files and by white-box tests.  Nothing here is part of the ABI.
 */
#ifndef KVMEM_VMEM_IMPL_H
#define KVMEM_VMEM_IMPL_H

#include "kvmem_config.h"

#include <stdbool.h>
#include <stdint.h>

#include <kvmem/vmem.h>

#include "vmem_lock.h"

/*
 * Boundary tag: one per span and one per segment.  Every tag sits on the
 * arena's address-ordered segment list; a span tag precedes the segments
 * that tile its span.  The q_ links put a tag on exactly one other list:
 *   free segment  -> its size class's free list (doubly linked via q_pprev)
 *   busy segment  -> its hash chain (singly linked)
 *   span tag      -> the arena's span list, in address order
 *   idle tag      -> the arena's reserve of unused tags
 */
enum bt_type {
	BT_NONE = 0,		/* the list head sentinel */
	BT_SPAN = 1,
	BT_FREE = 2,
	BT_BUSY = 3,
};

/* span_flags */
#define BT_SPAN_IMPORTED	0x01	/* came from the import callback */
#define BT_SPAN_RELEASABLE	0x02	/* give back to the source when free */
#define BT_SPAN_MERGEABLE	0x04	/* joins adjacent mergeable spans */

struct bt {
	struct bt	*seg_next;
	struct bt	*seg_prev;
	struct bt	*q_next;
	struct bt	**q_pprev;
	vmem_addr_t	start;
	vmem_size_t	size;
	uint16_t	fl;		/* free list index (BT_FREE) */
	uint8_t		type;		/* enum bt_type */
	uint8_t		span_flags;	/* BT_SPAN_* (BT_SPAN) */
};

/*
 * Free lists: sizes are counted in quanta (q).  Lists 0..14 are exact
 * (q = 1..15); above that each power of two [2^k, 2^(k+1)) is split into
 * four equal sub-classes, so a list never holds sizes more than 25% apart.
 */
#define VMEM_FL_EXACT		15
#define VMEM_FL_SUB_BITS	2
#define VMEM_NFREELIST		(VMEM_FL_EXACT + (64 - 4) * (1 << VMEM_FL_SUB_BITS))
#define VMEM_FL_WORDS		((VMEM_NFREELIST + 63) / 64)

#define VMEM_HASH_MIN_BITS	4
#define VMEM_HASH_MIN		(1u << VMEM_HASH_MIN_BITS)

#define BT_PER_SLAB		63

struct bt_slab {
	struct bt_slab	*next;
	struct bt	tags[BT_PER_SLAB];
};

#define VMEM_MAGIC		0x766d656du	/* "vmem" */

struct qcache;
struct qc_tcache;

struct vmem_arena {
	/* Set at creation, read-only afterwards. */
	uint32_t		magic;
	bool			heap_allocated;	/* vmem_create (free on destroy) */
	char			name[VMEM_NAME_MAX];
	vmem_size_t		quantum;
	vmem_size_t		quantum_mask;
	unsigned		quantum_shift;
	vmem_size_t		qcache_max;
	unsigned		qc_slot;	/* per-thread table index; 0: none */

	/* The process-wide list of live arenas (vmem_foreach), under its own lock. */
	struct vmem_arena	*reg_next, *reg_prev;
	bool			registered;

	vmem_lock_t		lock;
	vmem_waitq_t		cv;		/* M_WAITOK sleepers */

	/* Configuration, written under the lock by vmem_set_*(). */
	vmem_import_t		*importfn;
	vmem_ximport_t		*ximportfn;
	vmem_release_t		*releasefn;
	void			*import_arg;
	/* For observers (vmem_get_parent): written under the arena list
	 * lock, read without it (a vmem_foreach callback holds that lock). */
	_Atomic(struct vmem_arena *) parent;
	vmem_size_t		import_quantum;
	vmem_reclaim_t		*reclaimfn;
	vmem_size_t		limit;
	vmem_misuse_fn		*misuse_fn;
	void			*misuse_arg;

	/* Accounting, under the lock. */
	vmem_size_t		size_total;
	vmem_size_t		size_inuse;
	vmem_size_t		size_imported;
	uint64_t		nbusy;
	uint64_t		nfree;
	uint64_t		nspans;
	uint32_t		nwaiters;

	/* Statistics, under the lock. */
	uint64_t		st_allocs;
	uint64_t		st_frees;
	uint64_t		st_alloc_fails;
	uint64_t		st_alloc_einval;
	uint64_t		st_imports;
	uint64_t		st_import_fails;
	uint64_t		st_releases;
	uint64_t		st_reclaims;
	uint64_t		st_sleeps;
	uint64_t		st_misuses;
	uint64_t		st_hash_resizes;

	/* Segment list (address order) and span list. */
	struct bt		seg_head;
	struct bt		*span_list;
	struct bt		*rotor;		/* next fit: a tag at or before rotor_addr, or &seg_head */
	vmem_addr_t		rotor_addr;	/* next fit resumes here */
	struct bt		*seg_hint;	/* last segment seg_find() returned, or &seg_head */

	/* Busy-segment hash, sized to the number of busy segments. */
	struct bt		**hash;
	unsigned		hash_bits;
	struct bt		*hash_small[VMEM_HASH_MIN];

	/* Reserve of idle boundary tags, carved from slabs. */
	struct bt		*bt_idle;
	uint64_t		nbt_idle;
	uint64_t		nbt_total;
	struct bt_slab		*slabs;

	/* Quantum caches (vmem_qcache.c); qc is NULL when qcache_max is 0. */
	struct qcache		*qc;		/* qc_n caches, objects of 1..qc_n quanta */
	unsigned		qc_n;
	bool			qc_debug;	/* VMEM_QCACHE_DEBUG: no magazines */
	struct qc_tcache	*qc_threads;	/* per-thread caches (registry lock) */

	/* Segregated free lists and the bitmap of non-empty ones. */
	uint64_t		fl_bitmap[VMEM_FL_WORDS];
	struct bt		*freelist[VMEM_NFREELIST];
	/* Per list, an upper bound of its members' sizes (exact after a full
	 * best-fit scan): best fit skips a list that cannot hold a request. */
	vmem_size_t		fl_max[VMEM_NFREELIST];
};

/* Process-wide counters of live library objects (for tests' fini checks). */
long vmem__live_arenas(void);	/* arenas created and not yet destroyed */
long vmem__live_slabs(void);	/* boundary-tag slabs not yet freed */

/* The always-on check that v is a live arena (panics otherwise). */
struct vmem_arena *vmem__arena(vmem_t *v, const char *call);
/* Report a misuse; no arena lock held.  Message: "vmem 'NAME': " + fmt. */
void vmem__misuse(struct vmem_arena *vm, enum vmem_misuse kind, vmem_addr_t addr,
    vmem_size_t size, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The largest free segment.  Lock held. */
vmem_size_t vmem__maxfree_locked(struct vmem_arena *vm);
/* The whole-arena invariant check.  Lock held.  0 or nonzero after printing. */
int vmem__check_locked(struct vmem_arena *vm);

/* Free-list index helpers, exposed for white-box tests. */
unsigned vmem__fl_index(vmem_size_t q);
unsigned vmem__fl_index_instant(vmem_size_t q);

#endif /* KVMEM_VMEM_IMPL_H */
