/*
 * test_pmap.c -- the kernel pmap: each call's contract, entry bits,
 * accounting, page-table pages, access through the MMU (A/M bits, rights),
 * data integrity across remapping, superpage promotion and demotion.
 */
#include <errno.h>
#include <stdlib.h>

#include "psim_test.h"

TestSuite(pmap, .fini = psim_fini_no_live);

#define E_ALL	(PMAP_PG_V | PMAP_PG_RW | PMAP_PG_A | PMAP_PG_M | PMAP_PG_G | PMAP_PG_W | PMAP_PG_NX)

static vm_page_t
page(struct pmap_sim *sim, int domain)
{
	vm_page_t m = vm_page_alloc_noobj_domain(sim, domain, VM_ALLOC_WIRED);

	cr_assert_not_null(m);
	return m;
}

static void
unmap_free(struct pmap_sim *sim, vm_page_t m)
{
	vm_page_unwire_noq(sim, m);
	vm_page_free(sim, m);
}

Test(pmap, enter_extract_remove)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t m = page(sim, 0);
	vm_paddr_t pa = vm_page_phys(m);
	vm_offset_t va = KVA + 7 * PG;
	uint64_t e;
	int level;

	cr_assert_eq(pmap_extract(pm, va), 0);
	cr_assert_eq(pmap_kextract(sim, va), 0);
	cr_assert_eq(pmap_enter(pm, va, m, VM_PROT_RW, VM_PROT_RW | PMAP_ENTER_WIRED, 0), 0);
	cr_assert_eq(pmap_extract(pm, va), pa);
	cr_assert_eq(pmap_kextract(sim, va + 123), pa + 123);
	cr_assert_eq(pmap_kextract(sim, va + PG), 0);
	cr_assert_eq(pmap_kextract(sim, va - PG), 0);
	e = pmap_sim_kpte(sim, va, &level);
	cr_assert_eq(level, 1);
	cr_assert_eq(e & PMAP_PG_FRAME, pa);
	cr_assert_eq(e & ~PMAP_PG_FRAME, E_ALL, "pte bits 0x%" PRIx64, e & ~PMAP_PG_FRAME);
	cr_assert_eq(pmap_resident_count(pm), 1);
	cr_assert_eq(pmap_wired_count(pm), 1);
	cr_assert_eq(vm_page_map_count(m), 1);
	/* PML4 + PDP + PD + PT, all in domain 0, all wired. */
	struct pmap_sim_domain_stats ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.pt_pages, 4);
	cr_assert_eq(ds.wired_count, 5);
	psim_check(sim);

	cr_assert_eq(pmap_remove(pm, va, va + PG), 0);
	cr_assert_eq(pmap_extract(pm, va), 0);
	cr_assert_eq(pmap_sim_kpte(sim, va, &level), 0);
	cr_assert_eq(level, 0);
	cr_assert_eq(pmap_resident_count(pm), 0);
	cr_assert_eq(pmap_wired_count(pm), 0);
	cr_assert_eq(vm_page_map_count(m), 0);
	cr_assert_eq(psim_dstats(sim, 0).pt_pages, 4, "kernel page-table pages are never freed");
	/* Removing nothing, or an empty range, is fine. */
	cr_assert_eq(pmap_remove(pm, va, va), 0);
	cr_assert_eq(pmap_remove(pm, KVA + 100 * GiB, KVA + 200 * GiB), 0);
	unmap_free(sim, m);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(pmap, reenter_changes_protection_and_wiring)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t m = page(sim, 0);
	vm_offset_t va = KVA;
	uint64_t e;

	cr_assert_eq(pmap_enter(pm, va, m, VM_PROT_READ | VM_PROT_EXECUTE, VM_PROT_READ, 0), 0);
	e = pmap_sim_kpte(sim, va, NULL);
	cr_assert_eq(e & (PMAP_PG_RW | PMAP_PG_NX | PMAP_PG_W | PMAP_PG_M), 0);
	cr_assert(e & PMAP_PG_A);
	cr_assert_eq(pmap_wired_count(pm), 0);
	cr_assert_eq(pmap_enter(pm, va, m, VM_PROT_RW, PMAP_ENTER_WIRED, 0), 0);
	e = pmap_sim_kpte(sim, va, NULL);
	cr_assert_eq(e & (PMAP_PG_RW | PMAP_PG_NX | PMAP_PG_W), PMAP_PG_RW | PMAP_PG_NX | PMAP_PG_W);
	cr_assert_eq(e & PMAP_PG_M, 0, "no write access yet");
	cr_assert_eq(pmap_wired_count(pm), 1);
	cr_assert_eq(pmap_resident_count(pm), 1);
	cr_assert_eq(vm_page_map_count(m), 1, "re-entering is not a second mapping");
	cr_assert_eq(pmap_unwire(pm, va, va + PG), 0);
	cr_assert_eq(pmap_wired_count(pm), 0);
	cr_assert_eq(pmap_sim_kpte(sim, va, NULL) & PMAP_PG_W, 0);
	psim_check(sim);
	pmap_remove(pm, va, va + PG);
	unmap_free(sim, m);
	pmap_sim_destroy(sim);
}

