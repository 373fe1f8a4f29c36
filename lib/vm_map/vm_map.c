/*
 * vm_map.c -- address-space maps: entries, insertion, deletion, changes,
 * lookup, submaps, waiting for space, locking.
 *
 * Theory of operation
 * -------------------
 * A map covers [min, max).  Its used parts are entries, [start, end) ranges
 * with attributes, that never overlap and are page aligned.  Entries sit on
 * a ring in address order through the map's header (whose end is min and
 * whose start is max, so "the next entry's start" is always defined) and in
 * a red-black tree where every node carries the free gap after it and the
 * largest such gap in its subtree (vm_map_tree.c).  The list gives
 * neighbours in O(1) for clipping and merging; the tree gives lookups and
 * first-fit searches in O(log n) (vm_map_findspace.c).
 *
 * Insertion places an entry after its predecessor, first trying to extend
 * the predecessor or the successor instead (merging), as BSD does, when the
 * attributes are equal, the objects are the same at contiguous offsets (or
 * both absent) and neither side is marked no-merge.  Changing attributes of
 * a range (protect, inherit, madvise, wire) clips the entries straddling
 * its ends, changes the entries inside, then merges what became compatible
 * at the edges.  Deletion clips the same way and unlinks the entries
 * inside, telling the pmap callbacks which ranges lost their mappings and
 * which object pages are no longer mapped.
 *
 * Every call that could fail after changing something first reserves the
 * entry records it may need (at most two clips), and validates the whole
 * range before touching it, so an error always leaves the map as it was.
 * Entry records come from slabs owned by the map and are reused through an
 * idle list; they go back to malloc only when the map is destroyed.
 *
 * Submaps: a parent's entry can hand its range to a child map
 * (VM_MAP_ENTRY_IS_SUB_MAP).  The child is an independent map with its own
 * lock; the parent only records the pointer and the child an "installed"
 * count, so no operation ever holds both locks.
 *
 * Locking: one readers/writer lock per map.  Searches, lookups and walks
 * read; everything else writes.  The thread holding the write lock is
 * recorded (owner), so calls it makes while inside vm_map_lock() run under
 * that lock instead of deadlocking.  vm_map_find_wait() sleeps on a
 * sequence counter guarded by a separate mutex and bumped by every deletion
 * that found sleepers; it samples the counter under the map lock, so a
 * wakeup between its failed search and its sleep is never lost.
 *
 * The lookup hint is the entry found last.  Readers update it with relaxed
 * atomic stores (any entry of the map is a valid hint while they hold the
 * lock); writers move it off entries they free.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "vm_map_impl.h"

_Static_assert(sizeof(struct vm_map_impl) <= sizeof(struct vm_map),
    "VM_MAP_STORAGE_SIZE too small for struct vm_map_impl");
_Static_assert(sizeof(struct vme) <= 96, "map entry grew past 96 bytes");

#define COW_MASK	(VM_MAP_NOFAULT | VM_MAP_NOMERGE | VM_MAP_INHERIT_SHARE)
#define NOMERGE_MASK	(VM_MAP_ENTRY_NOMERGE | VM_MAP_ENTRY_IS_SUB_MAP)

static atomic_long live_maps;
static atomic_long live_slabs;

long
vm_map__live_maps(void)
{
	return atomic_load(&live_maps);
}

long
vm_map__live_slabs(void)
{
	return atomic_load(&live_slabs);
}

/* ======================================================================
 * Handles, locking, misuse
 * ====================================================================== */

/* A per-thread address identifies the lock owner. */
static _Thread_local char thread_token;
#define SELF	((void *)&thread_token)

struct vm_map_impl *
vm_map__get(vm_map_t map, const char *call)
{
	struct vm_map_impl *m = VMI(map);
	if (KVMEM_UNLIKELY(map == NULL || m->magic != VM_MAP_MAGIC))
		KVMEM_PANIC("%s: %p is not a live vm_map", call, (void *)map);
	return m;
}

static inline bool
held_by_me(struct vm_map_impl *m)
{
	return atomic_load_explicit(&m->owner, memory_order_relaxed) == SELF;
}

bool
vm_map__wlock(struct vm_map_impl *m)
{
	if (held_by_me(m))
		return false;
	pthread_rwlock_wrlock(&m->lock);
	atomic_store_explicit(&m->owner, SELF, memory_order_relaxed);
	return true;
}

void
vm_map__wunlock(struct vm_map_impl *m, bool taken)
{
	if (!taken)
		return;
#ifdef KVMEM_EXPENSIVE
	/* Third tier: the whole map after every change. */
	if (vm_map__check_locked(m) != 0)
		KVMEM_PANIC("vm_map '%s': invariant check failed (see above)", m->name);
#endif
	atomic_store_explicit(&m->owner, NULL, memory_order_relaxed);
	pthread_rwlock_unlock(&m->lock);
}

bool
vm_map__rlock(struct vm_map_impl *m)
{
	if (held_by_me(m))
		return false;
	pthread_rwlock_rdlock(&m->lock);
	return true;
}

void
vm_map__runlock(struct vm_map_impl *m, bool taken)
{
	if (taken)
		pthread_rwlock_unlock(&m->lock);
}

static pthread_mutex_t default_handler_lock = PTHREAD_MUTEX_INITIALIZER;
static vm_map_misuse_fn *default_handler_fn;
static void *default_handler_arg;

