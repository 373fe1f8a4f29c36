/*
 * vmem_qcache.c -- quantum caches: magazines in front of the arena.
 *
 * Theory of operation
 * -------------------
 * An arena created with qcache_max > 0 (capped at QC_MAX_QUANTA quanta)
 * serves vmem_alloc()/vmem_free() of sizes up to qcache_max from one cache
 * per multiple of the quantum, after Bonwick and Adams.  Each cache has
 * three layers:
 *
 *  1. Per-thread magazines.  Every thread has, per arena and cache, a
 *     loaded and a previous magazine (struct qc_tcache).  The hit path pops
 *     from or pushes to the loaded magazine without a lock and without any
 *     atomic read-modify-write: plain loads and stores only.
 *  2. The depot: lists of full and empty magazines behind the cache's lock.
 *     A thread whose two magazines are both empty (alloc) or both full
 *     (free) exchanges one with the depot.  When the lock is found held
 *     often, new magazines are made bigger, so busy caches visit the depot
 *     less.  The depot keeps a bounded number of magazines; the excess goes
 *     down to the slab layer.
 *  3. The slab layer: the cache takes slabs of at least 3 * qcache_max
 *     bytes from the arena (one segment each, aligned to a power of two so
 *     an object finds its slab by masking its address) and carves them into
 *     objects, so cached objects never fragment the arena.  A slab whose
 *     objects have all come back is returned to the arena at once.  An
 *     object coming back that its slab already holds is a double free; one
 *     that belongs to no slab was never allocated from this cache.
 *
 * Taking other threads' magazines.  A drain (before an allocation of the
 * arena fails or sleeps, from the reclaim path, or on request) and
 * vmem_destroy() must empty every thread's magazines, while their owners
 * may be in the middle of a hit.  An owner marks itself busy (relaxed store)
 * and then checks `stolen` (load); a drainer sets `stolen` on every thread
 * cache of the arena, issues membarrier(), which makes every running thread
 * execute a full fence, and waits until each owner is not busy.  After that
 * an owner that had not seen `stolen` has finished its operation, and any
 * later operation sees `stolen` and goes to the slow path, which waits on
 * the registry lock the drainer holds.  The owner pays two stores and a
 * load; the drainer pays a system call.  Without membarrier (not Linux, or
 * an old kernel) there is no thread layer: every cached operation goes to
 * the depot under the cache lock.
 *
 * Locks, in order: the registry lock (process-wide: per-thread tables,
 * arena lists of thread caches, slot numbers), a cache's lock, the arena
 * lock.  The arena is never called (vmem_xalloc may sleep or drain) with a
 * cache lock or the registry lock held; slabs are given back with
 * vmem_xfree after the cache lock is dropped.
 *
 * Debug mode (VMEM_QCACHE_DEBUG at creation): no magazines; every cached
 * operation goes to the slab layer, which then catches a double free at the
 * free itself.
 */
#include "kvmem_config.h"

#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#ifdef __linux__
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "vmem_qcache.h"

#define VT(a)	((vmem_t *)(void *)(a))

/* The shared empty magazine: cap 0, so hits never touch it. */
static struct qc_mag qc_empty_mag;
/* slab_refill(): no slab, but one object taken by itself. */
#define QC_GOT_LONE	(-1)

/* The cache and table standing for "none" (filled in by registry_setup). */
static struct qc_tcache qc_dummy_tc;
static struct qc_thread qc_dummy_table;

__thread struct qc_thread *vmem__qc_self
    __attribute__((tls_model("initial-exec"))) = &qc_dummy_table;

/* ======================================================================
 * Registry: slots, per-thread tables, thread exit
 * ====================================================================== */

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static pthread_key_t registry_key;
static bool thread_layer_ok;		/* membarrier is usable */
static bool slot_used[QC_SLOTS];

static void qc_thread_exit(void *arg);

static void
registry_setup(void)
{
	for (unsigned i = 0; i < QC_MAX_QUANTA; i++) {
		atomic_init(&qc_dummy_tc.loaded[i], &qc_empty_mag);
		atomic_init(&qc_dummy_tc.prev[i], &qc_empty_mag);
	}
	for (unsigned s = 0; s < QC_SLOTS; s++)
		qc_dummy_table.slot[s] = &qc_dummy_tc;
#if defined(__linux__) && defined(__NR_membarrier)
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
	if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
	    0, 0) == 0)
		thread_layer_ok = true;
#endif
	if (pthread_key_create(&registry_key, qc_thread_exit) != 0)
		thread_layer_ok = false;
}

static void
fence_all_threads(void)
{
#if defined(__linux__) && defined(__NR_membarrier)
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
		return;
#endif
	KVMEM_PANIC("vmem: membarrier failed after registration");
}

/*
 * The calling thread's cache for vm, made on first use.  NULL when there is
 * no thread layer (debug mode, no membarrier, no slot, out of memory).
 */
