/*
 * test_fault.c -- fault injection: every Nth, random with a seed, below a
 * free level, per domain, page-table pages only; and callers' rollback
 * paths driven by it leave the machine as it was.
 */
#include <errno.h>

#include "psim_test.h"

TestSuite(fault, .fini = psim_fini_no_live);

static struct pmap_sim_fault
fault_spec(void)
{
	struct pmap_sim_fault f;

	memset(&f, 0, sizeof(f));
	f.version = PMAP_SIM_FAULT_VERSION;
	f.domain = -1;
	return f;
}

/* Bit i of the result: allocation i failed (pages freed at once). */
static uint64_t
pattern(struct pmap_sim *sim, int domain, int n)
{
	uint64_t bits = 0;
	int i;

	for (i = 0; i < n; i++) {
		vm_page_t m = vm_page_alloc_noobj_domain(sim, domain, 0);

		if (m == NULL)
			bits |= (uint64_t)1 << i;
		else
			vm_page_free(sim, m);
	}
	return bits;
}

Test(fault, every_nth_skip_and_cap)
{
	struct pmap_sim *sim = psim_make(2, 8 * MiB, NULL);
	struct pmap_sim_fault f = fault_spec();

	f.every_nth = 3;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	cr_assert_eq(pattern(sim, 0, 9), 0x124, "fails attempts 3, 6, 9");
	cr_assert_eq(psim_dstats(sim, 0).faults_injected, 3);
	cr_assert_eq(psim_stats(sim).faults_injected, 3);
	cr_assert_eq(psim_ctl(sim, "kvmem.pmap_sim.faults_injected"), 3);
	cr_assert_eq(psim_dstats(sim, 0).alloc_fails, 0, "injected faults are not real failures");

	f.skip = 4;
	f.max_faults = 2;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	/* attempts 1-4 pass, then every 3rd of the rest (7, 10), then no more. */
	cr_assert_eq(pattern(sim, 0, 16), ((uint64_t)1 << 6) | ((uint64_t)1 << 9));

	f = fault_spec();
	f.every_nth = 1;
	f.domain = 1;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	cr_assert_eq(pattern(sim, 0, 10), 0, "other domain unaffected");
	cr_assert_eq(pattern(sim, 1, 10), 0x3ff);
	/* vm_page_alloc_noobj moves on to the other domain. */
	cr_assert_eq(pmap_sim_set_cpu(sim, 3), 0);
	vm_page_t m = vm_page_alloc_noobj(sim, 0);
	cr_assert_not_null(m);
	cr_assert_eq(vm_page_domain(m), 0);
	vm_page_free(sim, m);
	/* Faults never sleep, even for VM_ALLOC_WAITOK. */
	cr_assert_null(vm_page_alloc_noobj_domain(sim, 1, VM_ALLOC_WAITOK));

	cr_assert_eq(pmap_sim_set_fault(sim, NULL), 0);
	cr_assert_eq(pattern(sim, 1, 10), 0);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(fault, random_is_seeded)
{
	struct pmap_sim *sim = psim_make(1, 8 * MiB, NULL);
	struct pmap_sim_fault f = fault_spec();
	uint64_t a, b, c;

	f.probability = 0.5;
	f.seed = 42;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	a = pattern(sim, 0, 64);
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	b = pattern(sim, 0, 64);
	f.seed = 43;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	c = pattern(sim, 0, 64);
	cr_assert_eq(a, b, "same seed, same faults");
	cr_assert_neq(a, c, "another seed, other faults");
	cr_assert(__builtin_popcountll(a) > 8 && __builtin_popcountll(a) < 56,
	    "about half fail: %d", __builtin_popcountll(a));
	f.probability = 1.0;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	cr_assert_eq(pattern(sim, 0, 64), ~(uint64_t)0);
	pmap_sim_destroy(sim);
}

Test(fault, below_free_level)
{
	struct pmap_sim *sim = psim_make(1, 8 * MiB, NULL);
	struct pmap_sim_fault f = fault_spec();
	uint64_t free0 = psim_dstats(sim, 0).free_count;
	vm_page_t pg[32];
	int n = 0, i;

	f.below_free = free0 - 10;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	while (n < 32 && (pg[n] = vm_page_alloc_noobj_domain(sim, 0, 0)) != NULL)
		n++;
	cr_assert_eq(n, 11, "free count at or above the level lets an allocation through");
	for (i = 0; i < n; i++)
		vm_page_free(sim, pg[i]);
	pmap_sim_set_fault(sim, NULL);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(fault, bad_spec)
{
	struct pmap_sim *sim = psim_make(1, 8 * MiB, NULL);
	struct pmap_sim_fault f = fault_spec();

	f.version = 0;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), EINVAL);
	f = fault_spec();
	f.domain = 1;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), EINVAL);
	f = fault_spec();
	f.probability = 1.5;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), EINVAL);
	f = fault_spec();
	f.what = 0x80;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), EINVAL);
	cr_assert_eq(pattern(sim, 0, 8), 0, "a rejected spec injects nothing");
	pmap_sim_destroy(sim);
}

