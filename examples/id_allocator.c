/*
 * id_allocator.c -- integer IDs from a vmem arena with quantum 1.
 *
 * An arena need not manage memory: here it hands out the IDs 1..1000
 * (think process IDs or inode numbers).  Shows next fit, which keeps
 * moving forward so a freed ID is not handed out again at once; best fit
 * for runs of consecutive IDs; an aligned run; claiming one exact ID; and
 * exhaustion.  Checks every result and exits 1 on a mismatch.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <kvmem/vmem.h>

#define FIRST_ID	1
#define NIDS		1000

static int failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "id_allocator: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond);				\
		failures++;						\
	}								\
} while (0)

/* Allocate one ID with the given flags; 0 when none is left. */
static vmem_addr_t
id_alloc(vmem_t *ids, int flags)
{
	vmem_addr_t id;

	if (vmem_alloc(ids, 1, flags | M_NOWAIT, &id) != 0)
		return (0);
	return (id);
}

int
main(void)
{
	vmem_t *ids;
	vmem_addr_t id[6], run, aligned, got;
	int n;

	ids = vmem_create("ids", FIRST_ID, NIDS, 1, 0, M_WAITOK);
	if (ids == NULL) {
		perror("vmem_create");
		return (1);
	}

	/* Next fit: 1, 2, 3, 4, 5; after freeing 2 and 3 the rotor goes on to 6. */
	for (n = 0; n < 5; n++)
		id[n] = id_alloc(ids, M_NEXTFIT);
	printf("next fit handed out %lu %lu %lu %lu %lu\n",
	    (unsigned long)id[0], (unsigned long)id[1], (unsigned long)id[2],
	    (unsigned long)id[3], (unsigned long)id[4]);
	for (n = 0; n < 5; n++)
		CHECK(id[n] == (vmem_addr_t)(FIRST_ID + n));
	vmem_free(ids, id[1], 1);
	vmem_free(ids, id[2], 1);
	id[5] = id_alloc(ids, M_NEXTFIT);
	printf("freed 2 and 3; next fit then gave %lu\n", (unsigned long)id[5]);
	CHECK(id[5] == 6);

	/* Best fit takes the tightest hole: the 2-ID hole {2, 3} for a run of 2. */
	CHECK(vmem_alloc(ids, 2, M_BESTFIT | M_NOWAIT, &run) == 0);
	printf("best fit placed a run of 2 IDs at %lu\n", (unsigned long)run);
	CHECK(run == 2);

	/* A run of 8 IDs starting at a multiple of 8. */
	CHECK(vmem_xalloc(ids, 8, 8, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX,
	    M_BESTFIT | M_NOWAIT, &aligned) == 0);
	printf("8 IDs aligned to 8: %lu..%lu\n", (unsigned long)aligned,
	    (unsigned long)aligned + 7);
	CHECK(aligned == 8);	/* the lowest multiple of 8 that is free */

	/* Claim ID 500 exactly, then see that it cannot be claimed twice. */
	CHECK(vmem_xalloc_addr(ids, 500, 1, M_NOWAIT) == 0);
	CHECK(vmem_xalloc_addr(ids, 500, 1, M_NOWAIT) == ENOMEM);
	printf("claimed ID 500; a second claim fails with ENOMEM\n");

	/* Use up the rest: exactly NIDS IDs exist. */
	size_t inuse = vmem_size(ids, VMEM_ALLOC);
	size_t more = 0;
	while ((got = id_alloc(ids, M_FIRSTFIT)) != 0) {
		CHECK(got >= FIRST_ID && got < FIRST_ID + NIDS);
		more++;
	}
	printf("%zu IDs were in use; %zu more until ENOMEM\n", inuse, more);
	CHECK(inuse + more == NIDS);
	CHECK(vmem_size(ids, VMEM_FREE) == 0);
	CHECK(vmem_alloc(ids, 1, M_NOWAIT, &got) == ENOMEM);
	CHECK(vmem_check(ids) == 0);

	/* Give every ID back, each with the call that pairs with its allocation. */
	struct vmem_stats st = { .version = VMEM_STATS_VERSION };
	CHECK(vmem_get_stats(ids, &st) == 0);
	printf("allocations %llu, ENOMEM %llu, busy segments %llu\n",
	    (unsigned long long)st.allocs, (unsigned long long)st.alloc_fails,
	    (unsigned long long)st.busy_segs);
	for (vmem_addr_t a = FIRST_ID; a < FIRST_ID + NIDS; a++) {
		if (a == run || a == run + 1 || a == 500 ||
		    (a >= aligned && a < aligned + 8))
			continue;
		vmem_free(ids, a, 1);
	}
	vmem_free(ids, run, 2);
	vmem_xfree(ids, 500, 1);
	vmem_xfree(ids, aligned, 8);
	CHECK(vmem_size(ids, VMEM_ALLOC) == 0);
	CHECK(vmem_size(ids, VMEM_MAXFREE) == NIDS);
	CHECK(vmem_check(ids) == 0);
	vmem_destroy(ids);

	printf("%s\n", failures ? "FAIL" : "ok");
	return (failures ? 1 : 0);
}
