/*
 * test_vm_map_change.c -- deletion (vm_map_remove / vm_map_delete), clip,
 * protect, inherit, madvise, wire and unwire: clipping at arbitrary page
 * boundaries, re-merging, the pmap callbacks, and that every error
 * (including running out of entry records) leaves the map unchanged.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmmap_test.h"

TestSuite(vm_map_change, .fini = tm_fini);

#define B	((vm_offset_t)0x7f0000000000)
#define OBJ	((vm_object_t)(uintptr_t)0x5000)

static vm_map_t
map_with_pmap(struct tm_pmap *rec)
{
	vm_map_t m = tm_map("chg", B, 256);
	memset(rec, 0, sizeof(*rec));
	vm_map_set_pmap(m, &tm_pmap_ops, rec);
	return m;
}

Test(vm_map_change, remove_middle_splits_and_reports)
{
	struct tm_pmap rec;
	vm_map_t m = map_with_pmap(&rec);

	/* One object entry over pages [10, 30), object offset 100 pages. */
	cr_assert_eq(vm_map_insert(m, OBJ, 100 * PG, B + 10 * PG, B + 30 * PG,
	    VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_remove(m, B + 15 * PG, B + 18 * PG), 0);
	cr_assert_eq(vm_map_entry_count(m), 2);
	struct vm_map_entry_info a = tm_entry(m, 0), b = tm_entry(m, 1);
	cr_assert_eq(a.start, B + 10 * PG);
	cr_assert_eq(a.end, B + 15 * PG);
	cr_assert_eq(a.offset, 100 * PG);
	cr_assert_eq(b.start, B + 18 * PG);
	cr_assert_eq(b.end, B + 30 * PG);
	cr_assert_eq(b.offset, 108 * PG, "the tail keeps its object offset");
	cr_assert_eq(vm_map_size(m), 17 * PG);

	cr_assert_eq(rec.n, 2);
	cr_assert_eq(rec.call[0].kind, 'r');
	cr_assert_eq(rec.call[0].start, B + 15 * PG);
	cr_assert_eq(rec.call[0].end, B + 18 * PG);
	cr_assert_eq(rec.call[1].kind, 'f', "pages are freed after the unmap");
	cr_assert_eq(rec.call[1].object, OBJ);
	cr_assert_eq(rec.call[1].offset, 105 * PG);
	cr_assert_eq(rec.call[1].size, 3 * PG);
	cr_assert_eq(vm_map_check(m), 0);

	/* Re-inserting the hole with the right offset merges all three. */
	cr_assert_eq(vm_map_insert(m, OBJ, 105 * PG, B + 15 * PG, B + 18 * PG,
	    VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_entry_count(m), 1);
	vm_map_destroy(m);
	cr_assert_eq(tm_removed_bytes(&rec), 3 * PG + 20 * PG,
	    "destroy unmaps what is left");
	cr_assert_eq(tm_freed_bytes(&rec), 3 * PG + 20 * PG);
	tm_pmap_reset(&rec);
}

Test(vm_map_change, remove_across_entries_and_holes)
{
	struct tm_pmap rec;
	vm_map_t m = map_with_pmap(&rec);

	for (int i = 0; i < 10; i++)	/* [4i, 4i + 2) */
		cr_assert_eq(vm_map_insert(m, NULL, 0, B + 4 * i * PG,
		    B + (4 * i + 2) * PG, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_remove(m, B + 5 * PG, B + 33 * PG), 0);
	/* Left: [0,2) [4,5) [33,34) [36,38) */
	cr_assert_eq(vm_map_entry_count(m), 4);
	cr_assert_eq(tm_entry(m, 1).end, B + 5 * PG);
	cr_assert_eq(tm_entry(m, 2).start, B + 33 * PG);
	cr_assert_eq(tm_removed_bytes(&rec), 1 * PG + 6 * 2 * PG + 1 * PG);
	cr_assert_eq(tm_freed_bytes(&rec), 0, "no object, no pages to free");
	struct vm_map_stats st = tm_stats(m);
	cr_assert_eq(st.removes, 1);
	cr_assert_eq(st.entries_removed, 8);
	cr_assert_eq(vm_map_check(m), 0);

	/* Nothing mapped there: a no-op, no callback. */
	size_t calls = rec.n;
	cr_assert_eq(vm_map_remove(m, B + 100 * PG, B + 200 * PG), 0);
	cr_assert_eq(vm_map_remove(m, B + 2 * PG, B + 4 * PG), 0);
	cr_assert_eq(vm_map_delete(m, B + 7 * PG, B + 7 * PG), 0, "empty range");
	cr_assert_eq(rec.n, calls);
	cr_assert_eq(vm_map_delete(m, B, B + 256 * PG), 0, "vm_map_delete is the same");
	cr_assert_eq(vm_map_entry_count(m), 0);
	cr_assert_eq(vm_map_size(m), 0);
	cr_assert_eq(tm_stats(m).maxfree, 256 * PG);
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
	tm_pmap_reset(&rec);
}

Test(vm_map_change, remove_errors)
{
	vm_map_t m = tm_map("rmerr", B, 64);
	struct tm_snap before, after;

	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + 64 * PG, VM_PROT_RW, VM_PROT_RW, 0), 0);
	tm_snap_take(m, &before);
	cr_assert_eq(vm_map_remove(m, B - PG, B + PG), EINVAL);
	cr_assert_eq(vm_map_remove(m, B, B + 65 * PG), EINVAL);
	cr_assert_eq(vm_map_remove(m, B + 1, B + PG), EINVAL);
	cr_assert_eq(vm_map_remove(m, B, B + PG + 1), EINVAL);
	cr_assert_eq(vm_map_remove(m, B + 2 * PG, B + PG), EINVAL);
	/* Out of entry records for the two clips: ENOMEM, nothing changed. */
	vm_map__inject_nomem(m, 1);
	cr_assert_eq(vm_map_remove(m, B + 2 * PG, B + 3 * PG), ENOMEM);
	tm_snap_take(m, &after);
	cr_assert(tm_snap_same(&before, &after));
	cr_assert_eq(vm_map_check(m), 0);
	tm_snap_free(&before);
	tm_snap_free(&after);
	vm_map_destroy(m);
}

