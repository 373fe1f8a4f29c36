/*
 * test_vm_map_find.c -- vm_map_findspace and vm_map_find: first fit from a
 * hint, top-down, alignment, superpage placement, the max_addr bound, fixed
 * placement, and every error.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmmap_test.h"

TestSuite(vm_map_find, .fini = tm_fini);

#define B	((vm_offset_t)0x40000000)
#define SP	((vm_offset_t)0x200000)		/* 2 MiB */

static void
ins(vm_map_t m, vm_offset_t s, vm_offset_t e)
{
	cr_assert_eq(vm_map_insert(m, NULL, 0, s, e, VM_PROT_RW, VM_PROT_RW,
	    VM_MAP_NOMERGE), 0, "insert [" X64 ", " X64 ")", (uint64_t)s, (uint64_t)e);
}

static vm_offset_t
fs(vm_map_t m, vm_offset_t hint, vm_size_t len, int how)
{
	vm_offset_t a = 0xdead;
	int rc = vm_map_findspace(m, hint, len, how, &a);
	cr_assert_eq(rc, 0, "findspace(hint " X64 ", len " X64 ", 0x%x) = %d",
	    (uint64_t)hint, (uint64_t)len, how, rc);
	return a;
}

Test(vm_map_find, first_fit_from_hint)
{
	vm_map_t m = tm_map("ff", B, 64);

	cr_assert_eq(fs(m, 0, PG, VMFS_ANY_SPACE), B, "hint below the map means min");
	ins(m, B, B + 2 * PG);
	ins(m, B + 3 * PG, B + 4 * PG);		/* hole of 1 page at 2 */
	ins(m, B + 6 * PG, B + 8 * PG);		/* hole of 2 pages at 4 */
	cr_assert_eq(fs(m, B, PG, VMFS_ANY_SPACE), B + 2 * PG);
	cr_assert_eq(fs(m, B, 2 * PG, VMFS_ANY_SPACE), B + 4 * PG);
	cr_assert_eq(fs(m, B, 3 * PG, VMFS_ANY_SPACE), B + 8 * PG);
	cr_assert_eq(fs(m, B + 3 * PG, PG, VMFS_ANY_SPACE), B + 4 * PG,
	    "hint inside an entry starts after it");
	cr_assert_eq(fs(m, B + 5 * PG, PG, VMFS_ANY_SPACE), B + 5 * PG,
	    "hint inside a hole that still fits");
	cr_assert_eq(fs(m, B + 5 * PG, 2 * PG, VMFS_ANY_SPACE), B + 8 * PG,
	    "hint inside a hole too small from there on");
	cr_assert_eq(fs(m, B + 62 * PG, 2 * PG, VMFS_ANY_SPACE), B + 62 * PG);

	vm_offset_t a;
	cr_assert_eq(vm_map_findspace(m, B + 63 * PG, 2 * PG, VMFS_ANY_SPACE, &a), ENOMEM);
	cr_assert_eq(vm_map_findspace(m, B + 64 * PG, PG, VMFS_ANY_SPACE, &a), ENOMEM,
	    "hint at max");
	cr_assert_eq(vm_map_findspace(m, B, 57 * PG, VMFS_ANY_SPACE, &a), ENOMEM);
	cr_assert_eq(fs(m, B, 56 * PG, VMFS_ANY_SPACE), B + 8 * PG);
	struct vm_map_stats st = tm_stats(m);
	cr_assert_eq(st.find_fails, 3);
	vm_map_destroy(m);
}

