/*
 * vm_map_check.c -- looking at a map: the invariant checker, statistics,
 * walk and dump.
 *
 * Everything here takes the map lock for reading (or runs under the
 * caller's vm_map_lock()) and changes nothing but the read-side counters.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vm_map_impl.h"

void
vm_map__info(const struct vme *e, struct vm_map_entry_info *info)
{
	memset(info, 0, sizeof(*info));
	info->start = e->start;
	info->end = e->end;
	info->protection = e->prot;
	info->max_protection = e->maxprot;
	info->inheritance = e->inherit;
	info->advice = e->advice;
	info->flags = e->flags;
	info->wired_count = e->wired;
	info->offset = e->offset;
	if (e->flags & VM_MAP_ENTRY_IS_SUB_MAP)
		info->submap = VMT(e->u.submap);
	else
		info->object = e->u.object;
}

/* ======================================================================
 * The checker
 * ====================================================================== */

#define FAIL(...) do {							\
	fprintf(stderr, "vm_map_check '%s': ", m->name);		\
	fprintf(stderr, __VA_ARGS__);					\
	fputc('\n', stderr);						\
	return 1;							\
} while (0)

struct tree_walk {
	const struct vme	*expect;	/* next entry expected in order */
	uint64_t		count;
	int			bad;
};

/*
 * Check the subtree of e: parent links, red-black rules, maxgap, and that
 * its in-order sequence continues the list at w->expect.  Returns the black
 * height, or -1 after printing a violation.
 */
static int
check_subtree(const struct vm_map_impl *m, const struct vme *e,
    const struct vme *parent, struct tree_walk *w)
{
	if (e == NULL)
		return 1;
	if (e->parent != parent) {
		fprintf(stderr, "vm_map_check '%s': entry [0x%" PRIx64 ", 0x%" PRIx64
		    ") has a wrong parent link\n", m->name, (uint64_t)e->start,
		    (uint64_t)e->end);
		return -1;
	}
	if (e->red && (parent == NULL || parent->red)) {
		fprintf(stderr, "vm_map_check '%s': red entry at 0x%" PRIx64
		    " under a red parent or at the root\n", m->name,
		    (uint64_t)e->start);
		return -1;
	}
	int lh = check_subtree(m, e->left, e, w);
	if (lh < 0)
		return -1;
	if (e != w->expect) {
		fprintf(stderr, "vm_map_check '%s': tree order differs from the "
		    "list at entry 0x%" PRIx64 "\n", m->name, (uint64_t)e->start);
		return -1;
	}
	w->expect = e->next;
	w->count++;
	int rh = check_subtree(m, e->right, e, w);
	if (rh < 0)
		return -1;
	if (lh != rh) {
		fprintf(stderr, "vm_map_check '%s': black heights %d and %d differ "
		    "under entry 0x%" PRIx64 "\n", m->name, lh, rh,
		    (uint64_t)e->start);
		return -1;
	}
	if (e->maxgap != vmt_calc_maxgap(e)) {
		fprintf(stderr, "vm_map_check '%s': entry [0x%" PRIx64 ", 0x%" PRIx64
		    ") has maxgap 0x%" PRIx64 ", its subtree's largest gap is 0x%"
		    PRIx64 "\n", m->name, (uint64_t)e->start, (uint64_t)e->end,
		    (uint64_t)e->maxgap, (uint64_t)vmt_calc_maxgap(e));
		return -1;
	}
	return lh + (e->red ? 0 : 1);
}