const char *
vm_map_misuse_name(enum vm_map_misuse kind)
{
	switch (kind) {
	case VM_MAP_MISUSE_DESTROY_SUBMAP:	return "destroy of an installed submap";
	case VM_MAP_MISUSE_DESTROY_WAITERS:	return "destroy with sleepers";
	case VM_MAP_MISUSE_LOCK_RECURSE:	return "recursive lock";
	case VM_MAP_MISUSE_UNLOCK_NOT_OWNER:	return "unlock without the lock";
	case VM_MAP_MISUSE_WAIT_LOCKED:		return "sleep with the lock held";
	}
	return "unknown misuse";
}

void
vm_map_set_misuse_handler(vm_map_t map, vm_map_misuse_fn *fn, void *arg)
{
	if (map == NULL) {
		pthread_mutex_lock(&default_handler_lock);
		default_handler_fn = fn;
		default_handler_arg = arg;
		pthread_mutex_unlock(&default_handler_lock);
		return;
	}
	struct vm_map_impl *m = vm_map__get(map, "vm_map_set_misuse_handler");
	bool t = vm_map__wlock(m);
	m->misuse_fn = fn;
	m->misuse_arg = arg;
	vm_map__wunlock(m, t);
}

/*
 * Report a misuse of map m.  The caller does not hold the lock, unless it
 * holds it through vm_map_lock().  "vm_map 'NAME': <what>" goes to the
 * map's handler, the process default, or stderr followed by abort().
 */
static void __attribute__((format(printf, 4, 5)))
misuse(struct vm_map_impl *m, enum vm_map_misuse kind, vm_offset_t addr,
    const char *fmt, ...)
{
	char msg[320];
	int n = snprintf(msg, sizeof(msg), "vm_map '%s': ", m->name);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	atomic_fetch_add_explicit(&m->st_misuses, 1, memory_order_relaxed);

	bool t = vm_map__rlock(m);
	vm_map_misuse_fn *fn = m->misuse_fn;
	void *arg = m->misuse_arg;
	vm_map__runlock(m, t);
	if (fn == NULL) {
		pthread_mutex_lock(&default_handler_lock);
		fn = default_handler_fn;
		arg = default_handler_arg;
		pthread_mutex_unlock(&default_handler_lock);
	}
	if (fn != NULL) {
		fn(arg, VMT(m), kind, addr, msg);
		return;
	}
	fprintf(stderr, "kvmem: %s\n", msg);
	fflush(stderr);
	abort();
}

void
vm_map_lock(vm_map_t map)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_lock");
	if (held_by_me(m)) {
		misuse(m, VM_MAP_MISUSE_LOCK_RECURSE, 0,
		    "vm_map_lock: this thread already holds the lock");
		return;
	}
	(void)vm_map__wlock(m);
}

void
vm_map_unlock(vm_map_t map)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_unlock");
	if (!held_by_me(m)) {
		misuse(m, VM_MAP_MISUSE_UNLOCK_NOT_OWNER, 0,
		    "vm_map_unlock: this thread does not hold the lock");
		return;
	}
	vm_map__wunlock(m, true);
}

bool
vm_map_locked(vm_map_t map)
{
	return held_by_me(vm_map__get(map, "vm_map_locked"));
}

/* ======================================================================
 * Entry records
 * ====================================================================== */

/*
 * Make sure at least need idle entries exist.  Lock held for writing.
 * 0, or ENOMEM with the map unchanged (apart from whole slabs added).
 */
static int
reserve(struct vm_map_impl *m, unsigned need)
{
	if (KVMEM_UNLIKELY(m->inject_nomem > 0)) {
		m->inject_nomem--;
		return ENOMEM;
	}
	while (m->nidle < need) {
		struct vme_slab *s = malloc(sizeof(*s));
		if (s == NULL)
			return ENOMEM;
		s->next = m->slabs;
		m->slabs = s;
		for (int i = 0; i < VME_PER_SLAB; i++) {
			s->entries[i].u.idle_next = m->idle;
			m->idle = &s->entries[i];
		}
		m->nidle += VME_PER_SLAB;
		m->ntotal += VME_PER_SLAB;
		atomic_fetch_add(&live_slabs, 1);
	}
	return 0;
}

static inline struct vme *
entry_get(struct vm_map_impl *m)
{
	struct vme *e = m->idle;
	KVMEM_ASSERT_ALWAYS(e != NULL);
	m->idle = e->u.idle_next;
	m->nidle--;
	return e;
}

static inline void
entry_put(struct vm_map_impl *m, struct vme *e)
{
	e->u.idle_next = m->idle;
	m->idle = e;
	m->nidle++;
}

/* ======================================================================
 * Creation and teardown
 * ====================================================================== */

/*
 * Set up *m as an empty map (validating the arguments first).  0, EINVAL
 * for bad bounds or page size, ENOMEM if a lock could not be created; on
 * error nothing needs undoing and the live-map count is unchanged.
 */
