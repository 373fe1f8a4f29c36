/*
 * test_qcache.c -- quantum caches: which sizes they serve, slabs, the
 * truth of vmem_size and the stats, drains, misuse of cached sizes, and
 * teardown.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(qcache, .fini = kvt_fini_no_live);

#define Q	4096

static struct vmem_qcache_stats
qstats(vmem_t *vm, unsigned idx)
{
	struct vmem_qcache_stats st = { .version = VMEM_STATS_VERSION };
	cr_assert_eq(vmem_get_qcache_stats(vm, idx, &st), 0);
	return st;
}

Test(qcache, count_and_cap)
{
	vmem_t *vm = vmem_create("cap", Q, 1024 * Q, Q, 8 * Q, M_WAITOK);
	cr_assert_eq(vmem_qcache_count(vm), 8);
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.qcache_max, 8 * Q);
	vmem_destroy(vm);

	/* qcache_max is capped at 16 quanta, and rounded down to a quantum. */
	vm = vmem_create("cap2", Q, 1024 * Q, Q, 100 * Q + 5, M_WAITOK);
	cr_assert_eq(vmem_qcache_count(vm), 16);
	cr_assert_eq(kvt_stats(vm).qcache_max, 16 * Q);
	struct vmem_qcache_stats qs = { .version = VMEM_STATS_VERSION };
	cr_assert_eq(vmem_get_qcache_stats(vm, 16, &qs), EINVAL);
	qs.version = 99;
	cr_assert_eq(vmem_get_qcache_stats(vm, 0, &qs), EINVAL);
	vmem_destroy(vm);

	vm = vmem_create("none", Q, 1024 * Q, Q, 0, M_WAITOK);
	cr_assert_eq(vmem_qcache_count(vm), 0);
	vmem_destroy(vm);
}

Test(qcache, cached_sizes_come_from_slabs)
{
	vmem_t *vm = vmem_create("slabs", Q, 4096 * Q, Q, 4 * Q, M_WAITOK);
	vmem_addr_t a[64];

	for (int i = 0; i < 64; i++) {
		cr_assert_eq(vmem_alloc(vm, 3 * Q - 7, M_NOWAIT, &a[i]), 0);
		cr_assert_eq(a[i] % Q, 0);
		for (int j = 0; j < i; j++)
			cr_assert(a[i] + 3 * Q <= a[j] || a[j] + 3 * Q <= a[i],
			    "objects %d and %d overlap", i, j);
	}
	/* Bytes handed out are exactly the callers' (rounded) bytes. */
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 64 * 3 * Q);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC) + vmem_size(vm, VMEM_FREE),
	    4096 * Q);
	struct vmem_qcache_stats qs = qstats(vm, 2);
	cr_assert_eq(qs.objsize, 3 * Q);
	cr_assert_gt(qs.slabs, 0);
	/* A slab holds at least 3 * qcache_max bytes of objects... */
	cr_assert_geq(qs.slab_size, 3 * 4 * Q);
	/* ...so the arena sees whole slabs, not objects. */
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.busy_segs, qs.slabs);
	cr_assert_eq(qs.objs_out, 64);
	cr_assert_eq(vmem_check(vm), 0);

	for (int i = 0; i < 64; i++)
		vmem_free(vm, a[i], 3 * Q - 7);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	st = kvt_stats(vm);
	cr_assert_gt(st.bytes_cached, 0, "freed objects stay cached");
	cr_assert_eq(st.bytes_inuse, 0);
	cr_assert_eq(vmem_check(vm), 0);

	/* A drain gives every slab back. */
	vmem_qcache_drain(vm);
	st = kvt_stats(vm);
	cr_assert_eq(st.bytes_cached, 0);
	cr_assert_eq(st.busy_segs, 0);
	cr_assert_eq(st.free_segs, 1);
	qs = qstats(vm, 2);
	cr_assert_eq(qs.slabs, 0);
	cr_assert_eq(qs.slab_releases, qs.slab_imports);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(qcache, xalloc_and_big_sizes_bypass_the_cache)
{
	vmem_t *vm = vmem_create("bypass", Q, 1024 * Q, Q, 4 * Q, M_WAITOK);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_xalloc(vm, 2 * Q, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_BESTFIT | M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 5 * Q, M_BESTFIT | M_NOWAIT, &b), 0);
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.busy_segs, 2, "segment layer serves both");
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(qstats(vm, i).slabs, 0);
	/* The first fit from the bottom: nothing cached came before them. */
	cr_assert_eq(a, Q);
	cr_assert_eq(b, 3 * Q);
	vmem_xfree(vm, a, 2 * Q);
	vmem_free(vm, b, 5 * Q);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(qcache, hits_after_warmup)
{
	vmem_t *vm = vmem_create("hits", Q, 1024 * Q, Q, 2 * Q, M_WAITOK);
	vmem_addr_t a;

	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &a), 0);
		vmem_free(vm, a, Q);
	}
	struct vmem_qcache_stats qs = qstats(vm, 0);
	cr_assert_geq(qs.hits, 990, "hits %" PRIu64, qs.hits);
	cr_assert_leq(qs.misses, 10, "misses %" PRIu64, qs.misses);
	cr_assert_eq(qs.threads, 1);
	vmem_destroy(vm);
}

