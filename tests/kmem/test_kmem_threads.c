/*
 * test_kmem_threads.c -- threads: M_WAITOK sleepers woken by frees (pages
 * and address space), kmap_alloc_wait sleepers woken by kmap_free_wakeup,
 * concurrent churn on every domain checked by kmem_check, and racing
 * double frees reported exactly once.  Every test is bounded by a
 * watchdog.  (Suite 'threads': also built against the Criterion stand-in
 * for ThreadSanitizer.)  KVMEM_KMEM_THREAD_OPS sets the churn length.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kmem_test.h"

TestSuite(kmem_threads, .fini = kt_fini, .timeout = 120);

struct waiter {
	struct kmem	*k;
	vm_size_t	size;
	int		flags;
	atomic_int	started;
	atomic_int	done;
	vm_offset_t	va;
};

static void *
alloc_waiter(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->started, 1);
	w->va = kmem_malloc_k(w->k, w->size, w->flags);
	atomic_store(&w->done, 1);
	return NULL;
}

/* Spin politely until flag is set (the watchdog bounds it). */
static void
await(atomic_int *flag)
{
	while (!atomic_load(flag))
		sched_yield();
}

Test(kmem_threads, waitok_sleeps_until_pages_are_freed)
{
	struct kmem *k = kt_make(1, 8 * MiB, NULL);
	static vm_offset_t va[4096];
	struct waiter w = { .k = k, .size = 4 * PG, .flags = M_WAITOK | M_ZERO };
	pthread_t t;
	int n = 0;

	kvt_watchdog_start(60, "waitok_sleeps_until_pages_are_freed");
	while ((va[n] = kmem_malloc_k(k, PG, M_NOWAIT)) != 0)
		n++;
	cr_assert_gt(n, 1000);
	cr_assert_eq(pthread_create(&t, NULL, alloc_waiter, &w), 0);
	await(&w.started);
	/* It cannot finish: nothing is free.  Wait until it has slept at least once. */
	while (kt_stats(k).waits == 0)
		sched_yield();
	cr_assert_eq(atomic_load(&w.done), 0);
	for (int i = 0; i < 8; i++)
		kmem_free_k(k, va[--n], PG);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_neq(w.va, 0);
	cr_assert(kt_is_zero(k, w.va, 4 * PG));
	kt_check(k);
	kmem_free_k(k, w.va, 4 * PG);
	while (n > 0)
		kmem_free_k(k, va[--n], PG);
	kt_check(k);
	kvt_watchdog_stop();
	kmem_destroy(k);
}

Test(kmem_threads, waitok_sleeps_until_kva_is_freed)
{
	struct kmem_config cfg;
	struct kmem *k;
	vm_offset_t va[8];
	struct waiter w = { .size = 2 * MiB, .flags = M_WAITOK };
	pthread_t t;
	int n = 0;

	kt_config(&cfg, 1, 64 * MiB, NULL);
	cfg.kva_max = cfg.kva_min + 4 * MiB + 8 * MiB;	/* 8 MiB of KVA after the bootstrap */
	cfg.zero_region_size = 0;
	k = kt_create(&cfg);
	w.k = k;
	kvt_watchdog_start(60, "waitok_sleeps_until_kva_is_freed");
	while (n < 8 && (va[n] = kmem_malloc_k(k, 2 * MiB, M_NOWAIT)) != 0)
		n++;
	cr_assert_eq(n, 4, "8 MiB of KVA hold four 2 MiB allocations");
	cr_assert_gt(kt_free_pages(k, 0), 4096, "memory is not what runs out");
	cr_assert_eq(pthread_create(&t, NULL, alloc_waiter, &w), 0);
	await(&w.started);
	while (kt_stats(k).waits == 0)
		sched_yield();
	cr_assert_eq(atomic_load(&w.done), 0);
	kmem_free_k(k, va[--n], 2 * MiB);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_neq(w.va, 0);
	va[n++] = w.va;
	kt_check(k);
	while (n > 0)
		kmem_free_k(k, va[--n], 2 * MiB);
	kvt_watchdog_stop();
	kmem_destroy(k);
}