static int
init_map(struct vm_map_impl *m, bool heap, const char *name, vm_offset_t min,
    vm_offset_t max, vm_size_t page_size)
{
	pthread_rwlockattr_t ra;

	if (page_size == 0)
		page_size = VM_MAP_DEFAULT_PAGE_SIZE;
	if ((page_size & (page_size - 1)) != 0 || min >= max ||
	    ((min | max) & (page_size - 1)) != 0)
		return EINVAL;

	memset(m, 0, sizeof(*m));
	m->heap_allocated = heap;
	snprintf(m->name, sizeof(m->name), "%s", name != NULL ? name : "(anon)");
	m->min = min;
	m->max = max;
	m->page_size = page_size;
	m->page_mask = page_size - 1;
	m->superpage = 512 * page_size;
	if (m->superpage / 512 != page_size)
		m->superpage = 0;	/* would overflow: no superpages */

	if (pthread_rwlockattr_init(&ra) != 0)
		return ENOMEM;
#ifdef __GLIBC__
	/* Writers (every allocation) must not starve behind lookups. */
	pthread_rwlockattr_setkind_np(&ra,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
	int rc = pthread_rwlock_init(&m->lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (rc != 0)
		return ENOMEM;
	if (pthread_mutex_init(&m->wait_mtx, NULL) != 0) {
		pthread_rwlock_destroy(&m->lock);
		return ENOMEM;
	}
	if (pthread_cond_init(&m->wait_cv, NULL) != 0) {
		pthread_mutex_destroy(&m->wait_mtx);
		pthread_rwlock_destroy(&m->lock);
		return ENOMEM;
	}
	atomic_init(&m->owner, NULL);
	atomic_init(&m->installed, 0);

	m->header.start = max;
	m->header.end = min;
	m->header.gap = max - min;
	m->header.next = m->header.prev = &m->header;
	atomic_init(&m->hint, &m->header);
	m->magic = VM_MAP_MAGIC;
	atomic_fetch_add(&live_maps, 1);
	return 0;
}

vm_map_t
vm_map_init(vm_map_t storage, const char *name, vm_offset_t min, vm_offset_t max,
    vm_size_t page_size)
{
	if (storage == NULL) {
		errno = EINVAL;
		return NULL;
	}
	int rc = init_map(VMI(storage), false, name, min, max, page_size);
	if (rc != 0) {
		errno = rc;
		return NULL;
	}
	return storage;
}

vm_map_t
vm_map_create(const char *name, vm_offset_t min, vm_offset_t max, vm_size_t page_size)
{
	struct vm_map_impl *m = malloc(sizeof(struct vm_map));
	if (m == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	int rc = init_map(m, true, name, min, max, page_size);
	if (rc != 0) {
		free(m);
		errno = rc;
		return NULL;
	}
	return VMT(m);
}

/* Forward: the deletion worker (lock held for writing). */
static void delete_entries(struct vm_map_impl *m, struct vme *first, vm_offset_t end);

/*
 * Refuses (misuse, no effect) while the map is installed as a submap or
 * has sleepers; otherwise deletes every entry with the pmap callbacks,
 * releases submaps, and frees locks, slabs and (if allocated) the map.
 */
void
vm_map_destroy(vm_map_t map)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_destroy");

	if (atomic_load(&m->installed) != 0) {
		misuse(m, VM_MAP_MISUSE_DESTROY_SUBMAP, m->min,
		    "vm_map_destroy: the map is still installed as a submap of "
		    "[0x%" PRIx64 ", 0x%" PRIx64 ") in a parent map",
		    (uint64_t)m->min, (uint64_t)m->max);
		return;
	}
	bool t = vm_map__wlock(m);
	if (m->nwaiters != 0) {
		uint32_t n = m->nwaiters;
		vm_map__wunlock(m, t);
		misuse(m, VM_MAP_MISUSE_DESTROY_WAITERS, 0,
		    "vm_map_destroy: %" PRIu32 " thread(s) sleep in vm_map_find_wait",
		    n);
		return;
	}
	if (m->header.next != &m->header)
		delete_entries(m, m->header.next, m->max);
	m->magic = 0;
	atomic_store_explicit(&m->owner, NULL, memory_order_relaxed);
	pthread_rwlock_unlock(&m->lock);
	(void)t;

	pthread_rwlock_destroy(&m->lock);
	pthread_mutex_destroy(&m->wait_mtx);
	pthread_cond_destroy(&m->wait_cv);
	while (m->slabs != NULL) {
		struct vme_slab *s = m->slabs;
		m->slabs = s->next;
		free(s);
		atomic_fetch_sub(&live_slabs, 1);
	}
	atomic_fetch_sub(&live_maps, 1);
	if (m->heap_allocated)
		free(m);
}

void
vm_map_set_pmap(vm_map_t map, const struct vm_map_pmap_ops *ops, void *arg)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_set_pmap");
	bool t = vm_map__wlock(m);
	if (ops != NULL)
		m->pmap = *ops;
	else
		memset(&m->pmap, 0, sizeof(m->pmap));
	m->pmap_arg = arg;
	vm_map__wunlock(m, t);
}

int
vm_map_set_superpage_size(vm_map_t map, vm_size_t size)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_set_superpage_size");
	if (size != 0 && ((size & (size - 1)) != 0 || size < m->page_size))
		return EINVAL;
	bool t = vm_map__wlock(m);
	m->superpage = size;
	vm_map__wunlock(m, t);
	return 0;
}

const char *
vm_map_name(vm_map_t map)
{
	return vm_map__get(map, "vm_map_name")->name;
}

vm_offset_t
vm_map_min(vm_map_t map)
{
	return vm_map__get(map, "vm_map_min")->min;
}

vm_offset_t
vm_map_max(vm_map_t map)
{
	return vm_map__get(map, "vm_map_max")->max;
}

vm_size_t
vm_map_page_size(vm_map_t map)
{
	return vm_map__get(map, "vm_map_page_size")->page_size;
}

void
vm_map__inject_nomem(vm_map_t map, unsigned n)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map__inject_nomem");
	bool t = vm_map__wlock(m);
	m->inject_nomem = n;
	vm_map__wunlock(m, t);
}

struct vme *
vm_map__root(vm_map_t map)
{
	return vm_map__get(map, "vm_map__root")->root;
}

/* ======================================================================
 * Entry helpers (lock held for writing)
 * ====================================================================== */