static struct qc_tcache *
tcache_get(struct vmem_arena *vm)
{
	if (vm->qc_slot == 0)
		return NULL;
	struct qc_thread *t = vmem__qc_self;
	struct qc_tcache *tc = t->slot[vm->qc_slot];
	if (tc != &qc_dummy_tc && tc->vm == vm)
		return tc;	/* vm is written under the registry lock, and
				 * only changes away from this arena */

	pthread_mutex_lock(&registry_lock);
	if (t == &qc_dummy_table) {
		t = malloc(sizeof(*t));
		if (t == NULL || pthread_setspecific(registry_key, t) != 0) {
			free(t);
			pthread_mutex_unlock(&registry_lock);
			return NULL;
		}
		for (unsigned s = 0; s < QC_SLOTS; s++)
			t->slot[s] = &qc_dummy_tc;
		vmem__qc_self = t;
	}
	tc = t->slot[vm->qc_slot];
	if (tc != &qc_dummy_tc && tc->vm == NULL) {
		/* Left behind by a destroyed arena that had this slot. */
		free(tc);
		t->slot[vm->qc_slot] = tc = &qc_dummy_tc;
	}
	if (tc == &qc_dummy_tc) {
		tc = calloc(1, sizeof(*tc));
		if (tc != NULL) {
			tc->vm = vm;
			tc->thr = t;
			tc->slot = vm->qc_slot;
			for (unsigned i = 0; i < QC_MAX_QUANTA; i++) {
				atomic_init(&tc->loaded[i], &qc_empty_mag);
				atomic_init(&tc->prev[i], &qc_empty_mag);
			}
			tc->anext = vm->qc_threads;
			if (tc->anext != NULL)
				tc->anext->apprev = &tc->anext;
			tc->apprev = &vm->qc_threads;
			vm->qc_threads = tc;
			t->slot[vm->qc_slot] = tc;
		} else {
			tc = &qc_dummy_tc;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return tc != &qc_dummy_tc ? tc : NULL;
}

/*
 * Enter a slow path on the owner's cache: false if a drainer has stolen
 * (or is stealing) the magazines; the caller must resume and retry.
 */
static bool
slow_enter(struct qc_tcache *tc)
{
	atomic_store_explicit(&tc->slowbusy, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&tc->stolen, memory_order_seq_cst) == 0)
		return true;
	atomic_store_explicit(&tc->slowbusy, 0, memory_order_release);
	return false;
}

static void
slow_exit(struct qc_tcache *tc)
{
	atomic_store_explicit(&tc->slowbusy, 0, memory_order_release);
}

/* Clear `stolen` after a drain took the magazines.  Owner only. */
static void
tcache_resume(struct qc_tcache *tc)
{
	pthread_mutex_lock(&registry_lock);
	atomic_store_explicit(&tc->stolen, 0, memory_order_release);
	pthread_mutex_unlock(&registry_lock);
}

static void
tcache_unlink(struct qc_tcache *tc)
{
	*tc->apprev = tc->anext;
	if (tc->anext != NULL)
		tc->anext->apprev = tc->apprev;
	tc->anext = NULL;
	tc->apprev = NULL;
}

/* ======================================================================
 * Magazines and the depot (cache lock held unless said otherwise)
 * ====================================================================== */

static struct qc_mag *
mag_new(uint32_t cap)
{
	struct qc_mag *m = malloc(sizeof(*m) + cap * sizeof(vmem_addr_t));
	if (m != NULL) {
		m->next = NULL;
		m->cap = cap;
		atomic_init(&m->rounds, 0);
		atomic_init(&m->pops, 0);
	}
	return m;
}

static inline uint32_t
mag_rounds(struct qc_mag *m)
{
	return atomic_load_explicit(&m->rounds, memory_order_relaxed);
}

/* Count the hits a magazine served in a thread. */
static void
mag_retire_hits(struct qcache *qc, struct qc_mag *m)
{
	qc->retired_hits += atomic_load_explicit(&m->pops, memory_order_relaxed);
	atomic_store_explicit(&m->pops, 0, memory_order_relaxed);
}

static void
depot_put_full(struct qcache *qc, struct qc_mag *m)
{
	mag_retire_hits(qc, m);
	m->next = qc->full;
	qc->full = m;
	qc->nfull++;
	qc->depot_objs += mag_rounds(m);
}

static void
depot_put_empty(struct qcache *qc, struct qc_mag *m)
{
	mag_retire_hits(qc, m);
	if (qc->nempty >= QC_DEPOT_EMPTY_MAX || m->cap < qc->mag_cap) {
		free(m);	/* too many, or smaller than magazines are now */
		return;
	}
	m->next = qc->empty;
	qc->empty = m;
	qc->nempty++;
}

/* Put a magazine from a thread back in the depot, by its contents. */
static void
depot_put(struct qcache *qc, struct qc_mag *m)
{
	if (m->cap == 0)
		return;
	if (mag_rounds(m) != 0)
		depot_put_full(qc, m);
	else
		depot_put_empty(qc, m);
}

static struct qc_mag *
depot_get_full(struct qcache *qc)
{
	struct qc_mag *m = qc->full;
	if (m != NULL) {
		qc->full = m->next;
		qc->nfull--;
		qc->depot_objs -= mag_rounds(m);
		if (qc->nfull < qc->full_min)
			qc->full_min = qc->nfull;
	}
	return m;
}

static struct qc_mag *
depot_get_empty(struct qcache *qc)
{
	struct qc_mag *m = qc->empty;
	if (m != NULL) {
		qc->empty = m->next;
		qc->nempty--;
	}
	return m;
}

/*
 * Take the cache lock, counting contention; grow the magazine size when
 * the lock has been found held often since the last growth.
 */
static void
qc_lock(struct qcache *qc)
{
#ifdef __linux__
	uint32_t expect = 0;
	if (atomic_compare_exchange_strong_explicit(&qc->lock.state, &expect, 1,
	    memory_order_acquire, memory_order_relaxed))
		return;
	vmem_lock(&qc->lock);
	if (++qc->contention - qc->contention_at_grow > 16 &&
	    qc->mag_cap < QC_MAG_MAX) {
		qc->mag_cap *= 2;
		qc->contention_at_grow = qc->contention;
	}
#else
	vmem_lock(&qc->lock);
#endif
}

/* ======================================================================
 * The slab layer (cache lock held)
 * ====================================================================== */

static inline size_t
slab_slot(const struct qcache *qc, vmem_addr_t base)
{
	uint64_t h = (uint64_t)(base / qc->slab_align) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> (64 - qc->slab_hash_bits));
}

static struct qc_slab *
slab_lookup(const struct qcache *qc, vmem_addr_t addr)
{
	vmem_addr_t base = addr & ~(vmem_addr_t)(qc->slab_align - 1);
	for (struct qc_slab *s = qc->slab_hash[slab_slot(qc, base)]; s != NULL;
	    s = s->hnext)
		if (s->base == base)
			return s;
	return NULL;
}

static void
slab_hash_grow(struct qcache *qc)
{
	unsigned bits = qc->slab_hash_bits + 1;
	struct qc_slab **tab = calloc((size_t)1 << bits, sizeof(*tab));
	if (tab == NULL)
		return;
	struct qc_slab **old = qc->slab_hash;
	size_t n = (size_t)1 << qc->slab_hash_bits;
	qc->slab_hash_bits = bits;
	for (size_t i = 0; i < n; i++) {
		while (old[i] != NULL) {
			struct qc_slab *s = old[i];
			old[i] = s->hnext;
			size_t j = slab_slot(qc, s->base);
			s->hnext = tab[j];
			tab[j] = s;
		}
	}
	free(old);
	qc->slab_hash = tab;
}

static void
partial_insert(struct qcache *qc, struct qc_slab *s)
{
	s->next = qc->partial;
	if (s->next != NULL)
		s->next->pprev = &s->next;
	s->pprev = &qc->partial;
	qc->partial = s;
	s->partial = true;
}

static void
partial_remove(struct qc_slab *s)
{
	*s->pprev = s->next;
	if (s->next != NULL)
		s->next->pprev = s->pprev;
	s->partial = false;
}

static void
slab_insert(struct qcache *qc, struct qc_slab *s)
{
	size_t j = slab_slot(qc, s->base);
	s->hnext = qc->slab_hash[j];
	qc->slab_hash[j] = s;
	qc->nslabs++;
	qc->slab_free_objs += s->nfree;
	partial_insert(qc, s);
	if (qc->nslabs > ((uint64_t)2 << qc->slab_hash_bits))
		slab_hash_grow(qc);
}

