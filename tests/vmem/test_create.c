/*
 * test_create.c -- vmem_create / vmem_init / vmem_destroy and their
 * argument checks; quantum rounding; names.
 */
#include <errno.h>
#include <stdalign.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(create, .fini = kvt_fini_no_live);

Test(create, basic)
{
	vmem_t *vm = kvt_vmem_create("basic", 0x1000, 0x10000, 16, 0, M_WAITOK);

	cr_assert_not_null(vm);
	cr_assert_eq(vmem__live_arenas(), 1);
	cr_assert_str_eq(vmem_name(vm), "basic");
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0x10000);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0x10000);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0x10000);
	cr_assert(vmem_contains(vm, 0x1000));
	cr_assert(vmem_contains(vm, 0x10fff));
	cr_assert(!vmem_contains(vm, 0xfff));
	cr_assert(!vmem_contains(vm, 0x11000));
	cr_assert_eq(kvt_count(vm, VMEM_SPAN), 1);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(kvt_count(vm, VMEM_ALLOC), 0);
	cr_assert_eq(vmem_check(vm), 0);

	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.quantum, 16);
	cr_assert_eq(st.spans, 1);
	cr_assert_eq(st.bytes_total, 0x10000);
	cr_assert_str_eq(st.name, "basic");
	vmem_destroy(vm);
	cr_assert_eq(vmem__live_arenas(), 0);
}

Test(create, empty_arena)
{
	vmem_t *vm = kvt_vmem_create("empty", 0, 0, 8, 0, M_WAITOK);
	vmem_addr_t a = 1;

	cr_assert_not_null(vm, "size 0 is an empty arena, not an error");
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0);
	cr_assert_eq(kvt_count(vm, VMEM_SPAN | VMEM_FREE | VMEM_ALLOC), 0);
	cr_assert(!vmem_contains(vm, 0));
	cr_assert_eq(vmem_alloc(vm, 8, M_NOWAIT, &a), ENOMEM);
	cr_assert_eq(vmem_check(vm), 0);
	/* Room for a slab of cached sizes, too. */
	cr_assert_eq(vmem_add(vm, 0x1000, 0x1000, M_NOWAIT), 0);
	cr_assert_eq(vmem_alloc(vm, 8, M_NOWAIT, &a), 0);
	if (kvt_cached(vm, 8))
		cr_assert(a >= 0x1000 && a + 8 <= 0x2000, "got " KVT_X, a);
	else
		cr_assert_eq(a, 0x1000);
	vmem_free(vm, a, 8);
	vmem_qcache_drain(vm);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(create, names)
{
	char longname[3 * VMEM_NAME_MAX];
	vmem_t *vm;

	vm = kvt_vmem_create(NULL, 0, 16, 1, 0, M_WAITOK);
	cr_assert_not_null(vm);
	cr_assert_str_eq(vmem_name(vm), "(anon)");
	vmem_destroy(vm);

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	longname[0] = 'L';
	vm = kvt_vmem_create(longname, 0, 16, 1, 0, M_WAITOK);
	cr_assert_not_null(vm);
	cr_assert_eq(strlen(vmem_name(vm)), VMEM_NAME_MAX - 1,
	    "long names are truncated to VMEM_NAME_MAX-1 characters");
	cr_assert_eq(strncmp(vmem_name(vm), longname, VMEM_NAME_MAX - 1), 0);
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_str_eq(st.name, vmem_name(vm));
	vmem_destroy(vm);

	vm = kvt_vmem_create("", 0, 16, 1, 0, M_WAITOK);
	cr_assert_not_null(vm);
	cr_assert_str_eq(vmem_name(vm), "");
	vmem_destroy(vm);
}

Test(create, bad_quantum)
{
	static const vmem_size_t bad[] = { 0, 3, 6, 12, 24, 4095, 4097, 0x30000,
	    (vmem_size_t)1 << 63 | 1, SIZE_MAX };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		vmem_t *vm = kvt_vmem_create("q", 0, 0, bad[i], 0, M_WAITOK);
		cr_assert_null(vm, "quantum %zu accepted", bad[i]);
		cr_assert_eq(errno, EINVAL, "quantum %zu: errno %d", bad[i], errno);
	}
	cr_assert_eq(vmem__live_arenas(), 0);
}

Test(create, good_quanta)
{
	for (unsigned sh = 0; sh < 24; sh++) {
		vmem_size_t q = (vmem_size_t)1 << sh;
		vmem_t *vm = kvt_vmem_create("q", q * 4, q * 64, q, 0, M_WAITOK);
		cr_assert_not_null(vm, "quantum %zu refused (errno %d)", q, errno);
		cr_assert_eq(vmem_size(vm, VMEM_FREE), q * 64);
		cr_assert_eq(vmem_check(vm), 0);
		vmem_destroy(vm);
	}
}

