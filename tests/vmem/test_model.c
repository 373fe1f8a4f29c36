/*
 * test_model.c -- randomized model-based test of the arena.
 *
 * Long random sequences of vmem_alloc (every strategy), vmem_xalloc (random
 * constraints, some of them invalid), vmem_xalloc_addr, frees, vmem_add,
 * misuse, and imports/releases through callbacks, each checked against the
 * reference interval model of tests/common/kvmodel.c:
 *   - EINVAL exactly when the rules of SEMANTICS.md say so;
 *   - every allocation lies in free space of the model and satisfies its
 *     constraints; best fit takes a smallest fitting gap, top-down the
 *     highest placement, bottom-up strategies the lowest placement inside
 *     the chosen gap;
 *   - ENOMEM only when no free gap of the model could hold the request;
 *   - vmem_size(VMEM_ALLOC/VMEM_FREE) equal to the model after every op;
 *   - every 1000 ops: vmem_check(), the walk equal to the model, stats.
 * The run is split into epochs, each with a fresh arena and a random
 * configuration (import mode, import quantum, limit, spans).
 *
 * With quantum caches (KVMEM_TEST_QCACHE, see kvtest.h) the model holds
 * what callers hold: vmem_size() counts idle cached objects as free, and so
 * does the model.  The segment layer also holds the caches' slabs, so the
 * placement rules (fit strategies, ENOMEM, exact ranges, misuse targets)
 * are checked against t->seg, a model of the segment layer rebuilt from a
 * walk whenever a slab came or went.  Cached vmem_alloc results are only
 * checked against the model (free for callers, aligned); checkpoints check
 * that each lies in a slab of its cache and that slabs are all the segment
 * layer holds beside uncached blocks.  After the run and a drain the arena
 * must be exactly the model again.
 *
 * KVMEM_MODEL_OPS: operations per test (default 1000000).
 * KVMEM_SEED: the seed (printed in every failure message).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvmodel.h"
#include "common/kvtest.h"

TestSuite(model, .fini = kvt_fini_no_live);

#define REGION_ADD	((vmem_addr_t)1 << 36)	/* created and added spans */
#define REGION_IMP	((vmem_addr_t)1 << 48)	/* imports */
#define REGION_IMP_END	((vmem_addr_t)1 << 62)
#define TOP_UNITS	256			/* span ending at VMEM_ADDR_MAX */
#define OPS_PER_EPOCH	20000
#define CHECK_EVERY	1000

enum imode {
	IM_NONE,
	IM_PLAIN_REL,		/* vmem_set_import with release */
	IM_PLAIN_NOREL,		/* vmem_set_import, no release: spans merge */
	IM_X_REL,		/* vmem_set_ximport with release */
	IM_X_NOREL,
	IM_SOURCE,		/* vmem_ximport_from_arena / vmem_release_to_arena */
	IM_COUNT
};

static const char *const imode_name[] = { "none", "import+release",
	"import", "ximport+release", "ximport", "source" };

struct live {
	vmem_addr_t	addr;
	vmem_size_t	rs;		/* rounded size */
	int		x;		/* from vmem_xalloc/xalloc_addr */
	int		c;		/* served by a quantum cache */
};

struct mt {
	uint64_t		seed;
	struct kvt_rng		r;
	vmem_size_t		q;
	unsigned		qshift;		/* log2(q) */
	vmem_t			*vm, *parent;
	struct kvm_model	m;
	int			epoch;
	uint64_t		op;
	const char		*opname;
	/* configuration of the epoch */
	enum imode		mode;
	vmem_size_t		iq;
	vmem_size_t		limit;
	unsigned		fail_pct;
	vmem_addr_t		bump;		/* next import address */
	vmem_addr_t		add_next;	/* next vmem_add address */
	vmem_addr_t		last_freed;
	/* errors found inside callbacks */
	char			err[512];
	struct live		*live;
	size_t			nlive, caplive;
	struct kvt_misuse_log	mlog;
	int			misuses;	/* expected count */
	/* totals */
	uint64_t		n_alloc, n_enomem, n_einval, n_free, n_import,
				n_release, n_add, n_addr, n_misuse;
	uint64_t		n_addr_einval, n_addr_enomem;
	/* at the start of the epoch */
	uint64_t		e_enomem, e_einval, e_addr_einval, e_addr_enomem;
	/* quantum caches of the epoch's arena (0: none) and the segment layer */
	vmem_size_t		qmax;
	struct kvm_model	seg;
	int			seg_valid;	/* seg is up to date but for slabs */
	uint64_t		seg_events;	/* slab_events() when seg was built */
	uint64_t		n_cached, n_unchecked;
};

/* Fail with the seed, epoch, op and configuration in the message. */
static void
mt_fail(struct mt *t, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cr_assert(0, "KVMEM_SEED=%" PRIu64 " quantum %zu epoch %d op %" PRIu64
	    " (%s; import %s, iq %zu, limit %zu): %s", t->seed, t->q, t->epoch,
	    t->op, t->opname ? t->opname : "-", imode_name[t->mode], t->iq,
	    t->limit, buf);
}

#define MT_CHECK(t, cond, ...) do {					\
	if (!(cond))							\
		mt_fail((t), __VA_ARGS__);				\
} while (0)

