/*
 * vmem.c -- the vmem resource allocator.
 *
 * Theory of operation
 * -------------------
 * An arena manages integer ranges ("addresses") in units of its quantum.
 * Ranges enter the arena as spans, from vmem_add() or from an import
 * callback, and every span is tiled exactly by segments, each free or busy.
 * Spans and segments are described by boundary tags (struct bt) kept on one
 * list in address order, a span's tag immediately before its segments.
 *
 * Free segments are also on segregated free lists indexed by size class
 * (see vmem_impl.h), with a bitmap of the non-empty lists.  Instant fit
 * (M_FIRSTFIT) finds the first non-empty list whose every member is big
 * enough with one bit scan and takes its head: O(1) whatever the number of
 * free segments.  Best fit scans the first list holding any fitting segment
 * for its smallest member.  Next fit continues from a rotor address (just
 * past the last next-fit allocation) along the segment list, wrapping once.
 * Top-down walks the segment list backwards from the highest address.
 *
 * Busy segments are also in a hash keyed by start address, so a free finds
 * its tag in O(1).  The table doubles when there are more than two busy
 * segments per bucket and halves when there are fewer than one per eight
 * buckets; the rehash runs inside the allocating or freeing call, so its
 * cost is amortized over the operations that made it necessary.
 *
 * A free coalesces the segment with free neighbours inside its span.  A span
 * whose segments all became free is given back to its source when the arena
 * has a release callback.  When it has an import callback but no release
 * callback, imported spans can never be given back, so an import that lands
 * next to an earlier one extends that span instead of starting a new one
 * (FreeBSD's rule): free space then coalesces across import boundaries.
 *
 * Metadata: tags come from slabs of BT_PER_SLAB, kept on a per-arena idle
 * list.  Every allocation first makes sure the idle list holds the tags its
 * worst case needs (two for a split, two more for an import), so once it has
 * found space it cannot fail for lack of metadata.
 *
 * Locking: one lock per arena (a futex lock, vmem_lock.h) guards the
 * segment layer in struct vmem_arena.  It is dropped around the import,
 * release, reclaim and misuse callbacks, which may therefore call into
 * other arenas (or this one, for reclaim).  M_WAITOK sleepers wait on the
 * arena's futex wait queue; frees, spans added, imports and limit changes
 * wake them.  Quantum caches (vmem_qcache.c) sit in front of all this for
 * small sizes and have locks of their own, taken before the arena's.
 *
 * Misuse (double free, unknown address, wrong size, overlapping spans, leaks
 * at destroy) is detected in every build and reported through the arena's
 * misuse handler with the lock dropped; when the handler returns, the call
 * has had no effect.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "vmem_impl.h"
#include "vmem_qcache.h"

_Static_assert(sizeof(struct vmem_arena) <= sizeof(vmem_t),
    "VMEM_STORAGE_SIZE too small for struct vmem_arena");
_Static_assert(sizeof(struct bt) <= 64, "boundary tag grew past 64 bytes");

#define VM(v)	((struct vmem_arena *)(void *)(v))
#define VT(a)	((vmem_t *)(void *)(a))

/* Tags an allocation may consume: a split makes at most two. */
#define BT_NEED_ALLOC	2
/* A span insertion makes at most two (span tag and its free segment). */
#define BT_NEED_SPAN	2

#define FIT_MASK	(M_FIRSTFIT | M_BESTFIT | M_NEXTFIT)

/*
 * Flag combinations vmem_alloc() rejects, as a bit set indexed by
 * (flags & 3) | ((flags >> 10) & 0x2c): M_NOWAIT with M_WAITOK, or more
 * than one of M_FIRSTFIT (0x1000), M_BESTFIT (0x2000), M_NEXTFIT (0x8000).
 * One shift and one bit test on the quantum-cache hit path.
 */
#define BAD_FLAGS_SET	0xfff8fff8f888f888ull
#define BAD_FLAGS(f)	((BAD_FLAGS_SET >> (((f) & 3) | (((f) >> 10) & 0x2c))) & 1)
_Static_assert(M_NOWAIT == 1 && M_WAITOK == 2 && M_FIRSTFIT == 0x1000 &&
    M_BESTFIT == 0x2000 && M_NEXTFIT == 0x8000, "BAD_FLAGS layout");
/*
 * The flags the quantum-cache hit path takes without looking further:
 * not both M_NOWAIT and M_WAITOK, neither M_BESTFIT nor M_NEXTFIT.
 * Adding 1 to (flags & 3) carries into bit 2 only for 3; four
 * instructions.  Anything else (good or bad) takes alloc_general(), which
 * applies BAD_FLAGS and still serves cached sizes from the magazines.
 */
#define HIT_FLAGS(f)	((((f) & (M_BESTFIT | M_NEXTFIT | 3)) + 1) & \
			    (M_BESTFIT | M_NEXTFIT | 4)) == 0

/* How long an M_WAITOK sleeper of an arena with quantum caches sleeps
 * before draining the caches again (cached frees do not wake it). */
#define VMEM_QC_SLEEP_NS	(20 * 1000 * 1000L)

static atomic_long live_arenas;
static atomic_long live_slabs;

/*
 * Every live arena, in creation order, for vmem_foreach().  An arena is
 * linked once it is fully built and unlinked first thing in vmem_destroy(),
 * so a walker never sees one half made or half torn down.  Lock order:
 * the registry lock before any arena's lock.
 */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vmem_arena *registry_head, *registry_tail;

static void
registry_link(struct vmem_arena *vm)
{
	pthread_mutex_lock(&registry_lock);
	vm->reg_next = NULL;
	vm->reg_prev = registry_tail;
	if (registry_tail != NULL)
		registry_tail->reg_next = vm;
	else
		registry_head = vm;
	registry_tail = vm;
	vm->registered = true;
	pthread_mutex_unlock(&registry_lock);
}

static void
registry_unlink(struct vmem_arena *vm)
{
	pthread_mutex_lock(&registry_lock);
	if (vm->registered) {
		if (vm->reg_prev != NULL)
			vm->reg_prev->reg_next = vm->reg_next;
		else
			registry_head = vm->reg_next;
		if (vm->reg_next != NULL)
			vm->reg_next->reg_prev = vm->reg_prev;
		else
			registry_tail = vm->reg_prev;
		vm->registered = false;
	}
	/* A child naming this arena as its parent would dangle. */
	for (struct vmem_arena *c = registry_head; c != NULL; c = c->reg_next)
		if (atomic_load_explicit(&c->parent, memory_order_relaxed) == vm)
			atomic_store_explicit(&c->parent, NULL, memory_order_release);
	pthread_mutex_unlock(&registry_lock);
}

int
vmem_foreach(vmem_foreach_fn *fn, void *arg)
{
	int r = 0;
	if (fn == NULL)
		return EINVAL;
	pthread_mutex_lock(&registry_lock);
	for (struct vmem_arena *vm = registry_head; vm != NULL && r == 0;
	    vm = vm->reg_next)
		r = fn(VT(vm), arg);
	pthread_mutex_unlock(&registry_lock);
	return r;
}

long
vmem__live_arenas(void)
{
	return atomic_load(&live_arenas);
}

long
vmem__live_slabs(void)
{
	return atomic_load(&live_slabs);
}

#ifdef __linux__
void
vmem__lock_slow(vmem_lock_t *l)
{
	for (int i = 0; i < 64; i++) {
		uint32_t expect = 0;
		if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->state, &expect, 1,
		    memory_order_acquire, memory_order_relaxed))
			return;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	vmem_lock_contended(l);
}
#endif

/* ======================================================================
 * Misuse reporting
 * ====================================================================== */

static pthread_mutex_t default_handler_lock = PTHREAD_MUTEX_INITIALIZER;
static vmem_misuse_fn *default_handler_fn;
static void *default_handler_arg;

const char *
vmem_misuse_name(enum vmem_misuse kind)
{
	switch (kind) {
	case VMEM_MISUSE_DOUBLE_FREE:	return "double free";
	case VMEM_MISUSE_UNKNOWN_FREE:	return "free of unallocated address";
	case VMEM_MISUSE_SIZE_MISMATCH:	return "free with wrong size";
	case VMEM_MISUSE_ADD_OVERLAP:	return "overlapping span";
	case VMEM_MISUSE_LEAK:		return "leak at destroy";
	case VMEM_MISUSE_BAD_ARG:	return "bad argument";
	}
	return "unknown misuse";
}

void
vmem_set_misuse_handler(vmem_t *v, vmem_misuse_fn *fn, void *arg)
{
	if (v == NULL) {
		pthread_mutex_lock(&default_handler_lock);
		default_handler_fn = fn;
		default_handler_arg = arg;
		pthread_mutex_unlock(&default_handler_lock);
		return;
	}
	struct vmem_arena *vm = VM(v);
	vmem_lock(&vm->lock);
	vm->misuse_fn = fn;
	vm->misuse_arg = arg;
	vmem_unlock(&vm->lock);
}