/* Whether a (before) and b (after, touching) may become one entry. */
static inline bool
compatible(const struct vme *a, const struct vme *b)
{
	if (((a->flags | b->flags) & NOMERGE_MASK) != 0)
		return false;
	if (a->flags != b->flags || a->prot != b->prot ||
	    a->maxprot != b->maxprot || a->inherit != b->inherit ||
	    a->advice != b->advice || a->wired != b->wired ||
	    a->u.object != b->u.object)
		return false;
	return a->u.object == NULL ||
	    (uint64_t)a->offset + (a->end - a->start) == (uint64_t)b->offset;
}

/* Move the hint off e, which is about to leave the map. */
static inline void
unhint(struct vm_map_impl *m, struct vme *e)
{
	if (atomic_load_explicit(&m->hint, memory_order_relaxed) == e)
		atomic_store_explicit(&m->hint, e->prev, memory_order_relaxed);
}

/* b (a's successor, compatible and touching) is absorbed into a. */
static void
absorb_next(struct vm_map_impl *m, struct vme *a)
{
	struct vme *b = a->next;

	unhint(m, b);
	a->end = b->end;
	vmt_unlink(m, b);	/* recomputes a's gap and the maxgaps */
	entry_put(m, b);
	m->st_merges++;
}

/* Try to merge e with its predecessor; returns the surviving entry. */
static struct vme *
merge_prev(struct vm_map_impl *m, struct vme *e)
{
	struct vme *p = e->prev;
	if (p != &m->header && p->end == e->start && compatible(p, e)) {
		absorb_next(m, p);
		return p;
	}
	return e;
}

/* Split e (start < addr < end) so that an entry begins at addr; returns it. */
static struct vme *
clip_at(struct vm_map_impl *m, struct vme *e, vm_offset_t addr)
{
	struct vme *n = entry_get(m);

	KVMEM_ASSERT(e->start < addr && addr < e->end);
	KVMEM_ASSERT((e->flags & VM_MAP_ENTRY_IS_SUB_MAP) == 0);
	*n = *e;
	n->start = addr;
	if (n->u.object != NULL)
		n->offset = (vm_ooffset_t)((uint64_t)e->offset + (addr - e->start));
	e->end = addr;
	vmt_link_after(m, e, n);	/* sets e->gap = 0 and n's gap */
	m->st_clips++;
	return n;
}

/* Validate an aligned range inside the map (empty allowed if allow_empty). */
static inline int
check_range(const struct vm_map_impl *m, vm_offset_t start, vm_offset_t end,
    bool allow_empty)
{
	if (((start | end) & m->page_mask) != 0 || start > end ||
	    (start == end && !allow_empty) || start < m->min || end > m->max)
		return EINVAL;
	return 0;
}

/* Entry lookup with the hint; lock held (either mode). */
static bool
lookup(struct vm_map_impl *m, vm_offset_t addr, struct vme **out)
{
	struct vme *h = atomic_load_explicit(&m->hint, memory_order_relaxed);
	bool found;

	atomic_fetch_add_explicit(&m->st_lookups, 1, memory_order_relaxed);
	if (h != &m->header && h->start <= addr) {
		if (addr < h->end) {
			atomic_fetch_add_explicit(&m->st_hint_hits, 1,
			    memory_order_relaxed);
			*out = h;
			return true;
		}
		/* Just past the hint: the gap after it. */
		if (addr < h->next->start) {
			atomic_fetch_add_explicit(&m->st_hint_hits, 1,
			    memory_order_relaxed);
			*out = h;
			return false;
		}
	}
	found = vmt_lookup(m, addr, out);
	atomic_store_explicit(&m->hint, *out, memory_order_relaxed);
	return found;
}

/* ======================================================================
 * Insertion
 * ====================================================================== */

/* Attributes of an entry being inserted. */
struct proto {
	vm_object_t	object;
	vm_ooffset_t	offset;
	uint8_t		prot, maxprot, inherit, flags;
};

static int
make_proto(vm_object_t object, vm_ooffset_t offset, vm_prot_t prot, vm_prot_t max,
    int cow, struct proto *p)
{
	if ((cow & ~COW_MASK) != 0 || ((prot | max) & ~VM_PROT_ALL) != 0)
		return EINVAL;
	if ((cow & VM_MAP_NOFAULT) != 0 && object != NULL)
		return EINVAL;
	if ((prot & max) != prot)
		return EACCES;
	p->object = object;
	p->offset = object != NULL ? offset : 0;
	p->prot = prot;
	p->maxprot = max;
	p->inherit = (cow & VM_MAP_INHERIT_SHARE) ? VM_INHERIT_SHARE : VM_INHERIT_DEFAULT;
	p->flags = (uint8_t)(cow & (VM_MAP_NOFAULT | VM_MAP_NOMERGE));
	return 0;
}

/*
 * Put [start, end) with attributes p into the free gap after prev (an
 * entry or the header).  An idle entry is reserved.  Lock held for
 * writing.  Returns the entry that now holds the range.
 */
static struct vme *
insert_after(struct vm_map_impl *m, struct vme *prev, vm_offset_t start,
    vm_offset_t end, const struct proto *p)
{
	struct vme *next = prev->next;
	struct vme proto_e, *e;

	KVMEM_ASSERT(prev->end <= start && end <= next->start);
	memset(&proto_e, 0, sizeof(proto_e));
	proto_e.start = start;
	proto_e.end = end;
	proto_e.u.object = p->object;
	proto_e.offset = p->offset;
	proto_e.prot = p->prot;
	proto_e.maxprot = p->maxprot;
	proto_e.inherit = p->inherit;
	proto_e.advice = VM_MAP_ADV_NORMAL;
	proto_e.flags = p->flags;

	m->size += end - start;
	m->st_inserts++;
	if (prev != &m->header && prev->end == start && compatible(prev, &proto_e)) {
		prev->end = end;
		vmt_regap(m, prev);
		m->st_merges++;
		if (next != &m->header && next->start == end && compatible(prev, next))
			absorb_next(m, prev);
		e = prev;
	} else if (next != &m->header && next->start == end &&
	    compatible(&proto_e, next)) {
		next->start = start;
		next->offset = proto_e.offset;
		vmt_regap(m, prev);
		m->st_merges++;
		e = next;
	} else {
		e = entry_get(m);
		*e = proto_e;
		vmt_link_after(m, prev, e);
	}
	atomic_store_explicit(&m->hint, e, memory_order_relaxed);
	return e;
}