Test(vm_map_find, top_down)
{
	vm_map_t m = tm_map("td", B, 64);
	const int td = VMFS_ANY_SPACE | VMFS_TOPDOWN;

	cr_assert_eq(fs(m, B + 64 * PG, PG, td), B + 63 * PG);
	cr_assert_eq(fs(m, ~(vm_offset_t)0, 4 * PG, td), B + 60 * PG, "hint past max");
	ins(m, B + 60 * PG, B + 64 * PG);
	ins(m, B + 50 * PG, B + 58 * PG);	/* hole [58, 60) */
	cr_assert_eq(fs(m, B + 64 * PG, 2 * PG, td), B + 58 * PG);
	cr_assert_eq(fs(m, B + 64 * PG, 3 * PG, td), B + 47 * PG);
	cr_assert_eq(fs(m, B + 58 * PG, PG, td), B + 58 * PG, "placement at the hint");
	cr_assert_eq(fs(m, B + 55 * PG, PG, td), B + 49 * PG, "hint inside an entry");
	cr_assert_eq(fs(m, B + 10 * PG, PG, td), B + 10 * PG);
	cr_assert_eq(fs(m, B, PG, td), B);
	vm_offset_t a;
	cr_assert_eq(vm_map_findspace(m, B - PG, PG, td, &a), ENOMEM, "hint below min");
	cr_assert_eq(vm_map_findspace(m, B + 64 * PG, 51 * PG, td, &a), ENOMEM);
	cr_assert_eq(fs(m, B + 64 * PG, 50 * PG, td), B);

	/* vm_map_find honours top-down too, and max_addr. */
	a = B + 64 * PG;
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, PG, 0, td, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(a, B + 59 * PG);
	a = B + 64 * PG;
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, PG, B + 20 * PG, td, VM_PROT_RW,
	    VM_PROT_RW, 0), 0);
	cr_assert_eq(a, B + 19 * PG);
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_find, alignment_never_misses_a_fit)
{
	vm_map_t m = tm_map("align", B, 1024);
	const int a16 = VMFS_ALIGNED_SPACE(16);	/* 64 KiB = 16 pages */

	/* Holes big enough for 16 pages but not aligned to 16 pages. */
	ins(m, B, B + 3 * PG);
	ins(m, B + 19 * PG, B + 40 * PG);	/* hole [3, 19): 16 pages, misaligned */
	ins(m, B + 57 * PG, B + 60 * PG);	/* hole [40, 57): 17 pages, misaligned */
	ins(m, B + 95 * PG, B + 200 * PG);	/* hole [60, 95): holds [64, 80) */
	cr_assert_eq(fs(m, B, 16 * PG, a16), B + 64 * PG);
	cr_assert_eq(fs(m, B, 16 * PG, VMFS_ANY_SPACE), B + 3 * PG);
	cr_assert_eq(fs(m, B, PG, a16), B + 16 * PG, "small request, aligned start");
	cr_assert_eq(fs(m, B + 65 * PG, 16 * PG, a16), B + 208 * PG);
	cr_assert_eq(fs(m, B + 1024 * PG, 16 * PG, a16 | VMFS_TOPDOWN), B + 1008 * PG);
	cr_assert_eq(fs(m, B + 100 * PG, 16 * PG, a16 | VMFS_TOPDOWN), B + 64 * PG);
	cr_assert_eq(fs(m, B, PG, VMFS_ALIGNED_SPACE(3)), B + 3 * PG,
	    "an alignment below the page size is the page size");
	vm_offset_t a;
	cr_assert_eq(vm_map_findspace(m, B + 50 * PG, 16 * PG,
	    a16 | VMFS_TOPDOWN, &a), ENOMEM, "only misaligned holes below");
	vm_map_destroy(m);
}

