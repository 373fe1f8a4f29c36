/*
 * test_kmem_compat.c -- <kvmem/kmem_compat.h>: FreeBSD's global kmem
 * interface and NetBSD's 1998 uvm_km interface over the default instance,
 * which is built by kmem_init()/uvm_km_init() or on first use and torn
 * down by kmem_compat_fini().
 */
#include <kvmem/kmem_compat.h>

#include "kmem_test.h"

static void
compat_fini(void)
{
	kmem_compat_fini();
	cr_assert_null(kernel_map);
	kt_fini();
}

TestSuite(kmem_compat, .fini = compat_fini);

static struct kt_log clog;

/* A small default machine whose misuse reports land in clog. */
static void
configure(int ndomains)
{
	struct kmem_config cfg;

	memset(&clog, 0, sizeof(clog));
	kt_config(&cfg, ndomains, 32 * MiB, &clog);
	cfg.exec_map_size = 4 * MiB;
	cfg.pipe_map_size = 4 * MiB;
	cr_assert_eq(kmem_compat_configure(&cfg), 0);
}

Test(kmem_compat, built_on_first_use)
{
	struct kmem_config cfg;
	vm_offset_t va;

	cr_assert_null(kernel_map);
	va = kmem_malloc(3 * PG, M_WAITOK | M_ZERO);	/* builds the defaults */
	cr_assert_neq(va, 0);
	cr_assert_not_null(kernel_map);
	cr_assert_not_null(kernel_arena);
	cr_assert_not_null(exec_map);
	cr_assert_not_null(pipe_map);
	cr_assert_eq(vm_map_max(exec_map) - vm_map_min(exec_map), 8 * MiB);
	cr_assert_eq(kernel_object, kmem_kernel_object(kmem_compat_instance()));
	cr_assert_eq(kernel_pmap, kmem_kernel_pmap(kmem_compat_instance()));
	cr_assert_neq(zero_region, NULL);
	cr_assert_str_eq(kmem_name(kmem_compat_instance()), "default");
	kmem_config_init(&cfg);
	cr_assert_eq(kmem_compat_configure(&cfg), EBUSY);
	kmem_free(va, 3 * PG);
	kt_check(kmem_compat_instance());
}

