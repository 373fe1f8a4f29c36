/*
 * test_reserv.c -- objects and superpage reservations: placement of
 * object pages, population counts, the partial queue, full population,
 * freeing, breaking under memory pressure and for contiguous requests.
 */
#include <errno.h>

#include "psim_test.h"

TestSuite(reserv, .fini = psim_fini_no_live);

static vm_page_t
oalloc(struct pmap_sim *sim, vm_object_t obj, vm_pindex_t pi, int dom)
{
	vm_page_t m = vm_page_alloc_domain(sim, obj, pi, dom, 0);

	cr_assert_not_null(m, "pindex %" PRIu64, pi);
	return m;
}

Test(reserv, object_pages_fill_a_reservation)
{
	struct pmap_sim *sim = psim_make(1, 32 * MiB, NULL);
	vm_object_t obj = pmap_sim_object_create(sim, 0);
	struct pmap_sim_domain_stats before = psim_dstats(sim, 0), ds;
	vm_page_t m3, m10, m;
	vm_paddr_t base;
	int i;

	cr_assert_not_null(obj);
	cr_assert_eq(psim_stats(sim).objects, 2, "kernel object + this one");
	m3 = oalloc(sim, obj, 3, 0);
	base = vm_page_phys(m3) - 3 * PG;
	cr_assert_eq(base % SPG, 0, "index 3 at offset 3 of a 2 MiB block");
	cr_assert_eq(vm_page_object(m3), obj);
	cr_assert_eq(vm_page_pindex(m3), 3);
	cr_assert_eq(vm_page_lookup(obj, 3), m3);
	cr_assert_null(vm_page_lookup(obj, 4));
	ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.free_count, before.free_count - 1, "unused reserved pages stay free");
	cr_assert_eq(ds.reserv_free, 511);
	cr_assert_eq(ds.buddy_free, before.buddy_free - 512);
	cr_assert_eq(ds.reserv_active, 1);
	cr_assert_eq(ds.reserv_partial, 1);
	m10 = oalloc(sim, obj, 10, 0);
	cr_assert_eq(vm_page_phys(m10), base + 10 * PG);
	/* Index 600 is another chunk: another reservation. */
	m = oalloc(sim, obj, 600, 0);
	cr_assert_eq(vm_page_phys(m) % SPG, (600 % 512) * PG);
	cr_assert_neq(vm_page_phys(m) - (600 % 512) * PG, base);
	cr_assert_eq(psim_dstats(sim, 0).reserv_active, 2);
	cr_assert_eq(pmap_sim_object_npages(obj), 3);
	psim_check(sim);

	/* Populate the first one fully. */
	static vm_page_t all[512];
	for (i = 0; i < 512; i++)
		all[i] = i == 3 ? m3 : i == 10 ? m10 : oalloc(sim, obj, (vm_pindex_t)i, 0);
	ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.reserv_fullpop, 1);
	cr_assert_eq(ds.reserv_partial, 1, "only the index-600 one");
	cr_assert_eq(psim_ctl(sim, "vm.reserv.fullpop"), 1);
	psim_check(sim);
	vm_page_free(sim, all[200]);
	ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.reserv_fullpop, 0);
	cr_assert_eq(ds.reserv_partial, 2);
	/* Freed and reallocated: same slot. */
	all[200] = oalloc(sim, obj, 200, 0);
	cr_assert_eq(vm_page_phys(all[200]), base + 200 * PG);
	for (i = 0; i < 512; i++)
		vm_page_free(sim, all[i]);
	vm_page_free(sim, m);
	ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.reserv_active, 0);
	cr_assert_eq(ds.reserv_free, 0);
	cr_assert_eq(psim_ctl(sim, "vm.reserv.freed"), 2);
	cr_assert_eq(psim_ctl(sim, "vm.reserv.broken"), 0);
	cr_assert_eq(ds.free_count, before.free_count);
	cr_assert_arr_eq(ds.free_blocks, before.free_blocks, sizeof(ds.free_blocks));
	cr_assert_eq(pmap_sim_object_npages(obj), 0);
	cr_assert_eq(pmap_sim_object_destroy(obj), 0);
	cr_assert_eq(psim_stats(sim).objects, 1);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(reserv, noreserv_object)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	vm_object_t obj = pmap_sim_object_create(sim, PMAP_SIM_OBJ_NORESERV | PMAP_SIM_OBJ_MANAGED);
	vm_page_t a = oalloc(sim, obj, 0, 0), b = oalloc(sim, obj, 1, 0);

	cr_assert_eq(psim_dstats(sim, 0).reserv_active, 0);
	cr_assert(vm_page_flags(a) & PMAP_SIM_PG_MANAGED);
	cr_assert_eq(pmap_enter(pmap_sim_kernel_pmap(sim), KVA, a, VM_PROT_READ, 0, 0), 0);
	cr_assert(pmap_sim_kpte(sim, KVA, NULL) & PMAP_PG_MANAGED);
	pmap_remove(pmap_sim_kernel_pmap(sim), KVA, KVA + PG);
	psim_check(sim);
	vm_page_free(sim, a);
	vm_page_free(sim, b);
	pmap_sim_object_destroy(obj);
	pmap_sim_destroy(sim);
}