/* Unhash an entirely free slab; the caller frees it and returns its range. */
static void
slab_remove(struct qcache *qc, struct qc_slab *s)
{
	struct qc_slab **pp = &qc->slab_hash[slab_slot(qc, s->base)];
	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	if (s->partial)
		partial_remove(s);
	qc->nslabs--;
	qc->slab_free_objs -= s->nfree;
}

/* ---- Lone objects (cache lock held) --------------------------------- */

static inline size_t
lone_slot(const struct qcache *qc, vmem_addr_t addr)
{
	uint64_t h = (uint64_t)(addr / qc->objsize) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> (64 - qc->lone_hash_bits));
}

/* Rehash into 2^bits buckets; false (nothing changed) without memory. */
static bool
lone_rehash(struct qcache *qc, unsigned bits)
{
	struct qc_lone **tab = calloc((size_t)1 << bits, sizeof(*tab));
	if (tab == NULL)
		return false;
	struct qc_lone **old = qc->lone_hash;
	size_t n = old != NULL ? (size_t)1 << qc->lone_hash_bits : 0;
	qc->lone_hash = tab;
	qc->lone_hash_bits = bits;
	for (size_t i = 0; i < n; i++) {
		while (old[i] != NULL) {
			struct qc_lone *l = old[i];
			old[i] = l->hnext;
			size_t j = lone_slot(qc, l->addr);
			l->hnext = tab[j];
			tab[j] = l;
		}
	}
	free(old);
	return true;
}

/* Record l; false (nothing changed) without memory for the first table. */
static bool
lone_insert(struct qcache *qc, struct qc_lone *l)
{
	if (qc->lone_hash == NULL && !lone_rehash(qc, 4))
		return false;
	size_t j = lone_slot(qc, l->addr);
	l->hnext = qc->lone_hash[j];
	qc->lone_hash[j] = l;
	qc->nlone++;
	if (qc->nlone > ((uint64_t)2 << qc->lone_hash_bits))
		(void)lone_rehash(qc, qc->lone_hash_bits + 1);	/* else chains grow */
	return true;
}

static struct qc_lone **
lone_find(const struct qcache *qc, vmem_addr_t addr)
{
	if (qc->lone_hash == NULL)
		return NULL;
	struct qc_lone **pp = &qc->lone_hash[lone_slot(qc, addr)];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->addr == addr)
			return pp;
	return NULL;
}

/* Take one object from the slab layer, or return false. */
static bool
slab_take(struct qcache *qc, vmem_addr_t *addrp)
{
	struct qc_slab *s = qc->partial;
	if (s == NULL)
		return false;
	unsigned k = (unsigned)__builtin_ctzll(s->freemap);
	s->freemap &= s->freemap - 1;
	s->nfree--;
	qc->slab_free_objs--;
	if (s->nfree == 0)
		partial_remove(s);
	*addrp = s->base + (vmem_addr_t)k * qc->objsize;
	return true;
}

enum put_result { PUT_OK, PUT_DOUBLE, PUT_UNKNOWN };

/*
 * Give one object back to its slab.  A slab that becomes entirely free is
 * unhashed and pushed on *freed (linked through next) for the caller to
 * return to the arena after unlocking.
 */
static enum put_result
slab_put(struct qcache *qc, vmem_addr_t addr, struct qc_slab **freed)
{
	struct qc_slab *s = slab_lookup(qc, addr);
	if (s == NULL)
		return PUT_UNKNOWN;
	vmem_addr_t off = addr - s->base;
	if (off % qc->objsize != 0 || off / qc->objsize >= qc->nobj)
		return PUT_UNKNOWN;
	uint64_t bit = 1ull << (off / qc->objsize);
	if (s->freemap & bit)
		return PUT_DOUBLE;
	s->freemap |= bit;
	s->nfree++;
	qc->slab_free_objs++;
	if (s->nfree == qc->nobj) {
		slab_remove(qc, s);
		s->next = *freed;
		*freed = s;
	} else if (!s->partial) {
		partial_insert(qc, s);
	}
	return PUT_OK;
}

/* A misuse found while the cache lock was held, reported after. */
struct bad_free {
	enum put_result	what;
	vmem_addr_t	addr;
};
struct flush_ctx {
	struct qc_slab	*freed;
	struct bad_free	*bad;		/* grown as needed */
	unsigned	nbad, capbad;
	uint64_t	lost;		/* bad frees not recorded (no memory) */
	struct qc_mag	*mags;		/* emptied magazines to free */
	struct qc_lone	*lone;		/* lone objects to give back */
};

static void
flush_obj(struct qcache *qc, vmem_addr_t addr, struct flush_ctx *fc)
{
	enum put_result r = slab_put(qc, addr, &fc->freed);
	if (r == PUT_OK)
		return;
	struct qc_lone **pp;
	if (r == PUT_UNKNOWN && (pp = lone_find(qc, addr)) != NULL) {
		struct qc_lone *l = *pp;
		*pp = l->hnext;
		qc->nlone--;
		l->hnext = fc->lone;
		fc->lone = l;
		return;
	}
	if (fc->nbad == fc->capbad) {
		unsigned cap = fc->capbad ? 2 * fc->capbad : 8;
		struct bad_free *b = realloc(fc->bad, cap * sizeof(*b));
		if (b == NULL) {
			fc->lost++;
			return;
		}
		fc->bad = b;
		fc->capbad = cap;
	}
	fc->bad[fc->nbad].what = r;
	fc->bad[fc->nbad].addr = addr;
	fc->nbad++;
}

/* Empty magazine m into the slab layer; m is then kept or freed. */
static void
flush_mag(struct qcache *qc, struct qc_mag *m, struct flush_ctx *fc)
{
	uint32_t r = mag_rounds(m);
	for (uint32_t k = 0; k < r; k++)
		flush_obj(qc, m->objs[k], fc);
	atomic_store_explicit(&m->rounds, 0, memory_order_relaxed);
	m->next = fc->mags;
	fc->mags = m;
}

/*
 * Finish a flush with the cache lock dropped: free magazines, give entirely
 * free slabs back to the arena, report misuse.
 */