Test(kmem_compat, freebsd_interface)
{
	vm_offset_t start = KT_KVA + 8 * MiB, end = KT_KVA + 32 * GiB, va, kv, lo, hi;
	struct vm_map_entry_info e;
	static struct vm_map store;	/* outlives the test: destroyed with the instance */
	struct kmem *k;

	configure(2);
	kmem_init(start, end);
	k = kmem_compat_instance();
	cr_assert_eq(vm_map_min(kernel_map), KT_KVA);
	cr_assert_eq(vm_map_max(kernel_map), end);
	cr_assert(vm_map_lookup_entry(kernel_map, KT_KVA, &e));
	cr_assert_eq(e.end, start, "[min, start) reserved");
	kmem_init_zero_region();	/* done already */
	cr_assert(kt_is_zero(k, (vm_offset_t)(uintptr_t)zero_region, ZERO_REGION_SIZE));

	kmem_init(start, end);
	cr_assert_eq(clog.count, 1, "kmem_init twice");
	cr_assert_eq(clog.kind, KMEM_MISUSE_BAD_ARG);

	va = kmem_malloc_domainset(DOMAINSET_PREF(1), 4 * PG, M_WAITOK);
	cr_assert_eq(kt_domain_of(k, va), 1);
	kmem_free(va, 4 * PG);
	va = kmem_malloc_domainset(DOMAINSET_FIXED(0), PG, M_NOWAIT);
	cr_assert_eq(kt_domain_of(k, va), 0);
	kmem_free(va, PG);
	va = kmem_malloc_domainset(DOMAINSET_RR(), PG, M_NOWAIT);
	cr_assert_neq(va, 0);
	kmem_free(va, PG);
	cr_assert_not_null(DOMAINSET_FT());
	cr_assert_not_null(DOMAINSET_IL());

	va = kmem_alloc_contig(3 * PG, M_WAITOK, 0, ~(vm_paddr_t)0, 2 * PG, 0, VM_MEMATTR_DEFAULT);
	cr_assert_neq(va, 0);
	cr_assert_eq(pmap_kextract(kmem_sim(k), va) % (2 * PG), 0);
	kmem_free(va, 3 * PG);
	va = kmem_alloc_attr(2 * PG, M_WAITOK, 0, ~(vm_paddr_t)0, VM_MEMATTR_DEFAULT);
	cr_assert_neq(va, 0);
	kmem_free(va, 2 * PG);
	va = kmem_alloc_contig_domainset(DOMAINSET_PREF(1), PG, M_NOWAIT, 0, ~(vm_paddr_t)0, 0, 0,
	    VM_MEMATTR_DEFAULT);
	cr_assert_eq(kt_domain_of(k, va), 1);
	kmem_free(va, PG);
	va = kmem_alloc_attr_domainset(DOMAINSET_PREF(0), PG, M_NOWAIT, 0, ~(vm_paddr_t)0,
	    VM_MEMATTR_DEFAULT);
	cr_assert_eq(kt_domain_of(k, va), 0);
	kmem_free(va, PG);

	kv = kva_alloc(8 * PG);
	cr_assert_eq(kmem_back(kernel_object, kv, 8 * PG, M_WAITOK), KERN_SUCCESS);
	kmem_unback(kernel_object, kv, 4 * PG);
	cr_assert_eq(kmem_back_domain(1, kernel_object, kv, 4 * PG, M_NOWAIT), KERN_SUCCESS);
	cr_assert_eq(kt_domain_of(k, kv), 1);
	/* Another object: a misuse, as FreeBSD's assertion. */
	cr_assert_eq(kmem_back(uvmexp.kmem_object, kv + 8 * PG, PG, M_NOWAIT),
	    KERN_INVALID_ARGUMENT);
	cr_assert_eq(clog.count, 2);
	kt_check(k);
	kmem_unback(kernel_object, kv, 8 * PG);
	kva_free(kv, 8 * PG);

	kmem_subinit(&store, kernel_map, &lo, &hi, 3 * MiB, true);
	cr_assert_eq(lo % (2 * MiB), 0);
	cr_assert_eq(hi - lo, 3 * MiB);
	va = kmap_alloc_wait(&store, 2 * MiB);
	cr_assert(va >= lo && va < hi);
	kmap_free_wakeup(&store, va, 2 * MiB);
	kmem_subinit(&store, kernel_map, &lo, &hi, 64 * GiB, false);
	cr_assert_eq(clog.count, 3, "no room: FreeBSD panics, here a misuse report");
	kt_check(k);
}

Test(kmem_compat, bootstrap_free)
{
	struct kmem_config cfg;
	struct kmem *k;

	memset(&clog, 0, sizeof(clog));
	kt_config(&cfg, 1, 32 * MiB, &clog);
	cfg.bootstrap_backed = 2 * MiB;
	cr_assert_eq(kmem_compat_configure(&cfg), 0);
	kmem_init(KT_KVA + 4 * MiB, KT_KVA + 16 * GiB);
	k = kmem_compat_instance();
	uint64_t f0 = kt_free_pages(k, 0);
	kmem_bootstrap_free(KT_KVA, 1 * MiB);
	cr_assert_eq(kt_free_pages(k, 0), f0 + 256);
	cr_assert(vmem_contains(kernel_arena, KT_KVA));
	kt_check(k);
}

