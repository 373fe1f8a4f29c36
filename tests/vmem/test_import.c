/*
 * test_import.c -- import and release callbacks, import quantum, imports
 * that coalesce (no release function), vmem_set_limit, vmem_set_reclaim,
 * the constraint-aware vmem_set_ximport and vmem_set_source chains.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(import, .fini = kvt_fini_no_live);

#define ANY	VMEM_ADDR_MIN, VMEM_ADDR_MAX
#define K	((vmem_size_t)1024)
#define M	(K * K)

/* A source of address space: a bump counter, with a log of the calls. */
struct src {
	vmem_addr_t	next;
	vmem_size_t	gap;		/* left unused after each import */
	int		fail;		/* fail every call while set */
	int		calls, releases;
	vmem_size_t	last_size;
	vmem_addr_t	imp_addr[64];
	vmem_size_t	imp_size[64];
	vmem_addr_t	rel_addr[64];
	vmem_size_t	rel_size[64];
	vmem_t		*probe;		/* arena to touch from the callback */
	char		order[64];	/* 'i' import, 'r' reclaim */
	int		norder;
};

static int
src_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	struct src *s = arg;

	(void)flags;
	if (s->probe != NULL)		/* deadlocks if the arena lock is held */
		(void)vmem_size(s->probe, VMEM_ALLOC);
	if (s->norder < 63)
		s->order[s->norder++] = 'i';
	s->last_size = size;
	if (s->fail) {
		s->calls++;
		return (ENOMEM);
	}
	*addrp = s->next;
	if (s->calls < 64) {
		s->imp_addr[s->calls] = s->next;
		s->imp_size[s->calls] = size;
	}
	s->calls++;
	s->next += size + s->gap;
	return (0);
}

static void
src_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	struct src *s = arg;

	if (s->probe != NULL)
		(void)vmem_size(s->probe, VMEM_ALLOC);
	if (s->releases < 64) {
		s->rel_addr[s->releases] = addr;
		s->rel_size[s->releases] = size;
	}
	s->releases++;
}

static vmem_t *
import_arena(struct src *s, vmem_addr_t start, vmem_size_t q, vmem_size_t iq,
    int with_release)
{
	vmem_t *vm = kvt_vmem_create("imp", 0, 0, q, 0, M_WAITOK);

	cr_assert_not_null(vm);
	memset(s, 0, sizeof(*s));
	s->next = start;
	vmem_set_import(vm, src_import, with_release ? src_release : NULL, s, iq);
	return (vm);
}

Test(import, rounds_to_import_quantum_and_releases, .timeout = 30)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 1);
	vmem_addr_t a;

	/* 64 KiB; with caches, what the slab for 4096 needs. */
	vmem_size_t want = kvt_import_size(vm, 4096, 64 * K);

	s.probe = vm;
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a), 0);
	cr_assert_eq(s.calls, 1);
	cr_assert_eq(s.last_size, want);
	cr_assert(a >= 0x10000000 && a + 4096 <= 0x10000000 + want);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), want);
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.imports, 1);
	cr_assert_eq(st.bytes_imported, want);
	cr_assert_eq(st.spans, 1);
	cr_assert_eq(vmem_check(vm), 0);

	vmem_free(vm, a, 4096);
	vmem_qcache_drain(vm);		/* a cached block's slab goes back */
	cr_assert_eq(s.releases, 1, "an imported span that becomes free is released");
	cr_assert_eq(s.rel_addr[0], 0x10000000);
	cr_assert_eq(s.rel_size[0], want);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0);
	st = kvt_stats(vm);
	cr_assert_eq(st.releases, 1);
	cr_assert_eq(st.spans, 0);
	cr_assert_eq(st.bytes_imported, 0);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	cr_assert_eq(s.releases, 1, "nothing left to release at destroy");
}