/* vm_map_insert with the lock held for writing. */
static int
insert_locked(struct vm_map_impl *m, const struct proto *p, vm_offset_t start,
    vm_offset_t end)
{
	struct vme *prev;
	int rc;

	if ((rc = check_range(m, start, end, false)) != 0)
		return rc;
	if (lookup(m, start, &prev) || prev->next->start < end)
		return EEXIST;
	if ((rc = reserve(m, 1)) != 0)
		return rc;
	insert_after(m, prev, start, end, p);
	return 0;
}

int
vm_map_insert(vm_map_t map, vm_object_t object, vm_ooffset_t offset,
    vm_offset_t start, vm_offset_t end, vm_prot_t prot, vm_prot_t max, int cow)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_insert");
	struct proto p;
	int rc = make_proto(object, offset, prot, max, cow, &p);
	if (rc != 0)
		return rc;
	bool t = vm_map__wlock(m);
	rc = insert_locked(m, &p, start, end);
	vm_map__wunlock(m, t);
	return rc;
}

/* ======================================================================
 * Finding space
 * ====================================================================== */

/*
 * Search for req's placement per fs (superpage first when asked, falling
 * back to plain alignment for VMFS_OPTIMAL_SPACE).  Lock held.
 * 0 with *addr and *prev, or ENOMEM.
 */
static int
search(const struct vm_map_impl *m, const struct vm_map_fs *fs, vm_offset_t hint,
    vm_size_t length, vm_offset_t max_addr, vm_ooffset_t offset,
    vm_offset_t *addr, struct vme **prev)
{
	struct vm_map_req req;

	if (vm_map__make_req(m, fs, fs->super, hint, length, max_addr, offset, &req) &&
	    vm_map__search(m, &req, addr, prev))
		return 0;
	if (fs->optimal &&
	    vm_map__make_req(m, fs, false, hint, length, max_addr, offset, &req) &&
	    vm_map__search(m, &req, addr, prev))
		return 0;
	return ENOMEM;
}

int
vm_map_findspace(vm_map_t map, vm_offset_t hint, vm_size_t length, int find_space,
    vm_offset_t *addrp)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_findspace");
	struct vm_map_fs fs;
	struct vme *prev;
	vm_offset_t addr;
	int rc;

	if (addrp == NULL || length == 0 || (length & m->page_mask) != 0)
		return EINVAL;
	if ((rc = vm_map__decode_fs(m, find_space, &fs)) != 0)
		return rc;
	if (fs.fixed) {
		if (hint > m->max || length > m->max - hint ||
		    check_range(m, hint, hint + length, false) != 0)
			return EINVAL;
	}
	bool t = vm_map__rlock(m);
	if (fs.fixed) {
		rc = (lookup(m, hint, &prev) || prev->next->start < hint + length) ?
		    EEXIST : 0;
		addr = hint;
	} else {
		rc = search(m, &fs, hint, length, 0, 0, &addr, &prev);
		atomic_fetch_add_explicit(rc == 0 ? &m->st_rfinds : &m->st_rfind_fails,
		    1, memory_order_relaxed);
	}
	vm_map__runlock(m, t);
	if (rc == 0)
		*addrp = addr;
	return rc;
}

/* Argument checks shared by vm_map_find and vm_map_find_wait. */
static int
find_args(struct vm_map_impl *m, vm_offset_t *addr, vm_size_t length, int find_space,
    struct vm_map_fs *fs)
{
	if (addr == NULL || length == 0 || (length & m->page_mask) != 0)
		return EINVAL;
	return vm_map__decode_fs(m, find_space, fs);
}

/* vm_map_find with the lock held for writing and the arguments checked. */
static int
find_locked(struct vm_map_impl *m, const struct vm_map_fs *fs, const struct proto *p,
    vm_offset_t *addr, vm_size_t length, vm_offset_t max_addr)
{
	struct vme *prev;
	vm_offset_t a;
	int rc;

	if (fs->fixed) {
		if (*addr > m->max || length > m->max - *addr)
			return EINVAL;
		if (max_addr != 0 && *addr + length > max_addr)
			return ENOMEM;
		return insert_locked(m, p, *addr, *addr + length);
	}
	if ((rc = reserve(m, 1)) != 0)
		return rc;
	rc = search(m, fs, *addr, length, max_addr, p->offset, &a, &prev);
	if (rc != 0) {
		m->st_find_fails++;
		return rc;
	}
	m->st_finds++;
	insert_after(m, prev, a, a + length, p);
	*addr = a;
	return 0;
}

int
vm_map_find(vm_map_t map, vm_object_t object, vm_ooffset_t offset, vm_offset_t *addr,
    vm_size_t length, vm_offset_t max_addr, int find_space, vm_prot_t prot,
    vm_prot_t max, int cow)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_find");
	struct vm_map_fs fs;
	struct proto p;
	int rc;

	if ((rc = find_args(m, addr, length, find_space, &fs)) != 0 ||
	    (rc = make_proto(object, offset, prot, max, cow, &p)) != 0)
		return rc;
	bool t = vm_map__wlock(m);
	rc = find_locked(m, &fs, &p, addr, length, max_addr);
	vm_map__wunlock(m, t);
	return rc;
}

