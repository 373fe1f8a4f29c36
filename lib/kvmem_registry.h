/*
 * kvmem_registry.h -- a process-wide list of live objects of one kind
 * (simulated machines, kmem instances) for the *_foreach() observers.
 *
 * An object is linked once it is fully built and unlinked before its
 * teardown starts, so a walker only ever sees whole objects.  The walk
 * holds the list's lock: its callback must not link or unlink, and an
 * unlink elsewhere waits for the walk to end.
 */
#ifndef KVMEM_REGISTRY_H
#define KVMEM_REGISTRY_H

#include <pthread.h>
#include <stddef.h>

struct kvmem_registry {
	pthread_mutex_t	lock;
	void		**items;	/* creation order */
	size_t		len, cap;
};

#define KVMEM_REGISTRY_INIT	{ PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 }

/* Append item; 0 or ENOMEM (nothing changed). */
int kvmem__registry_link(struct kvmem_registry *r, void *item);
/* Remove item if present; the list's memory goes when it empties. */
void kvmem__registry_unlink(struct kvmem_registry *r, void *item);
/*
 * Call visit(item, ctx) for every item in creation order, stopping at
 * and returning the first nonzero result; 0 if all were visited.
 */
int kvmem__registry_walk(struct kvmem_registry *r,
    int (*visit)(void *item, void *ctx), void *ctx);

#endif /* KVMEM_REGISTRY_H */
