/*
 * test_alloc.c -- vmem_alloc / vmem_free: placement, rounding, flags,
 * exhaustion, coalescing.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(alloc, .fini = kvt_fini_no_live);

/* vmem_alloc that must return EINVAL and leave everything as it was. */
static void
expect_einval(vmem_t *vm, vmem_size_t size, int flags, const char *what)
{
	struct kvt_snap before, after;
	struct vmem_stats st0 = kvt_stats(vm), st1;
	vmem_addr_t a = 0xdead;

	kvt_snap_take(vm, &before);
	cr_assert_eq(vmem_alloc(vm, size, flags, &a), EINVAL, "%s", what);
	kvt_snap_take(vm, &after);
	cr_assert(kvt_snap_same(&before, &after), "%s changed the arena", what);
	cr_assert_eq(vmem_check(vm), 0, "%s", what);
	st1 = kvt_stats(vm);
	cr_assert_eq(st1.alloc_einval, st0.alloc_einval + 1, "%s", what);
	cr_assert_eq(st1.allocs, st0.allocs, "%s", what);
	kvt_snap_free(&before);
	kvt_snap_free(&after);
}

Test(alloc, basic)
{
	vmem_t *vm = kvt_vmem_create("basic", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT, &a), 0);
	cr_assert(a >= 0x1000 && a + 16 <= 0x2000 && a % 16 == 0);
	cr_assert_eq(vmem_alloc(vm, 32, M_WAITOK, &b), 0);
	cr_assert(b >= 0x1000 && b + 32 <= 0x2000 && b % 16 == 0);
	cr_assert(a + 16 <= b || b + 32 <= a);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 48);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0x1000 - 48);
	/* With caches the segment layer holds slabs, not the two blocks. */
	uint64_t segs = kvt_cached(vm, 16) || kvt_cached(vm, 32) ?
	    kvt_slabs(vm) + !kvt_cached(vm, 32) : 2;
	cr_assert_eq(kvt_count(vm, VMEM_ALLOC), segs);
	cr_assert_eq(vmem_check(vm), 0);

	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.allocs, segs);
	cr_assert_eq(st.busy_segs, segs);
	cr_assert_eq(st.bytes_inuse, 48);

	vmem_free(vm, a, 16);
	vmem_free(vm, b, 32);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	vmem_qcache_drain(vm);		/* cached blocks back to the arena */
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	st = kvt_stats(vm);
	cr_assert_eq(st.frees, segs);
	cr_assert_eq(st.busy_segs, 0);
	cr_assert_eq(st.free_segs, 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(alloc, bottom_up_in_one_segment)
{
	static const int fits[] = { 0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT };

	for (int f = 0; f < 4; f++) {
		/* Segment-only: placement by fit strategy, which cached sizes
		 * do not have. */
		vmem_t *vm = vmem_create("bu", 0x1000, 0x1000, 16, 0, M_WAITOK);
		vmem_addr_t a;

		for (vmem_addr_t want = 0x1000; want < 0x1400; want += 0x40) {
			cr_assert_eq(vmem_alloc(vm, 0x40, M_NOWAIT | fits[f], &a), 0);
			cr_assert_eq(a, want, "fit 0x%x: got " KVT_X " want " KVT_X,
			    fits[f], a, want);
		}
		for (vmem_addr_t x = 0x1000; x < 0x1400; x += 0x40)
			vmem_free(vm, x, 0x40);
		cr_assert_eq(vmem_check(vm), 0);
		vmem_destroy(vm);
	}
}

Test(alloc, rounding_and_free_size)
{
	vmem_t *vm = kvt_vmem_create("rnd", 0, 0x1000, 8, 0, M_WAITOK);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_alloc(vm, 5, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 8);
	cr_assert_eq(vmem_alloc(vm, 9, M_NOWAIT, &b), 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 24);
	/* Any size with the same rounding is the right size. */
	vmem_free(vm, a, 7);
	vmem_free(vm, b, 16);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(kvt_stats(vm).misuses, 0);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(alloc, size_zero_einval)
{
	vmem_t *vm = kvt_vmem_create("z", 0, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT, &a), 0);
	expect_einval(vm, 0, M_NOWAIT, "size 0");
	expect_einval(vm, 0, M_WAITOK | M_BESTFIT, "size 0 waitok");
	vmem_free(vm, a, 16);
	vmem_destroy(vm);
}

Test(alloc, size_overflow_einval)
{
	vmem_t *vm = kvt_vmem_create("ovf", 0, 0x1000, 16, 0, M_WAITOK);
	vmem_t *v1 = kvt_vmem_create("ovf1", 0, 0x1000, 1, 0, M_WAITOK);
	vmem_addr_t a;

	expect_einval(vm, SIZE_MAX, M_NOWAIT, "SIZE_MAX at quantum 16");
	expect_einval(vm, SIZE_MAX - 14, M_NOWAIT, "SIZE_MAX-14 at quantum 16");
	/* At quantum 1 nothing overflows: simply too big. */
	cr_assert_eq(vmem_alloc(v1, SIZE_MAX, M_NOWAIT, &a), ENOMEM);
	cr_assert_eq(vmem_alloc(vm, SIZE_MAX - 15, M_NOWAIT, &a), ENOMEM,
	    "SIZE_MAX-15 rounds to a representable size: ENOMEM, not EINVAL");
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
	vmem_destroy(v1);
}

Test(alloc, bad_flag_combinations)
{
	vmem_t *vm = kvt_vmem_create("flags", 0, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vmem_alloc(vm, 32, M_NOWAIT, &a), 0);
	expect_einval(vm, 16, M_NOWAIT | M_WAITOK, "NOWAIT|WAITOK");
	expect_einval(vm, 16, M_NOWAIT | M_FIRSTFIT | M_BESTFIT, "FIRST|BEST");
	expect_einval(vm, 16, M_NOWAIT | M_FIRSTFIT | M_NEXTFIT, "FIRST|NEXT");
	expect_einval(vm, 16, M_NOWAIT | M_BESTFIT | M_NEXTFIT, "BEST|NEXT");
	expect_einval(vm, 16, M_NOWAIT | M_FIRSTFIT | M_BESTFIT | M_NEXTFIT,
	    "all three fits");
	expect_einval(vm, 16, M_WAITOK | M_BESTFIT | M_NEXTFIT | VMEM_TOPDOWN,
	    "two fits with TOPDOWN");
	vmem_free(vm, a, 32);
	vmem_destroy(vm);
}

Test(alloc, unknown_flags_ignored)
{
	vmem_t *vm = kvt_vmem_create("ign", 0, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT | M_ZERO | M_EXEC | 0x0200 |
	    0x0400 | 0x0800, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT | M_NORECLAIM | M_ZERO, &b), 0);
	vmem_free(vm, a, 16);
	vmem_free(vm, b, 16);
	cr_assert_eq(kvt_stats(vm).alloc_einval, 0);
	vmem_destroy(vm);
}

