/*
 * kmem_policies.c -- where kmem_malloc puts pages under two domain-set
 * policies, on a simulated two-domain machine.
 *
 *   1. first-touch: two threads, one bound to a CPU of each domain, each
 *      allocate; every page must come from the thread's own domain;
 *   2. interleave: one thread allocates in a row; consecutive allocations
 *      must alternate between the domains, so each gets half.
 *
 * Prints the pages per domain for each policy and checks them against
 * what the policy promises; exits 1 on a mismatch.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <kvmem/kmem.h>

#define NDOM		2
#define NALLOC		8	/* allocations per thread (first-touch) or in all (interleave) */
#define FT_PAGES	16	/* pages per first-touch allocation */
#define IL_PAGES	4	/* pages per interleaved allocation */
#define PAGE		KMEM_PAGE_SIZE

static int failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "kmem_policies: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond);				\
		failures++;						\
	}								\
} while (0)

static struct kmem *k;

/* Domain of the page mapped at va (-1: none), from the machine's ranges. */
static int
page_domain(vm_offset_t va)
{
	struct pmap_sim *sim = kmem_sim(k);
	vm_paddr_t pa = pmap_kextract(sim, va), lo, hi;

	for (int d = 0; d < NDOM; d++)
		if (pmap_sim_domain_range(sim, d, &lo, &hi) == 0 && pa >= lo && pa < hi)
			return d;
	return -1;
}

/* Add the domains of the npages pages at va to count[]. */
static void
count_pages(vm_offset_t va, unsigned npages, uint64_t count[NDOM])
{
	for (unsigned p = 0; p < npages; p++) {
		int d = page_domain(va + (vm_offset_t)p * PAGE);

		CHECK(d >= 0);
		if (d >= 0)
			count[d]++;
	}
}

struct toucher {
	int		cpu;
	vm_offset_t	addr[NALLOC];
	uint64_t	count[NDOM];
};

/* A thread on one CPU allocating with first-touch. */
static void *
toucher_main(void *arg)
{
	struct toucher *t = arg;
	struct domainset *ft = kmem_domainset(k, DOMAINSET_POLICY_FIRSTTOUCH, 0);

	if (pmap_sim_set_cpu(kmem_sim(k), t->cpu) != 0 || ft == NULL)
		return NULL;
	for (int i = 0; i < NALLOC; i++) {
		t->addr[i] = kmem_malloc_domainset_k(k, ft, FT_PAGES * PAGE, M_WAITOK);
		if (t->addr[i] != 0)
			count_pages(t->addr[i], FT_PAGES, t->count);
	}
	return NULL;
}

int
main(void)
{
	static const int cpu_domain[NDOM] = { 0, 1 };
	struct kmem_config cfg;
	struct toucher th[NDOM];
	struct domainset il;
	vm_offset_t iladdr[NALLOC];
	uint64_t ilcount[NDOM] = { 0 };
	int ilfirst[NALLOC];
	struct kmem_stats st = { .version = KMEM_STATS_VERSION };

	kmem_config_init(&cfg);
	cfg.machine.ndomains = NDOM;
	cfg.machine.domain_size = 64u << 20;
	cfg.machine.ncpus = NDOM;
	cfg.machine.cpu_domain = cpu_domain;
	k = kmem_create(&cfg);
	if (k == NULL) {
		fprintf(stderr, "kmem_policies: kmem_create: %s\n", strerror(errno));
		return 1;
	}

	/* 1. First-touch from a thread on each domain. */
	memset(th, 0, sizeof(th));
	for (int d = 0; d < NDOM; d++)
		th[d].cpu = d;
	pthread_t tid[NDOM];
	for (int d = 0; d < NDOM; d++)
		CHECK(pthread_create(&tid[d], NULL, toucher_main, &th[d]) == 0);
	for (int d = 0; d < NDOM; d++)
		pthread_join(tid[d], NULL);
	printf("policy        caller     domain 0  domain 1  (pages)\n");
	for (int d = 0; d < NDOM; d++) {
		printf("first-touch   CPU %d (d%d)  %8" PRIu64 "  %8" PRIu64 "\n", th[d].cpu,
		    cpu_domain[th[d].cpu], th[d].count[0], th[d].count[1]);
		/* Promise: every page from the caller's domain. */
		CHECK(th[d].count[d] == NALLOC * FT_PAGES);
		CHECK(th[d].count[1 - d] == 0);
	}

	/* 2. Interleave from one thread: allocations alternate between domains. */
	CHECK(domainset_init(&il, DOMAINSET_POLICY_INTERLEAVE, NULL, -1) == 0);
	for (int i = 0; i < NALLOC; i++) {
		iladdr[i] = kmem_malloc_domainset_k(k, &il, IL_PAGES * PAGE, M_WAITOK);
		CHECK(iladdr[i] != 0);
		ilfirst[i] = iladdr[i] != 0 ? page_domain(iladdr[i]) : -1;
		if (iladdr[i] != 0)
			count_pages(iladdr[i], IL_PAGES, ilcount);
	}
	printf("interleave    CPU 0 (d0)  %8" PRIu64 "  %8" PRIu64 "\n", ilcount[0], ilcount[1]);
	printf("interleave order:");
	for (int i = 0; i < NALLOC; i++)
		printf(" d%d", ilfirst[i]);
	printf("\n");
	/* Promise: the domains take turns, so each holds half. */
	for (int i = 1; i < NALLOC; i++)
		CHECK(ilfirst[i] != ilfirst[i - 1]);
	CHECK(ilcount[0] == ilcount[1]);
	CHECK(ilcount[0] + ilcount[1] == NALLOC * IL_PAGES);

	/* Give everything back; kmem must hold nothing and agree with itself. */
	for (int d = 0; d < NDOM; d++)
		for (int i = 0; i < NALLOC; i++)
			if (th[d].addr[i] != 0)
				kmem_free_k(k, th[d].addr[i], FT_PAGES * PAGE);
	for (int i = 0; i < NALLOC; i++)
		if (iladdr[i] != 0)
			kmem_free_k(k, iladdr[i], IL_PAGES * PAGE);
	CHECK(kmem_get_stats(k, &st) == 0);
	CHECK(st.pages == 0);
	CHECK(kmem_check(k) == 0);
	kmem_destroy(k);
	if (failures != 0) {
		fprintf(stderr, "kmem_policies: %d check(s) failed\n", failures);
		return 1;
	}
	printf("kmem_policies: placement as promised\n");
	return 0;
}