Test(fault, page_table_pages)
{
	struct pmap_sim *sim = psim_make(1, 8 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	struct pmap_sim_fault f = fault_spec();
	vm_page_t m[4];
	int i;

	for (i = 0; i < 4; i++)
		m[i] = vm_page_alloc_noobj(sim, 0);
	f.what = PMAP_SIM_FAULT_PTPAGES;
	f.every_nth = 1;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	cr_assert_eq(pmap_enter(pm, KVA, m[0], VM_PROT_RW, 0, 0), ENOMEM);
	cr_assert_eq(pmap_kextract(sim, KVA), 0);
	cr_assert_eq(pmap_resident_count(pm), 0);
	cr_assert_eq(vm_page_map_count(m[0]), 0);
	cr_assert_eq(pmap_kenter(sim, KVA, vm_page_phys(m[0])), ENOMEM);
	cr_assert_eq(pmap_qenter(sim, KVA, m, 4), ENOMEM);
	cr_assert_eq(psim_dstats(sim, 0).pt_pages, 1);
	vm_page_t x = vm_page_alloc_noobj(sim, 0);
	cr_assert_not_null(x, "page allocations are unaffected");
	vm_page_free(sim, x);
	psim_check(sim);

	/* Let the PDP and PD through, fail the PT pages: qenter across two PTs fails whole. */
	f.skip = 2;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	cr_assert_eq(pmap_qenter(sim, KVA + SPG - 2 * PG, m, 4), ENOMEM);
	for (i = 0; i < 4; i++)
		cr_assert_eq(pmap_kextract(sim, KVA + SPG - 2 * PG + (uint64_t)i * PG), 0);
	cr_assert_eq(pmap_resident_count(pm), 0);
	cr_assert_eq(psim_dstats(sim, 0).pt_pages, 3, "PDP and PD stay (never freed)");
	psim_check(sim);
	pmap_sim_set_fault(sim, NULL);
	cr_assert_eq(pmap_qenter(sim, KVA + SPG - 2 * PG, m, 4), 0);
	cr_assert_eq(pmap_resident_count(pm), 4);
	pmap_qremove(sim, KVA + SPG - 2 * PG, 4);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

/*
 * A kmem_back-like caller: allocate and map n pages of the kernel object,
 * rolling everything back on the first failure.  Returns 0 or ENOMEM.
 */
static int
back(struct pmap_sim *sim, vm_offset_t va, vm_pindex_t pi, int n)
{
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_object_t ko = pmap_sim_kernel_object(sim);
	int i, rc = 0;

	for (i = 0; i < n; i++) {
		vm_page_t m = vm_page_alloc_domain(sim, ko, pi + (vm_pindex_t)i, 0,
		    VM_ALLOC_WIRED | VM_ALLOC_ZERO);

		if (m == NULL) {
			rc = ENOMEM;
			break;
		}
		if ((rc = pmap_enter(pm, va + (uint64_t)i * PG, m, VM_PROT_RW,
		    VM_PROT_RW | PMAP_ENTER_WIRED, 0)) != 0) {
			vm_page_unwire_noq(sim, m);
			vm_page_free(sim, m);
			break;
		}
	}
	if (rc == 0)
		return 0;
	pmap_remove(pm, va, va + (uint64_t)i * PG);
	while (i-- > 0) {
		vm_page_t m = vm_page_lookup(ko, pi + (vm_pindex_t)i);

		vm_page_unwire_noq(sim, m);
		vm_page_free(sim, m);
	}
	return rc;
}

Test(fault, rollback_leaves_no_trace)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	struct pmap_sim_fault f = fault_spec();
	uint64_t seed = kvt_seed();
	int round, ok = 0, failed = 0;

	/* Tables for the region exist first (they are never freed). */
	cr_assert_eq(back(sim, KVA, 0, 1), 0);
	pmap_remove(pmap_sim_kernel_pmap(sim), KVA, KVA + PG);
	vm_page_t m0 = vm_page_lookup(pmap_sim_kernel_object(sim), 0);
	vm_page_unwire_noq(sim, m0);
	vm_page_free(sim, m0);
	struct pmap_sim_domain_stats before = psim_dstats(sim, 0);

	f.probability = 0.02;
	f.seed = seed;
	cr_assert_eq(pmap_sim_set_fault(sim, &f), 0);
	for (round = 0; round < 40; round++) {
		int rc = back(sim, KVA, 0, 100);

		if (rc == 0) {
			ok++;
			cr_assert_eq(pmap_resident_count(pmap_sim_kernel_pmap(sim)), 100);
			pmap_sim_set_fault(sim, NULL);
			pmap_remove(pmap_sim_kernel_pmap(sim), KVA, KVA + 100 * PG);
			for (int i = 0; i < 100; i++) {
				vm_page_t m = vm_page_lookup(pmap_sim_kernel_object(sim), (vm_pindex_t)i);

				vm_page_unwire_noq(sim, m);
				vm_page_free(sim, m);
			}
			f.seed = seed + (uint64_t)round + 1;
			pmap_sim_set_fault(sim, &f);
		} else
			failed++;
		struct pmap_sim_domain_stats ds = psim_dstats(sim, 0);
		cr_assert_eq(ds.free_count, before.free_count, "seed %" PRIu64 " round %d", seed, round);
		cr_assert_eq(ds.allocated, before.allocated, "seed %" PRIu64, seed);
		cr_assert_eq(ds.wired_count, before.wired_count, "seed %" PRIu64, seed);
		cr_assert_eq(pmap_resident_count(pmap_sim_kernel_pmap(sim)), 0);
		cr_assert_eq(pmap_sim_object_npages(pmap_sim_kernel_object(sim)), 0);
		cr_assert_eq(pmap_sim_check(sim), 0, "seed %" PRIu64 " round %d", seed, round);
	}
	cr_assert_gt(failed, 0, "seed %" PRIu64 ": the faults were exercised", seed);
	pmap_sim_destroy(sim);
}
