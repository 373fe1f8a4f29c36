/*
 * test_kmem_contig.c -- kmem_alloc_attr_k and kmem_alloc_contig_k: the
 * physical constraints, memory attributes, bad arguments, impossible
 * requests (bounded even with M_WAITOK), and fault injection at every
 * page and page-table page.
 */
#include "kmem_test.h"

TestSuite(kmem_contig, .fini = kt_fini);

static vm_paddr_t
pa_of(struct kmem *k, vm_offset_t va)
{
	return pmap_kextract(kmem_sim(k), va);
}

Test(kmem_contig, contiguous_aligned_bounded)
{
	struct kmem *k = kt_make(2, 32 * MiB, NULL);
	vm_paddr_t d1s, d1e;
	vm_offset_t va;

	cr_assert_eq(pmap_sim_domain_range(kmem_sim(k), 1, &d1s, &d1e), 0);
	/* 5 pages, 64 KiB aligned, not crossing 32 KiB... impossible: boundary < size. */
	errno = 0;
	cr_assert_eq(kmem_alloc_contig_k(k, 9 * PG, M_NOWAIT, 0, ~(vm_paddr_t)0, 0, 32 * 1024,
	    VM_MEMATTR_DEFAULT), 0);
	cr_assert_eq(errno, EINVAL);

	/* Physically contiguous, aligned, inside [low, high) of domain 1. */
	va = kmem_alloc_contig_k(k, 5 * PG, M_WAITOK | M_ZERO, d1s + 3 * MiB, d1e, 64 * 1024,
	    0, VM_MEMATTR_DEFAULT);
	cr_assert_neq(va, 0);
	vm_paddr_t pa = pa_of(k, va);
	cr_assert_eq(pa % (64 * 1024), 0, "pa 0x%" PRIx64, pa);
	cr_assert_geq(pa, d1s + 3 * MiB);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(pa_of(k, va + (vm_offset_t)i * PG), pa + (vm_paddr_t)i * PG);
	cr_assert_eq(kt_domain_of(k, va), 1);
	cr_assert(kt_is_zero(k, va, 5 * PG));
	kt_fill(k, va, 5 * PG, 3);
	kt_check(k);

	/* Not crossing a 16 KiB boundary: 4 pages exactly aligned to it. */
	vm_offset_t vb = kmem_alloc_contig_k(k, 4 * PG, M_NOWAIT, 0, ~(vm_paddr_t)0, 0, 16 * 1024,
	    VM_MEMATTR_UNCACHEABLE);
	cr_assert_neq(vb, 0);
	vm_paddr_t pb = pa_of(k, vb);
	cr_assert_eq(pb / (16 * 1024), (pb + 4 * PG - 1) / (16 * 1024));
	uint64_t pte = pmap_sim_kpte(kmem_sim(k), vb, NULL);
	cr_assert(pte & PMAP_PG_PCD, "uncacheable");
	cr_assert_eq(vm_page_memattr(vm_page_from_phys(kmem_sim(k), pb)), VM_MEMATTR_UNCACHEABLE);
	cr_assert(kt_verify(k, va, 5 * PG, 3));
	kt_check(k);
	kmem_free_k(k, vb, 4 * PG);
	kmem_free_k(k, va, 5 * PG);
	cr_assert_eq(kt_stats(k).pages, 0);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_contig, attr_pages_in_range)
{
	struct kmem *k = kt_make(2, 32 * MiB, NULL);
	vm_paddr_t d0s, d0e, lo, hi;
	vm_offset_t va;

	cr_assert_eq(pmap_sim_domain_range(kmem_sim(k), 0, &d0s, &d0e), 0);
	lo = d0s + 8 * MiB;
	hi = d0s + 9 * MiB;
	va = kmem_alloc_attr_k(k, 20 * PG, M_WAITOK | M_ZERO, lo, hi, VM_MEMATTR_WRITE_THROUGH);
	cr_assert_neq(va, 0);
	for (int i = 0; i < 20; i++) {
		vm_paddr_t pa = pa_of(k, va + (vm_offset_t)i * PG);
		uint64_t pte = pmap_sim_kpte(kmem_sim(k), va + (vm_offset_t)i * PG, NULL);

		cr_assert(pa >= lo && pa < hi, "page %d at 0x%" PRIx64, i, pa);
		cr_assert(pte & PMAP_PG_PWT);
		cr_assert(pte & PMAP_PG_NX);
	}
	cr_assert(kt_is_zero(k, va, 20 * PG));
	kt_check(k);
	/* Executable attr memory stays in the ordinary arena (as FreeBSD). */
	vm_offset_t vx = kmem_alloc_attr_k(k, 2 * PG, M_NOWAIT | M_EXEC, 0, ~(vm_paddr_t)0,
	    VM_MEMATTR_DEFAULT);
	cr_assert_neq(vx, 0);
	cr_assert_eq(pmap_sim_kpte(kmem_sim(k), vx, NULL) & PMAP_PG_NX, 0);
	cr_assert_eq(vmem_size(kmem_rwx_arena(k, kt_domain_of(k, vx)), VMEM_ALLOC), 0);
	kt_check(k);
	kmem_free_k(k, vx, 2 * PG);
	kmem_free_k(k, va, 20 * PG);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_contig, bad_arguments)
{
	struct kmem *k = kt_make(1, 16 * MiB, NULL);
	struct kt_snap s0 = kt_snap(k), s1;
	const vm_paddr_t H = ~(vm_paddr_t)0;

	errno = 0;
	cr_assert_eq(kmem_alloc_contig_k(k, PG, M_NOWAIT, 5 * MiB, 5 * MiB, 0, 0, 0), 0);
	cr_assert_eq(errno, EINVAL, "low >= high");
	errno = 0;
	cr_assert_eq(kmem_alloc_contig_k(k, PG, M_NOWAIT, 0, H, 3 * PG, 0, 0), 0);
	cr_assert_eq(errno, EINVAL, "alignment not a power of two");
	errno = 0;
	cr_assert_eq(kmem_alloc_contig_k(k, PG, M_NOWAIT, 0, H, 0, 3 * PG, 0), 0);
	cr_assert_eq(errno, EINVAL, "boundary not a power of two");
	errno = 0;
	cr_assert_eq(kmem_alloc_contig_k(k, PG, M_NOWAIT, 0, H, 0, 0, 9), 0);
	cr_assert_eq(errno, EINVAL, "memory attribute");
	errno = 0;
	cr_assert_eq(kmem_alloc_contig_k(k, 0, M_NOWAIT, 0, H, 0, 0, 0), 0);
	cr_assert_eq(errno, EINVAL, "size 0");
	errno = 0;
	cr_assert_eq(kmem_alloc_attr_k(k, PG, M_NOWAIT, 9, 2, 0), 0);
	cr_assert_eq(errno, EINVAL, "attr low >= high");
	errno = 0;
	cr_assert_eq(kmem_alloc_attr_k(k, PG, 0, 0, H, 0), 0);
	cr_assert_eq(errno, EINVAL, "attr flags");
	s1 = kt_snap(k);
	kt_snap_same(&s0, &s1, "rejected contig/attr");
	kmem_destroy(k);
}

