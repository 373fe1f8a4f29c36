/*
 * test_vm_map_basic.c -- creation, insertion and merging, lookup with the
 * hint, statistics and walk: the contract of each call, including every
 * error and that errors leave the map unchanged.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmmap_test.h"

TestSuite(vm_map_basic, .fini = tm_fini);

#define B	((vm_offset_t)0x100000)	/* map base used below */
#define OBJ(n)	((vm_object_t)(uintptr_t)(0x1000 * (n)))

Test(vm_map_basic, create_and_destroy)
{
	vm_map_t m = vm_map_create("basic", B, B + 64 * PG, 0);

	cr_assert_not_null(m);
	cr_assert_eq(vm_map__live_maps(), 1);
	cr_assert_str_eq(vm_map_name(m), "basic");
	cr_assert_eq(vm_map_min(m), B);
	cr_assert_eq(vm_map_max(m), B + 64 * PG);
	cr_assert_eq(vm_map_page_size(m), VM_MAP_DEFAULT_PAGE_SIZE);
	cr_assert_eq(vm_map_entry_count(m), 0);
	cr_assert_eq(vm_map_size(m), 0);
	cr_assert_eq(vm_map_check(m), 0);

	struct vm_map_stats st = tm_stats(m);
	cr_assert_eq(st.size, sizeof(st));
	cr_assert_eq(st.maxfree, 64 * PG);
	cr_assert_eq(st.size_free, 64 * PG);
	cr_assert_eq(st.superpage_size, 512 * PG);
	cr_assert_eq(st.entries, 0);
	cr_assert_eq(st.is_submap, 0);
	vm_map_destroy(m);
	cr_assert_eq(vm_map__live_maps(), 0);
}

Test(vm_map_basic, create_bad_arguments)
{
	static const struct { vm_offset_t min, max; vm_size_t pg; const char *why; } bad[] = {
		{ B, B, 4096, "empty" },
		{ B + PG, B, 4096, "inverted" },
		{ B + 1, B + PG, 4096, "unaligned min" },
		{ B, B + PG + 8, 4096, "unaligned max" },
		{ B, B + 3 * PG, 3000, "page size not a power of two" },
		{ B + 0x1000, B + 0x3000, 0x2000, "min not a multiple of a larger page" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(vm_map_create("bad", bad[i].min, bad[i].max, bad[i].pg),
		    "accepted: %s", bad[i].why);
		cr_assert_eq(errno, EINVAL, "%s: errno %d", bad[i].why, errno);
	}
	cr_assert_eq(vm_map__live_maps(), 0);
	errno = 0;
	cr_assert_null(vm_map_init(NULL, "x", B, B + PG, 0));
	cr_assert_eq(errno, EINVAL);
}

Test(vm_map_basic, init_in_caller_storage_and_names)
{
	struct vm_map store;
	char longname[3 * VM_MAP_NAME_MAX];

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	vm_map_t m = vm_map_init(&store, longname, 0, 16 * 0x10000, 0x10000);
	cr_assert_eq(m, &store);
	cr_assert_eq(strlen(vm_map_name(m)), VM_MAP_NAME_MAX - 1);
	cr_assert_eq(vm_map_page_size(m), 0x10000);
	vm_offset_t a = 0;
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 0x10000, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 0x1000, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_ALL, 0), EINVAL, "length below the map's page");
	vm_map_destroy(m);
	m = vm_map_create(NULL, 0, PG, 0);
	cr_assert_str_eq(vm_map_name(m), "(anon)");
	vm_map_destroy(m);
}

