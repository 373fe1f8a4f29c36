/*
 * test_kmem_back.c -- kva_alloc_k / kva_free_k, kmem_back_k /
 * kmem_back_domain_k / kmem_unback_k, and fault injection at every page
 * and page-table page of kmem_back and kmem_malloc: a failure leaves the
 * machine, the arenas and the records exactly as they were.
 */
#include "kmem_test.h"

TestSuite(kmem_back, .fini = kt_fini);

Test(kmem_back, kva_alloc_and_free)
{
	struct kt_log log = { 0 };
	struct kmem *k = kt_make(1, 16 * MiB, &log);
	vmem_t *ka = kmem_kernel_arena(k);
	vm_size_t before = vmem_size(ka, VMEM_ALLOC);
	vm_offset_t a = kva_alloc_k(k, 1), b = kva_alloc_k(k, 5 * PG);

	cr_assert(a != 0 && b != 0);
	cr_assert_eq(vmem_size(ka, VMEM_ALLOC), before + 6 * PG, "rounded to pages");
	cr_assert_eq(pmap_kextract(kmem_sim(k), a), 0, "no mapping");
	errno = 0;
	cr_assert_eq(kva_alloc_k(k, 0), 0);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(kva_alloc_k(k, ~(vm_size_t)0), 0);
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_eq(kva_alloc_k(k, 65 * GiB), 0, "more than the kernel map");
	cr_assert_eq(errno, ENOMEM);

	/* Backed KVA cannot be given back. */
	cr_assert_eq(kmem_back_k(k, b, 5 * PG, M_NOWAIT), KERN_SUCCESS);
	kva_free_k(k, b, 5 * PG);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, KMEM_MISUSE_BACKED);
	cr_assert_eq(vmem_size(ka, VMEM_ALLOC), before + 6 * PG);
	kmem_unback_k(k, b, 5 * PG);
	kva_free_k(k, b, 5 * PG);
	kva_free_k(k, a, PG);
	cr_assert_eq(vmem_size(ka, VMEM_ALLOC), before);
	/* A double kva_free is the arena's misuse, forwarded. */
	kva_free_k(k, a, PG);
	cr_assert_eq(log.count, 2);
	cr_assert_eq(log.kind, KMEM_MISUSE_ARENA);
	cr_assert(strstr(log.msg, "kernel arena") != NULL, "%s", log.msg);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_back, back_by_chunk_address)
{
	struct kmem *k = kt_make(3, 32 * MiB, NULL);
	vm_offset_t r = kva_alloc_k(k, 16 * MiB), start, va;

	cr_assert_neq(r, 0);
	/* Three and a half chunks starting mid-chunk. */
	start = ((r + SPG - 1) & ~(SPG - 1)) + SPG / 2;
	cr_assert_eq(kmem_back_k(k, start, 3 * SPG + SPG / 2, M_WAITOK | M_ZERO), KERN_SUCCESS);
	for (va = start; va < start + 3 * SPG + SPG / 2; va += PG) {
		int want = (int)((va / SPG) % 3);

		cr_assert_eq(kt_domain_of(k, va), want, "0x%" PRIx64, (uint64_t)va);
	}
	cr_assert(kt_is_zero(k, start, 3 * SPG + SPG / 2));
	/* The whole chunks are promoted. */
	int level = 0;
	(void)pmap_sim_kpte(kmem_sim(k), start + SPG, &level);
	cr_assert_eq(level, 2);
	(void)pmap_sim_kpte(kmem_sim(k), start, &level);
	cr_assert_eq(level, 1, "half a chunk is not");
	struct kmem_chunk_stats cs = { .version = KMEM_STATS_VERSION };
	cr_assert_eq(kmem_chunk_census(k, &cs), 0);
	cr_assert_eq(cs.chunks, 4);
	cr_assert_eq(cs.full, 3, "half a chunk and three whole ones");
	cr_assert_eq(cs.promoted, 3);
	cr_assert_eq(cs.one_domain, 4);
	kt_check(k);
	kmem_unback_k(k, start, 3 * SPG + SPG / 2);
	cr_assert_eq(kt_stats(k).pages, 0);

	/* kmem_back_domain puts every page in the one domain. */
	cr_assert_eq(kmem_back_domain_k(k, 2, start, 2 * SPG, M_NOWAIT), KERN_SUCCESS);
	for (va = start; va < start + 2 * SPG; va += 64 * PG)
		cr_assert_eq(kt_domain_of(k, va), 2);
	cr_assert_eq(kt_dstats(k, 2).pages, 1024);
	kt_check(k);
	kmem_unback_k(k, start, 2 * SPG);
	kva_free_k(k, r, 16 * MiB);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_back, bad_arguments_and_misuse)
{
	struct kt_log log = { 0 };
	struct kmem *k = kt_make(2, 16 * MiB, &log);
	vm_offset_t r = kva_alloc_k(k, 8 * PG);
	struct kt_snap s0, s1;

	cr_assert_eq(kmem_back_k(k, r, 4 * PG, M_NOWAIT), KERN_SUCCESS);
	s0 = kt_snap(k);
	errno = 0;
	cr_assert_eq(kmem_back_k(k, r + 4 * PG + 1, PG, M_NOWAIT), KERN_INVALID_ARGUMENT);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(kmem_back_k(k, r + 4 * PG, 0, M_NOWAIT), KERN_INVALID_ARGUMENT);
	cr_assert_eq(kmem_back_k(k, r + 4 * PG, PG, 0), KERN_INVALID_ARGUMENT);
	cr_assert_eq(kmem_back_k(k, r + 4 * PG, PG, M_NOWAIT | 0x100000), KERN_INVALID_ARGUMENT);
	cr_assert_eq(kmem_back_k(k, KT_KVA + 60 * GiB, PG, M_NOWAIT), KERN_INVALID_ARGUMENT,
	    "outside the kernel arena");
	cr_assert_eq(kmem_back_domain_k(k, 2, r + 4 * PG, PG, M_NOWAIT), KERN_INVALID_ARGUMENT);
	cr_assert_eq(log.count, 0);
	/* Over backed pages: misuse. */
	cr_assert_eq(kmem_back_k(k, r + 3 * PG, 2 * PG, M_NOWAIT), KERN_INVALID_ARGUMENT);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, KMEM_MISUSE_BACKED);
	/* Unbacking a range with a hole: misuse, nothing changed. */
	kmem_unback_k(k, r + 2 * PG, 4 * PG);
	cr_assert_eq(log.count, 2);
	cr_assert_eq(log.kind, KMEM_MISUSE_NOT_BACKED);
	cr_assert(strstr(log.msg, "kmem_unback_k") != NULL, "%s", log.msg);
	kmem_unback_k(k, r + 4 * PG + 3, PG);
	cr_assert_eq(log.count, 3, "unaligned");
	kmem_unback_k(k, r, 0);		/* nothing to do, as FreeBSD */
	cr_assert_eq(log.count, 3);
	s1 = kt_snap(k);
	kt_snap_same(&s0, &s1, "rejected back/unback");
	kt_check(k);
	kmem_unback_k(k, r, 4 * PG);
	kva_free_k(k, r, 8 * PG);
	kt_check(k);
	kmem_destroy(k);
}

