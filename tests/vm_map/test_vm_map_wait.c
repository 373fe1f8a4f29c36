/*
 * test_vm_map_wait.c -- vm_map_find_wait (kmap_alloc_wait semantics):
 * sleepers are woken by deletions, impossible requests fail at once, the
 * misuses around sleeping, and a bounded multi-thread stress.  Every
 * threaded test runs under a watchdog, so a lost wakeup fails the test
 * instead of hanging it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vmmap_test.h"

TestSuite(vm_map_wait, .fini = tm_fini);

#define B	((vm_offset_t)0x10000000)

struct waiter {
	vm_map_t	map;
	vm_size_t	len;
	int		how;
	vm_offset_t	addr;
	int		rc;
};

static void *
wait_thread(void *p)
{
	struct waiter *w = p;
	w->addr = vm_map_min(w->map);
	w->rc = vm_map_find_wait(w->map, NULL, 0, &w->addr, w->len, 0, w->how,
	    VM_PROT_RW, VM_PROT_RW, 0);
	return NULL;
}

/* Wait (bounded by the watchdog) until n sleeps have been counted. */
static void
until_sleeps(vm_map_t m, uint64_t n)
{
	while (tm_stats(m).sleeps < n)
		usleep(1000);
}

static void
fill(vm_map_t m, uint64_t npages)
{
	for (uint64_t i = 0; i < npages; i++)
		cr_assert_eq(vm_map_insert(m, NULL, 0, B + i * PG, B + (i + 1) * PG,
		    VM_PROT_RW, VM_PROT_RW, VM_MAP_NOMERGE), 0);
}

Test(vm_map_wait, sleeper_wakes_on_remove)
{
	vm_map_t m = tm_map("wait", B, 16);
	struct waiter w = { m, 4 * PG, VMFS_ANY_SPACE, 0, -1 };
	pthread_t t;

	fill(m, 16);
	kvt_watchdog_start(30, "vm_map_find_wait sleeper");
	cr_assert_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
	until_sleeps(m, 1);
	/* Freeing too little wakes it, but it must sleep again. */
	cr_assert_eq(vm_map_remove(m, B + 8 * PG, B + 11 * PG), 0);
	until_sleeps(m, 2);
	cr_assert_eq(vm_map_remove(m, B + 2 * PG, B + 6 * PG), 0);
	pthread_join(t, NULL);
	kvt_watchdog_stop();
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(w.addr, B + 2 * PG);
	struct vm_map_stats st = tm_stats(m);
	cr_assert_eq(st.sleeps, 2);
	cr_assert_geq(st.wakeups, 2);
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_wait, no_sleep_when_there_is_room_or_never_will_be)
{
	vm_map_t m = tm_map("nowait", B, 16);
	vm_offset_t a = B;

	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, 4 * PG, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(a, B);
	a = B;
	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, 17 * PG, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), ENOMEM, "larger than the map");
	a = B + 10 * PG;
	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, 8 * PG, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), ENOMEM, "larger than the map above the hint");
	a = B;
	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, 8 * PG, B + 6 * PG,
	    VMFS_ANY_SPACE, VM_PROT_RW, VM_PROT_RW, 0), ENOMEM, "beyond max_addr");
	a = B;
	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, 2 * PG, 0,
	    VMFS_ALIGNED_SPACE(30), VM_PROT_RW, VM_PROT_RW, 0), ENOMEM,
	    "no aligned placement in the whole map");
	/* Out of entry records is an error, not a reason to sleep. */
	vm_map__inject_nomem(m, 1);
	a = B;
	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, PG, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), ENOMEM);
	cr_assert_eq(tm_stats(m).sleeps, 0);
	vm_map_destroy(m);
}

Test(vm_map_wait, sleeping_with_the_lock_is_refused)
{
	vm_map_t m = tm_map("locked", B, 16);
	struct tm_misuse log;
	vm_offset_t a = B;

	memset(&log, 0, sizeof(log));
	vm_map_set_misuse_handler(m, tm_misuse_record, &log);
	vm_map_lock(m);
	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, PG, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), EDEADLK);
	vm_map_unlock(m);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VM_MAP_MISUSE_WAIT_LOCKED);
	vm_map_destroy(m);
}

