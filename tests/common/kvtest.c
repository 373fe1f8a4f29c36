/*
 * kvtest.c -- shared test helpers (see kvtest.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

/* ---- Seeds and random numbers ------------------------------------------- */

unsigned long long
kvt_env_ull(const char *name, unsigned long long dflt)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long x;

	if (v == NULL || *v == '\0')
		return (dflt);
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno != 0 || *end != '\0')
		return (dflt);
	return (x);
}

uint64_t
kvt_seed(void)
{
	static int have;
	static uint64_t seed;
	struct timespec ts;

	if (have)
		return (seed);
	if (getenv("KVMEM_SEED") != NULL && *getenv("KVMEM_SEED") != '\0') {
		seed = kvt_env_ull("KVMEM_SEED", 1);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ((uint64_t)ts.tv_sec * 1000000007u) ^
		    (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	}
	have = 1;
	cr_log_info("KVMEM_SEED=%" PRIu64, seed);
	return (seed);
}

/* splitmix64: expands one seed into the generator state. */
static uint64_t
splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (z ^ (z >> 31));
}

void
kvt_rng_init(struct kvt_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	r->s[0] = splitmix(&x);
	r->s[1] = splitmix(&x);
	if ((r->s[0] | r->s[1]) == 0)
		r->s[1] = 1;
}

/* xorshift128+ */
uint64_t
kvt_next(struct kvt_rng *r)
{
	uint64_t a = r->s[0], b = r->s[1];

	r->s[0] = b;
	a ^= a << 23;
	r->s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return (r->s[1] + b);
}

uint64_t
kvt_below(struct kvt_rng *r, uint64_t n)
{
	/* The modulo bias is irrelevant for testing. */
	return (kvt_next(r) % n);
}

uint64_t
kvt_range(struct kvt_rng *r, uint64_t lo, uint64_t hi)
{
	if (lo == 0 && hi == UINT64_MAX)
		return (kvt_next(r));
	return (lo + kvt_below(r, hi - lo + 1));
}

int
kvt_chance(struct kvt_rng *r, unsigned pct)
{
	return (kvt_below(r, 100) < pct);
}

/* ---- Misuse recording ----------------------------------------------------- */

void
kvt_misuse_record(void *arg, vmem_t *vm, enum vmem_misuse kind,
    vmem_addr_t addr, vmem_size_t size, const char *msg)
{
	struct kvt_misuse_log *log = arg;

	log->count++;
	log->kind = kind;
	log->vm = vm;
	log->addr = addr;
	log->size = size;
	snprintf(log->msg, sizeof(log->msg), "%s", msg != NULL ? msg : "(null)");
}

/* ---- Watchdog --------------------------------------------------------------- */

static struct {
	pthread_mutex_t	lock;
	pthread_cond_t	cv;
	pthread_t	thr;
	int		running;
	int		stop;
	unsigned	seconds;
	char		what[128];
} wd = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *
watchdog_main(void *arg)
{
	struct timespec deadline;
	int rc = 0;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += wd.seconds;
	pthread_mutex_lock(&wd.lock);
	while (!wd.stop && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&wd.cv, &wd.lock, &deadline);
	if (!wd.stop) {
		fprintf(stderr, "watchdog: %s still running after %u s "
		    "(seed %" PRIu64 "): aborting\n", wd.what, wd.seconds,
		    kvt_seed());
		fflush(stderr);
		abort();
	}
	pthread_mutex_unlock(&wd.lock);
	return (NULL);
}

void
kvt_watchdog_start(unsigned seconds, const char *what)
{
	int rc;

	(void)kvt_seed();	/* logged from the test thread, not the timer */
	pthread_mutex_lock(&wd.lock);
	cr_assert(!wd.running, "watchdog already running");
	wd.stop = 0;
	wd.seconds = seconds;
	snprintf(wd.what, sizeof(wd.what), "%s", what);
	wd.running = 1;
	pthread_mutex_unlock(&wd.lock);
	rc = pthread_create(&wd.thr, NULL, watchdog_main, NULL);
	cr_assert_eq(rc, 0, "pthread_create(watchdog): %s", strerror(rc));
}

void
kvt_watchdog_stop(void)
{
	pthread_mutex_lock(&wd.lock);
	if (!wd.running) {
		pthread_mutex_unlock(&wd.lock);
		return;
	}
	wd.stop = 1;
	pthread_cond_signal(&wd.cv);
	pthread_mutex_unlock(&wd.lock);
	pthread_join(wd.thr, NULL);
	pthread_mutex_lock(&wd.lock);
	wd.running = 0;
	pthread_mutex_unlock(&wd.lock);
}

/* ---- Fixtures ----------------------------------------------------------------- */

void
kvt_fini_no_live(void)
{
	kvt_watchdog_stop();
	cr_assert_eq(vmem__live_arenas(), 0,
	    "%ld arena(s) still live at the end of the test",
	    vmem__live_arenas());
	cr_assert_eq(vmem__live_slabs(), 0,
	    "%ld boundary-tag slab(s) still live after every arena was "
	    "destroyed", vmem__live_slabs());
}

/* ---- Quantum-cache parameterization --------------------------------------------- */

unsigned
kvt_qcache_quanta(void)
{
	unsigned long long n = kvt_env_ull("KVMEM_TEST_QCACHE", 0);

	return (n > 16 ? 16 : (unsigned)n);
}

