/*
 * test_vm_map_model.c -- the map driven by long random sequences of find,
 * findspace, insert, remove, protect, madvise, wire/unwire, clip and lookup
 * against a reference interval model (a sorted array, linear scans).
 *
 * After every call the result code is compared with the model's; every
 * search must return exactly the model's first (or top-down last) fit, so
 * a search never fails while the model has a fitting gap and always honours
 * alignment; every deletion must report exactly the mapped bytes to the
 * pmap.  Every 1000 operations the map is checked (vm_map_check) and its
 * contents, with neighbouring entries of identical attributes joined, must
 * equal the model's.
 *
 * KVMEM_MODEL_OPS overrides the operation count (default 10^6), KVMEM_SEED
 * the seed (printed with every failure).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmmap_test.h"

TestSuite(vm_map_model, .fini = tm_fini, .timeout = 600);

/* ---- The model --------------------------------------------------------------- */

struct mi {
	vm_offset_t	s, e;
	vm_object_t	obj;
	int64_t		off;
	unsigned	prot, max, adv, inh, flags, wired;
};

struct model {
	vm_offset_t	min, max;
	struct mi	*v;
	size_t		n, cap;
};

/* Whether a and b (a before b, touching) describe one run of the map. */
static int
same_run(const struct mi *a, const struct mi *b)
{
	return a->e == b->s && a->obj == b->obj && a->prot == b->prot &&
	    a->max == b->max && a->adv == b->adv && a->inh == b->inh &&
	    a->flags == b->flags && a->wired == b->wired &&
	    (a->obj == NULL || a->off + (int64_t)(a->e - a->s) == b->off);
}

static void
m_normalize(struct model *m)
{
	size_t w = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (w > 0 && same_run(&m->v[w - 1], &m->v[i]))
			m->v[w - 1].e = m->v[i].e;
		else
			m->v[w++] = m->v[i];
	}
	m->n = w;
}

static void
m_put(struct model *m, size_t at, struct mi x)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
		if (m->v == NULL)
			abort();
	}
	memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof(*m->v));
	m->v[at] = x;
	m->n++;
}

/* Index of the first interval ending after a. */
static size_t
m_first_after(const struct model *m, vm_offset_t a)
{
	size_t i = 0;
	while (i < m->n && m->v[i].e <= a)
		i++;
	return i;
}

/* Split the interval containing a (if any, not at its start). */
static void
m_split(struct model *m, vm_offset_t a)
{
	size_t i = m_first_after(m, a);
	if (i < m->n && m->v[i].s < a) {
		struct mi t = m->v[i];
		m->v[i].e = a;
		t.off += (int64_t)(a - t.s);
		t.s = a;
		if (t.obj == NULL)
			t.off = 0;
		m_put(m, i + 1, t);
	}
}

static int
m_overlaps(const struct model *m, vm_offset_t s, vm_offset_t e)
{
	size_t i = m_first_after(m, s);
	return i < m->n && m->v[i].s < e;
}

static void
m_insert(struct model *m, struct mi x)
{
	size_t i = m_first_after(m, x.s);
	m_put(m, i, x);
	m_normalize(m);
}

/* Remove [s, e); returns bytes mapped and (via *objbytes) object bytes. */
static vm_size_t
m_remove(struct model *m, vm_offset_t s, vm_offset_t e, vm_size_t *objbytes)
{
	vm_size_t bytes = 0, ob = 0;
	m_split(m, s);
	m_split(m, e);
	size_t w = 0;
	for (size_t i = 0; i < m->n; i++) {
		struct mi *x = &m->v[i];
		if (x->s >= s && x->e <= e) {
			bytes += x->e - x->s;
			if (x->obj != NULL)
				ob += x->e - x->s;
		} else {
			m->v[w++] = *x;
		}
	}
	m->n = w;
	m_normalize(m);
	*objbytes = ob;
	return bytes;
}

static vm_size_t
m_bytes(const struct model *m)
{
	vm_size_t b = 0;
	for (size_t i = 0; i < m->n; i++)
		b += m->v[i].e - m->v[i].s;
	return b;
}

/* ---- Placement rules, written independently of the library ----------------- */

struct mreq {
	vm_size_t	len, align, phase;
	vm_offset_t	lo, hi;
	int		topdown;
};

