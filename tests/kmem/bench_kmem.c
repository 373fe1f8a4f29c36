/*
 * bench_kmem.c -- the measurements of issue 6 (not a test; built on
 * demand: ninja -C <build> tests/kmem/bench_kmem).
 *
 *   bench_kmem [reps]          everything below, as tables
 *   bench_kmem pair P Z N      N kmem_malloc+kmem_free pairs of P pages (Z: M_ZERO),
 *                              the loop bracketed for callgrind --collect-atstart=no
 *   bench_kmem raw P N         the same page work done directly on pmap_sim
 *   bench_kmem arena P N       the same KVA work done directly on the domain arena
 *
 * 1. Cost per page of kmem_malloc + kmem_free of 1, 8 and 512 pages, with
 *    and without M_ZERO, next to its parts measured alone in the same run:
 *    the domain arena (vmem_alloc + vmem_free) and the machine (page
 *    allocation, pmap_enter, lookup, pmap_remove, unwire, free: exactly the
 *    calls kmem makes).  Medians of interleaved repetitions; a glibc
 *    malloc(64)+free pair is timed alongside as a baseline.
 * 2. The share of fully populated 2 MiB chunks promoted and of chunks
 *    backed by one domain, with 1, 2 and 4 domains, after a random
 *    allocation workload with frees.
 * 3. The local share of placed pages under each policy, one thread per
 *    domain, each on a CPU of its own domain.
 */
#include "kvmem_config.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_TOGGLE_COLLECT
#endif

#include <kvmem/kmem.h>

#define MiB	((uint64_t)1 << 20)
#define PG	KMEM_PAGE_SIZE

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct kmem *
make(int nd, uint64_t dsize)
{
	struct kmem_config cfg;
	struct kmem *k;

	kmem_config_init(&cfg);
	/* KMEM_BENCH_QCACHE=N: quantum caches of N pages on the domain arenas. */
	if (getenv("KMEM_BENCH_QCACHE") != NULL)
		cfg.arena_qcache_max = strtoull(getenv("KMEM_BENCH_QCACHE"), NULL, 0) * PG;
	cfg.machine.ndomains = nd;
	cfg.machine.domain_size = dsize;
	cfg.machine.ncpus = 2 * nd;
	k = kmem_create(&cfg);
	if (k == NULL) {
		perror("kmem_create");
		exit(1);
	}
	return k;
}

/* ---- 1. cost per page ----------------------------------------------------------------- */

static void
loop_pair(struct kmem *k, uint64_t pages, int zero, uint64_t n)
{
	int flags = M_WAITOK | (zero ? M_ZERO : 0);

	for (uint64_t i = 0; i < n; i++) {
		vm_offset_t va = kmem_malloc_k(k, pages * PG, flags);

		if (va == 0)
			abort();
		kmem_free_k(k, va, pages * PG);
	}
}

/* What kmem_back + kmem_unback ask of the machine, done directly. */
static void
loop_raw(struct kmem *k, vm_offset_t va, uint64_t pages, uint64_t n)
{
	struct pmap_sim *sim = kmem_sim(k);
	pmap_t pm = kmem_kernel_pmap(k);
	vm_object_t obj = kmem_kernel_object(k);
	vm_pindex_t p0 = (va - PMAP_SIM_VM_MIN_KERNEL_ADDRESS) / PG;
	static vm_page_t m[512];

	for (uint64_t i = 0; i < n; i++) {
		for (uint64_t j = 0; j < pages; j++) {
			m[j] = vm_page_alloc_domain(sim, obj, p0 + j, 0,
			    VM_ALLOC_SYSTEM | VM_ALLOC_WIRED);
			if (m[j] == NULL || pmap_enter(pm, va + j * PG, m[j], VM_PROT_RW,
			    VM_PROT_RW | PMAP_ENTER_WIRED, 0) != 0)
				abort();
		}
		for (uint64_t j = 0; j < pages; j++)
			if (vm_page_from_phys(sim, pmap_kextract(sim, va + j * PG)) != m[j])
				abort();
		pmap_remove(pm, va, va + pages * PG);
		for (uint64_t j = 0; j < pages; j++) {
			vm_page_unwire_noq(sim, m[j]);
			vm_page_free(sim, m[j]);
		}
	}
}

static void
loop_arena(struct kmem *k, uint64_t pages, uint64_t n)
{
	vmem_t *a = kmem_domain_arena(k, 0);

	for (uint64_t i = 0; i < n; i++) {
		vmem_addr_t addr;

		if (vmem_alloc(a, pages * PG, M_BESTFIT | M_NOWAIT, &addr) != 0)
			abort();
		vmem_free(a, addr, pages * PG);
	}
}

