/*
 * baseline.h -- reference allocators written for the benchmarks: a naive
 * address-ordered first-fit free list and a two-level bitmap.  They exist so
 * that the asymptotic rows (fragmentation, dense IDs) have a known-shape
 * reference; neither is tuned.
 */
#ifndef KVMEM_BENCH_BASELINE_H
#define KVMEM_BENCH_BASELINE_H

#include <stddef.h>
#include <stdint.h>

/* ---- First fit over a sorted singly linked free list ------------------- */
struct kb_ff_node;
struct kb_ff_chunk;

struct kb_ffl {
	struct kb_ff_node	*head;		/* free blocks, ascending address */
	struct kb_ff_node	*spare;		/* unused nodes */
	struct kb_ff_chunk	*chunks;	/* node storage */
	uintptr_t		quantum;
	size_t			nfree;		/* free blocks in the list */
};

/* An arena over [base, base + size); quantum a power of two. 0 or ENOMEM. */
int  kb_ffl_init(struct kb_ffl *a, uintptr_t base, size_t size, uintptr_t quantum);
void kb_ffl_fini(struct kb_ffl *a);
/* Lowest-addressed free block that holds size: 0, or ENOMEM. */
int  kb_ffl_alloc(struct kb_ffl *a, size_t size, uintptr_t *addrp);
/* Return [addr, addr + size) (no misuse checks); coalesces neighbours. */
void kb_ffl_free(struct kb_ffl *a, uintptr_t addr, size_t size);

/* ---- Two-level bitmap of single units ---------------------------------- */
struct kb_bitmap {
	uint64_t	*words;		/* bit set: unit in use */
	uint64_t	*full;		/* bit set: that word has no clear bit */
	size_t		nwords;
	size_t		nfull;
	size_t		nbits;
};

/* nbits units, all free.  0 or ENOMEM. */
int  kb_bitmap_init(struct kb_bitmap *b, size_t nbits);
void kb_bitmap_fini(struct kb_bitmap *b);
/* The lowest free unit, now marked used; -1 when full. */
long kb_bitmap_alloc(struct kb_bitmap *b);
void kb_bitmap_free(struct kb_bitmap *b, size_t unit);

#endif /* KVMEM_BENCH_BASELINE_H */
