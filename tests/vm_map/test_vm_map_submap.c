/*
 * test_vm_map_submap.c -- submaps: vm_map_suballoc and vm_map_submap, their
 * errors, removal and destruction rules, and (with threads) that work in a
 * submap never waits for the parent's lock.
 */
#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmmap_test.h"

TestSuite(vm_map_submap, .fini = tm_fini);

#define B	((vm_offset_t)0xfffffe0000000000ull)

Test(vm_map_submap, suballoc_basic)
{
	struct tm_pmap rec;
	vm_map_t parent = tm_map("kernel", B, 4096);
	vm_offset_t min = 0, max = 0;

	memset(&rec, 0, sizeof(rec));
	vm_map_set_pmap(parent, &tm_pmap_ops, &rec);
	cr_assert_eq(vm_map_insert(parent, NULL, 0, B, B + 10 * PG, VM_PROT_ALL,
	    VM_PROT_ALL, VM_MAP_NOFAULT), 0);
	vm_map_t sub = vm_map_suballoc(parent, NULL, "exec", &min, &max,
	    100 * PG - 5, VMFS_ANY_SPACE);
	cr_assert_not_null(sub);
	cr_assert_eq(min, B + 10 * PG);
	cr_assert_eq(max, B + 110 * PG, "the size is rounded up to pages");
	cr_assert_eq(vm_map_min(sub), min);
	cr_assert_eq(vm_map_max(sub), max);
	cr_assert_str_eq(vm_map_name(sub), "exec");
	cr_assert_eq(vm_map_page_size(sub), PG);
	cr_assert_eq(tm_stats(sub).is_submap, 1);
	cr_assert_eq(tm_stats(parent).submap_entries, 1);

	struct vm_map_entry_info e;
	cr_assert(vm_map_lookup_entry(parent, min + 5 * PG, &e));
	cr_assert_eq(e.flags & VM_MAP_ENTRY_IS_SUB_MAP, VM_MAP_ENTRY_IS_SUB_MAP);
	cr_assert_eq(e.submap, sub);
	cr_assert_null(e.object);
	cr_assert_eq(e.start, min);
	cr_assert_eq(e.end, max);

	/* The submap allocates on its own and uses the parent's pmap. */
	vm_offset_t a = min;
	cr_assert_eq(vm_map_find(sub, NULL, 0, &a, 4 * PG, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(a, min);
	cr_assert_eq(vm_map_entry_count(parent), 2);
	cr_assert_eq(vm_map_remove(sub, a, a + 4 * PG), 0);
	cr_assert_eq(tm_removed_bytes(&rec), 4 * PG);

	/* The parent never merges the submap entry with its neighbours. */
	cr_assert_eq(vm_map_insert(parent, NULL, 0, max, max + PG, VM_PROT_ALL,
	    VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_entry_count(parent), 3);
	cr_assert_eq(vm_map_check(parent), 0);
	cr_assert_eq(vm_map_check(sub), 0);

	/* Remove the range from the parent, then destroy the submap. */
	cr_assert_eq(vm_map_remove(parent, min, max), 0);
	cr_assert_eq(tm_stats(sub).is_submap, 0);
	cr_assert_eq(tm_stats(parent).submap_entries, 0);
	vm_map_destroy(sub);
	vm_map_destroy(parent);
	tm_pmap_reset(&rec);
}

Test(vm_map_submap, suballoc_fixed_storage_and_errors)
{
	vm_map_t parent = tm_map("kernel", B, 1024);
	struct vm_map store;
	vm_offset_t min = B + 64 * PG, max = 0;

	vm_map_t sub = vm_map_suballoc(parent, &store, "fixed", &min, &max, 64 * PG,
	    VMFS_NO_SPACE);
	cr_assert_eq(sub, &store);
	cr_assert_eq(min, B + 64 * PG);
	cr_assert_eq(max, B + 128 * PG);

	min = B + 100 * PG;
	errno = 0;
	cr_assert_null(vm_map_suballoc(parent, NULL, "x", &min, &max, PG, VMFS_NO_SPACE));
	cr_assert_eq(errno, EEXIST);
	min = B;
	errno = 0;
	cr_assert_null(vm_map_suballoc(parent, NULL, "x", &min, &max, 2048 * PG,
	    VMFS_ANY_SPACE));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(vm_map_suballoc(parent, NULL, "x", &min, &max, 961 * PG,
	    VMFS_ANY_SPACE));
	cr_assert_eq(errno, ENOMEM, "no single gap of 961 pages");
	errno = 0;
	cr_assert_null(vm_map_suballoc(parent, NULL, "x", &min, &max, 0, VMFS_ANY_SPACE));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(vm_map_suballoc(parent, NULL, "x", NULL, &max, PG, VMFS_ANY_SPACE));
	cr_assert_eq(errno, EINVAL);
	errno = 0;
	cr_assert_null(vm_map_suballoc(parent, NULL, "x", &min, &max, PG, 77));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(vm_map_entry_count(parent), 1, "failed suballocs left entries");
	cr_assert_eq(vm_map__live_maps(), 2);

	/* Superpage-aligned placement, as kmem_subinit(superpage_align). */
	min = B;
	vm_map_t big = vm_map_create("big", B, B + 4 * 0x200000, PG);
	vm_map_t s2 = vm_map_suballoc(big, NULL, "sp", &min, &max, 0x200000,
	    VMFS_SUPER_SPACE);
	cr_assert_not_null(s2);
	cr_assert_eq(min & 0x1fffff, 0);
	cr_assert_eq(tm_stats(s2).superpage_size, 0x200000);

	/* Destroying the parent releases (does not destroy) its submaps. */
	vm_map_destroy(parent);
	cr_assert_eq(tm_stats(sub).is_submap, 0);
	vm_map_destroy(sub);
	vm_map_destroy(big);
	vm_map_destroy(s2);
}

Test(vm_map_submap, submap_errors_leave_map_unchanged)
{
	vm_map_t m = tm_map("parent", B, 256);
	struct tm_snap before, after;

	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + 16 * PG, VM_PROT_ALL, VM_PROT_ALL,
	    VM_MAP_NOMERGE), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 16 * PG, B + 32 * PG, VM_PROT_ALL,
	    VM_PROT_ALL, VM_MAP_NOMERGE), 0);
	cr_assert_eq(vm_map_insert(m, (vm_object_t)0x1000, 0, B + 32 * PG, B + 48 * PG,
	    VM_PROT_ALL, VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 48 * PG, B + 64 * PG, VM_PROT_ALL,
	    VM_PROT_ALL, VM_MAP_NOMERGE), 0);
	cr_assert_eq(vm_map_wire(m, B + 48 * PG, B + 64 * PG), 0);

	vm_map_t s_all = vm_map_create("s", B, B + 32 * PG, PG);
	vm_map_t s_part = vm_map_create("s", B, B + 8 * PG, PG);
	vm_map_t s_free = vm_map_create("s", B + 100 * PG, B + 110 * PG, PG);
	vm_map_t s_obj = vm_map_create("s", B + 32 * PG, B + 48 * PG, PG);
	vm_map_t s_wired = vm_map_create("s", B + 48 * PG, B + 64 * PG, PG);
	vm_map_t s_ok = vm_map_create("s", B, B + 16 * PG, PG);
	vm_map_t s_odd = vm_map_create("s", B, B + 15 * PG, PG);

	tm_snap_take(m, &before);
	cr_assert_eq(vm_map_submap(m, B, B + 32 * PG, s_all), EINVAL, "two entries");
	cr_assert_eq(vm_map_submap(m, B, B + 8 * PG, s_part), EINVAL, "part of an entry");
	cr_assert_eq(vm_map_submap(m, B + 100 * PG, B + 110 * PG, s_free), EINVAL,
	    "free space");
	cr_assert_eq(vm_map_submap(m, B + 32 * PG, B + 48 * PG, s_obj), EINVAL,
	    "entry with an object");
	cr_assert_eq(vm_map_submap(m, B + 48 * PG, B + 64 * PG, s_wired), EINVAL,
	    "wired entry");
	cr_assert_eq(vm_map_submap(m, B, B + 16 * PG, s_odd), EINVAL,
	    "submap bounds differ from the range");
	cr_assert_eq(vm_map_submap(m, B, B + 16 * PG, m), EINVAL, "itself");
	tm_snap_take(m, &after);
	cr_assert(tm_snap_same(&before, &after));
	tm_snap_free(&after);

	cr_assert_eq(vm_map_submap(m, B, B + 16 * PG, s_ok), 0);
	cr_assert_eq(vm_map_submap(m, B, B + 16 * PG, s_ok), EINVAL, "already a submap");
	cr_assert_eq(vm_map_submap(m, B + 16 * PG, B + 32 * PG, s_ok), EINVAL,
	    "installed elsewhere (and wrong bounds)");

	/* Operations that would cut the submap entry are refused. */
	tm_snap_free(&before);
	tm_snap_take(m, &before);
	cr_assert_eq(vm_map_remove(m, B + 4 * PG, B + 20 * PG), EINVAL);
	cr_assert_eq(vm_map_protect(m, B, B + 64 * PG, VM_PROT_READ, false), EINVAL);
	cr_assert_eq(vm_map_clip(m, B + 8 * PG), EINVAL);
	cr_assert_eq(vm_map_wire(m, B, B + 16 * PG), EINVAL);
	cr_assert_eq(vm_map_madvise(m, B, B + 4 * PG, VM_MAP_ADV_RANDOM), EINVAL);
	tm_snap_take(m, &after);
	cr_assert(tm_snap_same(&before, &after));
	cr_assert_eq(vm_map_check(m), 0);

	cr_assert_eq(vm_map_remove(m, B, B + 32 * PG), 0, "whole submap entry goes");
	vm_map_destroy(s_ok);
	vm_map_destroy(s_all);
	vm_map_destroy(s_part);
	vm_map_destroy(s_free);
	vm_map_destroy(s_obj);
	vm_map_destroy(s_wired);
	vm_map_destroy(s_odd);
	vm_map_destroy(m);
	tm_snap_free(&before);
	tm_snap_free(&after);
}

