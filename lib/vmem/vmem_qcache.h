/*
 * vmem_qcache.h -- quantum caches: internal structures and the hit paths.
 *
 * See the theory block at the top of vmem_qcache.c.  The hit paths are
 * inline here so vmem_alloc()/vmem_free() pay no call for them.
 */
#ifndef KVMEM_VMEM_QCACHE_H
#define KVMEM_VMEM_QCACHE_H

#include "vmem_impl.h"

#include <stdatomic.h>
#include <stdbool.h>

/* ThreadSanitizer must see every access: no inline assembly then. */
#if defined(__SANITIZE_THREAD__)
#define QC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QC_TSAN 1
#endif
#endif

#define QC_MAX_QUANTA	16	/* qcache_max is capped at 16 quanta */
#define QC_SLOTS	256	/* arenas with per-thread caches at one time */
#define QC_MAG_INIT	16	/* first magazine capacity */
#define QC_MAG_MAX	256	/* capacity it may grow to under contention */
#define QC_REAP_INTERVAL 256	/* depot visits between working-set reaps */
#define QC_DEPOT_EMPTY_MAX 64	/* empty magazines a depot keeps */

/* A magazine: a stack of cached objects. */
struct qc_mag {
	struct qc_mag		*next;		/* on a depot list */
	uint32_t		cap;		/* 0 only for the shared empty sentinel */
	_Atomic uint32_t	rounds;		/* objects held */
	_Atomic uint64_t	pops;		/* hits served while in a thread */
	vmem_addr_t		objs[];
};

/* A slab: a run of objects taken from the arena in one segment. */
struct qc_slab {
	struct qc_slab		*hnext;		/* slab hash chain */
	struct qc_slab		*next;		/* partial list */
	struct qc_slab		**pprev;
	vmem_addr_t		base;
	uint64_t		freemap;	/* bit k: object k is in the slab */
	uint32_t		nfree;
	bool			partial;	/* on the partial list */
};

/*
 * A lone object: taken from the arena by itself because no slab would fit
 * (an arena or span smaller than a slab, or too fragmented for one).  It
 * circulates through the magazines like any object and goes straight back
 * to the arena when flushed.
 */
struct qc_lone {
	struct qc_lone		*hnext;
	vmem_addr_t		addr;
};

/* One cache: objects of one multiple of the quantum. */
struct qcache {
	vmem_lock_t		lock;		/* depot and slab layer */
	vmem_size_t		objsize;
	vmem_size_t		slab_size;	/* nobj * objsize */
	vmem_size_t		slab_align;	/* power of two >= slab_size */
	uint32_t		nobj;
	uint32_t		mag_cap;	/* capacity of new magazines */

	struct qc_mag		*full;		/* depot: magazines holding objects */
	struct qc_mag		*empty;		/* depot: empty magazines */
	uint32_t		nfull;
	uint32_t		nempty;
	uint32_t		full_min;	/* fewest full magazines this interval */
	uint32_t		visits;		/* depot visits this interval */
	uint64_t		depot_objs;	/* objects in the full list */

	struct qc_slab		*partial;	/* slabs with free objects */
	struct qc_slab		**slab_hash;
	unsigned		slab_hash_bits;
	uint64_t		nslabs;
	uint64_t		slab_free_objs;	/* objects free inside slabs */

	struct qc_lone		**lone_hash;	/* NULL until the first lone object */
	unsigned		lone_hash_bits;
	uint64_t		nlone;		/* lone objects the cache owns */
	uint64_t		lone_imports;
	uint64_t		lone_releases;

	/* Statistics (under lock). */
	uint64_t		misses;		/* slow-path visits */
	uint64_t		contention;	/* depot lock found held */
	uint64_t		contention_at_grow;
	uint64_t		slab_imports;
	uint64_t		slab_releases;
	uint64_t		retired_hits;	/* hits of per-thread caches gone */
	uint64_t		direct_allocs;	/* served without a thread layer */
	uint64_t		direct_frees;
};

/* One thread's caches for one arena. */
struct qc_tcache {
	/* First, so the hit path indexes it without an offset. */
	_Atomic(struct qc_mag *) loaded[QC_MAX_QUANTA];
	_Atomic uint32_t	busy;		/* owner inside a hit */
	_Atomic uint32_t	slowbusy;	/* owner inside a slow path */
	_Atomic uint32_t	stolen;		/* a drainer took (or is taking) the magazines */
	_Atomic(struct qc_mag *) prev[QC_MAX_QUANTA];
	struct vmem_arena	*vm;		/* NULL once the arena is gone */
	struct qc_tcache	*anext;		/* the arena's list (registry lock) */
	struct qc_tcache	**apprev;
	struct qc_thread	*thr;
	unsigned		slot;
};