static bool
flush_finish(struct vmem_arena *vm, struct qcache *qc, struct flush_ctx *fc)
{
	bool released = fc->freed != NULL || fc->lone != NULL;
	if (fc->lone != NULL) {
		uint64_t n = 0;
		while (fc->lone != NULL) {
			struct qc_lone *l = fc->lone;
			fc->lone = l->hnext;
			vmem_xfree(VT(vm), l->addr, qc->objsize);
			free(l);
			n++;
		}
		qc_lock(qc);
		qc->lone_releases += n;
		vmem_unlock(&qc->lock);
	}
	while (fc->mags != NULL) {
		struct qc_mag *m = fc->mags;
		fc->mags = m->next;
		free(m);
	}
	while (fc->freed != NULL) {
		struct qc_slab *s = fc->freed;
		fc->freed = s->next;
		vmem_xfree(VT(vm), s->base, qc->slab_size);
		free(s);
		qc_lock(qc);
		qc->slab_releases++;
		vmem_unlock(&qc->lock);
	}
	for (unsigned k = 0; k < fc->nbad; k++)
		vmem__misuse(vm, fc->bad[k].what == PUT_DOUBLE ?
		    VMEM_MISUSE_DOUBLE_FREE : VMEM_MISUSE_UNKNOWN_FREE,
		    fc->bad[k].addr, qc->objsize,
		    "%s 0x%" PRIxPTR " size %zu (vmem_free, found by its quantum cache)",
		    fc->bad[k].what == PUT_DOUBLE ? "double free of" :
		    "free of unallocated address", fc->bad[k].addr, qc->objsize);
	if (fc->lost != 0)
		vmem__misuse(vm, VMEM_MISUSE_UNKNOWN_FREE, 0, qc->objsize,
		    "%" PRIu64 " more bad frees of size %zu found by its quantum "
		    "cache (not itemized: out of memory)", fc->lost, qc->objsize);
	free(fc->bad);
	fc->bad = NULL;
	fc->nbad = fc->capbad = 0;
	fc->lost = 0;
	return released;
}

/*
 * Bring in one new slab from the arena.  No lock held.  0 or the arena's
 * error.
 */
static int
slab_import(struct vmem_arena *vm, struct qcache *qc, int flags)
{
	struct qc_slab *s = malloc(sizeof(*s));
	if (s == NULL)
		return ENOMEM;
	vmem_addr_t base;
	int error = vmem__qc_slab_alloc(vm, qc->slab_size, qc->slab_align,
	    (flags & (M_NOWAIT | M_WAITOK | M_NORECLAIM)) | M_FIRSTFIT, &base);
	if (error != 0) {
		free(s);
		return error;
	}
	s->base = base;
	s->nfree = qc->nobj;
	s->freemap = qc->nobj == 64 ? ~0ull : (1ull << qc->nobj) - 1;
	s->partial = false;
	qc_lock(qc);
	slab_insert(qc, s);
	qc->slab_imports++;
	vmem_unlock(&qc->lock);
	return 0;
}

/*
 * Take one object from the arena's free segments by itself, for when no
 * slab can be had.  No lock held.  0 or ENOMEM (it neither imports nor
 * sleeps nor counts a failure: the slab import before it did all that).
 */
static int
lone_import(struct vmem_arena *vm, struct qcache *qc, vmem_addr_t *addrp)
{
	struct qc_lone *l = malloc(sizeof(*l));
	if (l == NULL)
		return ENOMEM;
	int error = vmem__qc_lone_alloc(vm, qc->objsize, &l->addr);
	if (error != 0) {
		free(l);
		return error;
	}
	qc_lock(qc);
	bool ok = lone_insert(qc, l);
	if (ok)
		qc->lone_imports++;
	vmem_unlock(&qc->lock);
	if (!ok) {
		vmem_xfree(VT(vm), l->addr, qc->objsize);
		free(l);
		return ENOMEM;
	}
	*addrp = l->addr;
	return 0;
}

/* ======================================================================
 * Slow paths
 * ====================================================================== */

/*
 * Make objects available to cache qc after the slab layer ran dry: import
 * a slab without sleeping in the arena.  A failed import has drained every
 * cache of the arena (their objects are back in slabs and depots), so look
 * again.  Without M_NOWAIT, sleep on the arena and try again until
 * something turns up: segment frees and vmem_add wake the sleep, and it
 * times out so that cached frees (which wake nobody) are found by the
 * drain of the next attempt.  When no slab fits but one object does, take
 * that object alone: QC_GOT_LONE with *lonep set.  Returns 0 (take from the slabs again),
 * EAGAIN (the depot has full magazines) or the arena's error (M_NOWAIT).
 * No lock held.
 */
static int
slab_refill(struct vmem_arena *vm, struct qcache *qc, int flags, vmem_addr_t *lonep)
{
	for (;;) {
		int error = slab_import(vm, qc, (flags & ~M_WAITOK) | M_NOWAIT);
		if (error == 0)
			return 0;
		qc_lock(qc);
		bool slabs = qc->partial != NULL, depot = qc->full != NULL;
		vmem_unlock(&qc->lock);
		if (slabs)
			return 0;
		if (depot)
			return EAGAIN;
		if (error == ENOMEM && lone_import(vm, qc, lonep) == 0)
			return QC_GOT_LONE;
		if (flags & M_NOWAIT)
			return error;
		vmem__qc_sleep(vm);
	}
}

/* Allocation without the thread layer: straight from the slab layer. */
static int
direct_alloc(struct vmem_arena *vm, struct qcache *qc, int flags, vmem_addr_t *addrp)
{
	for (;;) {
		qc_lock(qc);
		qc->misses++;
		struct qc_mag *m = qc->full;
		if (m != NULL) {
			/* Objects parked in the depot by exited threads. */
			uint32_t r = mag_rounds(m);
			*addrp = m->objs[r - 1];
			atomic_store_explicit(&m->rounds, r - 1, memory_order_relaxed);
			qc->depot_objs--;
			if (r == 1) {
				depot_get_full(qc);
				depot_put_empty(qc, m);
			}
		} else if (!slab_take(qc, addrp)) {
			vmem_unlock(&qc->lock);
			int error = slab_refill(vm, qc, flags, addrp);
			if (error == QC_GOT_LONE) {
				qc_lock(qc);
				qc->direct_allocs++;
				vmem_unlock(&qc->lock);
				return 0;
			}
			if (error != 0 && error != EAGAIN)
				return error;
			continue;
		}
		qc->direct_allocs++;
		vmem_unlock(&qc->lock);
		return 0;
	}
}

static void
direct_free(struct vmem_arena *vm, struct qcache *qc, vmem_addr_t addr)
{
	struct flush_ctx fc = { 0 };
	qc_lock(qc);
	qc->misses++;
	qc->direct_frees++;
	flush_obj(qc, addr, &fc);
	vmem_unlock(&qc->lock);
	flush_finish(vm, qc, &fc);
}

/*
 * Fill a fresh magazine for cache qc: objects from partial slabs, or from
 * one newly imported slab.  No lock held on entry or exit.
 */