Test(vm_map_submap, destroying_an_installed_submap_is_a_misuse)
{
	vm_map_t parent = tm_map("kernel", B, 256);
	struct tm_misuse log;
	vm_offset_t min = B, max;

	memset(&log, 0, sizeof(log));
	vm_map_t sub = vm_map_suballoc(parent, NULL, "pipe", &min, &max, 16 * PG,
	    VMFS_ANY_SPACE);
	cr_assert_not_null(sub);
	vm_map_set_misuse_handler(sub, tm_misuse_record, &log);
	vm_map_destroy(sub);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VM_MAP_MISUSE_DESTROY_SUBMAP);
	cr_assert_eq(log.map, sub);
	cr_assert_not_null(strstr(log.msg, "'pipe'"), "msg: %s", log.msg);
	cr_assert_eq(vm_map_check(sub), 0, "the misused destroy had no effect");
	cr_assert_eq(tm_stats(sub).misuses, 1);
	cr_assert_eq(vm_map_remove(parent, min, max), 0);
	vm_map_destroy(sub);
	vm_map_destroy(parent);
}

Test(vm_map_submap, default_misuse_handler_aborts, .signal = SIGABRT)
{
	vm_map_t parent = tm_map("kernel", B, 256);
	vm_offset_t min = B, max;
	vm_map_t sub = vm_map_suballoc(parent, NULL, "pipe", &min, &max, 16 * PG,
	    VMFS_ANY_SPACE);
	vm_map_destroy(sub);
}

