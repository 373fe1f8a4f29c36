/*
 * test_kmem_init.c -- configuration, bring-up and teardown: what
 * kmem_create builds (kernel_map with the bootstrap region, the arenas and
 * their import quanta, zero region, submaps), the bootstrap free, leak
 * reports, and instances side by side.
 */
#include "kmem_test.h"

TestSuite(kmem_init, .fini = kt_fini);

Test(kmem_init, config_defaults_and_rejections)
{
	struct kmem_config cfg, bad;
	char msg[160];

	kmem_config_init(&cfg);
	cr_assert_eq(cfg.version, KMEM_CONFIG_VERSION);
	cr_assert_eq(cfg.kva_min, PMAP_SIM_VM_MIN_KERNEL_ADDRESS);
	cr_assert_eq(cfg.kva_max, PMAP_SIM_VM_MAX_KERNEL_ADDRESS);
	cr_assert_eq(cfg.kva_quantum, 2 * MiB);
	cr_assert_eq(cfg.zero_region_size, 2 * MiB);
	cr_assert_eq(cfg.machine.ndomains, 1);
	cr_assert_eq(kmem_config_check(&cfg, msg, sizeof(msg)), 0, "%s", msg);

	bad = cfg;
	bad.version = 7;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	cr_assert(strstr(msg, "version") != NULL, "%s", msg);
	bad = cfg;
	bad.kva_quantum = 3 * MiB;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	cr_assert(strstr(msg, "kva_quantum") != NULL, "%s", msg);
	bad = cfg;
	bad.kva_min += PG;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	cr_assert(strstr(msg, "kva_min") != NULL, "%s", msg);
	bad = cfg;
	bad.kva_min = 0x1000000;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL, "user address");
	bad = cfg;
	bad.kva_max = bad.kva_min;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	bad = cfg;
	bad.bootstrap_size = 100;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	bad = cfg;
	bad.bootstrap_backed = bad.bootstrap_size + PG;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	bad = cfg;
	bad.import_quantum = 3 * MiB;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	bad = cfg;
	bad.zero_region_size = 100;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	bad = cfg;
	bad.machine.ndomains = 0;
	cr_assert_eq(kmem_config_check(&bad, msg, sizeof(msg)), EINVAL);
	cr_assert(strstr(msg, "machine") != NULL, "%s", msg);

	errno = 0;
	cr_assert_null(kmem_create(&bad));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(kmem_create(NULL));
	cr_assert_eq(kmem__live_instances(), 0);
}

struct entries {
	int			n;
	struct vm_map_entry_info e[16];
};

static int
collect(void *arg, const struct vm_map_entry_info *e)
{
	struct entries *x = arg;

	if (x->n < 16)
		x->e[x->n] = *e;
	x->n++;
	return 0;
}