Test(vm_map_change, clip_at_any_page)
{
	vm_map_t m = tm_map("clip", B, 64);

	cr_assert_eq(vm_map_insert(m, OBJ, 0, B + 8 * PG, B + 40 * PG, VM_PROT_RW,
	    VM_PROT_RW, 0), 0);
	for (int p = 9; p < 40; p += 3)
		cr_assert_eq(vm_map_clip(m, B + p * PG), 0, "clip at page %d", p);
	cr_assert_eq(vm_map_entry_count(m), 12);
	cr_assert_eq(vm_map_clip(m, B + 9 * PG), 0, "already a boundary");
	cr_assert_eq(vm_map_clip(m, B + 8 * PG), 0, "entry start");
	cr_assert_eq(vm_map_clip(m, B + 50 * PG), 0, "free address");
	cr_assert_eq(vm_map_clip(m, B + 64 * PG), 0, "the map's end");
	cr_assert_eq(vm_map_entry_count(m), 12);
	cr_assert_eq(vm_map_clip(m, B + 10 * PG + 1), EINVAL);
	cr_assert_eq(vm_map_clip(m, B - PG), EINVAL);
	cr_assert_eq(vm_map_clip(m, B + 65 * PG), EINVAL);
	vm_map__inject_nomem(m, 1);
	cr_assert_eq(vm_map_clip(m, B + 11 * PG), ENOMEM);
	cr_assert_eq(vm_map_entry_count(m), 12);
	for (size_t i = 0; i < 12; i++) {
		struct vm_map_entry_info e = tm_entry(m, i);
		cr_assert_eq(e.offset, (vm_ooffset_t)(e.start - (B + 8 * PG)), "piece %zu offset", i);
	}
	cr_assert_eq(tm_stats(m).clips, 11);
	cr_assert_eq(vm_map_size(m), 32 * PG);
	cr_assert_eq(vm_map_check(m), 0);
	/* A change over the whole range merges the pieces back. */
	cr_assert_eq(vm_map_protect(m, B, B + 64 * PG, VM_PROT_READ, false), 0);
	cr_assert_eq(vm_map_entry_count(m), 1);
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_change, protect)
{
	struct tm_pmap rec;
	vm_map_t m = map_with_pmap(&rec);

	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + 10 * PG, VM_PROT_RW,
	    VM_PROT_ALL, 0), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 12 * PG, B + 20 * PG, VM_PROT_RW,
	    VM_PROT_RW, 0), 0);
	/* Middle of the first entry: three pieces, one pmap call. */
	cr_assert_eq(vm_map_protect(m, B + 2 * PG, B + 4 * PG, VM_PROT_READ, false), 0);
	cr_assert_eq(vm_map_entry_count(m), 4);
	cr_assert_eq(tm_entry(m, 1).protection, VM_PROT_READ);
	cr_assert_eq(rec.n, 1);
	cr_assert_eq(rec.call[0].kind, 'p');
	cr_assert_eq(rec.call[0].start, B + 2 * PG);
	cr_assert_eq(rec.call[0].end, B + 4 * PG);
	cr_assert_eq(rec.call[0].prot, VM_PROT_READ);
	/* Adding rights is no pmap business. */
	cr_assert_eq(vm_map_protect(m, B + 2 * PG, B + 4 * PG, VM_PROT_ALL, false), 0);
	cr_assert_eq(rec.n, 1);
	/* Beyond the max of the second entry: EACCES, nothing changed. */
	struct tm_snap before, after;
	tm_snap_take(m, &before);
	cr_assert_eq(vm_map_protect(m, B, B + 20 * PG, VM_PROT_ALL, false), EACCES);
	cr_assert_eq(vm_map_protect(m, B, B + 20 * PG, 0x20, false), EINVAL);
	cr_assert_eq(vm_map_protect(m, B + 1, B + 20 * PG, VM_PROT_READ, false), EINVAL);
	cr_assert_eq(vm_map_protect(m, B, B + 300 * PG, VM_PROT_READ, false), EINVAL);
	vm_map__inject_nomem(m, 1);
	cr_assert_eq(vm_map_protect(m, B + 13 * PG, B + 14 * PG, VM_PROT_READ, false),
	    ENOMEM);
	tm_snap_take(m, &after);
	cr_assert(tm_snap_same(&before, &after));
	tm_snap_free(&before);
	tm_snap_free(&after);
	/* set_max lowers the maximum and cuts the protection to it. */
	cr_assert_eq(vm_map_protect(m, B, B + 20 * PG, VM_PROT_READ, true), 0);
	cr_assert_eq(vm_map_entry_count(m), 2, "the three pieces merged again");
	struct vm_map_entry_info e = tm_entry(m, 0);
	cr_assert_eq(e.end, B + 10 * PG);
	cr_assert_eq(e.max_protection, VM_PROT_READ);
	cr_assert_eq(e.protection, VM_PROT_READ);
	cr_assert_eq(vm_map_protect(m, B, B + 20 * PG, VM_PROT_RW, false), EACCES);
	/* Protecting only holes is a no-op. */
	cr_assert_eq(vm_map_protect(m, B + 30 * PG, B + 40 * PG, VM_PROT_NONE, false), 0);
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
	tm_pmap_reset(&rec);
}

