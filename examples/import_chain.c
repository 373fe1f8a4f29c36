/*
 * import_chain.c -- arenas stacked through import and release.
 *
 * A parent arena ("kva") owns an address range; child arenas start empty
 * and import what they need from it:
 *   1. vmem_set_source(): the child passes every constraint of a request
 *      (alignment, address window) through to the parent and gives spans
 *      back as soon as they are entirely free;
 *   2. vmem_set_import(): the FreeBSD callback pair, written by hand;
 *   3. an import with no release function: imported neighbours merge, so
 *      an allocation may span two imports.
 * Every step is checked; exits 1 on a mismatch.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <kvmem/vmem.h>

#define KiB		((vmem_size_t)1 << 10)
#define MiB		((vmem_size_t)1 << 20)
#define PAGE		((vmem_size_t)4096)
#define KVA_BASE	((vmem_addr_t)0x10000000)
#define KVA_SIZE	(256 * MiB)

static int failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "import_chain: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond);				\
		failures++;						\
	}								\
} while (0)

static struct vmem_stats
stats(vmem_t *vm)
{
	struct vmem_stats st = { .version = VMEM_STATS_VERSION };

	CHECK(vmem_get_stats(vm, &st) == 0);
	return (st);
}

/* 1. A child that takes its spans from the parent with vmem_set_source(). */
static void
with_source(vmem_t *kva)
{
	vmem_t *child = vmem_create("kmem", 0, 0, PAGE, 0, M_WAITOK);
	vmem_addr_t small, aligned, high;
	const vmem_addr_t window = KVA_BASE + 128 * MiB;

	CHECK(child != NULL);
	if (child == NULL)
		return;
	vmem_set_source(child, kva, 64 * KiB);

	CHECK(vmem_alloc(child, 16 * KiB, M_NOWAIT, &small) == 0);
	CHECK(vmem_size(kva, VMEM_ALLOC) == 64 * KiB);	/* one import quantum */
	CHECK(vmem_xalloc(child, 8 * KiB, MiB, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT, &aligned) == 0);
	CHECK(aligned % MiB == 0);
	CHECK(vmem_xalloc(child, 32 * KiB, 0, 0, 0, window, VMEM_ADDR_MAX,
	    M_NOWAIT, &high) == 0);
	CHECK(high >= window);

	struct vmem_stats st = stats(child);
	printf("vmem_set_source: 3 allocations in 'kmem' -> %llu imports, "
	    "%zu KiB taken from 'kva'\n", (unsigned long long)st.imports,
	    vmem_size(kva, VMEM_ALLOC) / KiB);
	printf("  16 KiB at 0x%" PRIxPTR ", 8 KiB aligned to 1 MiB at 0x%"
	    PRIxPTR ", 32 KiB above 0x%" PRIxPTR " at 0x%" PRIxPTR "\n",
	    small, aligned, window, high);
	CHECK(st.imports == 3);
	CHECK(vmem_contains(child, aligned) && vmem_contains(kva, aligned));

	vmem_free(child, small, 16 * KiB);
	vmem_xfree(child, aligned, 8 * KiB);
	vmem_xfree(child, high, 32 * KiB);
	st = stats(child);
	printf("  all freed: %llu releases, 'kva' has %zu bytes in use\n",
	    (unsigned long long)st.releases, vmem_size(kva, VMEM_ALLOC));
	CHECK(st.releases == st.imports);
	CHECK(vmem_size(kva, VMEM_ALLOC) == 0);
	CHECK(vmem_size(child, VMEM_ALLOC | VMEM_FREE) == 0);
	CHECK(vmem_check(child) == 0);
	vmem_destroy(child);
}

/* 2. The FreeBSD callbacks, written out: take spans from a parent arena. */
static int nimport, nrelease;

static int
kva_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	nimport++;
	return (vmem_alloc(arg, size, flags, addrp));
}

static void
kva_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	nrelease++;
	vmem_free(arg, addr, size);
}

static void
with_callbacks(vmem_t *kva)
{
	vmem_t *child = vmem_create("pages", 0, 0, PAGE, 0, M_WAITOK);
	vmem_addr_t page[20];

	CHECK(child != NULL);
	if (child == NULL)
		return;
	vmem_set_import(child, kva_import, kva_release, kva, 64 * KiB);
	for (int i = 0; i < 20; i++)
		CHECK(vmem_alloc(child, PAGE, M_FIRSTFIT | M_NOWAIT, &page[i]) == 0);
	printf("vmem_set_import: 20 pages -> %d imports of 64 KiB\n", nimport);
	CHECK(nimport == 2);	/* 16 pages per import */
	for (int i = 0; i < 20; i++)
		vmem_free(child, page[i], PAGE);
	printf("  all freed -> %d releases\n", nrelease);
	CHECK(nrelease == 2);
	CHECK(vmem_size(kva, VMEM_ALLOC) == 0);
	vmem_destroy(child);
}

/* 3. Imports with no release function, from a bump allocator. */
static vmem_addr_t bump_next = KVA_BASE;
static int nbump;

static int
bump_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	(void)arg;
	(void)flags;
	if (size > KVA_BASE + KVA_SIZE - bump_next)
		return (ENOMEM);
	*addrp = bump_next;
	bump_next += size;
	nbump++;
	return (0);
}

static void
without_release(void)
{
	vmem_t *child = vmem_create("bump", 0, 0, PAGE, 0, M_WAITOK);
	vmem_addr_t a, b, big;

	CHECK(child != NULL);
	if (child == NULL)
		return;
	vmem_set_import(child, bump_import, NULL, NULL, 64 * KiB);
	CHECK(vmem_alloc(child, 64 * KiB, M_NOWAIT, &a) == 0);
	CHECK(vmem_alloc(child, 64 * KiB, M_NOWAIT, &b) == 0);
	CHECK(nbump == 2);
	vmem_free(child, a, 64 * KiB);
	vmem_free(child, b, 64 * KiB);
	/* The two imports merged: 128 KiB fit without a third import. */
	CHECK(vmem_alloc(child, 128 * KiB, M_BESTFIT | M_NOWAIT, &big) == 0);
	printf("no release function: two 64 KiB imports merged; a 128 KiB "
	    "allocation at 0x%" PRIxPTR " spans both (%d imports)\n", big, nbump);
	CHECK(nbump == 2);
	CHECK(big == KVA_BASE);
	vmem_free(child, big, 128 * KiB);
	CHECK(vmem_check(child) == 0);
	vmem_destroy(child);
}

int
main(void)
{
	vmem_t *kva = vmem_create("kva", KVA_BASE, KVA_SIZE, PAGE, 0, M_WAITOK);

	if (kva == NULL) {
		perror("vmem_create");
		return (1);
	}
	with_source(kva);
	with_callbacks(kva);
	CHECK(vmem_check(kva) == 0);
	CHECK(vmem_size(kva, VMEM_ALLOC) == 0);
	vmem_destroy(kva);
	without_release();

	printf("%s\n", failures ? "FAIL" : "ok");
	return (failures ? 1 : 0);
}