Test(pmap, memattr_bits)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t m = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 1, 0, ~(vm_paddr_t)0, 0, 0,
	    VM_MEMATTR_UNCACHEABLE);

	cr_assert_not_null(m);
	cr_assert_eq(vm_page_memattr(m), VM_MEMATTR_UNCACHEABLE);
	cr_assert_eq(pmap_enter(pm, KVA, m, VM_PROT_RW, 0, 0), 0);
	cr_assert_eq(pmap_sim_kpte(sim, KVA, NULL) & (PMAP_PG_PCD | PMAP_PG_PWT),
	    PMAP_PG_PCD | PMAP_PG_PWT);
	pmap_remove(pm, KVA, KVA + PG);
	vm_page_free(sim, m);
	pmap_sim_destroy(sim);
}

Test(pmap, kenter_kremove_qenter_qremove)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t ma[8];
	vm_offset_t va = KVA + SPG - 4 * PG;	/* straddles a PT page boundary */
	int i;

	for (i = 0; i < 8; i++)
		ma[i] = page(sim, 0);
	cr_assert_eq(pmap_kenter(sim, KVA + 100 * PG, vm_page_phys(ma[0])), 0);
	cr_assert_eq(pmap_kextract(sim, KVA + 100 * PG), vm_page_phys(ma[0]));
	cr_assert_eq(pmap_sim_kpte(sim, KVA + 100 * PG, NULL) & ~PMAP_PG_FRAME,
	    E_ALL & ~PMAP_PG_W, "kenter: RW, global, NX, not wired");
	cr_assert_eq(pmap_kremove(sim, KVA + 100 * PG), 0);
	cr_assert_eq(pmap_kextract(sim, KVA + 100 * PG), 0);
	cr_assert_eq(pmap_kremove(sim, KVA + 100 * PG), 0, "kremove of nothing");

	cr_assert_eq(pmap_qenter(sim, va, ma, 8), 0);
	for (i = 0; i < 8; i++)
		cr_assert_eq(pmap_kextract(sim, va + (uint64_t)i * PG), vm_page_phys(ma[i]));
	cr_assert_eq(pmap_resident_count(pm), 8);
	cr_assert_eq(psim_dstats(sim, 0).pt_pages, 5, "two PT pages");
	/* The same page mapped twice (aliases) is allowed. */
	cr_assert_eq(pmap_qenter(sim, KVA + 64 * PG, &ma[3], 1), 0);
	cr_assert_eq(vm_page_map_count(ma[3]), 2);
	psim_check(sim);
	cr_assert_eq(pmap_qremove(sim, va, 8), 0);
	cr_assert_eq(pmap_qremove(sim, KVA + 64 * PG, 1), 0);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(pmap_kextract(sim, va + (uint64_t)i * PG), 0);
		cr_assert_eq(vm_page_map_count(ma[i]), 0);
	}
	cr_assert_eq(pmap_resident_count(pm), 0);
	cr_assert_eq(pmap_qenter(sim, va, ma, 0), 0, "count 0 is a no-op");
	for (i = 0; i < 8; i++)
		unmap_free(sim, ma[i]);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(pmap, protect)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t m[3];
	char buf[8] = "abcdefg";
	int i;

	for (i = 0; i < 3; i++) {
		m[i] = page(sim, 0);
		cr_assert_eq(pmap_enter(pm, KVA + (uint64_t)i * PG, m[i], VM_PROT_ALL,
		    VM_PROT_WRITE | PMAP_ENTER_WIRED, 0), 0);
		cr_assert_eq(pmap_sim_kpte(sim, KVA + (uint64_t)i * PG, NULL) & PMAP_PG_NX, 0);
	}
	cr_assert_eq(pmap_protect(pm, KVA, KVA + 2 * PG, VM_PROT_READ), 0);
	for (i = 0; i < 2; i++) {
		uint64_t e = pmap_sim_kpte(sim, KVA + (uint64_t)i * PG, NULL);

		cr_assert_eq(e & (PMAP_PG_RW | PMAP_PG_M), 0);
		cr_assert(e & PMAP_PG_NX);
	}
	cr_assert(pmap_sim_kpte(sim, KVA + 2 * PG, NULL) & PMAP_PG_RW);
	cr_assert_eq(pmap_sim_write(sim, KVA + 10, buf, 4), EACCES);
	cr_assert_eq(pmap_sim_write(sim, KVA + 2 * PG, buf, 8), 0);
	cr_assert_eq(pmap_sim_read(sim, KVA + 10, buf, 4), 0);
	cr_assert_null(pmap_sim_kva_ptr(sim, KVA, VM_PROT_WRITE));
	cr_assert_not_null(pmap_sim_kva_ptr(sim, KVA, VM_PROT_READ));
	/* pmap_protect never adds rights. */
	cr_assert_eq(pmap_protect(pm, KVA, KVA + 3 * PG, VM_PROT_ALL), 0);
	cr_assert_eq(pmap_sim_kpte(sim, KVA, NULL) & PMAP_PG_RW, 0);
	/* Without read permission the mappings go away. */
	cr_assert_eq(pmap_protect(pm, KVA + PG, KVA + 3 * PG, VM_PROT_NONE), 0);
	cr_assert_eq(pmap_kextract(sim, KVA + PG), 0);
	cr_assert_eq(pmap_kextract(sim, KVA + 2 * PG), 0);
	cr_assert_eq(pmap_resident_count(pm), 1);
	cr_assert_eq(pmap_wired_count(pm), 1);
	psim_check(sim);
	pmap_remove(pm, KVA, KVA + 3 * PG);
	for (i = 0; i < 3; i++)
		unmap_free(sim, m[i]);
	pmap_sim_destroy(sim);
}