Test(import, large_request_and_zero_quantum)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 1);
	vmem_addr_t a;

	cr_assert_eq(vmem_alloc(vm, 100 * K, M_NOWAIT, &a), 0);
	cr_assert_eq(s.last_size, 128 * K);
	vmem_free(vm, a, 100 * K);
	vmem_destroy(vm);

	vm = import_arena(&s, 0x10000000, 4096, 0, 1);
	cr_assert_eq(vmem_alloc(vm, 5000, M_NOWAIT, &a), 0);
	cr_assert_eq(s.last_size, kvt_import_size(vm, 5000, 4096),
	    "import quantum 0 means the quantum");
	if (!kvt_cached(vm, 5000))
		cr_assert_eq(s.last_size, 8192);
	vmem_free(vm, a, 5000);
	vmem_qcache_drain(vm);
	cr_assert_eq(s.releases, 1);
	vmem_destroy(vm);
}

Test(import, room_for_alignment_and_nocross)
{
	struct src s;
	/* The source hands out addresses that are deliberately misaligned. */
	vmem_t *vm = import_arena(&s, 0x10001000, 4096, 0, 1);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_xalloc(vm, 4096, 64 * K, 0, 0, ANY, M_NOWAIT, &a), 0);
	cr_assert_eq(a % (64 * K), 0);
	cr_assert_eq(s.calls, 1);
	cr_assert_geq(s.last_size, 64 * K, "room for the alignment");
	s.next = 0x20003000;
	cr_assert_eq(vmem_xalloc(vm, 12 * K, 0, 0, 16 * K, ANY, M_NOWAIT, &b), 0);
	cr_assert_eq(b / (16 * K), (b + 12 * K - 1) / (16 * K));
	cr_assert_eq(vmem_check(vm), 0);
	vmem_xfree(vm, a, 4096);
	vmem_xfree(vm, b, 12 * K);
	cr_assert_eq(s.releases, s.calls);
	vmem_destroy(vm);
}

Test(import, release_only_when_entirely_free)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 1);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &b), 0);
	cr_assert_eq(s.calls, 1, "the second block comes from the same import");
	vmem_free(vm, a, 4096);
	vmem_qcache_drain(vm);		/* with caches: b keeps the slab busy */
	cr_assert_eq(s.releases, 0);
	vmem_free(vm, b, 4096);
	vmem_qcache_drain(vm);
	cr_assert_eq(s.releases, 1);
	vmem_destroy(vm);
}

Test(import, no_release_imports_coalesce)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 0);
	vmem_addr_t a, b, c;
	struct kvt_seg seg[4];

	cr_assert_eq(vmem_alloc(vm, 64 * K, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 64 * K, M_NOWAIT, &b), 0);
	cr_assert_eq(s.calls, 2);
	cr_assert_eq(s.imp_addr[1], s.imp_addr[0] + 64 * K, "adjacent imports");
	vmem_free(vm, a, 64 * K);
	vmem_free(vm, b, 64 * K);
	cr_assert_eq(s.releases, 0);
	cr_assert_eq(kvt_collect(vm, VMEM_FREE, seg, 4), 1,
	    "adjacent imports without release merge into one free segment");
	cr_assert_eq(seg[0].addr, 0x10000000);
	cr_assert_eq(seg[0].size, 128 * K);
	cr_assert_eq(vmem_check(vm), 0);
	/* An allocation across the import boundary, without a new import. */
	cr_assert_eq(vmem_alloc(vm, 128 * K, M_NOWAIT, &c), 0);
	cr_assert_eq(c, 0x10000000);
	cr_assert_eq(s.calls, 2);
	vmem_free(vm, c, 128 * K);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x10000000 + 60 * K, 8 * K, M_NOWAIT), 0,
	    "exact range across the import boundary");
	vmem_xfree(vm, 0x10000000 + 60 * K, 8 * K);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 128 * K);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	cr_assert_eq(s.releases, 0);
}