/*
 * vm_map_find that sleeps for room.  Never called with the lock held (a
 * misuse: EDEADLK).  Checks up front that an empty map could take the
 * request, then loops: search under the write lock; on lack of room count
 * itself a waiter, sample the wakeup sequence, drop the lock and sleep
 * until a deletion bumps the sequence.  Entry-record shortage is returned,
 * not slept on.
 */
int
vm_map_find_wait(vm_map_t map, vm_object_t object, vm_ooffset_t offset,
    vm_offset_t *addr, vm_size_t length, vm_offset_t max_addr, int find_space,
    vm_prot_t prot, vm_prot_t max, int cow)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_find_wait");
	struct vm_map_fs fs;
	struct vm_map_req req;
	struct proto p;
	bool waiting = false;
	int rc;

	if (held_by_me(m)) {
		misuse(m, VM_MAP_MISUSE_WAIT_LOCKED, 0,
		    "vm_map_find_wait: sleeping while holding the map lock "
		    "would deadlock");
		return EDEADLK;
	}
	if ((rc = find_args(m, addr, length, find_space, &fs)) != 0 ||
	    (rc = make_proto(object, offset, prot, max, cow, &p)) != 0)
		return rc;
	if (fs.fixed)
		return EINVAL;
	/* Could the request be met if the map were empty?  (Else never.) */
	{
		struct vm_map_fs plain = fs;
		vm_offset_t a;
		if (fs.optimal)
			plain.super = false;
		if (!vm_map__make_req(m, &plain, plain.super, *addr, length,
		    max_addr, p.offset, &req) ||
		    !vm_map__fit(&req, m->min, m->max, &a))
			return ENOMEM;
	}
	for (;;) {
		pthread_rwlock_wrlock(&m->lock);
		atomic_store_explicit(&m->owner, SELF, memory_order_relaxed);
		if (waiting)
			m->nwaiters--;
		/* Lack of entry records is not lack of space: fail, do not sleep. */
		rc = reserve(m, 1);
		if (rc == 0) {
			rc = find_locked(m, &fs, &p, addr, length, max_addr);
			if (rc == ENOMEM)
				rc = -1;	/* no room: sleep */
		}
		if (rc != -1) {
			vm_map__wunlock(m, true);
			return rc;
		}
		/* Sample the wakeup count under the map lock, then sleep. */
		uint64_t seq = m->wait_seq;
		m->nwaiters++;
		m->st_sleeps++;
		waiting = true;
		vm_map__wunlock(m, true);
		pthread_mutex_lock(&m->wait_mtx);
		while (m->wait_seq == seq)
			pthread_cond_wait(&m->wait_cv, &m->wait_mtx);
		pthread_mutex_unlock(&m->wait_mtx);
	}
}

/* Wake vm_map_find_wait sleepers after space was freed.  Lock held (write). */
static void
wake_sleepers(struct vm_map_impl *m)
{
	if (m->nwaiters == 0)
		return;
	pthread_mutex_lock(&m->wait_mtx);
	m->wait_seq++;
	pthread_cond_broadcast(&m->wait_cv);
	pthread_mutex_unlock(&m->wait_mtx);
	m->st_wakeups++;
}

/* ======================================================================
 * Deletion
 * ====================================================================== */

/*
 * Delete first and every later entry starting below end (the caller has
 * clipped so that none extends past end).  Lock held for writing.
 */
static void
delete_entries(struct vm_map_impl *m, struct vme *first, vm_offset_t end)
{
	struct vme *e = first, *next;

	while (e != &m->header && e->start < end) {
		KVMEM_ASSERT(e->end <= end);
		next = e->next;
		if (m->pmap.remove != NULL)
			m->pmap.remove(m->pmap_arg, e->start, e->end);
		if (e->flags & VM_MAP_ENTRY_IS_SUB_MAP) {
			atomic_fetch_sub(&e->u.submap->installed, 1);
			m->nsubmaps--;
		} else if (e->u.object != NULL && m->pmap.free_pages != NULL) {
			m->pmap.free_pages(m->pmap_arg, e->u.object, e->offset,
			    e->end - e->start);
		}
		m->size -= e->end - e->start;
		unhint(m, e);
		vmt_unlink(m, e);
		entry_put(m, e);
		m->st_entries_removed++;
		e = next;
	}
}

/* vm_map_remove with the lock held for writing. */
static int
remove_locked(struct vm_map_impl *m, vm_offset_t start, vm_offset_t end)
{
	struct vme *e, *x;
	bool found;
	int rc;

	if ((rc = check_range(m, start, end, true)) != 0)
		return rc;
	if (start == end)
		return 0;
	found = lookup(m, start, &e);
	struct vme *first = found ? e : e->next;
	/* A submap entry goes whole or not at all. */
	unsigned clips = 0;
	for (x = first; x != &m->header && x->start < end; x = x->next) {
		bool cut = x->start < start || x->end > end;
		if (cut && (x->flags & VM_MAP_ENTRY_IS_SUB_MAP))
			return EINVAL;
		clips += (x->start < start) + (x->end > end);
	}
	if (first == &m->header || first->start >= end)
		return 0;
	if (clips > 0 && (rc = reserve(m, clips)) != 0)
		return rc;
	if (first->start < start)
		first = clip_at(m, first, start);
	for (x = first; x != &m->header && x->start < end; x = x->next)
		if (x->end > end) {
			clip_at(m, x, end);
			break;
		}
	delete_entries(m, first, end);
	m->st_removes++;
	wake_sleepers(m);
	return 0;
}