static void *volatile sink;

static void
loop_malloc(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		sink = malloc(64);
		free(sink);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static void
cost_per_page(int reps)
{
	static const uint64_t sizes[] = { 1, 8, 512 };
	struct kmem *k = make(1, 256 * MiB);
	vm_offset_t raw_base, raw_va;

	/* Warm: arena imports, page tables, a region for the raw loop. */
	loop_pair(k, 512, 0, 4);
	raw_base = kva_alloc_k(k, 4 * MiB);
	raw_va = (raw_base + 2 * MiB - 1) & ~(vm_offset_t)(2 * MiB - 1);
	loop_raw(k, raw_va, 512, 2);
	printf("== 1. kmem_malloc + kmem_free, per page (median of %d interleaved runs) ==\n",
	    reps);
	printf("%6s %6s %12s %12s %12s %12s %10s\n", "pages", "M_ZERO", "kmem ns/pg",
	    "machine ns/pg", "arena ns/pg", "kmem own", "malloc64");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t P = sizes[s], n = 4096 / P + 64;
		uint64_t tk[2][32], tr[32], ta[32], tm[32];

		for (int r = 0; r < reps; r++) {
			for (int z = 0; z < 2; z++) {
				uint64_t t0 = now_ns();

				loop_pair(k, P, z, n);
				tk[z][r] = now_ns() - t0;
			}
			uint64_t t0 = now_ns();
			loop_raw(k, raw_va, P, n);
			tr[r] = now_ns() - t0;
			t0 = now_ns();
			loop_arena(k, P, n);
			ta[r] = now_ns() - t0;
			t0 = now_ns();
			loop_malloc(n);
			tm[r] = now_ns() - t0;
		}
		double pages = (double)(n * P);
		double k0 = median(tk[0], reps) / pages, k1 = median(tk[1], reps) / pages;
		double rw = median(tr, reps) / pages, ar = median(ta, reps) / pages;
		double ml = median(tm, reps) / (double)n;

		printf("%6" PRIu64 " %6s %12.1f %12.1f %12.1f %12.1f %9.1fns\n", P, "no", k0, rw, ar,
		    k0 - rw - ar, ml);
		printf("%6" PRIu64 " %6s %12.1f %12s %12s %12s\n", P, "yes", k1, "", "", "");
		fflush(stdout);
	}
	kva_free_k(k, raw_base, 4 * MiB);
	kmem_destroy(k);
}

/* ---- 2. promotion and single-domain shares --------------------------------------------- */

static void
chunk_shares(uint64_t seed)
{
	static const int nds[] = { 1, 2, 4 };

	printf("\n== 2. 2 MiB chunks after a random workload (seed %" PRIu64 ") ==\n", seed);
	printf("%8s %8s %8s %10s %10s %12s %12s\n", "domains", "chunks", "full", "promoted",
	    "one-domain", "promoted/full", "one-dom/all");
	for (size_t i = 0; i < sizeof(nds) / sizeof(nds[0]); i++) {
		int nd = nds[i];
		struct kmem *k = make(nd, 128 * MiB);
		static vm_offset_t va[20000];
		static vm_size_t sz[20000];
		uint64_t x = seed + (uint64_t)nd, budget = (uint64_t)nd * 128 * MiB / PG * 6 / 10;
		uint64_t used = 0;
		int n = 0;

		/* Fill to ~60% with a mix of sizes, freeing a third along the way. */
		while (used < budget && n < 20000) {
			uint64_t r, pages;

			x = x * 6364136223846793005ull + 1442695040888963407ull;
			r = x >> 33;
			pages = r % 100 < 70 ? 1 + r % 8 : r % 100 < 95 ? 9 + r % 56 : 512;
			sz[n] = pages * PG;
			va[n] = kmem_malloc_k(k, sz[n], M_NOWAIT);
			if (va[n] == 0)
				break;
			used += pages;
			n++;
			if (r % 3 == 0 && n > 1) {
				int j = (int)((r >> 8) % (uint64_t)n);

				kmem_free_k(k, va[j], sz[j]);
				used -= sz[j] / PG;
				va[j] = va[--n];
				sz[j] = sz[n];
			}
		}
		struct kmem_chunk_stats cs = { .version = KMEM_STATS_VERSION };
		if (kmem_chunk_census(k, &cs) != 0 || kmem_check(k) != 0)
			abort();
		printf("%8d %8" PRIu64 " %8" PRIu64 " %10" PRIu64 " %10" PRIu64 " %11.1f%% %11.1f%%\n",
		    nd, cs.chunks, cs.full, cs.promoted, cs.one_domain,
		    cs.full ? 100.0 * (double)cs.promoted / (double)cs.full : 0.0,
		    cs.chunks ? 100.0 * (double)cs.one_domain / (double)cs.chunks : 0.0);
		while (n > 0) {
			n--;
			kmem_free_k(k, va[n], sz[n]);
		}
		kmem_destroy(k);
	}
}

