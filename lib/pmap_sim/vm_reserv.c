/*
 * vm_reserv.c -- superpage reservations.
 *
 * When an object that allows reservations gets its first page in a
 * 512-page aligned range of indices [first, first + 512) (a "chunk"), and
 * the object has no other page in that chunk, a whole free 2 MiB-aligned
 * physical block (buddy order 9) is taken and reserved for the chunk:
 * index first + i will live at block + i.  Pages are then populated one by
 * one as the object asks for them.  The unused pages of a reservation
 * still count as free memory of the domain (reserv_free) but are on no
 * free list.
 *
 * A reservation with 0 < popcnt < 512 sits on its domain's partially
 * populated queue, most recently changed at the tail.  When the buddy lists
 * run dry, the head of the queue (the least recently changed) is broken:
 * its unused pages go back to the buddy lists and its populated pages
 * become ordinary pages.  When the last populated page is freed the whole
 * block returns to the buddy lists.  A fully populated reservation is what
 * lets the pmap promote the 512 mappings of its pages to one 2 MiB mapping.
 *
 * The object finds its reservation through its chunk map (see vm_page.c);
 * entries are validated against rv->object and rv->pindex under the domain
 * lock, so breaking a reservation never needs the object's lock.
 *
 * Every function here needs the lock of the reservation's domain.
 */
#include "kvmem_config.h"

#include <string.h>

#include "pmap_sim_impl.h"

static inline uint32_t
rv_index(const struct pmap_sim *sim, const struct vm_reserv *rv)
{
	return (uint32_t)(rv - sim->resv);
}

static void
partq_remove(struct pmap_sim *sim, struct psim_domain *d, struct vm_reserv *rv)
{
	if (!rv->inpartpopq)
		return;
	if (rv->q_prev != PSIM_NONE)
		sim->resv[rv->q_prev].q_next = rv->q_next;
	else
		d->partq_head = rv->q_next;
	if (rv->q_next != PSIM_NONE)
		sim->resv[rv->q_next].q_prev = rv->q_prev;
	else
		d->partq_tail = rv->q_prev;
	rv->inpartpopq = 0;
	d->partq_len--;
}

static void
partq_append(struct pmap_sim *sim, struct psim_domain *d, struct vm_reserv *rv)
{
	uint32_t i = rv_index(sim, rv);

	rv->q_next = PSIM_NONE;
	rv->q_prev = d->partq_tail;
	if (d->partq_tail != PSIM_NONE)
		sim->resv[d->partq_tail].q_next = i;
	else
		d->partq_head = i;
	d->partq_tail = i;
	rv->inpartpopq = 1;
	d->partq_len++;
}

/*
 * Reserve a free 2 MiB block of d for object indices [first, first + 512).
 * Needs: first 512-aligned.  Returns NULL if d has no free order-9 block.
 */
struct vm_reserv *
psim_rv_create(struct pmap_sim *sim, struct psim_domain *d, struct vm_object *obj,
    vm_pindex_t first)
{
	uint64_t pfn = psim_phys_alloc(sim, d, PSIM_RV_ORDER);
	struct vm_reserv *rv;

	if (pfn == PSIM_NONE64)
		return NULL;
	rv = psim_rv_of_pfn(sim, pfn);
	KVMEM_ASSERT(rv->object == NULL && rv->popcnt == 0);
	memset(rv->popmap, 0, sizeof(rv->popmap));
	rv->object = obj;
	rv->pindex = first;
	rv->popcnt = 0;
	rv->inpartpopq = 0;
	rv->domain = (uint8_t)d->id;
	d->reserv_free += PSIM_RV_NPAGES;
	d->reserv_active++;
	return rv;
}

/* Mark slot index used; returns its pfn.  The slot must be unused. */
uint64_t
psim_rv_populate(struct pmap_sim *sim, struct psim_domain *d, struct vm_reserv *rv,
    unsigned index)
{
	KVMEM_ASSERT(index < PSIM_RV_NPAGES);
	KVMEM_ASSERT(!(rv->popmap[index / 64] & ((uint64_t)1 << (index % 64))));
	rv->popmap[index / 64] |= (uint64_t)1 << (index % 64);
	rv->popcnt++;
	d->reserv_free--;
	partq_remove(sim, d, rv);
	if (rv->popcnt < PSIM_RV_NPAGES)
		partq_append(sim, d, rv);
	else
		d->reserv_fullpop++;
	return psim_rv_pfn(sim, rv) + index;
}