Test(alloc, exhaust_quantum_one)
{
	vmem_t *vm = kvt_vmem_create("exh", 1000, 100, 1, 0, M_WAITOK);
	unsigned char seen[100] = { 0 };
	vmem_addr_t a;
	int n, cached = kvt_cached(vm, 1);

	/*
	 * Every quantum once.  Cached: whole aligned slabs first, then the
	 * leftovers no slab fits as lone objects, so all 100 come out too.
	 */
	for (n = 0; n < 100; n++) {
		int rc = vmem_alloc(vm, 1, M_NOWAIT, &a);
		cr_assert_eq(rc, 0, "alloc %d", n);
		cr_assert(a >= 1000 && a < 1100);
		cr_assert(!seen[a - 1000], "address " KVT_X " handed out twice", a);
		seen[a - 1000] = 1;
	}
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), (vmem_size_t)n);
	cr_assert_eq(vmem_alloc(vm, 1, M_NOWAIT, &a), ENOMEM);
	cr_assert_eq(vmem_alloc(vm, 1, M_NOWAIT | M_BESTFIT, &a), ENOMEM);
	cr_assert_eq(vmem_alloc(vm, 1, M_NOWAIT | M_NEXTFIT, &a), ENOMEM);
	cr_assert_eq(vmem_alloc(vm, 1, M_NOWAIT | VMEM_TOPDOWN, &a), ENOMEM);
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.alloc_fails, 4);
	if (cached) {
		struct vmem_qcache_stats qs = { .version = VMEM_STATS_VERSION };
		cr_assert_eq(vmem_get_qcache_stats(vm, 0, &qs), 0);
		cr_assert_gt(qs.slabs, 0);
		cr_assert_gt(qs.lone, 0);
		cr_assert_eq(st.allocs, qs.slabs + qs.lone);
		cr_assert_eq(qs.objs_out, 100);
	} else {
		cr_assert_eq(st.allocs, 100);
	}
	/* Free in a scrambled order; everything coalesces back. */
	for (int i = 0; i < 100; i++) {
		vmem_addr_t x = 1000 + (vmem_addr_t)((i * 37) % 100);
		if (seen[x - 1000])
			vmem_free(vm, x, 1);
	}
	vmem_qcache_drain(vm);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 100);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(alloc, too_big)
{
	vmem_t *vm = kvt_vmem_create("big", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vmem_alloc(vm, 0x1010, M_NOWAIT, &a), ENOMEM);
	cr_assert_eq(vmem_alloc(vm, 0x1000, M_NOWAIT, &a), 0);
	cr_assert_eq(a, 0x1000);
	vmem_free(vm, a, 0x1000);
	vmem_destroy(vm);
}

