/*
 * device_space.c -- carving a device address window with constraints.
 *
 * A PCI-style 1 GiB MMIO window just below 4 GiB is handed out to device
 * registers (BARs, naturally aligned to their size), a descriptor ring
 * that must not cross a 64 KiB boundary and must sit in the low 512 MiB of
 * the window, a doorbell page at a fixed offset (phase) within 64 KiB,
 * and a firmware area placed top-down.  Invalid requests are refused with
 * EINVAL.  Every placement is checked; exits 1 on a mismatch.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include <kvmem/vmem.h>

#define KiB		((vmem_size_t)1 << 10)
#define MiB		((vmem_size_t)1 << 20)
#define WINDOW_BASE	((vmem_addr_t)0xC0000000u)
#define WINDOW_SIZE	((vmem_size_t)1 << 30)
#define WINDOW_LAST	(WINDOW_BASE + WINDOW_SIZE - 1)	/* 0xFFFFFFFF */
#define PAGE		((vmem_size_t)4096)

static int failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "device_space: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond);				\
		failures++;						\
	}								\
} while (0)

struct region {
	const char	*what;
	vmem_size_t	size, align, phase, nocross;
	vmem_addr_t	minaddr, maxaddr;
	int		flags;
	vmem_addr_t	addr;		/* out */
};

/* Prints each segment of the window; arg counts the lines. */
static int
print_segment(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	(*(int *)arg)++;
	printf("  [0x%09" PRIxPTR ", 0x%09" PRIxPTR ")  %8zu KiB  %s\n",
	    addr, addr + size, size / KiB, type == VMEM_ALLOC ? "busy" : "free");
	return (0);
}

int
main(void)
{
	struct region r[] = {
		{ "gpu BAR0", 256 * MiB, 256 * MiB, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_BESTFIT, 0 },
		{ "nic BAR0", 16 * MiB, 16 * MiB, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_BESTFIT, 0 },
		{ "nvme BAR0", 1 * MiB, 1 * MiB, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_BESTFIT, 0 },
		{ "uart BAR", 4 * KiB, 4 * KiB, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_BESTFIT, 0 },
		{ "desc ring", 24 * KiB, PAGE, 0, 64 * KiB,
		    WINDOW_BASE, WINDOW_BASE + 512 * MiB - 1, M_FIRSTFIT, 0 },
		{ "doorbell", PAGE, 64 * KiB, 4 * KiB, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX, M_FIRSTFIT, 0 },
		{ "firmware", 2 * MiB, 2 * MiB, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX, VMEM_TOPDOWN, 0 },
	};
	const size_t nr = sizeof(r) / sizeof(r[0]);
	vmem_addr_t addr;
	vmem_t *vm;
	int lines = 0;

	vm = vmem_create("mmio", WINDOW_BASE, WINDOW_SIZE, PAGE, 0, M_WAITOK);
	if (vm == NULL) {
		perror("vmem_create");
		return (1);
	}

	printf("%-10s %-12s %10s  constraints\n", "region", "address", "size");
	for (size_t i = 0; i < nr; i++) {
		struct region *p = &r[i];
		int error = vmem_xalloc(vm, p->size, p->align, p->phase, p->nocross,
		    p->minaddr, p->maxaddr, p->flags | M_NOWAIT, &p->addr);

		CHECK(error == 0);
		if (error != 0)
			continue;
		printf("%-10s 0x%09" PRIxPTR " %7zu KiB  align %zu KiB", p->what,
		    p->addr, p->size / KiB, p->align / KiB);
		if (p->phase)
			printf(", phase %zu KiB", p->phase / KiB);
		if (p->nocross)
			printf(", within one %zu KiB block", p->nocross / KiB);
		if (p->maxaddr != VMEM_ADDR_MAX)
			printf(", below 0x%" PRIxPTR, p->maxaddr + 1);
		printf("%s\n", p->flags & VMEM_TOPDOWN ? ", top-down" : "");

		vmem_addr_t last = p->addr + p->size - 1;
		CHECK(p->addr >= WINDOW_BASE && last <= WINDOW_LAST);
		CHECK(p->addr % p->align == p->phase);
		CHECK(p->addr >= p->minaddr && last <= p->maxaddr);
		CHECK(p->nocross == 0 || p->addr / p->nocross == last / p->nocross);
	}
	/* Top-down takes the highest fit: the last 2 MiB of the window. */
	CHECK(r[nr - 1].addr == WINDOW_LAST + 1 - 2 * MiB);
	/* The BARs, biggest first, pack from the bottom of the window. */
	CHECK(r[0].addr == WINDOW_BASE);

	/* Requests that no placement could ever satisfy are refused. */
	CHECK(vmem_xalloc(vm, 128 * KiB, 0, 0, 64 * KiB, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT, &addr) == EINVAL);	/* larger than nocross */
	CHECK(vmem_xalloc(vm, PAGE, 3 * PAGE, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT, &addr) == EINVAL);	/* align not 2^n */
	CHECK(vmem_xalloc(vm, PAGE, 0, 0, 0, WINDOW_LAST, WINDOW_BASE,
	    M_NOWAIT, &addr) == EINVAL);			/* min > max */
	/* ... and one that is valid but does not fit now fails with ENOMEM. */
	CHECK(vmem_xalloc(vm, 512 * MiB, 512 * MiB, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, M_NOWAIT, &addr) == ENOMEM);
	printf("invalid requests: EINVAL; a 512 MiB aligned BAR: ENOMEM\n");

	printf("window map:\n");
	CHECK(vmem_walk(vm, VMEM_ALLOC | VMEM_FREE, print_segment, &lines) == 0);
	CHECK(lines >= (int)nr);
	CHECK(vmem_check(vm) == 0);

	for (size_t i = 0; i < nr; i++)
		if (r[i].addr != 0)
			vmem_xfree(vm, r[i].addr, r[i].size);
	CHECK(vmem_size(vm, VMEM_ALLOC) == 0);
	CHECK(vmem_size(vm, VMEM_MAXFREE) == WINDOW_SIZE);
	vmem_destroy(vm);

	printf("%s\n", failures ? "FAIL" : "ok");
	return (failures ? 1 : 0);
}
