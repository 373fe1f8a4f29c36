/*
 * psim_map.c -- a small open-addressing hash map from uint64 keys to uint64
 * values (linear probing, deletion by backward shift, so no tombstones).
 * Used for object pages, object chunks and the pmap's saved page-table
 * pages.  Key PSIM_NONE64 is reserved.  The caller provides the locking.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmap_sim_impl.h"

static inline size_t
slot_of(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

void
psim_map_init(struct psim_map *mp)
{
	memset(mp, 0, sizeof(*mp));
}

void
psim_map_fini(struct psim_map *mp)
{
	free(mp->keys);
	free(mp->vals);
	memset(mp, 0, sizeof(*mp));
}

uint64_t *
psim_map_find(const struct psim_map *mp, uint64_t key)
{
	size_t i;

	if (mp->cap == 0)
		return NULL;
	for (i = slot_of(key, mp->cap);; i = (i + 1) & (mp->cap - 1)) {
		if (mp->keys[i] == key)
			return &mp->vals[i];
		if (mp->keys[i] == PSIM_NONE64)
			return NULL;
	}
}

/* Rebuild with capacity cap (a power of two above n); 0 or ENOMEM. */
static int
rehash(struct psim_map *mp, size_t cap)
{
	uint64_t *keys = malloc(cap * sizeof(uint64_t));
	uint64_t *vals = malloc(cap * sizeof(uint64_t));
	size_t i, j;

	if (keys == NULL || vals == NULL) {
		free(keys);
		free(vals);
		return ENOMEM;
	}
	memset(keys, 0xff, cap * sizeof(uint64_t));
	for (i = 0; i < mp->cap; i++) {
		if (mp->keys[i] == PSIM_NONE64)
			continue;
		for (j = slot_of(mp->keys[i], cap); keys[j] != PSIM_NONE64; j = (j + 1) & (cap - 1))
			;
		keys[j] = mp->keys[i];
		vals[j] = mp->vals[i];
	}
	free(mp->keys);
	free(mp->vals);
	mp->keys = keys;
	mp->vals = vals;
	mp->cap = cap;
	return 0;
}

int
psim_map_reserve(struct psim_map *mp, size_t extra)
{
	size_t cap = mp->cap == 0 ? 16 : mp->cap;

	while ((mp->n + extra) * 10 > cap * 7)
		cap *= 2;
	return cap == mp->cap ? 0 : rehash(mp, cap);
}

int
psim_map_put(struct psim_map *mp, uint64_t key, uint64_t val)
{
	uint64_t *vp = psim_map_find(mp, key);
	size_t i;

	if (vp != NULL) {
		*vp = val;
		return 0;
	}
	if (psim_map_reserve(mp, 1) != 0)
		return ENOMEM;
	for (i = slot_of(key, mp->cap); mp->keys[i] != PSIM_NONE64; i = (i + 1) & (mp->cap - 1))
		;
	mp->keys[i] = key;
	mp->vals[i] = val;
	mp->n++;
	return 0;
}

bool
psim_map_del(struct psim_map *mp, uint64_t key)
{
	size_t i, j, mask;

	if (mp->cap == 0)
		return false;
	mask = mp->cap - 1;
	for (i = slot_of(key, mp->cap); mp->keys[i] != key; i = (i + 1) & mask)
		if (mp->keys[i] == PSIM_NONE64)
			return false;
	/* Shift later members of the probe run back over the hole. */
	for (j = (i + 1) & mask; mp->keys[j] != PSIM_NONE64; j = (j + 1) & mask) {
		size_t home = slot_of(mp->keys[j], mp->cap);

		/* Move j to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			mp->keys[i] = mp->keys[j];
			mp->vals[i] = mp->vals[j];
			i = j;
		}
	}
	mp->keys[i] = PSIM_NONE64;
	mp->n--;
	if (mp->cap > 64 && mp->n * 8 < mp->cap)
		(void)rehash(mp, mp->cap / 2);
	return true;
}