static void
cb_error(struct mt *t, const char *fmt, ...)
{
	va_list ap;

	if (t->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
}

static vmem_size_t
eff_iq(const struct mt *t)
{
	return (t->iq != 0 ? t->iq : t->q);
}

static int
has_release(enum imode mode)
{
	return (mode == IM_PLAIN_REL || mode == IM_X_REL || mode == IM_SOURCE);
}

static enum kvm_kind
import_kind(const struct mt *t)
{
	return (has_release(t->mode) ? KVM_IMPORTED : KVM_MERGING);
}

/* ---- Import callbacks (all update the model at once) ------------------------ */

static void
note_import(struct mt *t, vmem_addr_t addr, vmem_size_t size)
{
	if (addr % t->q != 0 || size % t->q != 0)
		cb_error(t, "test import returned unaligned span");
	if (kvm_add_span(&t->m, addr, size, import_kind(t)) != 0)
		cb_error(t, "imported span " KVT_X "+%zu overlaps the model", addr,
		    size);
	if (t->seg_valid && kvm_add_span(&t->seg, addr, size, import_kind(t)) != 0)
		t->seg_valid = 0;
	t->n_import++;
}

static int
limit_ok(struct mt *t, vmem_size_t size)
{
	if (t->limit != 0 && t->m.total + size > t->limit) {
		cb_error(t, "import of %zu attempted with %zu of limit %zu in use",
		    size, t->m.total, t->limit);
		return (0);
	}
	return (1);
}

static int
mt_import(void *arg, vmem_size_t size, int flags, vmem_addr_t *addrp)
{
	struct mt *t = arg;

	(void)flags;
	if (size == 0 || size % eff_iq(t) != 0)
		cb_error(t, "import size %zu not a multiple of the import "
		    "quantum %zu", size, eff_iq(t));
	if (!limit_ok(t, size))
		return (ENOMEM);
	if (kvt_chance(&t->r, t->fail_pct))
		return (ENOMEM);
	if (kvt_chance(&t->r, 10))		/* sometimes not adjacent */
		t->bump += t->q * kvt_range(&t->r, 1, 8);
	if (t->bump + size > REGION_IMP_END)
		return (ENOMEM);
	*addrp = t->bump;
	t->bump += size;
	note_import(t, *addrp, size);
	return (0);
}

static int
mt_ximport(void *arg, vmem_size_t size, vmem_size_t align, vmem_size_t phase,
    vmem_size_t nocross, vmem_addr_t minaddr, vmem_addr_t maxaddr, int flags,
    vmem_addr_t *addrp, vmem_size_t *sizep)
{
	struct mt *t = arg;
	struct kvm_req req;
	vmem_addr_t p, start;
	vmem_size_t len;

	(void)flags;
	if (align < t->q)
		align = t->q;
	if (kvm_req_invalid(t->q, size, align, phase, nocross, minaddr, maxaddr,
	    &req)) {
		cb_error(t, "ximport called with an invalid request: size %zu "
		    "align %zu phase %zu nocross %zu min " KVT_X " max " KVT_X,
		    size, align, phase, nocross, minaddr, maxaddr);
		return (EINVAL);
	}
	if (*sizep < size || *sizep % t->q != 0)
		cb_error(t, "ximport suggested size %zu for a request of %zu",
		    *sizep, size);
	if (!limit_ok(t, *sizep))
		return (ENOMEM);
	if (kvt_chance(&t->r, t->fail_pct))
		return (ENOMEM);
	if (!kvm_fit_low(t->bump, REGION_IMP_END - 1, &req, &p))
		return (ENOMEM);
	if (p - t->bump > ((vmem_addr_t)1 << 36))
		return (ENOMEM);		/* do not leap across the region */
	if (t->limit != 0) {
		start = p;
		len = *sizep;
	} else {
		start = kvt_chance(&t->r, 50) ? t->bump : p;
		len = p - start + size;
		if (len < *sizep)
			len = *sizep;
		if (kvt_chance(&t->r, 20))
			len += t->q * kvt_range(&t->r, 1, 16);
	}
	if (start + len > REGION_IMP_END)
		return (ENOMEM);
	*addrp = start;
	*sizep = len;
	t->bump = start + len;
	note_import(t, start, len);
	return (0);
}

static int
mt_source_import(void *arg, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
    vmem_addr_t maxaddr, int flags, vmem_addr_t *addrp, vmem_size_t *sizep)
{
	struct mt *t = arg;
	int rc;

	if (kvt_chance(&t->r, t->fail_pct))
		return (ENOMEM);
	rc = vmem_ximport_from_arena(t->parent, size, align, phase, nocross,
	    minaddr, maxaddr, flags, addrp, sizep);
	if (rc == 0) {
		if (!vmem_contains(t->parent, *addrp))
			cb_error(t, "vmem_ximport_from_arena returned " KVT_X
			    " outside the parent", *addrp);
		note_import(t, *addrp, *sizep);
	} else if (rc != ENOMEM) {
		cb_error(t, "vmem_ximport_from_arena returned %d", rc);
	}
	return (rc);
}

static void
mt_release(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	struct mt *t = arg;

	if (kvm_remove_span(&t->m, addr, size) != 0)
		cb_error(t, "release of " KVT_X "+%zu: not an idle imported span "
		    "of the model", addr, size);
	if (t->seg_valid && kvm_remove_span(&t->seg, addr, size) != 0)
		t->seg_valid = 0;
	t->n_release++;
	if (t->mode == IM_SOURCE)
		vmem_release_to_arena(t->parent, addr, size);
}

/* ---- Live allocations ----------------------------------------------------------- */

static void
live_add(struct mt *t, vmem_addr_t addr, vmem_size_t rs, int x, int c)
{
	if (t->nlive == t->caplive) {
		t->caplive = t->caplive ? 2 * t->caplive : 1024;
		t->live = realloc(t->live, t->caplive * sizeof(*t->live));
		cr_assert_not_null(t->live);
	}
	t->live[t->nlive++] = (struct live){ addr, rs, x, c };
}

static void
live_del(struct mt *t, size_t k)
{
	t->live[k] = t->live[--t->nlive];
}

/* ---- The segment layer under quantum caches ---------------------------------------- */

static struct vmem_qcache_stats
qstats(struct mt *t, unsigned i)
{
	struct vmem_qcache_stats qs;

	memset(&qs, 0, sizeof(qs));
	qs.version = VMEM_STATS_VERSION;
	MT_CHECK(t, vmem_get_qcache_stats(t->vm, i, &qs) == 0,
	    "vmem_get_qcache_stats(%u)", i);
	return (qs);
}

/* Slabs taken and given back so far: changes when the slab set does. */
static uint64_t
slab_events(struct mt *t)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < vmem_qcache_count(t->vm); i++) {
		struct vmem_qcache_stats qs = qstats(t, i);
		n += qs.slab_imports + qs.slab_releases + qs.lone_imports +
		    qs.lone_releases;
	}
	return (n);
}

/*
 * t->seg brought up to date: rebuilt from a walk if a slab came or went
 * since it was built (the ops keep it in step otherwise).
 */
static struct kvm_model *
seg_sync(struct mt *t)
{
	uint64_t ev = slab_events(t);

	if (!t->seg_valid || ev != t->seg_events) {
		MT_CHECK(t, kvm_from_arena(&t->seg, &t->m, t->vm) == 0,
		    "a walked busy segment lies outside the spans or overlaps");
		t->seg_valid = 1;
		t->seg_events = ev;
	}
	return (&t->seg);
}

/* What a cache's slab import asks the segment layer for. */
static const struct kvm_req *
slab_req(struct mt *t, vmem_size_t rs, struct kvm_req *r)
{
	vmem_size_t size = kvt_slab_size(t->vm, rs), align = 1;

	while (align < size)
		align <<= 1;
	*r = (struct kvm_req){ .size = size, .align = align,
	    .minaddr = VMEM_ADDR_MIN, .maxaddr = VMEM_ADDR_MAX };
	return (r);
}

/* Index of the busy interval of m containing addr, or -1. */
static long
busy_containing(const struct kvm_model *m, vmem_addr_t addr)
{
	size_t lo = 0, hi = m->nbusy;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->busy[mid].first <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr - m->busy[lo - 1].first >= m->busy[lo - 1].size)
		return (-1);
	return ((long)lo - 1);
}

/*
 * Checkpoint part with caches: cm is the walked segment layer.  Every
 * busy segment is an uncached block or a slab; every cached block lies in
 * a slab of its cache; the caches' counters agree.
 */
