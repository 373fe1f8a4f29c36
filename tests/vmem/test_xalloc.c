/*
 * test_xalloc.c -- vmem_xalloc constraints (align, phase, nocross, minaddr,
 * maxaddr inclusive), every EINVAL rule, and vmem_xalloc_addr.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(xalloc, .fini = kvt_fini_no_live);

#define ANY	VMEM_ADDR_MIN, VMEM_ADDR_MAX

struct xreq {
	vmem_size_t	size, align, phase, nocross;
	vmem_addr_t	minaddr, maxaddr;
	int		flags;
	const char	*what;
};

/* vmem_xalloc that must return EINVAL and leave the arena as it was. */
static void
expect_xeinval(vmem_t *vm, const struct xreq *q)
{
	struct kvt_snap before, after;
	struct vmem_stats st0 = kvt_stats(vm), st1;
	vmem_addr_t a = 0x5a5a;

	kvt_snap_take(vm, &before);
	cr_assert_eq(vmem_xalloc(vm, q->size, q->align, q->phase, q->nocross,
	    q->minaddr, q->maxaddr, q->flags, &a), EINVAL, "%s: not EINVAL", q->what);
	kvt_snap_take(vm, &after);
	cr_assert(kvt_snap_same(&before, &after), "%s: arena changed", q->what);
	cr_assert_eq(vmem_check(vm), 0, "%s", q->what);
	st1 = kvt_stats(vm);
	cr_assert_eq(st1.alloc_einval, st0.alloc_einval + 1, "%s: alloc_einval",
	    q->what);
	cr_assert_eq(st1.allocs, st0.allocs, "%s", q->what);
	cr_assert_eq(st1.alloc_fails, st0.alloc_fails, "%s: counted as ENOMEM",
	    q->what);
	kvt_snap_free(&before);
	kvt_snap_free(&after);
}

/* vmem_xalloc that must not be EINVAL; frees what it got.  Returns the rc. */
static int
expect_valid(vmem_t *vm, const struct xreq *q, vmem_addr_t *out)
{
	vmem_addr_t a;
	int rc = vmem_xalloc(vm, q->size, q->align, q->phase, q->nocross,
	    q->minaddr, q->maxaddr, q->flags, &a);

	cr_assert(rc == 0 || rc == ENOMEM, "%s: rc %d", q->what, rc);
	if (rc == 0) {
		if (out != NULL)
			*out = a;
		vmem_xfree(vm, a, q->size);
	}
	return (rc);
}

