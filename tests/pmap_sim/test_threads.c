/*
 * test_threads.c -- concurrency: threads on different simulated CPUs
 * allocating, mapping, writing, reading, unmapping and freeing while
 * another runs pmap_sim_check(); lock-free pmap_kextract() during
 * promotions and demotions of the same mappings; VM_ALLOC_WAITOK sleepers
 * woken by frees.  A watchdog turns a hang into a failure.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "psim_test.h"

TestSuite(threads, .fini = psim_fini_no_live);

#define NTHR	4

struct worker {
	struct pmap_sim	*sim;
	int		id;
	uint64_t	seed, iters;
	atomic_int	*stop;
	int		failures;
	char		why[200];
};

static void *
churn(void *p)
{
	struct worker *w = p;
	struct pmap_sim *sim = w->sim;
	pmap_t pm = pmap_sim_kernel_pmap(sim);
	vm_object_t ko = pmap_sim_kernel_object(sim);
	vm_offset_t base = KVA + (uint64_t)(w->id + 1) * GiB;
	struct kvt_rng r;
	vm_page_t m[16];
	uint64_t it;

	kvt_rng_init(&r, w->seed + (uint64_t)w->id);
	pmap_sim_set_cpu(sim, w->id % pmap_sim_ncpus(sim));
	for (it = 0; it < w->iters && w->failures == 0; it++) {
		int n = 1 + (int)kvt_below(&r, 16), i, got = 0;
		bool obj = kvt_chance(&r, 40);
		vm_pindex_t pi = ((uint64_t)w->id << 20) + (it % 64) * 16;

		for (i = 0; i < n; i++) {
			m[i] = obj ? vm_page_alloc(sim, ko, pi + (vm_pindex_t)i, VM_ALLOC_WIRED) :
			    vm_page_alloc_noobj(sim, VM_ALLOC_WIRED);
			if (m[i] == NULL)
				break;
			got++;
			if (pmap_enter(pm, base + (uint64_t)i * PG, m[i], VM_PROT_RW,
			    VM_PROT_RW | PMAP_ENTER_WIRED, 0) != 0) {
				vm_page_unwire_noq(sim, m[i]);
				vm_page_free(sim, m[i]);
				got--;
				break;
			}
		}
		for (i = 0; i < got; i++) {
			uint64_t tag = ((uint64_t)w->id << 56) ^ (it << 8) ^ (uint64_t)i, back = 0;

			if (pmap_sim_write(sim, base + (uint64_t)i * PG + 64, &tag, 8) != 0 ||
			    pmap_sim_read(sim, base + (uint64_t)i * PG + 64, &back, 8) != 0 ||
			    back != tag || pmap_kextract(sim, base + (uint64_t)i * PG) != vm_page_phys(m[i]) ||
			    *(uint64_t *)((char *)vm_page_ptr(sim, m[i]) + 64) != tag) {
				snprintf(w->why, sizeof(w->why), "thread %d iteration %" PRIu64 " page %d",
				    w->id, it, i);
				w->failures++;
			}
		}
		pmap_remove(pm, base, base + 16 * PG);
		for (i = 0; i < got; i++) {
			vm_page_unwire_noq(sim, m[i]);
			vm_page_free(sim, m[i]);
		}
	}
	return NULL;
}

static void *
checker(void *p)
{
	struct worker *w = p;

	while (!atomic_load(w->stop)) {
		if (pmap_sim_check(w->sim) != 0) {
			snprintf(w->why, sizeof(w->why), "pmap_sim_check failed under load");
			w->failures++;
			break;
		}
		sched_yield();
	}
	return NULL;
}

Test(threads, churn_with_concurrent_check)
{
	struct pmap_sim *sim = psim_make(2, 32 * MiB, NULL);
	struct worker w[NTHR + 1];
	pthread_t t[NTHR + 1];
	atomic_int stop = 0;
	uint64_t seed = kvt_seed();
	struct pmap_sim_domain_stats d0 = psim_dstats(sim, 0), d1 = psim_dstats(sim, 1);
	int i;

	kvt_watchdog_start(100, "pmap_sim churn");
	for (i = 0; i <= NTHR; i++) {
		w[i] = (struct worker){ .sim = sim, .id = i, .seed = seed,
		    .iters = kvt_env_ull("KVMEM_PSIM_THREAD_ITERS", 10000), .stop = &stop };
		cr_assert_eq(pthread_create(&t[i], NULL, i < NTHR ? churn : checker, &w[i]), 0);
	}
	for (i = 0; i < NTHR; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, 1);
	pthread_join(t[NTHR], NULL);
	kvt_watchdog_stop();
	for (i = 0; i <= NTHR; i++)
		cr_assert_eq(w[i].failures, 0, "seed %" PRIu64 ": %s", seed, w[i].why);
	cr_assert_eq(pmap_resident_count(pmap_sim_kernel_pmap(sim)), 0);
	cr_assert_eq(pmap_sim_object_npages(pmap_sim_kernel_object(sim)), 0);
	/* Everything came back (page-table pages stay). */
	struct pmap_sim_domain_stats e0 = psim_dstats(sim, 0), e1 = psim_dstats(sim, 1);
	cr_assert_eq(e0.free_count + e0.pt_pages, d0.free_count + d0.pt_pages);
	cr_assert_eq(e1.free_count + e1.pt_pages, d1.free_count + d1.pt_pages);
	cr_assert_eq(e0.reserv_active + e1.reserv_active, 0);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

