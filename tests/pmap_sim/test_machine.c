/*
 * test_machine.c -- configuration, creation and destruction, topology,
 * CPUs per thread, the lazy host backing, statistics and sysctl names.
 */
#include <errno.h>
#include <pthread.h>

#include "psim_test.h"

TestSuite(machine, .fini = psim_fini_no_live);

Test(machine, defaults)
{
	struct pmap_sim_config cfg;
	struct pmap_sim *sim;
	vm_paddr_t s, e;

	pmap_sim_config_init(&cfg);
	cr_assert_eq(cfg.version, PMAP_SIM_CONFIG_VERSION);
	cr_assert_eq(pmap_sim_config_check(&cfg, NULL, 0), 0);
	sim = pmap_sim_create(&cfg);
	cr_assert_not_null(sim);
	cr_assert_eq(pmap_sim__live_machines(), 1);
	cr_assert_str_eq(pmap_sim_name(sim), "sim");
	cr_assert_eq(pmap_sim_ndomains(sim), 1);
	cr_assert_eq(pmap_sim_ncpus(sim), 1);
	cr_assert_eq(pmap_sim_domain_range(sim, 0, &s, &e), 0);
	cr_assert_eq(s, 16 * MiB);
	cr_assert_eq(e, 80 * MiB);
	cr_assert_eq(pmap_sim_domain_range(sim, 1, &s, &e), EINVAL);
	cr_assert_not_null(pmap_sim_kernel_pmap(sim));
	cr_assert_eq(pmap_sim_of_pmap(pmap_sim_kernel_pmap(sim)), sim);
	cr_assert_not_null(pmap_sim_kernel_object(sim));

	/* One page (the kernel PML4) is in use; everything else is free. */
	struct pmap_sim_domain_stats ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.page_count, 64 * MiB / PG);
	cr_assert_eq(ds.free_count, ds.page_count - 1);
	cr_assert_eq(ds.allocated, 1);
	cr_assert_eq(ds.pt_pages, 1);
	cr_assert_eq(ds.wired_count, 1, "page-table pages are wired");
	cr_assert_eq(ds.free_reserved, 32 + 2 + 16384 / 768);
	cr_assert_eq(ds.interrupt_free_min, 2);
	psim_check(sim);
	pmap_sim_destroy(sim);
	cr_assert_eq(pmap_sim__live_machines(), 0);
}

static void
expect_bad(struct pmap_sim_config *cfg, const char *what)
{
	char msg[200];

	cr_assert_eq(pmap_sim_config_check(cfg, msg, sizeof(msg)), EINVAL, "%s accepted", what);
	cr_assert_neq(msg[0], '\0', "%s: no reason given", what);
	errno = 0;
	cr_assert_null(pmap_sim_create(cfg), "%s: created", what);
	cr_assert_eq(errno, EINVAL, "%s: errno %d", what, errno);
	pmap_sim_config_init(cfg);
}

Test(machine, nonsense_configs)
{
	struct pmap_sim_config cfg;
	uint64_t sizes[2] = { 64 * MiB, 4096 * 3 };
	int cpus[2] = { 0, 5 };
	uint8_t dist[4] = { 10, 21, 21, 10 };

	pmap_sim_config_init(&cfg);
	cr_assert_eq(pmap_sim_config_check(NULL, NULL, 0), EINVAL);
	cfg.version = 99;
	expect_bad(&cfg, "version 99");
	cfg.ndomains = 0;
	expect_bad(&cfg, "0 domains");
	cfg.ndomains = PMAP_SIM_MAXDOMAINS + 1;
	expect_bad(&cfg, "65 domains");
	cfg.domain_size = 0;
	expect_bad(&cfg, "size 0");
	cfg.domain_size = 64 * MiB + 100;
	expect_bad(&cfg, "unaligned size");
	cfg.domain_size = 512 * 1024;
	expect_bad(&cfg, "domain below 1 MiB");
	cfg.ndomains = 2;
	cfg.domain_sizes = sizes;
	expect_bad(&cfg, "second domain too small");
	cfg.ndomains = 64;
	cfg.domain_size = 128 * GiB;
	expect_bad(&cfg, "8 TiB");
	cfg.phys_base = 12345;
	expect_bad(&cfg, "unaligned phys_base");
	cfg.phys_base = (uint64_t)1 << 46;
	expect_bad(&cfg, "phys beyond 2^46");
	cfg.dma32_limit = 100;
	expect_bad(&cfg, "unaligned dma32 limit");
	cfg.ncpus = -1;
	expect_bad(&cfg, "ncpus -1");
	cfg.ncpus = PMAP_SIM_MAXCPUS + 1;
	expect_bad(&cfg, "too many cpus");
	cfg.ndomains = 2;
	cfg.ncpus = 2;
	cfg.cpu_domain = cpus;
	expect_bad(&cfg, "cpu in domain 5");
	cfg.ndomains = 2;
	dist[0] = 11;
	cfg.distance = dist;
	expect_bad(&cfg, "local distance 11");
	cfg.ndomains = 2;
	dist[0] = 10;
	dist[1] = 10;
	cfg.distance = dist;
	expect_bad(&cfg, "remote distance 10");
	cr_assert_eq(pmap_sim__live_machines(), 0);
}