static void
check_caches(struct mt *t, const struct kvm_model *cm, const struct vmem_stats *st)
{
	unsigned nc = vmem_qcache_count(t->vm);
	uint64_t nslabs = 0, nlone = 0, out[16] = { 0 }, want_out[16] = { 0 };
	vmem_size_t slab_bytes = 0, lone_bytes = 0, cached = 0, ssize[16], salign[16];
	size_t nunc = 0;

	MT_CHECK(t, nc <= 16, "%u caches", nc);
	for (unsigned i = 0; i < nc; i++) {
		struct vmem_qcache_stats qs = qstats(t, i);
		nslabs += qs.slabs;
		slab_bytes += qs.slabs * qs.slab_size;
		nlone += qs.lone;
		lone_bytes += qs.lone * qs.objsize;
		out[i] = qs.objs_out;
		ssize[i] = qs.slab_size;
		for (salign[i] = 1; salign[i] < ssize[i]; salign[i] <<= 1)
			continue;
	}
	for (size_t k = 0; k < t->nlive; k++) {
		const struct live *l = &t->live[k];
		long b;

		if (!l->c) {
			nunc++;
			b = kvm_busy_at(cm, l->addr);
			MT_CHECK(t, b >= 0 && cm->busy[b].size == l->rs, "uncached "
			    "block " KVT_X "+%zu is not a busy segment", l->addr, l->rs);
			continue;
		}
		unsigned i = (unsigned)(l->rs / t->q - 1);
		cached += l->rs;
		want_out[i]++;
		b = busy_containing(cm, l->addr);
		if (b >= 0 && cm->busy[b].first == l->addr && cm->busy[b].size == l->rs)
			continue;	/* a lone object (no slab fitted) */
		MT_CHECK(t, b >= 0 && cm->busy[b].size == ssize[i] &&
		    cm->busy[b].first % salign[i] == 0 &&
		    l->addr + l->rs - cm->busy[b].first <= cm->busy[b].size,
		    "cached block " KVT_X "+%zu lies in no slab of its cache "
		    "(slabs of %zu)", l->addr, l->rs, ssize[i]);
	}
	MT_CHECK(t, cm->nbusy == nunc + nslabs + nlone, "%zu busy segments: %zu "
	    "uncached blocks, %" PRIu64 " slabs and %" PRIu64 " lone objects",
	    cm->nbusy, nunc, nslabs, nlone);
	for (unsigned i = 0; i < nc; i++)
		MT_CHECK(t, out[i] == want_out[i], "cache of %zu: %" PRIu64
		    " objects out, the model has %" PRIu64, (i + 1) * t->q, out[i],
		    want_out[i]);
	MT_CHECK(t, st->bytes_cached == slab_bytes + lone_bytes - cached,
	    "bytes_cached %zu, slabs %zu + lone objects %zu - cached blocks %zu",
	    st->bytes_cached, slab_bytes, lone_bytes, cached);
	if (has_release(t->mode))
		for (size_t i = 0; i < cm->nspan; i++)
			MT_CHECK(t, cm->span[i].kind != KVM_IMPORTED ||
			    !kvm_span_idle(cm, &cm->span[i]), "imported span "
			    KVT_X "-" KVT_X " is entirely free but was not released",
			    cm->span[i].first, cm->span[i].last);
}

/* ---- Checks ----------------------------------------------------------------------- */

static void
check_sizes(struct mt *t)
{
	vmem_size_t a = vmem_size(t->vm, VMEM_ALLOC);
	vmem_size_t f = vmem_size(t->vm, VMEM_FREE);

	MT_CHECK(t, t->err[0] == '\0', "%s", t->err);
	MT_CHECK(t, a == t->m.inuse, "vmem_size(VMEM_ALLOC) %zu, model %zu", a,
	    t->m.inuse);
	MT_CHECK(t, f == t->m.total - t->m.inuse,
	    "vmem_size(VMEM_FREE) %zu, model %zu", f, t->m.total - t->m.inuse);
}

struct cmp_state {
	struct mt		*t;
	const struct kvm_model	*m;		/* t->m, or the segment layer */
	const struct kvt_seg	*seg;
	size_t			nseg, i;
	size_t			bi;
	int			bad;
};

/* Emit model entries (busy intervals before gap g) and compare. */
static void
cmp_one(struct cmp_state *cs, vmem_addr_t addr, vmem_size_t size, int type)
{
	if (cs->bad)
		return;
	if (cs->i >= cs->nseg || cs->seg[cs->i].addr != addr ||
	    cs->seg[cs->i].size != size || cs->seg[cs->i].type != type) {
		cs->bad = 1;
		if (cs->i < cs->nseg)
			mt_fail(cs->t, "walk entry %zu is " KVT_X "+%zu type %d; "
			    "model has " KVT_X "+%zu type %d", cs->i,
			    cs->seg[cs->i].addr, cs->seg[cs->i].size,
			    cs->seg[cs->i].type, addr, size, type);
		mt_fail(cs->t, "walk ended after %zu entries; model has "
		    KVT_X "+%zu type %d next", cs->nseg, addr, size, type);
	}
	cs->i++;
}

static int
cmp_gap(void *arg, const struct kvm_gap *g)
{
	struct cmp_state *cs = arg;
	const struct kvm_model *m = cs->m;

	while (cs->bi < m->nbusy && m->busy[cs->bi].first < g->first) {
		cmp_one(cs, m->busy[cs->bi].first, m->busy[cs->bi].size,
		    VMEM_ALLOC);
		cs->bi++;
	}
	cmp_one(cs, g->first, g->last - g->first + 1, VMEM_FREE);
	return (cs->bad);
}