Test(vm_map_wait, destroy_with_sleepers_is_a_misuse)
{
	vm_map_t m = tm_map("busy", B, 16);
	struct waiter w = { m, 4 * PG, VMFS_ANY_SPACE, 0, -1 };
	struct tm_misuse log;
	pthread_t t;

	memset(&log, 0, sizeof(log));
	vm_map_set_misuse_handler(m, tm_misuse_record, &log);
	fill(m, 16);
	kvt_watchdog_start(30, "destroy with sleepers");
	cr_assert_eq(pthread_create(&t, NULL, wait_thread, &w), 0);
	until_sleeps(m, 1);
	vm_map_destroy(m);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VM_MAP_MISUSE_DESTROY_WAITERS);
	cr_assert_eq(vm_map_remove(m, B, B + 16 * PG), 0);
	pthread_join(t, NULL);
	kvt_watchdog_stop();
	cr_assert_eq(w.rc, 0);
	vm_map_destroy(m);
}

Test(vm_map_wait, many_sleepers_all_served)
{
	enum { N = 6 };
	vm_map_t m = tm_map("many", B, 16);
	struct waiter w[N];
	pthread_t t[N];

	fill(m, 16);
	kvt_watchdog_start(60, "many vm_map_find_wait sleepers");
	for (int i = 0; i < N; i++) {
		w[i] = (struct waiter){ m, 2 * PG, VMFS_ANY_SPACE, 0, -1 };
		cr_assert_eq(pthread_create(&t[i], NULL, wait_thread, &w[i]), 0);
	}
	until_sleeps(m, N);
	/* Free two pages at a time; each frees room for exactly one sleeper. */
	for (int i = 0; i < N; i++) {
		cr_assert_eq(vm_map_remove(m, B + 2 * i * PG, B + 2 * (i + 1) * PG), 0);
		while (vm_map_size(m) != 16 * PG)
			usleep(1000);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	kvt_watchdog_stop();
	for (int i = 0; i < N; i++) {
		cr_assert_eq(w[i].rc, 0);
		cr_assert_lt(w[i].addr, B + 2 * N * PG);
		cr_assert_eq(w[i].addr % (2 * PG), B % (2 * PG));
		for (int j = 0; j < i; j++)
			cr_assert_neq(w[i].addr, w[j].addr, "two sleepers got one range");
	}
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

struct stress_arg {
	vm_map_t		map;
	int			iters;
	int			errors;
	pthread_barrier_t	*start;
};

static void *
stress_thread(void *p)
{
	struct stress_arg *a = p;
	vm_offset_t held[4];

	pthread_barrier_wait(a->start);
	for (int i = 0; i < a->iters; i++) {
		/* Take four ranges (sleeping when needed), then give them back. */
		for (int k = 0; k < 4; k++) {
			held[k] = vm_map_min(a->map);
			if (vm_map_find_wait(a->map, NULL, 0, &held[k], 4 * PG, 0,
			    VMFS_ANY_SPACE, VM_PROT_RW, VM_PROT_RW, VM_MAP_NOMERGE) != 0)
				a->errors++;
			sched_yield();	/* let the other thread interleave */
		}
		for (int k = 0; k < 4; k++)
			if (vm_map_remove(a->map, held[k], held[k] + 4 * PG) != 0)
				a->errors++;
	}
	return NULL;
}

/*
 * Two threads each take four 4-page ranges and give them back, over and
 * over, in a map of 7 such slots: they sleep whenever both hold many.  Every range is 4 pages and first
 * fit keeps them on 4-page slots, so free space is never too fragmented to
 * use.  A thread sleeps holding at most 3 slots; both asleep would hold at
 * most 6, leaving a slot the later sleeper would have taken: no deadlock is
 * possible, and a lost wakeup shows up as the watchdog firing.
 */
Test(vm_map_wait, stress)
{
	enum { T = 2 };
	vm_map_t m = tm_map("stress", B, 7 * 4);
	struct stress_arg a[T];
	pthread_t t[T];
	pthread_barrier_t start;

	pthread_barrier_init(&start, NULL, T);
	kvt_watchdog_start(120, "vm_map_find_wait stress");
	for (int i = 0; i < T; i++) {
		a[i] = (struct stress_arg){ m, 20000, 0, &start };
		cr_assert_eq(pthread_create(&t[i], NULL, stress_thread, &a[i]), 0);
	}
	for (int i = 0; i < T; i++)
		pthread_join(t[i], NULL);
	kvt_watchdog_stop();
	pthread_barrier_destroy(&start);
	for (int i = 0; i < T; i++)
		cr_assert_eq(a[i].errors, 0, "thread %d", i);
	cr_assert_eq(vm_map_entry_count(m), 0);
	cr_assert_eq(vm_map_check(m), 0);
	struct vm_map_stats st = tm_stats(m);
	cr_log_info("stress: %" PRIu64 " sleeps, %" PRIu64 " wakeups", st.sleeps,
	    st.wakeups);
	vm_map_destroy(m);
}