Test(vm_map_basic, insert_and_lookup)
{
	vm_map_t m = tm_map("ins", B, 64);
	struct vm_map_entry_info info;

	cr_assert_eq(vm_map_insert(m, OBJ(1), 0x5000, B + 4 * PG, B + 8 * PG,
	    VM_PROT_READ, VM_PROT_RW, VM_MAP_INHERIT_SHARE), 0);
	cr_assert_eq(vm_map_entry_count(m), 1);
	cr_assert_eq(vm_map_size(m), 4 * PG);

	cr_assert(vm_map_lookup_entry(m, B + 5 * PG + 12, &info));
	cr_assert_eq(info.start, B + 4 * PG);
	cr_assert_eq(info.end, B + 8 * PG);
	cr_assert_eq(info.protection, VM_PROT_READ);
	cr_assert_eq(info.max_protection, VM_PROT_RW);
	cr_assert_eq(info.inheritance, VM_INHERIT_SHARE);
	cr_assert_eq(info.advice, VM_MAP_ADV_NORMAL);
	cr_assert_eq(info.wired_count, 0);
	cr_assert_eq(info.object, OBJ(1));
	cr_assert_eq(info.offset, 0x5000);
	cr_assert_null(info.submap);
	cr_assert_eq(info.flags, 0);

	/* Misses report the gap around the address. */
	cr_assert(!vm_map_lookup_entry(m, B + 2 * PG, &info));
	cr_assert_eq(info.flags, VM_MAP_ENTRY_FREE);
	cr_assert_eq(info.start, B);
	cr_assert_eq(info.end, B + 4 * PG);
	cr_assert(!vm_map_lookup_entry(m, B + 8 * PG, &info));
	cr_assert_eq(info.start, B + 8 * PG);
	cr_assert_eq(info.end, B + 64 * PG);
	cr_assert(!vm_map_lookup_entry(m, B - 1, &info));
	cr_assert_eq(info.start, B - 1);
	cr_assert_eq(info.end, B - 1);
	cr_assert(!vm_map_lookup_entry(m, B + 64 * PG, NULL));
	cr_assert(vm_map_lookup_entry(m, B + 4 * PG, NULL));
	cr_assert(!vm_map_lookup_entry(m, B + 8 * PG, NULL));
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_basic, insert_errors_leave_map_unchanged)
{
	vm_map_t m = tm_map("err", B, 64);
	struct tm_snap before, after;

	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 8 * PG, B + 16 * PG,
	    VM_PROT_RW, VM_PROT_RW, VM_MAP_NOMERGE), 0);
	tm_snap_take(m, &before);

	static const struct { vm_offset_t s, e; int err; const char *why; } bad[] = {
		{ B + 8 * PG, B + 9 * PG, EEXIST, "same start" },
		{ B + 4 * PG, B + 9 * PG, EEXIST, "overlaps the start" },
		{ B + 15 * PG, B + 20 * PG, EEXIST, "overlaps the end" },
		{ B + 10 * PG, B + 11 * PG, EEXIST, "inside" },
		{ B + 4 * PG, B + 20 * PG, EEXIST, "covers" },
		{ B - PG, B + PG, EINVAL, "below the map" },
		{ B + 63 * PG, B + 65 * PG, EINVAL, "beyond the map" },
		{ B + PG + 1, B + 2 * PG, EINVAL, "unaligned start" },
		{ B + PG, B + 2 * PG - 1, EINVAL, "unaligned end" },
		{ B + 2 * PG, B + 2 * PG, EINVAL, "empty" },
		{ B + 3 * PG, B + 2 * PG, EINVAL, "inverted" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(vm_map_insert(m, NULL, 0, bad[i].s, bad[i].e,
		    VM_PROT_RW, VM_PROT_RW, 0), bad[i].err, "%s", bad[i].why);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + PG, VM_PROT_RW, VM_PROT_READ, 0),
	    EACCES, "prot beyond max");
	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + PG, 0x10, 0x10, 0), EINVAL,
	    "unknown protection bit");
	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + PG, VM_PROT_RW, VM_PROT_RW,
	    0x40000), EINVAL, "unknown cow bit");
	cr_assert_eq(vm_map_insert(m, OBJ(2), 0, B, B + PG, VM_PROT_RW, VM_PROT_RW,
	    VM_MAP_NOFAULT), EINVAL, "nofault with an object");
	tm_snap_take(m, &after);
	cr_assert(tm_snap_same(&before, &after), "a failed insert changed the map");
	cr_assert_eq(vm_map_check(m), 0);
	tm_snap_free(&before);
	tm_snap_free(&after);
	vm_map_destroy(m);
}