static void
checkpoint(struct mt *t)
{
	size_t ngaps, n, cap;
	struct kvt_seg *seg;
	struct cmp_state cs;
	struct vmem_stats st;
	/* Without caches the segment layer is the model; with, as walked. */
	const struct kvm_model *cm = &t->m;
	vmem_size_t maxfree;

	t->opname = "checkpoint";
	check_sizes(t);
	MT_CHECK(t, vmem_check(t->vm) == 0, "vmem_check failed (see stderr)");
	if (t->parent != NULL)
		MT_CHECK(t, vmem_check(t->parent) == 0, "vmem_check(parent) failed");
	if (t->qmax != 0) {
		struct kvm_model fresh;
		int was_valid = t->seg_valid && slab_events(t) == t->seg_events;

		memset(&fresh, 0, sizeof(fresh));
		MT_CHECK(t, kvm_from_arena(&fresh, &t->m, t->vm) == 0,
		    "a walked busy segment lies outside the spans or overlaps");
		if (was_valid) {
			/* The segment layer as the ops kept it in step. */
			int same = fresh.nbusy == t->seg.nbusy;
			for (size_t i = 0; same && i < fresh.nbusy; i++)
				same = fresh.busy[i].first == t->seg.busy[i].first &&
				    fresh.busy[i].size == t->seg.busy[i].size;
			MT_CHECK(t, same, "the segment layer differs from the "
			    "blocks and slabs the test followed");
		}
		kvm_fini(&t->seg);
		t->seg = fresh;
		t->seg_valid = 1;
		t->seg_events = slab_events(t);
		cm = &t->seg;
	}
	maxfree = kvm_maxfree(cm, &ngaps);

	cap = cm->nbusy + ngaps + 1;
	seg = malloc(cap * sizeof(*seg));
	cr_assert_not_null(seg);
	n = kvt_collect(t->vm, VMEM_ALLOC | VMEM_FREE, seg, cap);
	MT_CHECK(t, n == cm->nbusy + ngaps, "walk has %zu segments, model %zu "
	    "busy + %zu free", n, cm->nbusy, ngaps);
	memset(&cs, 0, sizeof(cs));
	cs.t = t;
	cs.m = cm;
	cs.seg = seg;
	cs.nseg = n;
	kvm_foreach_gap(cm, cmp_gap, &cs);
	while (cs.bi < cm->nbusy) {
		cmp_one(&cs, cm->busy[cs.bi].first, cm->busy[cs.bi].size,
		    VMEM_ALLOC);
		cs.bi++;
	}
	free(seg);

	MT_CHECK(t, vmem_size(t->vm, VMEM_MAXFREE) == maxfree,
	    "VMEM_MAXFREE %zu, model %zu", vmem_size(t->vm, VMEM_MAXFREE), maxfree);
	MT_CHECK(t, vmem_size(t->vm, VMEM_ALLOC | VMEM_FREE) == t->m.total,
	    "total %zu, model %zu", vmem_size(t->vm, VMEM_ALLOC | VMEM_FREE),
	    t->m.total);
	st = kvt_stats(t->vm);
	MT_CHECK(t, st.busy_segs == cm->nbusy, "busy_segs %" PRIu64 ", model %zu",
	    st.busy_segs, cm->nbusy);
	MT_CHECK(t, st.free_segs == ngaps, "free_segs %" PRIu64 ", model %zu",
	    st.free_segs, ngaps);
	MT_CHECK(t, st.bytes_inuse == t->m.inuse, "bytes_inuse");
	MT_CHECK(t, st.bytes_total == t->m.total, "bytes_total");
	MT_CHECK(t, st.misuses == (uint64_t)t->misuses, "misuses %" PRIu64
	    ", expected %d", st.misuses, t->misuses);
	MT_CHECK(t, st.hash_longest_chain <= 16, "hash chain %" PRIu64,
	    st.hash_longest_chain);
	MT_CHECK(t, st.allocs - st.frees == cm->nbusy, "allocs %" PRIu64
	    " - frees %" PRIu64 " != %zu busy", st.allocs, st.frees, cm->nbusy);
	{
		uint64_t einval = t->n_einval - t->e_einval;
		uint64_t aeinval = t->n_addr_einval - t->e_addr_einval;
		uint64_t enomem = t->n_enomem - t->e_enomem;
		uint64_t aenomem = t->n_addr_enomem - t->e_addr_enomem;
		MT_CHECK(t, st.alloc_einval >= einval &&
		    st.alloc_einval <= einval + aeinval, "alloc_einval %" PRIu64
		    ", expected %" PRIu64 " (+ up to %" PRIu64 " exact)",
		    st.alloc_einval, einval, aeinval);
		MT_CHECK(t, st.alloc_fails >= enomem &&
		    st.alloc_fails <= enomem + aenomem, "alloc_fails %" PRIu64
		    ", expected %" PRIu64 " (+ up to %" PRIu64 " exact)",
		    st.alloc_fails, enomem, aenomem);
	}
	{
		/* Merged imports may be one span or several: compare bytes. */
		size_t ns = kvt_count(t->vm, VMEM_SPAN);
		struct kvt_seg *sp = malloc((ns + 1) * sizeof(*sp));
		vmem_size_t sum = 0;

		cr_assert_not_null(sp);
		MT_CHECK(t, kvt_collect(t->vm, VMEM_SPAN, sp, ns) == ns, "walk");
		MT_CHECK(t, ns >= t->m.nspan, "%zu spans walked, the model has "
		    "%zu", ns, t->m.nspan);
		for (size_t i = 0; i < ns; i++)
			sum += sp[i].size;
		free(sp);
		MT_CHECK(t, sum == t->m.total, "spans walked total %zu, model %zu",
		    sum, t->m.total);
		MT_CHECK(t, st.spans == ns, "stats.spans %" PRIu64 ", walked %zu",
		    st.spans, ns);
	}
	if (t->parent != NULL)
		MT_CHECK(t, vmem_size(t->parent, VMEM_ALLOC) == st.bytes_imported,
		    "parent has %zu busy, child imported %zu",
		    vmem_size(t->parent, VMEM_ALLOC), st.bytes_imported);
	{
		vmem_size_t imported = 0;
		for (size_t i = 0; i < t->m.nspan; i++)
			if (t->m.span[i].kind != KVM_ADDED)
				imported += t->m.span[i].last - t->m.span[i].first + 1;
		MT_CHECK(t, st.bytes_imported == imported,
		    "bytes_imported %zu, model %zu", st.bytes_imported, imported);
	}
	if (t->qmax != 0)
		check_caches(t, cm, &st);
}

/* ---- Random requests ---------------------------------------------------------------- */

static vmem_size_t
rand_size(struct mt *t)
{
	uint64_t r = kvt_below(&t->r, 100), u;

	if (r < 60)
		u = kvt_range(&t->r, 1, 4);
	else if (r < 85)
		u = kvt_range(&t->r, 5, 32);
	else if (r < 97)
		u = kvt_range(&t->r, 33, 512);
	else
		u = kvt_range(&t->r, 513, 8192);
	if (t->q > 1 && kvt_chance(&t->r, 50))
		return (u * t->q - kvt_below(&t->r, t->q));
	return (u * t->q);
}

static const int fits[] = { 0, M_FIRSTFIT, M_BESTFIT, M_NEXTFIT, VMEM_TOPDOWN,
	VMEM_TOPDOWN | M_BESTFIT };

static int
rand_flags(struct mt *t, int *invalid)
{
	int f = M_NOWAIT | fits[kvt_below(&t->r, 6)];

	*invalid = 0;
	if (kvt_chance(&t->r, 5))
		f |= M_ZERO;
	if (kvt_below(&t->r, 1000) < 15) {
		*invalid = 1;
		switch (kvt_below(&t->r, 3)) {
		case 0:
			f |= M_WAITOK;
			break;
		case 1:
			f = (f & ~(M_NEXTFIT | M_FIRSTFIT)) | M_FIRSTFIT | M_BESTFIT;
			break;
		default:
			f = (f & ~(M_BESTFIT | M_FIRSTFIT)) | M_BESTFIT | M_NEXTFIT;
			break;
		}
	}
	return (f);
}

static vmem_size_t
next_pow2(vmem_size_t x)
{
	vmem_size_t p = 1;

	while (p < x && p != 0)
		p <<= 1;
	return (p);
}

struct xargs {
	vmem_size_t	size, align, phase, nocross;
	vmem_addr_t	minaddr, maxaddr;
};

