/*
 * vmem-demo -- a short, self-checking run of one vmem arena.
 *
 * usage: vmem-demo [ops [seed]]
 *
 * Creates a 1 GiB arena with a 4 KiB quantum and drives it with a mix of
 * allocations and frees: sizes skewed toward small (1 to 64 pages), four
 * placement strategies (instant fit, best fit, next fit, top-down) and,
 * for a quarter of the requests, vmem_xalloc() constraints (alignment,
 * phase, a 2 MiB no-crossing boundary, an address window).  Every result
 * is checked against its constraints and the arena with vmem_check().
 * Prints what happened, the arena's stats as JSON and the head of its
 * dump.  Exits 1 if any check failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmem/vmem.h>

#define PAGE		((vmem_size_t)4096)
#define ARENA_BASE	((vmem_addr_t)0x40000000)
#define ARENA_SIZE	((vmem_size_t)1 << 30)
#define MAX_LIVE	4096
#define DUMP_LINES	12

struct live {
	vmem_addr_t	addr;
	vmem_size_t	size;
	int		constrained;	/* from vmem_xalloc: free with vmem_xfree */
};

static const struct strategy {
	const char	*name;
	int		flags;
} strategies[] = {
	{ "instant fit", M_FIRSTFIT },
	{ "best fit", M_BESTFIT },
	{ "next fit", M_NEXTFIT },
	{ "top-down", VMEM_TOPDOWN },
};
#define NSTRATEGIES	(sizeof(strategies) / sizeof(strategies[0]))

static uint64_t rng_state;

/* xorshift64*: a small deterministic generator, so runs can be repeated. */
static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (rng_state * UINT64_C(2685821657736338717));
}

/* A size of 1..64 pages, each power-of-two band equally likely. */
static vmem_size_t
random_size(void)
{
	unsigned band = (unsigned)(rng() % 7);
	vmem_size_t lo = (vmem_size_t)1 << band;

	return ((lo + rng() % lo) * PAGE - (rng() % 2 ? 0 : PAGE / 2));
}

/* Free one allocation with the call that pairs with how it was made. */
static void
release(vmem_t *vm, const struct live *l)
{
	if (l->constrained)
		vmem_xfree(vm, l->addr, l->size);
	else
		vmem_free(vm, l->addr, l->size);
}

static int dump_lines;

/* A vmem_printf_fn that echoes only the first DUMP_LINES lines. */
static int
dump_head(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (const char *p = buf; *p != '\0'; p++) {
		if (dump_lines < DUMP_LINES)
			putchar(*p);
		if (*p == '\n')
			dump_lines++;
	}
	return (n);
}

