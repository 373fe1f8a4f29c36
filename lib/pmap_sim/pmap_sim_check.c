/*
 * pmap_sim_check.c -- walk the whole machine and verify its invariants.
 *
 * With every lock held (object list, objects, pmap, domains in order):
 *   - the kernel page tables: only upper-half PML4 entries; every table
 *     page allocated, a page-table page of the right level, reached once;
 *     every leaf maps allocated RAM; 2 MiB mappings are aligned and have a
 *     saved PT page; PT valid counts, resident/wired counts and page-table
 *     page counts are exact; per page, the number of leaf mappings found
 *     equals its map_count;
 *   - per domain: the free lists (links, orders, alignment, segment,
 *     frontier), the implicit blocks beyond each frontier, full coalescing,
 *     a classification of every initialized page as part of a free block,
 *     allocated, or an unused page of an active reservation; counters;
 *   - reservations: population maps and counts, the partial queue, owners;
 *   - objects: the page map against the page array, the chunk counts.
 * The first violation is printed to stderr and 1 returned.
 */
#include "kvmem_config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmap_sim_impl.h"

typedef _Atomic uint64_t pte_t;

struct ck {
	struct pmap_sim	*sim;
	uint32_t	*maps;		/* leaf mappings found per page index */
	struct psim_map	objs;		/* live objects */
	long		resident, wired;
	uint64_t	tables, ps;
};