Test(reserv, no_reservation_over_existing_pages)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	vm_object_t obj = pmap_sim_object_create(sim, 0);
	vm_page_t a, b;

	/* A contiguous allocation never uses reservations ... */
	a = vm_page_alloc_contig_domain(sim, obj, 5, 0, 0, 1, 0, ~(vm_paddr_t)0, 0, 0,
	    VM_MEMATTR_DEFAULT);
	cr_assert_not_null(a);
	cr_assert_eq(vm_page_lookup(obj, 5), a);
	cr_assert_eq(psim_dstats(sim, 0).reserv_active, 0);
	/* ... and a chunk that already has an ordinary page gets no reservation. */
	b = oalloc(sim, obj, 6, 0);
	cr_assert_eq(psim_dstats(sim, 0).reserv_active, 0);
	psim_check(sim);
	vm_page_free(sim, a);
	vm_page_free(sim, b);
	pmap_sim_object_destroy(obj);
	pmap_sim_destroy(sim);
}

Test(reserv, reservation_decides_the_domain)
{
	struct pmap_sim *sim = psim_make(2, 16 * MiB, NULL);
	vm_object_t obj = pmap_sim_object_create(sim, 0);
	vm_page_t a = oalloc(sim, obj, 0, 1), b = oalloc(sim, obj, 1, 0);

	cr_assert_eq(vm_page_domain(a), 1);
	cr_assert_eq(vm_page_domain(b), 1, "as FreeBSD: an existing reservation wins");
	cr_assert_eq(vm_page_phys(b), vm_page_phys(a) + PG);
	psim_check(sim);
	vm_page_free(sim, a);
	vm_page_free(sim, b);
	pmap_sim_object_destroy(obj);
	pmap_sim_destroy(sim);
}

Test(reserv, broken_under_pressure)
{
	/* 4 MiB: two 2 MiB blocks, the first holds the PML4 page. */
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_object_t obj = pmap_sim_object_create(sim, 0);
	static vm_page_t pg[1024];
	vm_page_t a, b;
	int n = 0, i;

	a = oalloc(sim, obj, 0, 0);
	cr_assert_eq(vm_page_phys(a), 18 * MiB, "the only free 2 MiB block");
	cr_assert_eq(psim_dstats(sim, 0).reserv_active, 1);
	/* Drain the buddy lists: the 511 other pages of the first block. */
	while (n < 511) {
		pg[n] = vm_page_alloc_noobj_domain(sim, 0, VM_ALLOC_INTERRUPT);
		cr_assert_not_null(pg[n]);
		cr_assert_lt(vm_page_phys(pg[n]), 18 * MiB, "not from the reservation yet");
		n++;
	}
	cr_assert_eq(psim_dstats(sim, 0).buddy_free, 0);
	cr_assert_eq(psim_dstats(sim, 0).free_count, 511);
	/* The next page breaks the reservation. */
	pg[n] = vm_page_alloc_noobj_domain(sim, 0, VM_ALLOC_INTERRUPT);
	cr_assert_not_null(pg[n]);
	cr_assert_geq(vm_page_phys(pg[n]), 18 * MiB);
	n++;
	cr_assert_eq(psim_ctl(sim, "vm.reserv.reclaimed"), 1);
	cr_assert_eq(psim_ctl(sim, "vm.reserv.broken"), 1);
	cr_assert_eq(psim_dstats(sim, 0).reserv_active, 0);
	cr_assert_eq(vm_page_lookup(obj, 0), a, "the populated page stays with its object");
	psim_check(sim);
	/* The chunk has a page but no reservation now: index 1 gets an ordinary page. */
	b = oalloc(sim, obj, 1, 0);
	cr_assert_eq(psim_dstats(sim, 0).reserv_active, 0);
	psim_check(sim);
	vm_page_free(sim, a);
	vm_page_free(sim, b);
	for (i = 0; i < n; i++)
		vm_page_free(sim, pg[i]);
	cr_assert_eq(psim_dstats(sim, 0).free_count, 1023);
	psim_check(sim);
	pmap_sim_object_destroy(obj);
	pmap_sim_destroy(sim);
}

Test(reserv, contig_breaks_reservations_unless_noreclaim)
{
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_object_t obj = pmap_sim_object_create(sim, 0);
	vm_page_t a = oalloc(sim, obj, 0, 0), m;

	cr_assert_eq(vm_page_phys(a), 18 * MiB);
	m = vm_page_alloc_noobj_contig_domain(sim, 0, VM_ALLOC_NORECLAIM, 100, 18 * MiB, 20 * MiB,
	    0, 0, VM_MEMATTR_DEFAULT);
	cr_assert_null(m, "the range is reserved");
	m = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 100, 18 * MiB, 20 * MiB, 0, 0,
	    VM_MEMATTR_DEFAULT);
	cr_assert_not_null(m);
	cr_assert_geq(vm_page_phys(m), 18 * MiB + PG);
	cr_assert_eq(psim_ctl(sim, "vm.reserv.broken"), 1);
	psim_check(sim);
	for (int i = 0; i < 100; i++)
		vm_page_free(sim, vm_page_from_phys(sim, vm_page_phys(m) + (uint64_t)i * PG));
	vm_page_free(sim, a);
	psim_check(sim);
	pmap_sim_object_destroy(obj);
	pmap_sim_destroy(sim);
}

Test(reserv, kernel_object_is_permanent)
{
	struct psim_log log = { 0 };
	struct pmap_sim *sim = psim_make(1, 4 * MiB, &log);

	cr_assert_eq(pmap_sim_object_destroy(pmap_sim_kernel_object(sim)), EINVAL);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, PMAP_SIM_MISUSE_BAD_ARG);
	cr_assert_eq(psim_stats(sim).objects, 1);
	pmap_sim_destroy(sim);
}

Test(reserv, destroy_discards_objects)
{
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_object_t obj = pmap_sim_object_create(sim, 0);

	oalloc(sim, obj, 0, 0);
	oalloc(sim, obj, 77, 0);
	pmap_sim_destroy(sim);	/* objects and pages go with the machine */
}