static int
fit_gap(const struct mreq *r, vm_offset_t glo, vm_offset_t ghi, vm_offset_t *out)
{
	vm_offset_t l = glo > r->lo ? glo : r->lo;
	vm_offset_t h = ghi < r->hi ? ghi : r->hi;
	if (h <= l || h - l < r->len)
		return 0;
	if (!r->topdown) {
		vm_offset_t k = l >= r->phase ?
		    (l - r->phase + r->align - 1) / r->align : 0;
		vm_offset_t a = k * r->align + r->phase;
		if (a + r->len > h)
			return 0;
		*out = a;
	} else {
		vm_offset_t t = h - r->len;
		if (t < r->phase)
			return 0;
		vm_offset_t a = (t - r->phase) / r->align * r->align + r->phase;
		if (a < l)
			return 0;
		*out = a;
	}
	return 1;
}

static int
m_search(const struct model *m, const struct mreq *r, vm_offset_t *out)
{
	size_t ngaps = m->n + 1;
	for (size_t k = 0; k < ngaps; k++) {
		size_t g = r->topdown ? ngaps - 1 - k : k;
		vm_offset_t glo = g == 0 ? m->min : m->v[g - 1].e;
		vm_offset_t ghi = g == m->n ? m->max : m->v[g].s;
		if (glo < ghi && fit_gap(r, glo, ghi, out))
			return 1;
	}
	return 0;
}

/* Build the request the spec describes for find_space; 0 if no window. */
static int
m_req(const struct model *m, vm_size_t sp, int how, vm_offset_t hint, vm_size_t len,
    vm_offset_t max_addr, int64_t off, int super, struct mreq *r)
{
	int topdown = (how & VMFS_TOPDOWN) != 0;
	int base = how & 0xff, shift = (how >> 8) & 0xff;

	r->len = len;
	r->topdown = topdown;
	r->align = PG;
	r->phase = 0;
	if (shift != 0 && ((vm_size_t)1 << shift) > PG)
		r->align = (vm_size_t)1 << shift;
	if (super && (base == VMFS_SUPER_SPACE || base == VMFS_OPTIMAL_SPACE) &&
	    sp > PG && len >= sp) {
		vm_size_t phase = (vm_size_t)off % sp;
		vm_size_t lead = (sp - phase) % sp;
		if (len - lead >= sp) {
			r->align = sp;
			r->phase = phase;
		}
	}
	r->lo = m->min;
	r->hi = m->max;
	if (max_addr != 0 && max_addr < r->hi)
		r->hi = max_addr;
	if (topdown) {
		if (hint < m->min)
			return 0;
		if (hint < r->hi && r->hi - hint > len)
			r->hi = hint + len;
	} else if (hint > r->lo) {
		r->lo = hint;
	}
	return r->lo < r->hi && r->hi - r->lo >= len;
}

/* Expected outcome of a search: 1 with *out, or 0 (ENOMEM). */
static int
m_expect(const struct model *m, vm_size_t sp, int how, vm_offset_t hint, vm_size_t len,
    vm_offset_t max_addr, int64_t off, vm_offset_t *out)
{
	struct mreq r;
	int base = how & 0xff;
	if (m_req(m, sp, how, hint, len, max_addr, off, 1, &r) && m_search(m, &r, out))
		return 1;
	if (base == VMFS_OPTIMAL_SPACE &&
	    m_req(m, sp, how, hint, len, max_addr, off, 0, &r) && m_search(m, &r, out))
		return 1;
	return 0;
}

/* ---- Comparing the map with the model ------------------------------------- */

struct view {
	struct mi	*v;
	size_t		n, cap;
};

static int
view_cb(void *arg, const struct vm_map_entry_info *e)
{
	struct view *w = arg;
	struct mi x = {
		.s = e->start, .e = e->end, .obj = e->object, .off = e->offset,
		.prot = e->protection, .max = e->max_protection, .adv = e->advice,
		.inh = e->inheritance, .flags = e->flags, .wired = e->wired_count,
	};
	if (w->n > 0 && same_run(&w->v[w->n - 1], &x)) {
		w->v[w->n - 1].e = x.e;
		return 0;
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->v = realloc(w->v, w->cap * sizeof(*w->v));
		if (w->v == NULL)
			abort();
	}
	w->v[w->n++] = x;
	return 0;
}