Test(vm_map_change, inherit_and_madvise)
{
	vm_map_t m = tm_map("inh", B, 64);

	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + 10 * PG, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_inherit(m, B + 3 * PG, B + 5 * PG, VM_INHERIT_NONE), 0);
	cr_assert_eq(vm_map_entry_count(m), 3);
	cr_assert_eq(tm_entry(m, 1).inheritance, VM_INHERIT_NONE);
	cr_assert_eq(tm_entry(m, 0).inheritance, VM_INHERIT_DEFAULT);
	cr_assert_eq(vm_map_inherit(m, B, B + PG, 9), EINVAL);
	cr_assert_eq(vm_map_madvise(m, B + 4 * PG, B + 6 * PG, VM_MAP_ADV_SEQUENTIAL), 0);
	cr_assert_eq(vm_map_entry_count(m), 5);
	cr_assert_eq(tm_entry(m, 2).advice, VM_MAP_ADV_SEQUENTIAL);
	cr_assert_eq(tm_entry(m, 2).inheritance, VM_INHERIT_NONE);
	cr_assert_eq(vm_map_madvise(m, B, B + PG, 7), EINVAL);
	cr_assert_eq(vm_map_madvise(m, B, B + 10 * PG, VM_MAP_ADV_NORMAL), 0);
	cr_assert_eq(vm_map_inherit(m, B, B + 10 * PG, VM_INHERIT_COPY), 0);
	cr_assert_eq(vm_map_entry_count(m), 1, "uniform again: one entry");
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_change, wire_and_unwire)
{
	vm_map_t m = tm_map("wire", B, 64);
	struct tm_snap before, after;

	cr_assert_eq(vm_map_insert(m, NULL, 0, B, B + 10 * PG, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 12 * PG, B + 20 * PG, VM_PROT_RW,
	    VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_wire(m, B + 2 * PG, B + 4 * PG), 0);
	cr_assert_eq(vm_map_wire(m, B + 3 * PG, B + 4 * PG), 0);
	cr_assert_eq(vm_map_entry_count(m), 5);
	cr_assert_eq(tm_entry(m, 1).wired_count, 1);
	cr_assert_eq(tm_entry(m, 2).wired_count, 2);
	tm_snap_take(m, &before);
	cr_assert_eq(vm_map_wire(m, B, B + 20 * PG), ENOMEM, "hole at [10, 12)");
	cr_assert_eq(vm_map_wire(m, B + 20 * PG, B + 21 * PG), ENOMEM, "unmapped");
	cr_assert_eq(vm_map_unwire(m, B + 2 * PG, B + 5 * PG), EINVAL,
	    "page 4 is not wired");
	tm_snap_take(m, &after);
	cr_assert(tm_snap_same(&before, &after));
	cr_assert_eq(vm_map_unwire(m, B + 2 * PG, B + 4 * PG), 0);
	cr_assert_eq(vm_map_unwire(m, B + 3 * PG, B + 4 * PG), 0);
	cr_assert_eq(vm_map_entry_count(m), 2, "unwired pieces merge back");
	/* Inserting next to a wired entry does not merge with it. */
	cr_assert_eq(vm_map_wire(m, B, B + 10 * PG), 0);
	cr_assert_eq(vm_map_insert(m, NULL, 0, B + 10 * PG, B + 11 * PG, VM_PROT_RW,
	    VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_entry_count(m), 3);
	/* Deleting a wired range is allowed (it is unwired first, as BSD). */
	cr_assert_eq(vm_map_remove(m, B, B + 5 * PG), 0);
	cr_assert_eq(vm_map_check(m), 0);
	tm_snap_free(&before);
	tm_snap_free(&after);
	vm_map_destroy(m);
}

/* Many clips and changes keep the tree and the counters right. */
Test(vm_map_change, churn_keeps_invariants)
{
	vm_map_t m = tm_map("churn", B, 4096);
	struct kvt_rng r;

	kvt_rng_init(&r, kvt_seed());
	for (int i = 0; i < 20000; i++) {
		vm_offset_t s = B + kvt_below(&r, 4096) * PG;
		vm_offset_t e = s + kvt_range(&r, 1, 16) * PG;
		if (e > B + 4096 * PG)
			e = B + 4096 * PG;
		switch (kvt_below(&r, 5)) {
		case 0:
			(void)vm_map_insert(m, NULL, 0, s, e, VM_PROT_RW, VM_PROT_ALL,
			    kvt_chance(&r, 20) ? VM_MAP_NOMERGE : 0);
			break;
		case 1:
			cr_assert_eq(vm_map_remove(m, s, e), 0);
			break;
		case 2:
			cr_assert_eq(vm_map_protect(m, s, e,
			    (vm_prot_t)kvt_below(&r, 8), false), 0);
			break;
		case 3:
			cr_assert_eq(vm_map_clip(m, s), 0);
			break;
		case 4:
			cr_assert_eq(vm_map_madvise(m, s, e, (int)kvt_below(&r, 3)), 0);
			break;
		}
		if (i % 500 == 0)
			cr_assert_eq(vm_map_check(m), 0, "seed %" PRIu64 " op %d",
			    kvt_seed(), i);
	}
	cr_assert_eq(vm_map_check(m), 0, "seed %" PRIu64, kvt_seed());
	vm_map_destroy(m);
}
