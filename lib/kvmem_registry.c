/*
 * kvmem_registry.c -- the list of live objects behind pmap_sim_foreach()
 * and kmem_foreach() (see kvmem_registry.h).
 */
#include "kvmem_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvmem_registry.h"

int
kvmem__registry_link(struct kvmem_registry *r, void *item)
{
	int error = 0;

	pthread_mutex_lock(&r->lock);
	if (r->len == r->cap) {
		size_t cap = r->cap != 0 ? 2 * r->cap : 8;
		void **n = realloc(r->items, cap * sizeof(*n));

		if (n == NULL)
			error = ENOMEM;
		else {
			r->items = n;
			r->cap = cap;
		}
	}
	if (error == 0)
		r->items[r->len++] = item;
	pthread_mutex_unlock(&r->lock);
	return error;
}

void
kvmem__registry_unlink(struct kvmem_registry *r, void *item)
{
	size_t i;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->len && r->items[i] != item; i++)
		;
	if (i < r->len) {
		memmove(&r->items[i], &r->items[i + 1],
		    (r->len - i - 1) * sizeof(*r->items));
		r->len--;
	}
	if (r->len == 0) {
		free(r->items);
		r->items = NULL;
		r->cap = 0;
	}
	pthread_mutex_unlock(&r->lock);
}

int
kvmem__registry_walk(struct kvmem_registry *r,
    int (*visit)(void *item, void *ctx), void *ctx)
{
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->len && rc == 0; i++)
		rc = visit(r->items[i], ctx);
	pthread_mutex_unlock(&r->lock);
	return rc;
}
