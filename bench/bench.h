/*
 * bench.h -- the C side of the kvmem benchmark suite.
 *
 * Workloads are written in C as entries of constant tables (one table per
 * workloads_*.c file).  The C++ shim (shim.cc) registers every entry with
 * Google Benchmark, calls run() in batches inside the timed loop, and also
 * offers an instruction-count mode for callgrind.
 *
 * Naming: an entry is shown as "row[/sweep:value]/impl".  Entries with the
 * same row (and sweep value) measure the same thing with different
 * allocators ("impl"); entries of one row and sweep with different values
 * form a sweep (e.g. the number of free segments).  The report compares
 * impls within a row and values within a sweep.
 *
 * State: setup(p) builds the state a workload runs on.  Entries whose setup
 * function and p[] are equal share one state, and the shim keeps the most
 * recent state alive between calls, so expensive setups (10^6 segments) are
 * not redone for every iteration-count probe.  A run must therefore leave
 * the state as it found it, or in an equivalent steady state.
 */
#ifndef KVMEM_BENCH_H
#define KVMEM_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KB_NP	7	/* parameters per workload for setup and for run */

typedef void kb_counter_fn(void *arg, const char *name, double value);

/* Entry flags. */
#define KB_FULL		0x1	/* registered only with --kb-full */
#define KB_CG_CORE	0x2	/* in the default callgrind list */
#define KB_REALTIME	0x4	/* report wall-clock time (threaded rows) */
/*
 * KB_THREADS(n), n >= 1: registered with Google Benchmark's Threads(n);
 * thread 0 sets the state up before the start barrier and every thread
 * calls run() on it with its index and the same n.  Threaded entries have
 * no prepare() step.  Without it: a plain single-threaded benchmark.
 */
#define KB_THREADS(n)	((uint32_t)(n) << 8)
#define KB_NTHREADS(fl)	(((fl) >> 8) & 0xffu)

struct kb_workload {
	const char	*row;		/* what is measured: "frag_nofit" */
	const char	*sweep;		/* swept parameter ("holes") or NULL */
	const char	*value;		/* its value ("1000") or NULL */
	const char	*impl;		/* allocator: "kvmem_instant", "glibc" */
	/* Build the state from p[]; NULL after printing why to stderr. */
	void		*(*setup)(const uint64_t *p);
	/* Release everything setup() and runs created. */
	void		(*teardown)(void *st);
	/*
	 * Optional, untimed: get ready for a batch of n operations (e.g.
	 * restore what the previous batch consumed, choose victims).  With a
	 * prepare function the shim times each run() call itself (monotonic
	 * clock, reported as real_time), so prepare stays out of the figures.
	 * prepare(st, q, 0) must bring the state back to the shape setup()
	 * gave it (the shim calls it after each timed run, because another
	 * workload may share the state).
	 */
	void		(*prepare)(void *st, const uint64_t *q, uint64_t n);
	/*
	 * Timed: do exactly n operations with run parameters q[] as thread
	 * tid (0 .. threads-1; every thread runs the same n).  Returns n; on
	 * an allocator failure it reports and exits through kb_fail().
	 */
	uint64_t	(*run)(void *st, const uint64_t *q, unsigned tid, uint64_t n);
	/*
	 * Optional: report state counters (segments, hash size).  A counter
	 * named "pages_op" (pages allocated per operation) also makes the
	 * shim report "ns_page", the row's time per page (computed by Google
	 * Benchmark from the same clock as the row's time), and is printed
	 * in callgrind mode so the script can give instructions per page.
	 */
	void		(*counters)(void *st, kb_counter_fn *fn, void *arg);
	uint64_t	p[KB_NP];	/* setup parameters */
	uint64_t	q[KB_NP];	/* run parameters */
	uint32_t	batch;		/* most ops per timed batch; 0: 256 */
	uint32_t	cg_ops;		/* ops counted in callgrind mode; 0: 100000 */
	uint32_t	flags;		/* KB_* and KB_THREADS(n) */
};

