/*
 * test_kmem_malloc.c -- kmem_malloc_k / kmem_free_k: what an allocation is
 * (pages of its domain, kernel object at the matching index, wired,
 * protection, zeroing), data integrity, superpage promotion, the exec
 * arenas, bad arguments (EINVAL, nothing changed) and bad frees (misuse,
 * nothing changed).
 */
#include "kmem_test.h"

TestSuite(kmem_malloc, .fini = kt_fini);

/* Every page of [va, va + size) as kmem_malloc promises. */
static void
assert_backed(struct kmem *k, vm_offset_t va, vm_size_t size, int domain, bool exec)
{
	for (vm_offset_t v = va; v < va + size; v += PG) {
		int level = 0;
		uint64_t pte = pmap_sim_kpte(kmem_sim(k), v, &level);
		vm_paddr_t pa = pmap_kextract(kmem_sim(k), v);
		vm_page_t m = vm_page_from_phys(kmem_sim(k), pa);

		cr_assert_not_null(m, "0x%" PRIx64 " mapped", (uint64_t)v);
		cr_assert_eq(vm_page_object(m), kmem_kernel_object(k));
		cr_assert_eq(vm_page_pindex(m), (v - KT_KVA) / PG, "pindex of 0x%" PRIx64,
		    (uint64_t)v);
		cr_assert_eq(vm_page_domain(m), domain, "domain of 0x%" PRIx64, (uint64_t)v);
		cr_assert_eq(vm_page_wire_count(m), 1);
		cr_assert(pte & PMAP_PG_W, "wired mapping");
		cr_assert(pte & PMAP_PG_RW);
		cr_assert_eq((pte & PMAP_PG_NX) == 0, exec, "exec %d at 0x%" PRIx64, exec,
		    (uint64_t)v);
	}
}

Test(kmem_malloc, sizes_and_backing)
{
	struct kmem *k = kt_make(1, 64 * MiB, NULL);
	static const vm_size_t sizes[] = { 1, PG, PG + 1, 8 * PG, 512 * PG, 700 * PG };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		vm_size_t rs = (sizes[i] + PG - 1) & ~(PG - 1);
		vm_offset_t va = kmem_malloc_k(k, sizes[i], M_WAITOK);

		cr_assert_neq(va, 0, "size %zu", (size_t)sizes[i]);
		cr_assert_eq(va % PG, 0);
		assert_backed(k, va, rs, 0, false);
		cr_assert_eq(pmap_kextract(kmem_sim(k), va + rs), 0, "nothing past the end");
		cr_assert_eq(kt_stats(k).pages, rs / PG);
		cr_assert_eq(vmem_size(kmem_domain_arena(k, 0), VMEM_ALLOC), rs);
		kt_check(k);
		kmem_free_k(k, va, sizes[i]);	/* any size rounding to the same pages */
		cr_assert_eq(pmap_kextract(kmem_sim(k), va), 0);
		cr_assert_eq(kt_stats(k).pages, 0);
		cr_assert_eq(vmem_size(kmem_domain_arena(k, 0), VMEM_ALLOC), 0);
		kt_check(k);
	}
	struct kmem_stats st = kt_stats(k);
	cr_assert_eq(st.allocs, 6);
	cr_assert_eq(st.frees, 6);
	cr_assert_eq(st.local_pages, 1 + 1 + 2 + 8 + 512 + 700);
	cr_assert_eq(st.remote_pages, 0);
	cr_assert_eq(st.access_cost, 10 * st.local_pages);
	kmem_destroy(k);
}

