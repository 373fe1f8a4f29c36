/*
 * test_threads.c -- concurrency: 4 threads allocating and freeing on one
 * arena (ownership of every quantum recorded in a shared side table, so an
 * overlap is caught), sleeping allocations woken by other threads' frees
 * and vmem_add, contention on M_WAITOK, imports from a parent arena under
 * load, the quantum cache under load, and readers (walk, stats, check)
 * running beside writers.  Everything runs under a watchdog.
 *
 * KVMEM_THREAD_OPS: operations per thread (default 100000).  KVMEM_SEED.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(threads, .fini = kvt_fini_no_live);

#define NTHREADS	4
#define WATCHDOG_S	240
#define MAXHELD		64

/* ---- Shared failure record -------------------------------------------------- */

static atomic_int n_errors;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[512];

static void
thread_error(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&n_errors, 1) != 0)
		return;
	pthread_mutex_lock(&err_lock);
	va_start(ap, fmt);
	vsnprintf(first_error, sizeof(first_error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&err_lock);
}

static void
assert_no_thread_errors(uint64_t seed)
{
	pthread_mutex_lock(&err_lock);
	cr_assert_eq(atomic_load(&n_errors), 0, "%d error(s) in threads, first: %s "
	    "(KVMEM_SEED=%" PRIu64 ")", atomic_load(&n_errors), first_error, seed);
	pthread_mutex_unlock(&err_lock);
}

static void
reset_errors(void)
{
	atomic_store(&n_errors, 0);
	first_error[0] = '\0';
}

/* ---- Ownership side table ------------------------------------------------------ */

struct owners {
	vmem_addr_t		base;
	vmem_size_t		q;
	size_t			n;
	_Atomic unsigned char	*who;
};

static void
owners_init(struct owners *o, vmem_addr_t base, vmem_size_t size, vmem_size_t q)
{
	o->base = base;
	o->q = q;
	o->n = size / q;
	o->who = calloc(o->n, sizeof(*o->who));
	cr_assert_not_null(o->who);
}

/* Claim [addr, addr+size) for thread id (1-based); report any overlap. */
static void
owners_claim(struct owners *o, vmem_addr_t addr, vmem_size_t size, unsigned id)
{
	if (addr < o->base || addr - o->base + size > o->n * o->q) {
		thread_error("thread %u: block " KVT_X "+%zu outside the arena", id,
		    addr, size);
		return;
	}
	for (size_t i = (addr - o->base) / o->q; i < (addr - o->base + size) / o->q;
	    i++) {
		unsigned prev = atomic_exchange(&o->who[i], (unsigned char)id);
		if (prev != 0)
			thread_error("thread %u: block " KVT_X "+%zu overlaps a "
			    "block of thread %u", id, addr, size, prev);
	}
}

static void
owners_release(struct owners *o, vmem_addr_t addr, vmem_size_t size, unsigned id)
{
	for (size_t i = (addr - o->base) / o->q; i < (addr - o->base + size) / o->q;
	    i++) {
		unsigned prev = atomic_exchange(&o->who[i], 0);
		if (prev != id)
			thread_error("thread %u: quantum of " KVT_X " owned by %u "
			    "at free", id, addr, prev);
	}
}

/* ---- Concurrent alloc/free ---------------------------------------------------- */

struct worker {
	pthread_t	thr;
	unsigned	id;
	vmem_t		*vm;
	struct owners	*own;
	uint64_t	seed;
	uint64_t	ops;
	vmem_size_t	maxunits;
	int		constrained;	/* use vmem_xalloc with constraints */
	uint64_t	allocs, fails;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct kvt_rng r;
	vmem_addr_t addr[MAXHELD];
	vmem_size_t size[MAXHELD];
	int xal[MAXHELD];		/* from vmem_xalloc: vmem_xfree it */
	int n = 0;
	vmem_size_t q = w->own->q;
	static const int fits[] = { 0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT,
	    VMEM_TOPDOWN };

