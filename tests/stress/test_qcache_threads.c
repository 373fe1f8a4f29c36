/*
 * test_qcache_threads.c -- quantum caches under threads: a model-based run
 * with cached and uncached sizes, threads exiting mid-run and drains
 * forced at random; and producer/consumer without unbounded growth.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(qcache_threads, .fini = kvt_fini_no_live);

/* Criterion assertions may only fail on the test's own thread: workers
 * print and abort, which fails the test just as well. */
#define TCHECK(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

#define Q	64
#define BASE	0x10000000u
#define SPAN	((vmem_size_t)1 << 22)

/* One byte per quantum: who holds it (0 = nobody).  Catches double hand-outs. */
static _Atomic unsigned char *owner;
static vmem_t *arena;

static void
claim(vmem_addr_t a, vmem_size_t size, unsigned char who, uint64_t seed)
{
	TCHECK(a >= BASE && a - BASE + size <= SPAN,
	    "seed %" PRIu64 ": " KVT_X " size %zu outside the arena", seed, a, size);
	for (vmem_size_t k = 0; k < (size + Q - 1) / Q; k++) {
		unsigned char z = 0;
		TCHECK(atomic_compare_exchange_strong(&owner[(a - BASE) / Q + k], &z, who),
		    "seed %" PRIu64 ": " KVT_X " handed to thread %u while thread %u "
		    "holds it", seed, a, who, z);
	}
}

static void
unclaim(vmem_addr_t a, vmem_size_t size)
{
	for (vmem_size_t k = 0; k < (size + Q - 1) / Q; k++)
		atomic_store(&owner[(a - BASE) / Q + k], 0);
}

struct live {
	vmem_addr_t	addr;
	vmem_size_t	size;
	bool		x;		/* from vmem_xalloc */
};

/* Objects left alive by exiting threads, for the final model check. */
static pthread_mutex_t left_lock = PTHREAD_MUTEX_INITIALIZER;
static struct live *left;
static size_t nleft, capleft;

struct worker_arg {
	unsigned char	id;
	uint64_t	seed;
	unsigned	ops;
};

static void *
worker(void *p)
{
	struct worker_arg *w = p;
	struct kvt_rng rng;
	kvt_rng_init(&rng, w->seed ^ w->id);
	struct live mine[128];
	size_t n = 0;

	for (unsigned op = 0; op < w->ops; op++) {
		if (n < 128 && (n == 0 || kvt_chance(&rng, 55))) {
			struct live l;
			bool cached = kvt_chance(&rng, 80);
			l.size = cached ? kvt_range(&rng, 1, 8 * Q) :
			    kvt_range(&rng, 8 * Q + 1, 40 * Q);
			l.x = !cached && kvt_chance(&rng, 30);
			int e = l.x ? vmem_xalloc(arena, l.size, 4 * Q, 0, 0,
			    VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_WAITOK, &l.addr) :
			    vmem_alloc(arena, l.size, M_WAITOK, &l.addr);
			TCHECK(e == 0, "seed %" PRIu64 ": alloc %zu failed %d",
			    w->seed, l.size, e);
			TCHECK(!l.x || l.addr % (4 * Q) == 0, "seed %" PRIu64
			    ": " KVT_X " misaligned", w->seed, l.addr);
			claim(l.addr, l.size, w->id, w->seed);
			mine[n++] = l;
		} else {
			size_t k = kvt_below(&rng, n);
			struct live l = mine[k];
			mine[k] = mine[--n];
			unclaim(l.addr, l.size);
			if (l.x)
				vmem_xfree(arena, l.addr, l.size);
			else
				vmem_free(arena, l.addr, l.size);
		}
	}
	/* Exit with some objects still allocated: they outlive the thread. */
	pthread_mutex_lock(&left_lock);
	for (size_t k = 0; k < n; k++) {
		if (nleft == capleft) {
			capleft = capleft ? 2 * capleft : 256;
			left = realloc(left, capleft * sizeof(*left));
		}
		left[nleft++] = mine[k];
	}
	pthread_mutex_unlock(&left_lock);
	return NULL;
}