static int
mag_fill(struct vmem_arena *vm, struct qcache *qc, struct qc_mag *m, int flags)
{
	for (;;) {
		qc_lock(qc);
		uint32_t r = mag_rounds(m);
		vmem_addr_t a;
		while (r < m->cap && slab_take(qc, &a))
			m->objs[r++] = a;
		atomic_store_explicit(&m->rounds, r, memory_order_relaxed);
		vmem_unlock(&qc->lock);
		if (r != 0)
			return 0;
		int error = slab_refill(vm, qc, flags, &a);
		if (error == QC_GOT_LONE) {
			m->objs[0] = a;
			atomic_store_explicit(&m->rounds, 1, memory_order_relaxed);
			return 0;
		}
		if (error != 0)
			return error;	/* EAGAIN: the caller looks in the depot */
	}
}

/*
 * The working-set reap (Bonwick and Adams): every QC_REAP_INTERVAL depot
 * visits, the full magazines that stayed in the depot through the whole
 * interval (its low-water mark) were not needed; flush that many to the
 * slabs.  Bursts that come back within an interval keep their magazines,
 * so slabs are not imported and released on every burst, while a depot
 * that only fills is trimmed each interval.  Cache lock held on entry;
 * dropped on return.
 */
static void
depot_reap_unlock(struct vmem_arena *vm, struct qcache *qc)
{
	struct flush_ctx fc = { 0 };
	if (++qc->visits >= QC_REAP_INTERVAL) {
		uint32_t idle = qc->full_min;
		while (idle-- > 0 && qc->nfull > 0)
			flush_mag(qc, depot_get_full(qc), &fc);
		qc->visits = 0;
		qc->full_min = qc->nfull;
	}
	vmem_unlock(&qc->lock);
	flush_finish(vm, qc, &fc);
}

int
vmem__qc_alloc_slow(struct vmem_arena *vm, unsigned i, int flags, vmem_addr_t *addrp)
{
	struct qcache *qc = &vm->qc[i];
	struct qc_tcache *tc = tcache_get(vm);
	if (tc == NULL)
		return direct_alloc(vm, qc, flags, addrp);

	for (;;) {
		if (!slow_enter(tc)) {
			tcache_resume(tc);
			continue;
		}
		struct qc_mag *ld = atomic_load_explicit(&tc->loaded[i], memory_order_relaxed);
		struct qc_mag *pv = atomic_load_explicit(&tc->prev[i], memory_order_relaxed);
		struct qc_mag *m = NULL;
		if (mag_rounds(pv) != 0) {
			/* Previous magazine has objects: swap. */
			atomic_store_explicit(&tc->loaded[i], pv, memory_order_release);
			atomic_store_explicit(&tc->prev[i], ld, memory_order_release);
			m = pv;
		} else {
			qc_lock(qc);
			qc->misses++;
			struct qc_mag *f = depot_get_full(qc);
			if (f != NULL) {
				depot_put(qc, pv);	/* empty: to the empty list */
				atomic_store_explicit(&tc->prev[i], ld, memory_order_release);
				atomic_store_explicit(&tc->loaded[i], f, memory_order_release);
				m = f;
			}
			vmem_unlock(&qc->lock);
		}
		if (m != NULL) {
			uint32_t r = mag_rounds(m);
			*addrp = m->objs[r - 1];
			atomic_store_explicit(&m->rounds, r - 1, memory_order_relaxed);
			slow_exit(tc);
			return 0;
		}
		slow_exit(tc);

		/* The depot has nothing: fill a magazine from the slab layer
		 * (possibly importing a slab, which may drain the caches; an
		 * M_WAITOK caller sleeps in slab_refill until objects appear). */
		qc_lock(qc);
		struct qc_mag *e = depot_get_empty(qc);
		uint32_t cap = qc->mag_cap;
		vmem_unlock(&qc->lock);
		if (e == NULL && (e = mag_new(cap)) == NULL)
			return direct_alloc(vm, qc, flags, addrp);
		int error = mag_fill(vm, qc, e, flags);
		if (error != 0) {
			qc_lock(qc);
			depot_put_empty(qc, e);
			vmem_unlock(&qc->lock);
			if (error == EAGAIN)
				continue;	/* full magazines came back */
			return error;
		}
		if (!slow_enter(tc)) {
			qc_lock(qc);
			depot_put_full(qc, e);
			vmem_unlock(&qc->lock);
			tcache_resume(tc);
			continue;
		}
		ld = atomic_load_explicit(&tc->loaded[i], memory_order_relaxed);
		if (mag_rounds(ld) != 0) {
			/* Refilled meanwhile (cannot happen: only the owner
			 * fills); keep both by parking ours in the depot. */
			slow_exit(tc);
			qc_lock(qc);
			depot_put_full(qc, e);
			vmem_unlock(&qc->lock);
			continue;
		}
		atomic_store_explicit(&tc->loaded[i], e, memory_order_release);
		uint32_t r = mag_rounds(e);
		*addrp = e->objs[r - 1];
		atomic_store_explicit(&e->rounds, r - 1, memory_order_relaxed);
		slow_exit(tc);
		qc_lock(qc);
		depot_put(qc, ld);
		vmem_unlock(&qc->lock);
		return 0;
	}
}

void
vmem__qc_free_slow(struct vmem_arena *vm, unsigned i, vmem_addr_t addr,
    vmem_size_t size)
{
	(void)size;
	struct qcache *qc = &vm->qc[i];
	struct qc_tcache *tc = tcache_get(vm);
	if (tc == NULL) {
		direct_free(vm, qc, addr);
		return;
	}
	for (;;) {
		if (!slow_enter(tc)) {
			tcache_resume(tc);
			continue;
		}
		struct qc_mag *ld = atomic_load_explicit(&tc->loaded[i], memory_order_relaxed);
		struct qc_mag *pv = atomic_load_explicit(&tc->prev[i], memory_order_relaxed);
		struct qc_mag *m = NULL;
		bool reap = false;
		if (pv->cap != 0 && mag_rounds(pv) == 0) {
			atomic_store_explicit(&tc->loaded[i], pv, memory_order_release);
			atomic_store_explicit(&tc->prev[i], ld, memory_order_release);
			m = pv;
		} else {
			qc_lock(qc);
			qc->misses++;
			struct qc_mag *e = depot_get_empty(qc);
			if (e != NULL) {
				depot_put(qc, pv);	/* full (or the sentinel) */
				atomic_store_explicit(&tc->prev[i], ld, memory_order_release);
				atomic_store_explicit(&tc->loaded[i], e, memory_order_release);
				m = e;
				reap = true;	/* with the lock still held */
			} else {
				vmem_unlock(&qc->lock);
			}
		}
		if (m != NULL) {
			uint32_t r = mag_rounds(m);
			m->objs[r] = addr;
			atomic_store_explicit(&m->rounds, r + 1, memory_order_relaxed);
			slow_exit(tc);
			if (reap)
				depot_reap_unlock(vm, qc);
			return;
		}
		slow_exit(tc);

		/* No empty magazine in the depot: make one, park it there and
		 * go round again. */
		qc_lock(qc);
		uint32_t cap = qc->mag_cap;
		vmem_unlock(&qc->lock);
		struct qc_mag *e = mag_new(cap);
		if (e == NULL) {
			direct_free(vm, qc, addr);
			return;
		}
		qc_lock(qc);
		e->next = qc->empty;
		qc->empty = e;
		qc->nempty++;
		vmem_unlock(&qc->lock);
	}
}