Test(pmap, mmu_access_bits)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t a = page(sim, 0), b = page(sim, 0);
	char out[32], in[32];
	int i;

	/* Entered without access type: A set (amd64 always sets it), M clear. */
	cr_assert_eq(pmap_enter(pm, KVA, a, VM_PROT_RW, 0, 0), 0);
	cr_assert_eq(pmap_enter(pm, KVA + PG, b, VM_PROT_RW, 0, 0), 0);
	cr_assert_eq(pmap_sim_kpte(sim, KVA, NULL) & PMAP_PG_M, 0);
	cr_assert_eq(pmap_sim_read(sim, KVA + 4, in, 4), 0);
	cr_assert_eq(pmap_sim_kpte(sim, KVA, NULL) & PMAP_PG_M, 0, "a read does not dirty");
	for (i = 0; i < 32; i++)
		out[i] = (char)(i * 7 + 1);
	/* A write straddling the two pages dirties both. */
	cr_assert_eq(pmap_sim_write(sim, KVA + PG - 16, out, 32), 0);
	cr_assert(pmap_sim_kpte(sim, KVA, NULL) & PMAP_PG_M);
	cr_assert(pmap_sim_kpte(sim, KVA + PG, NULL) & PMAP_PG_M);
	cr_assert_eq(pmap_sim_read(sim, KVA + PG - 16, in, 32), 0);
	cr_assert_arr_eq(in, out, 32);
	cr_assert_eq(memcmp((char *)vm_page_ptr(sim, a) + PG - 16, out, 16), 0);
	cr_assert_eq(memcmp(vm_page_ptr(sim, b), out + 16, 16), 0);
	/* Unmapped: EFAULT, bytes before the hole copied. */
	cr_assert_eq(pmap_sim_write(sim, KVA + 2 * PG - 8, out, 16), EFAULT);
	cr_assert_eq(memcmp((char *)vm_page_ptr(sim, b) + PG - 8, out, 8), 0);
	cr_assert_eq(pmap_sim_read(sim, KVA + 5 * PG, in, 1), EFAULT);
	cr_assert_eq(pmap_sim_read(sim, 0x1000, in, 1), EFAULT, "user address");
	cr_assert_null(pmap_sim_kva_ptr(sim, KVA + 5 * PG, VM_PROT_READ));
	cr_assert_eq(pmap_sim_kva_ptr(sim, KVA + PG + 3, VM_PROT_WRITE),
	    (char *)vm_page_ptr(sim, b) + 3);
	pmap_remove(pm, KVA, KVA + 2 * PG);
	unmap_free(sim, a);
	unmap_free(sim, b);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(pmap, zero_page)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	vm_page_t m = page(sim, 0);
	unsigned char *p = vm_page_ptr(sim, m);

	memset(p, 0xee, PG);
	pmap_zero_page(sim, m);
	for (size_t i = 0; i < PG; i++)
		cr_assert_eq(p[i], 0, "byte %zu", i);
	unmap_free(sim, m);
	pmap_sim_destroy(sim);
}

