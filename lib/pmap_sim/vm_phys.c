/*
 * vm_phys.c -- the buddy allocator of each domain.
 *
 * A domain's pages form one or two segments, one per free list (default,
 * and DMA32 for the part below the DMA32 limit when the machine has memory
 * above it).  Each free list keeps, per order 0..12, a doubly linked list
 * of free blocks of 2^order pages, naturally aligned in physical address;
 * links are page indices stored in the head page's struct.  A free block's
 * head carries PGF_FREE and its order; no other page of it is marked.
 *
 * Laziness: each segment has a frontier.  Pages at and above it are free
 * but their structs were never written: they are counted as free blocks of
 * the orders a greedy split of [frontier, end) into maximal aligned blocks
 * would give (imp_blocks), and the block at the frontier is carved off,
 * its page structs initialized and it is put on its list, only when the
 * lists cannot satisfy a request.  Explicit blocks are preferred, so a big
 * machine touches host memory from the bottom up.
 *
 * Invariants (checked by pmap_sim_check): every initialized page of a
 * segment is in exactly one free block, allocated, or an unused page of
 * an active reservation; a free block never has a free buddy of the same
 * order (frees coalesce fully); counters equal what the lists hold.
 *
 * Every function here needs the domain lock.
 */
#include "kvmem_config.h"

#include <string.h>

#include "pmap_sim_impl.h"

static inline uint32_t
pidx(const struct pmap_sim *sim, uint64_t pfn)
{
	return (uint32_t)(pfn - sim->base_pfn);
}

/* Push the block at pfn on list (fl, order) and mark its head free. */
static void
fl_insert(struct pmap_sim *sim, struct psim_domain *d, int fl, int order, uint64_t pfn)
{
	struct vm_page *m = psim_page(sim, pfn);
	uint32_t head = d->fl_head[fl][order];

	m->flags |= PGF_FREE;
	m->order = (uint8_t)order;
	m->fl_prev = PSIM_NONE;
	m->fl_next = head;
	if (head != PSIM_NONE)
		sim->pages[head].fl_prev = pidx(sim, pfn);
	d->fl_head[fl][order] = pidx(sim, pfn);
	d->fl_blocks[fl][order]++;
}

/* Unlink the free block at pfn from list (fl, order); it must be there. */
static void
fl_remove(struct pmap_sim *sim, struct psim_domain *d, int fl, int order, uint64_t pfn)
{
	struct vm_page *m = psim_page(sim, pfn);

	KVMEM_ASSERT((m->flags & PGF_FREE) && m->order == order);
	if (m->fl_prev != PSIM_NONE)
		sim->pages[m->fl_prev].fl_next = m->fl_next;
	else
		d->fl_head[fl][order] = m->fl_next;
	if (m->fl_next != PSIM_NONE)
		sim->pages[m->fl_next].fl_prev = m->fl_prev;
	m->flags &= (uint16_t)~PGF_FREE;
	d->fl_blocks[fl][order]--;
}

/* The largest order of an aligned block at pfn that fits below end. */
int
psim_carve_order(uint64_t pfn, uint64_t end)
{
	int o = pfn == 0 ? PSIM_MAXORDER : __builtin_ctzll(pfn);

	if (o > PSIM_MAXORDER)
		o = PSIM_MAXORDER;
	while (pfn + ((uint64_t)1 << o) > end)
		o--;
	return o;
}

void
psim_phys_implicit_blocks(const struct psim_seg *seg, uint64_t out[PMAP_SIM_NFREEORDER])
{
	uint64_t p = seg->frontier;

	memset(out, 0, sizeof(uint64_t) * PMAP_SIM_NFREEORDER);
	while (p < seg->end) {
		int o = psim_carve_order(p, seg->end);

		out[o]++;
		p += (uint64_t)1 << o;
	}
}

void
psim_phys_init_domain(struct pmap_sim *sim, struct psim_domain *d)
{
	int fl, o, s;

	(void)sim;
	for (fl = 0; fl < PMAP_SIM_NFREELIST; fl++)
		for (o = 0; o < PMAP_SIM_NFREEORDER; o++)
			d->fl_head[fl][o] = PSIM_NONE;
	d->partq_head = d->partq_tail = PSIM_NONE;
	for (s = 0; s < d->nseg; s++) {
		struct psim_seg *seg = &d->seg[s];

		seg->frontier = seg->start;
		psim_phys_implicit_blocks(seg, seg->imp_blocks);
		d->buddy_free += seg->end - seg->start;
	}
}