static void
rand_xargs(struct mt *t, struct xargs *x)
{
	vmem_size_t q = t->q, rs;
	uint64_t r;

	x->size = rand_size(t);
	rs = (x->size + q - 1) & ~(q - 1);

	r = kvt_below(&t->r, 100);
	if (r < 40)
		x->align = 0;
	else if (r < 85)
		x->align = q << kvt_below(&t->r, 11);
	else if (r < 90)
		x->align = (vmem_size_t)1 << kvt_below(&t->r, t->qshift + 1);
	else if (r < 95)
		x->align = q * (2 * kvt_range(&t->r, 1, 40) + 1);	/* not 2^n */
	else
		x->align = (vmem_size_t)1 << kvt_range(&t->r, 20, 62);

	vmem_size_t ea = x->align < q ? q : x->align;
	r = kvt_below(&t->r, 100);
	if (r < 60 || ea == q)
		x->phase = 0;
	else if (r < 95)
		x->phase = q * kvt_below(&t->r, ea / q);
	else
		x->phase = kvt_chance(&t->r, 50) ? ea : (q > 1 ? q / 2 : ea + q);
	if (ea == q && kvt_chance(&t->r, 3))
		x->phase = q;			/* phase == align */

	r = kvt_below(&t->r, 100);
	if (r < 70)
		x->nocross = 0;
	else if (r < 95)
		x->nocross = next_pow2(rs) << kvt_below(&t->r, 5);
	else
		x->nocross = kvt_chance(&t->r, 50) ? 3 * q : next_pow2(rs) / 2;

	r = kvt_below(&t->r, 100);
	x->minaddr = VMEM_ADDR_MIN;
	x->maxaddr = VMEM_ADDR_MAX;
	if (r < 55 || (r < 70 && t->m.nspan == 0)) {
		/* unconstrained */
	} else if (r < 70) {
		const struct kvm_span *s = &t->m.span[kvt_below(&t->r, t->m.nspan)];
		vmem_size_t ssz = s->last - s->first;
		x->minaddr = s->first + kvt_below(&t->r, ssz / 2 + 1);
		x->maxaddr = x->minaddr + kvt_below(&t->r, rs * 8 + q * 64);
		if (x->maxaddr < x->minaddr)
			x->maxaddr = VMEM_ADDR_MAX;
	} else if (r < 80) {
		x->minaddr = t->bump - kvt_below(&t->r, (vmem_addr_t)1 << 20);
		x->maxaddr = x->minaddr + kvt_range(&t->r, 1 << 16, 1 << 30);
	} else if (r < 85) {
		x->minaddr = kvt_range(&t->r, REGION_ADD, t->add_next);
	} else if (r < 90) {
		x->maxaddr = kvt_range(&t->r, REGION_ADD, t->bump + (1 << 24));
	} else if (r < 95) {
		x->minaddr = VMEM_ADDR_MAX - kvt_below(&t->r, 2 * TOP_UNITS * q);
	} else {
		x->minaddr = kvt_next(&t->r);
		x->maxaddr = kvt_next(&t->r);
	}
}

/* ---- Operations ------------------------------------------------------------------------ */

static int
strategy_of(int flags)
{
	if (flags & VMEM_TOPDOWN)
		return (VMEM_TOPDOWN);
	if (flags & M_BESTFIT)
		return (M_BESTFIT);
	if (flags & M_NEXTFIT)
		return (M_NEXTFIT);
	return (M_FIRSTFIT);
}

/*
 * Before an allocation: with caches, the segment layer as it is now and
 * the slab event count that keeps it valid (see check_alloc_result).
 */
static uint64_t
seg_before(struct mt *t, int cached)
{
	if (t->qmax == 0 || cached)
		return (0);
	(void)seg_sync(t);
	return (t->seg_events);
}

/*
 * Check a successful or failed (constrained) allocation against the model.
 * cached: served by a quantum cache.  ev0: seg_before() of the call.
 */
static void
check_alloc_result(struct mt *t, int rc, vmem_addr_t a, const struct kvm_req *req,
    int flags, int cached, uint64_t ev0)
{
	vmem_size_t best = 0;
	vmem_addr_t top = 0, low = 0;
	struct kvm_gap g;
	int strat = strategy_of(flags);
	/* Where the placement rules apply: the model, or with caches the
	 * segment layer. */
	struct kvm_model *pm = &t->m;

	if (rc == ENOMEM) {
		struct kvm_req slab;
		const struct kvm_req *r = req;

		if (t->qmax != 0) {
			/* After the drain that preceded the failure. */
			pm = seg_sync(t);
			if (cached)
				r = slab_req(t, req->size, &slab);
		}
		MT_CHECK(t, !kvm_search(pm, r, NULL, NULL),
		    "ENOMEM but the %s has a gap for size %zu align %zu "
		    "phase %zu nocross %zu min " KVT_X " max " KVT_X " flags 0x%x%s",
		    pm == &t->m ? "model" : "segment layer", r->size, r->align,
		    r->phase, r->nocross, r->minaddr, r->maxaddr, flags,
		    cached ? " (a slab of a cached size)" : "");
		/* Nor could the object be taken alone (no slab fitted). */
		MT_CHECK(t, !cached || !kvm_search(pm, req, NULL, NULL),
		    "ENOMEM but the segment layer has a gap for a lone object of "
		    "size %zu", req->size);
		t->n_enomem++;
		return;
	}
	MT_CHECK(t, rc == 0, "rc %d", rc);
	MT_CHECK(t, kvm_req_ok(req, a), "placement " KVT_X " violates size %zu "
	    "align %zu phase %zu nocross %zu min " KVT_X " max " KVT_X, a,
	    req->size, req->align, req->phase, req->nocross, req->minaddr,
	    req->maxaddr);
	MT_CHECK(t, kvm_range_free(&t->m, a, req->size),
	    "allocation " KVT_X "+%zu is not free space of the model", a, req->size);
	if (cached) {
		/* From a slab: no strategy; the slab is checked at checkpoints. */
		MT_CHECK(t, kvm_mark_busy(&t->m, a, req->size) == 0, "mark busy");
		t->n_alloc++;
		t->n_cached++;
		return;
	}
	if (t->qmax != 0) {
		/* A drain during the call (slabs given back) leaves the
		 * segment layer seen before the call out of date. */
		if (!t->seg_valid || slab_events(t) != ev0) {
			t->seg_valid = 0;
			t->n_unchecked++;
			MT_CHECK(t, kvm_mark_busy(&t->m, a, req->size) == 0,
			    "mark busy");
			t->n_alloc++;
			return;
		}
		pm = &t->seg;
		MT_CHECK(t, kvm_range_free(pm, a, req->size), "allocation " KVT_X
		    "+%zu is not free space of the segment layer", a, req->size);
	}
	MT_CHECK(t, kvm_gap_of(pm, a, &g), "no gap at " KVT_X, a);
	if (strat == VMEM_TOPDOWN) {
		MT_CHECK(t, kvm_search(pm, req, &best, &top), "search");
		MT_CHECK(t, a == top, "top-down gave " KVT_X ", the highest "
		    "placement is " KVT_X " (size %zu align %zu phase %zu nocross "
		    "%zu min " KVT_X " max " KVT_X ")", a, top, req->size,
		    req->align, req->phase, req->nocross, req->minaddr,
		    req->maxaddr);
	} else if (strat != M_NEXTFIT) {
		MT_CHECK(t, kvm_fit_low(g.first, g.last, req, &low) && low == a,
		    "0x%x gave " KVT_X " in gap " KVT_X "-" KVT_X
		    " whose lowest placement is " KVT_X, strat, a, g.first, g.last,
		    low);
		if (strat == M_BESTFIT) {
			MT_CHECK(t, kvm_search(pm, req, &best, &top), "search");
			MT_CHECK(t, g.last - g.first + 1 == best,
			    "best fit chose a gap of %zu, the smallest that fits "
			    "is %zu (size %zu align %zu phase %zu nocross %zu)",
			    (vmem_size_t)(g.last - g.first + 1), best, req->size,
			    req->align, req->phase, req->nocross);
		}
	}
	MT_CHECK(t, kvm_mark_busy(&t->m, a, req->size) == 0, "mark busy");
	if (pm != &t->m)
		MT_CHECK(t, kvm_mark_busy(pm, a, req->size) == 0, "mark busy (seg)");
	t->n_alloc++;
}

