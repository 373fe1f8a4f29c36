/*
 * vmmap_test.c -- helpers shared by the vm_map suites (see vmmap_test.h).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmmap_test.h"

void
tm_fini(void)
{
	kvt_watchdog_stop();
	cr_assert_eq(vm_map__live_maps(), 0,
	    "%ld map(s) still live at the end of the test", vm_map__live_maps());
	cr_assert_eq(vm_map__live_slabs(), 0,
	    "%ld entry slab(s) still live after every map was destroyed",
	    vm_map__live_slabs());
}

vm_map_t
tm_map(const char *name, vm_offset_t base, uint64_t npages)
{
	vm_map_t m = vm_map_create(name, base, base + npages * PG, PG);
	cr_assert_not_null(m, "vm_map_create(%s)", name);
	return m;
}

static void
push(struct tm_pmap *p, struct tm_call c)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 64;
		p->call = realloc(p->call, p->cap * sizeof(*p->call));
		if (p->call == NULL)
			abort();
	}
	p->call[p->n++] = c;
}

static void
rec_remove(void *arg, vm_offset_t start, vm_offset_t end)
{
	push(arg, (struct tm_call){ .kind = 'r', .start = start, .end = end });
}

static void
rec_free(void *arg, vm_object_t object, vm_ooffset_t offset, vm_size_t size)
{
	push(arg, (struct tm_call){ .kind = 'f', .object = object,
	    .offset = offset, .size = size });
}

static void
rec_protect(void *arg, vm_offset_t start, vm_offset_t end, vm_prot_t prot)
{
	push(arg, (struct tm_call){ .kind = 'p', .start = start, .end = end,
	    .prot = prot });
}

const struct vm_map_pmap_ops tm_pmap_ops = {
	.remove = rec_remove,
	.free_pages = rec_free,
	.protect = rec_protect,
};

void
tm_pmap_reset(struct tm_pmap *p)
{
	free(p->call);
	memset(p, 0, sizeof(*p));
}

vm_size_t
tm_removed_bytes(const struct tm_pmap *p)
{
	vm_size_t s = 0;
	for (size_t i = 0; i < p->n; i++)
		if (p->call[i].kind == 'r')
			s += p->call[i].end - p->call[i].start;
	return s;
}

vm_size_t
tm_freed_bytes(const struct tm_pmap *p)
{
	vm_size_t s = 0;
	for (size_t i = 0; i < p->n; i++)
		if (p->call[i].kind == 'f')
			s += p->call[i].size;
	return s;
}

static int
snap_cb(void *arg, const struct vm_map_entry_info *e)
{
	struct tm_snap *s = arg;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->e = realloc(s->e, s->cap * sizeof(*s->e));
		if (s->e == NULL)
			abort();
	}
	s->e[s->n++] = *e;
	return 0;
}

void
tm_snap_take(vm_map_t map, struct tm_snap *s)
{
	memset(s, 0, sizeof(*s));
	cr_assert_eq(vm_map_walk(map, snap_cb, s), 0);
	s->size = vm_map_size(map);
	cr_assert_eq(s->n, vm_map_entry_count(map));
}

int
tm_snap_same(const struct tm_snap *a, const struct tm_snap *b)
{
	if (a->n != b->n || a->size != b->size)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (memcmp(&a->e[i], &b->e[i], sizeof(a->e[i])) != 0)
			return 0;
	return 1;
}

void
tm_snap_free(struct tm_snap *s)
{
	free(s->e);
	memset(s, 0, sizeof(*s));
}

struct nth {
	size_t				want, at;
	struct vm_map_entry_info	info;
	int				found;
};

static int
nth_cb(void *arg, const struct vm_map_entry_info *e)
{
	struct nth *n = arg;
	if (n->at++ == n->want) {
		n->info = *e;
		n->found = 1;
		return 1;
	}
	return 0;
}

struct vm_map_entry_info
tm_entry(vm_map_t map, size_t i)
{
	struct nth n;
	memset(&n, 0, sizeof(n));
	n.want = i;
	vm_map_walk(map, nth_cb, &n);
	cr_assert(n.found, "map has no entry %zu", i);
	return n.info;
}

struct vm_map_stats
tm_stats(vm_map_t map)
{
	struct vm_map_stats st;
	memset(&st, 0, sizeof(st));
	st.version = VM_MAP_STATS_VERSION;
	cr_assert_eq(vm_map_get_stats(map, &st), 0);
	return st;
}

void
tm_misuse_record(void *arg, vm_map_t map, enum vm_map_misuse kind,
    vm_offset_t addr, const char *msg)
{
	struct tm_misuse *r = arg;
	(void)addr;
	r->count++;
	r->kind = kind;
	r->map = map;
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
}