Test(import, no_release_gap_keeps_spans_apart)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 0);
	vmem_addr_t a, b;

	s.gap = 4096;
	cr_assert_eq(vmem_alloc(vm, 64 * K, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 64 * K, M_NOWAIT, &b), 0);
	vmem_free(vm, a, 64 * K);
	vmem_free(vm, b, 64 * K);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 2);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 64 * K);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(import, with_release_imports_do_not_merge)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 1);
	vmem_addr_t a, b, c;

	cr_assert_eq(vmem_alloc(vm, 48 * K, M_NOWAIT | M_BESTFIT, &a), 0);
	cr_assert_eq(a, 0x10000000);
	/* The second import sits right after the first; use its top. */
	cr_assert_eq(vmem_alloc(vm, 48 * K, M_NOWAIT | VMEM_TOPDOWN, &b), 0);
	cr_assert_eq(s.calls, 2);
	cr_assert_eq(b, 0x10000000 + 80 * K);
	/* Free 16K at the top of span 1 and 16K at the bottom of span 2. */
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 2);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 16 * K,
	    "imported spans with a release function never merge");
	cr_assert_eq(vmem_xalloc_addr(vm, 0x10000000 + 56 * K, 16 * K, M_NOWAIT),
	    ENOMEM);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_free(vm, a, 48 * K);
	cr_assert_eq(s.releases, 1);
	cr_assert_eq(s.rel_addr[0], 0x10000000);
	vmem_free(vm, b, 48 * K);
	cr_assert_eq(s.releases, 2);
	cr_assert_eq(s.rel_addr[1], 0x10000000 + 64 * K);
	(void)c;
	vmem_destroy(vm);
}

Test(import, destroy_releases_imported_spans)
{
	struct src s;
	struct kvt_misuse_log log;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 1);
	vmem_addr_t a;

	memset(&log, 0, sizeof(log));
	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a), 0);
	vmem_destroy(vm);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VMEM_MISUSE_LEAK);
	cr_assert_eq(s.releases, 1, "the imported span goes back to its source");
	cr_assert_eq(s.rel_addr[0], s.imp_addr[0]);
	cr_assert_eq(s.rel_size[0], s.imp_size[0]);
}

Test(import, import_failure)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 1);
	vmem_addr_t a;

	s.fail = 1;
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a), ENOMEM);
	cr_assert_geq(s.calls, 1);
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_geq(st.import_fails, 1);
	cr_assert_eq(st.imports, 0);
	cr_assert_eq(st.alloc_fails, 1);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0);
	s.fail = 0;
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a), 0);
	vmem_free(vm, a, 4096);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

/* A plain import function backed by a parent arena (arg). */
static int
parent_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	(void)flags;
	return (vmem_alloc(arg, size, M_NOWAIT | M_BESTFIT, addrp));
}

static void
parent_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	vmem_free(arg, addr, size);
}

Test(import, backed_by_parent_arena)
{
	vmem_t *parent = kvt_vmem_create("parent", 0x40000000, 16 * M, 4096, 0, M_WAITOK);
	vmem_t *child = kvt_vmem_create("child", 0, 0, 4096, 0, M_WAITOK);
	vmem_addr_t a[64];

	vmem_set_import(child, parent_import, parent_release, parent, 256 * K);
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(vmem_alloc(child, 20 * K, M_NOWAIT, &a[i]), 0);
		cr_assert(vmem_contains(parent, a[i]));
	}
	cr_assert_eq(vmem_size(parent, VMEM_ALLOC),
	    vmem_size(child, VMEM_ALLOC | VMEM_FREE));
	cr_assert_eq(vmem_size(child, VMEM_ALLOC | VMEM_FREE) % (256 * K), 0);
	cr_assert_eq(vmem_check(parent), 0);
	cr_assert_eq(vmem_check(child), 0);
	for (int i = 0; i < 64; i++)
		vmem_free(child, a[i], 20 * K);
	vmem_qcache_drain(child);
	cr_assert_eq(vmem_size(parent, VMEM_ALLOC), 0, "everything released");
	cr_assert_eq(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);
	/* The parent runs dry: the child fails cleanly. */
	cr_assert_eq(vmem_alloc(child, 17 * M, M_NOWAIT, &a[0]), ENOMEM);
	cr_assert_eq(vmem_check(child), 0);
	vmem_destroy(child);
	vmem_destroy(parent);
}