/* ======================================================================
 * Drain, destroy, sizes, check
 * ====================================================================== */

/*
 * Take every magazine of every thread cache of vm into the depots.
 * Registry lock held.  The owners stay out of their slow paths until they
 * resume through the registry; their hits see the sentinel.  If `detach`,
 * the thread caches are also cut loose (the arena is being destroyed).
 */
static void
steal_all(struct vmem_arena *vm, bool detach)
{
	struct qc_tcache *tc;
	if (vm->qc_threads == NULL)
		return;
	/* 1. Keep owners out of their slow paths (Dekker with slowbusy). */
	for (tc = vm->qc_threads; tc != NULL; tc = tc->anext)
		atomic_store_explicit(&tc->stolen, 1, memory_order_seq_cst);
	for (tc = vm->qc_threads; tc != NULL; tc = tc->anext)
		while (atomic_load_explicit(&tc->slowbusy, memory_order_seq_cst) != 0)
			sched_yield();
	/* 2. Swap the sentinel in; remember the magazines on a list. */
	struct qc_mag *taken[QC_MAX_QUANTA] = { 0 };
	for (tc = vm->qc_threads; tc != NULL; tc = tc->anext) {
		for (unsigned i = 0; i < vm->qc_n; i++) {
			struct qc_mag *m[2] = {
				atomic_load_explicit(&tc->loaded[i], memory_order_relaxed),
				atomic_load_explicit(&tc->prev[i], memory_order_relaxed),
			};
			atomic_store_explicit(&tc->loaded[i], &qc_empty_mag, memory_order_relaxed);
			atomic_store_explicit(&tc->prev[i], &qc_empty_mag, memory_order_relaxed);
			for (int k = 0; k < 2; k++) {
				if (m[k]->cap != 0) {
					m[k]->next = taken[i];
					taken[i] = m[k];
				}
			}
		}
	}
	/* 3. Wait out hits that may still be using the old magazines. */
	fence_all_threads();
	for (tc = vm->qc_threads; tc != NULL; tc = tc->anext)
		while (atomic_load_explicit(&tc->busy, memory_order_acquire) != 0)
			sched_yield();
	/* 4. The magazines are ours now. */
	for (unsigned i = 0; i < vm->qc_n; i++) {
		struct qcache *qc = &vm->qc[i];
		qc_lock(qc);
		while (taken[i] != NULL) {
			struct qc_mag *m = taken[i];
			taken[i] = m->next;
			depot_put(qc, m);
		}
		vmem_unlock(&qc->lock);
	}
	if (detach) {
		while ((tc = vm->qc_threads) != NULL) {
			tcache_unlink(tc);
			tc->vm = NULL;	/* the owner frees it later */
		}
	}
}

/* Flush every depot magazine of every cache to the slab layer. */
static bool
flush_depots(struct vmem_arena *vm)
{
	bool released = false;
	for (unsigned i = 0; i < vm->qc_n; i++) {
		struct qcache *qc = &vm->qc[i];
		struct flush_ctx fc = { 0 };
		struct qc_mag *m;
		qc_lock(qc);
		while ((m = depot_get_full(qc)) != NULL)
			flush_mag(qc, m, &fc);
		while ((m = depot_get_empty(qc)) != NULL) {
			m->next = fc.mags;
			fc.mags = m;
		}
		vmem_unlock(&qc->lock);
		released |= flush_finish(vm, qc, &fc);
	}
	return released;
}

bool
vmem__qc_drain(struct vmem_arena *vm)
{
	if (vm->qc == NULL)
		return false;
	pthread_mutex_lock(&registry_lock);
	steal_all(vm, false);
	pthread_mutex_unlock(&registry_lock);
	return flush_depots(vm);
}

int
vmem__qc_init(struct vmem_arena *vm, int flags)
{
	vmem_size_t max = vm->qcache_max;
	if (max > QC_MAX_QUANTA * vm->quantum)
		max = QC_MAX_QUANTA * vm->quantum;
	max &= ~vm->quantum_mask;
	vm->qcache_max = max;
	if (max == 0)
		return 0;
	vm->qc_n = (unsigned)(max >> vm->quantum_shift);
	vm->qc = calloc(vm->qc_n, sizeof(*vm->qc));
	if (vm->qc == NULL)
		return ENOMEM;
	vmem_size_t slab = 1;
	while (slab < 3 * max)
		slab <<= 1;
	for (unsigned i = 0; i < vm->qc_n; i++) {
		struct qcache *qc = &vm->qc[i];
		vmem_lock_init(&qc->lock);
		qc->objsize = (vmem_size_t)(i + 1) << vm->quantum_shift;
		qc->nobj = (uint32_t)(slab / qc->objsize);
		if (qc->nobj > 64)
			qc->nobj = 64;
		qc->slab_size = qc->nobj * qc->objsize;
		qc->slab_align = 1;
		while (qc->slab_align < qc->slab_size)
			qc->slab_align <<= 1;
		qc->mag_cap = QC_MAG_INIT;
		qc->slab_hash_bits = 4;
		qc->slab_hash = calloc((size_t)1 << qc->slab_hash_bits,
		    sizeof(*qc->slab_hash));
		if (qc->slab_hash == NULL) {
			for (unsigned j = 0; j < i; j++)
				free(vm->qc[j].slab_hash);
			free(vm->qc);
			vm->qc = NULL;
			return ENOMEM;
		}
	}
	vm->qc_debug = (flags & VMEM_QCACHE_DEBUG) != 0;
	vm->qc_slot = 0;
	pthread_once(&registry_once, registry_setup);
	if (!vm->qc_debug && thread_layer_ok) {
		pthread_mutex_lock(&registry_lock);
		for (unsigned s = 1; s < QC_SLOTS; s++) {
			if (!slot_used[s]) {
				slot_used[s] = true;
				vm->qc_slot = s;
				break;
			}
		}
		pthread_mutex_unlock(&registry_lock);
	}
	return 0;
}

/*
 * Tear the caches down: take every thread's magazines, flush everything to
 * the slabs, and give every slab back to the arena.  Slabs still holding
 * objects mean the caller leaked cached allocations: reported, then
 * returned anyway.
 */