Test(vm_map_find, superpage_placement)
{
	vm_map_t m = vm_map_create("super", B + PG, B + 64 * SP, PG);
	vm_offset_t a;

	cr_assert_eq(fs(m, 0, PG, VMFS_SUPER_SPACE), B + PG,
	    "smaller than a superpage: no alignment");
	cr_assert_eq(fs(m, 0, SP, VMFS_SUPER_SPACE), B + SP);
	cr_assert_eq(fs(m, 0, SP + 5 * PG, VMFS_SUPER_SPACE), B + SP);

	/* With an object: the address agrees with the offset modulo 2 MiB. */
	a = 0;
	cr_assert_eq(vm_map_find(m, (vm_object_t)0x1000, 3 * PG, &a, 2 * SP, 0,
	    VMFS_SUPER_SPACE, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(a & (SP - 1), 3 * PG, "a=" X64, (uint64_t)a);
	/* offset 3 pages into a superpage and only 2 MiB long: no full
	 * superpage after the first boundary, so no alignment (first fit
	 * right after the previous entry; the 2-page hole below is too small). */
	a = 0;
	cr_assert_eq(vm_map_find(m, (vm_object_t)0x2000, 3 * PG, &a, SP, 0,
	    VMFS_SUPER_SPACE, VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(a, B + 3 * PG + 2 * SP);
	cr_assert_eq(fs(m, 0, 2 * PG, VMFS_SUPER_SPACE), B + PG);

	/* Superpages off: plain placement. */
	cr_assert_eq(fs(m, 0, SP, VMFS_SUPER_SPACE), B + 4 * SP);
	cr_assert_eq(vm_map_set_superpage_size(m, 0), 0);
	cr_assert_eq(fs(m, 0, SP, VMFS_SUPER_SPACE), B + 3 * PG + 3 * SP);
	cr_assert_eq(vm_map_set_superpage_size(m, 3 * PG), EINVAL);
	cr_assert_eq(vm_map_set_superpage_size(m, PG / 2), EINVAL);
	cr_assert_eq(vm_map_set_superpage_size(m, 4 * SP), 0);
	cr_assert_eq(tm_stats(m).superpage_size, 4 * SP);
	cr_assert_eq(fs(m, 0, 4 * SP, VMFS_SUPER_SPACE) & (4 * SP - 1), 0);
	vm_map_destroy(m);
}

Test(vm_map_find, optimal_falls_back)
{
	/* 3 MiB map starting 1 page past a superpage boundary: no aligned
	 * 2 MiB placement exists. */
	vm_map_t m = vm_map_create("opt", B + PG, B + PG + 3 * 0x100000, PG);
	vm_offset_t a = 0;

	cr_assert_eq(vm_map_findspace(m, 0, SP, VMFS_SUPER_SPACE, &a), ENOMEM);
	cr_assert_eq(fs(m, 0, SP, VMFS_OPTIMAL_SPACE), B + PG);
	a = 0;
	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, SP, 0, VMFS_SUPER_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), ENOMEM,
	    "find_wait must fail at once when even an empty map cannot hold it");
	vm_map_destroy(m);
}

Test(vm_map_find, max_addr_bound)
{
	vm_map_t m = tm_map("maxaddr", B, 64);
	vm_offset_t a = B;

	ins(m, B, B + 10 * PG);
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 4 * PG, B + 13 * PG, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), ENOMEM);
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 3 * PG, B + 13 * PG, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), 0);
	cr_assert_eq(a, B + 10 * PG);
	a = B + 20 * PG;
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 4 * PG, B + 22 * PG, VMFS_NO_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), ENOMEM, "fixed placement past max_addr");
	a = B;
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 2 * PG, B + 1000 * PG,
	    VMFS_ANY_SPACE, VM_PROT_RW, VM_PROT_RW, 0), 0,
	    "max_addr past the map's end is the map's end");
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_find, fixed_placement)
{
	vm_map_t m = tm_map("fixed", B, 64);
	vm_offset_t a;

	ins(m, B + 8 * PG, B + 16 * PG);
	cr_assert_eq(fs(m, B + 4 * PG, 4 * PG, VMFS_NO_SPACE), B + 4 * PG);
	cr_assert_eq(vm_map_findspace(m, B + 4 * PG, 5 * PG, VMFS_NO_SPACE, &a), EEXIST);
	cr_assert_eq(vm_map_findspace(m, B + 9 * PG, PG, VMFS_NO_SPACE, &a), EEXIST);
	cr_assert_eq(vm_map_findspace(m, B + 63 * PG, 2 * PG, VMFS_NO_SPACE, &a), EINVAL);
	cr_assert_eq(vm_map_findspace(m, B + 1, PG, VMFS_NO_SPACE, &a), EINVAL);
	cr_assert_eq(vm_map_findspace(m, ~(vm_offset_t)0 - PG + 1, 2 * PG,
	    VMFS_NO_SPACE, &a), EINVAL, "wrapping range");

	a = B + 4 * PG;
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 4 * PG, 0, VMFS_NO_SPACE,
	    VM_PROT_RW, VM_PROT_RW, VM_MAP_NOMERGE), 0);
	cr_assert_eq(a, B + 4 * PG);
	a = B + 2 * PG;
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 4 * PG, 0, VMFS_NO_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), EEXIST);
	a = ~(vm_offset_t)0 & ~(PG - 1);
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, 4 * PG, 0, VMFS_NO_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), EINVAL);
	cr_assert_eq(vm_map_entry_count(m), 2);
	vm_map_destroy(m);
}

