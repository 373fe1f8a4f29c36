/*
 * test_wait.c -- sleeping allocations: M_WAITOK (and the default without
 * M_NOWAIT) block on a full arena and are woken by a free, a vmem_add or a
 * limit change.  Every test runs under a watchdog so a lost wakeup fails
 * instead of hanging.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(wait, .fini = kvt_fini_no_live);

#define WATCHDOG_S	60

struct waiter {
	vmem_t		*vm;
	vmem_size_t	size;
	int		flags;
	vmem_addr_t	addr;
	int		rc;
	atomic_int	done;
	pthread_t	thr;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = vmem_alloc(w->vm, w->size, w->flags, &w->addr);
	atomic_store(&w->done, 1);
	return (NULL);
}

static void
waiter_start(struct waiter *w, vmem_t *vm, vmem_size_t size, int flags)
{
	memset(w, 0, sizeof(*w));
	w->vm = vm;
	w->size = size;
	w->flags = flags;
	w->rc = -1;
	atomic_init(&w->done, 0);
	cr_assert_eq(pthread_create(&w->thr, NULL, waiter_main, w), 0);
}

static void
waiter_join(struct waiter *w)
{
	cr_assert_eq(pthread_join(w->thr, NULL), 0);
}

static void
nap(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Wait (bounded by the watchdog) until the arena has counted `sleeps`
 * sleeps; fail if any waiter returned meanwhile.
 */
static void
until_asleep(vmem_t *vm, uint64_t sleeps, struct waiter *w, int nw)
{
	for (;;) {
		if (kvt_stats(vm).sleeps >= sleeps)
			return;
		for (int i = 0; i < nw; i++)
			cr_assert(!atomic_load(&w[i].done),
			    "waiter %d returned %d instead of sleeping", i, w[i].rc);
		nap();
	}
}

#define MAXBLK	64
#define FULL_BASE	0x400000

/*
 * An arena exactly full of *nblk blocks of 4096 (at most MAXBLK): 4 of
 * them, or, when 4096 is a cached size, the objects of one slab (which is
 * then the whole arena).  segonly: no caches whatever the test mode.
 */
static vmem_t *
full_arena_of(vmem_addr_t blocks[MAXBLK], int *nblk, int segonly)
{
	vmem_t *vm = segonly ? vmem_create("full", 0, 0, 4096, 0, M_WAITOK) :
	    kvt_vmem_create("full", 0, 0, 4096, 0, M_WAITOK);
	vmem_size_t slab;

	cr_assert_not_null(vm);
	slab = kvt_slab_size(vm, 4096);
	*nblk = slab != 0 ? (int)(slab / 4096) : 4;
	cr_assert(*nblk >= 4 && *nblk <= MAXBLK, "%d blocks", *nblk);
	cr_assert_eq(vmem_add(vm, FULL_BASE, (vmem_size_t)*nblk * 4096,
	    M_NOWAIT), 0);
	for (int i = 0; i < *nblk; i++)
		cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT | M_BESTFIT, &blocks[i]), 0);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0);
	return (vm);
}

static vmem_t *
full_arena(vmem_addr_t blocks[MAXBLK], int *nblk)
{
	return (full_arena_of(blocks, nblk, 0));
}

static void
woken_by_free(int flags, const char *what)
{
	vmem_addr_t b[MAXBLK];
	vmem_t *vm;
	struct waiter w;
	int n;

	kvt_watchdog_start(WATCHDOG_S, what);
	vm = full_arena(b, &n);
	waiter_start(&w, vm, 4096, flags);
	until_asleep(vm, 1, &w, 1);
	vmem_free(vm, b[1], 4096);
	waiter_join(&w);
	cr_assert_eq(w.rc, 0, "%s: rc %d", what, w.rc);
	cr_assert_eq(w.addr, b[1], "%s: got the freed block", what);
	cr_assert_geq(kvt_stats(vm).sleeps, 1);
	cr_assert_eq(vmem_check(vm), 0);
	for (int i = 0; i < n; i++)
		vmem_free(vm, b[i], 4096);
	vmem_destroy(vm);
	kvt_watchdog_stop();
}

Test(wait, waitok_woken_by_free)
{
	woken_by_free(M_WAITOK, "M_WAITOK woken by free");
}

Test(wait, default_flags_sleep)
{
	woken_by_free(M_BESTFIT, "no M_NOWAIT: sleeps by default");
}

Test(wait, nowait_does_not_sleep)
{
	vmem_addr_t b[MAXBLK], a;
	vmem_t *vm;
	int n;

	kvt_watchdog_start(WATCHDOG_S, "M_NOWAIT on a full arena");
	vm = full_arena(b, &n);
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a), ENOMEM);
	cr_assert_eq(vmem_xalloc_addr(vm, b[0], 4096, M_WAITOK), ENOMEM,
	    "exact busy ranges never sleep");
	cr_assert_eq(kvt_stats(vm).sleeps, 0);
	for (int i = 0; i < n; i++)
		vmem_free(vm, b[i], 4096);
	vmem_destroy(vm);
	kvt_watchdog_stop();
}