/* An arena full of cached objects: a big request drains them and succeeds. */
Test(qcache, drained_before_failing)
{
	vmem_t *vm = vmem_create("drain", 0, 256 * Q, Q, 4 * Q, M_WAITOK);
	vmem_addr_t a[256], big;
	int n = 0;

	while (n < 256 && vmem_alloc(vm, Q, M_NOWAIT, &a[n]) == 0)
		n++;
	cr_assert_gt(n, 200, "only %d objects fitted", n);
	for (int i = 0; i < n; i++)
		vmem_free(vm, a[i], Q);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	/* Everything is cached: the segment layer alone could not serve 128 Q. */
	cr_assert_gt(kvt_stats(vm).bytes_cached, 128 * Q);
	cr_assert_eq(vmem_alloc(vm, 128 * Q, M_NOWAIT, &big), 0);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_free(vm, big, 128 * Q);
	vmem_destroy(vm);
}

/* The reclaim callback runs after the caches were drained and did not help. */
static int reclaim_calls;
static void
reclaim_cb(vmem_t *vm, int flags)
{
	(void)vm;
	(void)flags;
	reclaim_calls++;
}

Test(qcache, drain_then_reclaim_then_enomem)
{
	vmem_t *vm = vmem_create("reclaim", 0, 64 * Q, Q, 2 * Q, M_WAITOK);
	vmem_addr_t a, b;

	vmem_set_reclaim(vm, reclaim_cb);
	reclaim_calls = 0;
	cr_assert_eq(vmem_alloc(vm, 60 * Q, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 8 * Q, M_NOWAIT, &b), ENOMEM);
	cr_assert_eq(reclaim_calls, 1);
	cr_assert_eq(vmem_alloc(vm, 8 * Q, M_NOWAIT | M_NORECLAIM, &b), ENOMEM);
	cr_assert_eq(reclaim_calls, 1);
	vmem_free(vm, a, 60 * Q);
	vmem_destroy(vm);
}

/* Double free of a cached size: caught when the magazines are flushed. */
Test(qcache, double_free_found_at_flush)
{
	struct kvt_misuse_log log;
	memset(&log, 0, sizeof(log));
	vmem_t *vm = vmem_create("dbl", Q, 1024 * Q, Q, 4 * Q, M_WAITOK);
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	vmem_addr_t a, keep;

	cr_assert_eq(vmem_alloc(vm, 2 * Q, M_NOWAIT, &keep), 0);
	cr_assert_eq(vmem_alloc(vm, 2 * Q, M_NOWAIT, &a), 0);
	vmem_free(vm, a, 2 * Q);
	vmem_free(vm, a, 2 * Q);		/* the bug */
	vmem_qcache_drain(vm);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VMEM_MISUSE_DOUBLE_FREE);
	cr_assert_eq(log.addr, a);
	cr_assert_eq(log.size, 2 * Q);
	cr_assert(strstr(log.msg, "'dbl'") != NULL, "%s", log.msg);
	cr_assert(strstr(log.msg, "double free") != NULL, "%s", log.msg);
	cr_assert_eq(vmem_check(vm), 0);
	/* Nothing was lost: the object still allocated is accounted for. */
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 2 * Q);
	vmem_free(vm, keep, 2 * Q);
	vmem_destroy(vm);
}