/* ---- 3. local share per policy ------------------------------------------------------------ */

struct worker {
	struct kmem		*k;
	const struct domainset	*ds;
	int			cpu;
	uint64_t		ops;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	vm_offset_t va[64];
	vm_size_t sz[64];
	int n = 0;

	pmap_sim_set_cpu(kmem_sim(w->k), w->cpu);
	for (uint64_t i = 0; i < w->ops; i++) {
		if (n < 64 && (i % 3 != 2 || n == 0)) {
			sz[n] = (1 + i % 8) * PG;
			va[n] = kmem_malloc_domainset_k(w->k, w->ds, sz[n], M_WAITOK);
			if (va[n] == 0)
				abort();
			n++;
		} else {
			n--;
			kmem_free_k(w->k, va[n], sz[n]);
		}
	}
	while (n > 0) {
		n--;
		kmem_free_k(w->k, va[n], sz[n]);
	}
	return NULL;
}

static void
local_shares(void)
{
	static const char *const specs[] = {
		"rr", "ft", "il", "prefer:0", "fixed:0", "wil:4,2,1,1", "pmany:0,1",
	};
	const int nd = 4;

	printf("\n== 3. pages placed local to the caller, 4 domains, one thread per domain ==\n");
	printf("%14s %10s %10s %10s %14s\n", "policy", "local", "remote", "local%",
	    "avg distance");
	for (size_t p = 0; p < sizeof(specs) / sizeof(specs[0]); p++) {
		struct kmem *k = make(nd, 64 * MiB);
		struct domainset ds;
		struct worker w[4];
		pthread_t t[4];
		struct kmem_stats st = { .version = KMEM_STATS_VERSION };

		if (domainset_parse(&ds, specs[p]) != 0)
			abort();
		for (int i = 0; i < nd; i++) {
			w[i] = (struct worker){ k, &ds, 2 * i, 20000 };
			pthread_create(&t[i], NULL, work, &w[i]);
		}
		for (int i = 0; i < nd; i++)
			pthread_join(t[i], NULL);
		kmem_get_stats(k, &st);
		uint64_t all = st.local_pages + st.remote_pages;
		printf("%14s %10" PRIu64 " %10" PRIu64 " %9.1f%% %14.2f\n", specs[p], st.local_pages,
		    st.remote_pages, 100.0 * (double)st.local_pages / (double)all,
		    (double)st.access_cost / (double)all);
		if (kmem_check(k) != 0)
			abort();
		kmem_destroy(k);
	}
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "pair") == 0) {
		uint64_t P = strtoull(argv[2], NULL, 0), n = strtoull(argv[4], NULL, 0);
		int z = atoi(argv[3]);
		struct kmem *k = make(1, 256 * MiB);

		loop_pair(k, P, z, 16);
		CALLGRIND_TOGGLE_COLLECT;
		loop_pair(k, P, z, n);
		CALLGRIND_TOGGLE_COLLECT;
		kmem_destroy(k);
		return 0;
	}
	if (argc == 4 && (strcmp(argv[1], "raw") == 0 || strcmp(argv[1], "arena") == 0)) {
		uint64_t P = strtoull(argv[2], NULL, 0), n = strtoull(argv[3], NULL, 0);
		struct kmem *k = make(1, 256 * MiB);
		vm_offset_t base = kva_alloc_k(k, 4 * MiB), va;

		va = (base + 2 * MiB - 1) & ~(vm_offset_t)(2 * MiB - 1);
		loop_pair(k, P, 0, 16);
		if (argv[1][0] == 'r') {
			loop_raw(k, va, P, 16);
			CALLGRIND_TOGGLE_COLLECT;
			loop_raw(k, va, P, n);
			CALLGRIND_TOGGLE_COLLECT;
		} else {
			CALLGRIND_TOGGLE_COLLECT;
			loop_arena(k, P, n);
			CALLGRIND_TOGGLE_COLLECT;
		}
		kva_free_k(k, base, 4 * MiB);
		kmem_destroy(k);
		return 0;
	}
	int reps = argc > 1 ? atoi(argv[1]) : 7;
	if (reps < 1 || reps > 32)
		reps = 7;
	cost_per_page(reps);
	chunk_shares(12345);
	local_shares();
	return 0;
}