static void
compare(vm_map_t map, const struct model *m, uint64_t seed, long op)
{
	struct view w = { 0 };
	vm_map_walk(map, view_cb, &w);
	cr_assert_eq(w.n, m->n, "seed %" PRIu64 " op %ld: map has %zu runs, model %zu",
	    seed, op, w.n, m->n);
	for (size_t i = 0; i < w.n; i++)
		cr_assert(memcmp(&w.v[i], &m->v[i], sizeof(w.v[i])) == 0,
		    "seed %" PRIu64 " op %ld: run %zu differs: map [" X64 ", " X64
		    ") prot %u/%u adv %u wired %u obj %p off %" PRId64 "; model ["
		    X64 ", " X64 ") prot %u/%u adv %u wired %u obj %p off %" PRId64,
		    seed, op, i, (uint64_t)w.v[i].s, (uint64_t)w.v[i].e, w.v[i].prot,
		    w.v[i].max, w.v[i].adv, w.v[i].wired, (void *)w.v[i].obj,
		    w.v[i].off, (uint64_t)m->v[i].s, (uint64_t)m->v[i].e,
		    m->v[i].prot, m->v[i].max, m->v[i].adv, m->v[i].wired,
		    (void *)m->v[i].obj, m->v[i].off);
	cr_assert_geq(vm_map_entry_count(map), m->n, "seed %" PRIu64 " op %ld", seed, op);
	cr_assert_eq(vm_map_size(map), m_bytes(m), "seed %" PRIu64 " op %ld", seed, op);
	free(w.v);
}

/* ---- The driver ------------------------------------------------------------------ */

#define SHARED_OBJ	((vm_object_t)(uintptr_t)0x10000)

struct driver {
	vm_map_t	map;
	struct model	m;
	struct tm_pmap	rec;
	struct kvt_rng	r;
	uint64_t	seed;
	vm_size_t	sp;
	uint64_t	npages;
	uintptr_t	next_obj;
	long		op;
	uint64_t	finds_ok, finds_enomem, aligned_finds;
};

/* Attributes of a new entry; the object decides how runs join. */
static struct mi
random_attrs(struct driver *d, vm_offset_t s, int *cow)
{
	struct mi x = { 0 };
	unsigned k = (unsigned)kvt_below(&d->r, 10);

	x.max = kvt_chance(&d->r, 70) ? VM_PROT_ALL : (unsigned)kvt_below(&d->r, 8);
	x.prot = x.max & (unsigned)kvt_below(&d->r, 8);
	if (kvt_chance(&d->r, 60))
		x.prot = x.max & VM_PROT_RW;
	x.inh = VM_INHERIT_DEFAULT;
	*cow = 0;
	if (k < 2) {			/* no-merge: an object of its own */
		*cow = VM_MAP_NOMERGE;
		x.flags = VM_MAP_ENTRY_NOMERGE;
		x.obj = (vm_object_t)(d->next_obj += 0x100);
		x.off = 0;
	} else if (k < 6) {		/* the shared object, offset = address */
		x.obj = SHARED_OBJ;
		x.off = (int64_t)(s - d->m.min);
	} else if (k < 8) {
		x.obj = NULL;
	} else {
		*cow = VM_MAP_NOFAULT | (kvt_chance(&d->r, 30) ? VM_MAP_INHERIT_SHARE : 0);
		x.flags = VM_MAP_ENTRY_NOFAULT;
		x.inh = (*cow & VM_MAP_INHERIT_SHARE) ? VM_INHERIT_SHARE : VM_INHERIT_DEFAULT;
	}
	return x;
}

static vm_size_t
random_len(struct driver *d)
{
	if (kvt_chance(&d->r, 5))
		return kvt_range(&d->r, 1, 4 * d->sp / PG) * PG;
	return kvt_range(&d->r, 1, 16) * PG;
}

static vm_offset_t
random_addr(struct driver *d)
{
	return d->m.min + kvt_below(&d->r, d->npages + 1) * PG;
}

static int
random_how(struct driver *d)
{
	int how;
	switch (kvt_below(&d->r, 6)) {
	case 0: how = VMFS_SUPER_SPACE; break;
	case 1: how = VMFS_OPTIMAL_SPACE; break;
	case 2: how = VMFS_ALIGNED_SPACE((int)kvt_range(&d->r, 12, 18)); break;
	default: how = VMFS_ANY_SPACE; break;
	}
	if (kvt_chance(&d->r, 30))
		how |= VMFS_TOPDOWN;
	return how;
}

