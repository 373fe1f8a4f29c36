/*
 * test_add.c -- vmem_add: new spans, argument checks, spans at the top of
 * the address space, spans that never merge, coalescing inside a span.
 */
#include <errno.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(add, .fini = kvt_fini_no_live);

Test(add, disjoint_spans)
{
	vmem_t *vm = kvt_vmem_create("add", 0x10000, 0x1000, 16, 0, M_WAITOK);
	struct kvt_seg sp[4];
	vmem_addr_t a;

	cr_assert_eq(vmem_add(vm, 0x1000, 0x2000, M_NOWAIT), 0);
	cr_assert_eq(vmem_add(vm, 0x40000, 0x100, M_WAITOK), 0);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0x3100);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0x2000);
	cr_assert(vmem_contains(vm, 0x1000));
	cr_assert(vmem_contains(vm, 0x2fff));
	cr_assert(!vmem_contains(vm, 0x3000));
	cr_assert(vmem_contains(vm, 0x400ff));
	cr_assert(!vmem_contains(vm, 0x40100));
	cr_assert_eq(kvt_collect(vm, VMEM_SPAN, sp, 4), 3);
	cr_assert(sp[0].addr == 0x1000 && sp[0].size == 0x2000,
	    "spans walk in address order");
	cr_assert(sp[1].addr == 0x10000 && sp[1].size == 0x1000);
	cr_assert(sp[2].addr == 0x40000 && sp[2].size == 0x100);
	cr_assert_eq(kvt_stats(vm).spans, 3);
	/* Only the added span can hold this. */
	cr_assert_eq(vmem_alloc(vm, 0x1800, M_NOWAIT, &a), 0);
	cr_assert_eq(a, 0x1000);
	vmem_free(vm, a, 0x1800);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(add, einval)
{
	vmem_t *vm = kvt_vmem_create("bad", 0x10000, 0x1000, 4096, 0, M_WAITOK);
	struct kvt_snap before, after;
	static const struct {
		vmem_addr_t	addr;
		vmem_size_t	size;
		const char	*what;
	} bad[] = {
		{ 0x20000, 0, "size 0" },
		{ 0x20800, 0x1000, "unaligned address" },
		{ 0x20000, 0x800, "unaligned size" },
		{ 0x20000, 0x1001, "unaligned size 2" },
		{ VMEM_ADDR_MAX - 0xfff, 0x2000, "wraps past VMEM_ADDR_MAX" },
		{ 0x2000, SIZE_MAX - 0xfff, "wraps (huge)" },
	};

	kvt_snap_take(vm, &before);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(vmem_add(vm, bad[i].addr, bad[i].size, M_NOWAIT),
		    EINVAL, "%s", bad[i].what);
		kvt_snap_take(vm, &after);
		cr_assert(kvt_snap_same(&before, &after), "%s changed the arena",
		    bad[i].what);
		kvt_snap_free(&after);
		cr_assert_eq(vmem_check(vm), 0);
	}
	cr_assert_eq(kvt_stats(vm).misuses, 0, "bad arguments are not misuse");
	kvt_snap_free(&before);
	vmem_destroy(vm);
}