/* ---- Threads ------------------------------------------------------------------ */

struct churn_arg {
	vm_map_t	map;
	int		iters;
	int		failures;
};

static void *
churn_thread(void *p)
{
	struct churn_arg *a = p;
	vm_offset_t mine[8];

	for (int i = 0; i < a->iters; i++) {
		for (int k = 0; k < 8; k++) {
			mine[k] = vm_map_min(a->map);
			if (vm_map_find(a->map, NULL, 0, &mine[k], (vm_size_t)(k + 1) * PG,
			    0, VMFS_ANY_SPACE, VM_PROT_RW, VM_PROT_RW, 0) != 0)
				a->failures++;
		}
		for (int k = 0; k < 8; k++)
			if (vm_map_remove(a->map, mine[k], mine[k] + (vm_size_t)(k + 1) * PG) != 0)
				a->failures++;
	}
	return NULL;
}

Test(vm_map_submap, submap_work_never_takes_the_parent_lock)
{
	vm_map_t parent = tm_map("kernel", B, 1 << 16);
	vm_offset_t min = B, max;
	vm_map_t sub = vm_map_suballoc(parent, NULL, "buffer", &min, &max, 4096 * PG,
	    VMFS_ANY_SPACE);
	struct churn_arg a = { sub, 2000, 0 };
	pthread_t t;

	kvt_watchdog_start(60, "submap allocation while the parent is locked");
	vm_map_lock(parent);
	cr_assert_eq(pthread_create(&t, NULL, churn_thread, &a), 0);
	pthread_join(t, NULL);		/* would hang if the child took parent's lock */
	vm_map_unlock(parent);
	kvt_watchdog_stop();
	cr_assert_eq(a.failures, 0);
	cr_assert_eq(vm_map_entry_count(sub), 0);
	cr_assert_eq(vm_map_check(sub), 0);
	cr_assert_eq(vm_map_remove(parent, min, max), 0);
	vm_map_destroy(sub);
	vm_map_destroy(parent);
}

Test(vm_map_submap, parent_and_children_in_parallel)
{
	vm_map_t parent = tm_map("kernel", B, 1 << 16);
	vm_offset_t min[2] = { B, B }, max[2];
	vm_map_t sub[2];
	struct churn_arg a[3];
	pthread_t t[3];

	for (int i = 0; i < 2; i++) {
		sub[i] = vm_map_suballoc(parent, NULL, "child", &min[i], &max[i],
		    2048 * PG, VMFS_ANY_SPACE);
		cr_assert_not_null(sub[i]);
	}
	kvt_watchdog_start(120, "parent and submaps in parallel");
	for (int i = 0; i < 3; i++) {
		a[i] = (struct churn_arg){ i < 2 ? sub[i] : parent, 1500, 0 };
		cr_assert_eq(pthread_create(&t[i], NULL, churn_thread, &a[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	kvt_watchdog_stop();
	for (int i = 0; i < 3; i++)
		cr_assert_eq(a[i].failures, 0, "thread %d", i);
	cr_assert_eq(vm_map_entry_count(parent), 2);
	cr_assert_eq(vm_map_check(parent), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(vm_map_check(sub[i]), 0);
		cr_assert_eq(vm_map_remove(parent, min[i], max[i]), 0);
		vm_map_destroy(sub[i]);
	}
	vm_map_destroy(parent);
}