Test(import, limit)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 1);
	vmem_addr_t a, b, c;

	vmem_set_limit(vm, 128 * K);
	cr_assert_eq(kvt_stats(vm).limit, 128 * K);
	cr_assert_eq(vmem_alloc(vm, 64 * K, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 64 * K, M_NOWAIT, &b), 0);
	cr_assert_eq(s.calls, 2);
	struct vmem_stats st0 = kvt_stats(vm);
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &c), ENOMEM);
	cr_assert_eq(s.calls, 2, "an import beyond the limit is not attempted");
	struct vmem_stats st1 = kvt_stats(vm);
	cr_assert_eq(st1.import_fails, st0.import_fails + 1);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 128 * K);
	vmem_set_limit(vm, 0);
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &c), 0);
	cr_assert_eq(s.calls, 3);
	vmem_free(vm, a, 64 * K);
	vmem_free(vm, b, 64 * K);
	vmem_free(vm, c, 4096);
	vmem_qcache_drain(vm);
	cr_assert_eq(s.releases, 3);
	vmem_destroy(vm);
}

Test(import, limit_counts_added_spans)
{
	struct src s;
	vmem_t *vm = import_arena(&s, 0x10000000, 4096, 64 * K, 1);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_add(vm, 0x1000000, 64 * K, M_NOWAIT), 0);
	vmem_set_limit(vm, 96 * K);
	cr_assert_eq(vmem_alloc(vm, 64 * K, M_NOWAIT, &a), 0);
	cr_assert_eq(a, 0x1000000);
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &b), ENOMEM,
	    "64K added + 64K import > 96K limit");
	cr_assert_eq(s.calls, 0);
	/* 128 KiB: room for the import (larger for a slab of 4096). */
	vmem_set_limit(vm, 64 * K + kvt_import_size(vm, 4096, 64 * K));
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &b), 0);
	cr_assert_eq(s.calls, 1);
	vmem_free(vm, a, 64 * K);
	vmem_free(vm, b, 4096);
	vmem_destroy(vm);
}

/* ---- Reclaim ---------------------------------------------------------------- */

static struct {
	int		calls;
	int		flags;
	vmem_addr_t	give_back;	/* block to free from the callback, or 0 */
	vmem_size_t	size;
	struct src	*order;		/* log the call into this source's order */
} rc_state;

static void
reclaim_fn(vmem_t *vm, int flags)
{
	rc_state.calls++;
	rc_state.flags = flags;
	if (rc_state.order != NULL && rc_state.order->norder < 63)
		rc_state.order->order[rc_state.order->norder++] = 'r';
	if (rc_state.give_back != 0) {
		/* The arena is unlocked here: this would deadlock otherwise. */
		vmem_free(vm, rc_state.give_back, rc_state.size);
		rc_state.give_back = 0;
	}
}