static void
op_find(struct driver *d, int insert)
{
	vm_size_t len = random_len(d);
	int how = random_how(d);
	vm_offset_t hint = kvt_chance(&d->r, 40) ?
	    ((how & VMFS_TOPDOWN) ? d->m.max : d->m.min) : random_addr(d);
	vm_offset_t max_addr = kvt_chance(&d->r, 15) ? random_addr(d) : 0;
	vm_offset_t want = 0, got = hint;
	int cow;
	struct mi x = random_attrs(d, 0, &cow);
	int rc;

	if (!insert) {
		max_addr = 0;
		x.obj = NULL;
		x.off = 0;
	}
	/* The shared object's offset must follow the address: only known
	 * after the search, so searches use a fresh object or none. */
	if (x.obj == SHARED_OBJ) {
		x.obj = NULL;
		x.off = 0;
	}
	if (x.obj != NULL)
		x.off = (int64_t)kvt_below(&d->r, 64) * (int64_t)PG;
	int exp = m_expect(&d->m, d->sp, how, hint, len, max_addr, x.off, &want);
	if (insert)
		rc = vm_map_find(d->map, x.obj, x.off, &got, len, max_addr, how,
		    (vm_prot_t)x.prot, (vm_prot_t)x.max, cow);
	else
		rc = vm_map_findspace(d->map, hint, len, how, &got);
	cr_assert_eq(rc, exp ? 0 : ENOMEM,
	    "seed %" PRIu64 " op %ld: %s(hint " X64 ", len " X64 ", max_addr " X64
	    ", how 0x%x, off %" PRId64 ") = %d, model %s " X64, d->seed, d->op,
	    insert ? "find" : "findspace", (uint64_t)hint, (uint64_t)len,
	    (uint64_t)max_addr, how, x.off, rc, exp ? "fits at" : "has no room",
	    (uint64_t)want);
	if (rc != 0) {
		d->finds_enomem++;
		return;
	}
	cr_assert_eq(got, want, "seed %" PRIu64 " op %ld: placed at " X64 ", model's "
	    "fit is " X64 " (hint " X64 ", len " X64 ", how 0x%x)", d->seed, d->op,
	    (uint64_t)got, (uint64_t)want, (uint64_t)hint, (uint64_t)len, how);
	d->finds_ok++;
	if ((how >> 8) & 0xff) {
		cr_assert_eq(got % ((vm_size_t)1 << ((how >> 8) & 0xff)), 0,
		    "seed %" PRIu64 " op %ld: misaligned", d->seed, d->op);
		d->aligned_finds++;
	}
	if (insert) {
		x.s = got;
		x.e = got + len;
		m_insert(&d->m, x);
	}
}

static void
op_insert(struct driver *d)
{
	vm_offset_t s = random_addr(d);
	vm_size_t len = random_len(d);
	vm_offset_t e = s + len;
	int cow;
	struct mi x = random_attrs(d, s, &cow);

	if (e > d->m.max) {
		cr_assert_eq(vm_map_insert(d->map, x.obj, x.off, s, e,
		    (vm_prot_t)x.prot, (vm_prot_t)x.max, cow), EINVAL,
		    "seed %" PRIu64 " op %ld", d->seed, d->op);
		return;
	}
	int exp = m_overlaps(&d->m, s, e) ? EEXIST : 0;
	int rc = vm_map_insert(d->map, x.obj, x.off, s, e, (vm_prot_t)x.prot,
	    (vm_prot_t)x.max, cow);
	cr_assert_eq(rc, exp, "seed %" PRIu64 " op %ld: insert [" X64 ", " X64 ") = %d,"
	    " model %d", d->seed, d->op, (uint64_t)s, (uint64_t)e, rc, exp);
	if (rc == 0) {
		x.s = s;
		x.e = e;
		m_insert(&d->m, x);
	}
}

static void
random_range(struct driver *d, vm_offset_t *s, vm_offset_t *e)
{
	*s = random_addr(d);
	*e = *s + (kvt_chance(&d->r, 10) ? kvt_below(&d->r, d->npages / 4) :
	    kvt_below(&d->r, 24)) * PG;
	if (*e > d->m.max)
		*e = d->m.max;
}