Test(alloc, coalescing)
{
	/* Segment-only: exact placement and coalescing of vmem_alloc'd
	 * 16-byte blocks, which caches keep in slabs. */
	vmem_t *vm = vmem_create("coal", 0, 0x100, 16, 0, M_WAITOK);
	vmem_addr_t a, b, c;
	struct kvt_seg seg[8];

	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT | M_BESTFIT, &a), 0);
	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT | M_BESTFIT, &b), 0);
	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT | M_BESTFIT, &c), 0);
	cr_assert(a == 0 && b == 16 && c == 32);

	vmem_free(vm, b, 16);		/* free [16,32) between busy a and c */
	cr_assert_eq(kvt_collect(vm, VMEM_FREE, seg, 8), 2);
	cr_assert(seg[0].addr == 16 && seg[0].size == 16);
	cr_assert(seg[1].addr == 48 && seg[1].size == 0x100 - 48);
	cr_assert_eq(kvt_stats(vm).free_segs, 2);
	cr_assert_eq(vmem_check(vm), 0);

	vmem_free(vm, a, 16);		/* merges with the right neighbour */
	cr_assert_eq(kvt_collect(vm, VMEM_FREE, seg, 8), 2);
	cr_assert(seg[0].addr == 0 && seg[0].size == 32);
	cr_assert_eq(vmem_check(vm), 0);

	vmem_free(vm, c, 16);		/* merges both sides */
	cr_assert_eq(kvt_collect(vm, VMEM_FREE, seg, 8), 1);
	cr_assert(seg[0].addr == 0 && seg[0].size == 0x100);
	cr_assert_eq(kvt_stats(vm).free_segs, 1);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0x100);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(alloc, random_alloc_free_all_coalesce)
{
	uint64_t seed = kvt_seed();
	struct kvt_rng r;
	vmem_t *vm = kvt_vmem_create("rnd", 0x10000, 0x10000, 16, 0, M_WAITOK);
	vmem_addr_t addr[512];
	vmem_size_t size[512];
	int n = 0;
	static const int fits[] = { 0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT,
	    VMEM_TOPDOWN };

	kvt_rng_init(&r, seed);
	for (int i = 0; i < 20000; i++) {
		if (n < 512 && (n == 0 || kvt_chance(&r, 55))) {
			vmem_size_t s = kvt_range(&r, 1, 600);
			int fl = fits[kvt_below(&r, 5)];
			int rc = vmem_alloc(vm, s, M_NOWAIT | fl, &addr[n]);
			cr_assert(rc == 0 || rc == ENOMEM, "seed %" PRIu64, seed);
			if (rc == 0) {
				size[n] = s;
				n++;
			}
		} else {
			int k = (int)kvt_below(&r, (uint64_t)n);
			vmem_free(vm, addr[k], size[k]);
			addr[k] = addr[n - 1];
			size[k] = size[n - 1];
			n--;
		}
		if (i % 1000 == 0)
			cr_assert_eq(vmem_check(vm), 0, "seed %" PRIu64, seed);
	}
	while (n > 0) {
		n--;
		vmem_free(vm, addr[n], size[n]);
	}
	vmem_qcache_drain(vm);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1, "seed %" PRIu64, seed);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_check(vm), 0);
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.allocs, st.frees, "seed %" PRIu64, seed);
	vmem_destroy(vm);
}

Test(alloc, xfree_and_free_interchangeable_without_qcache)
{
	/* Segment-only: with caches the two are not interchangeable. */
	vmem_t *vm = vmem_create("x", 0, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t a, b;

	cr_assert_eq(vmem_alloc(vm, 48, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_xalloc(vm, 48, 0, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_NOWAIT, &b), 0);
	vmem_xfree(vm, a, 48);
	vmem_free(vm, b, 48);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(kvt_stats(vm).misuses, 0);
	vmem_destroy(vm);
}
