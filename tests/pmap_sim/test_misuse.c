/*
 * test_misuse.c -- every misuse is reported to the handler with a clear
 * message and leaves the machine exactly as it was; the default handler
 * aborts.
 */
#include <errno.h>
#include <signal.h>

#include "psim_test.h"

TestSuite(misuse, .fini = psim_fini_no_live);

struct snap {
	struct pmap_sim_domain_stats	d[2];
	long				resident, wired;
	uint64_t			kobj_pages;
};

static struct snap
take(struct pmap_sim *sim)
{
	struct snap s;
	int i;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < pmap_sim_ndomains(sim) && i < 2; i++)
		s.d[i] = psim_dstats(sim, i);
	s.resident = pmap_resident_count(pmap_sim_kernel_pmap(sim));
	s.wired = pmap_wired_count(pmap_sim_kernel_pmap(sim));
	s.kobj_pages = pmap_sim_object_npages(pmap_sim_kernel_object(sim));
	return s;
}

/* Run one misuse: exactly one report of kind, nothing changed. */
#define MISUSE(kind_, expr_) do {						\
	struct snap before_ = take(sim);					\
	int count_ = log.count;							\
	expr_;									\
	cr_assert_eq(log.count, count_ + 1, "%s: %d reports", #expr_, log.count - count_); \
	cr_assert_eq(log.kind, kind_, "%s: kind %s", #expr_, pmap_sim_misuse_name(log.kind)); \
	cr_assert_eq(log.sim, sim);						\
	cr_assert_not_null(strstr(log.msg, "pmap_sim 'victim'"), "%s", log.msg); \
	struct snap after_ = take(sim);						\
	cr_assert_arr_eq(&after_, &before_, sizeof(before_), "%s changed the machine", #expr_); \
	cr_assert_eq(pmap_sim_check(sim), 0, "%s", #expr_);			\
} while (0)

static struct pmap_sim *
victim(struct psim_log *log)
{
	struct pmap_sim_config cfg;
	struct pmap_sim *sim;

	pmap_sim_config_init(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "victim");
	cfg.ndomains = 2;
	cfg.domain_size = 16 * MiB;
	cfg.misuse_fn = psim_record;
	cfg.misuse_arg = log;
	sim = pmap_sim_create(&cfg);
	cr_assert_not_null(sim);
	return sim;
}

Test(misuse, bad_addresses)
{
	struct psim_log log = { 0 };
	struct pmap_sim *sim = victim(&log);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t m = vm_page_alloc_noobj(sim, 0);
	int rc = 0;

	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_enter(pm, KVA + 12, m, VM_PROT_RW, 0, 0));
	cr_assert_eq(rc, EINVAL);
	cr_assert_not_null(strstr(log.msg, "(pmap_enter)"), "%s", log.msg);
	cr_assert_not_null(strstr(log.msg, "0xfffffe000000000c"), "%s", log.msg);
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS,
	    rc = pmap_enter(pm, 0x0000800000000000ULL, m, VM_PROT_RW, 0, 0));
	cr_assert_not_null(strstr(log.msg, "non-canonical"), "%s", log.msg);
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_enter(pm, 0x1000, m, VM_PROT_RW, 0, 0));
	cr_assert_not_null(strstr(log.msg, "not a kernel address"), "%s", log.msg);
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_enter(pm, KVA + PG, m, VM_PROT_RW, 0, 1));
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_kenter(sim, KVA + 1, vm_page_phys(m)));
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_kremove(sim, 0xdead000));
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_qenter(sim, KVA + 2, &m, 1));
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_qremove(sim, 0x7fffffff0000ULL, 1));
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_remove(pm, KVA + PG, KVA));
	cr_assert_eq(rc, EINVAL);
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_remove(pm, KVA, KVA + 100));
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_protect(pm, 5, KVA, VM_PROT_READ));
	MISUSE(PMAP_SIM_MISUSE_BAD_ADDRESS, rc = pmap_unwire(pm, KVA + 3, KVA + PG));
	vm_page_free(sim, m);
	pmap_sim_destroy(sim);
}