Test(create, unaligned_base_or_size)
{
	static const struct {
		vmem_addr_t	base;
		vmem_size_t	size;
		vmem_size_t	q;
	} bad[] = {
		{ 0x1001, 0x1000, 16 }, { 0x1000, 0x1001, 16 },
		{ 0x1008, 0x1000, 16 }, { 0x1000, 0x1008, 16 },
		{ 0x800, 0x1000, 4096 }, { 0x1000, 0x800, 4096 },
		{ 0x1000, 0x1004, 8 }, { 4, 8, 8 }, { 0, 1, 2 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		vmem_t *vm = kvt_vmem_create("u", bad[i].base, bad[i].size, bad[i].q,
		    0, M_WAITOK);
		cr_assert_null(vm, "base " KVT_X " size %zu quantum %zu accepted",
		    bad[i].base, bad[i].size, bad[i].q);
		cr_assert_eq(errno, EINVAL);

		vmem_t st;
		errno = 0;
		cr_assert_null(kvt_vmem_init(&st, "u", bad[i].base, bad[i].size,
		    bad[i].q, 0, M_WAITOK));
		cr_assert_eq(errno, EINVAL);
	}
	cr_assert_eq(vmem__live_arenas(), 0);
}

Test(create, wrapping_span)
{
	/* The last quantum-aligned 8 KiB that would run past 2^64. */
	errno = 0;
	vmem_t *vm = kvt_vmem_create("wrap", VMEM_ADDR_MAX - 0xfff, 0x2000, 4096, 0,
	    M_WAITOK);
	cr_assert_null(vm, "a span wrapping past VMEM_ADDR_MAX was accepted");
	cr_assert_eq(errno, EINVAL);
}

Test(create, span_ending_at_addr_max)
{
	vmem_addr_t base = VMEM_ADDR_MAX - 0xfffff;	/* last 1 MiB */
	vmem_addr_t a;
	vmem_t *vm = kvt_vmem_create("top", base, 0x100000, 4096, 0, M_WAITOK);

	cr_assert_not_null(vm);
	cr_assert(vmem_contains(vm, VMEM_ADDR_MAX));
	cr_assert(vmem_contains(vm, base));
	cr_assert(!vmem_contains(vm, base - 1));
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0x100000);
	cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT | VMEM_TOPDOWN, &a), 0);
	if (kvt_cached(vm, 4096))	/* from a slab: no top-down placement */
		cr_assert(a >= base && a <= VMEM_ADDR_MAX - 0xfff, "got " KVT_X, a);
	else
		cr_assert_eq(a, VMEM_ADDR_MAX - 0xfff);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_free(vm, a, 4096);
	/* With caches, the whole span is free only after the drain that
	 * precedes failure. */
	cr_assert_eq(vmem_alloc(vm, 0x100000, M_NOWAIT, &a), 0);
	cr_assert_eq(a, base);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0);
	vmem_free(vm, a, 0x100000);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(create, base_zero)
{
	vmem_addr_t a[256];
	int n = 0, found = 0;
	vmem_t *vm = kvt_vmem_create("zero", 0, 0x1000, 16, 0, M_WAITOK);

	cr_assert_not_null(vm);
	cr_assert(vmem_contains(vm, 0));
	/* Best fit takes 0 at once; a cache hands out the objects of the
	 * slab at 0 in its own order. */
	while (!found && n < 256) {
		cr_assert_eq(vmem_alloc(vm, 16, M_NOWAIT | M_BESTFIT, &a[n]), 0,
		    "alloc %d", n);
		found = a[n++] == 0;
	}
	cr_assert(found, "address 0 is an ordinary address of the span");
	if (!kvt_cached(vm, 16))
		cr_assert_eq(n, 1, "best fit takes the lowest address");
	while (n > 0) {
		n--;
		vmem_free(vm, a[n], 16);
	}
	vmem_qcache_drain(vm);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), 1);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

static vmem_t static_arena;

Test(create, init_static_storage)
{
	vmem_addr_t a, b;

	cr_assert_geq(sizeof(vmem_t), VMEM_STORAGE_SIZE);
	cr_assert_geq(alignof(vmem_t), alignof(void *));
	for (int round = 0; round < 2; round++) {
		/* 1 MiB, so that slabs of cached sizes fit beside the rest. */
		vmem_t *vm = kvt_vmem_init(&static_arena, "static", 0x100000,
		    0x100000, 4096, 0, M_WAITOK);
		cr_assert_eq(vm, &static_arena, "round %d", round);
		cr_assert_eq(vmem__live_arenas(), 1);
		cr_assert_str_eq(vmem_name(vm), "static");
		cr_assert_eq(vmem_alloc(vm, 4096, M_NOWAIT, &a), 0);
		cr_assert_eq(vmem_xalloc(vm, 8192, 8192, 0, 0, VMEM_ADDR_MIN,
		    VMEM_ADDR_MAX, M_NOWAIT, &b), 0);
		cr_assert_eq(b % 8192, 0);
		cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 3 * 4096);
		cr_assert_eq(vmem_check(vm), 0);
		vmem_free(vm, a, 4096);
		vmem_xfree(vm, b, 8192);
		vmem_destroy(vm);
		cr_assert_eq(vmem__live_arenas(), 0);
	}
}

