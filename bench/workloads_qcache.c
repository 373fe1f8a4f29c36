/*
 * workloads_qcache.c -- the vmem quantum caches: hit-path pairs for 1-8
 * quanta, 1 and 2 threads, producer/consumer, and the untimed measurements
 * of kvmem-bench --kb-stats (footprint, share served without the arena
 * lock).
 *
 * Setups: qc {quantum, qcache_max, arena size, base}: one arena, empty.
 *         pc {quantum, qcache_max, arena size, base, size}: the arena and a
 *            consumer thread that frees what the timed thread allocates.
 * Runs:   pair {size, flags}: vmem_alloc + vmem_free of one block; with a
 *            cache that is a magazine pop and push after the first call.
 *         pc {}: allocate n blocks, pass them through the ring, wait until
 *            all are freed.
 * kvmem_segment rows use the same arena with qcache_max 0: the segment
 * path (arena lock, boundary tags) for the same sizes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmem/vmem.h>

#include "bench.h"
#include "kb_pc.h"
#include "trace.h"

#define KB_BASE		0x100000000ULL
#define GiB		(1ULL << 30)
#define ARENA		(13 * GiB)

struct qc_state {
	vmem_t		*vm;
	struct kb_pc	*pc;
	vmem_size_t	size;		/* pc: the transfer size */
};

static vmem_t *
qc_create(const char *name, const uint64_t *p)
{
	vmem_t *vm = vmem_create(name, p[3], p[2], p[0], p[1], M_WAITOK);

	if (vm == NULL)
		kb_fail("vmem: vmem_create(%s) failed (errno %d)", name, errno);
	return vm;
}

static void *
qc_setup(const uint64_t *p)
{
	struct qc_state *s = kb_xcalloc(1, sizeof(*s));

	s->vm = qc_create("qc", p);
	return s;
}

static void
qc_pc_drain(void *ctx, const uintptr_t *items, uint32_t n)
{
	struct qc_state *s = ctx;
	vmem_t *vm = s->vm;
	vmem_size_t size = s->size;

	for (uint32_t i = 0; i < n; i++)
		vmem_free(vm, items[i], size);
}

static void *
qc_setup_pc(const uint64_t *p)
{
	struct qc_state *s = kb_xcalloc(1, sizeof(*s));

	s->vm = qc_create("pc", p);
	s->size = p[4];
	s->pc = kb_pc_create(qc_pc_drain, s);
	return s;
}

static void
qc_teardown(void *st)
{
	struct qc_state *s = st;

	kb_pc_destroy(s->pc);
	vmem_destroy(s->vm);
	free(s);
}

static void
qc_counters(void *st, kb_counter_fn *fn, void *arg)
{
	struct qc_state *s = st;
	struct vmem_stats vs;

	memset(&vs, 0, sizeof(vs));
	vs.version = VMEM_STATS_VERSION;
	if (vmem_get_stats(s->vm, &vs) != 0)
		return;
	fn(arg, "bytes_cached", (double)vs.bytes_cached);
	fn(arg, "bytes_inuse", (double)vs.bytes_inuse);
	fn(arg, "seg_allocs", (double)vs.allocs);
	if (s->pc != NULL && vmem_qcache_count(s->vm) > 0) {
		struct vmem_qcache_stats qs = { .version = VMEM_STATS_VERSION };
		unsigned idx = (unsigned)((s->size - 1) / vs.quantum);

		if (vmem_get_qcache_stats(s->vm, idx, &qs) == 0) {
			fn(arg, "slabs", (double)qs.slabs);
			fn(arg, "mag_size", (double)qs.mag_size);
		}
	}
}

static uint64_t
qc_run_pair(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct qc_state *s = st;
	vmem_t *vm = s->vm;
	vmem_size_t size = q[0];
	int flags = (int)q[1] | M_NOWAIT;
	vmem_addr_t a;

	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		if (KB_UNLIKELY(vmem_alloc(vm, size, flags, &a) != 0))
			kb_fail("vmem: vmem_alloc of %zu failed", (size_t)size);
		vmem_free(vm, a, size);
	}
	return n;
}