	kvt_rng_init(&r, w->seed + w->id);
	for (uint64_t op = 0; op < w->ops; op++) {
		if (n < MAXHELD && (n == 0 || kvt_chance(&r, 55))) {
			vmem_size_t sz = q * kvt_range(&r, 1, w->maxunits);
			int flags = M_NOWAIT | fits[kvt_below(&r, 5)], rc;
			vmem_addr_t a;
			int x = w->constrained && kvt_chance(&r, 50);

			if (x) {
				vmem_size_t align = q << kvt_below(&r, 6);
				vmem_size_t nocross = 0;
				if (kvt_chance(&r, 30)) {
					nocross = align;
					while (nocross < sz)
						nocross <<= 1;
				}
				rc = vmem_xalloc(w->vm, sz, align, 0, nocross,
				    VMEM_ADDR_MIN, VMEM_ADDR_MAX, flags, &a);
				if (rc == 0 && (a % align != 0 || (nocross != 0 &&
				    a / nocross != (a + sz - 1) / nocross)))
					thread_error("thread %u: " KVT_X " breaks "
					    "align %zu nocross %zu", w->id, a, align,
					    nocross);
			} else {
				rc = vmem_alloc(w->vm, sz, flags, &a);
			}
			if (rc == 0) {
				owners_claim(w->own, a, sz, w->id);
				addr[n] = a;
				size[n] = sz;
				xal[n] = x;
				n++;
				w->allocs++;
			} else if (rc == ENOMEM) {
				w->fails++;
			} else {
				thread_error("thread %u: rc %d", w->id, rc);
			}
		} else {
			int k = (int)kvt_below(&r, (uint64_t)n);
			owners_release(w->own, addr[k], size[k], w->id);
			if (xal[k])
				vmem_xfree(w->vm, addr[k], size[k]);
			else
				vmem_free(w->vm, addr[k], size[k]);
			addr[k] = addr[n - 1];
			size[k] = size[n - 1];
			xal[k] = xal[n - 1];
			n--;
		}
	}
	while (n > 0) {
		n--;
		owners_release(w->own, addr[n], size[n], w->id);
		if (xal[n])
			vmem_xfree(w->vm, addr[n], size[n]);
		else
			vmem_free(w->vm, addr[n], size[n]);
	}
	return (NULL);
}

static void
run_workers(vmem_t *vm, struct owners *own, int constrained, vmem_size_t maxunits,
    struct worker *w)
{
	uint64_t seed = kvt_seed();
	uint64_t ops = kvt_env_ull("KVMEM_THREAD_OPS", 100000);