/* A cached-size free of an address the cache never handed out. */
Test(qcache, unknown_free_found_at_flush)
{
	struct kvt_misuse_log log;
	memset(&log, 0, sizeof(log));
	vmem_t *vm = vmem_create("unk", Q, 1024 * Q, Q, 4 * Q, M_WAITOK);
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	vmem_addr_t x;

	/* From the segment layer, freed through the cache: a misuse. */
	cr_assert_eq(vmem_xalloc(vm, Q, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT, &x), 0);
	vmem_free(vm, x, Q);
	vmem_qcache_drain(vm);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VMEM_MISUSE_UNKNOWN_FREE);
	cr_assert_eq(log.addr, x);
	cr_assert_eq(vmem_check(vm), 0);
	/* The segment is still busy: free it the right way. */
	vmem_xfree(vm, x, Q);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	vmem_destroy(vm);
}

/* Debug mode: the double free is caught at the free itself. */
Test(qcache, debug_mode_catches_double_free_at_free)
{
	struct kvt_misuse_log log;
	memset(&log, 0, sizeof(log));
	vmem_t *vm = vmem_create("dbg", Q, 1024 * Q, Q, 4 * Q,
	    M_WAITOK | VMEM_QCACHE_DEBUG);
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &b), 0);
	vmem_free(vm, a, Q);
	cr_assert_eq(log.count, 0);
	vmem_free(vm, a, Q);
	cr_assert_eq(log.count, 1, "caught before any drain");
	cr_assert_eq(log.kind, VMEM_MISUSE_DOUBLE_FREE);
	cr_assert_eq(log.addr, a);
	/* Not handed out twice afterwards. */
	vmem_addr_t c, d;
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &c), 0);
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &d), 0);
	cr_assert_neq(c, d);
	cr_assert_neq(c, b);
	cr_assert_neq(d, b);
	vmem_free(vm, b, Q);
	vmem_free(vm, c, Q);
	vmem_free(vm, d, Q);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

/* Destroy with live cached objects: reported as a leak, then torn down. */
Test(qcache, destroy_reports_cached_leak)
{
	struct kvt_misuse_log log;
	memset(&log, 0, sizeof(log));
	vmem_t *vm = vmem_create("leak", Q, 1024 * Q, Q, 4 * Q, M_WAITOK);
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &b), 0);
	vmem_free(vm, b, Q);
	vmem_destroy(vm);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VMEM_MISUSE_LEAK);
	cr_assert_eq(log.addr, a);
	cr_assert_eq(log.size, Q);
}