Test(vm_map_find, bad_arguments)
{
	vm_map_t m = tm_map("badargs", B, 64);
	vm_offset_t a = B;
	static const int bad_fs[] = {
		4, 0xff, VMFS_ALIGNED_SPACE(64), VMFS_ALIGNED_SPACE(12) | 1,
		-1, 0x20000, VMFS_NO_SPACE | VMFS_TOPDOWN,
	};

	cr_assert_eq(vm_map_findspace(m, B, 0, VMFS_ANY_SPACE, &a), EINVAL);
	cr_assert_eq(vm_map_findspace(m, B, PG + 1, VMFS_ANY_SPACE, &a), EINVAL);
	cr_assert_eq(vm_map_findspace(m, B, PG, VMFS_ANY_SPACE, NULL), EINVAL);
	for (size_t i = 0; i < sizeof(bad_fs) / sizeof(bad_fs[0]); i++) {
		cr_assert_eq(vm_map_findspace(m, B, PG, bad_fs[i], &a), EINVAL,
		    "find_space 0x%x", bad_fs[i]);
		cr_assert_eq(vm_map_find(m, NULL, 0, &a, PG, 0, bad_fs[i],
		    VM_PROT_RW, VM_PROT_RW, 0), EINVAL, "find_space 0x%x", bad_fs[i]);
	}
	cr_assert_eq(vm_map_find(m, NULL, 0, NULL, PG, 0, VMFS_ANY_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), EINVAL);
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, PG, 0, VMFS_ANY_SPACE,
	    VM_PROT_ALL, VM_PROT_RW, 0), EACCES);
	cr_assert_eq(vm_map_find_wait(m, NULL, 0, &a, PG, 0, VMFS_NO_SPACE,
	    VM_PROT_RW, VM_PROT_RW, 0), EINVAL, "find_wait needs a search");
	cr_assert_eq(vm_map_entry_count(m), 0);
	vm_map_destroy(m);
}

Test(vm_map_find, top_of_the_address_space)
{
	const vm_offset_t top = ~(vm_offset_t)0 & ~(PG - 1);	/* 2^64 - 4096 */
	vm_map_t m = vm_map_create("top", top - 64 * PG, top, PG);
	vm_offset_t a;

	cr_assert_not_null(m);
	cr_assert_eq(fs(m, ~(vm_offset_t)0, PG, VMFS_ANY_SPACE | VMFS_TOPDOWN), top - PG);
	cr_assert_eq(fs(m, top - 3 * PG, 3 * PG, VMFS_ANY_SPACE), top - 3 * PG);
	cr_assert_eq(vm_map_findspace(m, top - 3 * PG, 4 * PG, VMFS_ANY_SPACE, &a), ENOMEM);
	cr_assert_eq(vm_map_findspace(m, 0, PG, VMFS_ALIGNED_SPACE(63), &a), ENOMEM);
	a = top - PG;
	cr_assert_eq(vm_map_find(m, NULL, 0, &a, PG, 0, VMFS_NO_SPACE, VM_PROT_RW,
	    VM_PROT_RW, 0), 0);
	cr_assert_eq(fs(m, ~(vm_offset_t)0, PG, VMFS_ANY_SPACE | VMFS_TOPDOWN), top - 2 * PG);
	cr_assert_eq(vm_map_check(m), 0);
	vm_map_destroy(m);
}
