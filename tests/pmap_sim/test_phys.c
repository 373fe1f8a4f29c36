/*
 * test_phys.c -- the buddy allocator: allocation classes, exhaustion,
 * coalescing, contiguous allocation with constraints, and its invariants
 * under random allocation and freeing of every order.
 */
#include <errno.h>
#include <stdlib.h>

#include "psim_test.h"

TestSuite(phys, .fini = psim_fini_no_live);

static void
free_run(struct pmap_sim *sim, vm_page_t m, uint64_t n)
{
	vm_paddr_t pa = vm_page_phys(m);
	uint64_t i;

	for (i = 0; i < n; i++)
		vm_page_free(sim, vm_page_from_phys(sim, pa + i * PG));
}

static int
count_allocs(struct pmap_sim *sim, int req, vm_page_t *out, int max)
{
	int n = 0;

	while (n < max && (out[n] = vm_page_alloc_noobj_domain(sim, 0, req)) != NULL)
		n++;
	return n;
}

Test(phys, allocation_classes)
{
	struct pmap_sim *sim = psim_make(1, 8 * MiB, NULL);
	static vm_page_t pg[2048];
	struct pmap_sim_domain_stats before = psim_dstats(sim, 0), ds;
	int n, m, k, i;

	cr_assert_eq(before.free_reserved, 34 + 2048 / 768);
	n = count_allocs(sim, VM_ALLOC_NORMAL, pg, 2048);
	cr_assert_eq((uint64_t)n, before.free_count - before.free_reserved);
	ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.free_count, ds.free_reserved);
	cr_assert_eq(ds.alloc_fails, 1);
	m = count_allocs(sim, VM_ALLOC_SYSTEM, pg + n, 2048 - n);
	cr_assert_eq((uint64_t)m, ds.free_reserved - ds.interrupt_free_min);
	k = count_allocs(sim, VM_ALLOC_INTERRUPT, pg + n + m, 2048 - n - m);
	cr_assert_eq((uint64_t)k, ds.interrupt_free_min);
	ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.free_count, 0);
	cr_assert_eq(ds.allocated, 2048);
	cr_assert_null(vm_page_alloc_noobj_domain(sim, 0, VM_ALLOC_INTERRUPT));
	psim_check(sim);
	/* Distinct pages, each with its own contents. */
	for (i = 0; i < n + m + k; i++)
		*(uint32_t *)vm_page_ptr(sim, pg[i]) = (uint32_t)i;
	for (i = 0; i < n + m + k; i++)
		cr_assert_eq(*(uint32_t *)vm_page_ptr(sim, pg[i]), (uint32_t)i);
	for (i = n + m + k - 1; i >= 0; i--)
		vm_page_free(sim, pg[i]);
	ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.free_count, before.free_count);
	cr_assert_arr_eq(ds.free_blocks, before.free_blocks, sizeof(ds.free_blocks),
	    "freeing everything restores the buddy histogram");
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(phys, wired_and_zero)
{
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_page_t m = vm_page_alloc_noobj(sim, VM_ALLOC_WIRED);
	unsigned char *p;

	cr_assert_not_null(m);
	cr_assert_eq(vm_page_wire_count(m), 1);
	cr_assert_eq(psim_dstats(sim, 0).wired_count, 2, "PML4 + this page");
	vm_page_wire(sim, m);
	cr_assert_eq(vm_page_wire_count(m), 2);
	cr_assert_eq(psim_dstats(sim, 0).wired_count, 2, "counted once per page");
	cr_assert(!vm_page_unwire_noq(sim, m));
	cr_assert(vm_page_unwire_noq(sim, m));
	cr_assert_eq(psim_dstats(sim, 0).wired_count, 1);
	/* Dirty the page, free it: the next VM_ALLOC_ZERO page is zero again. */
	p = vm_page_ptr(sim, m);
	memset(p, 0x77, PG);
	vm_page_free(sim, m);
	m = vm_page_alloc_noobj(sim, VM_ALLOC_ZERO);
	p = vm_page_ptr(sim, m);
	for (size_t i = 0; i < PG; i++)
		cr_assert_eq(p[i], 0, "byte %zu", i);
	cr_assert(vm_page_flags(m) & PMAP_SIM_PG_ZERO);
	vm_page_free(sim, m);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

static void
check_contig(struct pmap_sim *sim, unsigned long n, vm_paddr_t low, vm_paddr_t high,
    unsigned long align, vm_paddr_t boundary)
{
	vm_page_t m = vm_page_alloc_noobj_contig_domain(sim, 0, 0, n, low, high, align, boundary,
	    VM_MEMATTR_DEFAULT);
	vm_paddr_t pa;
	unsigned long i;

	cr_assert_not_null(m, "contig n %lu low 0x%" PRIx64 " high 0x%" PRIx64 " align 0x%lx "
	    "boundary 0x%" PRIx64, n, low, high, align, boundary);
	pa = vm_page_phys(m);
	cr_assert_geq(pa, low);
	cr_assert_leq(pa + n * PG, high);
	if (align != 0)
		cr_assert_eq(pa % align, 0, "pa 0x%" PRIx64 " align 0x%lx", pa, align);
	if (boundary != 0)
		cr_assert_eq(pa / boundary, (pa + n * PG - 1) / boundary, "crosses 0x%" PRIx64,
		    boundary);
	for (i = 0; i < n; i++) {
		vm_page_t x = vm_page_from_phys(sim, pa + i * PG);

		cr_assert_eq(vm_page_phys(x), pa + i * PG);
		cr_assert_eq(vm_page_wire_count(x), 0);
	}
	psim_check(sim);
	free_run(sim, m, n);
	psim_check(sim);
}

Test(phys, contig_constraints)
{
	struct pmap_sim *sim = psim_make(1, 64 * MiB, NULL);
	vm_paddr_t s, e;
	static vm_page_t hold[64];
	int i;

	pmap_sim_domain_range(sim, 0, &s, &e);
	/* Fragment the start a little. */
	for (i = 0; i < 64; i++)
		hold[i] = vm_page_alloc_noobj(sim, 0);
	for (i = 0; i < 64; i += 3)
		vm_page_free(sim, hold[i]);
	check_contig(sim, 1, s, e, 0, 0);
	check_contig(sim, 3, s, e, 0, 0);
	check_contig(sim, 5, s, e, 8 * PG, 0);
	check_contig(sim, 512, s, e, SPG, 0);
	check_contig(sim, 100, s + 3 * MiB, s + 4 * MiB, 0, 0);
	check_contig(sim, 7, s, e, 0, 8 * PG);
	check_contig(sim, 16, s + 5 * PG, e, 4 * PG, 16 * PG);
	check_contig(sim, 4096, s, e, 16 * MiB, 0);
	check_contig(sim, 1, e - PG, e, 0, 0);
	check_contig(sim, 300, e - 300 * PG, e, 0, 0);
	check_contig(sim, 1000, s + 12 * MiB + 5 * PG, s + 12 * MiB + 5 * PG + 1000 * PG, 0, 0);
	/* Impossible now (range too small for the alignment): NULL, no misuse. */
	cr_assert_null(vm_page_alloc_noobj_contig_domain(sim, 0, 0, 4, s + PG, s + 5 * PG, 8 * PG,
	    0, VM_MEMATTR_DEFAULT));
	cr_assert_null(vm_page_alloc_noobj_contig_domain(sim, 0, 0, 4, e, e + 64 * PG, 0, 0,
	    VM_MEMATTR_DEFAULT));
	for (i = 0; i < 64; i++)
		if (i % 3 != 0)
			vm_page_free(sim, hold[i]);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(phys, contig_across_free_blocks)
{
	struct pmap_sim *sim = psim_make(1, 8 * MiB, NULL);
	static vm_page_t pg[2048];
	vm_paddr_t lo = 0, hi = 0;
	int n, i;

	n = count_allocs(sim, VM_ALLOC_INTERRUPT, pg, 2048);
	cr_assert_eq(n, 2047);
	/* Free an unaligned run of 37 pages made of several buddy blocks. */
	for (i = 0; i < n; i++)
		if (vm_page_phys(pg[i]) == 16 * MiB + 1 * MiB + 3 * PG)
			break;
	cr_assert_lt(i, n);
	lo = vm_page_phys(pg[i]);
	for (int j = 0; j < 37; j++) {
		vm_page_t m = vm_page_from_phys(sim, lo + (uint64_t)j * PG);

		vm_page_free(sim, m);
	}
	hi = lo + 37 * PG;
	psim_check(sim);
	cr_assert_gt(psim_dstats(sim, 0).free_blocks[0][0] + psim_dstats(sim, 0).free_blocks[0][1],
	    0);
	cr_assert_null(vm_page_alloc_noobj_contig_domain(sim, 0, VM_ALLOC_INTERRUPT, 38, 0,
	    ~(vm_paddr_t)0, 0, 0, VM_MEMATTR_DEFAULT), "only 37 pages are free");
	vm_page_t m = vm_page_alloc_noobj_contig_domain(sim, 0, VM_ALLOC_INTERRUPT, 30, 0,
	    ~(vm_paddr_t)0, 0, 0, VM_MEMATTR_DEFAULT);
	cr_assert_not_null(m);
	cr_assert_eq(vm_page_phys(m), lo);
	psim_check(sim);
	cr_assert_eq(psim_dstats(sim, 0).free_count, 7);
	m = vm_page_alloc_noobj_contig_domain(sim, 0, VM_ALLOC_INTERRUPT, 7, 0, ~(vm_paddr_t)0, 0,
	    0, VM_MEMATTR_DEFAULT);
	cr_assert_not_null(m);
	cr_assert_eq(vm_page_phys(m), lo + 30 * PG);
	cr_assert_eq(psim_dstats(sim, 0).free_count, 0);
	psim_check(sim);
	/* Free everything: the domain coalesces back. */
	for (vm_paddr_t pa = 16 * MiB; pa < 24 * MiB; pa += PG) {
		vm_page_t x = vm_page_from_phys(sim, pa);

		if (vm_page_flags(x) & PMAP_SIM_PG_PTPAGE)
			continue;
		vm_page_free(sim, x);
	}
	(void)hi;
	cr_assert_eq(psim_dstats(sim, 0).free_count, 2047);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

/*
 * Random allocation and freeing of blocks of every order (contiguous,
 * naturally aligned) and single pages, against a simple model of what is
 * allocated; pmap_sim_check() now and then; at the end everything is freed
 * and the free lists must be back to their first shape.
 */
struct blk {
	vm_paddr_t	pa;
	uint64_t	n;
};

Test(phys, random_orders)
{
	struct pmap_sim *sim = psim_make(1, 64 * MiB, NULL);
	uint64_t seed = kvt_seed(), ops = kvt_env_ull("KVMEM_PHYS_OPS", 20000), i, held = 0;
	struct pmap_sim_domain_stats first = psim_dstats(sim, 0), ds;
	struct blk *b = calloc(20000, sizeof(*b));
	size_t nb = 0;
	struct kvt_rng r;

	kvt_rng_init(&r, seed);
	for (i = 0; i < ops; i++) {
		if (nb > 0 && (kvt_below(&r, 100) < 45 || nb == 20000)) {
			size_t k = (size_t)kvt_below(&r, nb);
			uint64_t j;

			/* Free in a random page order. */
			for (j = 0; j < b[k].n; j++) {
				uint64_t q = (j * 7 + b[k].n / 3) % b[k].n;

				vm_page_free(sim, vm_page_from_phys(sim, b[k].pa + q * PG));
			}
			held -= b[k].n;
			b[k] = b[--nb];
		} else {
			int o = (int)(kvt_below(&r, 100) < 60 ? 0 : kvt_below(&r, 13));
			uint64_t n = (uint64_t)1 << o;
			vm_page_t m;

			if (o == 0)
				m = vm_page_alloc_noobj_domain(sim, 0, VM_ALLOC_INTERRUPT);
			else
				m = vm_page_alloc_noobj_contig_domain(sim, 0, VM_ALLOC_INTERRUPT, n, 0,
				    ~(vm_paddr_t)0, n * PG, 0, VM_MEMATTR_DEFAULT);
			if (m == NULL) {
				uint64_t big = 0;
				int q;

				ds = psim_dstats(sim, 0);
				for (q = o; q < PMAP_SIM_NFREEORDER; q++)
					big += ds.free_blocks[0][q];
				cr_assert(big == 0 && (o > 0 || ds.free_count == 0),
				    "seed %" PRIu64 " op %" PRIu64 ": order %d failed with %" PRIu64
				    " free blocks of that order or more", seed, i, o, big);
				continue;
			}
			cr_assert_eq(vm_page_phys(m) % (n * PG), 0, "seed %" PRIu64, seed);
			b[nb++] = (struct blk){ vm_page_phys(m), n };
			held += n;
		}
		if (i % 2000 == 0) {
			ds = psim_dstats(sim, 0);
			cr_assert_eq(ds.allocated, held + 1, "seed %" PRIu64 " op %" PRIu64, seed, i);
			cr_assert_eq(pmap_sim_check(sim), 0, "seed %" PRIu64 " op %" PRIu64, seed, i);
		}
	}
	while (nb > 0) {
		nb--;
		free_run(sim, vm_page_from_phys(sim, b[nb].pa), b[nb].n);
	}
	ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.free_count, first.free_count, "seed %" PRIu64, seed);
	cr_assert_arr_eq(ds.free_blocks, first.free_blocks, sizeof(ds.free_blocks),
	    "seed %" PRIu64 ": not fully coalesced", seed);
	cr_assert_eq(pmap_sim_check(sim), 0, "seed %" PRIu64, seed);
	free(b);
	pmap_sim_destroy(sim);
}