/* With an import source, drained slabs go all the way back to the parent. */
Test(qcache, slabs_return_through_imports)
{
	vmem_t *parent = vmem_create("parent", 0x100000, 4096 * Q, Q, 0, M_WAITOK);
	vmem_t *child = vmem_create("child", 0, 0, Q, 8 * Q, M_WAITOK);
	vmem_set_source(child, parent, 16 * Q);
	vmem_addr_t a[100];

	for (int i = 0; i < 100; i++)
		cr_assert_eq(vmem_alloc(child, (vmem_size_t)(i % 8 + 1) * Q,
		    M_NOWAIT, &a[i]), 0);
	cr_assert_gt(vmem_size(parent, VMEM_ALLOC), 0);
	for (int i = 0; i < 100; i++)
		vmem_free(child, a[i], (vmem_size_t)(i % 8 + 1) * Q);
	vmem_qcache_drain(child);
	cr_assert_eq(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);
	cr_assert_eq(vmem_size(parent, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_check(child), 0);
	cr_assert_eq(vmem_check(parent), 0);
	vmem_destroy(child);
	vmem_destroy(parent);
}

/* The stats JSON carries one object per cache. */
Test(qcache, json_lists_caches)
{
	vmem_t *vm = vmem_create("json", Q, 1024 * Q, Q, 3 * Q, M_WAITOK);
	vmem_addr_t a;
	char buf[8192];

	cr_assert_eq(vmem_alloc(vm, 2 * Q, M_NOWAIT, &a), 0);
	int n = vmem_stats_json(vm, buf, sizeof(buf));
	cr_assert(n > 0 && (size_t)n < sizeof(buf));
	cr_assert(strstr(buf, "\"qcaches\":[{\"objsize\":4096") != NULL, "%s", buf);
	cr_assert(strstr(buf, "{\"objsize\":12288") != NULL, "%s", buf);
	cr_assert(strstr(buf, "\"bytes_cached\":") != NULL, "%s", buf);
	vmem_free(vm, a, 2 * Q);
	vmem_destroy(vm);
}

/* ---- Lone objects: no slab fits, one object does ------------------------- */

/* An arena smaller than one slab still serves cached sizes. */
Test(qcache, arena_smaller_than_a_slab_serves_cached_sizes)
{
	vmem_t *vm = vmem_create("tiny", 0x10000, 2 * Q, Q, 4 * Q, M_WAITOK);
	vmem_addr_t a, b, c;

	cr_assert_geq(qstats(vm, 0).slab_size, 3 * 4 * Q, "a slab is 12 quanta or more");
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 2 * Q, M_NOWAIT, &c), ENOMEM, "one quantum left");
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &b), 0);
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &c), ENOMEM);
	cr_assert_neq(a, b);
	cr_assert(a >= 0x10000 && a < 0x10000 + 2 * Q && b >= 0x10000 &&
	    b < 0x10000 + 2 * Q);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 2 * Q);
	cr_assert_eq(qstats(vm, 0).objs_out, 2);
	cr_assert_eq(qstats(vm, 0).slabs, 0);
	cr_assert_eq(vmem_check(vm), 0);

	vmem_free(vm, a, Q);
	vmem_free(vm, b, Q);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(kvt_stats(vm).bytes_cached, 2 * Q, "freed objects stay cached");
	cr_assert_eq(vmem_check(vm), 0);
	vmem_qcache_drain(vm);
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.bytes_cached, 0);
	cr_assert_eq(st.busy_segs, 0, "lone objects went back to the segments");
	cr_assert_eq(st.free_segs, 1, "and coalesced");

	/* Another cache, and the arena's whole size as one cached object. */
	cr_assert_eq(vmem_alloc(vm, 2 * Q, M_NOWAIT, &c), 0);
	cr_assert_eq(c, 0x10000);
	cr_assert_eq(qstats(vm, 1).objs_out, 1);
	vmem_free(vm, c, 2 * Q);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

/* Free space in pieces too small for a slab: every piece is still used. */
Test(qcache, lone_objects_use_a_fragmented_arena)
{
	enum { N = 64 };
	vmem_t *vm = vmem_create("frag", 0x100000, 2 * N * Q, Q, 4 * Q, M_WAITOK);
	vmem_addr_t got[N], x;

	/* Every other quantum busy: N free holes of one quantum. */
	for (int i = 0; i < N; i++)
		cr_assert_eq(vmem_xalloc_addr(vm, 0x100000 + (2 * (vmem_addr_t)i + 1) * Q,
		    Q, M_NOWAIT), 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &got[i]), 0, "object %d", i);
		cr_assert_eq((got[i] - 0x100000) / Q % 2, 0, "in a hole");
		for (int j = 0; j < i; j++)
			cr_assert_neq(got[i], got[j], "handed out twice");
	}
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &x), ENOMEM);
	cr_assert_eq(qstats(vm, 0).objs_out, N);
	cr_assert_eq(vmem_check(vm), 0);
	for (int i = 0; i < N; i++)
		vmem_free(vm, got[i], Q);
	vmem_qcache_drain(vm);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), (vmem_size_t)N * Q);
	cr_assert_eq(kvt_stats(vm).busy_segs, N, "only the fence posts are busy");
	for (int i = 0; i < N; i++)
		vmem_xfree(vm, 0x100000 + (2 * (vmem_addr_t)i + 1) * Q, Q);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

