/*
 * trace.h -- allocation traces: the loader and the replay engine.
 *
 * A trace is a CSV file (format in bench/README.md, written by
 * kvmem-tracegen): one event per line, an allocation of a size or the free
 * of an earlier allocation (by its event index), each done by a numbered
 * thread.  Traces are closed (every allocation is freed before the end), so
 * a replay can loop over a trace as long as the benchmark wants.
 *
 * A backend supplies ALLOC(ctx, size) -> address (0 on failure) and
 * FREE(ctx, address, size); KB_TRACE_BACKEND() generates the replay loop
 * for it, so the timed loop calls the allocator directly.  One operation of
 * a trace row is one event.  A trace with T > 1 threads is replayed by T
 * threads (the timed one and T - 1 helpers), each doing its own events in
 * trace order; a free of another thread's allocation waits until that
 * allocation has been made.  Events are handed out in windows that never
 * span the end of the trace, with a barrier between windows (idle helpers
 * sleep on a futex, so a window starts without a scheduling delay).
 */
#ifndef KVMEM_BENCH_TRACE_H
#define KVMEM_BENCH_TRACE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"
#include "kb_pc.h"

#define KB_TRACE_MAXT	16		/* threads a trace may use */
#define KB_TRACE_NONE	UINT32_MAX	/* ref of an allocation */

/* One event: an allocation (ref NONE) or the free of event ref. */
struct kb_ev {
	uint32_t	size;		/* bytes (a free: those of its alloc) */
	uint32_t	ref;
};

struct kb_trace {
	char		name[64];
	uint32_t	n;		/* events */
	uint32_t	nthreads;
	uint64_t	quantum;	/* "# quantum" hint for arena backends */
	struct kb_ev	*ev;
	uint8_t		*thread;	/* per event */
	uint32_t	*freed_at;	/* per allocation: its free's index */
	uint64_t	nallocs;
	uint64_t	peak_live_bytes;
};

/*
 * The names of the standard traces (those `kvmem-tracegen --all` writes),
 * indexed by a setup's p[0].  NULL-terminated.
 */
extern const char *const kb_trace_names[];

/* Parse and validate a trace file.  0, or -1 after printing why. */
int  kb_trace_load(struct kb_trace *t, const char *path);
void kb_trace_free(struct kb_trace *t);

struct kb_replay;
typedef void kb_window_fn(struct kb_replay *r, unsigned tid, uint32_t lo,
    uint32_t hi, uint32_t pass);

struct kb_replay {
	struct kb_trace	t;
	uintptr_t	*addr;		/* per event: what its allocation got */
	_Atomic uint32_t *done;		/* per event: pass in which it was allocated */
	uint32_t	cursor;		/* next event */
	uint32_t	pass;		/* 1, 2, ...: loops over the trace */
	void		*bst;		/* the backend's state */
	kb_window_fn	*window;	/* the backend's generated loop */
	/* Helpers (nthreads > 1). */
	unsigned	nhelpers;
	pthread_t	helper[KB_TRACE_MAXT];
	_Alignas(64) _Atomic uint32_t gen;	/* bumped per window (futex) */
	_Alignas(64) _Atomic uint32_t ndone;	/* helpers done with it (futex) */
	_Atomic int	stop;
	uint32_t	lo, hi, wpass;		/* the current window */
};

/*
 * Load trace `name` from the trace directory and prepare to replay it with
 * window (helpers started for multi-thread traces).  NULL after printing
 * why (missing file: run kvmem-tracegen --all DIR).
 */
struct kb_replay *kb_replay_open(const char *name, kb_window_fn *window, void *bst);
/* Replay the next n events (wrapping around the trace). */
void kb_replay_run(struct kb_replay *r, uint64_t n);
/*
 * Stop the helpers and call free_live(bst, addr, size) for every
 * allocation of the current pass not yet freed; then free r.
 */
void kb_replay_close(struct kb_replay *r,
    void (*free_live)(void *bst, uintptr_t addr, uint32_t size));

/* Wait until allocation `ref` of this pass has been made by its thread. */
static inline void
kb_replay_wait(struct kb_replay *r, uint32_t ref, uint32_t pass)
{
	uint32_t spins = 0;

	while (atomic_load_explicit(&r->done[ref], memory_order_acquire) != pass)
		kb_backoff_short(spins++);
}

/*
 * KB_TRACE_BACKEND(tag, CTX, ALLOC, FREE) defines tag##_window for
 * kb_replay_open(): CTX is the backend state type, ALLOC(ctx, size) returns
 * a uintptr_t (0: failure), FREE(ctx, addr, size) frees.
 */