/* Write a pattern through one mapping, remap the pages elsewhere in another order, read back. */
Test(pmap, data_survives_remapping)
{
	struct pmap_sim *sim = psim_make(2, 16 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	enum { N = 40 };
	vm_page_t m[N];
	static uint32_t buf[N * 1024];
	vm_offset_t va1 = KVA + 3 * GiB + 5 * PG, va2 = KVA + 700 * GiB;
	uint64_t seed = kvt_seed();
	struct kvt_rng r;
	int i, round;

	kvt_rng_init(&r, seed);
	for (i = 0; i < N; i++) {
		m[i] = page(sim, i % 2);
		cr_assert_eq(pmap_enter(pm, va1 + (uint64_t)i * PG, m[i], VM_PROT_RW,
		    VM_PROT_RW | PMAP_ENTER_WIRED, 0), 0);
	}
	for (i = 0; i < N * 1024; i++)
		buf[i] = (uint32_t)kvt_next(&r);
	cr_assert_eq(pmap_sim_write(sim, va1, buf, sizeof(buf)), 0);
	for (round = 0; round < 3; round++) {
		int perm[N];

		pmap_remove(pm, va1, va1 + (uint64_t)N * PG);
		for (i = 0; i < N; i++)
			perm[i] = i;
		for (i = N - 1; i > 0; i--) {
			int j = (int)kvt_below(&r, (uint64_t)i + 1), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (i = 0; i < N; i++)
			cr_assert_eq(pmap_enter(pm, va2 + (uint64_t)i * PG, m[perm[i]], VM_PROT_READ, 0, 0),
			    0);
		psim_check(sim);
		for (i = 0; i < N; i++) {
			uint32_t page_buf[1024];

			cr_assert_eq(pmap_sim_read(sim, va2 + (uint64_t)i * PG, page_buf, PG), 0);
			cr_assert_arr_eq(page_buf, &buf[perm[i] * 1024], PG,
			    "seed %" PRIu64 " round %d page %d", seed, round, i);
		}
		pmap_remove(pm, va2, va2 + (uint64_t)N * PG);
		for (i = 0; i < N; i++)
			pmap_enter(pm, va1 + (uint64_t)i * PG, m[i], VM_PROT_RW, PMAP_ENTER_WIRED, 0);
	}
	pmap_remove(pm, va1, va1 + (uint64_t)N * PG);
	for (i = 0; i < N; i++)
		unmap_free(sim, m[i]);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(pmap, page_table_pages_follow_the_page_domain)
{
	struct pmap_sim *sim = psim_make(2, 16 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t a = page(sim, 1);

	cr_assert_eq(pmap_enter(pm, KVA + 512 * GiB, a, VM_PROT_RW, 0, 0), 0);
	cr_assert_eq(psim_dstats(sim, 0).pt_pages, 1, "only the PML4");
	cr_assert_eq(psim_dstats(sim, 1).pt_pages, 3, "PDP, PD and PT near the page");
	cr_assert_eq(psim_ctl(sim, "vm.pmap.kernel_pt_page_count"), 4);
	pmap_remove(pm, KVA + 512 * GiB, KVA + 513 * GiB);
	unmap_free(sim, a);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

/* ---- Superpages --------------------------------------------------------------------------- */

/* 512 pages of the kernel object at pindex base.. (one reservation), mapped at va in order. */
static void
fill_2m(struct pmap_sim *sim, vm_offset_t va, vm_pindex_t base, vm_page_t *m, bool reverse)
{
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_object_t ko = pmap_sim_kernel_object(sim);
	int i;

	for (i = 0; i < 512; i++) {
		m[i] = vm_page_alloc_domain(sim, ko, base + (vm_pindex_t)i, 0,
		    VM_ALLOC_WIRED | VM_ALLOC_ZERO);
		cr_assert_not_null(m[i]);
		cr_assert_eq(vm_page_phys(m[i]), vm_page_phys(m[0]) + (uint64_t)i * PG,
		    "reservation pages are contiguous");
	}
	cr_assert_eq(vm_page_phys(m[0]) % SPG, 0);
	for (i = 0; i < 512; i++) {
		int k = reverse ? 511 - i : i;

		cr_assert_eq(pmap_enter(pm, va + (uint64_t)i * PG, m[k], VM_PROT_RW,
		    VM_PROT_RW | PMAP_ENTER_WIRED, 0), 0);
	}
}

static void
free_2m(struct pmap_sim *sim, vm_offset_t va, vm_page_t *m)
{
	int i;

	pmap_remove(pmap_sim_kernel_pmap(sim), va, va + SPG);
	for (i = 0; i < 512; i++)
		unmap_free(sim, m[i]);
}

Test(pmap, promotion_and_demotion)
{
	struct pmap_sim *sim = psim_make(1, 32 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	static vm_page_t m[512];
	vm_offset_t va = KVA + 4 * SPG;
	vm_paddr_t pa;
	uint64_t e;
	int level, i;

	fill_2m(sim, va, 0, m, false);
	pa = vm_page_phys(m[0]);
	cr_assert_eq(psim_ctl(sim, "vm.reserv.fullpop"), 1);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.promotions"), 1);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.p_failures"), 0);
	e = pmap_sim_kpte(sim, va + 77 * PG, &level);
	cr_assert_eq(level, 2);
	cr_assert(e & PMAP_PG_PS);
	cr_assert_eq(e & PMAP_PG_PS_FRAME, pa);
	cr_assert(e & PMAP_PG_W);
	for (i = 0; i < 512; i += 37)
		cr_assert_eq(pmap_kextract(sim, va + (uint64_t)i * PG + 9), pa + (uint64_t)i * PG + 9);
	cr_assert_eq(pmap_extract(pm, va + SPG - 1), pa + SPG - 1);
	cr_assert_eq(pmap_resident_count(pm), 512);
	cr_assert_eq(pmap_wired_count(pm), 512);
	psim_check(sim);

	/* A write through the superpage dirties the PDE. */
	cr_assert_eq(pmap_sim_write(sim, va + 5 * PG + 1, "x", 1), 0);
	cr_assert(pmap_sim_kpte(sim, va, NULL) & PMAP_PG_M);
	cr_assert_eq(((char *)vm_page_ptr(sim, m[5]))[1], 'x');

	/* Removing one page demotes. */
	cr_assert_eq(pmap_remove(pm, va + 100 * PG, va + 101 * PG), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.demotions"), 1);
	cr_assert_eq(pmap_kextract(sim, va + 100 * PG), 0);
	cr_assert_eq(pmap_kextract(sim, va + 101 * PG), pa + 101 * PG);
	pmap_sim_kpte(sim, va, &level);
	cr_assert_eq(level, 1);
	cr_assert(pmap_sim_kpte(sim, va + 5 * PG, NULL) & PMAP_PG_M, "M kept through demotion");
	cr_assert_eq(pmap_resident_count(pm), 511);
	psim_check(sim);

	/* Putting it back clean (no write access): its PTE lacks M, promotion fails. */
	cr_assert_eq(pmap_enter(pm, va + 100 * PG, m[100], VM_PROT_RW, PMAP_ENTER_WIRED, 0), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.p_failures"), 1);
	pmap_sim_kpte(sim, va, &level);
	cr_assert_eq(level, 1);
	/* Dirty it through the MMU and enter it again: the 512 entries agree now. */
	cr_assert_eq(pmap_sim_write(sim, va + 100 * PG, "y", 1), 0);
	cr_assert_eq(pmap_enter(pm, va + 100 * PG, m[100], VM_PROT_RW,
	    VM_PROT_RW | PMAP_ENTER_WIRED, 0), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.promotions"), 2);
	pmap_sim_kpte(sim, va, &level);
	cr_assert_eq(level, 2);
	psim_check(sim);

	/* Protecting part of it demotes; protecting all of it does not. */
	cr_assert_eq(pmap_protect(pm, va, va + SPG, VM_PROT_READ), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.demotions"), 1);
	e = pmap_sim_kpte(sim, va, &level);
	cr_assert_eq(level, 2);
	cr_assert_eq(e & PMAP_PG_RW, 0);
	cr_assert_eq(pmap_unwire(pm, va, va + PG), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.demotions"), 2);
	cr_assert_eq(pmap_wired_count(pm), 511);
	psim_check(sim);
	free_2m(sim, va, m);
	/* Freeing the 512 pages frees the reservation. */
	cr_assert_eq(psim_ctl(sim, "vm.reserv.freed"), 1);
	cr_assert_eq(psim_ctl(sim, "vm.reserv.fullpop"), 0);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(pmap, promotion_failure_when_not_contiguous)
{
	struct pmap_sim *sim = psim_make(1, 32 * MiB, NULL);
	static vm_page_t m[512];
	int level;

	fill_2m(sim, KVA, 512, m, true);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.promotions"), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.p_failures"), 1);
	pmap_sim_kpte(sim, KVA, &level);
	cr_assert_eq(level, 1);
	psim_check(sim);
	free_2m(sim, KVA, m);
	pmap_sim_destroy(sim);
}

Test(pmap, no_promotion_without_full_reservation)
{
	struct pmap_sim *sim = psim_make(1, 32 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t m;
	int i, level;

	/* 512 contiguous pages with no reservation: FreeBSD does not try. */
	m = vm_page_alloc_noobj_contig_domain(sim, 0, VM_ALLOC_WIRED, 512, 0, ~(vm_paddr_t)0, SPG,
	    0, VM_MEMATTR_DEFAULT);
	cr_assert_not_null(m);
	for (i = 0; i < 512; i++)
		cr_assert_eq(pmap_enter(pm, KVA + (uint64_t)i * PG,
		    vm_page_from_phys(sim, vm_page_phys(m) + (uint64_t)i * PG), VM_PROT_RW,
		    VM_PROT_RW, 0), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.promotions") + psim_ctl(sim,
	    "vm.pmap.pde.p_failures"), 0);
	pmap_sim_kpte(sim, KVA, &level);
	cr_assert_eq(level, 1);

	/* ... but such a run can be mapped with psind 1 elsewhere. */
	cr_assert_eq(pmap_enter(pm, KVA + 5 * SPG, m, VM_PROT_READ, 0, 1), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.mappings"), 1);
	pmap_sim_kpte(sim, KVA + 5 * SPG + 3 * PG, &level);
	cr_assert_eq(level, 2);
	cr_assert_eq(vm_page_map_count(m), 2);
	cr_assert_eq(pmap_resident_count(pm), 1024);
	psim_check(sim);
	/* A 4 KiB pmap_kremove inside it demotes it. */
	cr_assert_eq(pmap_kremove(sim, KVA + 5 * SPG + 3 * PG), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.demotions"), 1);
	cr_assert_eq(pmap_kextract(sim, KVA + 5 * SPG + 3 * PG), 0);
	cr_assert_eq(pmap_kextract(sim, KVA + 5 * SPG + 4 * PG), vm_page_phys(m) + 4 * PG);
	psim_check(sim);
	cr_assert_eq(pmap_remove(pm, KVA, KVA + 6 * SPG), 0);
	cr_assert_eq(pmap_resident_count(pm), 0);
	for (i = 0; i < 512; i++) {
		vm_page_t x = vm_page_from_phys(sim, vm_page_phys(m) + (uint64_t)i * PG);

		cr_assert_eq(vm_page_map_count(x), 0);
		unmap_free(sim, x);
	}
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(pmap, remove_whole_superpage_and_reuse)
{
	struct pmap_sim *sim = psim_make(1, 32 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	static vm_page_t m[512];
	uint64_t pt_before;
	int level;

	fill_2m(sim, KVA + SPG, 0, m, false);
	pt_before = psim_dstats(sim, 0).pt_pages;
	cr_assert_eq(pmap_remove(pm, KVA, KVA + 3 * SPG), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.demotions"), 0, "whole superpage: no demotion");
	cr_assert_eq(pmap_kextract(sim, KVA + SPG), 0);
	cr_assert_eq(psim_dstats(sim, 0).pt_pages, pt_before);
	psim_check(sim);
	/* The slot takes small mappings again, and a 2 MiB one. */
	cr_assert_eq(pmap_enter(pm, KVA + SPG + 4 * PG, m[7], VM_PROT_RW, 0, 0), 0);
	cr_assert_eq(pmap_sim_kpte(sim, KVA + SPG + 4 * PG, &level) & PMAP_PG_FRAME,
	    vm_page_phys(m[7]));
	cr_assert_eq(level, 1);
	pmap_remove(pm, KVA + SPG, KVA + 2 * SPG);
	cr_assert_eq(pmap_enter(pm, KVA + SPG, m[0], VM_PROT_RW, 0, 1), 0);
	pmap_sim_kpte(sim, KVA + SPG, &level);
	cr_assert_eq(level, 2);
	cr_assert_eq(psim_dstats(sim, 0).pt_pages, pt_before, "reused the saved PT page");
	psim_check(sim);
	free_2m(sim, KVA + SPG, m);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(pmap, enter_inside_superpage_demotes)
{
	struct pmap_sim *sim = psim_make(1, 32 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	static vm_page_t m[512];
	int level;

	fill_2m(sim, KVA, 0, m, false);
	/* Same page, new protection: demote then update that entry. */
	cr_assert_eq(pmap_enter(pm, KVA + 9 * PG, m[9], VM_PROT_READ, PMAP_ENTER_WIRED, 0), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.demotions"), 1);
	cr_assert_eq(pmap_sim_kpte(sim, KVA + 9 * PG, &level) & PMAP_PG_RW, 0);
	cr_assert_eq(level, 1);
	cr_assert(pmap_sim_kpte(sim, KVA + 10 * PG, NULL) & PMAP_PG_RW);
	cr_assert_eq(pmap_resident_count(pm), 512);
	psim_check(sim);
	free_2m(sim, KVA, m);
	pmap_sim_destroy(sim);
}