int
vm_map__check_locked(struct vm_map_impl *m)
{
	const struct vme *hdr = &m->header;
	const struct vme *hint = atomic_load_explicit(&m->hint, memory_order_relaxed);
	uint64_t n = 0, nsub = 0;
	vm_size_t size = 0;
	bool hint_ok = (hint == hdr);
	vm_offset_t prev_end = m->min;

	if (m->magic != VM_MAP_MAGIC)
		FAIL("bad magic 0x%" PRIx32, m->magic);
	if (hdr->start != m->max || hdr->end != m->min)
		FAIL("header bounds [0x%" PRIx64 ", 0x%" PRIx64 ") are not the map's",
		    (uint64_t)hdr->end, (uint64_t)hdr->start);
	if (hdr->gap != hdr->next->start - m->min)
		FAIL("header gap 0x%" PRIx64 ", expected 0x%" PRIx64,
		    (uint64_t)hdr->gap, (uint64_t)(hdr->next->start - m->min));

	for (const struct vme *e = hdr->next; e != hdr; e = e->next) {
		if (e->prev->next != e || e->next->prev != e)
			FAIL("broken list links at entry 0x%" PRIx64, (uint64_t)e->start);
		if (e->start >= e->end)
			FAIL("empty or inverted entry [0x%" PRIx64 ", 0x%" PRIx64 ")",
			    (uint64_t)e->start, (uint64_t)e->end);
		if (((e->start | e->end) & m->page_mask) != 0)
			FAIL("unaligned entry [0x%" PRIx64 ", 0x%" PRIx64 ")",
			    (uint64_t)e->start, (uint64_t)e->end);
		if (e->start < prev_end)
			FAIL("entry [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps or precedes "
			    "the one before (ends 0x%" PRIx64 ")", (uint64_t)e->start,
			    (uint64_t)e->end, (uint64_t)prev_end);
		if (e->end > m->max)
			FAIL("entry [0x%" PRIx64 ", 0x%" PRIx64 ") beyond the map's end",
			    (uint64_t)e->start, (uint64_t)e->end);
		if (e->gap != e->next->start - e->end)
			FAIL("entry [0x%" PRIx64 ", 0x%" PRIx64 ") gap 0x%" PRIx64
			    ", expected 0x%" PRIx64, (uint64_t)e->start,
			    (uint64_t)e->end, (uint64_t)e->gap,
			    (uint64_t)(e->next->start - e->end));
		if ((e->prot & e->maxprot) != e->prot || (e->maxprot & ~VM_PROT_ALL))
			FAIL("entry 0x%" PRIx64 ": protection 0x%x exceeds maximum 0x%x",
			    (uint64_t)e->start, e->prot, e->maxprot);
		if (e->flags & VM_MAP_ENTRY_IS_SUB_MAP) {
			const struct vm_map_impl *s = e->u.submap;
			if (s == NULL || s->magic != VM_MAP_MAGIC ||
			    s->min != e->start || s->max != e->end ||
			    atomic_load(&s->installed) < 1)
				FAIL("submap entry [0x%" PRIx64 ", 0x%" PRIx64 ") does not "
				    "match a live installed map", (uint64_t)e->start,
				    (uint64_t)e->end);
			nsub++;
		}
		if (e == hint)
			hint_ok = true;
		prev_end = e->end;
		size += e->end - e->start;
		n++;
	}
	if (!hint_ok)
		FAIL("the lookup hint %p is not an entry of the map", (const void *)hint);
	if (n != m->nentries)
		FAIL("%" PRIu64 " entries on the list, counter says %" PRIu64,
		    n, m->nentries);
	if (nsub != m->nsubmaps)
		FAIL("%" PRIu64 " submap entries, counter says %" PRIu64,
		    nsub, m->nsubmaps);
	if (size != m->size)
		FAIL("entries hold 0x%" PRIx64 " bytes, counter says 0x%" PRIx64,
		    (uint64_t)size, (uint64_t)m->size);

	struct tree_walk w = { hdr->next, 0, 0 };
	if (m->root != NULL && m->root->red)
		FAIL("the root is red");
	if (check_subtree(m, m->root, NULL, &w) < 0)
		return 1;
	if (w.count != n || w.expect != hdr)
		FAIL("the tree holds %" PRIu64 " entries, the list %" PRIu64,
		    w.count, n);

	uint64_t idle = 0;
	for (const struct vme *e = m->idle; e != NULL; e = e->u.idle_next)
		if (++idle > m->ntotal)
			break;
	if (idle != m->nidle || m->nidle + m->nentries != m->ntotal)
		FAIL("entry records: %" PRIu64 " idle (counter %" PRIu64 "), %"
		    PRIu64 " in use, %" PRIu64 " owned", idle, m->nidle,
		    m->nentries, m->ntotal);
	return 0;
}

int
vm_map_check(vm_map_t map)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_check");
	bool t = vm_map__rlock(m);
	int rc = vm_map__check_locked(m);
	vm_map__runlock(m, t);
	return rc;
}

/* ======================================================================
 * Statistics, walk, dump
 * ====================================================================== */

size_t
vm_map_entry_count(vm_map_t map)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_entry_count");
	bool t = vm_map__rlock(m);
	size_t n = (size_t)m->nentries;
	vm_map__runlock(m, t);
	return n;
}

vm_size_t
vm_map_size(vm_map_t map)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_size");
	bool t = vm_map__rlock(m);
	vm_size_t s = m->size;
	vm_map__runlock(m, t);
	return s;
}