/* The tables, each ended by an entry whose row is NULL. */
extern const struct kb_workload kb_vmem_workloads[];
extern const struct kb_workload kb_baseline_workloads[];
extern const struct kb_workload kb_malloc_workloads[];
extern const struct kb_workload kb_qcache_workloads[];
extern const struct kb_workload kb_trace_workloads[];
extern const struct kb_workload kb_kmem_workloads[];
#ifdef KB_HAVE_JEMALLOC
extern const struct kb_workload kb_jemalloc_workloads[];
#endif
/* Binaries built around another malloc (mimalloc, tcmalloc) have only this. */
extern const struct kb_workload kb_sysmalloc_workloads[];

/*
 * kvmem-bench --kb-stats: the untimed quantum-cache measurements
 * (footprint after churn and drain, share of allocations served without
 * the arena lock, producer/consumer footprint), printed to stdout.
 * Returns 0, or 1 if a measurement could not be made.
 */
int kb_qcache_report(void);

#ifdef __cplusplus
#define KB_NORETURN [[noreturn]]
#else
#define KB_NORETURN _Noreturn
#endif

/* IDs in the ID-allocator rows (vmem arena [1, N], bitmap [0, N)). */
#define KB_ID_CAPACITY	1100000u

/* Report a failed operation inside a workload and exit(2). */
KB_NORETURN void kb_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), cold))
#endif
    ;

/* Keep the compiler from eliding an allocation whose result is unused. */
#define KB_ESCAPE(v)	__asm__ __volatile__("" : : "g"(v) : "memory")
#define KB_UNLIKELY(x)	__builtin_expect(!!(x), 0)

/* ---- Deterministic random streams shared by every allocator ------------ */

/* xorshift64*: fast and good enough to pick sizes and victims. */
static inline uint64_t
kb_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* A uniform index in [0, n) from a 64-bit random value (n < 2^32). */
static inline uint32_t
kb_index(uint64_t r, uint32_t n)
{
	return (uint32_t)(((r >> 32) * (uint64_t)n) >> 32);
}

/*
 * Precomputed streams so that every allocator sees the same sequence and
 * the timed loop pays two loads per op instead of RNG work.
 * kb_churn_size(i): log-uniform sizes from 16 B to just under 64 KiB,
 * multiples of 16.  kb_churn_pick(i, n): an index in [0, n).
 */
#define KB_STREAM_LEN	65536u
extern uint32_t kb_stream_sizes[KB_STREAM_LEN];
extern uint32_t kb_stream_picks[KB_STREAM_LEN];
void kb_streams_init(void);	/* idempotent; called by the shim first */

static inline uint32_t
kb_churn_size(uint64_t i)
{
	return kb_stream_sizes[i & (KB_STREAM_LEN - 1)];
}

static inline uint32_t
kb_churn_pick(uint64_t i, uint32_t n)
{
	return (uint32_t)(((uint64_t)kb_stream_picks[i & (KB_STREAM_LEN - 1)] *
	    n) >> 32);
}

/*
 * Victims for free-path workloads: batches of distinct random indices in
 * [0, n), drawn from a permutation that is reshuffled when used up, so every
 * live block is freed equally often.
 */
struct kb_victims {
	uint32_t	*perm;
	uint32_t	*pick;		/* the current batch */
	uint32_t	n;
	uint32_t	pos;
	uint32_t	npick;		/* size of the current batch; 0: none */
	uint64_t	rng;
};

void kb_victims_init(struct kb_victims *v, uint32_t n);
void kb_victims_fini(struct kb_victims *v);
/* Choose k (<= n) distinct indices into v->pick[0..k). */
void kb_victims_choose(struct kb_victims *v, uint32_t k);

/* Allocate or exit through kb_fail(); zeroed. */
void *kb_xcalloc(size_t n, size_t size);

/* Version strings for the report header. */
const char *kb_c_compiler(void);

/*
 * Where the traces (NAME.csv) are: --kb-trace-dir, else $KB_TRACE_DIR, else
 * the build directory's bench/traces (compiled in).
 */
const char *kb_trace_dir(void);
void kb_set_trace_dir(const char *dir);

/* Spin-wait helpers: a CPU pause, and a back-off that yields, then sleeps. */
static inline void
kb_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}
/* Call with an increasing spin count; pauses, then yields, then naps. */
void kb_backoff(uint32_t spins);
/* The same, never napping longer than 20 us (for waits on a busy peer). */
void kb_backoff_short(uint32_t spins);

#ifdef __cplusplus
}
#endif

#endif /* KVMEM_BENCH_H */
