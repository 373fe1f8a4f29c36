/*
 * bench_pmap_sim.c -- cost of the simulator's basic operations (a tool,
 * not a test; built on request: ninja tests/bench_pmap_sim).
 *
 *   bench_pmap_sim                 wall clock: medians of interleaved runs,
 *                                  also as ratios to a malloc(64)+free pair
 *   bench_pmap_sim cg WORKLOAD N   one workload under
 *       valgrind --tool=callgrind --collect-atstart=no: only the N
 *       operations are collected, so Ir / N is instructions per operation
 *   bench_pmap_sim create          time and host RSS of a 64 GiB machine
 *
 * Workloads: enter (pmap_enter + pmap_remove of one page, tables present),
 * kextract (one lock-free page-table walk), page (order-0
 * vm_page_alloc_noobj_domain + vm_page_free), objpage (kernel-object page
 * through its reservation + free), malloc (glibc malloc(64) + free).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <valgrind/callgrind.h>

#include <kvmem/pmap_sim.h>

#define KVA	PMAP_SIM_VM_MIN_KERNEL_ADDRESS
#define PG	PMAP_SIM_PAGE_SIZE

static struct pmap_sim *sim;
static pmap_t pm;
static vm_page_t pages[512];
static volatile uint64_t sink;

static void
setup(void)
{
	struct pmap_sim_config cfg;
	int i;

	pmap_sim_config_init(&cfg);
	cfg.domain_size = (uint64_t)256 << 20;
	sim = pmap_sim_create(&cfg);
	if (sim == NULL)
		abort();
	pm = pmap_sim_kernel_pmap(sim);
	for (i = 0; i < 512; i++) {
		pages[i] = vm_page_alloc_noobj_domain(sim, 0, VM_ALLOC_WIRED);
		/* Map everything once so the page-table pages exist. */
		pmap_enter(pm, KVA + (uint64_t)i * PG, pages[i], VM_PROT_RW, VM_PROT_RW, 0);
	}
	pmap_remove(pm, KVA + 256 * PG, KVA + 512 * PG);
}

static void
w_enter(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		vm_offset_t va = KVA + (256 + (i & 255)) * PG;

		pmap_enter(pm, va, pages[256 + (i & 255)], VM_PROT_RW,
		    VM_PROT_RW | PMAP_ENTER_WIRED, 0);
		pmap_remove(pm, va, va + PG);
	}
}

static void
w_kextract(uint64_t n)
{
	uint64_t s = 0;

	for (uint64_t i = 0; i < n; i++)
		s += pmap_kextract(sim, KVA + (i & 255) * PG + 8);
	sink = s;
}

static void
w_page(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		vm_page_free(sim, vm_page_alloc_noobj_domain(sim, 0, 0));
}

static void
w_objpage(uint64_t n)
{
	vm_object_t ko = pmap_sim_kernel_object(sim);

	for (uint64_t i = 0; i < n; i++)
		vm_page_free(sim, vm_page_alloc_domain(sim, ko, i & 1023, 0, 0));
}

static void
w_malloc(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(64);

		sink += (uintptr_t)p;
		free(p);
	}
}

static const struct {
	const char	*name;
	void		(*fn)(uint64_t);
} work[] = {
	{ "malloc", w_malloc },
	{ "enter", w_enter },
	{ "kextract", w_kextract },
	{ "page", w_page },
	{ "objpage", w_objpage },
};
#define NWORK	(sizeof(work) / sizeof(work[0]))

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static long
rss_kib(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int
create_64g(void)
{
	struct pmap_sim_config cfg;
	struct pmap_sim *big;
	struct pmap_sim_stats st = { .version = PMAP_SIM_STATS_VERSION };
	long r0, r1;
	double t0, t1, best = 1e9;
	int i;

	for (i = 0; i < 5; i++) {
		pmap_sim_config_init(&cfg);
		cfg.ndomains = 4;
		cfg.domain_size = (uint64_t)16 << 30;
		r0 = rss_kib();
		t0 = now();
		big = pmap_sim_create(&cfg);
		t1 = now();
		r1 = rss_kib();
		if (big == NULL)
			return 1;
		if (t1 - t0 < best)
			best = t1 - t0;
		pmap_sim_stats(big, &st);
		if (i == 4)
			printf("64 GiB machine (4 domains): create %.1f us (best of 5), host RSS +%ld KiB, "
			    "host address space reserved %.1f GiB\n", best * 1e6, r1 - r0,
			    (double)st.host_reserved_bytes / (1 << 30));
		pmap_sim_destroy(big);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	enum { REPS = 7 };
	uint64_t n = 1000000;
	double t[NWORK][REPS];
	size_t w;
	int r;

	if (argc > 1 && strcmp(argv[1], "create") == 0)
		return create_64g();
	setup();
	if (argc > 3 && strcmp(argv[1], "cg") == 0) {
		n = strtoull(argv[3], NULL, 0);
		for (w = 0; w < NWORK; w++) {
			if (strcmp(argv[2], work[w].name) != 0)
				continue;
			work[w].fn(n / 10);	/* warm up */
			CALLGRIND_TOGGLE_COLLECT;
			work[w].fn(n);
			CALLGRIND_TOGGLE_COLLECT;
			return 0;
		}
		fprintf(stderr, "unknown workload %s\n", argv[2]);
		return 2;
	}
	if (argc > 1)
		n = strtoull(argv[1], NULL, 0);
	for (w = 0; w < NWORK; w++)
		work[w].fn(n / 10);
	for (r = 0; r < REPS; r++)
		for (w = 0; w < NWORK; w++) {
			size_t k = (w + (size_t)r) % NWORK;
			double t0 = now();

			work[k].fn(n);
			t[k][r] = (now() - t0) / (double)n * 1e9;
		}
	for (w = 0; w < NWORK; w++)
		qsort(t[w], REPS, sizeof(double), cmpd);
	printf("%-10s %10s %10s   (median of %d interleaved runs of %" PRIu64 ")\n", "workload",
	    "ns/op", "x malloc", REPS, n);
	for (w = 0; w < NWORK; w++)
		printf("%-10s %10.1f %10.2f\n", work[w].name, t[w][REPS / 2],
		    t[w][REPS / 2] / t[0][REPS / 2]);
	pmap_sim_destroy(sim);
	return 0;
}