/*
 * Report a misuse of arena vm.  The caller must not hold the arena lock.
 * Formats "vmem 'NAME': <what>" and hands it to the arena's handler, the
 * process default, or prints it and aborts.
 */
void
vmem__misuse(struct vmem_arena *vm, enum vmem_misuse kind, vmem_addr_t addr,
    vmem_size_t size, const char *fmt, ...)
{
	char msg[320];
	int n = snprintf(msg, sizeof(msg), "vmem '%s': ", vm->name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);

	vmem_lock(&vm->lock);
	vm->st_misuses++;
	vmem_misuse_fn *fn = vm->misuse_fn;
	void *arg = vm->misuse_arg;
	vmem_unlock(&vm->lock);
	if (fn == NULL) {
		pthread_mutex_lock(&default_handler_lock);
		fn = default_handler_fn;
		arg = default_handler_arg;
		pthread_mutex_unlock(&default_handler_lock);
	}
	if (fn != NULL) {
		fn(arg, VT(vm), kind, addr, size, msg);
		return;
	}
	fprintf(stderr, "kvmem: %s\n", msg);
	fflush(stderr);
	abort();
}

/* A pointer that is not a live arena: always fatal. */
static void __attribute__((noinline, noreturn, cold))
not_an_arena(vmem_t *v, const char *call)
{
	KVMEM_PANIC("%s: %p is not a live vmem arena", call, (void *)v);
}

/* Always-on check that v points at a live arena. */
static inline struct vmem_arena *
arena(vmem_t *v, const char *call)
{
	struct vmem_arena *vm = VM(v);
	if (KVMEM_UNLIKELY(v == NULL || vm->magic != VMEM_MAGIC))
		not_an_arena(v, call);
	return vm;
}

struct vmem_arena *
vmem__arena(vmem_t *v, const char *call)
{
	return arena(v, call);
}

/* ======================================================================
 * Boundary tag reserve
 * ====================================================================== */

/*
 * Make sure at least `need` idle tags are in the reserve, allocating slabs
 * as required.  Lock held.  Returns 0 or ENOMEM (the reserve is unchanged
 * apart from whole slabs added).
 */
static int
bt_reserve(struct vmem_arena *vm, unsigned need)
{
	while (vm->nbt_idle < need) {
		struct bt_slab *s = malloc(sizeof(*s));
		if (s == NULL)
			return ENOMEM;
		s->next = vm->slabs;
		vm->slabs = s;
		for (int i = 0; i < BT_PER_SLAB; i++) {
			s->tags[i].q_next = vm->bt_idle;
			s->tags[i].type = BT_NONE;
			vm->bt_idle = &s->tags[i];
		}
		vm->nbt_idle += BT_PER_SLAB;
		vm->nbt_total += BT_PER_SLAB;
		atomic_fetch_add(&live_slabs, 1);
	}
	return 0;
}

static inline struct bt *
bt_get(struct vmem_arena *vm)
{
	struct bt *bt = vm->bt_idle;
	KVMEM_ASSERT_ALWAYS(bt != NULL);
	vm->bt_idle = bt->q_next;
	vm->nbt_idle--;
	return bt;
}

static inline void
bt_put(struct vmem_arena *vm, struct bt *bt)
{
	bt->type = BT_NONE;
	bt->q_next = vm->bt_idle;
	vm->bt_idle = bt;
	vm->nbt_idle++;
}

/* ======================================================================
 * Segment list
 * ====================================================================== */

static inline void
seg_insert_after(struct bt *pos, struct bt *bt)
{
	bt->seg_prev = pos;
	bt->seg_next = pos->seg_next;
	pos->seg_next->seg_prev = bt;
	pos->seg_next = bt;
}

static inline void
seg_remove(struct vmem_arena *vm, struct bt *bt)
{
	if (vm->rotor == bt)
		vm->rotor = bt->seg_prev;	/* still at or before the rotor address */
	if (vm->seg_hint == bt)
		vm->seg_hint = bt->seg_prev;
	bt->seg_prev->seg_next = bt->seg_next;
	bt->seg_next->seg_prev = bt->seg_prev;
}

static inline vmem_addr_t
bt_last(const struct bt *bt)
{
	return bt->start + (bt->size - 1);
}

/* ======================================================================
 * Free lists
 * ====================================================================== */

static inline unsigned
log2_floor(vmem_size_t x)
{
	return (unsigned)(63 - __builtin_clzll((unsigned long long)x));
}

#define HOT	static inline __attribute__((always_inline))

/* The list a free segment of q quanta lives on. */
HOT unsigned
fl_index(vmem_size_t q)
{
	if (q <= VMEM_FL_EXACT)
		return (unsigned)(q - 1);
	unsigned k = log2_floor(q);
	unsigned sub = (unsigned)(q >> (k - VMEM_FL_SUB_BITS)) &
	    ((1u << VMEM_FL_SUB_BITS) - 1);
	return VMEM_FL_EXACT + ((k - 4) << VMEM_FL_SUB_BITS) + sub;
}

/* The first list all of whose members hold at least q quanta. */
HOT unsigned
fl_index_instant(vmem_size_t q)
{
	unsigned i = fl_index(q);
	if (q > VMEM_FL_EXACT) {
		unsigned k = log2_floor(q);
		if (q & (((vmem_size_t)1 << (k - VMEM_FL_SUB_BITS)) - 1))
			i++;
	}
	return i;
}

unsigned
vmem__fl_index(vmem_size_t q)
{
	return fl_index(q);
}

unsigned
vmem__fl_index_instant(vmem_size_t q)
{
	return fl_index_instant(q);
}

HOT void
fl_insert(struct vmem_arena *vm, struct bt *bt)
{
	unsigned i = fl_index(bt->size >> vm->quantum_shift);
	struct bt **head = &vm->freelist[i];
	bt->fl = (uint16_t)i;
	bt->q_next = *head;
	if (*head != NULL)
		(*head)->q_pprev = &bt->q_next;
	*head = bt;
	bt->q_pprev = head;
	vm->fl_bitmap[i >> 6] |= 1ull << (i & 63);
	if (bt->size > vm->fl_max[i])
		vm->fl_max[i] = bt->size;
	vm->nfree++;
}

HOT void
fl_remove(struct vmem_arena *vm, struct bt *bt)
{
	*bt->q_pprev = bt->q_next;
	if (bt->q_next != NULL)
		bt->q_next->q_pprev = bt->q_pprev;
	if (vm->freelist[bt->fl] == NULL) {
		vm->fl_bitmap[bt->fl >> 6] &= ~(1ull << (bt->fl & 63));
		vm->fl_max[bt->fl] = 0;
	}
	vm->nfree--;
}

/* A free segment changed size: move it to its new list if the class moved. */
HOT void
fl_resize(struct vmem_arena *vm, struct bt *bt)
{
	if (fl_index(bt->size >> vm->quantum_shift) != bt->fl) {
		fl_remove(vm, bt);
		fl_insert(vm, bt);
	} else if (bt->size > vm->fl_max[bt->fl]) {
		vm->fl_max[bt->fl] = bt->size;
	}
}

/* The first non-empty list at index >= from, or -1. */
static inline int
fl_find(const struct vmem_arena *vm, unsigned from)
{
	if (from >= VMEM_NFREELIST)
		return -1;
	unsigned w = from >> 6;
	uint64_t bits = vm->fl_bitmap[w] & (~0ull << (from & 63));
	for (;;) {
		if (bits != 0)
			return (int)((w << 6) + (unsigned)__builtin_ctzll(bits));
		if (++w >= VMEM_FL_WORDS)
			return -1;
		bits = vm->fl_bitmap[w];
	}
}

/* ======================================================================
 * Busy-segment hash
 * ====================================================================== */

static inline size_t
hash_index(const struct vmem_arena *vm, vmem_addr_t addr, unsigned bits)
{
	uint64_t h = (uint64_t)(addr >> vm->quantum_shift) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> (64 - bits));
}

/*
 * Rebuild the hash with 2^bits buckets.  Lock held.  On allocation failure
 * the old table stays (it is only slower), so this cannot fail.
 */