Test(vm_map_basic, merge_back_forward_and_both)
{
	vm_map_t m = tm_map("merge", B, 64);

	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + 2 * PG, VM_PROT_RW, VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 2 * PG, B + 3 * PG, VM_PROT_RW,
	    VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_entry_count(m), 1, "back merge");
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 5 * PG, B + 6 * PG, VM_PROT_RW,
	    VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 4 * PG, B + 5 * PG, VM_PROT_RW,
	    VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_entry_count(m), 2, "forward merge");
	cr_assert_eq(tm_entry(m, 1).start, B + 4 * PG);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 3 * PG, B + 4 * PG, VM_PROT_RW,
	    VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_entry_count(m), 1, "merge on both sides");
	cr_assert_eq(tm_entry(m, 0).end, B + 6 * PG);
	cr_assert_eq(vm_map_size(m), 6 * PG);
	cr_assert_geq(tm_stats(m).merges, 3);
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_basic, no_merge_when_incompatible)
{
	vm_map_t m = tm_map("nomerge", B, 64);
	size_t n = 0;

#define INS(obj, off, s, e, prot, max, cow) do {				\
	cr_assert_eq(vm_map_insert(m, obj, off, B + (s) * PG, B + (e) * PG,	\
	    prot, max, cow), 0);						\
	n++;								\
	cr_assert_eq(vm_map_entry_count(m), n, "merged at page %d", (s));	\
} while (0)
	INS(NULL, 0, 0, 1, VM_PROT_RW, VM_PROT_ALL, 0);
	INS(NULL, 0, 1, 2, VM_PROT_READ, VM_PROT_ALL, 0);		/* prot */
	INS(NULL, 0, 2, 3, VM_PROT_READ, VM_PROT_RW, 0);		/* max */
	INS(NULL, 0, 3, 4, VM_PROT_READ, VM_PROT_RW, VM_MAP_INHERIT_SHARE);	/* inherit */
	INS(NULL, 0, 4, 5, VM_PROT_READ, VM_PROT_RW, VM_MAP_NOFAULT);	/* flags */
	INS(OBJ(1), 0, 5, 6, VM_PROT_READ, VM_PROT_RW, 0);		/* object */
	INS(OBJ(1), 2 * PG, 6, 7, VM_PROT_READ, VM_PROT_RW, 0);	/* offset gap */
	INS(OBJ(2), 3 * PG, 7, 8, VM_PROT_READ, VM_PROT_RW, 0);	/* other object */
	INS(OBJ(2), 4 * PG, 8, 9, VM_PROT_READ, VM_PROT_RW, VM_MAP_NOMERGE);
	INS(OBJ(2), 5 * PG, 9, 10, VM_PROT_READ, VM_PROT_RW, 0);	/* after nomerge */