Test(import, reclaim_before_failure, .timeout = 30)
{
	/* Room for exactly n blocks: 4, or with caches one slab's worth. */
	vmem_t *vm = kvt_vmem_create("recl", 0, 0, 4096, 0, M_WAITOK);
	vmem_size_t slab = kvt_slab_size(vm, 4096);
	int n = slab != 0 ? (int)(slab / 4096) : 4;
	vmem_addr_t a[64], b;

	cr_assert_leq(n, 64);
	cr_assert_eq(vmem_add(vm, 0x400000, (vmem_size_t)n * 4096, M_NOWAIT), 0);
	memset(&rc_state, 0, sizeof(rc_state));
	vmem_set_reclaim(vm, reclaim_fn);
	for (int i = 0; i < n; i++)
		cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a[i]), 0);
	cr_assert_eq(rc_state.calls, 0);
	rc_state.give_back = a[2];
	rc_state.size = 4096;
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &b), 0,
	    "the reclaim callback made room");
	cr_assert_eq(b, a[2]);
	cr_assert_eq(rc_state.calls, 1);
	cr_assert_eq(kvt_stats(vm).reclaims, 1);
	/* M_NORECLAIM: not called. */
	rc_state.give_back = a[3];
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT | M_NORECLAIM, &b), ENOMEM);
	cr_assert_eq(rc_state.calls, 1);
	/* A reclaim that frees nothing: called, then ENOMEM. */
	rc_state.give_back = 0;
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &b), ENOMEM);
	cr_assert_geq(rc_state.calls, 2);
	for (int i = 0; i < n; i++)
		vmem_free(vm, a[i], 4096);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(import, import_before_reclaim, .timeout = 30)
{
	struct src s;
	/* Segment-only: the order of import and reclaim on a miss of the
	 * segment layer; with caches the second 4096 would be a cache hit. */
	vmem_t *vm = vmem_create("imp", 0, 0, 4096, 0, M_WAITOK);
	vmem_addr_t a, b;

	memset(&s, 0, sizeof(s));
	s.next = 0x10000000;
	vmem_set_import(vm, src_import, src_release, &s, 0);

	cr_assert_eq(vmem_add(vm, 0x1000, 4096, M_NOWAIT), 0);
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a), 0);
	cr_assert_eq(a, 0x1000);
	memset(&rc_state, 0, sizeof(rc_state));
	rc_state.order = &s;
	rc_state.give_back = a;
	rc_state.size = 4096;
	vmem_set_reclaim(vm, reclaim_fn);
	s.fail = 1;
	s.norder = 0;
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &b), 0);
	cr_assert_eq(b, 0x1000);
	cr_assert_geq(s.norder, 2);
	cr_assert_eq(s.order[0], 'i', "import is tried first (order %.*s)",
	    s.norder, s.order);
	cr_assert_eq(s.order[1], 'r', "then reclaim (order %.*s)", s.norder,
	    s.order);
	vmem_free(vm, b, 4096);
	vmem_destroy(vm);
}

/* ---- Constraint-aware import -------------------------------------------------- */

struct xsrc {
	int		calls;
	vmem_size_t	size, align, phase, nocross, sizep_in;
	vmem_addr_t	minaddr, maxaddr;
	vmem_addr_t	ret_addr;
	vmem_size_t	ret_size;
	vmem_size_t	grow;		/* multiply the suggested size by this */
	int		fail;
	int		releases;
	vmem_addr_t	next;		/* lowest address handed out */
};

static int
xsrc_import(void *arg, vmem_size_t size, vmem_size_t align, vmem_size_t phase,
    vmem_size_t nocross, vmem_addr_t minaddr, vmem_addr_t maxaddr, int flags,
    vmem_addr_t *addrp, vmem_size_t *sizep)
{
	struct xsrc *x = arg;
	vmem_addr_t p;

	(void)flags;
	x->calls++;
	x->size = size;
	x->align = align;
	x->phase = phase;
	x->nocross = nocross;
	x->minaddr = minaddr;
	x->maxaddr = maxaddr;
	x->sizep_in = *sizep;
	if (x->fail)
		return (ENOMEM);
	/* The lowest placement at or above max(next, minaddr). */
	p = x->next > minaddr ? x->next : minaddr;
	p = (p + align - 1) / align * align + phase;
	if (nocross != 0 && p / nocross != (p + size - 1) / nocross)
		p = (p / nocross + 1) * nocross + phase % nocross;
	if (p + size - 1 > maxaddr)
		return (ENOMEM);
	/* The region starts on a 1 MiB boundary below the placement. */
	x->ret_addr = p & ~(M - 1);
	x->ret_size = (x->grow ? x->grow : 1) * *sizep;
	if (x->ret_size < p - x->ret_addr + size)
		x->ret_size = ((p - x->ret_addr + size + M - 1) / M) * M;
	*addrp = x->ret_addr;
	*sizep = x->ret_size;
	x->next = x->ret_addr + x->ret_size;
	return (0);
}

static void
xsrc_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	struct xsrc *x = arg;

	(void)addr;
	(void)size;
	x->releases++;
}