Test(misuse, bad_arguments)
{
	struct psim_log log = { 0 };
	struct pmap_sim *sim = victim(&log), *other = psim_make(1, 4 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_object_t ko = pmap_sim_kernel_object(sim);
	vm_page_t m = vm_page_alloc_noobj(sim, 0), r = NULL;
	int rc = 0;

	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, rc = pmap_enter(pm, KVA, m, 0x8, 0, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, rc = pmap_enter(pm, KVA, m, VM_PROT_RW, 0x10000, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, rc = pmap_enter(pm, KVA, m, VM_PROT_RW, 0, 2));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, rc = pmap_protect(pm, KVA, KVA + PG, 0x10));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, rc = pmap_qenter(sim, KVA, &m, -1));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, rc = pmap_qremove(sim, KVA, -3));
	cr_assert_eq(rc, EINVAL);
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_domain(sim, 2, 0));
	cr_assert_null(r);
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_domain(sim, 0, 0x4000));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj(sim, VM_ALLOC_CLASS_MASK));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_domain(sim, ko, 0, -1, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc(sim, pmap_sim_kernel_object(other), 0, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc(sim, NULL, 0, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc(sim, ko, UINT64_MAX, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 0, 0,
	    ~(vm_paddr_t)0, 0, 0, VM_MEMATTR_DEFAULT));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 4, 0,
	    ~(vm_paddr_t)0, 3 * PG, 0, VM_MEMATTR_DEFAULT));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 4, 0,
	    ~(vm_paddr_t)0, 0, 2 * PG, VM_MEMATTR_DEFAULT));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 4, 0,
	    ~(vm_paddr_t)0, 0, 3 * PG * 4, VM_MEMATTR_DEFAULT));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 4, 40 * MiB,
	    40 * MiB, 0, 0, VM_MEMATTR_DEFAULT));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 4, 0,
	    ~(vm_paddr_t)0, 0, 0, 9));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, r = vm_page_alloc_noobj_contig_domain(sim, 0, 0,
	    16 * MiB / PG + 1, 0, ~(vm_paddr_t)0, 0, 0, VM_MEMATTR_DEFAULT));
	MISUSE(PMAP_SIM_MISUSE_BAD_ARG, (void)pmap_sim_object_create(sim, 0x100));
	cr_assert_null(r);
	vm_page_free(sim, m);
	pmap_sim_destroy(other);
	pmap_sim_destroy(sim);
}

Test(misuse, bad_pages)
{
	struct psim_log log = { 0 };
	struct pmap_sim *sim = victim(&log), *other = psim_make(1, 4 * MiB, NULL);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t m = vm_page_alloc_noobj(sim, 0), foreign = vm_page_alloc_noobj(other, 0);
	vm_page_t freed = vm_page_alloc_noobj(sim, 0), bogus = (vm_page_t)((char *)m + 8);
	vm_page_t pml4 = vm_page_from_phys(sim, pmap_kextract(sim, KVA) ? 0 : 16 * MiB);
	int rc = 0;

	vm_page_free(sim, freed);
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_enter(pm, KVA, foreign, VM_PROT_RW, 0, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_enter(pm, KVA, bogus, VM_PROT_RW, 0, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_enter(pm, KVA, NULL, VM_PROT_RW, 0, 0));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_enter(pm, KVA, freed, VM_PROT_RW, 0, 0));
	cr_assert_not_null(strstr(log.msg, "not allocated"), "%s", log.msg);
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_enter(pm, KVA, m, VM_PROT_RW, 0, 1));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_kenter(sim, KVA, vm_page_phys(freed)));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_kenter(sim, KVA, 8 * MiB));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_kenter(sim, KVA, vm_page_phys(m) + 4));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_qenter(sim, KVA, &freed, 1));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, vm_page_free(sim, foreign));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, vm_page_free(sim, bogus));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, vm_page_free(sim, pml4));
	cr_assert_not_null(strstr(log.msg, "page-table page"), "%s", log.msg);
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, vm_page_wire(sim, freed));
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, (void)vm_page_unwire_noq(sim, m));
	cr_assert_not_null(strstr(log.msg, "not wired"), "%s", log.msg);
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, pmap_zero_page(sim, freed));
	/* 2 MiB mapping of a run whose pages are not all allocated. */
	vm_page_t big = vm_page_alloc_noobj_contig_domain(sim, 1, 0, 511, 0, ~(vm_paddr_t)0, SPG, 0,
	    VM_MEMATTR_DEFAULT);
	cr_assert_not_null(big);
	MISUSE(PMAP_SIM_MISUSE_BAD_PAGE, rc = pmap_enter(pm, KVA, big, VM_PROT_RW, 0, 1));
	cr_assert_eq(rc, EINVAL);
	for (int i = 0; i < 511; i++)
		vm_page_free(sim, vm_page_from_phys(sim, vm_page_phys(big) + (uint64_t)i * PG));
	vm_page_free(sim, m);
	vm_page_free(other, foreign);
	pmap_sim_destroy(other);
	pmap_sim_destroy(sim);
}