static void
op_remove(struct driver *d)
{
	vm_offset_t s, e;
	vm_size_t objbytes;

	random_range(d, &s, &e);
	d->rec.n = 0;
	cr_assert_eq(vm_map_remove(d->map, s, e), 0, "seed %" PRIu64 " op %ld",
	    d->seed, d->op);
	vm_size_t bytes = m_remove(&d->m, s, e, &objbytes);
	cr_assert_eq(tm_removed_bytes(&d->rec), bytes,
	    "seed %" PRIu64 " op %ld: remove [" X64 ", " X64 ") unmapped " X64
	    " bytes, model " X64, d->seed, d->op, (uint64_t)s, (uint64_t)e,
	    (uint64_t)tm_removed_bytes(&d->rec), (uint64_t)bytes);
	cr_assert_eq(tm_freed_bytes(&d->rec), objbytes, "seed %" PRIu64 " op %ld",
	    d->seed, d->op);
	for (size_t i = 0; i < d->rec.n; i++)
		if (d->rec.call[i].kind == 'r')
			cr_assert(d->rec.call[i].start >= s && d->rec.call[i].end <= e,
			    "seed %" PRIu64 " op %ld: unmap outside the range",
			    d->seed, d->op);
}

/* Apply a change to the model's pieces in [s, e). */
enum mchg { MC_PROT, MC_PROTMAX, MC_ADV, MC_WIRE, MC_UNWIRE };

static int
m_change_check(const struct model *m, vm_offset_t s, vm_offset_t e, enum mchg c,
    unsigned val)
{
	vm_offset_t covered = s;
	if (s == e)
		return 0;
	for (size_t i = m_first_after(m, s); i < m->n && m->v[i].s < e; i++) {
		const struct mi *x = &m->v[i];
		if (c == MC_PROT && (val & x->max) != val)
			return EACCES;
		if (c == MC_UNWIRE && x->wired == 0)
			return EINVAL;
		if ((c == MC_WIRE || c == MC_UNWIRE) && x->s > covered)
			return ENOMEM;
		covered = x->e;
	}
	if ((c == MC_WIRE || c == MC_UNWIRE) && covered < e && s < e)
		return ENOMEM;
	return 0;
}

static void
m_change(struct model *m, vm_offset_t s, vm_offset_t e, enum mchg c, unsigned val)
{
	m_split(m, s);
	m_split(m, e);
	for (size_t i = m_first_after(m, s); i < m->n && m->v[i].s < e; i++) {
		struct mi *x = &m->v[i];
		switch (c) {
		case MC_PROT: x->prot = val; break;
		case MC_PROTMAX: x->max = val; x->prot &= val; break;
		case MC_ADV: x->adv = val; break;
		case MC_WIRE: x->wired++; break;
		case MC_UNWIRE: x->wired--; break;
		}
	}
	m_normalize(m);
}

static void
op_change(struct driver *d)
{
	vm_offset_t s, e;
	enum mchg c;
	unsigned val = 0;
	int rc;

	random_range(d, &s, &e);
	switch (kvt_below(&d->r, 8)) {
	case 0: case 1: case 2:
		c = MC_PROT;
		val = (unsigned)kvt_below(&d->r, 8);
		rc = vm_map_protect(d->map, s, e, (vm_prot_t)val, false);
		break;
	case 3:
		c = MC_PROTMAX;
		val = (unsigned)kvt_range(&d->r, 1, 7);
		rc = vm_map_protect(d->map, s, e, (vm_prot_t)val, true);
		break;
	case 4: case 5:
		c = MC_ADV;
		val = (unsigned)kvt_below(&d->r, 3);
		rc = vm_map_madvise(d->map, s, e, (int)val);
		break;
	case 6:
		c = MC_WIRE;
		rc = vm_map_wire(d->map, s, e);
		break;
	default:
		c = MC_UNWIRE;
		rc = vm_map_unwire(d->map, s, e);
		break;
	}
	int exp = m_change_check(&d->m, s, e, c, val);
	cr_assert_eq(rc, exp, "seed %" PRIu64 " op %ld: change %d [" X64 ", " X64
	    ") val %u = %d, model %d", d->seed, d->op, (int)c, (uint64_t)s,
	    (uint64_t)e, val, rc, exp);
	if (rc == 0)
		m_change(&d->m, s, e, c, val);
}

