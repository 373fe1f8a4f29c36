/*
 * kreplay.h -- replaying a trace, one event at a time in file order, into a
 * kvmem arena or the host malloc (kvmem-trace replay, kvmem-picture --trace).
 */
#ifndef KVMEM_TOOLS_KREPLAY_H
#define KVMEM_TOOLS_KREPLAY_H

#include <stdint.h>

#include <kvmem/vmem.h>

#include "ktrace.h"

enum kr_backend { KR_VMEM, KR_VMEM_QCACHE, KR_MALLOC };

struct kr_cfg {
	enum kr_backend	backend;
	uint64_t	quantum;	/* 0: the trace's */
	uint64_t	qcache_max;	/* vmem-qcache: 0 means 8 quanta */
	uint64_t	import_quantum;	/* 0: max(64 KiB, 16 quanta) */
	int		fit;		/* M_FIRSTFIT, M_BESTFIT or M_NEXTFIT */
	int		measure;	/* track peaks after every event */
};

/* The arena imports from a source arena covering [KR_SRC_BASE, +KR_SRC_SIZE). */
#define KR_SRC_BASE	((vmem_addr_t)1 << 32)
#define KR_SRC_SIZE	((vmem_size_t)1 << 44)

/* Segment counts are sampled at about this many points of a replay. */
#define KR_SEG_SAMPLES	2048

struct kr {
	struct kr_cfg	cfg;
	const struct kt_trace *t;
	vmem_t		*src, *vm;
	uintptr_t	*addr;		/* per event: what its allocation got (0: failed) */
	uint32_t	next;		/* next event to replay */
	/* Counters (exact, deterministic for the arena backends). */
	uint64_t	allocs, frees, fails;
	uint64_t	live_req, peak_req;	/* requested bytes live */
	uint64_t	peak_inuse;		/* arena VMEM_ALLOC */
	uint64_t	peak_total;		/* arena ALLOC|FREE (spans) */
	uint64_t	peak_segs;		/* busy + free segments (sampled) */
	uint64_t	peak_spans;		/* (sampled) */
	uint32_t	seg_stride, seg_tick;	/* segments: every seg_stride events */
};

/* Set up a replay of t.  0, or -1 after printing why to stderr. */
int  kr_open(struct kr *r, const struct kr_cfg *cfg, const struct kt_trace *t);
/* Replay events up to (not including) event `end`. */
void kr_run(struct kr *r, uint32_t end);
/* Free what is still live and tear the arenas down. */
void kr_close(struct kr *r);
const char *kr_backend_name(enum kr_backend b);

#endif /* KVMEM_TOOLS_KREPLAY_H */