struct flipper {
	struct pmap_sim	*sim;
	vm_page_t	*m;
	atomic_int	stop;
	atomic_long	flips;
	long		bad;
};

/* Demote (unwire one page) and promote (re-enter it) the same 2 MiB again and again. */
static void *
flip(void *p)
{
	struct flipper *f = p;
	pmap_t pm = pmap_sim_kernel_pmap(f->sim);

	while (!atomic_load(&f->stop)) {
		pmap_unwire(pm, KVA + 7 * PG, KVA + 8 * PG);
		pmap_enter(pm, KVA + 7 * PG, f->m[7], VM_PROT_RW, VM_PROT_RW | PMAP_ENTER_WIRED, 0);
		atomic_fetch_add(&f->flips, 1);
	}
	return NULL;
}

static void *
reader(void *p)
{
	struct flipper *f = p;
	vm_paddr_t pa0 = vm_page_phys(f->m[0]);
	long n = 0;

	while (!atomic_load(&f->stop) || n < 1000) {
		unsigned i = (unsigned)(n * 131) % 512;

		if (pmap_kextract(f->sim, KVA + (uint64_t)i * PG + 5) != pa0 + (uint64_t)i * PG + 5)
			f->bad++;
		n++;
	}
	return NULL;
}

Test(threads, lockless_kextract_during_promotion)
{
	struct pmap_sim *sim = psim_make(1, 16 * MiB, NULL);
	static vm_page_t m[512];
	struct flipper f = { .sim = sim, .m = m };
	pthread_t a, b;
	int i;

	for (i = 0; i < 512; i++) {
		m[i] = vm_page_alloc_domain(sim, pmap_sim_kernel_object(sim), (vm_pindex_t)i, 0,
		    VM_ALLOC_WIRED);
		cr_assert_not_null(m[i]);
		cr_assert_eq(pmap_enter(pmap_sim_kernel_pmap(sim), KVA + (uint64_t)i * PG, m[i],
		    VM_PROT_RW, VM_PROT_RW | PMAP_ENTER_WIRED, 0), 0);
	}
	cr_assert_eq(psim_ctl(sim, "vm.pmap.pde.promotions"), 1);
	kvt_watchdog_start(100, "pmap_sim kextract");
	pthread_create(&a, NULL, flip, &f);
	pthread_create(&b, NULL, reader, &f);
	while (atomic_load(&f.flips) < (long)kvt_env_ull("KVMEM_PSIM_FLIPS", 20000))
		sched_yield();
	atomic_store(&f.stop, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	kvt_watchdog_stop();
	cr_assert_eq(f.bad, 0, "%ld wrong translations", f.bad);
	cr_assert_geq(psim_ctl(sim, "vm.pmap.pde.demotions"), 3000);
	cr_assert_geq(psim_ctl(sim, "vm.pmap.pde.promotions"), 3000);
	psim_check(sim);
	pmap_sim_destroy(sim);
}

struct sleeper {
	struct pmap_sim	*sim;
	int		req;
	vm_page_t	got;
};

static void *
sleep_alloc(void *p)
{
	struct sleeper *s = p;

	s->got = vm_page_alloc_noobj_domain(s->sim, 0, s->req);
	return NULL;
}

static void
wait_sleeping(struct pmap_sim *sim, unsigned n)
{
	for (;;) {
		unsigned w;

		pthread_mutex_lock(&sim->dom[0].lock);
		w = sim->dom[0].waiters;
		pthread_mutex_unlock(&sim->dom[0].lock);
		if (w >= n)
			return;
		sched_yield();
	}
}

Test(threads, waitok_sleeper_is_woken)
{
	struct pmap_sim *sim = psim_make(1, 4 * MiB, NULL);
	static vm_page_t pg[1024];
	struct sleeper s1 = { sim, VM_ALLOC_INTERRUPT | VM_ALLOC_WAITOK, NULL };
	struct sleeper s2 = { sim, VM_ALLOC_INTERRUPT | VM_ALLOC_WAITFAIL, NULL };
	pthread_t t1, t2;
	int n = 0;

	while ((pg[n] = vm_page_alloc_noobj_domain(sim, 0, VM_ALLOC_INTERRUPT)) != NULL)
		n++;
	kvt_watchdog_start(50, "pmap_sim WAITOK");
	pthread_create(&t1, NULL, sleep_alloc, &s1);
	wait_sleeping(sim, 1);
	pthread_create(&t2, NULL, sleep_alloc, &s2);
	wait_sleeping(sim, 2);
	/* One free wakes both: one gets the page, WAITFAIL gives up after its sleep. */
	vm_page_free(sim, pg[--n]);
	pthread_join(t2, NULL);
	if (s2.got != NULL) {
		/* WAITFAIL retried before giving up?  It must not have: it returns NULL. */
		cr_assert_fail("WAITFAIL returned a page");
	}
	pthread_join(t1, NULL);
	kvt_watchdog_stop();
	cr_assert_not_null(s1.got);
	vm_page_free(sim, s1.got);
	while (n > 0)
		vm_page_free(sim, pg[--n]);
	psim_check(sim);
	pmap_sim_destroy(sim);
}