int
vm_map_get_stats(vm_map_t map, struct vm_map_stats *st)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_get_stats");

	if (st == NULL || st->version != VM_MAP_STATS_VERSION)
		return EINVAL;
	memset(st, 0, sizeof(*st));
	st->version = VM_MAP_STATS_VERSION;
	st->size = (uint32_t)sizeof(*st);

	bool t = vm_map__rlock(m);
	memcpy(st->name, m->name, sizeof(st->name));
	st->min = m->min;
	st->max = m->max;
	st->page_size = m->page_size;
	st->superpage_size = m->superpage;
	st->entries = m->nentries;
	st->submap_entries = m->nsubmaps;
	st->size_mapped = m->size;
	st->size_free = (m->max - m->min) - m->size;
	st->maxfree = vmt_map_maxgap(m);
	st->tree_height = vmt_height(m->root);
	st->is_submap = (uint64_t)atomic_load(&m->installed);
	st->finds = m->st_finds + atomic_load(&m->st_rfinds);
	st->find_fails = m->st_find_fails + atomic_load(&m->st_rfind_fails);
	st->inserts = m->st_inserts;
	st->merges = m->st_merges;
	st->clips = m->st_clips;
	st->removes = m->st_removes;
	st->entries_removed = m->st_entries_removed;
	st->changes = m->st_changes;
	st->lookups = atomic_load(&m->st_lookups);
	st->lookup_hint_hits = atomic_load(&m->st_hint_hits);
	st->sleeps = m->st_sleeps;
	st->wakeups = m->st_wakeups;
	st->misuses = atomic_load(&m->st_misuses);
	st->entries_allocated = m->ntotal;
	st->entries_idle = m->nidle;
	uint64_t nslabs = 0;
	for (const struct vme_slab *s = m->slabs; s != NULL; s = s->next)
		nslabs++;
	st->metadata_bytes = nslabs * sizeof(struct vme_slab);
	vm_map__runlock(m, t);
	return 0;
}

int
vm_map_walk(vm_map_t map, vm_map_walk_fn *fn, void *arg)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_walk");
	struct vm_map_entry_info info;
	int rc = 0;

	if (fn == NULL)
		return EINVAL;
	bool t = vm_map__rlock(m);
	for (const struct vme *e = m->header.next; e != &m->header; e = e->next) {
		vm_map__info(e, &info);
		if ((rc = fn(arg, &info)) != 0)
			break;
	}
	vm_map__runlock(m, t);
	return rc;
}

static void
prot_str(char *buf, unsigned p)
{
	buf[0] = (p & VM_PROT_READ) ? 'r' : '-';
	buf[1] = (p & VM_PROT_WRITE) ? 'w' : '-';
	buf[2] = (p & VM_PROT_EXECUTE) ? 'x' : '-';
	buf[3] = '\0';
}

void
vm_map_dump(vm_map_t map, vm_map_printf_fn *pr)
{
	struct vm_map_impl *m = vm_map__get(map, "vm_map_dump");
	char p1[4], p2[4];

	if (pr == NULL)
		pr = printf;
	bool t = vm_map__rlock(m);
	pr("vm_map '%s' [0x%" PRIx64 ", 0x%" PRIx64 ") page 0x%" PRIx64
	    " superpage 0x%" PRIx64 ": %" PRIu64 " entries, 0x%" PRIx64
	    " bytes mapped, largest gap 0x%" PRIx64 "%s\n", m->name,
	    (uint64_t)m->min, (uint64_t)m->max, (uint64_t)m->page_size,
	    (uint64_t)m->superpage, m->nentries, (uint64_t)m->size,
	    (uint64_t)vmt_map_maxgap(m),
	    atomic_load(&m->installed) ? " (installed as a submap)" : "");
	if (m->header.gap != 0)
		pr("  free  [0x%" PRIx64 ", 0x%" PRIx64 ")\n", (uint64_t)m->min,
		    (uint64_t)(m->min + m->header.gap));
	for (const struct vme *e = m->header.next; e != &m->header; e = e->next) {
		prot_str(p1, e->prot);
		prot_str(p2, e->maxprot);
		if (e->flags & VM_MAP_ENTRY_IS_SUB_MAP)
			pr("  entry [0x%" PRIx64 ", 0x%" PRIx64 ") %s/%s submap '%s'\n",
			    (uint64_t)e->start, (uint64_t)e->end, p1, p2,
			    e->u.submap->name);
		else
			pr("  entry [0x%" PRIx64 ", 0x%" PRIx64 ") %s/%s inh %u adv %u "
			    "wired %u%s%s obj %p off 0x%" PRIx64 "\n",
			    (uint64_t)e->start, (uint64_t)e->end, p1, p2,
			    e->inherit, e->advice, e->wired,
			    (e->flags & VM_MAP_ENTRY_NOFAULT) ? " nofault" : "",
			    (e->flags & VM_MAP_ENTRY_NOMERGE) ? " nomerge" : "",
			    (void *)e->u.object, (uint64_t)e->offset);
		if (e->gap != 0)
			pr("  free  [0x%" PRIx64 ", 0x%" PRIx64 ")\n",
			    (uint64_t)e->end, (uint64_t)(e->end + e->gap));
	}
	vm_map__runlock(m, t);
}
