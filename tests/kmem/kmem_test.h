/*
 * kmem_test.h -- helpers for the kmem suites: instance construction with
 * small machines, a recording misuse handler, the fini check that no
 * instance, arena, map or machine outlived its test, snapshots for
 * "nothing changed" assertions, and reading and writing simulated memory.
 */
#ifndef KMEM_TEST_H
#define KMEM_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kvmem/kmem.h>

#include "kmem_impl.h"
#include "pmap_sim_impl.h"
#include "vm_map_impl.h"
#include "vmem_impl.h"
#include "common/kvtest.h"

#define MiB	((uint64_t)1 << 20)
#define GiB	((uint64_t)1 << 30)
#define PG	KMEM_PAGE_SIZE
#define SPG	PMAP_SIM_SUPERPAGE_SIZE
#define KT_KVA	PMAP_SIM_VM_MIN_KERNEL_ADDRESS

/* Pass a zeroed log as the handler argument; the last report wins. */
struct kt_log {
	int			count;
	enum kmem_misuse	kind;
	vm_offset_t		addr;
	vm_size_t		size;
	char			msg[512];
};

static inline void
kt_record(void *arg, struct kmem *k, enum kmem_misuse kind, vm_offset_t addr, vm_size_t size,
    const char *msg)
{
	struct kt_log *log = arg;

	(void)k;
	log->count++;
	log->kind = kind;
	log->addr = addr;
	log->size = size;
	snprintf(log->msg, sizeof(log->msg), "%s", msg);
}

/*
 * A small configuration: ndomains of dsize bytes, two CPUs per domain, a
 * 64 GiB kernel range with a 4 MiB bootstrap region, import quantum of
 * 8 MiB (so checks stay cheap), misuse recorded in log (if not NULL).
 */
static inline void
kt_config(struct kmem_config *cfg, int ndomains, uint64_t dsize, struct kt_log *log)
{
	kmem_config_init(cfg);
	cfg->machine.ndomains = ndomains;
	cfg->machine.domain_size = dsize;
	cfg->machine.ncpus = 2 * ndomains;
	cfg->kva_max = KT_KVA + 64 * GiB;
	cfg->bootstrap_size = 4 * MiB;
	cfg->import_quantum = ndomains > 1 ? 8 * MiB : 0;
	cfg->wait_poll_ms = 5;
	if (log != NULL) {
		cfg->misuse_fn = kt_record;
		cfg->misuse_arg = log;
	}
}

static inline struct kmem *
kt_create(const struct kmem_config *cfg)
{
	char msg[160] = "";
	struct kmem *k;

	cr_assert_eq(kmem_config_check(cfg, msg, sizeof(msg)), 0, "config: %s", msg);
	k = kmem_create(cfg);
	cr_assert_not_null(k, "kmem_create: errno %d", errno);
	return k;
}

static inline struct kmem *
kt_make(int ndomains, uint64_t dsize, struct kt_log *log)
{
	struct kmem_config cfg;

	kt_config(&cfg, ndomains, dsize, log);
	return kt_create(&cfg);
}

static inline void
kt_check(struct kmem *k)
{
	cr_assert_eq(kmem_check(k), 0, "kmem_check failed (see stderr)");
}

/* Suite .fini: every instance, arena, map and machine is gone. */
static inline void
kt_fini(void)
{
	kvt_watchdog_stop();
	cr_assert_eq(kmem__live_instances(), 0, "%ld kmem instance(s) still live",
	    kmem__live_instances());
	cr_assert_eq(vmem__live_arenas(), 0, "%ld arena(s) still live", vmem__live_arenas());
	cr_assert_eq(vmem__live_slabs(), 0, "%ld tag slab(s) still live", vmem__live_slabs());
	cr_assert_eq(vm_map__live_maps(), 0, "%ld map(s) still live", vm_map__live_maps());
	cr_assert_eq(vm_map__live_slabs(), 0, "%ld entry slab(s) still live",
	    vm_map__live_slabs());
	cr_assert_eq(pmap_sim__live_machines(), 0, "%ld machine(s) still live",
	    pmap_sim__live_machines());
}

static inline struct kmem_stats
kt_stats(struct kmem *k)
{
	struct kmem_stats st = { .version = KMEM_STATS_VERSION };

	cr_assert_eq(kmem_get_stats(k, &st), 0);
	return st;
}

static inline struct kmem_domain_stats
kt_dstats(struct kmem *k, int d)
{
	struct kmem_domain_stats st = { .version = KMEM_STATS_VERSION };

	cr_assert_eq(kmem_get_domain_stats(k, d, &st), 0);
	return st;
}

static inline uint64_t
kt_free_pages(struct kmem *k, int d)
{
	struct pmap_sim_domain_stats st = { .version = PMAP_SIM_STATS_VERSION };

	cr_assert_eq(pmap_sim_domain_stats(kmem_sim(k), d, &st), 0);
	return st.free_count;
}

static inline uint64_t
kt_pt_pages(struct kmem *k)
{
	struct pmap_sim_stats st = { .version = PMAP_SIM_STATS_VERSION };

	cr_assert_eq(pmap_sim_stats(kmem_sim(k), &st), 0);
	return st.pt_pages;
}

