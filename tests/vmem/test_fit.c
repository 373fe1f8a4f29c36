/*
 * test_fit.c -- the fit strategies: M_BESTFIT (smallest fitting hole),
 * VMEM_TOPDOWN (highest fitting address), M_FIRSTFIT (instant fit, with the
 * fallback that makes ENOMEM mean "no hole fits"), M_NEXTFIT (a rotor that
 * advances and wraps), and no strategy flag (= M_FIRSTFIT).
 */
#include <errno.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(fit, .fini = kvt_fini_no_live);

#define ANY	VMEM_ADDR_MIN, VMEM_ADDR_MAX

/*
 * Quantum 1 arena over [0, 1000) with free holes
 *   [100,150) 50   [200,220) 20   [300,330) 30   [400,1000) 600
 * and everything else busy.
 */
static vmem_t *
make_holes_arena(vmem_t *vm)
{

	cr_assert_not_null(vm);
	cr_assert_eq(vmem_xalloc_addr(vm, 0, 100, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 150, 50, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 220, 80, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 330, 70, M_NOWAIT), 0);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 4);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 600);
	return (vm);
}

static vmem_t *
make_holes(void)
{
	return (make_holes_arena(kvt_vmem_create("holes", 0, 1000, 1, 0,
	    M_WAITOK)));
}

static void
drop_holes(vmem_t *vm)
{
	vmem_xfree(vm, 0, 100);
	vmem_xfree(vm, 150, 50);
	vmem_xfree(vm, 220, 80);
	vmem_xfree(vm, 330, 70);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

/* xalloc that must succeed at want; freed again unless keep. */
static void
xat(vmem_t *vm, vmem_size_t size, vmem_size_t align, vmem_addr_t max, int flags,
    vmem_addr_t want, int keep, const char *what)
{
	vmem_addr_t a = 0xbad;
	int rc = vmem_xalloc(vm, size, align, 0, 0, VMEM_ADDR_MIN, max,
	    M_NOWAIT | flags, &a);

	cr_assert_eq(rc, 0, "%s: rc %d", what, rc);
	cr_assert_eq(a, want, "%s: got " KVT_X " want " KVT_X, what, a, want);
	cr_assert_eq(vmem_check(vm), 0, "%s", what);
	if (!keep)
		vmem_xfree(vm, a, size);
}

Test(fit, bestfit_smallest_hole)
{
	vmem_t *vm = make_holes();

	xat(vm, 25, 0, VMEM_ADDR_MAX, M_BESTFIT, 300, 0, "25 -> hole of 30");
	xat(vm, 20, 0, VMEM_ADDR_MAX, M_BESTFIT, 200, 0, "20 -> hole of 20");
	xat(vm, 10, 0, VMEM_ADDR_MAX, M_BESTFIT, 200, 0, "10 -> low end of 20");
	xat(vm, 31, 0, VMEM_ADDR_MAX, M_BESTFIT, 100, 0, "31 -> hole of 50");
	xat(vm, 50, 0, VMEM_ADDR_MAX, M_BESTFIT, 100, 0, "50 -> hole of 50");
	xat(vm, 51, 0, VMEM_ADDR_MAX, M_BESTFIT, 400, 0, "51 -> hole of 600");
	/* With constraints: 16 aligned to 16 does not fit [200,220). */
	xat(vm, 16, 16, VMEM_ADDR_MAX, M_BESTFIT, 304, 0, "16@16 -> hole of 30");
	/* Only holes below maxaddr count. */
	xat(vm, 10, 0, 180, M_BESTFIT, 100, 0, "10 below 180");
	xat(vm, 40, 0, 999, M_BESTFIT, 100, 0, "40");
	vmem_addr_t a;
	cr_assert_eq(vmem_xalloc(vm, 601, 0, 0, 0, ANY, M_NOWAIT | M_BESTFIT, &a),
	    ENOMEM);
	drop_holes(vm);
}

Test(fit, topdown_highest)
{
	vmem_t *vm = make_holes();

	xat(vm, 10, 0, VMEM_ADDR_MAX, VMEM_TOPDOWN, 990, 0, "top of the arena");
	xat(vm, 10, 0, 349, VMEM_TOPDOWN, 320, 0, "top of [300,330)");
	xat(vm, 10, 128, 349, VMEM_TOPDOWN, 128, 0, "128-aligned below 349");
	xat(vm, 25, 0, 399, VMEM_TOPDOWN, 305, 0, "25 below 399");
	xat(vm, 31, 0, 399, VMEM_TOPDOWN, 119, 0, "31 below 399");
	xat(vm, 10, 0, VMEM_ADDR_MAX, VMEM_TOPDOWN | M_BESTFIT, 990, 0,
	    "TOPDOWN ignores M_BESTFIT");
	xat(vm, 10, 0, VMEM_ADDR_MAX, VMEM_TOPDOWN | M_NEXTFIT, 990, 0,
	    "TOPDOWN ignores M_NEXTFIT");
	xat(vm, 10, 0, VMEM_ADDR_MAX, VMEM_TOPDOWN | M_FIRSTFIT, 990, 0,
	    "TOPDOWN ignores M_FIRSTFIT");
	/* Successive top-down allocations go downwards. */
	vmem_addr_t a[3];
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(vmem_alloc(vm, 100, M_NOWAIT | VMEM_TOPDOWN, &a[i]), 0);
		cr_assert_eq(a[i], 900 - 100 * (vmem_addr_t)i);
	}
	for (int i = 0; i < 3; i++)
		vmem_free(vm, a[i], 100);
	drop_holes(vm);
}

