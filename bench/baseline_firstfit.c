/*
 * baseline_firstfit.c -- the textbook allocator: one free list sorted by
 * address, first fit, split from the front, coalesce on free.  Both alloc
 * and free are linear in the number of free blocks, which is the point.
 */
#include <errno.h>
#include <stdlib.h>

#include "baseline.h"

struct kb_ff_node {
	uintptr_t		addr;
	size_t			size;
	struct kb_ff_node	*next;
};

#define FF_CHUNK_NODES	4096

struct kb_ff_chunk {
	struct kb_ff_chunk	*next;
	struct kb_ff_node	node[FF_CHUNK_NODES];
};

/* A node from the spare stack, growing it by one chunk if empty; NULL if OOM. */
static struct kb_ff_node *
ff_node_get(struct kb_ffl *a)
{
	struct kb_ff_node *n = a->spare;

	if (n == NULL) {
		struct kb_ff_chunk *c = malloc(sizeof(*c));

		if (c == NULL)
			return NULL;
		c->next = a->chunks;
		a->chunks = c;
		for (size_t i = 0; i < FF_CHUNK_NODES; i++) {
			c->node[i].next = a->spare;
			a->spare = &c->node[i];
		}
		n = a->spare;
	}
	a->spare = n->next;
	return n;
}

static void
ff_node_put(struct kb_ffl *a, struct kb_ff_node *n)
{
	n->next = a->spare;
	a->spare = n;
}

int
kb_ffl_init(struct kb_ffl *a, uintptr_t base, size_t size, uintptr_t quantum)
{
	struct kb_ff_node *n;

	a->head = a->spare = NULL;
	a->chunks = NULL;
	a->quantum = quantum;
	a->nfree = 0;
	if (size == 0)
		return 0;
	if ((n = ff_node_get(a)) == NULL)
		return ENOMEM;
	n->addr = base;
	n->size = size;
	n->next = NULL;
	a->head = n;
	a->nfree = 1;
	return 0;
}

void
kb_ffl_fini(struct kb_ffl *a)
{
	while (a->chunks != NULL) {
		struct kb_ff_chunk *c = a->chunks;

		a->chunks = c->next;
		free(c);
	}
	a->head = a->spare = NULL;
	a->nfree = 0;
}

int
kb_ffl_alloc(struct kb_ffl *a, size_t size, uintptr_t *addrp)
{
	struct kb_ff_node **pp, *n;

	size = (size + a->quantum - 1) & ~(a->quantum - 1);
	for (pp = &a->head; (n = *pp) != NULL; pp = &n->next) {
		if (n->size < size)
			continue;
		*addrp = n->addr;
		if (n->size == size) {
			*pp = n->next;
			ff_node_put(a, n);
			a->nfree--;
		} else {
			n->addr += size;
			n->size -= size;
		}
		return 0;
	}
	return ENOMEM;
}

void
kb_ffl_free(struct kb_ffl *a, uintptr_t addr, size_t size)
{
	struct kb_ff_node *prev = NULL, *next, *n;

	size = (size + a->quantum - 1) & ~(a->quantum - 1);
	for (next = a->head; next != NULL && next->addr < addr; next = next->next)
		prev = next;
	if (prev != NULL && prev->addr + prev->size == addr) {
		prev->size += size;
		if (next != NULL && addr + size == next->addr) {
			prev->size += next->size;
			prev->next = next->next;
			ff_node_put(a, next);
			a->nfree--;
		}
		return;
	}
	if (next != NULL && addr + size == next->addr) {
		next->addr = addr;
		next->size += size;
		return;
	}
	if ((n = ff_node_get(a)) == NULL)
		abort();	/* a benchmark cannot go on without it */
	n->addr = addr;
	n->size = size;
	n->next = next;
	if (prev != NULL)
		prev->next = n;
	else
		a->head = n;
	a->nfree++;
}