/*
 * Fail the n-th page allocation of a kmem_back of npages starting at va,
 * for every n: KERN_NO_SPACE and nothing changed, until n reaches npages.
 */
static void
fault_every_page(struct kmem *k, vm_offset_t va, uint64_t npages, int flags, uint64_t step)
{
	struct kmem_chunk_stats cs = { .version = KMEM_STATS_VERSION };

	for (uint64_t n = 0;; n = n + step < npages ? n + step : n + 1 < npages ? npages - 1 :
	    npages) {
		struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PAGES, n, 1);
		struct kt_snap s0 = kt_snap(k), s1;
		int rv;

		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
		rv = kmem_back_k(k, va, npages * PG, flags);
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
		if (n < npages) {
			char what[64];

			cr_assert_eq(rv, KERN_NO_SPACE, "fault at page %" PRIu64, n);
			s1 = kt_snap(k);
			snprintf(what, sizeof(what), "kmem_back failing at page %" PRIu64, n);
			kt_snap_same(&s0, &s1, what);
			continue;
		}
		cr_assert_eq(rv, KERN_SUCCESS);
		kt_check(k);
		cr_assert_eq(kmem_chunk_census(k, &cs), 0);
		cr_assert_eq(cs.one_domain, cs.chunks);
		kmem_unback_k(k, va, npages * PG);
		break;
	}
}

Test(kmem_back, fault_at_every_page)
{
	struct kmem *k = kt_make(2, 16 * MiB, NULL);
	vm_offset_t r = kva_alloc_k(k, 8 * MiB), c;

	c = ((r + SPG - 1) & ~(SPG - 1)) + SPG;
	/* Warm the page tables of the range so only pages can fail here. */
	cr_assert_eq(kmem_back_k(k, c - 20 * PG, SPG + 40 * PG, M_NOWAIT), KERN_SUCCESS);
	kmem_unback_k(k, c - 20 * PG, SPG + 40 * PG);
	/* Across a chunk boundary (two domains), every page. */
	fault_every_page(k, c - 20 * PG, 40, M_NOWAIT, 1);
	/* A whole chunk plus a bit (promotion on the way), every 7th page and the ends. */
	fault_every_page(k, c - 20 * PG, 512 + 40, M_NOWAIT | M_ZERO, 7);
	kt_check(k);
	kva_free_k(k, r, 8 * MiB);
	kmem_destroy(k);
}