Test(kmem_compat, netbsd_alloc1_and_free)
{
	struct kmem *k;
	vm_offset_t va;
	struct vm_map_entry_info e;
	uint64_t f0;

	configure(1);
	uvm_km_init(KT_KVA + 4 * MiB, KT_KVA + 16 * GiB);
	k = kmem_compat_instance();
	cr_assert_eq(uvm.kernel_object, kernel_object);
	cr_assert_eq(uvmexp.pagesize, (int)PG);
	cr_assert_not_null(uvmexp.kmem_object);
	cr_assert_not_null(uvmexp.mb_object);
	f0 = kt_free_pages(k, 0) + kt_pt_pages(k);

	va = uvm_km_zalloc(kernel_map, 5 * PG + 1);
	cr_assert_neq(va, 0);
	cr_assert(kt_is_zero(k, va, 6 * PG));
	cr_assert(vm_map_lookup_entry(kernel_map, va, &e));
	cr_assert_eq(e.object, kernel_object);
	cr_assert_eq(e.offset, (vm_ooffset_t)(va - KT_KVA));
	for (int i = 0; i < 6; i++) {
		vm_page_t m = vm_page_from_phys(kmem_sim(k), pmap_kextract(kmem_sim(k),
		    va + (vm_offset_t)i * PG));

		cr_assert_not_null(m);
		cr_assert_eq(vm_page_object(m), kernel_object);
		cr_assert_eq(vm_page_pindex(m), (va - KT_KVA) / PG + (vm_pindex_t)i);
	}
	/* UVM_PROT_ALL: executable, as NetBSD maps it. */
	cr_assert_eq(pmap_sim_kpte(kmem_sim(k), va, NULL) & PMAP_PG_NX, 0);
	kt_fill(k, va, 6 * PG, 9);
	kt_check(k);
	cr_assert_eq(pmap_sim_object_npages(kernel_object), 6);
	uvm_km_free(kernel_map, va, 5 * PG + 1);
	cr_assert_eq(pmap_sim_object_npages(kernel_object), 0, "pages freed with the entry");
	cr_assert_not(vm_map_lookup_entry(kernel_map, va, NULL));
	cr_assert_eq(kt_free_pages(k, 0) + kt_pt_pages(k), f0);
	va = uvm_km_alloc(kernel_map, PG);
	cr_assert_neq(va, 0);
	uvm_km_free_wakeup(kernel_map, va, PG);
	kt_check(k);
}

Test(kmem_compat, netbsd_kmemalloc_valloc_pool)
{
	struct kmem *k;
	vm_offset_t va, vv, vw, pp;

	configure(2);
	k = kmem_compat_instance();
	va = uvm_km_kmemalloc(kernel_map, uvmexp.kmem_object, 3 * PG, UVM_KMF_NOWAIT);
	cr_assert_neq(va, 0);
	cr_assert_eq(pmap_sim_object_npages(uvmexp.kmem_object), 3);
	cr_assert_not_null(vm_page_lookup(uvmexp.kmem_object, (va - KT_KVA) / PG + 2));
	vv = uvm_km_kmemalloc(kernel_map, uvmexp.kmem_object, 2 * PG, UVM_KMF_VALLOC);
	cr_assert_neq(vv, 0);
	cr_assert_eq(pmap_kextract(kmem_sim(k), vv), 0, "address space only");
	vw = uvm_km_valloc(kernel_map, 4 * PG);
	cr_assert_neq(vw, 0);
	cr_assert_eq(pmap_kextract(kmem_sim(k), vw), 0);
	cr_assert_eq(uvm_km_valloc_wait(exec_map, 64 * MiB), 0, "larger than the map");
	vm_offset_t vx = uvm_km_valloc_wait(exec_map, 1 * MiB);
	cr_assert(vx >= vm_map_min(exec_map) && vx < vm_map_max(exec_map));
	struct vm_map_entry_info e;
	cr_assert(vm_map_lookup_entry(exec_map, vx, &e));
	cr_assert_eq(e.object, kernel_object);
	cr_assert_eq(e.offset, (vm_ooffset_t)(vx - KT_KVA));
	pp = uvm_km_alloc_poolpage1(kernel_map, uvmexp.mb_object);
	cr_assert_neq(pp, 0);
	cr_assert_eq(pmap_sim_object_npages(uvmexp.mb_object), 1);
	kt_check(k);
	uvm_km_free_poolpage1(kernel_map, pp);
	cr_assert_eq(pmap_sim_object_npages(uvmexp.mb_object), 0);
	/* pgremove unmaps and frees the object's pages; the VA stays mapped in the map. */
	uvm_km_pgremove(uvmexp.kmem_object, va - KT_KVA, va - KT_KVA + 3 * PG);
	cr_assert_eq(pmap_sim_object_npages(uvmexp.kmem_object), 0);
	cr_assert_eq(pmap_kextract(kmem_sim(k), va), 0);
	cr_assert(vm_map_lookup_entry(kernel_map, va, NULL));
	uvm_km_free(kernel_map, va, 3 * PG);
	uvm_km_free(kernel_map, vv, 2 * PG);
	uvm_km_free(kernel_map, vw, 4 * PG);
	uvm_km_free(exec_map, vx, 1 * MiB);
	kt_check(k);
}