/*
 * One thread's table of caches, by arena slot.  Slots without a cache (and
 * slot 0, used by arenas without a thread layer) point at a shared dummy
 * cache whose magazines are the empty sentinel, so the hit path needs no
 * NULL test; a thread without a table sees a shared dummy table.
 */
struct qc_thread {
	struct qc_tcache	*slot[QC_SLOTS];
};

extern __thread struct qc_thread *vmem__qc_self
    __attribute__((tls_model("initial-exec")));

int  vmem__qc_init(struct vmem_arena *vm, int flags);
void vmem__qc_fini(struct vmem_arena *vm);
int  vmem__qc_alloc_slow(struct vmem_arena *vm, unsigned i, int flags, vmem_addr_t *addrp);
void vmem__qc_free_slow(struct vmem_arena *vm, unsigned i, vmem_addr_t addr, vmem_size_t size);
bool vmem__qc_drain(struct vmem_arena *vm);
/* Sleep (counted in the arena's stats) until a free or vmem_add wakes the
 * arena's sleepers, or VMEM_QC_SLEEP_NS passes; in vmem.c.  No lock held. */
void vmem__qc_sleep(struct vmem_arena *vm);
/* A slab for a cache: vmem_xalloc(size, align, flags) whose ENOMEM is not
 * counted in stats.alloc_fails (the cache counts its caller's failure
 * once).  In vmem.c.  No lock held. */
int vmem__qc_slab_alloc(struct vmem_arena *vm, vmem_size_t size, vmem_size_t align,
    int flags, vmem_addr_t *addrp);
/* One object of size bytes from the arena's free segments, for a cache
 * that cannot have a slab: no import, no drain, no failure counted.
 * 0 or ENOMEM.  In vmem.c.  No lock held. */
int vmem__qc_lone_alloc(struct vmem_arena *vm, vmem_size_t size, vmem_addr_t *addrp);
vmem_size_t vmem__qc_cached_bytes(struct vmem_arena *vm);
int  vmem__qc_check(struct vmem_arena *vm);

/*
 * The hit paths.  The owner marks itself busy (a relaxed store; the signal
 * fence only stops the compiler from sinking it below the loads), uses its
 * loaded magazine and clears busy.  A drainer first swaps the sentinel in
 * for the magazines, then membarrier()s and waits for busy to clear, so a
 * hit either finished with the old magazine before the drainer takes it or
 * sees the sentinel and goes to the slow path.
 */
static inline struct qc_tcache *
qc_mine(const struct vmem_arena *vm)
{
	return vmem__qc_self->slot[vm->qc_slot];
}

/*
 * Count a hit in a single-writer counter.  Only the owning thread writes
 * it (readers load it relaxed and accept a value one behind), so on x86-64
 * one plain add to memory does, without the lock prefix a shared counter
 * would need; elsewhere a relaxed load and store.
 */
static inline void
qc_count(_Atomic uint64_t *c)
{
#if defined(__x86_64__) && !defined(QC_TSAN)
	__asm__ volatile("addq $1, %0" : "+m"(*(uint64_t *)c));
#else
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	    memory_order_relaxed);
#endif
}

/* Hit path of vmem_alloc for cache i: no lock, no read-modify-write. */
static inline bool
qc_alloc_hit(const struct vmem_arena *vm, size_t i, vmem_addr_t *addrp)
{
	struct qc_tcache *tc = qc_mine(vm);
	atomic_store_explicit(&tc->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	struct qc_mag *m = atomic_load_explicit(&tc->loaded[i], memory_order_relaxed);
	uint32_t r = atomic_load_explicit(&m->rounds, memory_order_relaxed);
	bool hit = r != 0;
	if (KVMEM_LIKELY(hit)) {
		*addrp = m->objs[r - 1];
		atomic_store_explicit(&m->rounds, r - 1, memory_order_relaxed);
		qc_count(&m->pops);
	}
	atomic_store_explicit(&tc->busy, 0, memory_order_release);
	return hit;
}

/* Hit path of vmem_free for cache i. */
static inline bool
qc_free_hit(const struct vmem_arena *vm, size_t i, vmem_addr_t addr)
{
	struct qc_tcache *tc = qc_mine(vm);
	atomic_store_explicit(&tc->busy, 1, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	struct qc_mag *m = atomic_load_explicit(&tc->loaded[i], memory_order_relaxed);
	uint32_t r = atomic_load_explicit(&m->rounds, memory_order_relaxed);
	bool hit = r < m->cap;
	if (KVMEM_LIKELY(hit)) {
		m->objs[r] = addr;
		atomic_store_explicit(&m->rounds, r + 1, memory_order_relaxed);
	}
	atomic_store_explicit(&tc->busy, 0, memory_order_release);
	return hit;
}

#endif /* KVMEM_VMEM_QCACHE_H */