Test(kmem_back, fault_at_every_pt_page)
{
	struct kmem *k = kt_make(1, 32 * MiB, NULL);
	vm_offset_t r = kva_alloc_k(k, 8 * GiB);
	uint64_t n;

	cr_assert_neq(r, 0);
	/*
	 * Each round backs 4 pages around a 2 MiB boundary in a fresh GiB:
	 * a page directory and two page tables to allocate.
	 */
	for (n = 0;; n++) {
		vm_offset_t va = ((r + GiB - 1) & ~(GiB - 1)) + n * GiB + SPG - 2 * PG;
		struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PTPAGES, n, 1);
		struct kt_snap s0 = kt_snap(k), s1;
		int rv;

		cr_assert_lt(n, 6, "more page-table pages than expected");
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
		rv = kmem_back_k(k, va, 4 * PG, M_NOWAIT);
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
		if (rv == KERN_SUCCESS) {
			cr_assert_geq(n, 3, "three page-table pages were needed (%" PRIu64 ")", n);
			kt_check(k);
			kmem_unback_k(k, va, 4 * PG);
			break;
		}
		cr_assert_eq(rv, KERN_NO_SPACE);
		s1 = kt_snap(k);
		kt_snap_same(&s0, &s1, "kmem_back failing at a page-table page");
		kt_check(k);
	}
	kva_free_k(k, r, 8 * GiB);
	kmem_destroy(k);
}

Test(kmem_back, malloc_fault_at_every_page)
{
	struct kmem *k = kt_make(1, 16 * MiB, NULL);
	vm_offset_t va;
	uint64_t n;

	/* Warm: the arena's import and the page tables exist. */
	va = kmem_malloc_k(k, 24 * PG, M_NOWAIT);
	cr_assert_neq(va, 0);
	kmem_free_k(k, va, 24 * PG);
	for (n = 0; n <= 24; n++) {
		struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PAGES, n, 1);
		struct kt_snap s0 = kt_snap(k), s1;

		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
		va = kmem_malloc_k(k, 24 * PG, M_NOWAIT | M_ZERO);
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
		if (n < 24) {
			cr_assert_eq(va, 0, "fault at page %" PRIu64, n);
			cr_assert_eq(errno, ENOMEM);
			s1 = kt_snap(k);
			kt_snap_same(&s0, &s1, "kmem_malloc failing part-way");
			continue;
		}
		cr_assert_neq(va, 0);
		cr_assert(kt_is_zero(k, va, 24 * PG));
		kt_check(k);
		kmem_free_k(k, va, 24 * PG);
	}
	/* M_WAITOK rides out a transient failure (one fault, then a retry). */
	struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PAGES, 5, 1);
	cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
	va = kmem_malloc_k(k, 24 * PG, M_WAITOK);
	cr_assert_neq(va, 0);
	cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
	cr_assert_geq(kt_stats(k).waits, 1);
	kt_check(k);
	kmem_free_k(k, va, 24 * PG);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_back, malloc_fault_falls_back_to_next_domain)
{
	struct kmem *k = kt_make(2, 16 * MiB, NULL);
	struct domainset *pref0 = kmem_domainset(k, DOMAINSET_POLICY_PREFER, 0);
	vm_offset_t va;

	for (int d = 0; d < 2; d++) {
		va = kmem_malloc_domain_k(k, d, 8 * PG, M_NOWAIT);
		cr_assert_neq(va, 0);
		kmem_free_k(k, va, 8 * PG);
	}
	for (uint64_t n = 0; n < 8; n++) {
		struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PAGES, n, 1);
		uint64_t fb = kt_stats(k).fallbacks, p0 = kt_dstats(k, 0).pages;

		f.domain = 0;
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
		va = kmem_malloc_domainset_k(k, pref0, 8 * PG, M_NOWAIT);
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
		cr_assert_neq(va, 0, "fault at page %" PRIu64 " of domain 0", n);
		cr_assert_eq(kt_domain_of(k, va), 1);
		cr_assert_eq(kt_stats(k).fallbacks, fb + 1);
		cr_assert_eq(kt_dstats(k, 0).pages, p0, "nothing left behind in domain 0");
		kt_check(k);
		kmem_free_k(k, va, 8 * PG);
	}
	kmem_destroy(k);
}