#define KB_TRACE_BACKEND(tag, CTX, ALLOC, FREE)				\
static void								\
tag##_window(struct kb_replay *r, unsigned tid, uint32_t lo, uint32_t hi, \
    uint32_t pass)							\
{									\
	CTX *ctx = r->bst;						\
	const struct kb_ev *ev = r->t.ev;				\
	uintptr_t *addr = r->addr;					\
									\
	if (r->t.nthreads == 1) {					\
		for (uint32_t i = lo; i < hi; i++) {			\
			uint32_t sz = ev[i].size, ref = ev[i].ref;	\
									\
			if (ref == KB_TRACE_NONE) {			\
				uintptr_t a = ALLOC(ctx, sz);		\
									\
				if (KB_UNLIKELY(a == 0))		\
					kb_fail(#tag ": trace %s: allocation " \
					    "of %u failed at event %u",	\
					    r->t.name, sz, i);		\
				addr[i] = a;				\
			} else {					\
				FREE(ctx, addr[ref], sz);		\
			}						\
		}							\
		return;							\
	}								\
	const uint8_t *th = r->t.thread;				\
	for (uint32_t i = lo; i < hi; i++) {				\
		if (th[i] != tid)					\
			continue;					\
		uint32_t sz = ev[i].size, ref = ev[i].ref;		\
									\
		if (ref == KB_TRACE_NONE) {				\
			uintptr_t a = ALLOC(ctx, sz);			\
									\
			if (KB_UNLIKELY(a == 0))			\
				kb_fail(#tag ": trace %s: allocation of %u " \
				    "failed at event %u", r->t.name, sz, i); \
			addr[i] = a;					\
			atomic_store_explicit(&r->done[i], pass,	\
			    memory_order_release);			\
		} else {						\
			if (th[ref] != tid)				\
				kb_replay_wait(r, ref, pass);		\
			FREE(ctx, addr[ref], sz);			\
		}							\
	}								\
}

/*
 * KB_MALLOC_TRACE(tag, ALLOC, FREE), for malloc-like ALLOC(size, flags) and
 * FREE(ptr, size, flags): tag##_setup_trace (p[0]: index into
 * kb_trace_names), tag##_teardown_trace and tag##_run_trace.
 */
#define KB_MALLOC_TRACE(tag, ALLOC, FREE)				\
static inline uintptr_t							\
tag##_talloc(void *ctx, uint32_t size)					\
{									\
	(void)ctx;							\
	return (uintptr_t)ALLOC((size_t)size, 0);			\
}									\
									\
static inline void							\
tag##_tfree(void *ctx, uintptr_t a, uint32_t size)			\
{									\
	(void)ctx;							\
	(void)size;							\
	FREE((void *)a, (size_t)size, 0);				\
}									\
									\
KB_TRACE_BACKEND(tag, void, tag##_talloc, tag##_tfree)			\
									\
static void *								\
tag##_setup_trace(const uint64_t *p)					\
{									\
	return kb_replay_open(kb_trace_names[p[0]], tag##_window, NULL); \
}									\
									\
static void								\
tag##_teardown_trace(void *st)						\
{									\
	kb_replay_close(st, tag##_tfree);				\
}									\
									\
static uint64_t								\
tag##_run_trace(void *st, const uint64_t *q, unsigned tid, uint64_t n)	\
{									\
	(void)q;							\
	(void)tid;							\
	kb_replay_run(st, n);						\
	return n;							\
}

/*
 * Trace rows: one per standard trace; the multi-thread traces are timed
 * on the wall clock in windows of 4096 events.
 */
#define KB_TRACE_ROW1(row, idx, impl, setup, teardown, run, cg) \
	{ row, NULL, NULL, impl, setup, teardown, NULL, run, NULL, \
	  { idx }, { 0 }, 0, cg, KB_CG_CORE }
#define KB_TRACE_ROWN(row, idx, impl, setup, teardown, run) \
	{ row, NULL, NULL, impl, setup, teardown, NULL, run, NULL, \
	  { idx }, { 0 }, 4096, 0, KB_REALTIME }
#define KB_TRACE_ROWS(impl, tag) \
	KB_TRACE_ROW1("trace_small", 0, impl, tag##_setup_trace, \
	    tag##_teardown_trace, tag##_run_trace, 0), \
	KB_TRACE_ROW1("trace_pages", 1, impl, tag##_setup_trace, \
	    tag##_teardown_trace, tag##_run_trace, 0), \
	KB_TRACE_ROWN("trace_mixed2t", 2, impl, tag##_setup_trace, \
	    tag##_teardown_trace, tag##_run_trace), \
	KB_TRACE_ROWN("trace_prodcons2t", 3, impl, tag##_setup_trace, \
	    tag##_teardown_trace, tag##_run_trace)

/* What the quantum caches did over a replay (kvmem-bench --kb-stats). */
struct kb_share {
	unsigned	threads;
	uint64_t	quantum, qcache_max;
	uint64_t	events, allocs;		/* replayed */
	uint64_t	cached_allocs;		/* of sizes <= qcache_max */
	uint64_t	hits, misses;		/* summed over the caches */
	uint64_t	seg_allocs, seg_frees;	/* segment layer (arena lock) */
	uint64_t	slab_imports, slab_releases;
	uint64_t	bytes_cached, bytes_inuse;	/* at the end, before closing */
};
/* Replay trace `name` `passes` times on a quantum-cached arena.  0 or -1. */
int kb_trace_qcache_share(const char *name, unsigned passes, struct kb_share *out);

#endif /* KVMEM_BENCH_TRACE_H */