int
main(int argc, char **argv)
{
	static struct live live[MAX_LIVE];
	unsigned long ops = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;
	unsigned long nalloc[NSTRATEGIES] = { 0 }, nfail[NSTRATEGIES] = { 0 };
	unsigned long nattempts = 0, nconstrained = 0, nfree = 0, errors = 0;
	vmem_size_t peak = 0;
	size_t nlive = 0;
	vmem_t *vm;

	rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 42;
	if (rng_state == 0)
		rng_state = 1;

	vm = vmem_create("demo", ARENA_BASE, ARENA_SIZE, PAGE, 0, M_WAITOK);
	if (vm == NULL) {
		perror("vmem_create");
		return (1);
	}

	for (unsigned long i = 0; i < ops; i++) {
		int do_alloc = nlive == 0 || (nlive < MAX_LIVE && rng() % 100 < 55);

		if (!do_alloc) {
			size_t k = (size_t)(rng() % nlive);

			release(vm, &live[k]);
			live[k] = live[--nlive];
			nfree++;
			continue;
		}

		size_t s = (size_t)(nattempts++ % NSTRATEGIES);
		int flags = strategies[s].flags | M_NOWAIT;
		vmem_size_t size = random_size();
		vmem_size_t align = 0, phase = 0, nocross = 0;
		vmem_addr_t minaddr = VMEM_ADDR_MIN, maxaddr = VMEM_ADDR_MAX;
		vmem_addr_t addr;
		int error;

		if (rng() % 4 == 0) {
			/* A device-style request: aligned, phased, windowed. */
			nconstrained++;
			align = PAGE << (rng() % 5);
			phase = align > PAGE && rng() % 2 ? PAGE : 0;
			if (size <= 64 * PAGE)
				nocross = (vmem_size_t)2 << 20;
			minaddr = ARENA_BASE + ARENA_SIZE / 4;
			maxaddr = ARENA_BASE + ARENA_SIZE - 1;
			error = vmem_xalloc(vm, size, align, phase, nocross,
			    minaddr, maxaddr, flags, &addr);
		} else {
			error = vmem_alloc(vm, size, flags, &addr);
		}
		if (error == ENOMEM) {
			nfail[s]++;
			continue;
		}
		if (error != 0) {
			fprintf(stderr, "op %lu: unexpected error %d\n", i, error);
			errors++;
			continue;
		}

		vmem_size_t rsize = vmem_roundup_size(vm, size);
		vmem_size_t a = align ? align : PAGE;
		if (addr % a != phase || addr < minaddr || addr + rsize - 1 > maxaddr ||
		    (nocross && addr / nocross != (addr + rsize - 1) / nocross)) {
			fprintf(stderr, "op %lu: 0x%" PRIxPTR " size %zu breaks its "
			    "constraints\n", i, addr, size);
			errors++;
		}
		live[nlive].addr = addr;
		live[nlive].size = size;
		live[nlive].constrained = align != 0;
		nlive++;
		nalloc[s]++;
		if (vmem_size(vm, VMEM_ALLOC) > peak)
			peak = vmem_size(vm, VMEM_ALLOC);
		if (i % 10000 == 0 && vmem_check(vm) != 0)
			errors++;
	}

	printf("vmem-demo: %lu operations on a %zu MiB arena, quantum %zu\n",
	    ops, ARENA_SIZE >> 20, PAGE);
	for (size_t s = 0; s < NSTRATEGIES; s++)
		printf("  %-12s %8lu allocations, %6lu ENOMEM\n",
		    strategies[s].name, nalloc[s], nfail[s]);
	printf("  constrained  %8lu requests (align/phase/nocross/window)\n",
	    nconstrained);
	printf("  frees        %8lu\n", nfree);
	printf("  live now     %8zu allocations, %zu KiB in use (peak %zu KiB)\n",
	    nlive, vmem_size(vm, VMEM_ALLOC) >> 10, peak >> 10);
	printf("  free         %zu KiB, largest free segment %zu KiB\n",
	    vmem_size(vm, VMEM_FREE) >> 10, vmem_size(vm, VMEM_MAXFREE) >> 10);

	int len = vmem_stats_json(vm, NULL, 0);
	char *json = len > 0 ? malloc((size_t)len + 1) : NULL;
	if (json == NULL || vmem_stats_json(vm, json, (size_t)len + 1) != len) {
		fprintf(stderr, "vmem_stats_json failed\n");
		errors++;
	} else {
		printf("\nstats: %s\n", json);
	}
	free(json);

	printf("\ndump (first %d lines):\n", DUMP_LINES);
	vmem_dump(vm, dump_head);
	printf("... %d lines in all\n", dump_lines);

	if (vmem_check(vm) != 0)
		errors++;
	while (nlive > 0) {
		nlive--;
		release(vm, &live[nlive]);
	}
	if (vmem_size(vm, VMEM_ALLOC) != 0 || vmem_check(vm) != 0) {
		fprintf(stderr, "arena not empty after freeing everything\n");
		errors++;
	}
	vmem_destroy(vm);

	printf("\n%s: %lu error(s)\n", errors ? "FAIL" : "ok", errors);
	return (errors ? 1 : 0);
}
