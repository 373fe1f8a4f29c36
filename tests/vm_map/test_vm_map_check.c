/*
 * test_vm_map_check.c -- vm_map_check must notice every kind of damage
 * (so the other suites' calls to it can fail), and the locking misuses
 * are reported.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmmap_test.h"

TestSuite(vm_map_check, .fini = tm_fini);

#define B	((vm_offset_t)0x200000000)

static vm_map_t
populated(void)
{
	vm_map_t m = tm_map("victim", B, 1024);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(vm_map_insert(m, NULL, 0, B + 3 * i * PG,
		    B + (3 * i + 1 + i % 2) * PG, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(vm_map_check(m), 0);
	return m;
}

/* Find the entry whose start is s in the tree. */
static struct vme *
node_at(vm_map_t m, vm_offset_t s)
{
	struct vme *e = vm_map__root(m);
	while (e != NULL && e->start != s)
		e = s < e->start ? e->left : e->right;
	cr_assert_not_null(e);
	return e;
}

Test(vm_map_check, detects_a_wrong_subtree_maximum)
{
	vm_map_t m = populated();
	struct vme *r = vm_map__root(m);
	vm_size_t saved = r->maxgap;

	r->maxgap = saved + PG;
	cr_assert_neq(vm_map_check(m), 0);
	r->maxgap = saved;
	struct vme *e = node_at(m, B + 30 * PG);
	saved = e->maxgap;
	e->maxgap = 0;
	cr_assert_neq(vm_map_check(m), 0);
	e->maxgap = saved;
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_check, detects_wrong_gaps_overlap_and_order)
{
	vm_map_t m = populated();
	struct vme *e = node_at(m, B + 30 * PG);
	vm_offset_t s = e->start, end = e->end;
	vm_size_t g = e->gap;

	e->gap = g + PG;
	cr_assert_neq(vm_map_check(m), 0, "gap");
	e->gap = g;
	e->end = e->next->start + PG;
	cr_assert_neq(vm_map_check(m), 0, "overlap");
	e->end = end;
	e->start = e->prev->start;
	cr_assert_neq(vm_map_check(m), 0, "order");
	e->start = s;
	e->start = s + 1;
	cr_assert_neq(vm_map_check(m), 0, "alignment");
	e->start = s;
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_check, detects_broken_tree_shape_and_counters)
{
	vm_map_t m = populated();
	struct vme *r = vm_map__root(m);
	struct vm_map_impl *mi = VMI(m);

	r->red = 1;
	cr_assert_neq(vm_map_check(m), 0, "red root");
	r->red = 0;
	/* A leaf turned red changes a black height only if it was black. */
	struct vme *leaf = r;
	while (leaf->left != NULL)
		leaf = leaf->left;
	uint8_t c = leaf->red;
	leaf->red = !c;
	cr_assert_neq(vm_map_check(m), 0, "colour");
	leaf->red = c;
	struct vme *p = r->left->parent;
	r->left->parent = r->right;
	cr_assert_neq(vm_map_check(m), 0, "parent link");
	r->left->parent = p;
	mi->nentries++;
	cr_assert_neq(vm_map_check(m), 0, "entry counter");
	mi->nentries--;
	mi->size += PG;
	cr_assert_neq(vm_map_check(m), 0, "size counter");
	mi->size -= PG;
	struct vme *h = atomic_load(&mi->hint);
	atomic_store(&mi->hint, mi->idle);
	cr_assert_neq(vm_map_check(m), 0, "stale hint");
	atomic_store(&mi->hint, h);
	mi->nidle++;
	cr_assert_neq(vm_map_check(m), 0, "idle counter");
	mi->nidle--;
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_check, lock_misuse)
{
	vm_map_t m = tm_map("lock", B, 16);
	struct tm_misuse log;

	memset(&log, 0, sizeof(log));
	vm_map_set_misuse_handler(m, tm_misuse_record, &log);
	vm_map_unlock(m);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.kind, VM_MAP_MISUSE_UNLOCK_NOT_OWNER);
	vm_map_lock(m);
	vm_map_lock(m);
	cr_assert_eq(log.count, 2);
	cr_assert_eq(log.kind, VM_MAP_MISUSE_LOCK_RECURSE);
	cr_assert(vm_map_locked(m), "the recursive lock had no effect");
	vm_map_unlock(m);
	cr_assert(!vm_map_locked(m));
	cr_assert_eq(tm_stats(m).misuses, 2);
	cr_assert_str_eq(vm_map_misuse_name(VM_MAP_MISUSE_LOCK_RECURSE), "recursive lock");
	cr_assert_str_eq(vm_map_misuse_name((enum vm_map_misuse)99), "unknown misuse");
	vm_map_destroy(m);
}

Test(vm_map_check, process_default_handler)
{
	vm_map_t m = tm_map("dflt", B, 16);
	struct tm_misuse log;

	memset(&log, 0, sizeof(log));
	vm_map_set_misuse_handler(NULL, tm_misuse_record, &log);
	vm_map_unlock(m);
	vm_map_set_misuse_handler(NULL, NULL, NULL);
	cr_assert_eq(log.count, 1);
	cr_assert_eq(log.map, m);
	cr_assert_not_null(strstr(log.msg, "vm_map 'dflt'"), "%s", log.msg);
	vm_map_destroy(m);
}

Test(vm_map_check, dead_map_panics, .signal = SIGABRT)
{
	struct vm_map store;
	memset(&store, 0, sizeof(store));
	(void)vm_map_entry_count(&store);
}