Test(xalloc, align)
{
	vmem_t *vm = kvt_vmem_create("al", 0x1010, 0x100000 - 0x10, 16, 0, M_WAITOK);
	vmem_addr_t a;

	for (vmem_size_t al = 16; al <= 0x40000; al <<= 1) {
		static const int fits[] = { M_FIRSTFIT, M_BESTFIT, M_NEXTFIT,
		    VMEM_TOPDOWN, 0 };
		for (int f = 0; f < 5; f++) {
			cr_assert_eq(vmem_xalloc(vm, 48, al, 0, 0, ANY,
			    M_NOWAIT | fits[f], &a), 0, "align %zu", al);
			cr_assert_eq(a % al, 0, "align %zu fit 0x%x: " KVT_X, al,
			    fits[f], a);
			cr_assert(a >= 0x1010 && a + 48 <= 0x101000);
			if (fits[f] == M_BESTFIT || fits[f] == M_FIRSTFIT)
				cr_assert_eq(a, (0x1010 + al - 1) & ~(al - 1),
				    "lowest aligned address in the single segment");
			if (fits[f] == VMEM_TOPDOWN)
				cr_assert_eq(a, (0x101000 - 48) & ~(al - 1));
			vmem_xfree(vm, a, 48);
		}
	}
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(xalloc, align_below_quantum_means_quantum)
{
	vmem_t *vm = kvt_vmem_create("alq", 0x1000, 0x10000, 4096, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vmem_xalloc(vm, 4096, 8, 0, 0, ANY, M_NOWAIT, &a), 0);
	cr_assert_eq(a % 4096, 0);
	vmem_xfree(vm, a, 4096);
	cr_assert_eq(vmem_xalloc(vm, 4096, 1, 0, 0, ANY, M_NOWAIT, &a), 0);
	vmem_xfree(vm, a, 4096);
	cr_assert_eq(vmem_xalloc(vm, 100, 0, 0, 0, ANY, M_NOWAIT, &a), 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 4096);
	vmem_xfree(vm, a, 100);
	cr_assert_eq(kvt_stats(vm).alloc_einval, 0);
	vmem_destroy(vm);
}

Test(xalloc, phase)
{
	vmem_t *vm = kvt_vmem_create("ph", 0x10000, 0x100000, 16, 0, M_WAITOK);
	vmem_addr_t a;

	for (vmem_size_t ph = 0; ph < 4096; ph += 16 * 7) {
		cr_assert_eq(vmem_xalloc(vm, 64, 4096, ph, 0, ANY,
		    M_NOWAIT | M_BESTFIT, &a), 0);
		cr_assert_eq(a % 4096, ph, "phase %zu: " KVT_X, ph, a);
		cr_assert_eq(a, 0x10000 + ph);
		vmem_xfree(vm, a, 64);
		cr_assert_eq(vmem_xalloc(vm, 64, 4096, ph, 0, ANY,
		    M_NOWAIT | VMEM_TOPDOWN, &a), 0);
		cr_assert_eq(a % 4096, ph);
		cr_assert_eq(a, 0x10000 + 0x100000 - 4096 + ph);
		vmem_xfree(vm, a, 64);
	}
	vmem_destroy(vm);
}

Test(xalloc, nocross)
{
	vmem_t *vm = kvt_vmem_create("nc", 0x1200, 0x10000, 16, 0, M_WAITOK);
	vmem_addr_t a;

	/* [0x1200, 0x1500) would cross 0x1400: the lowest fit is 0x1400. */
	cr_assert_eq(vmem_xalloc(vm, 0x300, 0, 0, 0x400, ANY,
	    M_NOWAIT | M_BESTFIT, &a), 0);
	cr_assert_eq(a, 0x1400, "got " KVT_X, a);
	vmem_xfree(vm, a, 0x300);
	/* nocross == size: exactly one nocross block. */
	cr_assert_eq(vmem_xalloc(vm, 0x400, 0, 0, 0x400, ANY,
	    M_NOWAIT | M_FIRSTFIT, &a), 0);
	cr_assert_eq(a % 0x400, 0);
	vmem_xfree(vm, a, 0x400);
	/* Top-down: the highest that does not cross. */
	cr_assert_eq(vmem_xalloc(vm, 0x300, 0, 0, 0x400, ANY,
	    M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	/* [0x10f00, 0x11200) would cross 0x11000. */
	cr_assert_eq(a, 0x10d00, "got " KVT_X, a);
	vmem_xfree(vm, a, 0x300);
	cr_assert_eq(vmem_xalloc(vm, 0x300, 0, 0, 0x400, 0, 0x10eff,
	    M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	cr_assert_eq(a, 0x10c00, "got " KVT_X, a);
	vmem_xfree(vm, a, 0x300);
	/* Many at once: none crosses. */
	vmem_addr_t many[64];
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(vmem_xalloc(vm, 0x130, 0, 0, 0x200, ANY, M_NOWAIT,
		    &many[i]), 0, "i %d", i);
		cr_assert_eq(many[i] / 0x200, (many[i] + 0x12f) / 0x200,
		    KVT_X " crosses", many[i]);
	}
	for (int i = 0; i < 64; i++)
		vmem_xfree(vm, many[i], 0x130);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(xalloc, phase_with_nocross)
{
	vmem_t *vm = kvt_vmem_create("pn", 0, 0x10000, 16, 0, M_WAITOK);
	vmem_addr_t a;

	/* phase 16 + size 48 == nocross 64: fits exactly at 16 mod 64. */
	cr_assert_eq(vmem_xalloc(vm, 48, 64, 16, 64, ANY, M_NOWAIT | M_BESTFIT,
	    &a), 0);
	cr_assert_eq(a, 16);
	vmem_xfree(vm, a, 48);
	/* align above nocross: the phase fixes the offset in each block. */
	cr_assert_eq(vmem_xalloc(vm, 32, 256, 32 + 64, 64, ANY,
	    M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	cr_assert_eq(a, 0x10000 - 256 + 96, "got " KVT_X, a);
	vmem_xfree(vm, a, 32);
	vmem_destroy(vm);
}

Test(xalloc, minaddr)
{
	vmem_t *vm = kvt_vmem_create("min", 0x1000, 0x10000, 16, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vmem_xalloc(vm, 32, 0, 0, 0, 0x5000, VMEM_ADDR_MAX,
	    M_NOWAIT | M_BESTFIT, &a), 0);
	cr_assert_eq(a, 0x5000);
	vmem_xfree(vm, a, 32);
	/* minaddr not aligned: rounded up to the alignment. */
	cr_assert_eq(vmem_xalloc(vm, 32, 256, 0, 0, 0x5001, VMEM_ADDR_MAX,
	    M_NOWAIT | M_FIRSTFIT, &a), 0);
	cr_assert_eq(a, 0x5100);
	vmem_xfree(vm, a, 32);
	/* minaddr above the arena: nothing. */
	cr_assert_eq(vmem_xalloc(vm, 32, 0, 0, 0, 0x20000, VMEM_ADDR_MAX,
	    M_NOWAIT, &a), ENOMEM);
	/* minaddr exactly where only the last quantum remains. */
	cr_assert_eq(vmem_xalloc(vm, 16, 0, 0, 0, 0x10ff0, VMEM_ADDR_MAX,
	    M_NOWAIT, &a), 0);
	cr_assert_eq(a, 0x10ff0);
	vmem_xfree(vm, a, 16);
	cr_assert_eq(vmem_xalloc(vm, 32, 0, 0, 0, 0x10ff0, VMEM_ADDR_MAX,
	    M_NOWAIT, &a), ENOMEM);
	vmem_destroy(vm);
}

Test(xalloc, maxaddr_is_inclusive)
{
	vmem_t *vm = kvt_vmem_create("max", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_addr_t a;
	static const int fits[] = { 0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT,
	    VMEM_TOPDOWN };

	for (int f = 0; f < 5; f++) {
		/* The last byte may be maxaddr itself. */
		cr_assert_eq(vmem_xalloc(vm, 16, 0, 0, 0, 0, 0x100f,
		    M_NOWAIT | fits[f], &a), 0, "fit 0x%x", fits[f]);
		cr_assert_eq(a, 0x1000);
		vmem_xfree(vm, a, 16);
		/* One byte less and nothing fits. */
		cr_assert_eq(vmem_xalloc(vm, 16, 0, 0, 0, 0, 0x100e,
		    M_NOWAIT | fits[f], &a), ENOMEM, "fit 0x%x", fits[f]);
	}
	cr_assert_eq(vmem_xalloc(vm, 16, 0, 0, 0, 0, 0x101f,
	    M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	cr_assert_eq(a, 0x1010, "top-down ends exactly at maxaddr");
	vmem_xfree(vm, a, 16);
	/* maxaddr at the arena's last byte. */
	cr_assert_eq(vmem_xalloc(vm, 0x1000, 0, 0, 0, 0x1000, 0x1fff,
	    M_NOWAIT, &a), 0);
	cr_assert_eq(a, 0x1000);
	vmem_xfree(vm, a, 0x1000);
	/* Exactly one quantum-sized window. */
	cr_assert_eq(vmem_xalloc(vm, 16, 0, 0, 0, 0x1800, 0x180f,
	    M_NOWAIT | M_BESTFIT, &a), 0);
	cr_assert_eq(a, 0x1800);
	vmem_xfree(vm, a, 16);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(xalloc, range_and_align_combined)
{
	vmem_t *vm = kvt_vmem_create("comb", 0, 0x100000, 4096, 0, M_WAITOK);
	vmem_addr_t a, b;

	/* Only [0x40000, 0x4ffff] allowed, 64 KiB-aligned, 8 KiB: 0x40000. */
	cr_assert_eq(vmem_xalloc(vm, 8192, 0x10000, 0, 0, 0x40000, 0x4ffff,
	    M_NOWAIT, &a), 0);
	cr_assert_eq(a, 0x40000);
	/* The same again: the only aligned spot is busy; phase 8 KiB fits. */
	cr_assert_eq(vmem_xalloc(vm, 8192, 0x10000, 0, 0, 0x40000, 0x4ffff,
	    M_NOWAIT, &b), ENOMEM);
	cr_assert_eq(vmem_xalloc(vm, 8192, 0x10000, 8192, 0, 0x40000, 0x4ffff,
	    M_NOWAIT, &b), 0);
	cr_assert_eq(b, 0x42000);
	vmem_xfree(vm, a, 8192);
	vmem_xfree(vm, b, 8192);
	vmem_destroy(vm);
}

Test(xalloc, einval_cases_leave_arena_unchanged)
{
	vmem_t *vm = kvt_vmem_create("einval", 0x1000, 0x10000, 16, 0, M_WAITOK);
	vmem_addr_t a1, a2;
	const struct xreq bad[] = {
		{ 0, 0, 0, 0, ANY, M_NOWAIT, "size 0" },
		{ SIZE_MAX, 0, 0, 0, ANY, M_NOWAIT, "size overflows on rounding" },
		{ SIZE_MAX - 14, 0, 0, 0, ANY, M_NOWAIT, "SIZE_MAX-14 overflows" },
		{ 16, 3, 0, 0, ANY, M_NOWAIT, "align 3" },
		{ 16, 24, 0, 0, ANY, M_NOWAIT, "align 24" },
		{ 16, 4096 + 16, 0, 0, ANY, M_NOWAIT, "align 4112" },
		{ 16, SIZE_MAX, 0, 0, ANY, M_NOWAIT, "align SIZE_MAX" },
		{ 16, 64, 64, 0, ANY, M_NOWAIT, "phase == align" },
		{ 16, 64, 128, 0, ANY, M_NOWAIT, "phase > align" },
		{ 16, 0, 16, 0, ANY, M_NOWAIT, "phase 16 with align 0 (= quantum)" },
		{ 16, 8, 16, 0, ANY, M_NOWAIT, "phase 16 with align 8 (< quantum)" },
		{ 16, 64, 8, 0, ANY, M_NOWAIT, "phase not a multiple of quantum" },
		{ 16, 64, 1, 0, ANY, M_NOWAIT, "phase 1" },
		{ 16, 0, 0, 48, ANY, M_NOWAIT, "nocross 48 not a power of two" },
		{ 32, 0, 0, 16, ANY, M_NOWAIT, "nocross below size" },
		{ 17, 0, 0, 16, ANY, M_NOWAIT, "nocross below rounded size" },
		{ 48, 64, 32, 64, ANY, M_NOWAIT, "phase+size > nocross" },
		{ 48, 256, 64 + 32, 64, ANY, M_NOWAIT,
		    "phase & (nocross-1) + size > nocross" },
		{ 16, 0, 0, 0, 0x2000, 0x1fff, M_NOWAIT, "minaddr > maxaddr" },
		{ 16, 0, 0, 0, 0x1000, 0x100e, M_NOWAIT, "size > max-min+1" },
		{ 0x2000, 0, 0, 0, 0x1000, 0x1ffe, M_NOWAIT, "size > range" },
		{ 16, 0, 0, 0, ANY, M_NOWAIT | M_WAITOK, "NOWAIT|WAITOK" },
		{ 16, 0, 0, 0, ANY, M_NOWAIT | M_FIRSTFIT | M_BESTFIT, "two fits" },
		{ 16, 0, 0, 0, ANY, M_NOWAIT | M_BESTFIT | M_NEXTFIT, "two fits" },
		{ 16, 0, 0, 0, ANY, M_NOWAIT | M_FIRSTFIT | M_NEXTFIT, "two fits" },
		{ 16, 64, 64, 0, ANY, M_WAITOK, "phase == align, M_WAITOK" },
		{ 16, 4096, 0, 0, 0x1001, 0x1fff, M_NOWAIT,
		    "no 4096-aligned address in [min, max]: never satisfiable" },
		{ 48, 64, 32, 0, 0x1000, 0x1040, M_NOWAIT,
		    "no placement with this phase in [min, max]" },
		{ 0x300, 0, 0, 0x400, 0x1200, 0x15ff, M_NOWAIT,
		    "every placement in [min, max] crosses nocross" },
	};

	/* Make the arena non-trivial first. */
	cr_assert_eq(vmem_alloc(vm, 0x100, M_NOWAIT, &a1), 0);
	cr_assert_eq(vmem_alloc(vm, 0x200, M_NOWAIT, &a2), 0);
	vmem_free(vm, a1, 0x100);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_xeinval(vm, &bad[i]);
	vmem_free(vm, a2, 0x200);
	vmem_destroy(vm);
}

Test(xalloc, boundary_cases_are_valid)
{
	vmem_t *vm = kvt_vmem_create("valid", 0x1000, 0x10000, 16, 0, M_WAITOK);
	vmem_addr_t a;
	/* expect: 0 must succeed (at want unless want is 1), ENOMEM must fail. */
	const struct {
		struct xreq	q;
		int		expect;
		vmem_addr_t	want;
	} ok[] = {
		{ { 16, 64, 48, 0, ANY, M_NOWAIT, "phase = align - quantum" }, 0, 1 },
		{ { 64, 0, 0, 64, ANY, M_NOWAIT, "nocross == size" }, 0, 1 },
		{ { 48, 64, 16, 64, ANY, M_NOWAIT, "phase + size == nocross" }, 0, 1 },
		{ { 17, 0, 0, 32, ANY, M_NOWAIT, "size rounds to nocross" }, 0, 1 },
		{ { 16, 0, 0, 0, 0x1000, 0x100f, M_NOWAIT, "size == max-min+1" },
		    0, 0x1000 },
		{ { 16, 0, 0, 0, 0x2000, 0x200f, M_NOWAIT | M_NEXTFIT,
		    "nextfit in a tight range" }, 0, 0x2000 },
		{ { 16, 0, 0, 0, 0x3000, 0x300f, M_NOWAIT | VMEM_TOPDOWN,
		    "topdown in a tight range" }, 0, 0x3000 },
		{ { 16, 8, 0, 0, ANY, M_NOWAIT, "align below quantum" }, 0, 1 },
		{ { 16, 0, 0, 0, 0x100000, 0x200000, M_NOWAIT, "outside the arena" },
		    ENOMEM, 0 },
		{ { 16, (vmem_size_t)1 << 62, 0, 0, ANY, M_NOWAIT,
		    "align 2^62: no such address in the arena" }, ENOMEM, 0 },
		{ { 16, 0, 0, (vmem_size_t)1 << 63, ANY, M_NOWAIT, "nocross 2^63" },
		    0, 1 },
		{ { 16, 0, 0, 0, ANY, M_NOWAIT | M_ZERO | M_EXEC, "ignored flags" },
		    0, 1 },
		{ { 0x10000, 0, 0, 0, ANY, M_NOWAIT | M_BESTFIT, "whole arena" },
		    0, 0x1000 },
		{ { 0x10010, 0, 0, 0, ANY, M_NOWAIT | M_BESTFIT, "arena + 16" },
		    ENOMEM, 0 },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		a = 1;
		int rc = expect_valid(vm, &ok[i].q, &a);
		cr_assert_eq(rc, ok[i].expect, "%s: rc %d", ok[i].q.what, rc);
		if (rc == 0 && ok[i].want != 1)
			cr_assert_eq(a, ok[i].want, "%s: got " KVT_X, ok[i].q.what, a);
	}
	cr_assert_eq(kvt_stats(vm).alloc_einval, 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(xalloc, align_near_addr_max)
{
	vmem_addr_t base = VMEM_ADDR_MAX - 0xfffff;	/* last 1 MiB */
	vmem_t *vm = kvt_vmem_create("top", base, 0x100000, 4096, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vmem_xalloc(vm, 4096, 0x80000, 0, 0, ANY,
	    M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	cr_assert_eq(a, VMEM_ADDR_MAX - 0x7ffff);
	vmem_xfree(vm, a, 4096);
	cr_assert_eq(vmem_xalloc(vm, 4096, 0x80000, 0x7f000, 0, ANY,
	    M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	cr_assert_eq(a, VMEM_ADDR_MAX - 0xfff, "the very last page");
	vmem_xfree(vm, a, 4096);
	cr_assert_eq(vmem_xalloc(vm, 0x100000, 0, 0, 0x100000, ANY, M_NOWAIT,
	    &a), 0);
	cr_assert_eq(a, base);
	vmem_xfree(vm, a, 0x100000);
	cr_assert_eq(vmem_xalloc(vm, 4096, 0, 0, 0, VMEM_ADDR_MAX - 0xfff,
	    VMEM_ADDR_MAX, M_NOWAIT | M_BESTFIT, &a), 0);
	cr_assert_eq(a, VMEM_ADDR_MAX - 0xfff);
	vmem_xfree(vm, a, 4096);
	/* Alignment larger than anything in the span: no fit, not EINVAL. */
	cr_assert_eq(vmem_xalloc(vm, 4096, (vmem_size_t)1 << 40, 0, 0, ANY,
	    M_NOWAIT, &a), ENOMEM);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(xalloc, nextfit_with_constraints)
{
	vmem_t *vm = kvt_vmem_create("nfc", 0x1000, 0x10000, 16, 0, M_WAITOK);
	vmem_addr_t a[32];

	for (int i = 0; i < 32; i++) {
		cr_assert_eq(vmem_xalloc(vm, 48, 256, 32, 128, 0x4000, 0xbfff,
		    M_NOWAIT | M_NEXTFIT, &a[i]), 0, "i %d", i);
		cr_assert_eq(a[i] % 256, 32);
		cr_assert(a[i] >= 0x4000 && a[i] + 47 <= 0xbfff);
		cr_assert_eq(a[i] / 128, (a[i] + 47) / 128);
		for (int j = 0; j < i; j++)
			cr_assert_neq(a[i], a[j]);
	}
	for (int i = 0; i < 32; i++)
		vmem_xfree(vm, a[i], 48);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

/* ---- vmem_xalloc_addr ----------------------------------------------------- */

Test(xalloc, addr_exact)
{
	vmem_t *vm = kvt_vmem_create("xa", 0x1000, 0x1000, 16, 0, M_WAITOK);
	struct kvt_seg seg[8];

	cr_assert_eq(vmem_xalloc_addr(vm, 0x1400, 0x100, M_NOWAIT), 0);
	cr_assert_eq(kvt_collect(vm, VMEM_FREE | VMEM_ALLOC, seg, 8), 3);
	cr_assert(seg[0].type == VMEM_FREE && seg[0].addr == 0x1000 &&
	    seg[0].size == 0x400);
	cr_assert(seg[1].type == VMEM_ALLOC && seg[1].addr == 0x1400 &&
	    seg[1].size == 0x100);
	cr_assert(seg[2].type == VMEM_FREE && seg[2].addr == 0x1500 &&
	    seg[2].size == 0xb00);
	cr_assert_eq(vmem_check(vm), 0);
	/* Busy, overlapping or partly outside: ENOMEM. */
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1400, 0x10, M_NOWAIT), ENOMEM);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x13f0, 0x20, M_NOWAIT), ENOMEM);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x14f0, 0x20, M_NOWAIT), ENOMEM);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1ff0, 0x20, M_NOWAIT), ENOMEM);
	cr_assert_eq(vmem_xalloc_addr(vm, 0xff0, 0x20, M_NOWAIT), ENOMEM);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x8000, 0x20, M_NOWAIT), ENOMEM);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1400, 0x10, M_WAITOK), ENOMEM,
	    "a busy range never sleeps");
	/* Whole free neighbours exactly. */
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1000, 0x400, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1500, 0xb00, M_NOWAIT), 0);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0);
	vmem_xfree(vm, 0x1400, 0x100);
	vmem_xfree(vm, 0x1000, 0x400);
	vmem_xfree(vm, 0x1500, 0xb00);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(xalloc, addr_rounding)
{
	vmem_t *vm = kvt_vmem_create("xr", 0x1000, 0x1000, 16, 0, M_WAITOK);

	cr_assert_eq(vmem_xalloc_addr(vm, 0x1800, 1, M_NOWAIT), 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 16);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1810, 17, M_NOWAIT), 0);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 48);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1830, 16, M_NOWAIT), 0);
	vmem_xfree(vm, 0x1800, 16);
	vmem_xfree(vm, 0x1810, 32);
	vmem_xfree(vm, 0x1830, 1);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	vmem_destroy(vm);
}