Test(machine, topology)
{
	struct pmap_sim_config cfg;
	uint64_t sizes[3] = { 32 * MiB, 16 * MiB + 4096 * 5, 8 * MiB };
	uint8_t dist[9] = { 10, 12, 30, 12, 10, 30, 30, 30, 10 };
	struct pmap_sim *sim;
	vm_paddr_t s, e, prev = 16 * MiB;
	int i;

	pmap_sim_config_init(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "topo");
	cfg.ndomains = 3;
	cfg.domain_sizes = sizes;
	cfg.ncpus = 7;
	cfg.distance = dist;
	sim = pmap_sim_create(&cfg);
	cr_assert_not_null(sim);
	cr_assert_str_eq(pmap_sim_name(sim), "topo");
	for (i = 0; i < 3; i++) {
		cr_assert_eq(pmap_sim_domain_range(sim, i, &s, &e), 0);
		cr_assert_eq(s, prev, "domain %d starts at 0x%" PRIx64, i, s);
		cr_assert_eq(e - s, sizes[i]);
		prev = e;
		cr_assert_eq(psim_dstats(sim, i).page_count, sizes[i] / PG);
	}
	/* CPUs in blocks: 7 CPUs over 3 domains. */
	cr_assert_eq(pmap_sim_cpu_domain(sim, 0), 0);
	cr_assert_eq(pmap_sim_cpu_domain(sim, 2), 0);
	cr_assert_eq(pmap_sim_cpu_domain(sim, 3), 1);
	cr_assert_eq(pmap_sim_cpu_domain(sim, 6), 2);
	cr_assert_eq(pmap_sim_cpu_domain(sim, 7), -1);
	cr_assert_eq(pmap_sim_cpu_domain(sim, -1), -1);
	cr_assert_eq(pmap_sim_distance(sim, 0, 1), 12);
	cr_assert_eq(pmap_sim_distance(sim, 2, 0), 30);
	cr_assert_eq(pmap_sim_distance(sim, 1, 1), 10);
	cr_assert_eq(pmap_sim_distance(sim, 3, 1), -1);
	/* vm_page_alloc_noobj from CPU 6 (domain 2) prefers domain 2. */
	cr_assert_eq(pmap_sim_set_cpu(sim, 6), 0);
	cr_assert_eq(pmap_sim_curdomain(sim), 2);
	vm_page_t m = vm_page_alloc_noobj(sim, 0);
	cr_assert_not_null(m);
	cr_assert_eq(vm_page_domain(m), 2);
	vm_page_free(sim, m);
	cr_assert_eq(pmap_sim_set_cpu(sim, 7), EINVAL);
	cr_assert_eq(pmap_sim_curcpu(sim), 6);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

struct cpu_arg {
	struct pmap_sim	*a, *b;
	int		seen_a, seen_b;
};

static void *
cpu_thread(void *p)
{
	struct cpu_arg *arg = p;

	/* A new thread starts on CPU 0 of each machine. */
	arg->seen_a = pmap_sim_curcpu(arg->a);
	pmap_sim_set_cpu(arg->a, 1);
	arg->seen_b = pmap_sim_curcpu(arg->b);
	return NULL;
}

Test(machine, cpu_is_per_thread_and_per_machine)
{
	struct pmap_sim *a = psim_make(2, 8 * MiB, NULL), *b = psim_make(2, 8 * MiB, NULL);
	struct cpu_arg arg = { a, b, -1, -1 };
	pthread_t t;

	cr_assert_eq(pmap_sim_curcpu(a), 0);
	cr_assert_eq(pmap_sim_set_cpu(a, 3), 0);
	cr_assert_eq(pmap_sim_set_cpu(b, 2), 0);
	cr_assert_eq(pmap_sim_curcpu(a), 3);
	cr_assert_eq(pmap_sim_curcpu(b), 2);
	cr_assert_eq(pmap_sim_curdomain(a), 1);
	cr_assert_eq(pthread_create(&t, NULL, cpu_thread, &arg), 0);
	pthread_join(t, NULL);
	cr_assert_eq(arg.seen_a, 0);
	cr_assert_eq(arg.seen_b, 0);
	cr_assert_eq(pmap_sim_curcpu(a), 3, "another thread's choice leaked");
	pmap_sim_destroy(a);
	pmap_sim_destroy(b);
}

Test(machine, big_machine_is_lazy)
{
	struct pmap_sim_config cfg;
	struct pmap_sim *sim;
	int i;

	pmap_sim_config_init(&cfg);
	cfg.ndomains = 4;
	cfg.domain_size = 16 * GiB;
	sim = pmap_sim_create(&cfg);
	cr_assert_not_null(sim, "64 GiB machine: errno %d", errno);
	struct pmap_sim_stats st = psim_stats(sim);
	cr_assert_eq(st.page_count, 64 * GiB / PG);
	cr_assert_eq(st.free_count, st.page_count - 1);
	cr_assert_geq(st.host_reserved_bytes, 64 * GiB);
	/* Only the first 16 MiB block of domain 0 had its page structs written. */
	cr_assert_eq(psim_dstats(sim, 0).host_touched, 16 * MiB / PG);
	for (i = 1; i < 4; i++)
		cr_assert_eq(psim_dstats(sim, i).host_touched, 0);
	/* DMA32: memory below 4 GiB sits on its own list and is used last. */
	struct pmap_sim_domain_stats d0 = psim_dstats(sim, 0);
	uint64_t dma = 0, dflt = 0;
	for (i = 0; i < PMAP_SIM_NFREEORDER; i++) {
		dma += d0.free_blocks[PMAP_SIM_FREELIST_DMA32][i] << i;
		dflt += d0.free_blocks[PMAP_SIM_FREELIST_DEFAULT][i] << i;
	}
	cr_assert_eq(dma, (4 * GiB - 16 * MiB) / PG);
	cr_assert_eq(dflt + 1, (16 * GiB + 16 * MiB - 4 * GiB) / PG, "the PML4 page is above 4 GiB");
	vm_page_t m = vm_page_alloc_noobj_domain(sim, 0, 0);
	cr_assert_geq(vm_page_phys(m), 4 * GiB, "default list first");
	vm_page_free(sim, m);
	/* A DMA-constrained contiguous request comes from below 4 GiB. */
	m = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 4, 0, 4 * GiB, 0, 0, VM_MEMATTR_DEFAULT);
	cr_assert_not_null(m);
	cr_assert_lt(vm_page_phys(m), 4 * GiB);
	for (i = 0; i < 4; i++)
		vm_page_free(sim, vm_page_from_phys(sim, vm_page_phys(m) + (uint64_t)i * PG));
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(machine, phys_ptr_and_page_lookup)
{
	struct pmap_sim *sim = psim_make(1, 8 * MiB, NULL);
	vm_page_t m = vm_page_alloc_noobj(sim, VM_ALLOC_ZERO);
	unsigned char *p;

	cr_assert_not_null(m);
	p = pmap_sim_phys_ptr(sim, vm_page_phys(m));
	cr_assert_not_null(p);
	cr_assert_eq(p, vm_page_ptr(sim, m));
	cr_assert_eq(p[0], 0);
	cr_assert_eq(p[PG - 1], 0);
	cr_assert(vm_page_flags(m) & PMAP_SIM_PG_ZERO);
	p[5] = 0xa5;
	cr_assert_eq(((unsigned char *)pmap_sim_phys_ptr(sim, vm_page_phys(m) + 5))[0], 0xa5);
	cr_assert_eq(vm_page_from_phys(sim, vm_page_phys(m) + 17), m);
	cr_assert_null(pmap_sim_phys_ptr(sim, 16 * MiB - 1));
	cr_assert_null(pmap_sim_phys_ptr(sim, 24 * MiB));
	cr_assert_null(vm_page_from_phys(sim, 24 * MiB));
	cr_assert_null(vm_page_from_phys(sim, 0));
	vm_page_free(sim, m);
	pmap_sim_destroy(sim);
}

Test(machine, stats_sysctl_buddyinfo)
{
	struct pmap_sim *sim = psim_make(2, 32 * MiB, NULL);
	char buf[1024];
	uint64_t v;
	int n;

	cr_assert_eq(psim_ctl(sim, "vm.ndomains"), 2);
	cr_assert_eq(psim_ctl(sim, "vm.domain.1.stats.page_count"), 32 * MiB / PG);
	cr_assert_eq(psim_ctl(sim, "vm.domain.0.stats.free_count"), 32 * MiB / PG - 1);
	cr_assert_eq(psim_ctl(sim, "vm.stats.vm.v_page_count"), 64 * MiB / PG);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.promotions"), 0);
	cr_assert_eq(psim_ctl(sim, "vm.reserv.broken"), 0);
	cr_assert_eq(psim_ctl(sim, "vm.pmap.kernel_pt_page_count"), 1);
	cr_assert_eq(pmap_sim_sysctl(sim, "vm.nonsense", &v), ENOENT);
	cr_assert_eq(pmap_sim_sysctl(sim, "vm.domain.2.stats.free_count", &v), ENOENT);
	cr_assert_eq(pmap_sim_sysctl(sim, "vm.domain.0.stats.bogus", &v), ENOENT);

	struct pmap_sim_stats st = { .version = 7 };
	cr_assert_eq(pmap_sim_stats(sim, &st), EINVAL);
	struct pmap_sim_domain_stats ds = { .version = PMAP_SIM_STATS_VERSION };
	cr_assert_eq(pmap_sim_domain_stats(sim, 2, &ds), EINVAL);

	/* Fresh domain 1: 32 MiB as two order-12 blocks; fully usable. */
	ds = psim_dstats(sim, 1);
	cr_assert_eq(ds.free_blocks[0][12], 2);
	cr_assert_eq(ds.frag_index, 0);
	cr_assert_eq(ds.unusable_index[12], 0);

	n = pmap_sim_buddyinfo(sim, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq((size_t)n, strlen(buf));
	cr_assert_not_null(strstr(buf, "Node 0, freelist default"));
	cr_assert_not_null(strstr(buf, "Node 1, freelist default"));
	cr_assert_eq(pmap_sim_buddyinfo(sim, NULL, 0), n, "length without a buffer");
	cr_assert_eq(pmap_sim_buddyinfo(sim, buf, 10), n, "truncated output keeps the length");
	cr_assert_eq(strlen(buf), 9);
	pmap_sim_destroy(sim);
}

Test(machine, fragmentation_index)
{
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_page_t pg[1024];
	int i, n = 0;

	/* Take every page, free every other one: all free memory is order 0. */
	while ((pg[n] = vm_page_alloc_noobj_domain(sim, 0, VM_ALLOC_INTERRUPT)) != NULL)
		n++;
	cr_assert_eq(n, 1023, "4 MiB minus the PML4 page");
	for (i = 0; i < n; i += 2)
		vm_page_free(sim, pg[i]);
	struct pmap_sim_domain_stats ds = psim_dstats(sim, 0);
	cr_assert_eq(ds.unusable_index[0], 0);
	cr_assert_eq(ds.unusable_index[1], 1000);
	cr_assert_eq(ds.frag_index, 1000);
	for (i = 1; i < n; i += 2)
		vm_page_free(sim, pg[i]);
	/* The PML4 page keeps the order-10 block split: one free block of each order 0..9. */
	ds = psim_dstats(sim, 0);
	for (i = 0; i < 10; i++)
		cr_assert_eq(ds.free_blocks[0][i], 1, "order %d", i);
	cr_assert_eq(ds.frag_index, 511 * 1000 / 1023);
	psim_check(sim);
	pmap_sim_destroy(sim);
}
