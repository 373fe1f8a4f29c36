/*
 * vmem_check.c -- the whole-arena invariant checker.
 *
 * Invariants verified:
 *  1. The segment list is a well-linked ring; it starts with a span tag;
 *     spans are in increasing address order and do not overlap; the span
 *     list holds exactly the span tags, in the same order.
 *  2. Each span is tiled exactly by its segments (no gap, no overlap), all
 *     quantum-aligned, none empty.
 *  3. No two free segments are adjacent (coalescing is complete); no
 *     releasable span is entirely free; no two mergeable spans touch.
 *  4. Every free segment is on the list of its size class and nothing else
 *     is on a free list; the bitmap bit of a list is set iff it is non-empty;
 *     a list's size bound is at least each member's size (0 when empty).
 *  5. Every busy segment is in the hash bucket of its start address and the
 *     hash holds nothing else.
 *  6. Counters (bytes in use, total, imported, segment and span counts,
 *     tags) equal what the walk finds; the next-fit rotor is on the list.
 */
#include "kvmem_config.h"

#include <inttypes.h>
#include <stdarg.h>

#include "vmem_impl.h"
#include "vmem_qcache.h"

#define VM(v)	((struct vmem_arena *)(void *)(v))

static int __attribute__((format(printf, 2, 3)))
fail(struct vmem_arena *vm, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vmem_check: vmem '%s': ", vm->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static size_t
hash_slot(const struct vmem_arena *vm, vmem_addr_t addr)
{
	uint64_t h = (uint64_t)(addr >> vm->quantum_shift) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> (64 - vm->hash_bits));
}