Test(xalloc, addr_einval)
{
	vmem_t *vm = kvt_vmem_create("xe", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_t *top = kvt_vmem_create("xt", VMEM_ADDR_MAX - 0xff, 0x100, 16, 0,
	    M_WAITOK);
	struct kvt_snap before, after;
	static const struct {
		vmem_addr_t	addr;
		vmem_size_t	size;
		const char	*what;
	} bad[] = {
		{ 0x1000, 0, "size 0" },
		{ 0x1008, 16, "unaligned address" },
		{ 0x1001, 15, "unaligned address 1" },
		{ VMEM_ADDR_MAX - 15, 32, "wraps past VMEM_ADDR_MAX" },
		{ VMEM_ADDR_MAX - 15, SIZE_MAX, "wraps (huge)" },
		{ 0x1000, SIZE_MAX, "size wraps" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vmem_t *v = bad[i].addr > 0x10000 ? top : vm;
		kvt_snap_take(v, &before);
		cr_assert_eq(vmem_xalloc_addr(v, bad[i].addr, bad[i].size, M_NOWAIT),
		    EINVAL, "%s", bad[i].what);
		kvt_snap_take(v, &after);
		cr_assert(kvt_snap_same(&before, &after), "%s", bad[i].what);
		cr_assert_eq(vmem_check(v), 0);
		kvt_snap_free(&before);
		kvt_snap_free(&after);
	}
	/* Ending exactly at VMEM_ADDR_MAX is fine. */
	cr_assert_eq(vmem_xalloc_addr(top, VMEM_ADDR_MAX - 15, 16, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(top, VMEM_ADDR_MAX - 0xff, 0xf0, M_NOWAIT), 0);
	cr_assert_eq(vmem_size(top, VMEM_FREE), 0);
	vmem_xfree(top, VMEM_ADDR_MAX - 15, 16);
	vmem_xfree(top, VMEM_ADDR_MAX - 0xff, 0xf0);
	cr_assert_eq(kvt_count(top, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(top), 0);
	vmem_destroy(vm);
	vmem_destroy(top);
}

Test(xalloc, addr_does_not_cross_span_boundary)
{
	vmem_t *vm = kvt_vmem_create("xs", 0x1000, 0x1000, 16, 0, M_WAITOK);

	cr_assert_eq(vmem_add(vm, 0x2000, 0x1000, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1ff0, 0x20, M_NOWAIT), ENOMEM,
	    "a range across two added spans is not one free segment");
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1ff0, 0x10, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x2000, 0x10, M_NOWAIT), 0);
	vmem_xfree(vm, 0x1ff0, 0x10);
	vmem_xfree(vm, 0x2000, 0x10);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 2);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}