static void
hash_rebuild(struct vmem_arena *vm, unsigned bits)
{
	size_t n = (size_t)1 << bits;
	struct bt **tab = bits == VMEM_HASH_MIN_BITS ? vm->hash_small :
	    calloc(n, sizeof(*tab));
	if (tab == NULL)
		return;
	if (tab == vm->hash_small)
		memset(tab, 0, sizeof(vm->hash_small));
	size_t old_n = (size_t)1 << vm->hash_bits;
	struct bt **old = vm->hash;
	/* Drain every chain into one list, then rehash into the new table
	 * (old and new never share storage: their sizes differ). */
	struct bt *all = NULL;
	for (size_t i = 0; i < old_n; i++) {
		struct bt *bt = old[i];
		while (bt != NULL) {
			struct bt *next = bt->q_next;
			bt->q_next = all;
			all = bt;
			bt = next;
		}
		old[i] = NULL;
	}
	while (all != NULL) {
		struct bt *next = all->q_next;
		size_t i = hash_index(vm, all->start, bits);
		all->q_next = tab[i];
		tab[i] = all;
		all = next;
	}
	if (old != vm->hash_small)
		free(old);
	vm->hash = tab;
	vm->hash_bits = bits;
	vm->st_hash_resizes++;
}

static inline void
hash_insert(struct vmem_arena *vm, struct bt *bt)
{
	size_t i = hash_index(vm, bt->start, vm->hash_bits);
	bt->q_next = vm->hash[i];
	vm->hash[i] = bt;
	vm->nbusy++;
	if (KVMEM_UNLIKELY(vm->nbusy > ((uint64_t)2 << vm->hash_bits)) &&
	    vm->hash_bits < 62)
		hash_rebuild(vm, vm->hash_bits + 1);
}

/* The link pointing at the busy tag starting at addr, or NULL. */
static inline struct bt **
hash_find(struct vmem_arena *vm, vmem_addr_t addr)
{
	struct bt **pp = &vm->hash[hash_index(vm, addr, vm->hash_bits)];
	while (*pp != NULL) {
		if ((*pp)->start == addr)
			return pp;
		pp = &(*pp)->q_next;
	}
	return NULL;
}

static inline void
hash_remove(struct vmem_arena *vm, struct bt **pp)
{
	*pp = (*pp)->q_next;
	vm->nbusy--;
	if (KVMEM_UNLIKELY(vm->hash_bits > VMEM_HASH_MIN_BITS &&
	    vm->nbusy < ((uint64_t)1 << vm->hash_bits) / 8))
		hash_rebuild(vm, vm->hash_bits - 1);
}

/* ======================================================================
 * Placement: where a request fits inside a free range
 * ====================================================================== */

/* A validated request. */
struct req {
	vmem_size_t	size;		/* rounded to the quantum */
	vmem_size_t	align;		/* power of two >= quantum */
	vmem_size_t	phase;
	vmem_size_t	nocross;	/* 0 or power of two >= size */
	vmem_addr_t	minaddr;
	vmem_addr_t	maxaddr;	/* inclusive */
	int		flags;
	bool		simple;		/* no constraint beyond the size */
	bool		topdown;
	bool		exact;		/* vmem_xalloc_addr */
	bool		quiet;		/* a cache's slab: a failure is not the caller's */
};

/* Smallest a >= x with a % align == phase; false on overflow. */
static inline bool
align_up(vmem_addr_t x, vmem_size_t align, vmem_size_t phase, vmem_addr_t *out)
{
	vmem_addr_t a = (x & ~(vmem_addr_t)(align - 1)) + phase;
	if (a < x) {
		if (a > VMEM_ADDR_MAX - align)
			return false;
		a += align;
	}
	*out = a;
	return true;
}

/* Largest a <= x with a % align == phase; false if there is none. */
static inline bool
align_down(vmem_addr_t x, vmem_size_t align, vmem_size_t phase, vmem_addr_t *out)
{
	vmem_addr_t base = x & ~(vmem_addr_t)(align - 1);
	vmem_addr_t a = base + phase;
	if (a > x) {
		if (base < align)
			return false;
		a -= align;
	}
	*out = a;
	return true;
}

static inline bool
crosses(vmem_addr_t a, vmem_size_t size, vmem_size_t nocross)
{
	return ((a ^ (a + (size - 1))) & ~(vmem_addr_t)(nocross - 1)) != 0;
}

/*
 * Find a placement of the request inside [first, last] (inclusive).
 * Bottom-up gives the lowest valid address, top-down the highest.
 */
static bool
fit(const struct req *r, vmem_addr_t first, vmem_addr_t last, vmem_addr_t *out)
{
	vmem_addr_t lo = first > r->minaddr ? first : r->minaddr;
	vmem_addr_t hi = last < r->maxaddr ? last : r->maxaddr;
	if (lo > hi || hi - lo < r->size - 1)
		return false;
	vmem_addr_t top = hi - (r->size - 1);	/* highest allowed start */
	vmem_addr_t a;

	if (!r->topdown) {
		if (!align_up(lo, r->align, r->phase, &a) || a > top)
			return false;
		if (r->nocross != 0 && crosses(a, r->size, r->nocross)) {
			/* Move to the next window; validation guarantees the
			 * first candidate there does not cross. */
			vmem_addr_t wlast = a | (vmem_addr_t)(r->nocross - 1);
			if (wlast == VMEM_ADDR_MAX ||
			    !align_up(wlast + 1, r->align, r->phase, &a) || a > top)
				return false;
		}
	} else {
		if (!align_down(top, r->align, r->phase, &a) || a < lo)
			return false;
		if (r->nocross != 0 && crosses(a, r->size, r->nocross)) {
			vmem_addr_t b = (a + (r->size - 1)) &
			    ~(vmem_addr_t)(r->nocross - 1);
			if (b < r->size ||
			    !align_down(b - r->size, r->align, r->phase, &a) || a < lo)
				return false;
		}
	}
	*out = a;
	return true;
}

static inline bool
fit_bt(const struct req *r, const struct bt *bt, vmem_addr_t *out)
{
	if (r->simple) {
		/* Quantum-aligned segment, no constraint: the start fits. */
		*out = bt->start;
		return bt->size >= r->size;
	}
	return fit(r, bt->start, bt_last(bt), out);
}

/* ======================================================================
 * Segment selection, one function per strategy.  Lock held.
 * ====================================================================== */

/*
 * Smallest fitting free segment among lists [from, to).  Lists are ordered
 * by size, so the first list holding any fit holds the best one.
 */
static struct bt *
find_best(struct vmem_arena *vm, const struct req *r, unsigned from,
    unsigned to, vmem_addr_t *addrp)
{
	for (int i = fl_find(vm, from); i >= 0 && (unsigned)i < to;
	    i = fl_find(vm, (unsigned)i + 1)) {
		if (vm->fl_max[i] < r->size)
			continue;	/* no member is big enough */
		struct bt *best = NULL;
		vmem_addr_t best_addr = 0, a;
		vmem_size_t max = 0;
		bool whole = true;
		for (struct bt *bt = vm->freelist[i]; bt != NULL; bt = bt->q_next) {
			if (bt->size > max)
				max = bt->size;
			if (best != NULL && bt->size >= best->size)
				continue;
			if (fit_bt(r, bt, &a)) {
				best = bt;
				best_addr = a;
				if (i < VMEM_FL_EXACT || bt->size == r->size) {
					whole = false;
					break;
				}
			}
		}
		if (best != NULL) {
			*addrp = best_addr;
			return best;
		}
		if (whole)
			vm->fl_max[i] = max;	/* the bound is exact now */
	}
	return NULL;
}

/*
 * Instant fit: the head of the first list whose members are all big enough
 * (big enough for any alignment, when aligned).  Failing that, a best-fit
 * search of the lists that may hold big-enough segments.
 */
static struct bt *
find_instant(struct vmem_arena *vm, const struct req *r, vmem_addr_t *addrp)
{
	vmem_size_t q = r->size >> vm->quantum_shift;
	vmem_size_t qneed = q;
	if (r->align > vm->quantum) {
		vmem_size_t extra = (r->align - vm->quantum) >> vm->quantum_shift;
		qneed = q > (vmem_size_t)-1 - extra ? (vmem_size_t)-1 : q + extra;
	}
	unsigned start = fl_index_instant(qneed);
	vmem_addr_t a;
	for (int i = fl_find(vm, start); i >= 0; i = fl_find(vm, (unsigned)i + 1)) {
		for (struct bt *bt = vm->freelist[i]; bt != NULL; bt = bt->q_next) {
			if (fit_bt(r, bt, &a)) {
				*addrp = a;
				return bt;
			}
		}
	}
	return find_best(vm, r, fl_index(q), start, addrp);
}

/*
 * Next fit: the first placement at or after the rotor address, else (after
 * wrapping) the first from the bottom.  vm->rotor is a tag at or before the
 * rotor address, so the search usually starts right there: O(1) when the
 * segment after the last allocation fits.
 */