static void
op_alloc(struct mt *t)
{
	vmem_size_t size = rand_size(t);
	int inval, flags = rand_flags(t, &inval);
	struct kvm_req req;
	vmem_addr_t a = 0;
	uint64_t ev0;
	int rc, cached;

	t->opname = "vmem_alloc";
	if (kvt_chance(&t->r, 1))
		size = 0;
	inval |= kvm_req_invalid(t->q, size, 0, 0, 0, VMEM_ADDR_MIN,
	    VMEM_ADDR_MAX, &req);
	cached = !inval && req.size <= t->qmax;
	ev0 = inval ? 0 : seg_before(t, cached);
	rc = vmem_alloc(t->vm, size, flags, &a);
	if (inval) {
		MT_CHECK(t, rc == EINVAL, "vmem_alloc(%zu, 0x%x) gave %d, not EINVAL",
		    size, flags, rc);
		t->n_einval++;
		return;
	}
	MT_CHECK(t, rc == 0 || rc == ENOMEM, "vmem_alloc(%zu, 0x%x) gave %d",
	    size, flags, rc);
	if (rc == 0)
		live_add(t, a, req.size, 0, cached);
	check_alloc_result(t, rc, a, &req, flags, cached, ev0);
}

static void
op_xalloc(struct mt *t)
{
	struct xargs x;
	struct kvm_req req;
	int inval, flags = rand_flags(t, &inval);
	vmem_addr_t a = 0;
	uint64_t ev0;
	int rc;

	t->opname = "vmem_xalloc";
	rand_xargs(t, &x);
	inval |= kvm_req_invalid(t->q, x.size, x.align, x.phase, x.nocross,
	    x.minaddr, x.maxaddr, &req);
	ev0 = inval ? 0 : seg_before(t, 0);
	rc = vmem_xalloc(t->vm, x.size, x.align, x.phase, x.nocross, x.minaddr,
	    x.maxaddr, flags, &a);
	if (inval) {
		MT_CHECK(t, rc == EINVAL, "vmem_xalloc(size %zu align %zu phase %zu "
		    "nocross %zu min " KVT_X " max " KVT_X " flags 0x%x) gave %d, "
		    "the rules say EINVAL", x.size, x.align, x.phase, x.nocross,
		    x.minaddr, x.maxaddr, flags, rc);
		t->n_einval++;
		return;
	}
	MT_CHECK(t, rc == 0 || rc == ENOMEM, "vmem_xalloc(size %zu align %zu "
	    "phase %zu nocross %zu min " KVT_X " max " KVT_X " flags 0x%x) gave %d",
	    x.size, x.align, x.phase, x.nocross, x.minaddr, x.maxaddr, flags, rc);
	if (rc == 0)
		live_add(t, a, req.size, 1, 0);
	check_alloc_result(t, rc, a, &req, flags, 0, ev0);
}

static void
op_xalloc_addr(struct mt *t)
{
	vmem_size_t q = t->q, size = rand_size(t) % (64 * q) + 1, rs;
	vmem_addr_t addr = 0;
	uint64_t r = kvt_below(&t->r, 100), ev0;
	int inval, was_free, rc;

	t->opname = "vmem_xalloc_addr";
	if (r < 50 && t->m.nspan > 0) {
		const struct kvm_span *s = &t->m.span[kvt_below(&t->r, t->m.nspan)];
		addr = s->first + kvt_below(&t->r, s->last - s->first + 1);
		addr &= ~(vmem_addr_t)(q - 1);
	} else if (r < 70 && t->nlive > 0) {
		const struct live *l = &t->live[kvt_below(&t->r, t->nlive)];
		addr = l->addr + l->rs;
	} else if (r < 80) {
		addr = t->bump + q * kvt_below(&t->r, 1024);
	} else if (r < 90 && t->nlive > 0) {
		addr = t->live[kvt_below(&t->r, t->nlive)].addr;
	} else if (r < 95) {
		switch (kvt_below(&t->r, 3)) {
		case 0:
			addr = REGION_ADD + (q > 1 ? q / 2 : 0);
			if (q == 1)
				size = 0;
			break;
		case 1:
			addr = REGION_ADD;
			size = 0;
			break;
		default:
			addr = VMEM_ADDR_MAX - q + 1;
			size = 2 * q;
			break;
		}
	} else {
		addr = kvt_next(&t->r) & ~(vmem_addr_t)(q - 1);
	}
	rs = (size + q - 1) & ~(q - 1);
	inval = size == 0 || addr % q != 0 || rs - 1 > VMEM_ADDR_MAX - addr;
	/* Free for the segment layer (with caches slabs are busy there). */
	ev0 = inval ? 0 : seg_before(t, 0);
	was_free = !inval && kvm_range_free(t->qmax != 0 ? &t->seg : &t->m,
	    addr, rs);
	rc = vmem_xalloc_addr(t->vm, addr, size, M_NOWAIT);
	if (inval) {
		MT_CHECK(t, rc == EINVAL, "vmem_xalloc_addr(" KVT_X ", %zu) gave %d, "
		    "not EINVAL", addr, size, rc);
		t->n_addr_einval++;
		return;
	}
	if (rc == ENOMEM)
		t->n_addr_enomem++;
	MT_CHECK(t, rc == 0 || rc == ENOMEM, "vmem_xalloc_addr(" KVT_X ", %zu) "
	    "gave %d", addr, size, rc);
	MT_CHECK(t, !was_free || rc == 0, "vmem_xalloc_addr(" KVT_X ", %zu): "
	    "ENOMEM for a free range", addr, size);
	if (t->qmax == 0)
		MT_CHECK(t, (rc == 0) == kvm_range_free(&t->m, addr, rs),
		    "vmem_xalloc_addr(" KVT_X ", %zu) gave %d; the model says %s",
		    addr, size, rc, kvm_range_free(&t->m, addr, rs) ? "free" :
		    "not free");
	else if (rc == 0)
		MT_CHECK(t, kvm_range_free(&t->m, addr, rs), "vmem_xalloc_addr("
		    KVT_X ", %zu) overlaps what callers hold", addr, size);
	else
		MT_CHECK(t, !kvm_range_free(seg_sync(t), addr, rs),
		    "vmem_xalloc_addr(" KVT_X ", %zu): ENOMEM, but the segment "
		    "layer has the range free", addr, size);
	if (rc == 0) {
		MT_CHECK(t, kvm_mark_busy(&t->m, addr, rs) == 0, "mark busy");
		if (t->qmax != 0 && t->seg_valid && slab_events(t) == ev0)
			MT_CHECK(t, kvm_mark_busy(&t->seg, addr, rs) == 0,
			    "the segment layer gave " KVT_X "+%zu, busy there",
			    addr, rs);
		else
			t->seg_valid = 0;
		live_add(t, addr, rs, 1, 0);
		t->n_addr++;
	}
}