static int __attribute__((format(printf, 2, 3)))
bad(struct ck *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pmap_sim_check: '%s': ", c->sim->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static inline uint64_t
ldp(pte_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static bool
obj_known(struct ck *c, const struct vm_object *obj)
{
	return psim_map_find(&c->objs, (uint64_t)(uintptr_t)obj) != NULL;
}

/* A table page referenced at level (its contents are entries of that level). */
static int
check_table_page(struct ck *c, vm_paddr_t pa, int level, vm_offset_t va)
{
	struct pmap_sim *sim = c->sim;
	uint64_t pfn = pa >> PMAP_SIM_PAGE_SHIFT;
	struct vm_page *m;

	if (!psim_pfn_is_ram(sim, pfn))
		return bad(c, "level %d table 0x%" PRIx64 " for va 0x%" PRIx64 " is not RAM",
		    level, pa, va);
	m = psim_page(sim, pfn);
	if ((m->flags & (PGF_ALLOC | PGF_PT)) != (PGF_ALLOC | PGF_PT) || m->pt_level != level)
		return bad(c, "table page 0x%" PRIx64 " (va 0x%" PRIx64 ") flags 0x%x level %u, "
		    "expected an allocated level %d page-table page", pa, va, m->flags,
		    m->pt_level, level);
	if (level < 4 && m->pindex != va >> (PMAP_SIM_PAGE_SHIFT + 9 * level))
		return bad(c, "table page 0x%" PRIx64 " belongs to another address than 0x%" PRIx64,
		    pa, va);
	return 0;
}

static int
check_leaf_pages(struct ck *c, vm_paddr_t pa, uint64_t n, vm_offset_t va)
{
	struct pmap_sim *sim = c->sim;
	uint64_t i, pfn = pa >> PMAP_SIM_PAGE_SHIFT;

	for (i = 0; i < n; i++) {
		if (!psim_pfn_is_ram(sim, pfn + i) ||
		    !(psim_page(sim, pfn + i)->flags & PGF_ALLOC))
			return bad(c, "va 0x%" PRIx64 " maps page 0x%" PRIx64 " that is not allocated",
			    va + i * PSIM_PAGE, (pfn + i) << PMAP_SIM_PAGE_SHIFT);
		c->maps[pfn + i - sim->base_pfn]++;
	}
	return 0;
}

static int
walk(struct ck *c, vm_paddr_t tpa, int level, vm_offset_t vbase)
{
	struct pmap_sim *sim = c->sim;
	pte_t *t = (pte_t *)(void *)psim_host(sim, tpa);
	int shift = PMAP_SIM_PAGE_SHIFT + 9 * (level - 1);
	unsigned i, valid = 0;

	for (i = 0; i < PMAP_SIM_NPTEPG; i++) {
		uint64_t e = ldp(&t[i]);
		vm_offset_t va = vbase | ((uint64_t)i << shift);

		if (level == 4 && i >= 256)
			va |= 0xffff000000000000ULL;
		if (!(e & PMAP_PG_V)) {
			if (e != 0)
				return bad(c, "invalid level %d entry for 0x%" PRIx64 " is 0x%" PRIx64,
				    level, va, e);
			continue;
		}
		valid++;
		if (level == 4 && i < 256)
			return bad(c, "kernel PML4 maps user address 0x%" PRIx64, va);
		if (level == 1) {
			if (e & PMAP_PG_PS)
				return bad(c, "PTE for 0x%" PRIx64 " has the PAT/PS bit", va);
			if (check_leaf_pages(c, e & PMAP_PG_FRAME, 1, va))
				return 1;
			c->resident++;
			if (e & PMAP_PG_W)
				c->wired++;
			continue;
		}
		if (level == 2 && (e & PMAP_PG_PS)) {
			uint64_t *sv = psim_map_find(&sim->kpmap.saved, va >> 21);

			if (e & PMAP_PG_FRAME & PMAP_SIM_SUPERPAGE_MASK)
				return bad(c, "2 MiB mapping at 0x%" PRIx64 " of unaligned 0x%" PRIx64,
				    va, e & PMAP_PG_FRAME);
			if (check_leaf_pages(c, e & PMAP_PG_PS_FRAME, PMAP_SIM_NPTEPG, va))
				return 1;
			c->resident += PMAP_SIM_NPTEPG;
			if (e & PMAP_PG_W)
				c->wired += PMAP_SIM_NPTEPG;
			if (sv == NULL || *sv >= sim->npages)
				return bad(c, "2 MiB mapping at 0x%" PRIx64 " has no saved PT page", va);
			if (check_table_page(c, sim->pages[*sv].phys, 1, va))
				return 1;
			c->ps++;
			c->tables++;
			continue;
		}
		if ((e & (PMAP_PG_RW | PMAP_PG_PS)) != PMAP_PG_RW)
			return bad(c, "level %d entry for 0x%" PRIx64 " is 0x%" PRIx64, level, va, e);
		if (check_table_page(c, e & PMAP_PG_FRAME, level - 1, va))
			return 1;
		c->tables++;
		if (walk(c, e & PMAP_PG_FRAME, level - 1, va))
			return 1;
	}
	if (level == 1) {
		struct vm_page *ptp = psim_page(sim, tpa >> PMAP_SIM_PAGE_SHIFT);

		if (ptp->pt_valid != valid)
			return bad(c, "PT page 0x%" PRIx64 " counts %u valid entries, has %u", tpa,
			    ptp->pt_valid, valid);
	}
	return 0;
}

static int
check_pmap(struct ck *c)
{
	struct pmap_sim *sim = c->sim;
	struct pmap *pm = &sim->kpmap;
	uint64_t pt = 0;
	int i;

	if (check_table_page(c, pm->pml4_pa, 4, 0))
		return 1;
	c->tables = 1;
	if (walk(c, pm->pml4_pa, 4, 0))
		return 1;
	if (c->resident != pm->resident || c->wired != pm->wired)
		return bad(c, "kernel pmap counts resident %ld wired %ld, tables hold %ld and %ld",
		    pm->resident, pm->wired, c->resident, c->wired);
	if (c->tables != pm->pt_pages)
		return bad(c, "kernel pmap counts %" PRIu64 " page-table pages, found %" PRIu64,
		    pm->pt_pages, c->tables);
	if (c->ps != pm->saved.n)
		return bad(c, "%zu saved PT pages for %" PRIu64 " 2 MiB mappings", pm->saved.n, c->ps);
	for (i = 0; i < sim->ndomains; i++)
		pt += sim->dom[i].pt_pages;
	if (pt != pm->pt_pages)
		return bad(c, "domains count %" PRIu64 " page-table pages, the pmap %" PRIu64, pt,
		    pm->pt_pages);
	return 0;
}

static bool
popbit(const struct vm_reserv *rv, unsigned i)
{
	return (rv->popmap[i / 64] >> (i % 64)) & 1;
}

static int
check_lists(struct ck *c, struct psim_domain *d, uint64_t *listed)
{
	struct pmap_sim *sim = c->sim;
	int fl, o;

	*listed = 0;
	for (fl = 0; fl < PMAP_SIM_NFREELIST; fl++) {
		int si = d->seg_of_fl[fl];

		for (o = 0; o < PMAP_SIM_NFREEORDER; o++) {
			uint32_t i, prev = PSIM_NONE;
			uint64_t n = 0;

			for (i = d->fl_head[fl][o]; i != PSIM_NONE; prev = i, i = sim->pages[i].fl_next) {
				uint64_t pfn = sim->base_pfn + i;
				const struct psim_seg *seg;
				struct vm_page *m;

				if (si < 0 || i >= sim->npages)
					return bad(c, "domain %d list %d order %d holds bad index %u",
					    d->id, fl, o, i);
				seg = &d->seg[si];
				m = &sim->pages[i];
				if (!(m->flags & PGF_FREE) || m->order != o || m->fl_prev != prev)
					return bad(c, "domain %d list %d order %d: page 0x%" PRIx64
					    " flags 0x%x order %u", d->id, fl, o,
					    pfn << PMAP_SIM_PAGE_SHIFT, m->flags, m->order);
				if (pfn < seg->start || pfn + ((uint64_t)1 << o) > seg->frontier ||
				    (pfn & (((uint64_t)1 << o) - 1)) != 0)
					return bad(c, "domain %d free block 0x%" PRIx64 " order %d misplaced",
					    d->id, pfn << PMAP_SIM_PAGE_SHIFT, o);
				if (++n > d->fl_blocks[fl][o])
					return bad(c, "domain %d list %d order %d longer than its count",
					    d->id, fl, o);
			}
			if (n != d->fl_blocks[fl][o])
				return bad(c, "domain %d list %d order %d has %" PRIu64 " blocks, counts %"
				    PRIu64, d->id, fl, o, n, d->fl_blocks[fl][o]);
			*listed += n << o;
		}
	}
	return 0;
}

static int
check_pages(struct ck *c, struct psim_domain *d, const struct psim_seg *seg,
    uint64_t *alloc, uint64_t *wired, uint64_t *pt, uint64_t *inblocks)
{
	struct pmap_sim *sim = c->sim;
	uint64_t p = seg->start;

	while (p < seg->frontier) {
		struct vm_page *m = psim_page(sim, p);
		uint64_t idx = p - sim->base_pfn, pa = p << PMAP_SIM_PAGE_SHIFT;
		struct vm_reserv *rv = psim_rv_of_pfn(sim, p);
		unsigned slot = (unsigned)(p & (PSIM_RV_NPAGES - 1));

		if (!(m->flags & PGF_INIT) || m->phys != pa || m->domain != d->id)
			return bad(c, "page 0x%" PRIx64 " below the frontier is not initialized", pa);
		if (m->flags & PGF_FREE) {
			uint64_t n = (uint64_t)1 << m->order, b = p ^ n, i;

			if (m->flags & PGF_ALLOC)
				return bad(c, "free page 0x%" PRIx64 " is also allocated", pa);
			if (rv->object != NULL)
				return bad(c, "free block 0x%" PRIx64 " inside an active reservation", pa);
			for (i = 1; i < n; i++) {
				struct vm_page *x = m + i;

				if (x->flags & (PGF_FREE | PGF_ALLOC) || c->maps[idx + i] != 0)
					return bad(c, "page 0x%" PRIx64 " inside free block 0x%" PRIx64
					    " is marked 0x%x / mapped", (p + i) << PMAP_SIM_PAGE_SHIFT, pa,
					    x->flags);
			}
			if (m->order < PSIM_MAXORDER && b >= seg->start && b + n <= seg->end && b < seg->frontier &&
			    (psim_page(sim, b)->flags & PGF_FREE) && psim_page(sim, b)->order == m->order)
				return bad(c, "free block 0x%" PRIx64 " and its buddy are both free (order %u)",
				    pa, m->order);
			*inblocks += n;
			p += n;
			continue;
		}
		if (m->flags & PGF_ALLOC) {
			(*alloc)++;
			if (atomic_load(&m->wire_count) != 0)
				(*wired)++;
			if (m->flags & PGF_PT)
				(*pt)++;
			if (atomic_load(&m->map_count) != c->maps[idx])
				return bad(c, "page 0x%" PRIx64 " map_count %u, page tables map it %u times",
				    pa, atomic_load(&m->map_count), c->maps[idx]);
			if (m->object != NULL) {
				uint64_t *v;

				if (!obj_known(c, m->object))
					return bad(c, "page 0x%" PRIx64 " owned by unknown object %p", pa,
					    (void *)m->object);
				v = psim_map_find(&m->object->pages, m->pindex);
				if (v == NULL || *v != idx)
					return bad(c, "page 0x%" PRIx64 " not at index %" PRIu64
					    " of its object", pa, m->pindex);
			}
			if (rv->object != NULL) {
				if (!popbit(rv, slot))
					return bad(c, "allocated page 0x%" PRIx64 " is an unused slot of a "
					    "reservation", pa);
				if (m->object != rv->object || m->pindex != rv->pindex + slot)
					return bad(c, "page 0x%" PRIx64 " of a reservation belongs to "
					    "another object or index", pa);
			}
		} else {
			if (rv->object == NULL || popbit(rv, slot))
				return bad(c, "page 0x%" PRIx64 " (flags 0x%x) is neither free, allocated "
				    "nor reserved: lost", pa, m->flags);
			if (c->maps[idx] != 0 || atomic_load(&m->map_count) != 0)
				return bad(c, "reserved unused page 0x%" PRIx64 " is mapped", pa);
		}
		p++;
	}
	return 0;
}

static int
check_reservations(struct ck *c, struct psim_domain *d)
{
	struct pmap_sim *sim = c->sim;
	uint64_t r, active = 0, fullpop = 0, rfree = 0, partial = 0;
	uint32_t i, prev = PSIM_NONE;

	for (r = d->start_pfn >> PSIM_RV_ORDER; r <= (d->end_pfn - 1) >> PSIM_RV_ORDER; r++) {
		struct vm_reserv *rv = &sim->resv[r - (sim->base_pfn >> PSIM_RV_ORDER)];
		uint64_t pfn = r << PSIM_RV_ORDER;
		unsigned k, cnt = 0;
		int s;

		if (rv->object == NULL) {
			if (rv->popcnt != 0 || rv->inpartpopq)
				return bad(c, "free reservation 0x%" PRIx64 " has popcnt %u / queued",
				    pfn << PMAP_SIM_PAGE_SHIFT, rv->popcnt);
			continue;
		}
		if (psim_domain_of_pfn(sim, pfn < sim->base_pfn ? sim->base_pfn : pfn) != d->id)
			continue;
		for (s = 0; s < d->nseg; s++)
			if (pfn >= d->seg[s].start && pfn + PSIM_RV_NPAGES <= d->seg[s].frontier)
				break;
		if (s == d->nseg)
			return bad(c, "reservation 0x%" PRIx64 " is not inside a carved segment",
			    pfn << PMAP_SIM_PAGE_SHIFT);
		for (k = 0; k < PSIM_RV_NPAGES; k++)
			cnt += popbit(rv, k);
		if (cnt != rv->popcnt || rv->popcnt == 0 || rv->domain != d->id ||
		    rv->pindex % PSIM_RV_NPAGES != 0 || !obj_known(c, rv->object))
			return bad(c, "reservation 0x%" PRIx64 ": popcnt %u, map has %u, domain %u",
			    pfn << PMAP_SIM_PAGE_SHIFT, rv->popcnt, cnt, rv->domain);
		if ((rv->popcnt < PSIM_RV_NPAGES) != (rv->inpartpopq != 0))
			return bad(c, "reservation 0x%" PRIx64 " popcnt %u but queued %d",
			    pfn << PMAP_SIM_PAGE_SHIFT, rv->popcnt, rv->inpartpopq);
		active++;
		fullpop += rv->popcnt == PSIM_RV_NPAGES;
		rfree += PSIM_RV_NPAGES - rv->popcnt;
	}
	for (i = d->partq_head; i != PSIM_NONE; prev = i, i = sim->resv[i].q_next) {
		if (i >= sim->nresv || !sim->resv[i].inpartpopq || sim->resv[i].q_prev != prev ||
		    sim->resv[i].domain != d->id || ++partial > d->partq_len)
			return bad(c, "domain %d partial reservation queue is corrupt at %u", d->id, i);
	}
	if (prev != d->partq_tail || partial != d->partq_len)
		return bad(c, "domain %d partial queue has %" PRIu64 " entries, counts %" PRIu64,
		    d->id, partial, d->partq_len);
	if (active != d->reserv_active || fullpop != d->reserv_fullpop || rfree != d->reserv_free)
		return bad(c, "domain %d reservations: %" PRIu64 " active, %" PRIu64 " full, %" PRIu64
		    " unused pages; counters say %" PRIu64 ", %" PRIu64 ", %" PRIu64, d->id, active,
		    fullpop, rfree, d->reserv_active, d->reserv_fullpop, d->reserv_free);
	return 0;
}

static int
check_domain(struct ck *c, struct psim_domain *d)
{
	uint64_t listed, implicit = 0, alloc = 0, wired = 0, pt = 0, inblocks = 0;
	uint64_t imp[PMAP_SIM_NFREEORDER];
	int s, o;

	if (check_lists(c, d, &listed))
		return 1;
	for (s = 0; s < d->nseg; s++) {
		const struct psim_seg *seg = &d->seg[s];

		if (seg->frontier < seg->start || seg->frontier > seg->end)
			return bad(c, "domain %d segment frontier out of range", d->id);
		psim_phys_implicit_blocks(seg, imp);
		for (o = 0; o < PMAP_SIM_NFREEORDER; o++) {
			if (imp[o] != seg->imp_blocks[o])
				return bad(c, "domain %d segment %d: %" PRIu64 " implicit order-%d blocks,"
				    " counts %" PRIu64, d->id, s, imp[o], o, seg->imp_blocks[o]);
			implicit += imp[o] << o;
		}
		if (check_pages(c, d, seg, &alloc, &wired, &pt, &inblocks))
			return 1;
	}
	if (inblocks != listed)
		return bad(c, "domain %d: %" PRIu64 " pages in free blocks, lists hold %" PRIu64,
		    d->id, inblocks, listed);
	if (listed + implicit != d->buddy_free)
		return bad(c, "domain %d buddy_free %" PRIu64 ", lists and frontier hold %" PRIu64,
		    d->id, d->buddy_free, listed + implicit);
	if (alloc != d->allocated || wired != atomic_load(&d->wired) || pt != d->pt_pages)
		return bad(c, "domain %d counts %" PRIu64 " allocated, %" PRIu64 " wired, %" PRIu64
		    " PT pages; found %" PRIu64 ", %" PRIu64 ", %" PRIu64, d->id, d->allocated,
		    atomic_load(&d->wired), d->pt_pages, alloc, wired, pt);
	if (alloc + psim_free_count(d) != d->page_count)
		return bad(c, "domain %d: %" PRIu64 " allocated + %" PRIu64 " free != %" PRIu64 " pages",
		    d->id, alloc, psim_free_count(d), d->page_count);
	return check_reservations(c, d);
}

static int
check_object(struct ck *c, struct vm_object *obj)
{
	struct pmap_sim *sim = c->sim;
	struct psim_map counts;
	uint64_t n = 0;
	size_t i;
	int rc = 0;

	psim_map_init(&counts);
	for (i = 0; i < obj->pages.cap && rc == 0; i++) {
		uint64_t key = obj->pages.keys[i], idx = obj->pages.vals[i], *cv;
		struct vm_page *m;

		if (key == PSIM_NONE64)
			continue;
		n++;
		if (idx >= sim->npages) {
			rc = bad(c, "object %p index %" PRIu64 " points outside the page array",
			    (void *)obj, key);
			break;
		}
		m = &sim->pages[idx];
		if (!(m->flags & PGF_ALLOC) || m->object != obj || m->pindex != key) {
			rc = bad(c, "object %p index %" PRIu64 ": page 0x%" PRIx64 " is not its page",
			    (void *)obj, key, (sim->base_pfn + idx) << PMAP_SIM_PAGE_SHIFT);
			break;
		}
		cv = psim_map_find(&counts, key / PSIM_RV_NPAGES);
		if (psim_map_put(&counts, key / PSIM_RV_NPAGES, cv != NULL ? *cv + 1 : 1) != 0) {
			rc = bad(c, "out of memory");
			break;
		}
	}
	if (rc == 0 && n != obj->npages)
		rc = bad(c, "object %p has %" PRIu64 " pages, counts %" PRIu64, (void *)obj, n,
		    obj->npages);
	if (rc == 0 && counts.n != obj->chunks.n)
		rc = bad(c, "object %p has pages in %zu chunks, chunk map has %zu", (void *)obj,
		    counts.n, obj->chunks.n);
	for (i = 0; i < obj->chunks.cap && rc == 0; i++) {
		uint64_t key = obj->chunks.keys[i], v = obj->chunks.vals[i], *cv;
		uint32_t rvi = CHUNK_RV(v);

		if (key == PSIM_NONE64)
			continue;
		cv = psim_map_find(&counts, key);
		if (cv == NULL || *cv != CHUNK_COUNT(v))
			rc = bad(c, "object %p chunk %" PRIu64 " counts %u pages, has %" PRIu64,
			    (void *)obj, key, CHUNK_COUNT(v), cv != NULL ? *cv : 0);
		else if (rvi != PSIM_NONE && rvi >= sim->nresv)
			rc = bad(c, "object %p chunk %" PRIu64 " names reservation %u", (void *)obj, key,
			    rvi);
		else if (rvi != PSIM_NONE && sim->resv[rvi].object == obj &&
		    sim->resv[rvi].pindex == key * PSIM_RV_NPAGES && sim->resv[rvi].popcnt > *cv)
			rc = bad(c, "object %p chunk %" PRIu64 ": reservation holds more pages than "
			    "the object", (void *)obj, key);
	}
	psim_map_fini(&counts);
	return rc;
}

int
pmap_sim_check(struct pmap_sim *sim)
{
	struct ck c = { .sim = sim };
	struct vm_object *obj;
	int i, rc = 0;

	psim_map_init(&c.objs);
	c.maps = calloc(sim->npages, sizeof(uint32_t));
	pthread_mutex_lock(&sim->obj_lock);
	for (obj = sim->objects; obj != NULL; obj = obj->next) {
		pthread_mutex_lock(&obj->lock);
		if (psim_map_put(&c.objs, (uint64_t)(uintptr_t)obj, 1) != 0)
			c.maps = (free(c.maps), NULL);
	}
	pthread_mutex_lock(&sim->kpmap.lock);
	for (i = 0; i < sim->ndomains; i++)
		pthread_mutex_lock(&sim->dom[i].lock);

	if (c.maps == NULL)
		rc = bad(&c, "out of memory");
	if (rc == 0)
		rc = check_pmap(&c);
	for (i = 0; i < sim->ndomains && rc == 0; i++)
		rc = check_domain(&c, &sim->dom[i]);
	for (obj = sim->objects; obj != NULL && rc == 0; obj = obj->next)
		rc = check_object(&c, obj);

	for (i = sim->ndomains - 1; i >= 0; i--)
		pthread_mutex_unlock(&sim->dom[i].lock);
	pthread_mutex_unlock(&sim->kpmap.lock);
	for (obj = sim->objects; obj != NULL; obj = obj->next)
		pthread_mutex_unlock(&obj->lock);
	pthread_mutex_unlock(&sim->obj_lock);
	free(c.maps);
	psim_map_fini(&c.objs);
	return rc;
}