Test(kmem_init, bring_up_one_domain)
{
	struct kmem *k = kt_make(1, 64 * MiB, NULL);
	vm_map_t map = kmem_kernel_map(k);
	struct entries ents = { 0 };
	vm_offset_t bs, be, bb, zr;
	vm_size_t zsize;
	uint64_t pte;
	int level;

	cr_assert_str_eq(kmem_name(k), "kmem");
	cr_assert_eq(kmem_ndomains(k), 1);
	cr_assert_eq(kmem_kva_quantum(k), 2 * MiB);
	cr_assert_eq(kmem_import_quantum(k), 2 * MiB, "one domain: KVA_QUANTUM");
	cr_assert_eq(vm_map_min(map), KT_KVA);
	cr_assert_eq(vm_map_max(map), KT_KVA + 64 * GiB);
	kmem_bootstrap_region(k, &bs, &be, &bb);
	cr_assert_eq(bs, KT_KVA);
	cr_assert_eq(be, KT_KVA + 4 * MiB);
	cr_assert_eq(bb, KT_KVA);
	cr_assert_str_eq(vmem_name(kmem_kernel_arena(k)), "kernel arena");
	cr_assert_str_eq(vmem_name(kmem_domain_arena(k, 0)), "kernel arena domain 0");
	cr_assert_str_eq(vmem_name(kmem_rwx_arena(k, 0)), "kernel rwx arena domain 0");
	cr_assert_null(kmem_domain_arena(k, 1));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(kmem_rwx_arena(k, -1));
	cr_assert_null(kmem_exec_map(k));
	cr_assert_null(kmem_pipe_map(k));
	cr_assert_eq(kmem_kernel_object(k), pmap_sim_kernel_object(kmem_sim(k)));
	cr_assert_eq(kmem_kernel_pmap(k), pmap_sim_kernel_pmap(kmem_sim(k)));

	/* kernel_map: the bootstrap entry, then the zero region's import. */
	vm_map_walk(map, collect, &ents);
	cr_assert_eq(ents.n, 2, "%d entries", ents.n);
	cr_assert_eq(ents.e[0].start, KT_KVA);
	cr_assert_eq(ents.e[0].end, KT_KVA + 4 * MiB);
	cr_assert(ents.e[0].flags & VM_MAP_ENTRY_NOFAULT);
	cr_assert(ents.e[0].flags & VM_MAP_ENTRY_NOMERGE);
	cr_assert_eq(ents.e[1].start % (2 * MiB), 0, "imports are superpage aligned");
	cr_assert_eq(ents.e[1].end - ents.e[1].start, 2 * MiB);

	/* The zero region: one zero page, read-only. */
	zr = kmem_zero_region(k, &zsize);
	cr_assert_eq(zsize, 2 * MiB);
	cr_assert_geq(zr, ents.e[1].start);
	cr_assert(kt_is_zero(k, zr, zsize));
	cr_assert_eq(pmap_kextract(kmem_sim(k), zr), pmap_kextract(kmem_sim(k), zr + zsize - PG));
	pte = pmap_sim_kpte(kmem_sim(k), zr + PG, &level);
	cr_assert_eq(level, 1);
	cr_assert_eq(pte & PMAP_PG_RW, 0);
	cr_assert_eq(pmap_sim_write(kmem_sim(k), zr, "x", 1), EACCES);
	kt_check(k);

	struct kmem_stats st = kt_stats(k);
	cr_assert_eq(st.kva_imported, 2 * MiB);
	cr_assert_eq(st.kva_alloc_inuse, 2 * MiB, "the zero region");
	cr_assert_eq(st.pages, 0);
	kmem_destroy(k);
}