#undef INS
	/* Same object at contiguous offsets merges. */
	cr_assert_eq(vm_map_insert(m, OBJ(2), 6 * PG, B + 10 * PG, B + 11 * PG,
	    VM_PROT_READ, VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_entry_count(m), n);
	/* Two no-merge entries side by side stay apart. */
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 20 * PG, B + 21 * PG,
	    VM_PROT_RW, VM_PROT_RW, VM_MAP_NOMERGE), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 21 * PG, B + 22 * PG,
	    VM_PROT_RW, VM_PROT_RW, VM_MAP_NOMERGE), 0);
	cr_assert_eq(vm_map_entry_count(m), n + 2);
	struct vm_map_entry_info e = tm_entry(m, 9);
	cr_assert_eq(e.start, B + 9 * PG);
	cr_assert_eq(e.end, B + 11 * PG);
	cr_assert_eq(e.offset, 5 * PG);
	cr_assert_eq(tm_entry(m, 8).flags, VM_MAP_ENTRY_NOMERGE);
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_basic, lookup_hint_is_used)
{
	vm_map_t m = tm_map("hint", B, 4096);

	for (int i = 0; i < 1000; i++)
		cr_assert_eq(vm_map_insert(m, NULL, 0, B + 2 * i * PG,
		    B + (2 * i + 1) * PG, VM_PROT_RW, VM_PROT_RW, 0), 0);
	struct vm_map_stats s0 = tm_stats(m);
	for (int k = 0; k < 100; k++)
		cr_assert(vm_map_lookup_entry(m, B + 500 * 2 * PG + 8 * k, NULL));
	struct vm_map_stats s1 = tm_stats(m);
	cr_assert_eq(s1.lookups - s0.lookups, 100);
	cr_assert_geq(s1.lookup_hint_hits - s0.lookup_hint_hits, 99,
	    "repeated lookups of one entry missed the hint");
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

static int
stop_at_third(void *arg, const struct vm_map_entry_info *e)
{
	int *n = arg;
	(void)e;
	return ++*n == 3 ? 42 : 0;
}

Test(vm_map_basic, walk_dump_and_stats)
{
	vm_map_t m = tm_map("walk", B, 64);
	int n = 0;

	for (int i = 0; i < 5; i++)
		cr_assert_eq(vm_map_insert(m, NULL, 0, B + 3 * i * PG,
		    B + (3 * i + 1) * PG, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_walk(m, stop_at_third, &n), 42);
	cr_assert_eq(n, 3);
	cr_assert_eq(vm_map_walk(m, NULL, NULL), EINVAL);

	struct vm_map_stats st;
	memset(&st, 0, sizeof(st));
	st.version = VM_MAP_STATS_VERSION + 1;
	cr_assert_eq(vm_map_get_stats(m, &st), EINVAL);
	cr_assert_eq(vm_map_get_stats(m, NULL), EINVAL);
	st = tm_stats(m);
	cr_assert_eq(st.entries, 5);
	cr_assert_eq(st.size_mapped, 5 * PG);
	cr_assert_eq(st.size_free, 59 * PG);
	cr_assert_eq(st.maxfree, 64 * PG - 13 * PG);
	cr_assert_eq(st.inserts, 5);
	cr_assert_geq(st.tree_height, 3);
	cr_assert_geq(st.entries_allocated, 5);
	cr_assert_eq(st.entries_allocated - st.entries_idle, 5);
	cr_assert_gt(st.metadata_bytes, 0);

	/* The dump names the map and every entry. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	FILE *saved = stdout;
	stdout = f;
	vm_map_dump(m, NULL);
	stdout = saved;
	fclose(f);
	cr_assert_not_null(strstr(buf, "vm_map 'walk'"));
	size_t entries = 0;
	for (char *p = buf; (p = strstr(p, "entry [")) != NULL; p++)
		entries++;
	cr_assert_eq(entries, 5, "dump shows %zu entries:\n%s", entries, buf);
	free(buf);
	vm_map_destroy(m);
}

Test(vm_map_basic, locked_section_runs_calls_inline)
{
	vm_map_t m = tm_map("locked", B, 64);
	vm_offset_t a = B;

	cr_assert(!vm_map_locked(m));
	vm_map_lock(m);
	cr_assert(vm_map_locked(m));
	cr_assert_eq(vm_map_findspace(m, B, 2 * PG, VMFS_ANY_SPACE, &a), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, a, a + 2 * PG, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert(vm_map_lookup_entry(m, a, NULL));
	cr_assert_eq(vm_map_check(m), 0);
	cr_assert_eq(vm_map_remove(m, a, a + PG), 0);
	vm_map_unlock(m);
	cr_assert(!vm_map_locked(m));
	cr_assert_eq(vm_map_size(m), PG);
	vm_map_destroy(m);
}