/* Initialize the page structs of the block at the frontier and list it. */
static void
seg_carve(struct pmap_sim *sim, struct psim_domain *d, struct psim_seg *seg)
{
	uint64_t pfn = seg->frontier, n, i;
	int o = psim_carve_order(pfn, seg->end);
	struct vm_page *m = psim_page(sim, pfn);

	n = (uint64_t)1 << o;
	for (i = 0; i < n; i++) {
		m[i].phys = (pfn + i) << PMAP_SIM_PAGE_SHIFT;
		m[i].domain = (uint8_t)d->id;
		m[i].flags = PGF_INIT | PGF_ZERO;
		m[i].fl_next = m[i].fl_prev = PSIM_NONE;
	}
	seg->frontier += n;
	seg->imp_blocks[o]--;
	d->touched += n;
	fl_insert(sim, d, seg->freelist, o, pfn);
}

/* The segment of d holding pfn; pfn must be RAM of d. */
static struct psim_seg *
seg_of_pfn(struct psim_domain *d, uint64_t pfn)
{
	int s;

	for (s = 0; s < d->nseg; s++)
		if (pfn >= d->seg[s].start && pfn < d->seg[s].end)
			return &d->seg[s];
	KVMEM_PANIC("pmap_sim: pfn 0x%llx outside domain %d", (unsigned long long)pfn, d->id);
}

/*
 * A 2^order block from seg's free list (carving at the frontier when the
 * lists are empty), split down as needed; its pfn, or NONE if seg has no
 * block that large.
 */
static uint64_t
alloc_seg(struct pmap_sim *sim, struct psim_domain *d, struct psim_seg *seg, int order)
{
	int fl = seg->freelist, o;
	uint64_t pfn;

	for (;;) {
		for (o = order; o <= PSIM_MAXORDER; o++)
			if (d->fl_head[fl][o] != PSIM_NONE)
				goto found;
		if (seg->frontier >= seg->end)
			return PSIM_NONE64;
		seg_carve(sim, d, seg);
	}
found:
	pfn = sim->base_pfn + d->fl_head[fl][o];
	fl_remove(sim, d, fl, o, pfn);
	while (o > order) {
		o--;
		fl_insert(sim, d, fl, o, pfn + ((uint64_t)1 << o));
	}
	d->buddy_free -= (uint64_t)1 << order;
	return pfn;
}

uint64_t
psim_phys_alloc(struct pmap_sim *sim, struct psim_domain *d, int order)
{
	int fl;

	for (fl = 0; fl < PMAP_SIM_NFREELIST; fl++) {
		int s = d->seg_of_fl[fl];
		uint64_t pfn;

		if (s < 0)
			continue;
		pfn = alloc_seg(sim, d, &d->seg[s], order);
		if (pfn != PSIM_NONE64)
			return pfn;
	}
	return PSIM_NONE64;
}

/*
 * Return the 2^order block at pfn (inside seg, below its frontier, not on
 * a list) and merge it with free buddies of the same order up to order 12.
 */
static void
free_block(struct pmap_sim *sim, struct psim_domain *d, struct psim_seg *seg, uint64_t pfn,
    int order)
{
	d->buddy_free += (uint64_t)1 << order;
	while (order < PSIM_MAXORDER) {
		uint64_t size = (uint64_t)1 << order, b = pfn ^ size;
		struct vm_page *bm;

		if (b < seg->start || b + size > seg->end || b >= seg->frontier)
			break;
		bm = psim_page(sim, b);
		if (!(bm->flags & PGF_FREE) || bm->order != order)
			break;
		fl_remove(sim, d, seg->freelist, order, b);
		pfn &= ~size;
		order++;
	}
	fl_insert(sim, d, seg->freelist, order, pfn);
}

void
psim_phys_free(struct pmap_sim *sim, struct psim_domain *d, uint64_t pfn, int order)
{
	free_block(sim, d, seg_of_pfn(d, pfn), pfn, order);
}

void
psim_phys_free_range(struct pmap_sim *sim, struct psim_domain *d, uint64_t pfn, uint64_t n)
{
	struct psim_seg *seg;

	if (n == 0)
		return;
	seg = seg_of_pfn(d, pfn);
	while (n > 0) {
		int o = psim_carve_order(pfn, pfn + n);

		free_block(sim, d, seg, pfn, o);
		pfn += (uint64_t)1 << o;
		n -= (uint64_t)1 << o;
	}
}

/*
 * The first start s >= a with s + n <= b, s a multiple of apg and
 * [s, s + n) inside one multiple of bpg (bpg 0: no boundary); or NONE.
 */