Test(import, ximport_gets_every_constraint)
{
	struct xsrc x;
	vmem_t *vm = kvt_vmem_create("xi", 0, 0, 4096, 0, M_WAITOK);
	vmem_addr_t a;

	memset(&x, 0, sizeof(x));
	x.next = 0x100000000;
	vmem_set_ximport(vm, xsrc_import, xsrc_release, &x, M);
	cr_assert_eq(vmem_xalloc(vm, 8 * K, 2 * M, 4 * K, 4 * M, 0x140000000,
	    0x17fffffff, M_NOWAIT, &a), 0);
	cr_assert_eq(x.calls, 1);
	cr_assert_eq(x.size, 8 * K);
	cr_assert_eq(x.align, 2 * M);
	cr_assert_eq(x.phase, 4 * K);
	cr_assert_eq(x.nocross, 4 * M);
	cr_assert_eq(x.minaddr, 0x140000000);
	cr_assert_eq(x.maxaddr, 0x17fffffff);
	cr_assert_eq(x.sizep_in, M, "suggested size: the request rounded to 1 MiB");
	cr_assert_eq(a, 0x140000000 + 4 * K);
	cr_assert(a >= x.ret_addr && a + 8 * K <= x.ret_addr + x.ret_size);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), x.ret_size);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_xfree(vm, a, 8 * K);
	cr_assert_eq(x.releases, 1);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0);
	vmem_destroy(vm);
}

Test(import, ximport_may_return_more)
{
	struct xsrc x;
	vmem_t *vm = kvt_vmem_create("xi", 0, 0, 4096, 0, M_WAITOK);
	vmem_addr_t a, b;

	memset(&x, 0, sizeof(x));
	x.next = 0x100000000;
	x.grow = 4;
	vmem_set_ximport(vm, xsrc_import, xsrc_release, &x, M);
	cr_assert_eq(vmem_alloc(vm, 8 * K, M_NOWAIT, &a), 0);
	cr_assert_eq(x.ret_size, 4 * M);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 4 * M);
	cr_assert_eq(kvt_stats(vm).bytes_imported, 4 * M);
	cr_assert_eq(vmem_alloc(vm, 3 * M, M_NOWAIT, &b), 0);
	cr_assert_eq(x.calls, 1, "the extra space is used");
	vmem_free(vm, a, 8 * K);
	vmem_free(vm, b, 3 * M);
	vmem_qcache_drain(vm);
	cr_assert_eq(x.releases, 1);
	vmem_destroy(vm);
}

Test(import, ximport_failure_and_addr)
{
	struct xsrc x;
	vmem_t *vm = kvt_vmem_create("xi", 0, 0, 4096, 0, M_WAITOK);
	vmem_addr_t a;

	memset(&x, 0, sizeof(x));
	x.next = 0x100000000;
	vmem_set_ximport(vm, xsrc_import, xsrc_release, &x, 0);
	x.fail = 1;
	cr_assert_eq(vmem_alloc(vm, 8 * K, M_NOWAIT, &a), ENOMEM);
	cr_assert_geq(kvt_stats(vm).import_fails, 1);
	x.fail = 0;
	/* An exact range is imported through the constraint-aware import. */
	cr_assert_eq(vmem_xalloc_addr(vm, 0x200000000, 8 * K, M_NOWAIT), 0);
	cr_assert_eq(x.minaddr, 0x200000000);
	cr_assert_eq(x.maxaddr, 0x200000000 + 8 * K - 1);
	vmem_xfree(vm, 0x200000000, 8 * K);
	cr_assert_eq(x.releases, 1);
	vmem_destroy(vm);
}

static void
check_placement(vmem_addr_t a, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t min, vmem_addr_t max)
{
	cr_assert_eq(a % align, phase, KVT_X, a);
	cr_assert(a >= min && a + size - 1 <= max, KVT_X, a);
	if (nocross)
		cr_assert_eq(a / nocross, (a + size - 1) / nocross, KVT_X, a);
}