static uint64_t
qc_run_pc(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct qc_state *s = st;
	vmem_t *vm = s->vm;
	vmem_size_t size = s->size;
	vmem_addr_t a;

	(void)q;
	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		if (KB_UNLIKELY(vmem_alloc(vm, size, M_FIRSTFIT | M_NOWAIT, &a) != 0))
			kb_fail("vmem: producer vmem_alloc of %zu failed", (size_t)size);
		kb_pc_push(s->pc, a);
	}
	kb_pc_sync(s->pc);
	return n;
}

/* ---- Table --------------------------------------------------------------- */

#define U(...)		__VA_ARGS__
#define IF		M_FIRSTFIT
#define CORE		KB_CG_CORE
/* Arenas: quantum 64 or 4 KiB, caches of 1-8 quanta or none. */
#define QC64		(64, 8 * 64, ARENA, KB_BASE)
#define SEG64		(64, 0, ARENA, KB_BASE)
#define QC4K		(4096, 8 * 4096, ARENA, KB_BASE)
#define SEG4K		(4096, 0, ARENA, KB_BASE)

#define E(row, sw, val, impl, setup, run, ps, qs, batch, fl) \
	{ row, sw, val, impl, qc_setup##setup, qc_teardown, NULL, qc_run_##run, \
	  qc_counters, { U ps }, { U qs }, batch, 0, fl }