int
vm_map_remove(vm_map_t map, vm_offset_t start, vm_offset_t end)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_remove");
	bool t = vm_map__wlock(m);
	int rc = remove_locked(m, start, end);
	vm_map__wunlock(m, t);
	return rc;
}

int
vm_map_delete(vm_map_t map, vm_offset_t start, vm_offset_t end)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_delete");
	bool t = vm_map__wlock(m);
	int rc = remove_locked(m, start, end);
	vm_map__wunlock(m, t);
	return rc;
}

/* ======================================================================
 * Changing attributes of a range
 * ====================================================================== */

enum change_op { CH_PROTECT, CH_PROTECT_MAX, CH_INHERIT, CH_ADVICE, CH_WIRE, CH_UNWIRE };

/* Whether entry e accepts the change: 0 or an errno. */
static int
change_ok(const struct vme *e, enum change_op op, unsigned val)
{
	if (e->flags & VM_MAP_ENTRY_IS_SUB_MAP)
		return EINVAL;
	switch (op) {
	case CH_PROTECT:
		return ((val & e->maxprot) != val) ? EACCES : 0;
	case CH_WIRE:
		return e->wired >= VME_WIRED_MAX ? EINVAL : 0;
	case CH_UNWIRE:
		return e->wired == 0 ? EINVAL : 0;
	default:
		return 0;
	}
}

/* Apply the change to e; tells the pmap about reduced rights. */
static void
change_apply(struct vm_map_impl *m, struct vme *e, enum change_op op, unsigned val)
{
	uint8_t old = e->prot;

	switch (op) {
	case CH_PROTECT:
		e->prot = (uint8_t)val;
		break;
	case CH_PROTECT_MAX:
		e->maxprot = (uint8_t)val;
		e->prot = (uint8_t)(old & val);
		break;
	case CH_INHERIT:
		e->inherit = (uint8_t)val;
		break;
	case CH_ADVICE:
		e->advice = (uint8_t)val;
		break;
	case CH_WIRE:
		e->wired++;
		break;
	case CH_UNWIRE:
		e->wired--;
		break;
	}
	if ((old & ~e->prot) != 0 && m->pmap.protect != NULL)
		m->pmap.protect(m->pmap_arg, e->start, e->end, e->prot);
}

/*
 * The common body of protect/inherit/madvise/wire/unwire: validate the
 * range and every entry in it, reserve the clips, clip, change, merge.
 * Lock held for writing.
 */
static int
change_locked(struct vm_map_impl *m, vm_offset_t start, vm_offset_t end,
    enum change_op op, unsigned val)
{
	bool holes_ok = (op != CH_WIRE && op != CH_UNWIRE);
	struct vme *e, *x, *first;
	unsigned clips = 0;
	vm_offset_t covered;
	int rc;

	if ((rc = check_range(m, start, end, true)) != 0)
		return rc;
	if (start == end)
		return 0;
	first = lookup(m, start, &e) ? e : e->next;
	covered = start;
	for (x = first; x != &m->header && x->start < end; x = x->next) {
		if ((rc = change_ok(x, op, val)) != 0)
			return rc;
		if (x->start > covered && !holes_ok)
			return ENOMEM;
		covered = x->end;
		clips += (x->start < start) + (x->end > end);
	}
	if (!holes_ok && covered < end)
		return ENOMEM;
	if (first == &m->header || first->start >= end)
		return 0;
	if (clips > 0 && (rc = reserve(m, clips)) != 0)
		return rc;

	if (first->start < start)
		first = clip_at(m, first, start);
	struct vme *last = first;
	for (x = first; x != &m->header && x->start < end; x = x->next) {
		if (x->end > end)
			clip_at(m, x, end);
		change_apply(m, x, op, val);
		last = x;
	}
	/* Merge what became compatible, from the left edge to past the right. */
	vm_offset_t stop = last->end;
	x = merge_prev(m, first);
	while (x->next != &m->header && x->next->start <= stop) {
		struct vme *n = merge_prev(m, x->next);
		x = n;
	}
	m->st_changes++;
	return 0;
}

static int
change(vm_map_t map, const char *call, vm_offset_t start, vm_offset_t end,
    enum change_op op, unsigned val)
{
	struct vm_map_impl *m = vm_map__get(map, call);
	bool t = vm_map__wlock(m);
	int rc = change_locked(m, start, end, op, val);
	vm_map__wunlock(m, t);
	return rc;
}

int
vm_map_protect(vm_map_t map, vm_offset_t start, vm_offset_t end, vm_prot_t new_prot,
    bool set_max)
{
	if ((new_prot & ~VM_PROT_ALL) != 0) {
		(void)vm_map__get(map, "vm_map_protect");
		return EINVAL;
	}
	return change(map, "vm_map_protect", start, end,
	    set_max ? CH_PROTECT_MAX : CH_PROTECT, new_prot);
}

int
vm_map_inherit(vm_map_t map, vm_offset_t start, vm_offset_t end, vm_inherit_t inh)
{
	if (inh != VM_INHERIT_SHARE && inh != VM_INHERIT_COPY &&
	    inh != VM_INHERIT_NONE && inh != VM_INHERIT_ZERO) {
		(void)vm_map__get(map, "vm_map_inherit");
		return EINVAL;
	}
	return change(map, "vm_map_inherit", start, end, CH_INHERIT, inh);
}