/* The qcache_max and flags an arena gets in the current mode. */
static void
qcache_mode(vmem_size_t quantum, vmem_size_t *qcache_max, int *flags)
{
	unsigned n = kvt_qcache_quanta();

	if (n == 0 || *qcache_max != 0 || quantum == 0 ||
	    quantum > SIZE_MAX / n)
		return;
	*qcache_max = n * quantum;
	if (kvt_env_ull("KVMEM_TEST_QCACHE_DEBUG", 0) != 0)
		*flags |= VMEM_QCACHE_DEBUG;
}

vmem_t *
kvt_vmem_create(const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum, vmem_size_t qcache_max, int flags)
{
	qcache_mode(quantum, &qcache_max, &flags);
	return (vmem_create(name, base, size, quantum, qcache_max, flags));
}

vmem_t *
kvt_vmem_init(vmem_t *vm, const char *name, vmem_addr_t base,
    vmem_size_t size, vmem_size_t quantum, vmem_size_t qcache_max, int flags)
{
	qcache_mode(quantum, &qcache_max, &flags);
	return (vmem_init(vm, name, base, size, quantum, qcache_max, flags));
}

int
kvt_cached(vmem_t *vm, vmem_size_t size)
{
	vmem_size_t q = vmem_roundup_size(vm, 1);

	return (size != 0 && size <= (vmem_size_t)vmem_qcache_count(vm) * q);
}

static struct vmem_qcache_stats
qcache_stats(vmem_t *vm, unsigned idx)
{
	struct vmem_qcache_stats st;

	memset(&st, 0, sizeof(st));
	st.version = VMEM_STATS_VERSION;
	cr_assert_eq(vmem_get_qcache_stats(vm, idx, &st), 0,
	    "vmem_get_qcache_stats(%u) failed", idx);
	return (st);
}

uint64_t
kvt_slabs(vmem_t *vm)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < vmem_qcache_count(vm); i++)
		n += qcache_stats(vm, i).slabs;
	return (n);
}

vmem_size_t
kvt_slab_size(vmem_t *vm, vmem_size_t size)
{
	vmem_size_t q = vmem_roundup_size(vm, 1);

	if (!kvt_cached(vm, size))
		return (0);
	return (qcache_stats(vm, (unsigned)((size - 1) / q)).slab_size);
}

vmem_size_t
kvt_import_size(vmem_t *vm, vmem_size_t size, vmem_size_t iq)
{
	vmem_size_t q = vmem_roundup_size(vm, 1);
	vmem_size_t need = vmem_roundup_size(vm, size);
	vmem_size_t slab = kvt_slab_size(vm, size), align = 1;

	if (slab != 0) {
		while (align < slab)
			align <<= 1;
		need = slab + (align - q);
	}
	if (iq == 0)
		iq = q;
	return ((need + iq - 1) / iq * iq);
}

/* ---- Arena observation ---------------------------------------------------------- */

static int
snap_cb(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct kvt_snap *s = arg;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->seg = realloc(s->seg, s->cap * sizeof(*s->seg));
		if (s->seg == NULL)
			abort();
	}
	s->seg[s->n++] = (struct kvt_seg){ addr, size, type };
	return (0);
}

void
kvt_snap_take(vmem_t *vm, struct kvt_snap *s)
{
	memset(s, 0, sizeof(*s));
	cr_assert_eq(vmem_walk(vm, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN,
	    snap_cb, s), 0, "vmem_walk failed");
	s->sz_alloc = vmem_size(vm, VMEM_ALLOC);
	s->sz_free = vmem_size(vm, VMEM_FREE);
	s->sz_total = vmem_size(vm, VMEM_ALLOC | VMEM_FREE);
	s->sz_max = vmem_size(vm, VMEM_MAXFREE);
}

int
kvt_snap_same(const struct kvt_snap *a, const struct kvt_snap *b)
{
	if (a->n != b->n || a->sz_alloc != b->sz_alloc ||
	    a->sz_free != b->sz_free || a->sz_total != b->sz_total ||
	    a->sz_max != b->sz_max)
		return (0);
	for (size_t i = 0; i < a->n; i++)
		if (a->seg[i].addr != b->seg[i].addr ||
		    a->seg[i].size != b->seg[i].size ||
		    a->seg[i].type != b->seg[i].type)
			return (0);
	return (1);
}

void
kvt_snap_free(struct kvt_snap *s)
{
	free(s->seg);
	memset(s, 0, sizeof(*s));
}

struct collect {
	struct kvt_seg	*out;
	size_t		max, n;
};

static int
collect_cb(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct collect *c = arg;

	if (c->n < c->max)
		c->out[c->n] = (struct kvt_seg){ addr, size, type };
	c->n++;
	return (0);
}

size_t
kvt_collect(vmem_t *vm, int mask, struct kvt_seg *out, size_t max)
{
	struct collect c = { out, max, 0 };

	cr_assert_eq(vmem_walk(vm, mask, collect_cb, &c), 0);
	return (c.n);
}

size_t
kvt_count(vmem_t *vm, int mask)
{
	return (kvt_collect(vm, mask, NULL, 0));
}

struct vmem_stats
kvt_stats(vmem_t *vm)
{
	struct vmem_stats st;

	memset(&st, 0, sizeof(st));
	st.version = VMEM_STATS_VERSION;
	cr_assert_eq(vmem_get_stats(vm, &st), 0, "vmem_get_stats failed");
	return (st);
}