	reset_errors();
	for (unsigned i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i + 1;
		w[i].vm = vm;
		w[i].own = own;
		w[i].seed = seed;
		w[i].ops = ops;
		w[i].maxunits = maxunits;
		w[i].constrained = constrained;
		cr_assert_eq(pthread_create(&w[i].thr, NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		cr_assert_eq(pthread_join(w[i].thr, NULL), 0);
	assert_no_thread_errors(seed);
}

Test(threads, concurrent_alloc_free)
{
	const vmem_addr_t base = 0x40000000;
	const vmem_size_t size = 16 * 16384;
	struct owners own;
	struct worker w[NTHREADS];
	vmem_t *vm;

	kvt_watchdog_start(WATCHDOG_S, "concurrent alloc/free");
	owners_init(&own, base, size, 16);
	vm = kvt_vmem_create("mt", base, size, 16, 0, M_WAITOK);
	cr_assert_not_null(vm);
	run_workers(vm, &own, 1, 64, w);
	uint64_t allocs = 0;
	for (int i = 0; i < NTHREADS; i++)
		allocs += w[i].allocs;
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	vmem_qcache_drain(vm);
	struct vmem_stats st = kvt_stats(vm);
	/* With caches the segment layer counts slabs, not blocks. */
	if (vmem_qcache_count(vm) == 0)
		cr_assert_eq(st.allocs, allocs);
	cr_assert_eq(st.frees, st.allocs);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	free(own.who);
	kvt_watchdog_stop();
}

Test(threads, concurrent_tight_arena)
{
	/* Small enough that the threads keep running out of space. */
	const vmem_addr_t base = 0x1000;
	const vmem_size_t size = 4096 * 256;
	struct owners own;
	struct worker w[NTHREADS];
	vmem_t *vm;

	kvt_watchdog_start(WATCHDOG_S, "concurrent alloc/free, tight arena");
	owners_init(&own, base, size, 4096);
	vm = kvt_vmem_create("tight", base, size, 4096, 0, M_WAITOK);
	run_workers(vm, &own, 1, 16, w);
	uint64_t fails = 0;
	for (int i = 0; i < NTHREADS; i++)
		fails += w[i].fails;
	cr_assert_gt(fails, 0, "the arena never ran out: not a tight test");
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	free(own.who);
	kvt_watchdog_stop();
}

Test(threads, import_from_parent_under_load)
{
	const vmem_addr_t base = 0x10000000;
	const vmem_size_t size = 4096 * 8192;
	struct owners own;
	struct worker w[NTHREADS];
	vmem_t *parent, *child;

	kvt_watchdog_start(WATCHDOG_S, "imports under load");
	owners_init(&own, base, size, 4096);
	parent = kvt_vmem_create("parent", base, size, 4096, 0, M_WAITOK);
	child = kvt_vmem_create("child", 0, 0, 4096, 0, M_WAITOK);
	vmem_set_source(child, parent, 16 * 4096);
	run_workers(child, &own, 1, 24, w);
	cr_assert_eq(vmem_size(child, VMEM_ALLOC), 0);
	vmem_qcache_drain(child);
	cr_assert_eq(vmem_size(parent, VMEM_ALLOC), 0,
	    "every imported span was released to the parent");
	struct vmem_stats st = kvt_stats(child);
	cr_assert_gt(st.imports, 0);
	cr_assert_eq(st.imports, st.releases);
	cr_assert_eq(vmem_check(child), 0);
	cr_assert_eq(vmem_check(parent), 0);
	vmem_destroy(child);
	vmem_destroy(parent);
	free(own.who);
	kvt_watchdog_stop();
}

Test(threads, quantum_cache_under_load)
{
	const vmem_addr_t base = 0x40000000;
	const vmem_size_t size = 16 * 65536;
	struct owners own;
	struct worker w[NTHREADS];
	struct kvt_misuse_log log;
	vmem_t *vm;

	kvt_watchdog_start(WATCHDOG_S, "quantum cache under load");
	memset(&log, 0, sizeof(log));
	owners_init(&own, base, size, 16);
	vm = kvt_vmem_create("qc", base, size, 16, 8 * 16, M_WAITOK);
	cr_assert_not_null(vm);
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	run_workers(vm, &own, 0, 8, w);
	cr_assert_eq(log.count, 0, "misuse reported: %s", log.msg);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	cr_assert_eq(log.count, 0, "cached blocks reported as leaks: %s", log.msg);
	free(own.who);
	kvt_watchdog_stop();
}

/* ---- Readers beside writers ---------------------------------------------------- */

struct reader {
	pthread_t	thr;
	vmem_t		*vm;
	atomic_int	*stop;
	uint64_t	rounds;
};

static int
count_cb(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	(void)addr;
	(void)size;
	(void)type;
	(*(size_t *)arg)++;
	return (0);
}

static void *
reader_main(void *arg)
{
	struct reader *rd = arg;
	char json[4096];

	while (!atomic_load(rd->stop)) {
		struct vmem_stats st;
		size_t n = 0;

		if (vmem_check(rd->vm) != 0)
			thread_error("vmem_check failed during concurrent use");
		vmem_walk(rd->vm, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN, count_cb, &n);
		memset(&st, 0, sizeof(st));
		st.version = VMEM_STATS_VERSION;
		if (vmem_get_stats(rd->vm, &st) != 0)
			thread_error("vmem_get_stats failed");
		if (st.bytes_inuse + st.bytes_free != st.bytes_total)
			thread_error("stats not a consistent snapshot: %zu + %zu != %zu",
			    st.bytes_inuse, st.bytes_free, st.bytes_total);
		(void)vmem_size(rd->vm, VMEM_MAXFREE);
		(void)vmem_contains(rd->vm, 0x40000000);
		if (vmem_stats_json(rd->vm, json, sizeof(json)) <= 0)
			thread_error("vmem_stats_json failed");
		rd->rounds++;
	}
	return (NULL);
}

Test(threads, readers_beside_writers)
{
	const vmem_addr_t base = 0x40000000;
	const vmem_size_t size = 16 * 16384;
	struct owners own;
	struct worker w[NTHREADS];
	struct reader rd;
	atomic_int stop;
	vmem_t *vm;

	kvt_watchdog_start(WATCHDOG_S, "readers beside writers");
	owners_init(&own, base, size, 16);
	vm = kvt_vmem_create("rw", base, size, 16, 0, M_WAITOK);
	atomic_init(&stop, 0);
	rd.vm = vm;
	rd.stop = &stop;
	rd.rounds = 0;
	reset_errors();
	cr_assert_eq(pthread_create(&rd.thr, NULL, reader_main, &rd), 0);
	run_workers(vm, &own, 1, 64, w);
	atomic_store(&stop, 1);
	cr_assert_eq(pthread_join(rd.thr, NULL), 0);
	assert_no_thread_errors(kvt_seed());
	cr_assert_gt(rd.rounds, 0);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	free(own.who);
	kvt_watchdog_stop();
}

/* ---- Sleeping allocations ------------------------------------------------------ */

struct sleeper {
	pthread_t	thr;
	vmem_t		*vm;
	vmem_size_t	size;
	vmem_addr_t	addr;
	int		rc;
	atomic_int	done;
};

static void *
sleeper_main(void *arg)
{
	struct sleeper *s = arg;

	s->rc = vmem_alloc(s->vm, s->size, M_WAITOK, &s->addr);
	atomic_store(&s->done, 1);
	return (NULL);
}

/* Another thread (not the test's) that frees or adds once a sleep is seen. */
struct waker {
	pthread_t	thr;
	vmem_t		*vm;
	int		add;		/* vmem_add instead of vmem_free */
	vmem_addr_t	addr;
	vmem_size_t	size;
	int		rc;
};

static void *
waker_main(void *arg)
{
	struct waker *k = arg;
	struct timespec ts = { 0, 1000000 };
	struct vmem_stats st;

	for (;;) {
		memset(&st, 0, sizeof(st));
		st.version = VMEM_STATS_VERSION;
		vmem_get_stats(k->vm, &st);
		if (st.sleeps > 0)
			break;
		nanosleep(&ts, NULL);
	}
	if (k->add)
		k->rc = vmem_add(k->vm, k->addr, k->size, M_WAITOK);
	else
		vmem_free(k->vm, k->addr, k->size);
	return (NULL);
}

static void
sleeper_and_waker(int add)
{
	/* Full of n blocks: 4, or when 4096 is cached one slab's objects. */
	vmem_t *vm = kvt_vmem_create("sleep", 0, 0, 4096, 0, M_WAITOK);
	vmem_size_t slab = kvt_slab_size(vm, 4096);
	int n = slab != 0 ? (int)(slab / 4096) : 4;
	vmem_addr_t b[64];
	struct sleeper s;
	struct waker k;

	cr_assert(n >= 4 && n <= 64);
	cr_assert_eq(vmem_add(vm, 0x400000, (vmem_size_t)n * 4096, M_NOWAIT), 0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT | M_BESTFIT, &b[i]), 0);
	memset(&s, 0, sizeof(s));
	memset(&k, 0, sizeof(k));
	s.vm = k.vm = vm;
	s.size = 4096;
	atomic_init(&s.done, 0);
	k.add = add;
	k.addr = add ? 0x100000 : b[2];
	k.size = add && slab != 0 ? slab : 4096;	/* room for a slab */
	cr_assert_eq(pthread_create(&s.thr, NULL, sleeper_main, &s), 0);
	cr_assert_eq(pthread_create(&k.thr, NULL, waker_main, &k), 0);
	cr_assert_eq(pthread_join(s.thr, NULL), 0);
	cr_assert_eq(pthread_join(k.thr, NULL), 0);
	cr_assert_eq(s.rc, 0);
	if (add && slab != 0)
		cr_assert(s.addr >= k.addr && s.addr + 4096 <= k.addr + k.size,
		    "got " KVT_X, s.addr);
	else
		cr_assert_eq(s.addr, k.addr);
	cr_assert_eq(k.rc, 0);
	if (add)
		vmem_free(vm, s.addr, 4096);
	for (int i = 0; i < n; i++)
		vmem_free(vm, b[i], 4096);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(threads, waitok_woken_by_other_threads_free)
{
	kvt_watchdog_start(WATCHDOG_S, "sleeper woken by another thread's free");
	sleeper_and_waker(0);
	kvt_watchdog_stop();
}

Test(threads, waitok_woken_by_other_threads_add)
{
	kvt_watchdog_start(WATCHDOG_S, "sleeper woken by another thread's add");
	sleeper_and_waker(1);
	kvt_watchdog_stop();
}

/* Each thread holds at most one block; capacity covers all: no deadlock. */
struct contender {
	pthread_t	thr;
	vmem_t		*vm;
	unsigned	id;
	uint64_t	rounds;
	struct owners	*own;
};

static void *
contender_main(void *arg)
{
	struct contender *c = arg;
	struct kvt_rng r;

	kvt_rng_init(&r, kvt_seed() + c->id);
	for (uint64_t i = 0; i < c->rounds; i++) {
		vmem_size_t sz = 4096 * kvt_range(&r, 1, 3);
		vmem_addr_t a;
		int rc = vmem_alloc(c->vm, sz, M_WAITOK | (kvt_chance(&r, 50) ?
		    M_BESTFIT : M_FIRSTFIT), &a);

		if (rc != 0) {
			thread_error("thread %u: M_WAITOK returned %d", c->id, rc);
			return (NULL);
		}
		owners_claim(c->own, a, sz, c->id);
		sched_yield();
		owners_release(c->own, a, sz, c->id);
		vmem_free(c->vm, a, sz);
	}
	return (NULL);
}

Test(threads, waitok_contention)
{
	const vmem_addr_t base = 0x400000;
	vmem_size_t size = 4096 * 6;	/* 4 threads x up to 3 pages */
	struct contender c[NTHREADS];
	struct owners own;
	vmem_t *vm;
	uint64_t rounds = kvt_env_ull("KVMEM_THREAD_OPS", 100000) / 10;

	kvt_watchdog_start(WATCHDOG_S, "M_WAITOK contention");
	reset_errors();
	vm = kvt_vmem_create("contend", 0, 0, 4096, 0, M_WAITOK);
	/* With caches of 1-3 pages: room for four of the largest slabs. */
	for (vmem_size_t sz = 4096; sz <= 3 * 4096; sz += 4096) {
		vmem_size_t slab = kvt_slab_size(vm, sz), al = 4096;
		while (al < slab)
			al <<= 1;
		if (slab != 0 && 4 * al > size)
			size = 4 * al;
	}
	cr_assert_eq(vmem_add(vm, base, size, M_NOWAIT), 0);
	owners_init(&own, base, size, 4096);
	for (unsigned i = 0; i < NTHREADS; i++) {
		c[i].vm = vm;
		c[i].id = i + 1;
		c[i].rounds = rounds;
		c[i].own = &own;
		cr_assert_eq(pthread_create(&c[i].thr, NULL, contender_main, &c[i]), 0);
	}
	for (unsigned i = 0; i < NTHREADS; i++)
		cr_assert_eq(pthread_join(c[i].thr, NULL), 0);
	assert_no_thread_errors(kvt_seed());
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	free(own.who);
	kvt_watchdog_stop();
}