static void
op_free(struct mt *t)
{
	size_t k = kvt_below(&t->r, t->nlive);
	struct live l = t->live[k];
	vmem_size_t fsize = l.rs - kvt_below(&t->r, t->q);
	const struct kvm_span *s;

	t->opname = l.x ? "vmem_xfree" : "vmem_free";
	live_del(t, k);
	MT_CHECK(t, kvm_mark_free(&t->m, l.addr, l.rs) == 0, "model free");
	if (t->seg_valid && !l.c && kvm_mark_free(&t->seg, l.addr, l.rs) != 0)
		t->seg_valid = 0;
	if (l.x)
		vmem_xfree(t->vm, l.addr, fsize);
	else
		vmem_free(t->vm, l.addr, fsize);
	MT_CHECK(t, t->mlog.count == t->misuses, "free of " KVT_X " size %zu "
	    "reported misuse: %s", l.addr, fsize, t->mlog.msg);
	t->last_freed = l.addr;
	t->n_free++;
	/* With caches a span can hold slabs: checked at checkpoints. */
	if (t->qmax == 0 && has_release(t->mode) &&
	    (s = kvm_span_of(&t->m, l.addr)) != NULL &&
	    s->kind == KVM_IMPORTED)
		MT_CHECK(t, !kvm_span_idle(&t->m, s), "imported span " KVT_X "-"
		    KVT_X " is entirely free but was not released", s->first,
		    s->last);
}

static void
op_add(struct mt *t)
{
	vmem_size_t size = t->q * kvt_range(&t->r, 1, 2048);
	vmem_addr_t addr = t->add_next;
	int rc;

	t->opname = "vmem_add";
	if (t->limit != 0 && t->m.total + size > t->limit)
		return;
	if (!kvt_chance(&t->r, 30))
		addr += t->q * kvt_range(&t->r, 1, 64);
	rc = vmem_add(t->vm, addr, size, M_NOWAIT);
	MT_CHECK(t, rc == 0, "vmem_add(" KVT_X ", %zu) gave %d", addr, size, rc);
	MT_CHECK(t, kvm_add_span(&t->m, addr, size, KVM_ADDED) == 0, "model add");
	if (t->seg_valid && kvm_add_span(&t->seg, addr, size, KVM_ADDED) != 0)
		t->seg_valid = 0;
	t->add_next = addr + size;
	t->n_add++;
}

static void
op_bad_add(struct mt *t)
{
	vmem_addr_t addr;
	vmem_size_t size;

	t->opname = "vmem_add (bad)";
	switch (kvt_below(&t->r, 4)) {
	case 0:
		addr = t->add_next + t->q;
		size = 0;
		break;
	case 1:
		if (t->q == 1)
			return;
		addr = t->add_next + t->q / 2;
		size = t->q;
		break;
	case 2:
		addr = VMEM_ADDR_MAX - t->q + 1;
		size = 2 * t->q;
		break;
	default:
		if (t->m.nspan == 0)
			return;
		/* Overlapping an existing span: misuse, then EINVAL. */
		{
			const struct kvm_span *s =
			    &t->m.span[kvt_below(&t->r, t->m.nspan)];
			addr = s->first;
			size = t->q;
			MT_CHECK(t, vmem_add(t->vm, addr, size, M_NOWAIT) == EINVAL,
			    "overlapping vmem_add(" KVT_X ") not EINVAL", addr);
			t->misuses++;
			MT_CHECK(t, t->mlog.count == t->misuses &&
			    t->mlog.kind == VMEM_MISUSE_ADD_OVERLAP,
			    "overlapping vmem_add not reported (count %d kind %d)",
			    t->mlog.count, t->mlog.kind);
			t->n_misuse++;
			return;
		}
	}
	MT_CHECK(t, vmem_add(t->vm, addr, size, M_NOWAIT) == EINVAL,
	    "vmem_add(" KVT_X ", %zu) not EINVAL", addr, size);
	MT_CHECK(t, t->mlog.count == t->misuses, "bad vmem_add reported misuse");
}

static void
op_misuse_free(struct mt *t)
{
	vmem_addr_t addr;
	vmem_size_t size;
	enum vmem_misuse want;
	struct kvm_gap g;

	t->opname = "misuse";
	switch (kvt_below(&t->r, 3)) {
	case 0:
		/* Free for the segment layer (not in a slab). */
		if (!kvm_gap_of(t->qmax != 0 ? seg_sync(t) : &t->m, t->last_freed,
		    &g))
			return;
		addr = t->last_freed;
		size = t->q;
		want = VMEM_MISUSE_DOUBLE_FREE;
		break;
	case 1:
		if (t->nlive == 0)
			return;
		{
			const struct live *l = &t->live[kvt_below(&t->r, t->nlive)];
			if (l->rs < 2 * t->q || l->c)	/* cached: inside a slab */
				return;
			addr = l->addr + t->q;
			size = t->q;
		}
		want = VMEM_MISUSE_UNKNOWN_FREE;
		break;
	default:
		if (t->nlive == 0)
			return;
		{
			const struct live *l = &t->live[kvt_below(&t->r, t->nlive)];
			if (l->c)
				return;
			addr = l->addr;
			size = l->rs + t->q;
		}
		want = VMEM_MISUSE_SIZE_MISMATCH;
		break;
	}
	vmem_xfree(t->vm, addr, size);
	t->misuses++;
	t->n_misuse++;
	MT_CHECK(t, t->mlog.count == t->misuses, "misuse (kind %d) at " KVT_X
	    " not reported", want, addr);
	MT_CHECK(t, t->mlog.kind == want && t->mlog.addr == addr &&
	    t->mlog.size == size, "misuse at " KVT_X " size %zu: reported kind %d "
	    "addr " KVT_X " size %zu, expected kind %d", addr, size, t->mlog.kind,
	    t->mlog.addr, t->mlog.size, want);
}

/* ---- Epochs ------------------------------------------------------------------------------ */