Test(kmem_contig, impossible_requests_end)
{
	struct kmem *k = kt_make(2, 16 * MiB, NULL);
	struct kt_snap s0, s1;

	/* Warm both arenas. */
	for (int d = 0; d < 2; d++)
		kmem_free_k(k, kmem_malloc_domain_k(k, d, PG, M_WAITOK), PG);
	s0 = kt_snap(k);
	/* More than any domain holds, and a range with no memory at all. */
	errno = 0;
	cr_assert_eq(kmem_alloc_contig_k(k, 20 * MiB, M_NOWAIT, 0, ~(vm_paddr_t)0, 0, 0, 0), 0);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(kmem_alloc_contig_k(k, PG, M_NOWAIT, 1ull << 40, 1ull << 41, 0, 0, 0), 0);
	cr_assert_eq(kmem_alloc_attr_k(k, PG, M_NOWAIT, 1ull << 40, 1ull << 41, 0), 0);
	/* With M_WAITOK the iteration waits a bounded number of times, then gives up. */
	uint64_t w0 = kt_stats(k).waits;
	cr_assert_eq(kmem_alloc_contig_k(k, PG, M_WAITOK, 1ull << 40, 1ull << 41, 0, 0, 0), 0);
	cr_assert_eq(errno, ENOMEM);
	cr_assert_eq(kt_stats(k).waits - w0, KMEM_CONTIG_TRIES);
	cr_assert_eq(kmem_alloc_attr_k(k, PG, M_WAITOK, 1ull << 40, 1ull << 41, 0), 0);
	s1 = kt_snap(k);
	kt_snap_same(&s0, &s1, "impossible requests");
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_contig, fault_at_every_point)
{
	struct kmem *k = kt_make(1, 16 * MiB, NULL);
	vm_offset_t va;
	uint64_t n;

	kmem_free_k(k, kmem_alloc_contig_k(k, 16 * PG, M_NOWAIT, 0, ~(vm_paddr_t)0, 0, 0, 0),
	    16 * PG);
	kmem_free_k(k, kmem_alloc_attr_k(k, 16 * PG, M_NOWAIT, 0, ~(vm_paddr_t)0, 0), 16 * PG);
	/* The contiguous run is one allocation attempt: it fails or not. */
	for (n = 0; n < 2; n++) {
		struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PAGES, n, 1);
		struct kt_snap s0 = kt_snap(k), s1;

		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
		va = kmem_alloc_contig_k(k, 16 * PG, M_NOWAIT, 0, ~(vm_paddr_t)0, 0, 0, 0);
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
		if (n == 0) {
			cr_assert_eq(va, 0);
			s1 = kt_snap(k);
			kt_snap_same(&s0, &s1, "contig with a failed page run");
		} else {
			cr_assert_neq(va, 0);
			kmem_free_k(k, va, 16 * PG);
		}
	}
	/* attr allocates page by page: fail each one in turn. */
	for (n = 0; n <= 16; n++) {
		struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PAGES, n, 1);
		struct kt_snap s0 = kt_snap(k), s1;

		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
		va = kmem_alloc_attr_k(k, 16 * PG, M_NOWAIT | M_ZERO, 0, ~(vm_paddr_t)0, 0);
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
		if (n < 16) {
			cr_assert_eq(va, 0, "attr fault at page %" PRIu64, n);
			s1 = kt_snap(k);
			kt_snap_same(&s0, &s1, "attr failing part-way");
		} else {
			cr_assert_neq(va, 0);
			kt_check(k);
			kmem_free_k(k, va, 16 * PG);
		}
	}
	/* Page-table pages: contig and attr in a fresh part of the address space. */
	vm_offset_t gap = kva_alloc_k(k, 4 * GiB);	/* the next imports land in a fresh GiB */
	static vm_offset_t hog[1024];
	int nhog = 0;

	cr_assert_neq(gap, 0);
	for (int which = 0; which < 2; which++) {
		bool done = false;

		/* Use up the arena's free space so the request must import new KVA. */
		while (vmem_size(kmem_domain_arena(k, 0), VMEM_FREE) != 0) {
			cr_assert_lt(nhog, 1024);
			hog[nhog] = kmem_malloc_k(k, PG, M_NOWAIT);
			cr_assert_neq(hog[nhog], 0);
			nhog++;
		}
		for (n = 0; !done; n++) {
			struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PTPAGES, n, 1);
			struct kt_snap s0 = kt_snap(k), s1;

			cr_assert_lt(n, 8);
			cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
			va = which == 0 ?
			    kmem_alloc_contig_k(k, 4 * PG, M_NOWAIT, 0, ~(vm_paddr_t)0, 0, 0, 0) :
			    kmem_alloc_attr_k(k, 4 * PG, M_NOWAIT, 0, ~(vm_paddr_t)0, 0);
			cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
			if (va == 0) {
				s1 = kt_snap(k);
				/* the arena keeps the KVA it imported: compare the rest */
				s0.arena_inuse[2 * KT_MAXD] = s1.arena_inuse[2 * KT_MAXD];
				kt_snap_same(&s0, &s1, "page-table page failure");
				kt_check(k);
				continue;
			}
			cr_assert_gt(n, 0, "fresh KVA needs page-table pages (%d)", which);
			kt_check(k);
			kmem_free_k(k, va, 4 * PG);
			done = true;
		}
	}
	while (nhog > 0)
		kmem_free_k(k, hog[--nhog], PG);
	kva_free_k(k, gap, 4 * GiB);
	kt_check(k);
	kmem_destroy(k);
}