Test(misuse, frees)
{
	struct psim_log log = { 0 };
	struct pmap_sim *sim = victim(&log);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t m = vm_page_alloc_noobj(sim, VM_ALLOC_WIRED);
	vm_page_t far = vm_page_from_phys(sim, 16 * MiB + 30 * MiB);

	MISUSE(PMAP_SIM_MISUSE_FREE_WIRED, vm_page_free(sim, m));
	cr_assert_not_null(strstr(log.msg, "wired"), "%s", log.msg);
	vm_page_unwire_noq(sim, m);
	cr_assert_eq(pmap_enter(pm, KVA, m, VM_PROT_RW, 0, 0), 0);
	cr_assert_eq(pmap_kenter(sim, KVA + PG, vm_page_phys(m)), 0);
	MISUSE(PMAP_SIM_MISUSE_FREE_MAPPED, vm_page_free(sim, m));
	cr_assert_not_null(strstr(log.msg, "mapped 2 time(s)"), "%s", log.msg);
	pmap_remove(pm, KVA, KVA + 2 * PG);
	vm_page_free(sim, m);
	MISUSE(PMAP_SIM_MISUSE_DOUBLE_FREE, vm_page_free(sim, m));
	cr_assert_eq(log.addr, vm_page_phys(m));
	char hex[32];
	snprintf(hex, sizeof(hex), "0x%" PRIx64, vm_page_phys(m));
	cr_assert_not_null(strstr(log.msg, hex), "%s", log.msg);
	cr_assert_not_null(strstr(log.msg, "double free"), "%s", log.msg);
	cr_assert_not_null(strstr(log.msg, "(vm_page_free)"), "%s", log.msg);
	/* A page whose struct was never initialized (its block never carved). */
	MISUSE(PMAP_SIM_MISUSE_DOUBLE_FREE, vm_page_free(sim, far));
	pmap_sim_destroy(sim);
}

Test(misuse, mapping_conflicts)
{
	struct psim_log log = { 0 };
	struct pmap_sim *sim = victim(&log);
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_page_t a = vm_page_alloc_noobj(sim, 0), b = vm_page_alloc_noobj(sim, 0), ma[2];
	vm_page_t run = vm_page_alloc_noobj_contig_domain(sim, 0, 0, 512, 0, ~(vm_paddr_t)0, SPG, 0,
	    VM_MEMATTR_DEFAULT);
	int rc = 0;

	cr_assert_not_null(run);
	cr_assert_eq(pmap_enter(pm, KVA, a, VM_PROT_RW, 0, 0), 0);
	MISUSE(PMAP_SIM_MISUSE_MAPPED, rc = pmap_enter(pm, KVA, b, VM_PROT_RW, 0, 0));
	cr_assert_eq(rc, EINVAL);
	cr_assert_not_null(strstr(log.msg, "already maps"), "%s", log.msg);
	MISUSE(PMAP_SIM_MISUSE_MAPPED, rc = pmap_kenter(sim, KVA, vm_page_phys(b)));
	ma[0] = b;
	ma[1] = b;
	/* qenter is all or nothing: the first page would be fine. */
	MISUSE(PMAP_SIM_MISUSE_MAPPED, rc = pmap_qenter(sim, KVA - PG, ma, 2));
	cr_assert_eq(pmap_kextract(sim, KVA - PG), 0);
	/* A 2 MiB mapping over a small one, and small ones over a 2 MiB one. */
	MISUSE(PMAP_SIM_MISUSE_MAPPED, rc = pmap_enter(pm, KVA, run, VM_PROT_RW, 0, 1));
	cr_assert_eq(pmap_enter(pm, KVA + SPG, run, VM_PROT_RW, 0, 1), 0);
	MISUSE(PMAP_SIM_MISUSE_MAPPED, rc = pmap_enter(pm, KVA + SPG + PG, a, VM_PROT_RW, 0, 0));
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.demotions"), 0, "refused before demoting");
	vm_page_t run2 = vm_page_from_phys(sim, vm_page_phys(run) + PG);
	cr_assert_eq(pmap_enter(pm, KVA + SPG + PG, run2, VM_PROT_READ, 0, 0), 0,
	    "the same page is fine");
	pmap_remove(pm, KVA, KVA + 2 * SPG);
	vm_page_free(sim, a);
	vm_page_free(sim, b);
	for (int i = 0; i < 512; i++)
		vm_page_free(sim, vm_page_from_phys(sim, vm_page_phys(run) + (uint64_t)i * PG));
	psim_check(sim);
	pmap_sim_destroy(sim);
}

