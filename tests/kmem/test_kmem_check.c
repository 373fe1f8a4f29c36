/*
 * test_kmem_check.c -- kmem_check() finds what it promises to find: each
 * test breaks one invariant behind the instance's back (white box) and
 * expects the check to fail, then repairs it and expects it to pass.
 * Also the misuse handler plumbing.
 */
#include "kmem_test.h"

TestSuite(kmem_check, .fini = kt_fini);

static void
expect_bad(struct kmem *k, const char *what)
{
	cr_assert_neq(kmem_check(k), 0, "kmem_check missed: %s", what);
}

Test(kmem_check, records)
{
	struct kmem *k = kt_make(1, 16 * MiB, NULL);
	vm_offset_t va = kmem_malloc_k(k, 4 * PG, M_WAITOK);
	uint64_t b = (va - KT_KVA) / PG;

	kt_check(k);
	/* The end record gone. */
	__atomic_fetch_and(&k->rec_end[(b + 3) / 64], ~((uint64_t)1 << ((b + 3) % 64)),
	    __ATOMIC_RELAXED);
	expect_bad(k, "a missing end record");
	__atomic_fetch_or(&k->rec_end[(b + 3) / 64], (uint64_t)1 << ((b + 3) % 64),
	    __ATOMIC_RELAXED);
	kt_check(k);
	/* A start record in the middle. */
	__atomic_fetch_or(&k->rec_start[(b + 2) / 64], (uint64_t)1 << ((b + 2) % 64),
	    __ATOMIC_RELAXED);
	expect_bad(k, "a second start inside an allocation");
	__atomic_fetch_and(&k->rec_start[(b + 2) / 64], ~((uint64_t)1 << ((b + 2) % 64)),
	    __ATOMIC_RELAXED);
	/* An exec record on an ordinary allocation. */
	__atomic_fetch_or(&k->rec_exec[b / 64], (uint64_t)1 << (b % 64), __ATOMIC_RELAXED);
	expect_bad(k, "an exec record in the kernel arena");
	__atomic_fetch_and(&k->rec_exec[b / 64], ~((uint64_t)1 << (b % 64)), __ATOMIC_RELAXED);
	kt_check(k);
	kmem_free_k(k, va, 4 * PG);
	kmem_destroy(k);
}

Test(kmem_check, mappings_and_counters)
{
	struct kmem *k = kt_make(2, 16 * MiB, NULL);
	vm_offset_t va = kmem_malloc_domain_k(k, 0, 4 * PG, M_WAITOK);
	struct pmap_sim *sim = kmem_sim(k);
	vm_page_t m;

	kt_check(k);
	/* A stray mapping in domain 0's arena, outside any allocation. */
	m = vm_page_alloc_noobj_domain(sim, 0, VM_ALLOC_SYSTEM);
	cr_assert_not_null(m);
	cr_assert_eq(pmap_enter(kmem_kernel_pmap(k), va + 8 * PG, m, VM_PROT_RW, VM_PROT_RW, 0), 0);
	expect_bad(k, "a mapping outside every allocation");
	pmap_remove(kmem_kernel_pmap(k), va + 8 * PG, va + 9 * PG);
	vm_page_free(sim, m);
	kt_check(k);
	/* A page of the allocation unmapped behind kmem's back. */
	vm_paddr_t pa = pmap_kextract(sim, va + PG);
	pmap_remove(kmem_kernel_pmap(k), va + PG, va + 2 * PG);
	expect_bad(k, "a hole in an allocation");
	cr_assert_eq(pmap_enter(kmem_kernel_pmap(k), va + PG, vm_page_from_phys(sim, pa),
	    VM_PROT_RW, VM_PROT_RW | PMAP_ENTER_WIRED, 0), 0);
	kt_check(k);
	/* A page counted in the wrong domain. */
	struct kmem_tstat *ts = kmem__tstat(k);
	kmem__pages_add(ts, 1, 1);
	expect_bad(k, "page counts that disagree");
	kmem__pages_add(ts, 1, -1);
	kt_check(k);
	/* An import the map does not know of. */
	atomic_fetch_add(&k->kva_imported, 2 * MiB);
	expect_bad(k, "imports that disagree with kernel_map");
	atomic_fetch_sub(&k->kva_imported, 2 * MiB);
	kt_check(k);
	kmem_free_k(k, va, 4 * PG);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_check, zero_region_and_bootstrap)
{
	struct kmem_config cfg;
	struct kmem *k;
	vm_size_t zs;
	vm_offset_t z;

	kt_config(&cfg, 1, 16 * MiB, NULL);
	cfg.bootstrap_backed = 64 * PG;
	k = kt_create(&cfg);
	z = kmem_zero_region(k, &zs);
	kt_check(k);
	unsigned char *p = vm_page_ptr(kmem_sim(k), k->zero_page);
	p[100] = 1;
	expect_bad(k, "a dirty zero page");
	p[100] = 0;
	kt_check(k);
	atomic_fetch_add(&k->boot_pages, 1);
	expect_bad(k, "a bootstrap page count off by one");
	atomic_fetch_sub(&k->boot_pages, 1);
	cr_assert_neq(z, 0);
	kt_check(k);
	kmem_destroy(k);
}

static struct kt_log dlog;

Test(kmem_check, default_handler_and_names)
{
	struct kmem *k = kt_make(1, 16 * MiB, NULL);

	memset(&dlog, 0, sizeof(dlog));
	kmem_set_misuse_handler(NULL, kt_record, &dlog);
	kmem_free_k(k, KT_KVA + 40 * MiB, PG);
	cr_assert_eq(dlog.count, 1, "the process default handler");
	cr_assert(strstr(dlog.msg, "kvmem: kmem 'kmem':") == dlog.msg, "%s", dlog.msg);
	cr_assert(strstr(dlog.msg, "0xfffffe0002800000") != NULL, "%s", dlog.msg);
	struct kt_log own = { 0 };
	kmem_set_misuse_handler(k, kt_record, &own);
	kmem_free_k(k, KT_KVA + 40 * MiB, PG);
	cr_assert_eq(own.count, 1, "the instance's handler wins");
	cr_assert_eq(dlog.count, 1);
	kmem_set_misuse_handler(NULL, NULL, NULL);
	cr_assert_eq(kt_stats(k).misuses, 2);
	cr_assert_str_eq(kmem_misuse_name(KMEM_MISUSE_BAD_FREE), "bad free");
	cr_assert_str_eq(kmem_misuse_name(KMEM_MISUSE_LEAK), "leak");
	cr_assert_str_eq(kmem_misuse_name((enum kmem_misuse)99), "unknown");
	kmem_destroy(k);
}
