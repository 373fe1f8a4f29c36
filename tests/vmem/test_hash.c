/*
 * test_hash.c -- the busy-segment hash resizes itself: it grows with the
 * number of live allocations, shrinks after they are freed, and its chains
 * stay short whatever the address pattern (dense, page-strided, 1 MiB
 * aligned).
 */
#include <errno.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(hash, .fini = kvt_fini_no_live);

#define NLIVE		100000
#define MAX_CHAIN	16

static void
grow_and_shrink(vmem_size_t q, vmem_size_t size, vmem_size_t align, int n)
{
	uint64_t seed = kvt_seed();
	struct kvt_rng r;
	vmem_size_t span = (vmem_size_t)n * (align > size ? align : size) * 2;
	vmem_t *vm = kvt_vmem_create("hash", align, span, q, 0, M_WAITOK);
	vmem_addr_t *a = malloc((size_t)n * sizeof(*a));
	struct vmem_stats st0, st1, st2;

	cr_assert_not_null(vm);
	cr_assert_not_null(a);
	kvt_rng_init(&r, seed);
	st0 = kvt_stats(vm);
	for (int i = 0; i < n; i++)
		cr_assert_eq(vmem_xalloc(vm, size, align, 0, 0, VMEM_ADDR_MIN,
		    VMEM_ADDR_MAX, M_NOWAIT, &a[i]), 0, "i %d", i);
	st1 = kvt_stats(vm);
	cr_assert_eq(st1.busy_segs, (uint64_t)n);
	cr_assert_gt(st1.hash_buckets, st0.hash_buckets,
	    "q %zu align %zu: buckets %" PRIu64 " -> %" PRIu64, q, align,
	    st0.hash_buckets, st1.hash_buckets);
	cr_assert_geq(st1.hash_buckets * 16, (uint64_t)n,
	    "q %zu align %zu: %" PRIu64 " buckets for %d live", q, align,
	    st1.hash_buckets, n);
	cr_assert_leq(st1.hash_longest_chain, MAX_CHAIN,
	    "q %zu align %zu: longest chain %" PRIu64, q, align,
	    st1.hash_longest_chain);
	cr_assert_gt(st1.hash_resizes, 0);
	cr_assert_eq(vmem_check(vm), 0);

	/* Free in a random order, all but a handful. */
	for (int i = n - 1; i > 0; i--) {
		int j = (int)kvt_below(&r, (uint64_t)i + 1);
		vmem_addr_t t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
	for (int i = 0; i < n - 10; i++)
		vmem_xfree(vm, a[i], size);
	st2 = kvt_stats(vm);
	cr_assert_eq(st2.busy_segs, 10);
	cr_assert_lt(st2.hash_buckets, st1.hash_buckets,
	    "q %zu align %zu: the hash did not shrink (%" PRIu64 " buckets, "
	    "seed %" PRIu64 ")", q, align, st2.hash_buckets, seed);
	cr_assert_leq(st2.hash_longest_chain, MAX_CHAIN);
	cr_assert_eq(vmem_check(vm), 0);
	for (int i = n - 10; i < n; i++)
		vmem_xfree(vm, a[i], size);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	vmem_destroy(vm);
	free(a);
}

Test(hash, dense_quantum_one, .timeout = 120)
{
	grow_and_shrink(1, 1, 0, NLIVE);
}

Test(hash, page_strided, .timeout = 120)
{
	grow_and_shrink(4096, 4096, 0, NLIVE);
}

Test(hash, megabyte_aligned, .timeout = 120)
{
	grow_and_shrink(4096, 4096, (vmem_size_t)1 << 20, NLIVE / 4);
}

Test(hash, lookups_after_growth, .timeout = 120)
{
	/* Segment-only: looks up vmem_alloc'd 64-byte blocks in the segment
	 * hash by exact address; caches would keep them in slabs. */
	vmem_t *vm = vmem_create("look", 0, (vmem_size_t)1 << 30, 16, 0, M_WAITOK);
	vmem_addr_t a;
	struct kvt_misuse_log log = { 0 };

	vmem_set_misuse_handler(vm, kvt_misuse_record, &log);
	for (int i = 0; i < NLIVE; i++) {
		cr_assert_eq(vmem_alloc(vm, 64, M_NOWAIT, &a), 0);
		cr_assert_eq(a, (vmem_addr_t)i * 64, "bottom-up from one segment");
	}
	/* Every live block is still found with its size after the resizes. */
	for (int i = 0; i < NLIVE; i += 7)
		vmem_free(vm, (vmem_addr_t)i * 64, 64);
	cr_assert_eq(log.count, 0, "a live block was not found: %s", log.msg);
	vmem_free(vm, 64, 16);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VMEM_MISUSE_SIZE_MISMATCH, "found with its size");
	/* And freed blocks are not. */
	vmem_free(vm, 7 * 64, 64);
	cr_assert_eq(log.count, 2);
	cr_assert_eq(log.kind, VMEM_MISUSE_DOUBLE_FREE);
	cr_assert_eq(vmem_alloc(vm, 32, M_NOWAIT | M_BESTFIT, &a), 0);
	vmem_free(vm, a, 32);
	for (int i = 0; i < NLIVE; i++)
		if (i % 7 != 0)
			vmem_free(vm, (vmem_addr_t)i * 64, 64);
	cr_assert_eq(log.count, 2);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}