static void
instant_fit_sequence(int fitflag)
{
	/* Segment-only: exact vmem_alloc placement of sizes down to 5
	 * quanta, which caches of more quanta would serve from slabs. */
	vmem_t *vm = make_holes_arena(vmem_create("holes", 0, 1000, 1, 0,
	    M_WAITOK));
	vmem_addr_t a;

	xat(vm, 600, 0, VMEM_ADDR_MAX, fitflag, 400, 1, "600: the only fit");
	xat(vm, 50, 0, VMEM_ADDR_MAX, fitflag, 100, 1, "50: the only fit");
	/*
	 * Holes of 20 and 30 are left: 25 is smaller than the class above
	 * it, so only the fallback search of its own class can find 30.
	 */
	xat(vm, 25, 0, VMEM_ADDR_MAX, fitflag, 300, 1, "25: only [300,330)");
	xat(vm, 6, 0, VMEM_ADDR_MAX, fitflag, 200, 1, "6: only [200,220)");
	cr_assert_eq(vmem_alloc(vm, 21, M_NOWAIT | fitflag, &a), ENOMEM);
	cr_assert_eq(vmem_alloc(vm, 15, M_NOWAIT | fitflag, &a), ENOMEM,
	    "holes of 14 and 5 left");
	cr_assert_eq(vmem_alloc(vm, 14, M_NOWAIT | fitflag, &a), 0);
	cr_assert_eq(a, 206);
	cr_assert_eq(vmem_alloc(vm, 5, M_NOWAIT | fitflag, &a), 0);
	cr_assert_eq(a, 325);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0);
	vmem_free(vm, 206, 14);
	vmem_free(vm, 325, 5);
	vmem_xfree(vm, 400, 600);
	vmem_xfree(vm, 100, 50);
	vmem_xfree(vm, 300, 25);
	vmem_xfree(vm, 200, 6);
	drop_holes(vm);
}

Test(fit, firstfit_is_instant_fit_with_fallback)
{
	instant_fit_sequence(M_FIRSTFIT);
}

Test(fit, no_fit_flag_means_firstfit)
{
	instant_fit_sequence(0);
}

Test(fit, firstfit_finds_the_only_fitting_constrained_hole)
{
	vmem_t *vm = make_holes();
	vmem_addr_t a;

	/* Below 250, 16 bytes aligned to 16 fit only in [100,150). */
	xat(vm, 16, 16, 250, M_FIRSTFIT, 112, 0, "16@16 below 250");
	xat(vm, 16, 16, 250, 0, 112, 0, "16@16 below 250, no fit flag");
	cr_assert_eq(vmem_xalloc(vm, 48, 16, 0, 0, 0, 250, M_NOWAIT | M_FIRSTFIT,
	    &a), ENOMEM, "48@16 fits no hole below 250");
	cr_assert_eq(vmem_xalloc(vm, 20, 0, 0, 0, 0, 219, M_NOWAIT | M_FIRSTFIT,
	    &a), 0);
	cr_assert(a == 100 || a == 200, "got " KVT_X, a);
	vmem_xfree(vm, a, 20);
	drop_holes(vm);
}