Test(wait, woken_by_add)
{
	vmem_addr_t b[MAXBLK];
	vmem_t *vm;
	struct waiter w;
	vmem_size_t add;
	int n;

	kvt_watchdog_start(WATCHDOG_S, "waiter woken by vmem_add");
	vm = full_arena(b, &n);
	/* 8192, or for a cached size room for its slab (aligned here). */
	add = kvt_cached(vm, 8192) ? kvt_slab_size(vm, 8192) : 8192;
	waiter_start(&w, vm, 8192, M_WAITOK);
	until_asleep(vm, 1, &w, 1);
	cr_assert_eq(vmem_add(vm, 0x100000, add, M_WAITOK), 0);
	waiter_join(&w);
	cr_assert_eq(w.rc, 0);
	if (kvt_cached(vm, 8192))
		cr_assert(w.addr >= 0x100000 && w.addr + 8192 <= 0x100000 + add,
		    "got " KVT_X, w.addr);
	else
		cr_assert_eq(w.addr, 0x100000);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_free(vm, w.addr, 8192);
	for (int i = 0; i < n; i++)
		vmem_free(vm, b[i], 4096);
	vmem_destroy(vm);
	kvt_watchdog_stop();
}

Test(wait, woken_by_coalescing_frees)
{
	vmem_addr_t b[MAXBLK];
	vmem_t *vm;
	struct waiter w;
	int n;

	kvt_watchdog_start(WATCHDOG_S, "waiter needing two adjacent frees");
	/* Segment-only: two segment frees coalescing for a bigger request;
	 * cached objects of another size never merge. */
	vm = full_arena_of(b, &n, 1);
	waiter_start(&w, vm, 8192, M_WAITOK);
	until_asleep(vm, 1, &w, 1);
	vmem_free(vm, b[0], 4096);	/* not enough yet */
	vmem_free(vm, b[1], 4096);	/* now [b0, b0+8K) is free */
	waiter_join(&w);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(w.addr, b[0]);
	vmem_free(vm, w.addr, 8192);
	vmem_free(vm, b[2], 4096);
	vmem_free(vm, b[3], 4096);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	kvt_watchdog_stop();
}

Test(wait, many_waiters)
{
	vmem_addr_t b[MAXBLK];
	vmem_t *vm;
	struct waiter w[4];
	int n;

	kvt_watchdog_start(WATCHDOG_S, "four waiters");
	vm = full_arena(b, &n);
	for (int i = 0; i < 4; i++)
		waiter_start(&w[i], vm, 4096, M_WAITOK);
	until_asleep(vm, 4, w, 4);
	for (int i = 0; i < 4; i++)
		vmem_free(vm, b[i], 4096);
	for (int i = 0; i < 4; i++) {
		waiter_join(&w[i]);
		cr_assert_eq(w[i].rc, 0);
		for (int j = 0; j < i; j++)
			cr_assert_neq(w[i].addr, w[j].addr);
	}
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0);
	for (int i = 0; i < 4; i++)
		vmem_free(vm, w[i].addr, 4096);
	for (int i = 4; i < n; i++)
		vmem_free(vm, b[i], 4096);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	kvt_watchdog_stop();
}

/* An import that succeeds from a bump counter. */
static int
bump_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	vmem_addr_t *next = arg;

	(void)flags;
	*addrp = *next;
	*next += size;
	return (0);
}

static void
bump_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	(void)arg;
	(void)addr;
	(void)size;
}

Test(wait, woken_by_limit_change)
{
	vmem_addr_t next = 0x10000000, a;
	vmem_t *vm;
	struct waiter w;

	kvt_watchdog_start(WATCHDOG_S, "waiter woken by vmem_set_limit");
	vm = kvt_vmem_create("lim", 0, 0, 4096, 0, M_WAITOK);
	vmem_set_import(vm, bump_import, bump_release, &next, 64 * 1024);
	vmem_set_limit(vm, 64 * 1024);
	cr_assert_eq(vmem_alloc(vm, 64 * 1024, M_NOWAIT, &a), 0);
	waiter_start(&w, vm, 4096, M_WAITOK);
	until_asleep(vm, 1, &w, 1);
	vmem_set_limit(vm, 0);
	waiter_join(&w);
	cr_assert_eq(w.rc, 0);
	/* 64 KiB more, or what a slab for 4096 needs. */
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE),
	    64 * 1024 + kvt_import_size(vm, 4096, 64 * 1024));
	vmem_free(vm, w.addr, 4096);
	vmem_free(vm, a, 64 * 1024);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	kvt_watchdog_stop();
}

static atomic_int reclaim_calls;

static void
count_reclaim(vmem_t *vm, int flags)
{
	(void)vm;
	(void)flags;
	atomic_fetch_add(&reclaim_calls, 1);
}

Test(wait, reclaim_before_sleep)
{
	vmem_addr_t b[MAXBLK];
	vmem_t *vm;
	struct waiter w;
	int n;

	kvt_watchdog_start(WATCHDOG_S, "reclaim before sleeping");
	atomic_store(&reclaim_calls, 0);
	vm = full_arena(b, &n);
	vmem_set_reclaim(vm, count_reclaim);
	waiter_start(&w, vm, 4096, M_WAITOK);
	until_asleep(vm, 1, &w, 1);
	cr_assert_geq(atomic_load(&reclaim_calls), 1,
	    "the reclaim callback runs before the first sleep");
	vmem_free(vm, b[3], 4096);
	waiter_join(&w);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(w.addr, b[3]);
	for (int i = 0; i < n; i++)
		vmem_free(vm, b[i], 4096);
	vmem_destroy(vm);
	kvt_watchdog_stop();
}