Test(kmem_init, bring_up_numa_quanta_and_names)
{
	struct kmem_config cfg;
	struct kmem *k;
	uint8_t dist[9] = { 10, 20, 30, 20, 10, 20, 30, 20, 10 };

	kt_config(&cfg, 3, 32 * MiB, NULL);
	cfg.import_quantum = 0;			/* the NUMA default */
	cfg.machine.distance = dist;
	snprintf(cfg.name, sizeof(cfg.name), "numa3");
	k = kt_create(&cfg);
	cr_assert_str_eq(kmem_name(k), "numa3");
	cr_assert_eq(kmem_import_quantum(k), 256 * MiB, "128 * KVA_QUANTUM with several domains");
	cr_assert_str_eq(vmem_name(kmem_domain_arena(k, 2)), "kernel arena domain 2");
	cr_assert_eq(k->near[0 * 3 + 0], 0);
	cr_assert_eq(k->near[0 * 3 + 1], 1, "domain 1 is nearer to 0 than 2");
	cr_assert_eq(k->near[2 * 3 + 1], 1);
	cr_assert_eq(k->near[2 * 3 + 2], 0);

	/* A first allocation in domain 1 imports 256 MiB, 2 MiB aligned. */
	vm_offset_t va = kmem_malloc_domain_k(k, 1, PG, M_WAITOK);
	cr_assert_neq(va, 0);
	cr_assert_eq(kt_domain_of(k, va), 1);
	cr_assert_eq(vmem_size(kmem_domain_arena(k, 1), VMEM_ALLOC | VMEM_FREE), 256 * MiB);
	kt_check(k);
	kmem_free_k(k, va, PG);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_init, submaps_at_bring_up_and_kmap)
{
	struct kmem_config cfg;
	struct kmem *k;
	vm_offset_t a, b;

	kt_config(&cfg, 1, 32 * MiB, NULL);
	cfg.exec_map_size = 4 * MiB;
	cfg.pipe_map_size = 2 * MiB + PG;
	k = kt_create(&cfg);
	cr_assert_not_null(kmem_exec_map(k));
	cr_assert_not_null(kmem_pipe_map(k));
	cr_assert_str_eq(vm_map_name(kmem_exec_map(k)), "exec_map");
	cr_assert_eq(vm_map_max(kmem_exec_map(k)) - vm_map_min(kmem_exec_map(k)), 4 * MiB);
	cr_assert_eq(vm_map_max(kmem_pipe_map(k)) - vm_map_min(kmem_pipe_map(k)), 2 * MiB + PG);

	a = kmap_alloc_wait(kmem_exec_map(k), 3 * MiB);
	cr_assert_neq(a, 0);
	cr_assert_geq(a, vm_map_min(kmem_exec_map(k)));
	cr_assert_eq(pmap_kextract(kmem_sim(k), a), 0, "pageable: nothing mapped");
	cr_assert_eq(kmap_alloc_wait(kmem_exec_map(k), 5 * MiB), 0, "larger than the map");
	cr_assert_eq(kmap_alloc_wait(kmem_exec_map(k), 0), 0);
	b = kmap_alloc_wait(kmem_exec_map(k), 1 * MiB);
	cr_assert_neq(b, 0);
	kt_check(k);
	kmap_free_wakeup(kmem_exec_map(k), a, 3 * MiB);
	kmap_free_wakeup(kmem_exec_map(k), b + 1, 1 * MiB - 1);	/* rounded outwards */
	cr_assert_eq(vm_map_entry_count(kmem_exec_map(k)), 0);

	/* kmem_subinit_k: a submap of a submap, superpage aligned. */
	vm_offset_t lo, hi;
	vm_map_t sub = NULL;
	static struct vm_map store;	/* outlives the test: destroyed with the instance */

	cr_assert_eq(kmem_subinit_k(k, &store, kmem_kernel_map(k), &lo, &hi, 6 * MiB, true, &sub),
	    0);
	cr_assert_eq(sub, &store);
	cr_assert_eq(lo % (2 * MiB), 0);
	cr_assert_eq(hi - lo, 6 * MiB);
	vm_map_t sub2 = NULL;
	cr_assert_eq(kmem_subinit_k(k, NULL, sub, &lo, &hi, 1 * MiB, false, &sub2), 0);
	cr_assert_eq(kmem_subinit_k(k, NULL, sub, &lo, &hi, 8 * MiB, false, NULL), ENOMEM);
	cr_assert_eq(kmem_subinit_k(k, NULL, NULL, &lo, &hi, 8 * MiB, false, NULL), EINVAL);
	kt_check(k);
	kmem_destroy(k);	/* destroys every submap */
}