void
vmem__qc_fini(struct vmem_arena *vm)
{
	if (vm->qc == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	steal_all(vm, true);
	if (vm->qc_slot != 0)
		slot_used[vm->qc_slot] = false;
	vm->qc_slot = 0;
	pthread_mutex_unlock(&registry_lock);
	flush_depots(vm);

	uint64_t nleak = 0;
	vmem_size_t leaked = 0;
	vmem_addr_t first = 0;
	for (unsigned i = 0; i < vm->qc_n; i++) {
		struct qcache *qc = &vm->qc[i];
		size_t n = (size_t)1 << qc->slab_hash_bits;
		for (size_t j = 0; j < n; j++) {
			for (struct qc_slab *s = qc->slab_hash[j]; s != NULL; s = s->hnext) {
				uint64_t out = qc->nobj - s->nfree;
				if (out != 0 && nleak == 0) {
					uint64_t busy = ~s->freemap &
					    (qc->nobj == 64 ? ~0ull : (1ull << qc->nobj) - 1);
					first = s->base + (vmem_addr_t)__builtin_ctzll(busy) *
					    qc->objsize;
				}
				nleak += out;
				leaked += out * qc->objsize;
			}
		}
		size_t nl = qc->lone_hash != NULL ? (size_t)1 << qc->lone_hash_bits : 0;
		for (size_t j = 0; j < nl; j++) {
			for (struct qc_lone *l = qc->lone_hash[j]; l != NULL; l = l->hnext) {
				if (nleak++ == 0)
					first = l->addr;
				leaked += qc->objsize;
			}
		}
	}
	if (nleak != 0)
		vmem__misuse(vm, VMEM_MISUSE_LEAK, first, leaked,
		    "destroyed with %" PRIu64 " live cached allocation%s (%zu bytes), "
		    "first at 0x%" PRIxPTR " (vmem_destroy)", nleak,
		    nleak == 1 ? "" : "s", leaked, first);

	for (unsigned i = 0; i < vm->qc_n; i++) {
		struct qcache *qc = &vm->qc[i];
		size_t n = (size_t)1 << qc->slab_hash_bits;
		for (size_t j = 0; j < n; j++) {
			while (qc->slab_hash[j] != NULL) {
				struct qc_slab *s = qc->slab_hash[j];
				qc->slab_hash[j] = s->hnext;
				vmem_xfree(VT(vm), s->base, qc->slab_size);
				free(s);
			}
		}
		free(qc->slab_hash);
		size_t nl = qc->lone_hash != NULL ? (size_t)1 << qc->lone_hash_bits : 0;
		for (size_t j = 0; j < nl; j++) {
			while (qc->lone_hash[j] != NULL) {
				struct qc_lone *l = qc->lone_hash[j];
				qc->lone_hash[j] = l->hnext;
				vmem_xfree(VT(vm), l->addr, qc->objsize);
				free(l);
			}
		}
		free(qc->lone_hash);
		vmem_lock_fini(&qc->lock);
	}
	free(vm->qc);
	vm->qc = NULL;
	vm->qc_n = 0;
}

/* Objects held in magazines of live thread caches.  Registry lock held. */
static uint64_t
thread_objs(struct vmem_arena *vm, unsigned i)
{
	uint64_t n = 0;
	for (struct qc_tcache *tc = vm->qc_threads; tc != NULL; tc = tc->anext) {
		n += mag_rounds(atomic_load_explicit(&tc->loaded[i], memory_order_acquire));
		n += mag_rounds(atomic_load_explicit(&tc->prev[i], memory_order_acquire));
	}
	return n;
}

/*
 * Bytes the caches hold (in slabs, depots and thread magazines), not handed
 * to callers.  Exact when no thread is mid-operation.  No lock held.
 */
vmem_size_t
vmem__qc_cached_bytes(struct vmem_arena *vm)
{
	if (vm->qc == NULL)
		return 0;
	vmem_size_t bytes = 0;
	pthread_mutex_lock(&registry_lock);
	for (unsigned i = 0; i < vm->qc_n; i++) {
		struct qcache *qc = &vm->qc[i];
		uint64_t objs = thread_objs(vm, i);
		qc_lock(qc);
		objs += qc->depot_objs + qc->slab_free_objs;
		/* Slab tails too small for an object are cached as well. */
		bytes += objs * qc->objsize;
		vmem_unlock(&qc->lock);
	}
	pthread_mutex_unlock(&registry_lock);
	return bytes;
}

static int
cmp_addr(const void *a, const void *b)
{
	vmem_addr_t x = *(const vmem_addr_t *)a, y = *(const vmem_addr_t *)b;
	return x < y ? -1 : x > y;
}

static int
check_mag(struct vmem_arena *vm, struct qcache *qc, struct qc_mag *m,
    vmem_addr_t *seen, size_t *nseen, size_t max)
{
	uint32_t r = mag_rounds(m);
	if (r > m->cap) {
		fprintf(stderr, "vmem_check: vmem '%s': magazine holds %u > %u\n",
		    vm->name, r, m->cap);
		return 1;
	}
	for (uint32_t k = 0; k < r; k++) {
		vmem_addr_t a = m->objs[k];
		struct qc_slab *s = slab_lookup(qc, a);
		vmem_addr_t off = s != NULL ? a - s->base : 0;
		if (lone_find(qc, a) != NULL) {	/* a slab's tail may hold one */
			if (*nseen < max)
				seen[(*nseen)++] = a;
			continue;
		}
		if (s == NULL || off % qc->objsize != 0 || off / qc->objsize >= qc->nobj) {
			fprintf(stderr, "vmem_check: vmem '%s': cached object 0x%" PRIxPTR
			    " (size %zu) lies in no slab\n", vm->name, a, qc->objsize);
			return 1;
		}
		if (s->freemap & (1ull << (off / qc->objsize))) {
			fprintf(stderr, "vmem_check: vmem '%s': cached object 0x%" PRIxPTR
			    " is also free in its slab\n", vm->name, a);
			return 1;
		}
		if (*nseen < max)
			seen[(*nseen)++] = a;
	}
	return 0;
}

/*
 * Verify the caches: every cached object lies in a slab of its cache that
 * is a busy segment of the arena, is not free in that slab, and appears
 * once; counters match.  Quiesces the thread caches.  No lock held.
 */
int
vmem__qc_check(struct vmem_arena *vm)
{
	if (vm->qc == NULL)
		return 0;
	int bad = 0;
	pthread_mutex_lock(&registry_lock);
	steal_all(vm, false);	/* thread magazines go to the depot first */
	for (unsigned i = 0; i < vm->qc_n && !bad; i++) {
		struct qcache *qc = &vm->qc[i];
		qc_lock(qc);
		size_t max = (size_t)(qc->nslabs * qc->nobj + qc->nlone) + 1, nseen = 0;
		vmem_addr_t *seen = malloc(max * sizeof(*seen));
		uint64_t depot = 0, free_objs = 0, nslabs = 0;
		for (struct qc_mag *m = qc->full; m != NULL && !bad; m = m->next) {
			depot += mag_rounds(m);
			bad = check_mag(vm, qc, m, seen, &nseen, max);
		}
		for (struct qc_mag *m = qc->empty; m != NULL && !bad; m = m->next)
			if (mag_rounds(m) != 0)
				bad = fprintf(stderr, "vmem_check: vmem '%s': empty-list "
				    "magazine holds objects\n", vm->name) > 0;
		size_t n = (size_t)1 << qc->slab_hash_bits;
		for (size_t j = 0; j < n && !bad; j++) {
			for (struct qc_slab *s = qc->slab_hash[j]; s != NULL && !bad;
			    s = s->hnext) {
				nslabs++;
				free_objs += s->nfree;
				if ((uint32_t)__builtin_popcountll(s->freemap) != s->nfree ||
				    s->nfree == qc->nobj || (s->nfree != 0) != s->partial)
					bad = fprintf(stderr, "vmem_check: vmem '%s': slab 0x%"
					    PRIxPTR " bookkeeping wrong\n", vm->name, s->base) > 0;
			}
		}
		uint64_t nlone = 0;
		size_t nl = qc->lone_hash != NULL ? (size_t)1 << qc->lone_hash_bits : 0;
		for (size_t j = 0; j < nl && !bad; j++)
			for (struct qc_lone *l = qc->lone_hash[j]; l != NULL; l = l->hnext) {
				nlone++;
				struct qc_slab *ls = slab_lookup(qc, l->addr);
				if (ls != NULL && l->addr - ls->base < qc->slab_size)
					bad = fprintf(stderr, "vmem_check: vmem '%s': lone object 0x%"
					    PRIxPTR " lies in a slab\n", vm->name, l->addr) > 0;
			}
		if (!bad && (depot != qc->depot_objs || free_objs != qc->slab_free_objs ||
		    nslabs != qc->nslabs || nlone != qc->nlone))
			bad = fprintf(stderr, "vmem_check: vmem '%s': cache %zu counters "
			    "differ from its contents\n", vm->name, qc->objsize) > 0;
		if (!bad && seen != NULL && nseen < max) {
			qsort(seen, nseen, sizeof(*seen), cmp_addr);
			for (size_t k = 1; k < nseen && !bad; k++)
				if (seen[k] == seen[k - 1])
					bad = fprintf(stderr, "vmem_check: vmem '%s': object 0x%"
					    PRIxPTR " cached twice\n", vm->name, seen[k]) > 0;
		}
		free(seen);
		vmem_unlock(&qc->lock);
	}
	pthread_mutex_unlock(&registry_lock);
	return bad;
}

/* A thread is exiting: its magazines go back to the depots. */
static void
qc_thread_exit(void *arg)
{
	struct qc_thread *t = arg;
	pthread_mutex_lock(&registry_lock);
	for (unsigned s = 1; s < QC_SLOTS; s++) {
		struct qc_tcache *tc = t->slot[s];
		if (tc == &qc_dummy_tc)
			continue;
		struct vmem_arena *vm = tc->vm;
		if (vm != NULL) {
			for (unsigned i = 0; i < vm->qc_n; i++) {
				struct qcache *qc = &vm->qc[i];
				qc_lock(qc);
				depot_put(qc, atomic_load_explicit(&tc->loaded[i],
				    memory_order_relaxed));
				depot_put(qc, atomic_load_explicit(&tc->prev[i],
				    memory_order_relaxed));
				vmem_unlock(&qc->lock);
			}
			tcache_unlink(tc);
		}
		if (tc != &qc_dummy_tc)
			free(tc);
	}
	vmem__qc_self = &qc_dummy_table;
	pthread_mutex_unlock(&registry_lock);
	free(t);
}

/* ======================================================================
 * Public extensions
 * ====================================================================== */

void
vmem_qcache_drain(vmem_t *v)
{
	struct vmem_arena *vm = vmem__arena(v, "vmem_qcache_drain");
	vmem__qc_drain(vm);
}

int
vmem_get_qcache_stats(vmem_t *v, unsigned idx, struct vmem_qcache_stats *st)
{
	struct vmem_arena *vm = vmem__arena(v, "vmem_get_qcache_stats");
	if (st == NULL || st->version < 1 || st->version > VMEM_STATS_VERSION ||
	    idx >= vm->qc_n)
		return EINVAL;
	/* Fill a whole current struct, then copy what the caller's version has. */
	struct vmem_qcache_stats *out = st, full;
	st = &full;
	memset(st, 0, sizeof(*st));
	st->version = out->version;
	st->size = (uint32_t)(out->version == 1 ?
	    offsetof(struct vmem_qcache_stats, lone) : sizeof(*st));
	struct qcache *qc = &vm->qc[idx];
	pthread_mutex_lock(&registry_lock);
	uint64_t hits = 0, tobjs = thread_objs(vm, idx), nthreads = 0;
	for (struct qc_tcache *tc = vm->qc_threads; tc != NULL; tc = tc->anext) {
		for (int k = 0; k < 2; k++) {
			struct qc_mag *m = atomic_load_explicit(k ? &tc->prev[idx] :
			    &tc->loaded[idx], memory_order_acquire);
			hits += atomic_load_explicit(&m->pops, memory_order_relaxed);
		}
		nthreads++;
	}
	qc_lock(qc);
	st->objsize = qc->objsize;
	st->hits = hits + qc->retired_hits + qc->direct_allocs;
	st->misses = qc->misses;
	st->contention = qc->contention;
	st->mag_size = qc->mag_cap;
	st->slabs = qc->nslabs;
	st->slab_size = qc->slab_size;
	st->slab_imports = qc->slab_imports;
	st->slab_releases = qc->slab_releases;
	st->depot_full = qc->nfull;
	st->depot_empty = qc->nempty;
	st->objs_in_threads = tobjs;
	st->objs_in_depot = qc->depot_objs;
	st->objs_in_slabs = qc->slab_free_objs;
	st->objs_out = qc->nslabs * qc->nobj + qc->nlone - qc->slab_free_objs -
	    qc->depot_objs - tobjs;
	st->threads = nthreads;
	st->lone = qc->nlone;
	st->lone_imports = qc->lone_imports;
	st->lone_releases = qc->lone_releases;
	vmem_unlock(&qc->lock);
	pthread_mutex_unlock(&registry_lock);
	memcpy(out, st, st->size);
	return 0;
}

unsigned
vmem_qcache_count(vmem_t *v)
{
	return vmem__arena(v, "vmem_qcache_count")->qc_n;
}