Test(import, source_chain_honours_constraints)
{
	vmem_t *parent = kvt_vmem_create("parent", 0x10000000, 256 * M, 4096, 0,
	    M_WAITOK);
	vmem_t *child = kvt_vmem_create("child", 0, 0, 4096, 0, M_WAITOK);
	vmem_t *grand = kvt_vmem_create("grand", 0, 0, 4096, 0, M_WAITOK);
	vmem_addr_t a[16];

	vmem_set_source(child, parent, M);
	vmem_set_source(grand, child, 64 * K);
	for (int i = 0; i < 16; i++) {
		cr_assert_eq(vmem_xalloc(grand, 8 * K, 2 * M, 4 * K, 4 * M,
		    0x14000000, 0x17ffffff, M_NOWAIT, &a[i]), 0, "i %d", i);
		check_placement(a[i], 8 * K, 2 * M, 4 * K, 4 * M, 0x14000000,
		    0x17ffffff);
		cr_assert(vmem_contains(child, a[i]));
		cr_assert(vmem_contains(parent, a[i]));
	}
	cr_assert_eq(vmem_size(parent, VMEM_ALLOC),
	    vmem_size(child, VMEM_ALLOC | VMEM_FREE));
	cr_assert_eq(vmem_size(child, VMEM_ALLOC),
	    vmem_size(grand, VMEM_ALLOC | VMEM_FREE));
	/* A range the parent cannot serve. */
	vmem_addr_t b;
	cr_assert_eq(vmem_xalloc(grand, 8 * K, 0, 0, 0, 0x40000000, 0x4fffffff,
	    M_NOWAIT, &b), ENOMEM);
	cr_assert_geq(kvt_stats(grand).import_fails, 1);
	/* Top-down through the chain. */
	cr_assert_eq(vmem_xalloc(grand, 8 * K, 0, 0, 0, ANY,
	    M_NOWAIT | VMEM_TOPDOWN, &b), 0);
	cr_assert(vmem_contains(parent, b));
	cr_assert_eq(vmem_check(parent), 0);
	cr_assert_eq(vmem_check(child), 0);
	cr_assert_eq(vmem_check(grand), 0);
	vmem_xfree(grand, b, 8 * K);
	for (int i = 0; i < 16; i++)
		vmem_xfree(grand, a[i], 8 * K);
	cr_assert_eq(vmem_size(grand, VMEM_ALLOC | VMEM_FREE), 0);
	cr_assert_eq(vmem_size(child, VMEM_ALLOC | VMEM_FREE), 0);
	cr_assert_eq(vmem_size(parent, VMEM_ALLOC), 0);
	vmem_destroy(grand);
	vmem_destroy(child);
	vmem_destroy(parent);
}

Test(import, source_exact_address)
{
	vmem_t *parent = kvt_vmem_create("parent", 0x10000000, 256 * M, 4096, 0,
	    M_WAITOK);
	vmem_t *child = kvt_vmem_create("child", 0, 0, 4096, 0, M_WAITOK);

	vmem_set_source(child, parent, M);
	cr_assert_eq(vmem_xalloc_addr(child, 0x12345000, 8 * K, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(parent, 0x12345000, 4096, M_NOWAIT), ENOMEM,
	    "the parent handed that range to the child");
	cr_assert_eq(vmem_xalloc_addr(parent, 0x18000000, 4096, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(child, 0x18000000, 4096, M_NOWAIT), ENOMEM,
	    "busy in the parent");
	cr_assert_eq(vmem_xalloc_addr(child, 0x8000000, 4096, M_WAITOK), ENOMEM,
	    "outside the parent: ENOMEM even with M_WAITOK");
	vmem_xfree(child, 0x12345000, 8 * K);
	vmem_xfree(parent, 0x18000000, 4096);
	cr_assert_eq(vmem_size(parent, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_check(parent), 0);
	cr_assert_eq(vmem_check(child), 0);
	vmem_destroy(child);
	vmem_destroy(parent);
}