static struct bt *
find_next(struct vmem_arena *vm, const struct req *r, vmem_addr_t *addrp)
{
	struct bt *head = &vm->seg_head, *bt;
	struct bt *start = vm->rotor_addr == 0 ? head : vm->rotor;
	struct req after = *r;
	bool tried_above = false;
	after.simple = false;
	if (after.minaddr < vm->rotor_addr)
		after.minaddr = vm->rotor_addr;
	if (after.minaddr <= after.maxaddr) {
		tried_above = true;
		for (bt = start == head ? head->seg_next : start; bt != head;
		    bt = bt->seg_next) {
			if (bt->type == BT_FREE && bt_last(bt) >= after.minaddr &&
			    fit(&after, bt->start, bt_last(bt), addrp))
				return bt;
		}
	}
	/* Wrap: everything below the rotor address (segments wholly above it
	 * were tried already, under the same bounds). */
	for (bt = head->seg_next; bt != head; bt = bt->seg_next) {
		if (tried_above && bt->start >= after.minaddr)
			break;
		if (bt->type == BT_FREE && fit_bt(r, bt, addrp))
			return bt;
	}
	return NULL;
}

/* Top-down: the highest fitting free segment. */
static struct bt *
find_topdown(struct vmem_arena *vm, const struct req *r, vmem_addr_t *addrp)
{
	for (struct bt *bt = vm->seg_head.seg_prev; bt != &vm->seg_head;
	    bt = bt->seg_prev) {
		if (bt->type != BT_FREE)
			continue;
		if (bt_last(bt) < r->minaddr)
			break;	/* everything further down is lower still */
		if (fit(r, bt->start, bt_last(bt), addrp))
			return bt;
	}
	return NULL;
}

/* The span tag of the span containing addr, or NULL. */
static struct bt *
span_find(struct vmem_arena *vm, vmem_addr_t addr)
{
	for (struct bt *s = vm->span_list; s != NULL && s->start <= addr;
	    s = s->q_next) {
		if (addr <= bt_last(s))
			return s;
	}
	return NULL;
}

/*
 * The segment (free or busy) containing addr, or NULL.  The walk starts at
 * the span's first segment, or at the last segment found when that lies in
 * the same span below addr, so ascending lookups (exact placements in
 * sequence) cost O(1).
 */
static struct bt *
seg_find(struct vmem_arena *vm, vmem_addr_t addr)
{
	struct bt *s = span_find(vm, addr);
	if (s == NULL)
		return NULL;
	struct bt *bt = s->seg_next, *h = vm->seg_hint;
	if (h != &vm->seg_head && h->type != BT_SPAN && h->start <= addr &&
	    h->start >= s->start && h->start <= bt_last(s))
		bt = h;
	for (; bt != &vm->seg_head && bt->type != BT_SPAN && bt->start <= addr;
	    bt = bt->seg_next) {
		if (addr <= bt_last(bt)) {
			vm->seg_hint = bt;
			return bt;
		}
	}
	return NULL;
}

/* Exact placement: the free segment holding [minaddr, maxaddr]. */
static struct bt *
find_exact(struct vmem_arena *vm, const struct req *r, vmem_addr_t *addrp)
{
	struct bt *bt = seg_find(vm, r->minaddr);
	if (bt == NULL || bt->type != BT_FREE || bt_last(bt) < r->maxaddr)
		return NULL;
	*addrp = r->minaddr;
	return bt;
}

static inline struct bt *
find(struct vmem_arena *vm, const struct req *r, vmem_addr_t *addrp)
{
	if (r->exact)
		return find_exact(vm, r, addrp);
	if (r->topdown)
		return find_topdown(vm, r, addrp);
	switch (r->flags & FIT_MASK) {
	case M_BESTFIT:
		return find_best(vm, r, fl_index(r->size >> vm->quantum_shift),
		    VMEM_NFREELIST, addrp);
	case M_NEXTFIT:
		return find_next(vm, r, addrp);
	default:
		return find_instant(vm, r, addrp);
	}
}

/*
 * Turn [addr, addr + size) of free segment bt into a busy segment.  Lock
 * held; BT_NEED_ALLOC idle tags reserved.  The remainders stay free (the
 * original tag is kept for one of them so its list often need not change).
 * Returns the busy tag.
 */
HOT struct bt *
seg_carve(struct vmem_arena *vm, struct bt *bt, vmem_addr_t addr, vmem_size_t size)
{
	vmem_size_t lead = addr - bt->start;
	vmem_size_t trail = bt->size - lead - size;
	struct bt *busy;

	if (lead == 0 && trail == 0) {
		fl_remove(vm, bt);
		busy = bt;
	} else {
		busy = bt_get(vm);
		busy->start = addr;
		busy->size = size;
		if (lead == 0) {
			seg_insert_after(bt->seg_prev, busy);
			if (vm->rotor == bt)
				vm->rotor = busy;	/* keep it at or before rotor_addr */
			bt->start += size;
			bt->size = trail;
			fl_resize(vm, bt);
		} else {
			seg_insert_after(bt, busy);
			bt->size = lead;
			fl_resize(vm, bt);
			if (trail != 0) {
				struct bt *t = bt_get(vm);
				t->type = BT_FREE;
				t->start = addr + size;
				t->size = trail;
				seg_insert_after(busy, t);
				fl_insert(vm, t);
			}
		}
	}
	busy->type = BT_BUSY;
	hash_insert(vm, busy);
	vm->size_inuse += size;
	return busy;
}

/* ======================================================================
 * Spans
 * ====================================================================== */

/*
 * Join span b into span a, which ends right where b starts.  Both are
 * mergeable.  The free segments meeting at the old boundary coalesce.
 */
static void
span_join(struct vmem_arena *vm, struct bt *a, struct bt *b)
{
	struct bt *a_last = b->seg_prev;	/* a's last segment */
	struct bt *b_first = b->seg_next;	/* b's first segment */

	a->size += b->size;
	a->q_next = b->q_next;
	if (b->q_next != NULL)
		b->q_next->q_pprev = &a->q_next;
	seg_remove(vm, b);
	bt_put(vm, b);
	vm->nspans--;

	if (a_last->type == BT_FREE && b_first->type == BT_FREE) {
		a_last->size += b_first->size;
		fl_remove(vm, b_first);
		seg_remove(vm, b_first);
		bt_put(vm, b_first);
		fl_resize(vm, a_last);
	}
}

/*
 * Add the span [addr, addr + size) with the given BT_SPAN_* flags.  Lock
 * held; BT_NEED_SPAN idle tags reserved; arguments validated.  Returns 0
 * with *clash set to the new span tag (meaningful only if not mergeable),
 * or EEXIST (nothing changed) with *clash set to the overlapping span.
 */
static int
span_add(struct vmem_arena *vm, vmem_addr_t addr, vmem_size_t size,
    uint8_t flags, struct bt **clash)
{
	vmem_addr_t last = addr + (size - 1);
	struct bt **link = &vm->span_list, *prev = NULL;
	while (*link != NULL && (*link)->start <= last) {
		if (bt_last(*link) >= addr) {
			*clash = *link;
			return EEXIST;
		}
		prev = *link;
		link = &(*link)->q_next;
	}
	struct bt *next = *link;

	struct bt *s = bt_get(vm);
	s->type = BT_SPAN;
	s->span_flags = flags;
	s->start = addr;
	s->size = size;
	s->q_next = next;
	s->q_pprev = link;
	if (next != NULL)
		next->q_pprev = &s->q_next;
	*link = s;

	struct bt *f = bt_get(vm);
	f->type = BT_FREE;
	f->start = addr;
	f->size = size;
	seg_insert_after((next != NULL ? next : &vm->seg_head)->seg_prev, s);
	seg_insert_after(s, f);
	fl_insert(vm, f);

	vm->nspans++;
	vm->size_total += size;
	if (flags & BT_SPAN_IMPORTED)
		vm->size_imported += size;
	*clash = s;	/* on success: the new span (until it merges) */

	if (flags & BT_SPAN_MERGEABLE) {
		if (next != NULL && (next->span_flags & BT_SPAN_MERGEABLE) &&
		    next->start == last + 1)
			span_join(vm, s, next);
		if (prev != NULL && (prev->span_flags & BT_SPAN_MERGEABLE) &&
		    bt_last(prev) + 1 == addr)
			span_join(vm, prev, s);
	}
	return 0;
}

/*
 * Unlink span s, whose single free segment f covers it entirely.  Lock
 * held.  The caller gives the range back to the source after unlocking.
 */
static void
span_remove(struct vmem_arena *vm, struct bt *s, struct bt *f)
{
	fl_remove(vm, f);
	seg_remove(vm, f);
	bt_put(vm, f);
	*s->q_pprev = s->q_next;
	if (s->q_next != NULL)
		s->q_next->q_pprev = s->q_pprev;
	seg_remove(vm, s);
	vm->nspans--;
	vm->size_total -= s->size;
	if (s->span_flags & BT_SPAN_IMPORTED)
		vm->size_imported -= s->size;
	bt_put(vm, s);
}

