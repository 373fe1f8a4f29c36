/*
 * kvtest.h -- helpers shared by the Criterion suites: seeds and a PRNG,
 * a recording misuse handler, a watchdog, walk snapshots and the fini
 * check that every test destroyed what it created.
 */
#ifndef KVTEST_H
#define KVTEST_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmem/vmem.h>

/* ---- Seeds and random numbers ------------------------------------------- */

/*
 * The seed of this test process: KVMEM_SEED (decimal or 0x hex) when set,
 * else derived from the time and pid.  Stable for the life of the process;
 * logged once.  Put it in every failure message of a randomized test.
 */
uint64_t kvt_seed(void);

/* An environment variable as an unsigned number, or dflt when unset/bad. */
unsigned long long kvt_env_ull(const char *name, unsigned long long dflt);

struct kvt_rng {
	uint64_t	s[2];
};
void     kvt_rng_init(struct kvt_rng *r, uint64_t seed);
uint64_t kvt_next(struct kvt_rng *r);
/* Uniform in [0, n); n must be nonzero. */
uint64_t kvt_below(struct kvt_rng *r, uint64_t n);
/* Uniform in [lo, hi] (inclusive). */
uint64_t kvt_range(struct kvt_rng *r, uint64_t lo, uint64_t hi);
/* True with probability pct percent. */
int      kvt_chance(struct kvt_rng *r, unsigned pct);

/* ---- Misuse recording ----------------------------------------------------- */

/* Pass a zeroed log as the handler argument; the last report wins. */
struct kvt_misuse_log {
	int			count;
	enum vmem_misuse	kind;
	vmem_t			*vm;
	vmem_addr_t		addr;
	vmem_size_t		size;
	char			msg[512];
};
void kvt_misuse_record(void *arg, vmem_t *vm, enum vmem_misuse kind,
    vmem_addr_t addr, vmem_size_t size, const char *msg);

/* ---- Watchdog --------------------------------------------------------------- */

/*
 * Start a timer thread that prints "watchdog: <what> still running after N s"
 * and aborts the process unless kvt_watchdog_stop() is called first.  One
 * watchdog per process.  (It is a thread: tests using it belong to the
 * 'threads' suite.)
 */
void kvt_watchdog_start(unsigned seconds, const char *what);
void kvt_watchdog_stop(void);

/* ---- Fixtures ----------------------------------------------------------------- */

/* Suite .fini: every arena created by the test has been destroyed. */
void kvt_fini_no_live(void);

/* ---- Quantum-cache parameterization --------------------------------------------- */

/*
 * The vmem suites run twice (their meson.build registers a "_qc" copy;
 * not the quantum-cache suites, whose arenas ask for their own caches):
 * once as written, and once with KVMEM_TEST_QCACHE=N (1..16) in the
 * environment, where every arena a test creates through kvt_vmem_create()
 * or kvt_vmem_init() with qcache_max 0 gets quantum caches for sizes up to
 * N quanta.  KVMEM_TEST_QCACHE_DEBUG=1 adds VMEM_QCACHE_DEBUG to those
 * arenas.  Arenas created with a nonzero qcache_max are left as asked.
 * A test that must see the segment layer alone calls vmem_create()
 * directly, with a comment saying why (keep those few).
 */

/* The N of KVMEM_TEST_QCACHE (0: caches off, the default). */
unsigned kvt_qcache_quanta(void);
/* As vmem_create()/vmem_init(), with the caches of the current mode. */
vmem_t *kvt_vmem_create(const char *name, vmem_addr_t base, vmem_size_t size,
    vmem_size_t quantum, vmem_size_t qcache_max, int flags);
vmem_t *kvt_vmem_init(vmem_t *vm, const char *name, vmem_addr_t base,
    vmem_size_t size, vmem_size_t quantum, vmem_size_t qcache_max, int flags);
/*
 * Nonzero if vmem_alloc()/vmem_free() of size on vm go through a quantum
 * cache (and so bypass fit strategies, exact placement and the segment
 * layer's immediate misuse checks).  vmem_xalloc/vmem_xfree never do.
 */
int kvt_cached(vmem_t *vm, vmem_size_t size);
/* Slabs the caches of vm hold now (segments of the arena), summed. */
uint64_t kvt_slabs(vmem_t *vm);
/* Slab size of the cache serving size on vm, or 0 when size is not cached. */
vmem_size_t kvt_slab_size(vmem_t *vm, vmem_size_t size);
/*
 * The size a plain import (vmem_set_import, import quantum iq, 0 meaning
 * the quantum) is asked for when vmem_alloc(size) misses on vm: size
 * rounded up; for a cached size, its cache's slab (aligned to the power of
 * two at or above its size) plus room for that alignment.  Rounded to iq.
 */
vmem_size_t kvt_import_size(vmem_t *vm, vmem_size_t size, vmem_size_t iq);

/* ---- Arena observation ---------------------------------------------------------- */

struct kvt_seg {
	vmem_addr_t	addr;
	vmem_size_t	size;
	int		type;
};
/* Every span and segment (walk with all types) plus the vmem_size figures. */
struct kvt_snap {
	struct kvt_seg	*seg;
	size_t		n, cap;
	vmem_size_t	sz_alloc, sz_free, sz_total, sz_max;
};
void kvt_snap_take(vmem_t *vm, struct kvt_snap *s);
int  kvt_snap_same(const struct kvt_snap *a, const struct kvt_snap *b);
void kvt_snap_free(struct kvt_snap *s);

/* Number of walked entries of the types in mask. */
size_t kvt_count(vmem_t *vm, int mask);
/* Collect up to max walked entries of mask into out; returns the count seen. */
size_t kvt_collect(vmem_t *vm, int mask, struct kvt_seg *out, size_t max);
/* vmem_get_stats() that must succeed. */
struct vmem_stats kvt_stats(vmem_t *vm);

#define KVT_X	"0x%" PRIxPTR
#define KVT_Z	"%zu"

#endif /* KVTEST_H */