static uint64_t
place(uint64_t a, uint64_t b, uint64_t n, uint64_t apg, uint64_t bpg)
{
	uint64_t s = (a + apg - 1) & ~(apg - 1);

	while (s >= a && s + n <= b) {
		if (bpg != 0 && s / bpg != (s + n - 1) / bpg) {
			s = (s + bpg) & ~(bpg - 1);
			s = (s + apg - 1) & ~(apg - 1);
			continue;
		}
		return s;
	}
	return PSIM_NONE64;
}

/* Find a placement in a run of free pages of seg within [lo, hi). */
static uint64_t
scan_seg(struct pmap_sim *sim, struct psim_seg *seg, uint64_t lo, uint64_t hi, uint64_t n,
    uint64_t apg, uint64_t bpg)
{
	uint64_t blk = (uint64_t)1 << PSIM_MAXORDER;
	uint64_t p = lo & ~(blk - 1), end, run = PSIM_NONE64, s;

	if (p < seg->start)
		p = seg->start;
	end = hi < seg->frontier ? hi : seg->frontier;
	while (p < end) {
		struct vm_page *m = psim_page(sim, p);

		if (m->flags & PGF_FREE) {
			if (run == PSIM_NONE64)
				run = p;
			p += (uint64_t)1 << m->order;
			continue;
		}
		if (run != PSIM_NONE64) {
			s = place(run > lo ? run : lo, p < hi ? p : hi, n, apg, bpg);
			if (s != PSIM_NONE64)
				return s;
			run = PSIM_NONE64;
		}
		p++;
	}
	if (seg->frontier < hi) {
		/* [frontier, end) is free: it extends any run that reached it. */
		if (run == PSIM_NONE64 || p < seg->frontier)
			run = seg->frontier;
		return place(run > lo ? run : lo, hi, n, apg, bpg);
	}
	if (run != PSIM_NONE64)
		return place(run > lo ? run : lo, p < hi ? p : hi, n, apg, bpg);
	return PSIM_NONE64;
}

/* Take the free pages [s, s + n) out of the blocks holding them. */
static void
take_range(struct pmap_sim *sim, struct psim_domain *d, struct psim_seg *seg, uint64_t s,
    uint64_t n)
{
	uint64_t p = s, e = s + n;

	while (seg->frontier < e)
		seg_carve(sim, d, seg);
	while (p < e) {
		uint64_t h = p, be;
		int o;

		for (o = 0; o <= PSIM_MAXORDER; o++) {
			struct vm_page *hm;

			h = p & ~(((uint64_t)1 << o) - 1);
			if (h < seg->start)
				KVMEM_PANIC("pmap_sim: page 0x%llx of a free run is not free",
				    (unsigned long long)p);
			hm = psim_page(sim, h);
			if ((hm->flags & PGF_FREE) && hm->order == o)
				break;
		}
		if (o > PSIM_MAXORDER)
			KVMEM_PANIC("pmap_sim: page 0x%llx of a free run is not free",
			    (unsigned long long)p);
		fl_remove(sim, d, seg->freelist, o, h);
		d->buddy_free -= (uint64_t)1 << o;
		be = h + ((uint64_t)1 << o);
		if (h < p)
			psim_phys_free_range(sim, d, h, p - h);
		if (be > e)
			psim_phys_free_range(sim, d, e, be - e);
		p = be;
	}
}

uint64_t
psim_phys_alloc_contig(struct pmap_sim *sim, struct psim_domain *d, uint64_t npages,
    vm_paddr_t low, vm_paddr_t high, uint64_t align, uint64_t boundary)
{
	uint64_t apg = align >> PMAP_SIM_PAGE_SHIFT, bpg = boundary >> PMAP_SIM_PAGE_SHIFT;
	uint64_t lo_pfn = (low + PMAP_SIM_PAGE_MASK) >> PMAP_SIM_PAGE_SHIFT;
	uint64_t hi_pfn = high >> PMAP_SIM_PAGE_SHIFT;
	int fl;

	for (fl = 0; fl < PMAP_SIM_NFREELIST; fl++) {
		int si = d->seg_of_fl[fl];
		struct psim_seg *seg;
		uint64_t lo, hi, s;

		if (si < 0)
			continue;
		seg = &d->seg[si];
		lo = lo_pfn > seg->start ? lo_pfn : seg->start;
		hi = hi_pfn < seg->end ? hi_pfn : seg->end;
		if (hi <= lo || hi - lo < npages)
			continue;
		s = scan_seg(sim, seg, lo, hi, npages, apg, bpg);
		if (s != PSIM_NONE64) {
			take_range(sim, d, seg, s, npages);
			return s;
		}
	}
	return PSIM_NONE64;
}