int
vmem__check_locked(struct vmem_arena *vm)
{
	const struct bt *head = &vm->seg_head;
	const struct bt *span = NULL, *prev_span = NULL, *sl = vm->span_list;
	vmem_addr_t next_addr = 0;	/* where the next segment must start */
	vmem_size_t inuse = 0, total = 0, imported = 0;
	uint64_t nbusy = 0, nfree = 0, nspans = 0, ntags = 0;
	bool rotor_seen = vm->rotor == head, prev_free = false;
	bool hint_seen = vm->seg_hint == head;

	for (const struct bt *bt = head->seg_next; bt != head; bt = bt->seg_next) {
		ntags++;
		if (bt->seg_next->seg_prev != bt || bt->seg_prev->seg_next != bt)
			return fail(vm, "segment list broken at 0x%" PRIxPTR, bt->start);
		if (bt == vm->seg_hint)
			hint_seen = true;
		if (bt == vm->rotor) {
			rotor_seen = true;
			if (vm->rotor_addr != 0 && bt->start > vm->rotor_addr)
				return fail(vm, "next-fit rotor tag 0x%" PRIxPTR " lies past "
				    "the rotor address 0x%" PRIxPTR, bt->start, vm->rotor_addr);
		}
		if (bt->size == 0 || (bt->start & vm->quantum_mask) != 0 ||
		    (bt->size & vm->quantum_mask) != 0)
			return fail(vm, "tag 0x%" PRIxPTR " size %zu not quantum-aligned",
			    bt->start, bt->size);
		if (bt->size - 1 > VMEM_ADDR_MAX - bt->start)
			return fail(vm, "tag 0x%" PRIxPTR " size %zu wraps",
			    bt->start, bt->size);

		if (bt->type == BT_SPAN) {
			if (span != NULL && next_addr != span->start + span->size)
				return fail(vm, "span 0x%" PRIxPTR " not tiled to its end",
				    span->start);
			if (span != NULL && bt->start <= span->start + (span->size - 1))
				return fail(vm, "span 0x%" PRIxPTR " out of order or "
				    "overlapping", bt->start);
			if (span != NULL && (span->span_flags & BT_SPAN_MERGEABLE) &&
			    (bt->span_flags & BT_SPAN_MERGEABLE) &&
			    span->start + span->size == bt->start)
				return fail(vm, "mergeable spans 0x%" PRIxPTR " and 0x%"
				    PRIxPTR " not joined", span->start, bt->start);
			if (bt != sl)
				return fail(vm, "span list out of step at 0x%" PRIxPTR,
				    bt->start);
			if (sl->q_pprev != (prev_span == NULL ? &vm->span_list :
			    &((struct bt *)prev_span)->q_next))
				return fail(vm, "span list back link broken at 0x%"
				    PRIxPTR, bt->start);
			prev_span = span = bt;
			sl = sl->q_next;
			next_addr = bt->start;
			prev_free = false;
			nspans++;
			total += bt->size;
			if (bt->span_flags & BT_SPAN_IMPORTED)
				imported += bt->size;
			if ((bt->span_flags & BT_SPAN_RELEASABLE) &&
			    bt->seg_next->type == BT_FREE &&
			    bt->seg_next->size == bt->size)
				return fail(vm, "releasable span 0x%" PRIxPTR
				    " entirely free but kept", bt->start);
			continue;
		}
		if (span == NULL)
			return fail(vm, "segment 0x%" PRIxPTR " before any span",
			    bt->start);
		if (bt->start != next_addr)
			return fail(vm, "segment 0x%" PRIxPTR " should start at 0x%"
			    PRIxPTR, bt->start, next_addr);
		if (bt->size - 1 > span->start + (span->size - 1) - bt->start)
			return fail(vm, "segment 0x%" PRIxPTR " runs past its span",
			    bt->start);
		next_addr = bt->start + bt->size;

		if (bt->type == BT_FREE) {
			if (prev_free)
				return fail(vm, "adjacent free segments at 0x%" PRIxPTR,
				    bt->start);
			unsigned i = vmem__fl_index(bt->size >> vm->quantum_shift);
			if (bt->fl != i)
				return fail(vm, "free segment 0x%" PRIxPTR " on list %u, "
				    "belongs on %u", bt->start, bt->fl, i);
			const struct bt *m = vm->freelist[i];
			while (m != NULL && m != bt)
				m = m->q_next;
			if (m == NULL)
				return fail(vm, "free segment 0x%" PRIxPTR " missing from "
				    "list %u", bt->start, i);
			nfree++;
			prev_free = true;
		} else if (bt->type == BT_BUSY) {
			const struct bt *m = vm->hash[hash_slot(vm, bt->start)];
			while (m != NULL && m != bt)
				m = m->q_next;
			if (m == NULL)
				return fail(vm, "busy segment 0x%" PRIxPTR " missing from "
				    "the hash", bt->start);
			inuse += bt->size;
			nbusy++;
			prev_free = false;
		} else {
			return fail(vm, "tag 0x%" PRIxPTR " has bad type %u",
			    bt->start, bt->type);
		}
	}
	if (span != NULL && next_addr != span->start + span->size)
		return fail(vm, "span 0x%" PRIxPTR " not tiled to its end", span->start);
	if (sl != NULL)
		return fail(vm, "span list has extra span 0x%" PRIxPTR, sl->start);
	if (!rotor_seen)
		return fail(vm, "next-fit rotor is not on the segment list");
	if (!hint_seen)
		return fail(vm, "segment lookup hint is not on the segment list");

	/* Free lists and bitmap. */
	uint64_t listed = 0;
	for (unsigned i = 0; i < VMEM_NFREELIST; i++) {
		bool bit = (vm->fl_bitmap[i >> 6] >> (i & 63)) & 1;
		if (vm->freelist[i] == NULL && vm->fl_max[i] != 0)
			return fail(vm, "empty list %u has bound %zu", i, vm->fl_max[i]);
		if (bit != (vm->freelist[i] != NULL))
			return fail(vm, "bitmap bit %u is %d for a %s list", i, bit,
			    vm->freelist[i] != NULL ? "non-empty" : "empty");
		struct bt **pp = &vm->freelist[i];
		for (struct bt *bt = vm->freelist[i]; bt != NULL; bt = bt->q_next) {
			if (bt->type != BT_FREE || bt->fl != i || bt->q_pprev != pp)
				return fail(vm, "list %u holds a bad tag 0x%" PRIxPTR,
				    i, bt->start);
			if (bt->size > vm->fl_max[i])
				return fail(vm, "list %u bound %zu below member 0x%" PRIxPTR
				    " size %zu", i, vm->fl_max[i], bt->start, bt->size);
			pp = &bt->q_next;
			if (++listed > nfree)
				return fail(vm, "free lists hold more than %" PRIu64
				    " segments", nfree);
		}
	}
	if (listed != nfree)
		return fail(vm, "free lists hold %" PRIu64 " segments, walk found %"
		    PRIu64, listed, nfree);

	/* Hash. */
	uint64_t hashed = 0;
	for (size_t i = 0; i < ((size_t)1 << vm->hash_bits); i++) {
		for (const struct bt *bt = vm->hash[i]; bt != NULL; bt = bt->q_next) {
			if (bt->type != BT_BUSY || hash_slot(vm, bt->start) != i)
				return fail(vm, "hash bucket %zu holds a bad tag 0x%"
				    PRIxPTR, i, bt->start);
			if (++hashed > nbusy)
				return fail(vm, "hash holds more than %" PRIu64
				    " segments", nbusy);
		}
	}
	if (hashed != nbusy)
		return fail(vm, "hash holds %" PRIu64 " segments, walk found %"
		    PRIu64, hashed, nbusy);

	/* Counters. */
	if (inuse != vm->size_inuse || total != vm->size_total ||
	    imported != vm->size_imported)
		return fail(vm, "byte counters (in use %zu, total %zu, imported %zu) "
		    "differ from the walk (%zu, %zu, %zu)", vm->size_inuse,
		    vm->size_total, vm->size_imported, inuse, total, imported);
	if (nbusy != vm->nbusy || nfree != vm->nfree || nspans != vm->nspans)
		return fail(vm, "segment counters differ from the walk");
	uint64_t idle = 0;
	for (const struct bt *bt = vm->bt_idle; bt != NULL; bt = bt->q_next)
		if (++idle > vm->nbt_idle)
			break;
	if (idle != vm->nbt_idle || ntags + idle != vm->nbt_total)
		return fail(vm, "tag accounting: %" PRIu64 " in use + %" PRIu64
		    " idle != %" PRIu64 " allocated", ntags, idle, vm->nbt_total);
	return 0;
}

int
vmem_check(vmem_t *v)
{
	struct vmem_arena *vm = VM(v);
	if (v == NULL || vm->magic != VMEM_MAGIC) {
		fprintf(stderr, "vmem_check: %p is not a live vmem arena\n", (void *)v);
		return 1;
	}
	vmem_lock(&vm->lock);
	int r = vmem__check_locked(vm);
	vmem_unlock(&vm->lock);
	if (r == 0)
		r = vmem__qc_check(vm);
	return r;
}