int
vm_map_madvise(vm_map_t map, vm_offset_t start, vm_offset_t end, int advice)
{
	if (advice != VM_MAP_ADV_NORMAL && advice != VM_MAP_ADV_RANDOM &&
	    advice != VM_MAP_ADV_SEQUENTIAL) {
		(void)vm_map__get(map, "vm_map_madvise");
		return EINVAL;
	}
	return change(map, "vm_map_madvise", start, end, CH_ADVICE, (unsigned)advice);
}

int
vm_map_wire(vm_map_t map, vm_offset_t start, vm_offset_t end)
{
	return change(map, "vm_map_wire", start, end, CH_WIRE, 0);
}

int
vm_map_unwire(vm_map_t map, vm_offset_t start, vm_offset_t end)
{
	return change(map, "vm_map_unwire", start, end, CH_UNWIRE, 0);
}

int
vm_map_clip(vm_map_t map, vm_offset_t addr)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_clip");
	struct vme *e;
	int rc = 0;

	if ((addr & m->page_mask) != 0 || addr < m->min || addr > m->max)
		return EINVAL;
	bool t = vm_map__wlock(m);
	if (lookup(m, addr, &e) && e->start < addr) {
		if (e->flags & VM_MAP_ENTRY_IS_SUB_MAP)
			rc = EINVAL;
		else if ((rc = reserve(m, 1)) == 0)
			clip_at(m, e, addr);
	}
	vm_map__wunlock(m, t);
	return rc;
}

/* ======================================================================
 * Lookup
 * ====================================================================== */

bool
vm_map_lookup_entry(vm_map_t map, vm_offset_t addr, struct vm_map_entry_info *info)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_lookup_entry");
	struct vme *e;
	bool found;

	if (addr < m->min || addr >= m->max) {
		if (info != NULL) {
			memset(info, 0, sizeof(*info));
			info->start = info->end = addr;
		}
		return false;
	}
	bool t = vm_map__rlock(m);
	found = lookup(m, addr, &e);
	if (info != NULL) {
		if (found) {
			vm_map__info(e, info);
		} else {
			memset(info, 0, sizeof(*info));
			info->start = e->end;		/* the header's end is min */
			info->end = e->next->start;	/* the header's start is max */
			info->flags = VM_MAP_ENTRY_FREE;
		}
	}
	vm_map__runlock(m, t);
	return found;
}

/* ======================================================================
 * Submaps
 * ====================================================================== */

/* vm_map_submap with map's lock held for writing. */
static int
submap_locked(struct vm_map_impl *m, vm_offset_t start, vm_offset_t end,
    struct vm_map_impl *sub)
{
	struct vme *e;

	if (sub == m || sub->min != start || sub->max != end)
		return EINVAL;
	if (check_range(m, start, end, false) != 0)
		return EINVAL;
	if (!lookup(m, start, &e) || e->start != start || e->end != end ||
	    e->u.object != NULL || e->wired != 0 ||
	    (e->flags & VM_MAP_ENTRY_IS_SUB_MAP) != 0)
		return EINVAL;
	int zero = 0;
	if (!atomic_compare_exchange_strong(&sub->installed, &zero, 1))
		return EINVAL;
	e->flags |= VM_MAP_ENTRY_IS_SUB_MAP;
	e->u.submap = sub;
	e->offset = 0;
	m->nsubmaps++;
	return 0;
}

int
vm_map_submap(vm_map_t map, vm_offset_t start, vm_offset_t end, vm_map_t submap)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_submap");
	struct vm_map_impl *sub = vm_map__get(submap, "vm_map_submap");
	bool t = vm_map__wlock(m);
	int rc = submap_locked(m, start, end, sub);
	vm_map__wunlock(m, t);
	return rc;
}

/*
 * Find and insert the parent's entry, create the child and install it, all
 * under the parent's write lock so no other thread sees the blank entry.
 * On failure the entry is removed again and the child freed (or storage
 * left as it was); NULL with errno.
 */
vm_map_t
vm_map_suballoc(vm_map_t parent, vm_map_t storage, const char *name,
    vm_offset_t *min, vm_offset_t *max, vm_size_t size, int find_space)
{
	struct vm_map_impl *m = vm_map__get(parent, "vm_map_suballoc");
	struct vm_map_impl *sub;
	struct vm_map_fs fs;
	struct proto p;
	vm_offset_t addr;
	int rc;

	if (min == NULL || max == NULL || size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (size > m->max - m->min) {
		errno = ENOMEM;
		return NULL;
	}
	size = (size + m->page_mask) & ~m->page_mask;
	addr = *min;
	if ((rc = find_args(m, &addr, size, find_space, &fs)) != 0) {
		errno = rc;
		return NULL;
	}
	(void)make_proto(NULL, 0, VM_PROT_ALL, VM_PROT_ALL, VM_MAP_NOMERGE, &p);
	sub = storage != NULL ? VMI(storage) : malloc(sizeof(struct vm_map));
	if (sub == NULL) {
		errno = ENOMEM;
		return NULL;
	}

	bool t = vm_map__wlock(m);
	rc = find_locked(m, &fs, &p, &addr, size, 0);
	if (rc == 0) {
		rc = init_map(sub, storage == NULL, name, addr, addr + size,
		    m->page_size);
		if (rc == 0) {
			sub->superpage = m->superpage;
			sub->pmap = m->pmap;
			sub->pmap_arg = m->pmap_arg;
			rc = submap_locked(m, addr, addr + size, sub);
			KVMEM_ASSERT_ALWAYS(rc == 0);
		} else {
			(void)remove_locked(m, addr, addr + size);
		}
	}
	vm_map__wunlock(m, t);
	if (rc != 0) {
		if (storage == NULL)
			free(sub);
		errno = rc;
		return NULL;
	}
	*min = addr;
	*max = addr + size;
	return VMT(sub);
}