Test(kmem_compat, netbsd_nowait_failure_leaves_nothing)
{
	struct kmem *k;
	vm_offset_t va;

	configure(1);
	k = kmem_compat_instance();
	va = uvm_km_kmemalloc(kernel_map, uvmexp.kmem_object, 8 * PG, UVM_KMF_NOWAIT);
	uvm_km_free(kernel_map, va, 8 * PG);	/* warm the page tables */
	for (uint64_t n = 0; n < 8; n++) {
		struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PAGES, n, 1);
		size_t entries = vm_map_entry_count(kernel_map);
		uint64_t free0 = kt_free_pages(k, 0) + kt_pt_pages(k);

		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
		va = uvm_km_kmemalloc(kernel_map, uvmexp.kmem_object, 8 * PG, UVM_KMF_NOWAIT);
		cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
		cr_assert_eq(va, 0, "fault at page %" PRIu64, n);
		cr_assert_eq(vm_map_entry_count(kernel_map), entries);
		cr_assert_eq(kt_free_pages(k, 0) + kt_pt_pages(k), free0);
		cr_assert_eq(pmap_sim_object_npages(uvmexp.kmem_object), 0);
	}
	/* Without UVM_KMF_NOWAIT a transient failure is waited out. */
	struct pmap_sim_fault f = kt_fault(PMAP_SIM_FAULT_PAGES, 3, 1);
	cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), &f), 0);
	va = uvm_km_alloc1(kernel_map, 8 * PG, FALSE);
	cr_assert_eq(pmap_sim_set_fault(kmem_sim(k), NULL), 0);
	cr_assert_neq(va, 0);
	kt_check(k);
	uvm_km_free(kernel_map, va, 8 * PG);
	kt_check(k);
}

Test(kmem_compat, netbsd_suballoc)
{
	static struct vm_map store;	/* outlives the test: destroyed with the instance */
	vm_offset_t lo = 0, hi = 0, va, fixed;
	vm_map_t sub;
	struct kmem *k;

	configure(1);
	k = kmem_compat_instance();
	sub = uvm_km_suballoc(kernel_map, &lo, &hi, 4 * MiB, TRUE, FALSE, NULL);
	cr_assert_not_null(sub);
	cr_assert_eq(hi - lo, 4 * MiB);
	va = uvm_km_alloc1(sub, 3 * PG, TRUE);
	cr_assert(va >= lo && va < hi);
	struct vm_map_entry_info e;
	cr_assert(vm_map_lookup_entry(sub, va, &e));
	cr_assert_eq(e.offset, (vm_ooffset_t)(va - KT_KVA), "offsets are kernel_map's");
	kt_check(k);
	uvm_km_free(sub, va, 3 * PG);
	/* Fixed placement at a free address; then the same place again fails. */
	fixed = KT_KVA + 20 * GiB;
	lo = fixed;
	cr_assert_eq(uvm_km_suballoc(kernel_map, &lo, &hi, 1 * MiB, TRUE, TRUE, &store), &store);
	cr_assert_eq(lo, fixed);
	lo = fixed;
	cr_assert_null(uvm_km_suballoc(kernel_map, &lo, &hi, 1 * MiB, TRUE, TRUE, NULL));
	cr_assert_eq(clog.count, 1);
	kt_check(k);
}