Test(misuse, objects)
{
	struct psim_log log = { 0 };
	struct pmap_sim *sim = victim(&log);
	vm_object_t obj = pmap_sim_object_create(sim, 0);
	vm_page_t a = vm_page_alloc_domain(sim, obj, 9, 0, 0), r = NULL;
	int rc = 0;

	cr_assert_not_null(a);
	MISUSE(PMAP_SIM_MISUSE_PAGE_EXISTS, r = vm_page_alloc_domain(sim, obj, 9, 1, 0));
	cr_assert_null(r);
	MISUSE(PMAP_SIM_MISUSE_PAGE_EXISTS, r = vm_page_alloc(sim, obj, 9, 0));
	MISUSE(PMAP_SIM_MISUSE_PAGE_EXISTS, r = vm_page_alloc_contig_domain(sim, obj, 5, 0, 0, 8, 0,
	    ~(vm_paddr_t)0, 0, 0, VM_MEMATTR_DEFAULT));
	MISUSE(PMAP_SIM_MISUSE_OBJECT_BUSY, rc = pmap_sim_object_destroy(obj));
	cr_assert_eq(rc, EBUSY);
	cr_assert_eq(vm_page_lookup(obj, 9), a);
	vm_page_free(sim, a);
	cr_assert_eq(pmap_sim_object_destroy(obj), 0);
	pmap_sim_destroy(sim);
}

Test(misuse, process_default_handler)
{
	struct psim_log log = { 0 };
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_page_t m = vm_page_alloc_noobj(sim, 0);

	pmap_sim_set_misuse_handler(NULL, psim_record, &log);
	vm_page_free(sim, m);
	vm_page_free(sim, m);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, PMAP_SIM_MISUSE_DOUBLE_FREE);
	/* A per-machine handler takes precedence. */
	struct psim_log mine = { 0 };
	pmap_sim_set_misuse_handler(sim, psim_record, &mine);
	vm_page_free(sim, m);
	cr_assert_eq(mine.count, 1);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(psim_stats(sim).misuses, 2);
	pmap_sim_set_misuse_handler(NULL, NULL, NULL);
	cr_assert_str_eq(pmap_sim_misuse_name(PMAP_SIM_MISUSE_FREE_MAPPED), "free of a mapped page");
	cr_assert_str_eq(pmap_sim_misuse_name((enum pmap_sim_misuse)77), "unknown misuse");
	pmap_sim_destroy(sim);
}

/* The default handler prints one line and aborts. */
Test(misuse, default_double_free_aborts, .signal = SIGABRT)
{
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_page_t m = vm_page_alloc_noobj(sim, 0);

	vm_page_free(sim, m);
	vm_page_free(sim, m);
}

Test(misuse, default_bad_address_aborts, .signal = SIGABRT)
{
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_page_t m = vm_page_alloc_noobj(sim, 0);

	pmap_enter(pmap_sim_kernel_pmap(sim), KVA + 1, m, VM_PROT_RW, 0, 0);
}

Test(misuse, default_conflict_aborts, .signal = SIGABRT)
{
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	vm_page_t a = vm_page_alloc_noobj(sim, 0), b = vm_page_alloc_noobj(sim, 0);

	pmap_enter(pmap_sim_kernel_pmap(sim), KVA, a, VM_PROT_RW, 0, 0);
	pmap_kenter(sim, KVA, vm_page_phys(b));
}