static atomic_int stop_draining;

static void *
drainer(void *p)
{
	struct kvt_rng rng;
	kvt_rng_init(&rng, *(uint64_t *)p);
	while (!atomic_load(&stop_draining)) {
		vmem_qcache_drain(arena);
		if (kvt_chance(&rng, 20))
			TCHECK(vmem_check(arena) == 0, "vmem_check failed while draining");
		struct timespec ts = { 0, (long)kvt_below(&rng, 2000000) };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int
in_busy_segment(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct live *l = arg;
	(void)type;
	if (l->addr >= addr && l->addr + l->size - 1 <= addr + size - 1)
		return 1;
	return 0;
}

Test(qcache_threads, model_with_exits_and_drains, .timeout = 600)
{
	uint64_t seed = kvt_seed();
	unsigned ops = (unsigned)kvt_env_ull("KVMEM_THREAD_OPS", 200000);
	kvt_watchdog_start(500, "qcache_threads/model_with_exits_and_drains");
	owner = calloc(SPAN / Q, 1);
	arena = vmem_create("qmodel", BASE, SPAN, Q, 8 * Q, M_WAITOK);

	pthread_t dt;
	atomic_store(&stop_draining, 0);
	cr_assert_eq(pthread_create(&dt, NULL, drainer, &seed), 0);
	/* Rounds of workers: each round's threads exit, the next start anew. */
	for (unsigned round = 0; round < 4; round++) {
		pthread_t t[3];
		struct worker_arg wa[3];
		for (unsigned i = 0; i < 3; i++) {
			wa[i] = (struct worker_arg){ (unsigned char)(1 + round * 3 + i),
			    seed + round, ops / 12 };
			cr_assert_eq(pthread_create(&t[i], NULL, worker, &wa[i]), 0);
		}
		for (unsigned i = 0; i < 3; i++)
			pthread_join(t[i], NULL);
	}
	atomic_store(&stop_draining, 1);
	pthread_join(dt, NULL);

	/* After a drain the arena is exactly as the model says. */
	vmem_qcache_drain(arena);
	cr_assert_eq(vmem_check(arena), 0, "seed %" PRIu64, seed);
	vmem_size_t model = 0;
	for (size_t k = 0; k < nleft; k++) {
		vmem_size_t r = (left[k].size + Q - 1) / Q * Q;
		model += r;
		cr_assert_eq(vmem_walk(arena, VMEM_ALLOC, in_busy_segment, &left[k]), 1,
		    "seed %" PRIu64 ": live " KVT_X " in no busy segment", seed,
		    left[k].addr);
	}
	cr_assert_eq(vmem_size(arena, VMEM_ALLOC), model, "seed %" PRIu64, seed);
	struct vmem_stats st = kvt_stats(arena);
	cr_assert_eq(st.bytes_inuse, model);
	/* Only slabs holding live objects remain; their idle objects are all
	 * that is cached. */
	vmem_size_t slab_live = 0;
	for (unsigned i = 0; i < vmem_qcache_count(arena); i++) {
		struct vmem_qcache_stats qs = { .version = VMEM_STATS_VERSION };
		cr_assert_eq(vmem_get_qcache_stats(arena, i, &qs), 0);
		cr_assert_eq(qs.objs_in_threads + qs.objs_in_depot, 0);
		slab_live += qs.objs_out * qs.objsize;
	}
	(void)slab_live;

	for (size_t k = 0; k < nleft; k++) {
		unclaim(left[k].addr, left[k].size);
		if (left[k].x)
			vmem_xfree(arena, left[k].addr, left[k].size);
		else
			vmem_free(arena, left[k].addr, left[k].size);
	}
	vmem_qcache_drain(arena);
	st = kvt_stats(arena);
	cr_assert_eq(st.busy_segs, 0, "seed %" PRIu64, seed);
	cr_assert_eq(st.bytes_cached, 0);
	cr_assert_eq(vmem_check(arena), 0);
	vmem_destroy(arena);
	free(left);
	left = NULL;
	nleft = capleft = 0;
	free((void *)owner);
	kvt_watchdog_stop();
}

/* Producer allocates, consumer frees: the caches must not grow without bound. */
#define RING	512
static struct {
	vmem_addr_t	addr[RING];
	vmem_size_t	size[RING];
	atomic_uint	head, tail;
	atomic_int	done;
} ring;

static void *
producer(void *p)
{
	unsigned n = *(unsigned *)p;
	struct kvt_rng rng;
	kvt_rng_init(&rng, kvt_seed());
	for (unsigned k = 0; k < n; k++) {
		while (atomic_load(&ring.head) - atomic_load(&ring.tail) >= RING)
			sched_yield();
		vmem_size_t size = kvt_range(&rng, 1, 8) * Q;
		vmem_addr_t a;
		TCHECK(vmem_alloc(arena, size, M_WAITOK, &a) == 0, "producer alloc");
		claim(a, size, 1, kvt_seed());
		unsigned h = atomic_load(&ring.head);
		ring.addr[h % RING] = a;
		ring.size[h % RING] = size;
		atomic_store(&ring.head, h + 1);
	}
	atomic_store(&ring.done, 1);
	return NULL;
}

static void *
consumer(void *p)
{
	(void)p;
	for (;;) {
		unsigned t = atomic_load(&ring.tail);
		if (t == atomic_load(&ring.head)) {
			if (atomic_load(&ring.done) && t == atomic_load(&ring.head))
				return NULL;
			sched_yield();
			continue;
		}
		vmem_addr_t a = ring.addr[t % RING];
		vmem_size_t size = ring.size[t % RING];
		atomic_store(&ring.tail, t + 1);
		unclaim(a, size);
		vmem_free(arena, a, size);
	}
}

/* One producer/consumer phase of n transfers; returns bytes the caches hold. */
static vmem_size_t
pc_phase(unsigned n)
{
	memset(&ring, 0, sizeof(ring));
	pthread_t p, c;
	cr_assert_eq(pthread_create(&p, NULL, producer, &n), 0);
	cr_assert_eq(pthread_create(&c, NULL, consumer, NULL), 0);
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	struct vmem_stats st = kvt_stats(arena);
	cr_assert_eq(st.bytes_inuse, 0);
	cr_assert_eq(vmem_check(arena), 0);
	return st.bytes_cached;
}

/*
 * Producer allocates, consumer frees: the caches must not grow with the
 * number of transfers.  After 5x more transfers the cached footprint may
 * not exceed twice the first phase's plus a few slabs.
 */
Test(qcache_threads, producer_consumer_bounded, .timeout = 300)
{
	unsigned n = (unsigned)kvt_env_ull("KVMEM_THREAD_OPS", 200000);
	kvt_watchdog_start(280, "qcache_threads/producer_consumer_bounded");
	owner = calloc(SPAN / Q, 1);
	arena = vmem_create("pc", BASE, SPAN, Q, 8 * Q, M_WAITOK);

	vmem_size_t first = pc_phase(n / 5);
	vmem_size_t second = pc_phase(n);
	cr_assert_gt(first, 0);
	cr_assert_leq(second, 2 * first + 64 * 64 * Q,
	    "cached %zu after %u transfers, %zu after %u more", first, n / 5,
	    second, n);
	/* The working-set reap (every 256 depot visits) keeps each depot
	 * within two intervals' worth of magazines. */
	for (unsigned i = 0; i < vmem_qcache_count(arena); i++) {
		struct vmem_qcache_stats qs = { .version = VMEM_STATS_VERSION };
		cr_assert_eq(vmem_get_qcache_stats(arena, i, &qs), 0);
		cr_assert_leq(qs.depot_full, 2 * 256 + 2, "cache %u holds %" PRIu64
		    " full magazines", i, qs.depot_full);
	}
	vmem_qcache_drain(arena);
	cr_assert_eq(kvt_stats(arena).busy_segs, 0);
	vmem_destroy(arena);
	free((void *)owner);
	kvt_watchdog_stop();
}