static void
op_lookup(struct driver *d)
{
	vm_offset_t a = random_addr(d) + kvt_below(&d->r, PG);
	struct vm_map_entry_info info;
	bool found = vm_map_lookup_entry(d->map, a, &info);
	size_t i = m_first_after(&d->m, a);
	bool mfound = a < d->m.max && i < d->m.n && d->m.v[i].s <= a;

	cr_assert_eq(found, mfound, "seed %" PRIu64 " op %ld: lookup " X64,
	    d->seed, d->op, (uint64_t)a);
	if (a >= d->m.max)
		return;
	if (found) {
		const struct mi *x = &d->m.v[i];
		cr_assert(info.start >= x->s && info.end <= x->e && info.start <= a &&
		    a < info.end && info.protection == x->prot &&
		    info.max_protection == x->max && info.advice == x->adv &&
		    info.wired_count == x->wired && info.object == x->obj,
		    "seed %" PRIu64 " op %ld: lookup " X64 " entry mismatch",
		    d->seed, d->op, (uint64_t)a);
	} else {
		vm_offset_t glo = i == 0 ? d->m.min : d->m.v[i - 1].e;
		vm_offset_t ghi = i == d->m.n ? d->m.max : d->m.v[i].s;
		cr_assert(info.start == glo && info.end == ghi &&
		    info.flags == VM_MAP_ENTRY_FREE,
		    "seed %" PRIu64 " op %ld: lookup " X64 " gap mismatch",
		    d->seed, d->op, (uint64_t)a);
	}
}

static void
run_model(const char *name, uint64_t npages, vm_size_t sp, long ops)
{
	struct driver d;

	memset(&d, 0, sizeof(d));
	d.seed = kvt_seed();
	kvt_rng_init(&d.r, d.seed ^ npages);
	d.npages = npages;
	d.sp = sp;
	d.m.min = 0x7ffe00000000ull;
	d.m.max = d.m.min + npages * PG;
	d.next_obj = 0x100000;
	d.map = vm_map_create(name, d.m.min, d.m.max, PG);
	cr_assert_not_null(d.map);
	cr_assert_eq(vm_map_set_superpage_size(d.map, sp), 0);
	vm_map_set_pmap(d.map, &tm_pmap_ops, &d.rec);

	for (d.op = 0; d.op < ops; d.op++) {
		/* Keep the map about half full: more inserts when emptier. */
		unsigned fill = (unsigned)(m_bytes(&d.m) * 100 / (npages * PG));
		unsigned k = (unsigned)kvt_below(&d.r, 100);
		if (k < 30)
			op_find(&d, 1);
		else if (k < 38)
			op_find(&d, 0);
		else if (k < 48)
			op_insert(&d);
		else if (k < 48 + (fill > 50 ? 30 : 18))
			op_remove(&d);
		else if (k < 85)
			op_change(&d);
		else if (k < 92)
			cr_assert_eq(vm_map_clip(d.map, random_addr(&d)), 0,
			    "seed %" PRIu64 " op %ld", d.seed, d.op);
		else
			op_lookup(&d);
		if (d.op % 1000 == 999) {
			cr_assert_eq(vm_map_check(d.map), 0, "seed %" PRIu64 " op %ld",
			    d.seed, d.op);
			compare(d.map, &d.m, d.seed, d.op);
		}
	}
	cr_assert_eq(vm_map_check(d.map), 0, "seed %" PRIu64, d.seed);
	compare(d.map, &d.m, d.seed, d.op);
	/* The searches must have exercised both outcomes and alignment. */
	cr_assert_gt(d.finds_ok, (uint64_t)ops / 10, "seed %" PRIu64, d.seed);
	cr_assert_gt(d.finds_enomem, 0, "seed %" PRIu64, d.seed);
	cr_assert_gt(d.aligned_finds, 0, "seed %" PRIu64, d.seed);
	cr_log_info("%s: %ld ops, %" PRIu64 " finds placed, %" PRIu64 " ENOMEM, "
	    "%zu runs at the end", name, ops, d.finds_ok, d.finds_enomem, d.m.n);
	vm_map_destroy(d.map);
	tm_pmap_reset(&d.rec);
	free(d.m.v);
}

Test(vm_map_model, random_ops)
{
	long ops = (long)kvt_env_ull("KVMEM_MODEL_OPS", 1000000);
	/* 4096 pages, superpages of 16 pages. */
	run_model("model", 4096, 16 * PG, ops);
}

Test(vm_map_model, small_crowded_map)
{
	long ops = (long)kvt_env_ull("KVMEM_MODEL_OPS", 1000000) / 5;
	/* 256 pages: mostly full, searches often fail. */
	run_model("crowded", 256, 8 * PG, ops);
}