Test(add, span_ending_at_addr_max)
{
	vmem_t *vm = kvt_vmem_create("top", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t base = VMEM_ADDR_MAX - 0xffff;
	vmem_addr_t a;

	cr_assert_eq(vmem_add(vm, base, 0x10000, M_NOWAIT), 0);
	cr_assert(vmem_contains(vm, VMEM_ADDR_MAX));
	cr_assert(vmem_contains(vm, base));
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0x11000);
	cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	if (kvt_cached(vm, 16))		/* from a slab: no top-down placement */
		cr_assert(vmem_contains(vm, a), "got " KVT_X, a);
	else
		cr_assert_eq(a, VMEM_ADDR_MAX - 15);
	vmem_free(vm, a, 16);
	vmem_qcache_drain(vm);
	cr_assert_eq(vmem_xalloc_addr(vm, VMEM_ADDR_MAX - 15, 16, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, base, 0x10000 - 16, M_NOWAIT), 0);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	/* Free the last block first, then its neighbour: they coalesce. */
	vmem_xfree(vm, VMEM_ADDR_MAX - 15, 16);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_xfree(vm, base, 0x10000 - 16);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 2);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0x10000);
	/* The whole top span in one piece, by every strategy. */
	static const int fits[] = { 0, M_BESTFIT, M_NEXTFIT, VMEM_TOPDOWN };
	for (int f = 0; f < 4; f++) {
		cr_assert_eq(vmem_alloc(vm, 0x10000, M_NOWAIT | fits[f], &a), 0);
		cr_assert_eq(a, base);
		vmem_free(vm, a, 0x10000);
	}
	cr_assert_eq(vmem_xalloc(vm, 0x100, 0, 0, 0, VMEM_ADDR_MAX - 0xff,
	    VMEM_ADDR_MAX, M_NOWAIT, &a), 0);
	cr_assert_eq(a, VMEM_ADDR_MAX - 0xff);
	vmem_xfree(vm, a, 0x100);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(add, whole_top_half)
{
	/* A span of 2^63 bytes ending at VMEM_ADDR_MAX. */
	vmem_size_t half = (vmem_size_t)1 << 63;
	vmem_t *vm = kvt_vmem_create("half", 0, 0, 4096, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vmem_add(vm, half, half, M_NOWAIT), 0);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), half);
	cr_assert_eq(vmem_alloc(vm, half, M_NOWAIT, &a), 0);
	cr_assert_eq(a, half);
	vmem_free(vm, a, half);
	cr_assert_eq(vmem_xalloc(vm, 4096, (vmem_size_t)1 << 62, 0, 0,
	    VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	cr_assert_eq(a, half + ((vmem_size_t)1 << 62));
	vmem_xfree(vm, a, 4096);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(add, adjacent_spans_do_not_merge)
{
	vmem_t *vm = kvt_vmem_create("adj", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vmem_add(vm, 0x2000, 0x1000, M_NOWAIT), 0);
	cr_assert_eq(vmem_add(vm, 0x800, 0x800, M_NOWAIT), 0);
	cr_assert_eq(kvt_count(vm, VMEM_SPAN), 3);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 3,
	    "free segments never cross span boundaries");
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0x1000);
	cr_assert_eq(vmem_alloc(vm, 0x1010, M_NOWAIT, &a), ENOMEM);
	cr_assert_eq(vmem_alloc(vm, 0x1010, M_NOWAIT | M_BESTFIT, &a), ENOMEM);
	cr_assert_eq(vmem_xalloc(vm, 0x20, 0, 0, 0, 0x1ff0, 0x200f, M_NOWAIT, &a),
	    ENOMEM, "the only window crosses the span boundary");
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(add, coalescing_within_span)
{
	vmem_t *vm = kvt_vmem_create("co", 0, 0, 1, 0, M_WAITOK);
	struct kvt_seg seg[8];

	cr_assert_eq(vmem_add(vm, 100, 100, M_NOWAIT), 0);
	cr_assert_eq(vmem_add(vm, 200, 100, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 180, 40, M_NOWAIT), ENOMEM);
	cr_assert_eq(vmem_xalloc_addr(vm, 180, 20, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 200, 20, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 150, 30, M_NOWAIT), 0);
	vmem_xfree(vm, 180, 20);
	vmem_xfree(vm, 200, 20);
	cr_assert_eq(kvt_collect(vm, VMEM_FREE, seg, 8), 3);
	cr_assert(seg[0].addr == 100 && seg[0].size == 50);
	cr_assert(seg[1].addr == 180 && seg[1].size == 20);
	cr_assert(seg[2].addr == 200 && seg[2].size == 100);
	vmem_xfree(vm, 150, 30);
	cr_assert_eq(kvt_collect(vm, VMEM_FREE, seg, 8), 2);
	cr_assert(seg[0].addr == 100 && seg[0].size == 100);
	cr_assert(seg[1].addr == 200 && seg[1].size == 100);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(add, many_spans)
{
	vmem_t *vm = kvt_vmem_create("many", 0, 0, 4096, 0, M_WAITOK);
	vmem_addr_t a[200];

	/* Added in a scrambled order. */
	for (int i = 0; i < 200; i++) {
		vmem_addr_t base = (vmem_addr_t)((i * 73) % 200) * 0x10000 + 0x100000;
		cr_assert_eq(vmem_add(vm, base, 0x8000, M_NOWAIT), 0, "i %d", i);
	}
	cr_assert_eq(kvt_stats(vm).spans, 200);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 200 * 0x8000);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(vmem_alloc(vm, 0x8000, M_NOWAIT | M_NEXTFIT, &a[i]), 0);
		cr_assert_eq(a[i] % 0x10000, 0);
	}
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0);
	cr_assert_eq(vmem_check(vm), 0);
	for (int i = 0; i < 200; i++)
		vmem_free(vm, a[i], 0x8000);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 200);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}