/* Sizes 1..8 quanta: the cached pair and the segment-path pair. */
#define QSIZE(row, val, q, qc, seg) \
	E(row, "quanta", #val, "kvmem_qcache", , pair, qc, (val * q, IF), 0, CORE), \
	E(row, "quanta", #val, "kvmem_segment", , pair, seg, (val * q, IF), 0, CORE)
#define QSIZES(row, q, qc, seg) \
	QSIZE(row, 1, q, qc, seg), QSIZE(row, 2, q, qc, seg), \
	QSIZE(row, 3, q, qc, seg), QSIZE(row, 4, q, qc, seg), \
	QSIZE(row, 5, q, qc, seg), QSIZE(row, 6, q, qc, seg), \
	QSIZE(row, 7, q, qc, seg), QSIZE(row, 8, q, qc, seg)

#define THR(n, impl, arena) \
	E("qc_threads", "threads", #n, impl, , pair, arena, (64, IF), 0, \
	  KB_REALTIME | KB_THREADS(n))

#define PC(row, impl, arena, size) \
	{ row, NULL, NULL, impl, qc_setup_pc, qc_teardown, NULL, qc_run_pc, \
	  qc_counters, { U arena, size }, { 0 }, 4096, 0, KB_REALTIME }

const struct kb_workload kb_qcache_workloads[] = {
	QSIZES("qcache_q64", 64, QC64, SEG64),
	QSIZES("qcache_q4K", 4096, QC4K, SEG4K),
	THR(1, "kvmem_qcache", QC64),
	THR(2, "kvmem_qcache", QC64),
	THR(1, "kvmem_segment", SEG64),
	THR(2, "kvmem_segment", SEG64),
	PC("pc_64B", "kvmem_qcache", QC64, 64),
	PC("pc_64B", "kvmem_segment", SEG64, 64),
	PC("pc_4KiB", "kvmem_qcache", QC4K, 4096),
	PC("pc_4KiB", "kvmem_segment", SEG4K, 4096),
	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, { 0 }, { 0 }, 0, 0, 0 }
};

/* ---- kvmem-bench --kb-stats ----------------------------------------------- */

/* Sums over every cache of an arena. */
struct qsum {
	uint64_t	hits, misses, slabs, slab_bytes, slab_imports, slab_releases;
	uint64_t	in_threads, in_depot, in_slabs, out;	/* bytes */
	uint64_t	mag_max;
};

static void
qsum_get(vmem_t *vm, struct qsum *q)
{
	memset(q, 0, sizeof(*q));
	for (unsigned k = 0; k < vmem_qcache_count(vm); k++) {
		struct vmem_qcache_stats qs = { .version = VMEM_STATS_VERSION };

		if (vmem_get_qcache_stats(vm, k, &qs) != 0)
			continue;
		q->hits += qs.hits;
		q->misses += qs.misses;
		q->slabs += qs.slabs;
		q->slab_bytes += qs.slabs * qs.slab_size;
		q->slab_imports += qs.slab_imports;
		q->slab_releases += qs.slab_releases;
		q->in_threads += qs.objs_in_threads * qs.objsize;
		q->in_depot += qs.objs_in_depot * qs.objsize;
		q->in_slabs += qs.objs_in_slabs * qs.objsize;
		q->out += qs.objs_out * qs.objsize;
		if (qs.mag_size > q->mag_max)
			q->mag_max = qs.mag_size;
	}
}

static double
mib(uint64_t b)
{
	return (double)b / (1024.0 * 1024.0);
}

static void
foot_line(const char *when, vmem_t *vm)
{
	struct vmem_stats vs;
	struct qsum q;

	memset(&vs, 0, sizeof(vs));
	vs.version = VMEM_STATS_VERSION;
	if (vmem_get_stats(vm, &vs) != 0)
		return;
	qsum_get(vm, &q);
	printf("  %-28s %10.2f %10.2f %7.1f%% %10.2f %8" PRIu64 " %9.2f %9.2f %9.2f\n",
	    when, mib(vs.bytes_inuse), mib(vs.bytes_cached),
	    vs.bytes_inuse ? 100.0 * (double)vs.bytes_cached / (double)vs.bytes_inuse : 0.0,
	    mib(vs.bytes_inuse + vs.bytes_cached), q.slabs, mib(q.in_threads),
	    mib(q.in_depot), mib(q.in_slabs));
}

/*
 * Footprint after churn: an arena of 4 KiB quanta caching 1-8 pages holds
 * 4000 blocks (80% of 1-8 pages, 20% of 9-64 pages) through 10^6 random
 * free+alloc steps; then the caches are drained, everything is freed, and
 * drained again.
 */
static int
report_footprint(void)
{
	const uint64_t p[4] = { 4096, 8 * 4096, 64 * GiB, KB_BASE };
	vmem_t *vm = qc_create("churn", p);
	enum { SLOTS = 4000, STEPS = 1000000 };
	vmem_addr_t *addr = kb_xcalloc(SLOTS, sizeof(*addr));
	vmem_size_t *size = kb_xcalloc(SLOTS, sizeof(*size));
	uint64_t rng = 0x5DEECE66DULL;

	for (uint64_t i = 0; i < SLOTS + STEPS; i++) {
		uint32_t k = i < SLOTS ? (uint32_t)i : kb_index(kb_rand(&rng), SLOTS);
		uint64_t r = kb_rand(&rng);

		if (i >= SLOTS)
			vmem_free(vm, addr[k], size[k]);
		size[k] = 4096 * (kb_index(r, 5) < 4 ? 1 + kb_index(r << 8, 8) :
		    9 + kb_index(r << 8, 56));
		if (vmem_alloc(vm, size[k], M_FIRSTFIT | M_NOWAIT, &addr[k]) != 0)
			kb_fail("vmem: churn alloc of %zu failed", (size_t)size[k]);
	}
	printf("footprint after churn (quantum 4 KiB, caches 1-8 pages; %d live blocks, "
	    "80%% 1-8 pages, 20%% 9-64; 10^6 free+alloc steps, 1 thread); MiB:\n", SLOTS);
	printf("  %-28s %10s %10s %8s %10s %8s %9s %9s %9s\n", "when", "in_use",
	    "cached", "cached/", "seg_busy", "slabs", "in_thread", "in_depot", "in_slabs");
	printf("  %-28s %10s %10s %8s %10s %8s %9s %9s %9s\n", "", "(callers)",
	    "(caches)", "in_use", "(arena)", "", "mags", "mags", "free");
	foot_line("after churn, live", vm);
	vmem_qcache_drain(vm);
	foot_line("  + vmem_qcache_drain", vm);
	for (uint32_t k = 0; k < SLOTS; k++)
		vmem_free(vm, addr[k], size[k]);
	foot_line("all freed", vm);
	vmem_qcache_drain(vm);
	foot_line("  + vmem_qcache_drain", vm);
	int bad = vmem_check(vm) != 0;
	vmem_destroy(vm);
	free(addr);
	free(size);
	printf("\n");
	return bad;
}

/* The share of allocations that never took the arena lock, per trace. */
static int
report_share(void)
{
	int bad = 0;

	printf("allocations served without the arena lock (trace replay, 3 passes in windows of 4096 events, "
	    "quantum caches of 1-16 quanta):\n");
	printf("  %-11s %3s %7s %9s %9s %8s %8s %9s %8s %8s %9s %9s\n", "trace", "thr",
	    "quantum", "allocs", "cached", "hit%", "misses", "seg_alloc", "slab_imp",
	    "nolock%", "nolock%", "cached:");
	printf("  %-11s %3s %7s %9s %9s %8s %8s %9s %8s %8s %9s %9s\n", "", "", "",
	    "", "sizes", "", "", "(arena)", "", "all", "cached", "seg calls");
	for (unsigned i = 0; kb_trace_names[i] != NULL; i++) {
		struct kb_share sh;

		if (kb_trace_qcache_share(kb_trace_names[i], 3, &sh) != 0) {
			printf("  %-11s (trace missing: run kvmem-tracegen --all %s)\n",
			    kb_trace_names[i], kb_trace_dir());
			bad = 1;
			continue;
		}
		/* Arena-lock allocations: every segment-layer allocation (the
		 * uncached sizes and the caches' slab imports). */
		uint64_t uncached = sh.allocs - sh.cached_allocs;
		printf("  %-11s %3u %7" PRIu64 " %9" PRIu64 " %9" PRIu64 " %7.3f%% %8" PRIu64
		    " %9" PRIu64 " %8" PRIu64 " %7.3f%% %8.4f%% %" PRIu64 ":%" PRIu64 "\n",
		    kb_trace_names[i], sh.threads, sh.quantum, sh.allocs, sh.cached_allocs,
		    sh.hits + sh.misses ? 100.0 * (double)sh.hits /
		    (double)(sh.hits + sh.misses) : 0.0, sh.misses, sh.seg_allocs,
		    sh.slab_imports,
		    sh.allocs ? 100.0 * (1.0 - (double)sh.seg_allocs / (double)sh.allocs) : 0.0,
		    sh.cached_allocs ? 100.0 * (1.0 - (double)sh.slab_imports /
		    (double)sh.cached_allocs) : 0.0, sh.cached_allocs,
		    sh.seg_allocs - uncached);
	}
	printf("  hit%% = hits / (hits + misses) of vmem_get_qcache_stats (misses count "
	    "alloc and free\n  visits to the depot or slab layer); seg_alloc = "
	    "stats.allocs, the allocations that took\n  the arena lock; nolock%% all = "
	    "1 - seg_alloc / allocs; cached = among sizes <= qcache_max,\n"
	    "  1 - slab imports / cached allocations; last column: cached allocations "
	    "and the\n  segment-layer allocations they caused.\n\n");
	return bad;
}

/*
 * Producer/consumer footprint: 10^6 transfers of 64 B through the ring on
 * a quantum-64 arena with caches, then the arena's numbers.
 */
static int
report_pc(void)
{
	const uint64_t p[5] = { 64, 8 * 64, ARENA, KB_BASE, 64 };
	struct qc_state *s = qc_setup_pc(p);
	struct vmem_stats vs;
	struct qsum q;
	enum { N = 1000000 };

	qc_run_pc(s, NULL, 0, N);
	memset(&vs, 0, sizeof(vs));
	vs.version = VMEM_STATS_VERSION;
	vmem_get_stats(s->vm, &vs);
	qsum_get(s->vm, &q);
	printf("producer/consumer (1 thread allocates 64 B, 1 frees, ring of %u; %d transfers):\n",
	    KB_PC_CAP, N);
	printf("  in use %" PRIu64 " B, cached %" PRIu64 " B (%.1f KiB), segment busy %"
	    PRIu64 " B, slabs %" PRIu64 " (%" PRIu64 " B), slab imports %" PRIu64
	    ", releases %" PRIu64 ",\n  hits %" PRIu64 ", misses %" PRIu64 " (%.2f%% hits),"
	    " largest magazine %" PRIu64 ", arena allocs %" PRIu64 "\n",
	    (uint64_t)vs.bytes_inuse, (uint64_t)vs.bytes_cached,
	    (double)vs.bytes_cached / 1024.0, (uint64_t)(vs.bytes_inuse + vs.bytes_cached),
	    q.slabs, q.slab_bytes, q.slab_imports, q.slab_releases, q.hits, q.misses,
	    q.hits + q.misses ? 100.0 * (double)q.hits / (double)(q.hits + q.misses) : 0.0,
	    q.mag_max, vs.allocs);
	qc_teardown(s);
	printf("\n");
	return 0;
}

int
kb_qcache_report(void)
{
	int bad = 0;

	bad |= report_footprint();
	bad |= report_share();
	bad |= report_pc();
	return bad;
}