Test(create, init_on_stack_many_tags)
{
	/* Enough segments that the arena must get tags beyond any boot reserve. */
	vmem_t st;
	vmem_t *vm = kvt_vmem_init(&st, "stack", 0, 1 << 16, 1, 0, M_WAITOK);
	vmem_addr_t a;

	cr_assert_eq(vm, &st);
	for (int i = 0; i < 5000; i++) {
		cr_assert_eq(vmem_xalloc_addr(vm, (vmem_addr_t)i * 4, 1, M_NOWAIT), 0);
	}
	cr_assert_eq(kvt_count(vm, VMEM_ALLOC), 5000);
	cr_assert_eq(vmem_check(vm), 0);
	for (int i = 0; i < 5000; i++)
		vmem_xfree(vm, (vmem_addr_t)i * 4, 1);
	cr_assert_eq(vmem_alloc(vm, 1 << 16, M_NOWAIT, &a), 0);
	vmem_free(vm, a, 1 << 16);
	vmem_destroy(vm);
}

Test(create, quantum_rounding)
{
	static const vmem_size_t quanta[] = { 1, 8, 4096 };

	for (size_t i = 0; i < 3; i++) {
		vmem_size_t q = quanta[i];
		vmem_t *vm = kvt_vmem_create("round", 0, q * 1024, q, 0, M_WAITOK);
		vmem_addr_t a, b;

		cr_assert_not_null(vm);
		cr_assert_eq(vmem_roundup_size(vm, 1), q, "q %zu", q);
		cr_assert_eq(vmem_roundup_size(vm, q), q, "q %zu", q);
		cr_assert_eq(vmem_roundup_size(vm, q + 1), q == 1 ? 2 : 2 * q,
		    "q %zu", q);
		cr_assert_eq(vmem_roundup_size(vm, 5 * q - (q > 1)), 5 * q, "q %zu", q);

		cr_assert_eq(vmem_alloc(vm, 1, M_NOWAIT, &a), 0);
		cr_assert_eq(a % q, 0);
		cr_assert_eq(vmem_size(vm, VMEM_ALLOC), q, "q %zu", q);
		cr_assert_eq(vmem_alloc(vm, q + 1, M_NOWAIT, &b), 0);
		cr_assert_eq(b % q, 0);
		cr_assert_eq(vmem_size(vm, VMEM_ALLOC), q + vmem_roundup_size(vm, q + 1));
		/* Free with any size that rounds to the same. */
		vmem_free(vm, a, q);
		vmem_free(vm, b, vmem_roundup_size(vm, q + 1));
		cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
		cr_assert_eq(vmem_check(vm), 0);
		struct vmem_stats st = kvt_stats(vm);
		cr_assert_eq(st.misuses, 0);
		cr_assert_eq(st.quantum, q);
		vmem_destroy(vm);
	}
}

Test(create, qcache)
{
	vmem_t *vm = kvt_vmem_create("qc", 0x100000, 0x100000, 16, 16 * 8, M_WAITOK);
	vmem_addr_t a[256];

	cr_assert_not_null(vm);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 256; i++) {
			vmem_size_t sz = 16 * (vmem_size_t)(1 + i % 8);
			cr_assert_eq(vmem_alloc(vm, sz, M_NOWAIT, &a[i]), 0);
			cr_assert_eq(a[i] % 16, 0);
			cr_assert(a[i] >= 0x100000 && a[i] + sz <= 0x200000);
			for (int j = 0; j < i; j++) {
				vmem_size_t sj = 16 * (vmem_size_t)(1 + j % 8);
				cr_assert(a[i] + sz <= a[j] || a[j] + sj <= a[i],
				    "quantum-cached blocks overlap");
			}
		}
		cr_assert_eq(vmem_check(vm), 0);
		for (int i = 0; i < 256; i++)
			vmem_free(vm, a[i], 16 * (vmem_size_t)(1 + i % 8));
	}
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(create, many_arenas)
{
	vmem_t *vm[8];

	for (int i = 0; i < 8; i++) {
		vm[i] = kvt_vmem_create("many", 0, 4096, 1, 0, M_WAITOK);
		cr_assert_not_null(vm[i]);
		cr_assert_eq(vmem__live_arenas(), i + 1);
	}
	for (int i = 0; i < 8; i++)
		vmem_destroy(vm[7 - i]);
	cr_assert_eq(vmem__live_arenas(), 0);
}