/* A double free of a lone object is reported when its magazine is flushed. */
Test(qcache, lone_double_free_found_at_flush)
{
	struct kvt_misuse_log log;
	memset(&log, 0, sizeof(log));
	vmem_t *vm = vmem_create("ldbl", 0x10000, 2 * Q, Q, 4 * Q, M_WAITOK);
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	vmem_addr_t a;

	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &a), 0);
	vmem_free(vm, a, Q);
	vmem_free(vm, a, Q);		/* the bug */
	vmem_qcache_drain(vm);
	cr_assert_eq(log.count, 1);
	cr_assert(log.kind == VMEM_MISUSE_UNKNOWN_FREE ||
	    log.kind == VMEM_MISUSE_DOUBLE_FREE, "kind %d", log.kind);
	cr_assert_eq(log.addr, a);
	cr_assert_eq(log.size, Q);
	cr_assert(strstr(log.msg, "'ldbl'") != NULL, "%s", log.msg);
	cr_assert_eq(vmem_check(vm), 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(kvt_stats(vm).busy_segs, 0);
	vmem_destroy(vm);
}

/* Destroy with a lone object still out: a leak naming it. */
Test(qcache, destroy_reports_lone_leak)
{
	struct kvt_misuse_log log;
	memset(&log, 0, sizeof(log));
	vmem_t *vm = vmem_create("lleak", 0x10000, 2 * Q, Q, 4 * Q, M_WAITOK);
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &b), 0);
	vmem_free(vm, b, Q);
	vmem_destroy(vm);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VMEM_MISUSE_LEAK);
	cr_assert_eq(log.addr, a);
	cr_assert_eq(log.size, Q);
}

/* A caller built for stats version 1 gets the version 1 struct, no more. */
Test(qcache, stats_version_1_callers)
{
	vmem_t *vm = vmem_create("v1", 0x10000, 2 * Q, Q, 4 * Q, M_WAITOK);
	vmem_addr_t a;
	cr_assert_eq(vmem_alloc(vm, Q, M_NOWAIT, &a), 0);

	struct vmem_qcache_stats st;
	memset(&st, 0xa5, sizeof(st));
	st.version = 1;
	cr_assert_eq(vmem_get_qcache_stats(vm, 0, &st), 0);
	cr_assert_eq(st.version, 1);
	cr_assert_eq(st.size, offsetof(struct vmem_qcache_stats, lone));
	cr_assert_eq(st.objs_out, 1);
	cr_assert_eq(st.lone, 0xa5a5a5a5a5a5a5a5ull, "written past a version 1 struct");

	st.version = VMEM_STATS_VERSION;
	cr_assert_eq(vmem_get_qcache_stats(vm, 0, &st), 0);
	cr_assert_eq(st.size, sizeof(st));
	cr_assert_eq(st.lone, 1);
	cr_assert_eq(st.lone_imports, 1);
	cr_assert_eq(st.lone_releases, 0);
	st.version = VMEM_STATS_VERSION + 1;
	cr_assert_eq(vmem_get_qcache_stats(vm, 0, &st), EINVAL);
	st.version = 0;
	cr_assert_eq(vmem_get_qcache_stats(vm, 0, &st), EINVAL);

	struct vmem_stats vs = { .version = 1 };
	cr_assert_eq(vmem_get_stats(vm, &vs), 0);
	cr_assert_eq(vs.version, 1);
	cr_assert_eq(vs.bytes_inuse, Q);

	vmem_free(vm, a, Q);
	vmem_qcache_drain(vm);
	st.version = VMEM_STATS_VERSION;
	cr_assert_eq(vmem_get_qcache_stats(vm, 0, &st), 0);
	cr_assert_eq(st.lone, 0);
	cr_assert_eq(st.lone_releases, 1);
	vmem_destroy(vm);
}