Test(kmem_init, bootstrap_free)
{
	struct kmem_config cfg;
	struct kt_log log = { 0 };
	struct kmem *k;
	vm_offset_t bs, be, bb;

	kt_config(&cfg, 2, 32 * MiB, &log);
	cfg.bootstrap_backed = 1 * MiB;
	k = kt_create(&cfg);
	kmem_bootstrap_region(k, &bs, &be, &bb);
	cr_assert_eq(bb, bs + 1 * MiB);
	cr_assert_neq(pmap_kextract(kmem_sim(k), bs), 0);
	cr_assert_eq(kt_domain_of(k, bs + 100 * PG), 0, "preloaded data lives in domain 0");
	cr_assert_eq(pmap_kextract(kmem_sim(k), bb), 0);
	kt_check(k);

	uint64_t free0 = kt_free_pages(k, 0);
	/* Rounded inwards: the partial first and last pages stay. */
	kmem_bootstrap_free_k(k, bs + 16 * PG + 1, 64 * PG);
	cr_assert_eq(kt_free_pages(k, 0), free0 + 63);
	cr_assert_neq(pmap_kextract(kmem_sim(k), bs + 16 * PG), 0);
	cr_assert_eq(pmap_kextract(kmem_sim(k), bs + 17 * PG), 0);
	cr_assert_neq(pmap_kextract(kmem_sim(k), bs + 80 * PG), 0);
	cr_assert(vmem_contains(kmem_kernel_arena(k), bs + 17 * PG));
	kt_check(k);

	/* The given-back space is kernel arena space: kva_alloc finds it (best fit). */
	vm_offset_t va = kva_alloc_k(k, 63 * PG);
	cr_assert_eq(va, bs + 17 * PG);
	cr_assert_eq(kmem_back_k(k, va, 63 * PG, M_NOWAIT), KERN_SUCCESS);
	kt_check(k);
	kmem_unback_k(k, va, 63 * PG);
	kva_free_k(k, va, 63 * PG);

	/* Again over pages already given back: misuse, nothing changed. */
	struct kt_snap s0 = kt_snap(k);
	kmem_bootstrap_free_k(k, bs + 10 * PG, 20 * PG);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, KMEM_MISUSE_NOT_BACKED);
	cr_assert(strstr(log.msg, "kmem_bootstrap_free_k") != NULL, "%s", log.msg);
	struct kt_snap s1 = kt_snap(k);
	kt_snap_same(&s0, &s1, "bootstrap free of freed pages");
	/* Beyond the backed part: misuse too. */
	kmem_bootstrap_free_k(k, bb, PG);
	cr_assert_eq(log.count, 2);
	/* Nothing to do for less than a whole page. */
	kmem_bootstrap_free_k(k, bs + 1, PG);
	cr_assert_eq(log.count, 2);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_init, destroy_reports_leaks_once)
{
	struct kt_log log = { 0 };
	struct kmem *k = kt_make(2, 32 * MiB, &log);
	vm_offset_t a = kmem_malloc_k(k, 3 * PG, M_WAITOK);
	vm_offset_t b = kmem_malloc_k(k, PG, M_WAITOK | M_EXEC);
	vm_offset_t c = kva_alloc_k(k, 5 * PG);

	cr_assert(a != 0 && b != 0 && c != 0);
	kmem_destroy(k);
	cr_assert_eq(log.count, 1, "one report, not one per arena (%d)", log.count);
	cr_assert_eq(log.kind, KMEM_MISUSE_LEAK);
	cr_assert_eq(log.size, 9 * PG, "%zu", (size_t)log.size);
	cr_assert(strstr(log.msg, "2 allocations") != NULL, "%s", log.msg);
	cr_assert_eq(log.addr, a < b ? a : b, "the lowest live allocation");
}

Test(kmem_init, default_handler_aborts, .signal = SIGABRT)
{
	struct kmem *k = kt_make(1, 16 * MiB, NULL);

	kmem_free_k(k, KT_KVA + 512 * MiB, PG);
}

Test(kmem_init, instances_side_by_side)
{
	struct kmem *a = kt_make(1, 16 * MiB, NULL), *b = kt_make(2, 16 * MiB, NULL);
	vm_offset_t x = kmem_malloc_k(a, 4 * PG, M_WAITOK | M_ZERO);
	vm_offset_t y = kmem_malloc_k(b, 4 * PG, M_WAITOK | M_ZERO);

	cr_assert(x != 0 && y != 0);
	kt_fill(a, x, 4 * PG, 1);
	kt_fill(b, y, 4 * PG, 2);
	cr_assert(kt_verify(a, x, 4 * PG, 1));
	cr_assert(kt_verify(b, y, 4 * PG, 2));
	cr_assert_eq(kt_stats(a).pages, 4);
	cr_assert_eq(kt_stats(b).pages, 4);
	kmem_free_k(a, x, 4 * PG);
	cr_assert(kt_verify(b, y, 4 * PG, 2));
	kt_check(a);
	kt_check(b);
	kmem_destroy(a);
	kmem_free_k(b, y, 4 * PG);
	kmem_destroy(b);
}

Test(kmem_init, bad_instance_pointer_panics, .signal = SIGABRT)
{
	struct kmem *k = kt_make(1, 16 * MiB, NULL);
	uint32_t junk[64] = { 0 };

	(void)k;
	(void)kmem_malloc_k((struct kmem *)junk, PG, M_WAITOK);
}