/*
 * Everything a failed or rejected call must leave as it was: free pages
 * plus page-table pages per domain (page-table pages are never freed),
 * the kernel object's pages, every arena's use, kernel_map, the records.
 */
#define KT_MAXD	8
struct kt_snap {
	uint64_t	free_plus_pt;
	uint64_t	kobj_pages;
	vm_size_t	arena_inuse[2 * KT_MAXD + 1];
	vm_size_t	kernel_total;
	uint64_t	live_allocs;
	uint64_t	pages[KT_MAXD];
	long		resident;
};

static inline struct kt_snap
kt_snap(struct kmem *k)
{
	struct kt_snap s;
	int d, n = kmem_ndomains(k);

	memset(&s, 0, sizeof(s));
	for (d = 0; d < n; d++) {
		s.free_plus_pt += kt_free_pages(k, d);
		s.arena_inuse[2 * d] = vmem_size(kmem_domain_arena(k, d), VMEM_ALLOC);
		s.arena_inuse[2 * d + 1] = vmem_size(kmem_rwx_arena(k, d), VMEM_ALLOC);
		s.pages[d] = kt_dstats(k, d).pages;
	}
	s.free_plus_pt += kt_pt_pages(k);
	s.arena_inuse[2 * KT_MAXD] = vmem_size(kmem_kernel_arena(k), VMEM_ALLOC);
	s.kobj_pages = pmap_sim_object_npages(kmem_kernel_object(k));
	s.live_allocs = kmem__live_allocs(k);
	s.resident = pmap_resident_count(kmem_kernel_pmap(k));
	return s;
}

/* a and b agree (ignoring rwx arena imports, which come and go). */
static inline void
kt_snap_same(const struct kt_snap *a, const struct kt_snap *b, const char *what)
{
	cr_assert_eq(a->free_plus_pt, b->free_plus_pt, "%s: free pages %" PRIu64 " -> %" PRIu64,
	    what, a->free_plus_pt, b->free_plus_pt);
	cr_assert_eq(a->kobj_pages, b->kobj_pages, "%s: kernel object pages %" PRIu64 " -> %"
	    PRIu64, what, a->kobj_pages, b->kobj_pages);
	cr_assert_eq(a->live_allocs, b->live_allocs, "%s: live allocations", what);
	cr_assert_eq(a->resident, b->resident, "%s: resident %ld -> %ld", what, a->resident,
	    b->resident);
	for (int i = 0; i <= 2 * KT_MAXD; i++)
		cr_assert_eq(a->arena_inuse[i], b->arena_inuse[i],
		    "%s: arena %d in use %zu -> %zu", what, i, (size_t)a->arena_inuse[i],
		    (size_t)b->arena_inuse[i]);
	for (int d = 0; d < KT_MAXD; d++)
		cr_assert_eq(a->pages[d], b->pages[d], "%s: domain %d pages", what, d);
}

/* The domain of the page behind va (-1 if unmapped). */
static inline int
kt_domain_of(struct kmem *k, vm_offset_t va)
{
	vm_paddr_t pa = pmap_kextract(kmem_sim(k), va);
	vm_page_t m = pa ? vm_page_from_phys(kmem_sim(k), pa) : NULL;

	return m != NULL ? vm_page_domain(m) : -1;
}

/* Fill [va, va + len) with a pattern derived from seed, through the page tables. */
static inline void
kt_fill(struct kmem *k, vm_offset_t va, size_t len, uint64_t seed)
{
	uint64_t buf[512];
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		for (size_t i = 0; i < n / 8; i++)
			buf[i] = seed ^ ((va + off) / 8 + i) * 0x9e3779b97f4a7c15ull;
		cr_assert_eq(pmap_sim_write(kmem_sim(k), va + off, buf, n), 0,
		    "write 0x%" PRIx64, (uint64_t)(va + off));
		off += n;
	}
}

/* Does [va, va + len) still hold kt_fill's pattern for seed? */
static inline bool
kt_verify(struct kmem *k, vm_offset_t va, size_t len, uint64_t seed)
{
	uint64_t buf[512];
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (pmap_sim_read(kmem_sim(k), va + off, buf, n) != 0)
			return false;
		for (size_t i = 0; i < n / 8; i++)
			if (buf[i] != (seed ^ ((va + off) / 8 + i) * 0x9e3779b97f4a7c15ull))
				return false;
		off += n;
	}
	return true;
}

static inline bool
kt_is_zero(struct kmem *k, vm_offset_t va, size_t len)
{
	uint64_t buf[512];
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (pmap_sim_read(kmem_sim(k), va + off, buf, n) != 0)
			return false;
		for (size_t i = 0; i < n / 8; i++)
			if (buf[i] != 0)
				return false;
		off += n;
	}
	return true;
}

static inline struct pmap_sim_fault
kt_fault(unsigned what, uint64_t skip, uint64_t max)
{
	struct pmap_sim_fault f;

	memset(&f, 0, sizeof(f));
	f.version = PMAP_SIM_FAULT_VERSION;
	f.what = what;
	f.domain = -1;
	f.skip = skip;
	f.every_nth = 1;
	f.max_faults = max;
	return f;
}

#endif /* KMEM_TEST_H */