struct kmap_waiter {
	vm_map_t	map;
	atomic_int	started;
	vm_offset_t	va;
};

static void *
kmap_waiter(void *arg)
{
	struct kmap_waiter *w = arg;

	atomic_store(&w->started, 1);
	w->va = kmap_alloc_wait(w->map, 1 * MiB);
	return NULL;
}

Test(kmem_threads, kmap_alloc_wait_woken_by_free)
{
	struct kmem_config cfg;
	struct kmem *k;
	struct kmap_waiter w = { 0 };
	vm_offset_t all;
	pthread_t t;

	kt_config(&cfg, 1, 16 * MiB, NULL);
	cfg.pipe_map_size = 4 * MiB;
	k = kt_create(&cfg);
	w.map = kmem_pipe_map(k);
	kvt_watchdog_start(60, "kmap_alloc_wait_woken_by_free");
	all = kmap_alloc_wait(w.map, 4 * MiB);
	cr_assert_neq(all, 0);
	cr_assert_eq(pthread_create(&t, NULL, kmap_waiter, &w), 0);
	await(&w.started);
	struct vm_map_stats st = { .version = VM_MAP_STATS_VERSION };
	do {
		sched_yield();
		cr_assert_eq(vm_map_get_stats(w.map, &st), 0);
	} while (st.sleeps == 0);
	kmap_free_wakeup(w.map, all, 4 * MiB);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(w.va, all, "the space freed");
	kmap_free_wakeup(w.map, w.va, 1 * MiB);
	kt_check(k);
	kvt_watchdog_stop();
	kmem_destroy(k);
}

struct churner {
	struct kmem		*k;
	int			cpu;
	const struct domainset	*ds;
	uint64_t		seed;
	uint64_t		ops;
	int			bad;
	uint64_t		local, total;
};

static void *
churn(void *arg)
{
	struct churner *c = arg;
	struct kvt_rng r;
	vm_offset_t va[32];
	vm_size_t sz[32];
	uint64_t mark[32];
	int n = 0;

	kvt_rng_init(&r, c->seed);
	if (pmap_sim_set_cpu(kmem_sim(c->k), c->cpu) != 0)
		c->bad = 1;
	for (uint64_t op = 0; op < c->ops && !c->bad; op++) {
		if (n < 32 && (n == 0 || kvt_chance(&r, 55))) {
			vm_size_t size = kvt_range(&r, 1, 24) * PG;
			vm_offset_t a = kmem_malloc_domainset_k(c->k, c->ds, size,
			    M_WAITOK | (kvt_chance(&r, 10) ? M_EXEC : 0));

			if (a == 0) {
				c->bad = 2;
				break;
			}
			c->total++;
			if (kt_domain_of(c->k, a) == pmap_sim_curdomain(kmem_sim(c->k)))
				c->local++;
			mark[n] = kvt_next(&r);
			if (pmap_sim_write(kmem_sim(c->k), a, &mark[n], 8) != 0 ||
			    pmap_sim_write(kmem_sim(c->k), a + size - 8, &mark[n], 8) != 0)
				c->bad = 3;
			va[n] = a;
			sz[n++] = size;
		} else {
			int i = (int)kvt_below(&r, (uint64_t)n);
			uint64_t x = 0, y = 0;

			if (pmap_sim_read(kmem_sim(c->k), va[i], &x, 8) != 0 ||
			    pmap_sim_read(kmem_sim(c->k), va[i] + sz[i] - 8, &y, 8) != 0 ||
			    x != mark[i] || y != mark[i])
				c->bad = 4;
			kmem_free_k(c->k, va[i], sz[i]);
			va[i] = va[--n];
			sz[i] = sz[n];
			mark[i] = mark[n];
		}
	}
	while (n > 0) {
		n--;
		kmem_free_k(c->k, va[n], sz[n]);
	}
	return NULL;
}