static void
epoch_begin(struct mt *t)
{
	vmem_size_t q = t->q, size = 0;

	t->mode = (enum imode)kvt_below(&t->r, IM_COUNT);
	switch (kvt_below(&t->r, 4)) {
	case 0: t->iq = 0; break;
	case 1: t->iq = q; break;
	case 2: t->iq = 16 * q; break;
	default: t->iq = 256 * q; break;
	}
	t->fail_pct = kvt_chance(&t->r, 50) ? 5 : 0;
	t->bump = REGION_IMP + ((vmem_addr_t)t->epoch << 40);
	t->add_next = REGION_ADD;
	t->limit = 0;
	t->err[0] = '\0';
	t->misuses = 0;
	t->e_enomem = t->n_enomem;
	t->e_einval = t->n_einval;
	t->e_addr_einval = t->n_addr_einval;
	t->e_addr_enomem = t->n_addr_enomem;
	memset(&t->mlog, 0, sizeof(t->mlog));
	kvm_init(&t->m, q);
	t->parent = NULL;
	t->opname = "setup";

	if (kvt_chance(&t->r, 70))
		size = q * kvt_range(&t->r, 256, 4096);
	t->vm = kvt_vmem_create("model", REGION_ADD, size, q, 0, M_WAITOK);
	cr_assert_not_null(t->vm);
	t->qmax = (vmem_size_t)vmem_qcache_count(t->vm) * q;
	t->seg_valid = 0;
	vmem_set_misuse_handler(t->vm, kvt_misuse_record, &t->mlog);
	if (size != 0)
		cr_assert_eq(kvm_add_span(&t->m, REGION_ADD, size, KVM_ADDED), 0);
	t->add_next = REGION_ADD + size;
	if (kvt_chance(&t->r, 50)) {
		vmem_addr_t top = VMEM_ADDR_MAX - (TOP_UNITS * q - 1);
		MT_CHECK(t, vmem_add(t->vm, top, TOP_UNITS * q, M_NOWAIT) == 0,
		    "vmem_add of the top span");
		cr_assert_eq(kvm_add_span(&t->m, top, TOP_UNITS * q, KVM_ADDED), 0);
	}
	switch (t->mode) {
	case IM_NONE:
		break;
	case IM_PLAIN_REL:
		vmem_set_import(t->vm, mt_import, mt_release, t, t->iq);
		break;
	case IM_PLAIN_NOREL:
		vmem_set_import(t->vm, mt_import, NULL, t, t->iq);
		break;
	case IM_X_REL:
		vmem_set_ximport(t->vm, mt_ximport, mt_release, t, t->iq);
		break;
	case IM_X_NOREL:
		vmem_set_ximport(t->vm, mt_ximport, NULL, t, t->iq);
		break;
	case IM_SOURCE:
		t->parent = kvt_vmem_create("parent", t->bump, (vmem_size_t)1 << 40, q,
		    0, M_WAITOK);
		cr_assert_not_null(t->parent);
		vmem_set_ximport(t->vm, mt_source_import, mt_release, t, t->iq);
		break;
	default:
		break;
	}
	if (t->mode != IM_NONE && kvt_chance(&t->r, 25)) {
		t->limit = t->m.total + q * kvt_range(&t->r, 1024, 16384);
		vmem_set_limit(t->vm, t->limit);
	}
	check_sizes(t);
}

static void
epoch_end(struct mt *t)
{
	checkpoint(t);
	while (t->nlive > 0)
		op_free(t);
	check_sizes(t);
	/* With caches: after a drain the segment layer is the model again. */
	vmem_qcache_drain(t->vm);
	checkpoint(t);
	if (t->qmax != 0)
		MT_CHECK(t, t->seg.nbusy == 0 && kvt_slabs(t->vm) == 0,
		    "%zu busy segments, %" PRIu64 " slabs after everything was "
		    "freed and drained", t->seg.nbusy, kvt_slabs(t->vm));
	t->opname = "vmem_destroy";
	vmem_destroy(t->vm);
	t->vm = NULL;
	MT_CHECK(t, t->err[0] == '\0', "%s", t->err);
	MT_CHECK(t, t->mlog.count == t->misuses, "destroy reported: %s", t->mlog.msg);
	for (size_t i = 0; i < t->m.nspan; i++)
		MT_CHECK(t, t->m.span[i].kind != KVM_IMPORTED, "imported span "
		    KVT_X "-" KVT_X " not released by vmem_destroy",
		    t->m.span[i].first, t->m.span[i].last);
	if (t->parent != NULL) {
		MT_CHECK(t, vmem_size(t->parent, VMEM_ALLOC) == 0,
		    "the parent still has %zu busy after the child was destroyed",
		    vmem_size(t->parent, VMEM_ALLOC));
		vmem_destroy(t->parent);
		t->parent = NULL;
	}
	kvm_fini(&t->m);
	kvm_fini(&t->seg);
	t->seg_valid = 0;
}

static void
run_model(vmem_size_t q)
{
	struct mt *t = calloc(1, sizeof(*t));
	uint64_t ops = kvt_env_ull("KVMEM_MODEL_OPS", 1000000);
	uint64_t done = 0;

	cr_assert_not_null(t);
	t->seed = kvt_seed();
	t->q = q;
	while (((vmem_size_t)1 << t->qshift) < q)
		t->qshift++;
	kvt_rng_init(&t->r, t->seed ^ (q * 0x9e3779b97f4a7c15ull));
	for (t->epoch = 0; done < ops; t->epoch++) {
		uint64_t n = ops - done < OPS_PER_EPOCH ? ops - done : OPS_PER_EPOCH;

		epoch_begin(t);
		for (uint64_t i = 0; i < n; i++, t->op++) {
			unsigned r = (unsigned)kvt_below(&t->r, 1000);
			unsigned p_alloc = t->nlive < 32 ? 750 :
			    t->nlive > 1024 ? 300 : 520;

			if (r < 3) {
				op_add(t);
			} else if (r < 5) {
				op_bad_add(t);
			} else if (r < 10) {
				op_misuse_free(t);
			} else if (t->nlive == 0 ||
			    kvt_below(&t->r, 1000) < p_alloc) {
				unsigned k = (unsigned)kvt_below(&t->r, 100);
				if (k < 45)
					op_alloc(t);
				else if (k < 90)
					op_xalloc(t);
				else
					op_xalloc_addr(t);
			} else {
				op_free(t);
			}
			check_sizes(t);
			if ((i + 1) % CHECK_EVERY == 0)
				checkpoint(t);
		}
		done += n;
		epoch_end(t);
	}
	cr_log_info("model q=%zu: %" PRIu64 " ops in %d epochs: %" PRIu64
	    " allocs (%" PRIu64 " cached, %" PRIu64 " unplaced), %" PRIu64
	    " ENOMEM, %" PRIu64 " EINVAL, %" PRIu64
	    " frees, %" PRIu64 " exact, %" PRIu64 " adds, %" PRIu64 " imports, %"
	    PRIu64 " releases, %" PRIu64 " misuses", q, done, t->epoch,
	    t->n_alloc, t->n_cached, t->n_unchecked, t->n_enomem, t->n_einval,
	    t->n_free, t->n_addr, t->n_add, t->n_import, t->n_release,
	    t->n_misuse);
	/* The mix must actually exercise every outcome. */
	cr_assert_gt(t->n_alloc, done / 10);
	cr_assert_gt(t->n_enomem, 0);
	cr_assert_gt(t->n_einval, 0);
	cr_assert_gt(t->n_addr, 0);
	if (done >= 100000) {
		cr_assert_gt(t->n_import, 0);
		cr_assert_gt(t->n_release, 0);
	}
	if (kvt_qcache_quanta() != 0) {
		cr_assert_gt(t->n_cached, t->n_alloc / 20, "caches served %" PRIu64
		    " of %" PRIu64, t->n_cached, t->n_alloc);
		/* Strategy checks skipped after drains must stay the exception. */
		cr_assert_lt(t->n_unchecked, (t->n_alloc - t->n_cached) / 10);
	}
	free(t->live);
	free(t);
}

Test(model, quantum_1, .timeout = 600)
{
	run_model(1);
}

Test(model, quantum_4096, .timeout = 600)
{
	run_model(4096);
}