Test(kmem_malloc, zeroing_and_integrity)
{
	struct kmem *k = kt_make(1, 32 * MiB, NULL);
	vm_offset_t va[16];
	int i;

	/* Dirty memory, free it, reallocate with M_ZERO: zeros. */
	for (i = 0; i < 16; i++) {
		va[i] = kmem_malloc_k(k, (vm_size_t)(i + 1) * PG, M_WAITOK);
		cr_assert_neq(va[i], 0);
		kt_fill(k, va[i], (size_t)(i + 1) * PG, 100 + (uint64_t)i);
	}
	for (i = 0; i < 16; i += 2)
		kmem_free_k(k, va[i], (vm_size_t)(i + 1) * PG);
	for (i = 0; i < 16; i += 2) {
		va[i] = kmem_malloc_k(k, (vm_size_t)(i + 1) * PG, M_WAITOK | M_ZERO);
		cr_assert_neq(va[i], 0);
		cr_assert(kt_is_zero(k, va[i], (size_t)(i + 1) * PG), "M_ZERO allocation %d", i);
		kt_fill(k, va[i], (size_t)(i + 1) * PG, 200 + (uint64_t)i);
	}
	/* Patterns of every allocation survive the others' churn. */
	for (i = 0; i < 16; i++)
		cr_assert(kt_verify(k, va[i], (size_t)(i + 1) * PG,
		    (i % 2 ? 100 : 200) + (uint64_t)i), "pattern %d", i);
	for (i = 1; i < 16; i += 2)
		kmem_free_k(k, va[i], (vm_size_t)(i + 1) * PG);
	for (i = 0; i < 16; i += 2)
		cr_assert(kt_verify(k, va[i], (size_t)(i + 1) * PG, 200 + (uint64_t)i));
	for (i = 0; i < 16; i += 2)
		kmem_free_k(k, va[i], (vm_size_t)(i + 1) * PG);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_malloc, full_chunk_is_promoted)
{
	struct kmem *k = kt_make(1, 32 * MiB, NULL);
	vm_offset_t va = kmem_malloc_k(k, 512 * PG, M_WAITOK | M_ZERO);
	int level = 0;
	uint64_t pte;

	cr_assert_neq(va, 0);
	cr_assert_eq(va % SPG, 0, "a fresh import starts on a superpage boundary");
	pte = pmap_sim_kpte(kmem_sim(k), va + 77 * PG, &level);
	cr_assert_eq(level, 2, "promoted to a 2 MiB mapping");
	cr_assert(pte & PMAP_PG_PS);
	cr_assert(pte & PMAP_PG_NX);
	cr_assert(kt_is_zero(k, va, 512 * PG));
	kt_fill(k, va, 512 * PG, 7);
	cr_assert(kt_verify(k, va, 512 * PG, 7));
	struct kmem_stats st = kt_stats(k);
	cr_assert_eq(st.pde_promotions, 1);
	kt_check(k);
	kmem_free_k(k, va, 512 * PG);
	cr_assert_eq(pmap_kextract(kmem_sim(k), va + 77 * PG), 0);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_malloc, exec_arena)
{
	struct kmem *k = kt_make(2, 32 * MiB, NULL);
	vmem_t *rwx0 = kmem_rwx_arena(k, 0);
	vm_offset_t a = kmem_malloc_domain_k(k, 0, 3 * PG, M_WAITOK | M_EXEC);
	vm_offset_t b = kmem_malloc_domain_k(k, 0, 3 * PG, M_WAITOK);

	cr_assert(a != 0 && b != 0);
	assert_backed(k, a, 3 * PG, 0, true);
	assert_backed(k, b, 3 * PG, 0, false);
	cr_assert_neq(a / SPG, b / SPG, "executable and ordinary memory never share a chunk");
	cr_assert_eq(vmem_size(rwx0, VMEM_ALLOC), 3 * PG);
	cr_assert_eq(vmem_size(rwx0, VMEM_ALLOC | VMEM_FREE), 2 * MiB, "imports one quantum");
	kt_check(k);
	kmem_free_k(k, a, 3 * PG);	/* found in the rwx arena without being told */
	cr_assert_eq(vmem_size(rwx0, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_size(rwx0, VMEM_ALLOC | VMEM_FREE), 0, "and releases it");
	kmem_free_k(k, b, 3 * PG);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_malloc, bad_arguments_change_nothing)
{
	struct kmem *k = kt_make(2, 32 * MiB, NULL);
	vm_offset_t keep = kmem_malloc_k(k, PG, M_WAITOK);
	struct kt_snap s0 = kt_snap(k), s1;
	struct domainset empty;
	static const struct {
		vm_size_t	size;
		int		flags;
		const char	*what;
	} cases[] = {
		{ 0, M_WAITOK, "size 0" },
		{ ~(vm_size_t)0, M_WAITOK, "size overflowing the rounding" },
		{ ~(vm_size_t)0 - PG + 2, M_NOWAIT, "size overflowing the rounding (2)" },
		{ PG, 0, "neither M_NOWAIT nor M_WAITOK" },
		{ PG, M_NOWAIT | M_WAITOK, "both M_NOWAIT and M_WAITOK" },
		{ PG, M_WAITOK | M_USE_RESERVE, "M_USE_RESERVE without M_NOWAIT" },
		{ PG, M_WAITOK | M_BESTFIT, "a vmem fit flag" },
		{ PG, M_WAITOK | 0x100000, "an unknown flag" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errno = 0;
		cr_assert_eq(kmem_malloc_k(k, cases[i].size, cases[i].flags), 0, "%s", cases[i].what);
		cr_assert_eq(errno, EINVAL, "%s: errno %d", cases[i].what, errno);
	}
	errno = 0;
	cr_assert_eq(kmem_malloc_domain_k(k, 2, PG, M_WAITOK), 0);
	cr_assert_eq(errno, EINVAL, "domain out of range");
	cr_assert_eq(kmem_malloc_domain_k(k, -1, PG, M_WAITOK), 0);
	memset(&empty, 0, sizeof(empty));
	errno = 0;
	cr_assert_eq(kmem_malloc_domainset_k(k, &empty, PG, M_WAITOK), 0);
	cr_assert_eq(errno, EINVAL, "uninitialized set");
	domainset_t m3 = DOMAINSET_T_INITIALIZER(0x8);
	struct domainset ds3;
	cr_assert_eq(domainset_init(&ds3, DOMAINSET_POLICY_ROUNDROBIN, &m3, -1), 0);
	errno = 0;
	cr_assert_eq(kmem_malloc_domainset_k(k, &ds3, PG, M_WAITOK), 0);
	cr_assert_eq(errno, EINVAL, "a set naming domain 3 of a 2-domain machine");
	cr_assert_eq(kt_stats(k).einval, 12);
	s1 = kt_snap(k);
	kt_snap_same(&s0, &s1, "rejected calls");
	kt_check(k);
	kmem_free_k(k, keep, PG);
	kmem_destroy(k);
}

Test(kmem_malloc, bad_frees_change_nothing)
{
	struct kt_log log = { 0 };
	struct kmem *k = kt_make(1, 32 * MiB, &log);
	vm_offset_t a = kmem_malloc_k(k, 4 * PG, M_WAITOK);
	vm_offset_t b = kmem_malloc_k(k, 4 * PG, M_WAITOK);
	vm_offset_t kv = kva_alloc_k(k, 2 * PG);
	struct kt_snap s0, s1;
	static const char *const want[] = {
		"size is smaller", "size is larger", "not the start", "not allocated",
		"not a page-aligned", "not a page-aligned", "not the start", "not a page-aligned",
		"not allocated",
	};

	cr_assert(a != 0 && b != 0 && kv != 0);
	cr_assert_eq(b, a + 4 * PG, "adjacent (best fit from one span)");
	cr_assert_eq(kmem_back_k(k, kv, 2 * PG, M_WAITOK), KERN_SUCCESS);
	kt_check(k);
	s0 = kt_snap(k);
	kmem_free_k(k, a, 3 * PG);
	kmem_free_k(k, a, 5 * PG);
	kmem_free_k(k, a + PG, 3 * PG);
	kmem_free_k(k, a + 64 * PG, PG);
	kmem_free_k(k, a + 1, 4 * PG);
	kmem_free_k(k, a, 0);
	kmem_free_k(k, kv, 2 * PG);		/* kva_alloc + kmem_back: not kmem_malloc */
	kmem_free_k(k, 0x1000, PG);
	kmem_free_k(k, KT_KVA + 63 * GiB, PG);
	cr_assert_eq(log.count, 9, "%d reports", log.count);
	cr_assert_eq(log.kind, KMEM_MISUSE_BAD_FREE);
	s1 = kt_snap(k);
	kt_snap_same(&s0, &s1, "bad frees");
	kt_check(k);
	/* Each message says what was wrong (checked on a fresh log each time). */
	for (int i = 0; i < 9; i++) {
		static const struct {
			vm_offset_t off;
			vm_size_t size;
		} c[] = {
			{ 0, 3 * PG }, { 0, 5 * PG }, { PG, 3 * PG }, { 64 * PG, PG },
			{ 1, 4 * PG }, { 0, 0 },
		};
		memset(&log, 0, sizeof(log));
		if (i < 6)
			kmem_free_k(k, a + c[i].off, c[i].size);
		else if (i == 6)
			kmem_free_k(k, kv, 2 * PG);
		else if (i == 7)
			kmem_free_k(k, 0x1000, PG);
		else
			kmem_free_k(k, KT_KVA + 63 * GiB, PG);
		cr_assert(strstr(log.msg, want[i]) != NULL, "case %d: %s", i, log.msg);
		cr_assert(strstr(log.msg, "kmem_free_k") != NULL, "%s", log.msg);
	}
	kmem_free_k(k, a, 4 * PG);
	memset(&log, 0, sizeof(log));
	s0 = kt_snap(k);
	kmem_free_k(k, a, 4 * PG);
	cr_assert_eq(log.count, 1);
	cr_assert(strstr(log.msg, "double free") != NULL, "%s", log.msg);
	s1 = kt_snap(k);
	kt_snap_same(&s0, &s1, "double free");
	kmem_free_k(k, b, 4 * PG);
	kmem_unback_k(k, kv, 2 * PG);
	kva_free_k(k, kv, 2 * PG);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_malloc, exhaustion_nowait_and_reserve)
{
	struct kmem *k = kt_make(1, 8 * MiB, NULL);
	vm_offset_t va[4096];
	int n = 0;

	while (n < 4096 && (va[n] = kmem_malloc_k(k, PG, M_NOWAIT)) != 0)
		n++;
	cr_assert_lt(n, 4096);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_gt(n, 1900, "most of an 8 MiB domain (%d pages)", n);
	uint64_t left = kt_free_pages(k, 0);
	cr_assert_lt(left, 16, "%" PRIu64 " pages left", left);
	/* M_USE_RESERVE may take what is left. */
	vm_offset_t r = kmem_malloc_k(k, PG, M_NOWAIT | M_USE_RESERVE);
	cr_assert_neq(r, 0, "the reserve");
	struct kmem_stats st = kt_stats(k);
	cr_assert_eq(st.alloc_fails, 1);
	kt_check(k);
	kmem_free_k(k, r, PG);
	while (n > 0)
		kmem_free_k(k, va[--n], PG);
	kt_check(k);
	kmem_destroy(k);
}