static void
churn_run(int nd, int policy, bool all_local)
{
	struct kmem *k = kt_make(nd, 32 * MiB, NULL);
	struct churner c[4];
	pthread_t t[4];
	uint64_t ops = kvt_env_ull("KVMEM_KMEM_THREAD_OPS", 4000);
	int i, nt = 4;

	kvt_watchdog_start(100, "churn");
	for (i = 0; i < nt; i++) {
		c[i] = (struct churner){ .k = k, .cpu = (2 * i + 1) % (2 * nd),
		    .ds = kmem_domainset(k, policy, 0), .seed = kvt_seed() + (uint64_t)i,
		    .ops = ops };
		cr_assert_eq(pthread_create(&t[i], NULL, churn, &c[i]), 0);
	}
	for (i = 0; i < nt; i++) {
		cr_assert_eq(pthread_join(t[i], NULL), 0);
		cr_assert_eq(c[i].bad, 0, "thread %d failed (%d), seed %" PRIu64, i, c[i].bad,
		    kvt_seed());
		if (all_local)
			cr_assert_eq(c[i].local, c[i].total, "thread %d: %" PRIu64 " of %" PRIu64
			    " local", i, c[i].local, c[i].total);
	}
	kt_check(k);
	struct kmem_stats st = kt_stats(k);
	cr_assert_eq(st.pages, 0);
	cr_assert_eq(st.allocs, st.frees);
	if (all_local)
		cr_assert_eq(st.remote_pages, 0);
	kvt_watchdog_stop();
	kmem_destroy(k);
}

Test(kmem_threads, churn_first_touch_stays_local)
{
	churn_run(4, DOMAINSET_POLICY_FIRSTTOUCH, true);
}

Test(kmem_threads, churn_round_robin)
{
	churn_run(2, DOMAINSET_POLICY_ROUNDROBIN, false);
}

Test(kmem_threads, churn_interleave_one_domain)
{
	churn_run(1, DOMAINSET_POLICY_INTERLEAVE, true);
}

static atomic_int races_reported;

static void
count_misuse(void *arg, struct kmem *k, enum kmem_misuse kind, vm_offset_t addr,
    vm_size_t size, const char *msg)
{
	(void)arg;
	(void)k;
	(void)addr;
	(void)size;
	(void)msg;
	if (kind == KMEM_MISUSE_BAD_FREE)
		atomic_fetch_add(&races_reported, 1);
}

struct racer {
	struct kmem	*k;
	vm_offset_t	va;
	atomic_int	*go;
};

static void *
race_free(void *arg)
{
	struct racer *r = arg;

	while (!atomic_load(r->go))
		;
	kmem_free_k(r->k, r->va, 3 * PG);
	return NULL;
}

Test(kmem_threads, racing_double_free_reported_once)
{
	struct kmem_config cfg;
	struct kmem *k;
	int rounds = (int)kvt_env_ull("KVMEM_KMEM_RACES", 200);

	kt_config(&cfg, 2, 16 * MiB, NULL);
	cfg.misuse_fn = count_misuse;
	k = kt_create(&cfg);
	kvt_watchdog_start(100, "racing_double_free_reported_once");
	for (int i = 0; i < rounds; i++) {
		atomic_int go = 0;
		struct racer a = { k, 0, &go }, b;
		pthread_t ta, tb;
		int before = atomic_load(&races_reported);

		a.va = kmem_malloc_k(k, 3 * PG, M_WAITOK);
		cr_assert_neq(a.va, 0);
		b = a;
		cr_assert_eq(pthread_create(&ta, NULL, race_free, &a), 0);
		cr_assert_eq(pthread_create(&tb, NULL, race_free, &b), 0);
		atomic_store(&go, 1);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		cr_assert_eq(atomic_load(&races_reported) - before, 1, "round %d", i);
	}
	kt_check(k);
	cr_assert_eq(kt_stats(k).pages, 0);
	kvt_watchdog_stop();
	kmem_destroy(k);
}