Test(fit, nextfit_rotor_advances_and_wraps)
{
	/* Segment-only: the next-fit rotor of vmem_alloc'd 10-byte blocks;
	 * caches of 10 quanta and more would serve them from slabs. */
	vmem_t *vm = vmem_create("next", 0, 100, 1, 0, M_WAITOK);
	vmem_addr_t a;

	for (vmem_addr_t want = 0; want < 50; want += 10) {
		cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_NEXTFIT, &a), 0);
		cr_assert_eq(a, want);
	}
	vmem_free(vm, 10, 10);
	/* The rotor is past 50: the hole at 10 is not taken yet. */
	for (vmem_addr_t want = 50; want < 100; want += 10) {
		cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_NEXTFIT, &a), 0);
		cr_assert_eq(a, want, "got " KVT_X " want " KVT_X, a, want);
	}
	/* Wraps around to the hole. */
	cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_NEXTFIT, &a), 0);
	cr_assert_eq(a, 10, "next fit must wrap around; got " KVT_X, a);
	cr_assert_eq(vmem_alloc(vm, 1, M_NOWAIT | M_NEXTFIT, &a), ENOMEM);
	cr_assert_eq(vmem_check(vm), 0);
	for (vmem_addr_t x = 0; x < 100; x += 10)
		vmem_free(vm, x, 10);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1, "frees coalesce around the rotor");
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(fit, nextfit_continues_after_last_allocation)
{
	/* Segment-only: as nextfit_rotor_advances_and_wraps. */
	vmem_t *vm = vmem_create("next2", 0, 100, 1, 0, M_WAITOK);
	vmem_addr_t a, b, c;

	cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_NEXTFIT, &a), 0);
	cr_assert_eq(a, 0);
	cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_NEXTFIT, &b), 0);
	cr_assert_eq(b, 10);
	vmem_free(vm, a, 10);
	vmem_free(vm, b, 10);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	/* Everything is free again, but next fit continues after [10,20). */
	cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_NEXTFIT, &a), 0);
	cr_assert_eq(a, 20, "got " KVT_X, a);
	cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_NEXTFIT, &b), 0);
	cr_assert_eq(b, 30);
	/* Other strategies do not move the rotor. */
	cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_BESTFIT, &c), 0);
	cr_assert_eq(c, 0);
	vmem_free(vm, c, 10);
	cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | VMEM_TOPDOWN, &c), 0);
	cr_assert_eq(c, 90);
	vmem_free(vm, c, 10);
	cr_assert_eq(vmem_alloc(vm, 10, M_NOWAIT | M_NEXTFIT, &c), 0);
	cr_assert_eq(c, 40, "got " KVT_X, c);
	vmem_free(vm, a, 10);
	vmem_free(vm, b, 10);
	vmem_free(vm, c, 10);
	/* A request larger than what follows the rotor wraps to the start. */
	cr_assert_eq(vmem_alloc(vm, 60, M_NOWAIT | M_NEXTFIT, &a), 0);
	cr_assert_eq(a, 0, "got " KVT_X, a);
	vmem_free(vm, a, 60);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(fit, strategies_agree_when_only_one_fit)
{
	static const int fits[] = { 0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT,
	    VMEM_TOPDOWN };

	for (int f = 0; f < 5; f++) {
		vmem_t *vm = make_holes();
		vmem_addr_t a, b;

		cr_assert_eq(vmem_alloc(vm, 600, M_NOWAIT | fits[f], &a), 0);
		cr_assert_eq(a, 400, "fit 0x%x", fits[f]);
		cr_assert_eq(vmem_alloc(vm, 41, M_NOWAIT | fits[f], &b), 0);
		cr_assert(b >= 100 && b <= 109, "fit 0x%x: " KVT_X, fits[f], b);
		if (fits[f] == VMEM_TOPDOWN)
			cr_assert_eq(b, 109);
		else if (fits[f] != M_NEXTFIT)
			cr_assert_eq(b, 100);
		cr_assert_eq(vmem_alloc(vm, 41, M_NOWAIT | fits[f], &a), ENOMEM,
		    "fit 0x%x", fits[f]);
		vmem_free(vm, 400, 600);
		vmem_free(vm, b, 41);
		drop_holes(vm);
	}
}