static inline void
wake_sleepers(struct vmem_arena *vm)
{
	if (vm->nwaiters != 0)
		vmem_waitq_wakeall(&vm->cv);
}

/* ======================================================================
 * Creation and destruction
 * ====================================================================== */

static bool
is_pow2(vmem_size_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static int
check_range(const struct vmem_arena *vm, vmem_addr_t addr, vmem_size_t size)
{
	if (size == 0 || (addr & vm->quantum_mask) != 0 ||
	    (size & vm->quantum_mask) != 0 || size - 1 > VMEM_ADDR_MAX - addr)
		return EINVAL;
	return 0;
}

vmem_t *
vmem_init(vmem_t *v, const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum, vmem_size_t qcache_max, int flags)
{
	(void)flags;
	if (v == NULL || !is_pow2(quantum) || (base & (quantum - 1)) != 0 ||
	    (size & (quantum - 1)) != 0 ||
	    (size != 0 && size - 1 > VMEM_ADDR_MAX - base)) {
		errno = EINVAL;
		return NULL;
	}
	struct vmem_arena *vm = VM(v);
	memset(vm, 0, sizeof(*vm));
	snprintf(vm->name, sizeof(vm->name), "%s", name != NULL ? name : "(anon)");
	vm->quantum = quantum;
	vm->quantum_mask = quantum - 1;
	vm->quantum_shift = log2_floor(quantum);
	vm->qcache_max = qcache_max;
	vm->import_quantum = quantum;
	if (vmem_lock_init(&vm->lock) != 0) {
		errno = ENOMEM;
		return NULL;
	}
	if (vmem_waitq_init(&vm->cv) != 0) {
		vmem_lock_fini(&vm->lock);
		errno = ENOMEM;
		return NULL;
	}
	vm->seg_head.seg_next = vm->seg_head.seg_prev = &vm->seg_head;
	vm->seg_head.type = BT_NONE;
	vm->rotor = &vm->seg_head;
	vm->seg_hint = &vm->seg_head;
	vm->hash = vm->hash_small;
	vm->hash_bits = VMEM_HASH_MIN_BITS;
	vm->magic = VMEM_MAGIC;
	atomic_fetch_add(&live_arenas, 1);

	if (qcache_max != 0 && vmem__qc_init(vm, flags) != 0) {
		vmem_destroy(v);
		errno = ENOMEM;
		return NULL;
	}
	if (size != 0) {
		struct bt *clash;
		if (bt_reserve(vm, BT_NEED_SPAN) != 0 ||
		    span_add(vm, base, size, 0, &clash) != 0) {
			vmem_destroy(v);
			errno = ENOMEM;
			return NULL;
		}
	}
	registry_link(vm);
	return v;
}

vmem_t *
vmem_create(const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum, vmem_size_t qcache_max, int flags)
{
	struct vmem_arena *vm = malloc(sizeof(*vm));
	if (vm == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	if (vmem_init(VT(vm), name, base, size, quantum, qcache_max, flags) == NULL) {
		int e = errno;
		free(vm);
		errno = e;
		return NULL;
	}
	vm->heap_allocated = true;
	return VT(vm);
}

void
vmem_destroy(vmem_t *v)
{
	struct vmem_arena *vm = arena(v, "vmem_destroy");

	registry_unlink(vm);
	vmem__qc_fini(vm);
	uint64_t nleak = 0;
	vmem_size_t leaked = 0;
	vmem_addr_t first_leak = 0;
	vmem_lock(&vm->lock);
	KVMEM_ASSERT_ALWAYS(vm->nwaiters == 0);
	for (struct bt *bt = vm->seg_head.seg_next; bt != &vm->seg_head;
	    bt = bt->seg_next) {
		if (bt->type == BT_BUSY) {
			if (nleak++ == 0)
				first_leak = bt->start;
			leaked += bt->size;
		}
	}
	vmem_unlock(&vm->lock);
	if (nleak != 0)
		vmem__misuse(vm, VMEM_MISUSE_LEAK, first_leak, leaked,
		    "destroyed with %" PRIu64 " live allocation%s (%zu bytes), "
		    "first at 0x%" PRIxPTR " (vmem_destroy)", nleak,
		    nleak == 1 ? "" : "s", leaked, first_leak);

	/* Give releasable spans back, whatever is still allocated in them. */
	for (struct bt *s = vm->span_list; s != NULL; s = s->q_next) {
		if ((s->span_flags & BT_SPAN_RELEASABLE) && vm->releasefn != NULL)
			vm->releasefn(vm->import_arg, s->start, s->size);
	}

	if (vm->hash != vm->hash_small)
		free(vm->hash);
	while (vm->slabs != NULL) {
		struct bt_slab *s = vm->slabs;
		vm->slabs = s->next;
		free(s);
		atomic_fetch_sub(&live_slabs, 1);
	}
	vmem_waitq_fini(&vm->cv);
	vmem_lock_fini(&vm->lock);
	vm->magic = 0;
	atomic_fetch_sub(&live_arenas, 1);
	if (vm->heap_allocated)
		free(vm);
}

/* ======================================================================
 * Configuration
 * ====================================================================== */

static void
set_import(struct vmem_arena *vm, vmem_import_t *importfn,
    vmem_ximport_t *ximportfn, vmem_release_t *releasefn, void *arg,
    vmem_size_t import_quantum)
{
	vmem_lock(&vm->lock);
	vm->importfn = importfn;
	vm->ximportfn = ximportfn;
	vm->releasefn = releasefn;
	vm->import_arg = arg;
	if (import_quantum < vm->quantum)
		import_quantum = vm->quantum;
	vm->import_quantum = (import_quantum + vm->quantum_mask) & ~vm->quantum_mask;
	vmem_unlock(&vm->lock);
}

void
vmem_set_import(vmem_t *v, vmem_import_t *importfn, vmem_release_t *releasefn,
    void *arg, vmem_size_t import_quantum)
{
	set_import(arena(v, "vmem_set_import"), importfn, NULL, releasefn, arg,
	    import_quantum);
}

void
vmem_set_ximport(vmem_t *v, vmem_ximport_t *importfn, vmem_release_t *releasefn,
    void *arg, vmem_size_t import_quantum)
{
	set_import(arena(v, "vmem_set_ximport"), NULL, importfn, releasefn, arg,
	    import_quantum);
}

void
vmem_set_source(vmem_t *child, vmem_t *parent, vmem_size_t import_quantum)
{
	struct vmem_arena *p = arena(parent, "vmem_set_source");
	struct vmem_arena *c = arena(child, "vmem_set_source");
	set_import(c, NULL, vmem_ximport_from_arena, vmem_release_to_arena,
	    parent, import_quantum);
	pthread_mutex_lock(&registry_lock);
	atomic_store_explicit(&c->parent, p, memory_order_release);
	pthread_mutex_unlock(&registry_lock);
}

void
vmem_set_parent(vmem_t *child, vmem_t *parent)
{
	struct vmem_arena *c = arena(child, "vmem_set_parent");
	struct vmem_arena *p = parent != NULL ? arena(parent, "vmem_set_parent") : NULL;
	pthread_mutex_lock(&registry_lock);
	atomic_store_explicit(&c->parent, p, memory_order_release);
	pthread_mutex_unlock(&registry_lock);
}

vmem_t *
vmem_get_parent(vmem_t *v)
{
	struct vmem_arena *vm = arena(v, "vmem_get_parent");
	/* No lock: vmem_foreach callbacks call this with the list lock held. */
	struct vmem_arena *p = atomic_load_explicit(&vm->parent, memory_order_acquire);
	return p != NULL ? VT(p) : NULL;
}

void
vmem_set_limit(vmem_t *v, vmem_size_t limit)
{
	struct vmem_arena *vm = arena(v, "vmem_set_limit");
	vmem_lock(&vm->lock);
	vm->limit = limit;
	wake_sleepers(vm);
	vmem_unlock(&vm->lock);
}

void
vmem_set_reclaim(vmem_t *v, vmem_reclaim_t *reclaimfn)
{
	struct vmem_arena *vm = arena(v, "vmem_set_reclaim");
	vmem_lock(&vm->lock);
	vm->reclaimfn = reclaimfn;
	vmem_unlock(&vm->lock);
}

/* ======================================================================
 * Import from a parent arena (vmem_set_source)
 * ====================================================================== */

/*
 * Import from the parent arena `arg`.  The allocation will be placed at
 * the start of the region, so the region itself carries the alignment,
 * phase and lower bound; only its first `size` bytes must respect maxaddr
 * and nocross.  Tries the suggested (import-quantum) size first, then the
 * bare size.
 */
int
vmem_ximport_from_arena(void *arg, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
    vmem_addr_t maxaddr, int flags, vmem_addr_t *addrp, vmem_size_t *sizep)
{
	vmem_t *parent = arg;
	vmem_size_t want = nocross != 0 ? size : *sizep;
	int pflags = (flags & (M_NOWAIT | M_WAITOK | M_NORECLAIM)) | M_BESTFIT;
	int error;

	for (;;) {
		vmem_size_t slack = want - size;
		vmem_addr_t pmax = VMEM_ADDR_MAX - maxaddr < slack ?
		    VMEM_ADDR_MAX : maxaddr + slack;
		error = vmem_xalloc(parent, want, align, phase,
		    want == size ? nocross : 0, minaddr, pmax,
		    want == size ? pflags : (pflags & ~M_WAITOK) | M_NOWAIT, addrp);
		if (error == 0) {
			*sizep = vmem_roundup_size(parent, want);
			return 0;
		}
		if (want == size)
			return error;
		want = size;
	}
}

void
vmem_release_to_arena(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	vmem_xfree(arg, addr, size);
}

/* ======================================================================
 * Allocation
 * ====================================================================== */

/*
 * Validate a vmem_xalloc() request into *r.  Returns 0 or EINVAL when no
 * arena state could ever satisfy it.
 */
static int
req_init(const struct vmem_arena *vm, struct req *r, vmem_size_t size,
    vmem_size_t align, vmem_size_t phase, vmem_size_t nocross,
    vmem_addr_t minaddr, vmem_addr_t maxaddr, int flags)
{
	int fitflags = flags & FIT_MASK;
	if ((fitflags & (fitflags - 1)) != 0 ||
	    (flags & (M_NOWAIT | M_WAITOK)) == (M_NOWAIT | M_WAITOK))
		return EINVAL;
	if (size == 0 || size > VMEM_ADDR_MAX - vm->quantum_mask)
		return EINVAL;
	size = (size + vm->quantum_mask) & ~vm->quantum_mask;
	if (align != 0 && !is_pow2(align))
		return EINVAL;
	if (align < vm->quantum)
		align = vm->quantum;
	if (phase >= align || (phase & vm->quantum_mask) != 0)
		return EINVAL;
	if (nocross != 0 && (!is_pow2(nocross) || nocross < size ||
	    (phase & (nocross - 1)) + size > nocross))
		return EINVAL;
	if (minaddr > maxaddr || size - 1 > maxaddr - minaddr)
		return EINVAL;

	r->size = size;
	r->align = align;
	r->phase = phase;
	r->nocross = nocross;
	r->minaddr = minaddr;
	r->maxaddr = maxaddr;
	r->flags = flags;
	r->topdown = (flags & VMEM_TOPDOWN) != 0;
	r->exact = false;
	r->quiet = false;
	r->simple = align == vm->quantum && phase == 0 && nocross == 0 &&
	    minaddr == VMEM_ADDR_MIN && maxaddr == VMEM_ADDR_MAX && !r->topdown;
	/* Whether any placement exists at all in [minaddr, maxaddr] is
	 * decided only if the allocation fails (req_never_fits): a request
	 * that found space plainly could. */
	return 0;
}

/*
 * True if no arena state could ever satisfy r: no address in [minaddr,
 * maxaddr] meets its alignment, phase and nocross.  Over the whole address
 * space without nocross the placement at `phase` always exists.
 */
static bool
req_never_fits(const struct req *r)
{
	vmem_addr_t a;
	if (r->exact || (r->nocross == 0 && r->minaddr == VMEM_ADDR_MIN &&
	    r->maxaddr == VMEM_ADDR_MAX))
		return false;
	return !fit(r, r->minaddr, r->maxaddr, &a);
}

/*
 * Import a span for request r.  Lock held on entry and exit, dropped
 * around the callback.  Returns 0 when a span was added; *spanp is then
 * its tag if it is releasable (such spans never merge), else NULL.
 */
static int
import(struct vmem_arena *vm, const struct req *r, struct bt **spanp)
{
	vmem_size_t iq = vm->import_quantum, need = r->size, got;
	if (vm->ximportfn == NULL) {
		/* A plain import knows only a size: ask for enough that any
		 * placement of the region holds an aligned, non-crossing block. */
		vmem_size_t extra = r->align - vm->quantum;
		if (r->nocross != 0)
			extra += r->size + r->align;
		if (need > VMEM_ADDR_MAX - extra)
			return ENOMEM;
		need += extra;
	}
	if (need > VMEM_ADDR_MAX - (iq - 1))
		return ENOMEM;
	got = (need + iq - 1) / iq * iq;
	if (vm->limit != 0 && (got > vm->limit || vm->size_total > vm->limit - got)) {
		vm->st_import_fails++;
		return ENOMEM;
	}

	/* Hold back the tags the new span needs while unlocked. */
	int error = bt_reserve(vm, BT_NEED_SPAN);
	if (error != 0)
		return error;
	struct bt *t1 = bt_get(vm), *t2 = bt_get(vm);

	vmem_import_t *importfn = vm->importfn;
	vmem_ximport_t *ximportfn = vm->ximportfn;
	vmem_release_t *releasefn = vm->releasefn;
	void *arg = vm->import_arg;
	vmem_addr_t addr = 0;
	vmem_unlock(&vm->lock);
	if (ximportfn != NULL)
		error = ximportfn(arg, r->size, r->align, r->phase, r->nocross,
		    r->minaddr, r->maxaddr, r->flags, &addr, &got);
	else
		error = importfn(arg, got, r->flags, &addr);
	vmem_lock(&vm->lock);
	bt_put(vm, t2);
	bt_put(vm, t1);
	if (error != 0) {
		vm->st_import_fails++;
		return error;
	}

	uint8_t flags = BT_SPAN_IMPORTED |
	    (releasefn != NULL ? BT_SPAN_RELEASABLE : BT_SPAN_MERGEABLE);
	struct bt *clash = NULL;
	error = check_range(vm, addr, got);
	if (error == 0)
		error = span_add(vm, addr, got, flags, &clash);
	if (error != 0) {
		vm->st_import_fails++;
		vmem_unlock(&vm->lock);
		vmem__misuse(vm, VMEM_MISUSE_BAD_ARG, addr, got,
		    "import callback returned %s range 0x%" PRIxPTR " size %zu",
		    clash != NULL ? "an overlapping" : "an unaligned", addr, got);
		vmem_lock(&vm->lock);
		return EINVAL;
	}
	vm->st_imports++;
	*spanp = (flags & BT_SPAN_RELEASABLE) ? clash : NULL;
	wake_sleepers(vm);
	return 0;
}

/*
 * Give span s back to the source if it is entirely free.  Lock held on
 * entry and exit, dropped around the release callback.
 */
static void
release_if_free(struct vmem_arena *vm, struct bt *s)
{
	struct bt *f = s->seg_next;
	if (f->type != BT_FREE || f->size != s->size)
		return;
	vmem_release_t *fn = vm->releasefn;
	void *arg = vm->import_arg;
	vmem_addr_t addr = s->start;
	vmem_size_t size = s->size;
	span_remove(vm, s, f);
	vm->st_releases++;
	vmem_unlock(&vm->lock);
	if (fn != NULL)
		fn(arg, addr, size);
	vmem_lock(&vm->lock);
}

/*
 * Instant fit without constraints, the common case: the head of the first
 * big-enough list, placed at its start.  size is rounded.  Returns false
 * (nothing changed) when the general path must decide.
 */
HOT bool
seg_alloc_fast(struct vmem_arena *vm, vmem_size_t size, vmem_addr_t *addrp)
{
	int i;
	vmem_lock(&vm->lock);
	if (KVMEM_LIKELY(vm->nbt_idle >= BT_NEED_ALLOC) &&
	    (i = fl_find(vm, fl_index_instant(size >> vm->quantum_shift))) >= 0) {
		struct bt *bt = vm->freelist[i];
		vmem_addr_t addr = bt->start;
		seg_carve(vm, bt, addr, size);
		vm->st_allocs++;
		vmem_unlock(&vm->lock);
		*addrp = addr;
		return true;
	}
	vmem_unlock(&vm->lock);
	return false;
}

int
vmem__qc_lone_alloc(struct vmem_arena *vm, vmem_size_t size, vmem_addr_t *addrp)
{
	struct req r = {
		.size = size, .align = vm->quantum, .phase = 0, .nocross = 0,
		.minaddr = VMEM_ADDR_MIN, .maxaddr = VMEM_ADDR_MAX,
		.flags = M_NOWAIT | M_FIRSTFIT, .simple = true,
	};
	vmem_addr_t addr;
	int error = ENOMEM;
	vmem_lock(&vm->lock);
	struct bt *bt;
	if ((vm->nbt_idle >= BT_NEED_ALLOC || bt_reserve(vm, BT_NEED_ALLOC) == 0) &&
	    (bt = find(vm, &r, &addr)) != NULL) {
		seg_carve(vm, bt, addr, size);
		vm->st_allocs++;
		*addrp = addr;
		error = 0;
	}
	vmem_unlock(&vm->lock);
	return error;
}

void
vmem__qc_sleep(struct vmem_arena *vm)
{
	vmem_lock(&vm->lock);
	vm->st_sleeps++;
	vm->nwaiters++;
	vmem_waitq_sleep_ns(&vm->cv, &vm->lock, VMEM_QC_SLEEP_NS);
	vm->nwaiters--;
	vmem_unlock(&vm->lock);
}

/*
 * The allocation loop shared by every allocation call: find, else import,
 * else reclaim, else fail (M_NOWAIT) or sleep and retry.
 */
static int
xalloc(struct vmem_arena *vm, struct req *r, vmem_addr_t *addrp)
{
	bool can_import = true, reclaimed = false, drained = false, tested = false;
	struct bt *fresh = NULL;
	vmem_addr_t addr;
	struct bt *bt;

	vmem_lock(&vm->lock);
	for (;;) {
		if (KVMEM_UNLIKELY(vm->nbt_idle < BT_NEED_ALLOC) &&
		    bt_reserve(vm, BT_NEED_ALLOC) != 0)
			break;
		bt = find(vm, r, &addr);
		if (KVMEM_LIKELY(bt != NULL)) {
			struct bt *busy = seg_carve(vm, bt, addr, r->size);
			if ((r->flags & FIT_MASK) == M_NEXTFIT) {
				vm->rotor = busy;
				vm->rotor_addr = addr + r->size;
			}
			vm->st_allocs++;
			if (KVMEM_UNLIKELY(fresh != NULL)) {
				/* Space freed elsewhere while we imported may
				 * have served the request: do not hoard the
				 * span imported for it. */
				release_if_free(vm, fresh);
			}
			vmem_unlock(&vm->lock);
			*addrp = addr;
			return 0;
		}
		if (!tested && (tested = true, req_never_fits(r))) {
			vm->st_alloc_einval++;
			vmem_unlock(&vm->lock);
			return EINVAL;
		}
		if (fresh != NULL) {
			/* The span just imported (and searched under this same
			 * lock hold) cannot hold the request: do not hoard it. */
			release_if_free(vm, fresh);
			fresh = NULL;
		}
		if (can_import && (vm->ximportfn != NULL ||
		    (vm->importfn != NULL && !r->exact))) {
			/* One import per round: importing again would not help
			 * until something changes. */
			can_import = false;
			if (import(vm, r, &fresh) == 0)
				continue;
		}
		if (!drained && vm->qc != NULL) {
			/* Objects idle in the quantum caches may free a
			 * segment that fits. */
			drained = true;
			vmem_unlock(&vm->lock);
			bool released = vmem__qc_drain(vm);
			vmem_lock(&vm->lock);
			if (released)
				continue;
		}
		if (r->exact)
			break;
		if (!reclaimed && vm->reclaimfn != NULL &&
		    (r->flags & M_NORECLAIM) == 0) {
			vmem_reclaim_t *fn = vm->reclaimfn;
			vmem_size_t avail = vm->size_total - vm->size_inuse;
			reclaimed = true;
			vm->st_reclaims++;
			vmem_unlock(&vm->lock);
			fn(VT(vm), r->flags);
			/* What the callback freed in cached sizes sits in its
			 * thread's magazines: bring it down to the segments. */
			if (vm->qc != NULL)
				(void)vmem__qc_drain(vm);
			vmem_lock(&vm->lock);
			if (vm->size_total - vm->size_inuse > avail)
				continue;
		}
		if (r->flags & M_NOWAIT)
			break;
		vm->st_sleeps++;
		vm->nwaiters++;
		if (vm->qc != NULL) {
			/* Frees of cached sizes land in magazines and wake no
			 * one: wake up now and then to drain the caches again. */
			vmem_waitq_sleep_ns(&vm->cv, &vm->lock, VMEM_QC_SLEEP_NS);
		} else {
			vmem_waitq_sleep(&vm->cv, &vm->lock);
		}
		vm->nwaiters--;
		can_import = true;
		reclaimed = false;
		drained = false;
	}
	if (!r->quiet)
		vm->st_alloc_fails++;
	vmem_unlock(&vm->lock);
	return ENOMEM;
}

int
vmem__qc_slab_alloc(struct vmem_arena *vm, vmem_size_t size, vmem_size_t align,
    int flags, vmem_addr_t *addrp)
{
	struct req r;
	int error = req_init(vm, &r, size, align, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    flags);
	if (error != 0)
		return error;	/* a cache's slab request is always valid */
	r.quiet = true;
	return xalloc(vm, &r, addrp);
}

static int
count_einval(struct vmem_arena *vm)
{
	vmem_lock(&vm->lock);
	vm->st_alloc_einval++;
	vmem_unlock(&vm->lock);
	return EINVAL;
}

int
vmem_xalloc(vmem_t *v, vmem_size_t size, vmem_size_t align, vmem_size_t phase,
    vmem_size_t nocross, vmem_addr_t minaddr, vmem_addr_t maxaddr, int flags,
    vmem_addr_t *addrp)
{
	struct vmem_arena *vm = arena(v, "vmem_xalloc");
	struct req r;
	if (req_init(vm, &r, size, align, phase, nocross, minaddr, maxaddr, flags) != 0)
		return count_einval(vm);
	if (r.simple && (flags & (M_BESTFIT | M_NEXTFIT)) == 0 &&
	    seg_alloc_fast(vm, r.size, addrp))
		return 0;
	return xalloc(vm, &r, addrp);
}

/* Everything vmem_alloc() does beyond a quantum-cache hit. */
static int __attribute__((noinline))
alloc_general(struct vmem_arena *vm, vmem_size_t size, int flags,
    vmem_addr_t *addrp)
{
	struct req r;
	/* size 0 wraps to the maximum and fails the same test as overflow. */
	if (KVMEM_UNLIKELY(size - 1 >= VMEM_ADDR_MAX - vm->quantum_mask ||
	    BAD_FLAGS(flags)))
		return count_einval(vm);
	if (size <= vm->qcache_max) {
		size_t i = (size - 1) >> vm->quantum_shift;
		if (qc_alloc_hit(vm, i, addrp))		/* fit flags do not matter */
			return 0;
		int error = vmem__qc_alloc_slow(vm, (unsigned)i, flags, addrp);
		if (error == ENOMEM) {
			/* Counted here: the cache's own slab imports fail quietly. */
			vmem_lock(&vm->lock);
			vm->st_alloc_fails++;
			vmem_unlock(&vm->lock);
		}
		return error;
	}
	size = (size + vm->quantum_mask) & ~vm->quantum_mask;

	if (KVMEM_LIKELY((flags & (M_BESTFIT | M_NEXTFIT | VMEM_TOPDOWN)) == 0)) {
		if (seg_alloc_fast(vm, size, addrp))
			return 0;
	}

	r.size = size;
	r.align = vm->quantum;
	r.phase = 0;
	r.nocross = 0;
	r.minaddr = VMEM_ADDR_MIN;
	r.maxaddr = VMEM_ADDR_MAX;
	r.flags = flags;
	r.topdown = (flags & VMEM_TOPDOWN) != 0;
	r.simple = !r.topdown;
	r.exact = false;
	r.quiet = false;
	return xalloc(vm, &r, addrp);
}

/*
 * The entry point is kept small so a quantum-cache hit pays for no stack
 * frame: the hit is tried here, everything else is alloc_general().  (A
 * NULL arena faults on the magic load, before anything is touched.)
 */
int
vmem_alloc(vmem_t *v, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	struct vmem_arena *vm = VM(v);
	if (KVMEM_UNLIKELY(vm->magic != VMEM_MAGIC))
		not_an_arena(v, "vmem_alloc");
	if (KVMEM_LIKELY(size - 1 < vm->qcache_max && HIT_FLAGS(flags)) &&
	    qc_alloc_hit(vm, (size - 1) >> vm->quantum_shift, addrp))
		return 0;
	return alloc_general(vm, size, flags, addrp);
}

int
vmem_xalloc_addr(vmem_t *v, vmem_addr_t addr, vmem_size_t size, int flags)
{
	struct vmem_arena *vm = arena(v, "vmem_xalloc_addr");
	if (size == 0 || size > VMEM_ADDR_MAX - vm->quantum_mask)
		return count_einval(vm);
	size = (size + vm->quantum_mask) & ~vm->quantum_mask;
	if ((addr & vm->quantum_mask) != 0 || size - 1 > VMEM_ADDR_MAX - addr)
		return count_einval(vm);
	struct req r = {
		.size = size, .align = vm->quantum, .phase = 0, .nocross = 0,
		.minaddr = addr, .maxaddr = addr + (size - 1),
		.flags = (flags & ~(M_WAITOK | FIT_MASK | VMEM_TOPDOWN)) | M_NOWAIT,
		.simple = false, .topdown = false, .exact = true,
	};
	vmem_addr_t got;
	return xalloc(vm, &r, &got);
}

/* ======================================================================
 * Free
 * ====================================================================== */

/*
 * Classify a free that found no busy segment at addr, and report it.
 * Called unlocked.
 */
static void
report_bad_free(struct vmem_arena *vm, vmem_addr_t addr, vmem_size_t size,
    const char *call)
{
	vmem_lock(&vm->lock);
	struct bt *bt = seg_find(vm, addr);
	bool dbl = bt != NULL && bt->type == BT_FREE;
	vmem_unlock(&vm->lock);
	if (dbl)
		vmem__misuse(vm, VMEM_MISUSE_DOUBLE_FREE, addr, size,
		    "double free of 0x%" PRIxPTR " size %zu (%s)", addr, size, call);
	else
		vmem__misuse(vm, VMEM_MISUSE_UNKNOWN_FREE, addr, size,
		    "free of unallocated address 0x%" PRIxPTR " size %zu (%s)",
		    addr, size, call);
}

HOT void
xfree(struct vmem_arena *vm, vmem_addr_t addr, vmem_size_t size, const char *call)
{
	vmem_size_t rsize = (size + vm->quantum_mask) & ~vm->quantum_mask;
	vmem_lock(&vm->lock);
	struct bt **pp = hash_find(vm, addr);
	if (KVMEM_UNLIKELY(pp == NULL)) {
		vmem_unlock(&vm->lock);
		report_bad_free(vm, addr, size, call);
		return;
	}
	struct bt *bt = *pp;
	if (KVMEM_UNLIKELY(bt->size != rsize)) {
		vmem_size_t had = bt->size;
		vmem_unlock(&vm->lock);
		vmem__misuse(vm, VMEM_MISUSE_SIZE_MISMATCH, addr, size,
		    "free of 0x%" PRIxPTR " with size %zu, allocated with size %zu (%s)",
		    addr, size, had, call);
		return;
	}
	hash_remove(vm, pp);
	vm->size_inuse -= rsize;
	vm->st_frees++;

	/* Coalesce with the free neighbours inside the span. */
	struct bt *next = bt->seg_next, *prev = bt->seg_prev;
	bool listed = false;
	if (next->type == BT_FREE) {
		next->start = bt->start;
		next->size += bt->size;
		seg_remove(vm, bt);
		bt_put(vm, bt);
		bt = next;
		listed = true;
	} else {
		bt->type = BT_FREE;
	}
	if (prev->type == BT_FREE) {
		prev->size += bt->size;
		if (listed)
			fl_remove(vm, bt);
		seg_remove(vm, bt);
		bt_put(vm, bt);
		bt = prev;
		listed = true;
	}
	if (listed)
		fl_resize(vm, bt);
	else
		fl_insert(vm, bt);

	/* A releasable span that is now entirely free goes back. */
	struct bt *s = bt->seg_prev;
	if (s->type == BT_SPAN && (s->span_flags & BT_SPAN_RELEASABLE) &&
	    s->size == bt->size) {
		vmem_release_t *fn = vm->releasefn;
		void *arg = vm->import_arg;
		vmem_addr_t saddr = s->start;
		vmem_size_t ssize = s->size;
		span_remove(vm, s, bt);
		vm->st_releases++;
		wake_sleepers(vm);
		vmem_unlock(&vm->lock);
		if (fn != NULL)
			fn(arg, saddr, ssize);
		return;
	}
	wake_sleepers(vm);
	vmem_unlock(&vm->lock);
}

void
vmem_xfree(vmem_t *v, vmem_addr_t addr, vmem_size_t size)
{
	xfree(arena(v, "vmem_xfree"), addr, size, "vmem_xfree");
}

/* Everything vmem_free() does beyond a quantum-cache hit. */
static void __attribute__((noinline))
free_general(struct vmem_arena *vm, vmem_addr_t addr, vmem_size_t size)
{
	if (size - 1 < vm->qcache_max) {
		vmem__qc_free_slow(vm, (unsigned)((size - 1) >> vm->quantum_shift),
		    addr, size);
		return;
	}
	xfree(vm, addr, size, "vmem_free");
}

void
vmem_free(vmem_t *v, vmem_addr_t addr, vmem_size_t size)
{
	struct vmem_arena *vm = VM(v);
	if (KVMEM_UNLIKELY(vm->magic != VMEM_MAGIC))
		not_an_arena(v, "vmem_free");
	if (KVMEM_LIKELY(size - 1 < vm->qcache_max) &&
	    qc_free_hit(vm, (size - 1) >> vm->quantum_shift, addr))
		return;
	free_general(vm, addr, size);
}

/* ======================================================================
 * Spans added by the caller
 * ====================================================================== */

int
vmem_add(vmem_t *v, vmem_addr_t addr, vmem_size_t size, int flags)
{
	struct vmem_arena *vm = arena(v, "vmem_add");
	(void)flags;
	if (check_range(vm, addr, size) != 0)
		return EINVAL;
	vmem_lock(&vm->lock);
	if (bt_reserve(vm, BT_NEED_SPAN) != 0) {
		vmem_unlock(&vm->lock);
		return ENOMEM;
	}
	struct bt *clash = NULL;
	if (span_add(vm, addr, size, 0, &clash) != 0) {
		vmem_addr_t cs = clash->start;
		vmem_size_t cz = clash->size;
		vmem_unlock(&vm->lock);
		vmem__misuse(vm, VMEM_MISUSE_ADD_OVERLAP, addr, size,
		    "vmem_add of 0x%" PRIxPTR " size %zu overlaps span 0x%"
		    PRIxPTR " size %zu", addr, size, cs, cz);
		return EINVAL;
	}
	wake_sleepers(vm);
	vmem_unlock(&vm->lock);
	return 0;
}

/* ======================================================================
 * Queries
 * ====================================================================== */

vmem_size_t
vmem_roundup_size(vmem_t *v, vmem_size_t size)
{
	struct vmem_arena *vm = arena(v, "vmem_roundup_size");
	return (size + vm->quantum_mask) & ~vm->quantum_mask;
}

vmem_size_t
vmem__maxfree_locked(struct vmem_arena *vm)
{
	for (int w = VMEM_FL_WORDS - 1; w >= 0; w--) {
		if (vm->fl_bitmap[w] == 0)
			continue;
		int i = w * 64 + 63 - __builtin_clzll(vm->fl_bitmap[w]);
		vmem_size_t max = 0;
		for (struct bt *bt = vm->freelist[i]; bt != NULL; bt = bt->q_next)
			if (bt->size > max)
				max = bt->size;
		return max;
	}
	return 0;
}

vmem_size_t
vmem_size(vmem_t *v, int typemask)
{
	struct vmem_arena *vm = arena(v, "vmem_size");
	vmem_size_t r;
	/* Bytes idle in the quantum caches count as free, not allocated. */
	vmem_size_t cached = (typemask & (VMEM_ALLOC | VMEM_FREE)) != 0 ?
	    vmem__qc_cached_bytes(vm) : 0;
	vmem_lock(&vm->lock);
	switch (typemask) {
	case VMEM_ALLOC:
		/* Bad frees sitting in magazines can make cached exceed it. */
		r = cached < vm->size_inuse ? vm->size_inuse - cached : 0;
		break;
	case VMEM_FREE:
		r = vm->size_total - (cached < vm->size_inuse ?
		    vm->size_inuse - cached : 0);
		break;
	case VMEM_ALLOC | VMEM_FREE:
		r = vm->size_total;
		break;
	case VMEM_MAXFREE:
		r = vmem__maxfree_locked(vm);
		break;
	default:
		vmem_unlock(&vm->lock);
		vmem__misuse(vm, VMEM_MISUSE_BAD_ARG, 0, 0,
		    "vmem_size with unknown type mask 0x%x", (unsigned)typemask);
		return 0;
	}
	vmem_unlock(&vm->lock);
	return r;
}

int
vmem_contains(vmem_t *v, vmem_addr_t addr)
{
	struct vmem_arena *vm = arena(v, "vmem_contains");
	vmem_lock(&vm->lock);
	int r = span_find(vm, addr) != NULL;
	vmem_unlock(&vm->lock);
	return r;
}

const char *
vmem_name(vmem_t *v)
{
	return arena(v, "vmem_name")->name;
}