/* Mark slot index unused; the last one returns the block to the buddy lists. */
void
psim_rv_depopulate(struct pmap_sim *sim, struct psim_domain *d, struct vm_reserv *rv,
    unsigned index)
{
	KVMEM_ASSERT(rv->popmap[index / 64] & ((uint64_t)1 << (index % 64)));
	if (rv->popcnt == PSIM_RV_NPAGES)
		d->reserv_fullpop--;
	rv->popmap[index / 64] &= ~((uint64_t)1 << (index % 64));
	rv->popcnt--;
	d->reserv_free++;
	partq_remove(sim, d, rv);
	if (rv->popcnt > 0) {
		partq_append(sim, d, rv);
		return;
	}
	rv->object = NULL;
	rv->pindex = 0;
	d->reserv_active--;
	d->reserv_free -= PSIM_RV_NPAGES;
	d->reserv_freed++;
	psim_phys_free(sim, d, psim_rv_pfn(sim, rv), PSIM_RV_ORDER);
}

/* Give the unused pages back to the buddy lists; the used ones become ordinary. */
void
psim_rv_break(struct pmap_sim *sim, struct psim_domain *d, struct vm_reserv *rv)
{
	uint64_t base = psim_rv_pfn(sim, rv);
	unsigned i = 0;

	partq_remove(sim, d, rv);
	if (rv->popcnt == PSIM_RV_NPAGES)
		d->reserv_fullpop--;
	d->reserv_free -= PSIM_RV_NPAGES - rv->popcnt;
	/* Detach first: the frees below must see a plain block. */
	rv->object = NULL;
	rv->pindex = 0;
	while (i < PSIM_RV_NPAGES) {
		unsigned j;

		if (rv->popmap[i / 64] & ((uint64_t)1 << (i % 64))) {
			i++;
			continue;
		}
		for (j = i; j < PSIM_RV_NPAGES && !(rv->popmap[j / 64] & ((uint64_t)1 << (j % 64)));
		    j++)
			;
		psim_phys_free_range(sim, d, base + i, j - i);
		i = j;
	}
	memset(rv->popmap, 0, sizeof(rv->popmap));
	rv->popcnt = 0;
	d->reserv_active--;
	d->reserv_broken++;
}

/* Break the least recently changed partial reservation of d; false if none. */
bool
psim_rv_reclaim_inactive(struct pmap_sim *sim, struct psim_domain *d)
{
	if (d->partq_head == PSIM_NONE)
		return false;
	psim_rv_break(sim, d, &sim->resv[d->partq_head]);
	d->reserv_reclaimed++;
	return true;
}

/* Break the least recently changed partial reservation overlapping [low, high). */
bool
psim_rv_reclaim_contig(struct pmap_sim *sim, struct psim_domain *d, vm_paddr_t low,
    vm_paddr_t high)
{
	uint32_t i;

	for (i = d->partq_head; i != PSIM_NONE; i = sim->resv[i].q_next) {
		struct vm_reserv *rv = &sim->resv[i];
		vm_paddr_t pa = psim_rv_pfn(sim, rv) << PMAP_SIM_PAGE_SHIFT;

		if (pa + PMAP_SIM_SUPERPAGE_SIZE <= low || pa >= high)
			continue;
		psim_rv_break(sim, d, rv);
		d->reserv_reclaimed++;
		return true;
	}
	return false;
}

bool
psim_rv_page_populated(const struct pmap_sim *sim, uint64_t pfn)
{
	const struct vm_reserv *rv = psim_rv_of_pfn(sim, pfn);
	unsigned i = (unsigned)(pfn & (PSIM_RV_NPAGES - 1));

	return rv->object != NULL && (rv->popmap[i / 64] & ((uint64_t)1 << (i % 64)));
}

bool
psim_rv_fullpop(const struct pmap_sim *sim, uint64_t pfn)
{
	const struct vm_reserv *rv = psim_rv_of_pfn(sim, pfn);

	return rv->object != NULL && rv->popcnt == PSIM_RV_NPAGES;
}
