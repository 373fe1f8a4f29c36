/*
 * kvmodel.c -- reference interval model (see kvmodel.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/kvmodel.h"

void
kvm_init(struct kvm_model *m, vmem_size_t quantum)
{
	memset(m, 0, sizeof(*m));
	m->quantum = quantum;
}

void
kvm_fini(struct kvm_model *m)
{
	free(m->span);
	free(m->busy);
	memset(m, 0, sizeof(*m));
}

static void *
grow(void *p, size_t *cap, size_t elem)
{
	*cap = *cap ? 2 * *cap : 64;
	p = realloc(p, *cap * elem);
	if (p == NULL)
		abort();
	return (p);
}

/* Index of the first span with first > addr. */
static size_t
span_ub(const struct kvm_model *m, vmem_addr_t addr)
{
	size_t lo = 0, hi = m->nspan;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->span[mid].first <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* Index of the first busy interval with first >= addr. */
static size_t
busy_lb(const struct kvm_model *m, vmem_addr_t addr)
{
	size_t lo = 0, hi = m->nbusy;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->busy[mid].first < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

static vmem_addr_t
busy_last(const struct kvm_busy *b)
{
	return (b->first + (b->size - 1));
}

const struct kvm_span *
kvm_span_of(const struct kvm_model *m, vmem_addr_t addr)
{
	size_t i = span_ub(m, addr);

	if (i == 0 || m->span[i - 1].last < addr)
		return (NULL);
	return (&m->span[i - 1]);
}

/* Nonzero if some busy byte lies in [first, last]. */
static int
busy_overlaps(const struct kvm_model *m, vmem_addr_t first, vmem_addr_t last)
{
	size_t i = busy_lb(m, first);

	if (i > 0 && busy_last(&m->busy[i - 1]) >= first)
		return (1);
	if (i < m->nbusy && m->busy[i].first <= last)
		return (1);
	return (0);
}

int
kvm_span_idle(const struct kvm_model *m, const struct kvm_span *s)
{
	return (!busy_overlaps(m, s->first, s->last));
}

int
kvm_add_span(struct kvm_model *m, vmem_addr_t addr, vmem_size_t size,
    enum kvm_kind kind)
{
	vmem_addr_t last;
	size_t i;

	if (size == 0 || addr + (size - 1) < addr)
		return (-1);
	last = addr + (size - 1);
	i = span_ub(m, addr);
	if (i > 0 && m->span[i - 1].last >= addr)
		return (-1);
	if (i < m->nspan && m->span[i].first <= last)
		return (-1);
	if (kind == KVM_MERGING) {
		int left = i > 0 && m->span[i - 1].kind == KVM_MERGING &&
		    m->span[i - 1].last + 1 == addr;
		int right = i < m->nspan && m->span[i].kind == KVM_MERGING &&
		    last != VMEM_ADDR_MAX && m->span[i].first == last + 1;
		if (left && right) {
			m->span[i - 1].last = m->span[i].last;
			memmove(&m->span[i], &m->span[i + 1],
			    (m->nspan - i - 1) * sizeof(*m->span));
			m->nspan--;
			m->total += size;
			return (0);
		}
		if (left) {
			m->span[i - 1].last = last;
			m->total += size;
			return (0);
		}
		if (right) {
			m->span[i].first = addr;
			m->total += size;
			return (0);
		}
	}
	if (m->nspan == m->capspan)
		m->span = grow(m->span, &m->capspan, sizeof(*m->span));
	memmove(&m->span[i + 1], &m->span[i], (m->nspan - i) * sizeof(*m->span));
	m->span[i] = (struct kvm_span){ addr, last, kind };
	m->nspan++;
	m->total += size;
	return (0);
}

int
kvm_remove_span(struct kvm_model *m, vmem_addr_t addr, vmem_size_t size)
{
	size_t i;

	if (size == 0 || addr + (size - 1) < addr)
		return (-1);
	i = span_ub(m, addr);
	if (i == 0)
		return (-1);
	i--;
	if (m->span[i].first != addr || m->span[i].last != addr + (size - 1))
		return (-1);
	if (!kvm_span_idle(m, &m->span[i]))
		return (-1);
	memmove(&m->span[i], &m->span[i + 1], (m->nspan - i - 1) * sizeof(*m->span));
	m->nspan--;
	m->total -= size;
	return (0);
}

int
kvm_range_free(const struct kvm_model *m, vmem_addr_t addr, vmem_size_t size)
{
	const struct kvm_span *s;
	vmem_addr_t last;

	if (size == 0 || addr + (size - 1) < addr)
		return (0);
	last = addr + (size - 1);
	s = kvm_span_of(m, addr);
	if (s == NULL || s->last < last)
		return (0);
	return (!busy_overlaps(m, addr, last));
}

int
kvm_mark_busy(struct kvm_model *m, vmem_addr_t addr, vmem_size_t size)
{
	size_t i;

	if (!kvm_range_free(m, addr, size))
		return (-1);
	i = busy_lb(m, addr);
	if (m->nbusy == m->capbusy)
		m->busy = grow(m->busy, &m->capbusy, sizeof(*m->busy));
	memmove(&m->busy[i + 1], &m->busy[i], (m->nbusy - i) * sizeof(*m->busy));
	m->busy[i] = (struct kvm_busy){ addr, size };
	m->nbusy++;
	m->inuse += size;
	return (0);
}

long
kvm_busy_at(const struct kvm_model *m, vmem_addr_t addr)
{
	size_t i = busy_lb(m, addr);

	if (i < m->nbusy && m->busy[i].first == addr)
		return ((long)i);
	return (-1);
}

int
kvm_mark_free(struct kvm_model *m, vmem_addr_t addr, vmem_size_t size)
{
	long i = kvm_busy_at(m, addr);

	if (i < 0 || m->busy[i].size != size)
		return (-1);
	memmove(&m->busy[i], &m->busy[i + 1],
	    (m->nbusy - (size_t)i - 1) * sizeof(*m->busy));
	m->nbusy--;
	m->inuse -= size;
	return (0);
}

static int
is_pow2(vmem_size_t x)
{
	return (x != 0 && (x & (x - 1)) == 0);
}

int
kvm_req_invalid(vmem_size_t quantum, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
    vmem_addr_t maxaddr, struct kvm_req *req)
{
	vmem_size_t rs;

	if (size == 0 || size > SIZE_MAX - (quantum - 1))
		return (1);
	rs = (size + quantum - 1) & ~(quantum - 1);
	if (align != 0 && !is_pow2(align))
		return (1);
	if (align < quantum)
		align = quantum;
	if (phase >= align || (phase & (quantum - 1)) != 0)
		return (1);
	if (nocross != 0 && (!is_pow2(nocross) || nocross < rs))
		return (1);
	if (nocross != 0 && (phase & (nocross - 1)) + rs > nocross)
		return (1);
	if (minaddr > maxaddr)
		return (1);
	if (maxaddr - minaddr != VMEM_ADDR_MAX && rs > maxaddr - minaddr + 1)
		return (1);
	req->size = rs;
	req->align = align;
	req->phase = phase;
	req->nocross = nocross;
	req->minaddr = minaddr;
	req->maxaddr = maxaddr;
	/* No address at all in [minaddr, maxaddr] meets the constraints. */
	vmem_addr_t a;
	if (!kvm_fit_low(minaddr, maxaddr, req, &a))
		return (1);
	return (0);
}

/* Nonzero if [a, a+size) crosses a multiple of nocross (a+size-1 must not wrap). */
static int
crosses(const struct kvm_req *req, vmem_addr_t a)
{
	if (req->nocross == 0)
		return (0);
	return (((a ^ (a + (req->size - 1))) & ~(vmem_addr_t)(req->nocross - 1)) != 0);
}

int
kvm_req_ok(const struct kvm_req *req, vmem_addr_t addr)
{
	if (((addr - req->phase) & (req->align - 1)) != 0)
		return (0);
	if (addr < req->minaddr)
		return (0);
	if (req->size - 1 > VMEM_ADDR_MAX - addr)
		return (0);
	if (addr + (req->size - 1) > req->maxaddr)
		return (0);
	return (!crosses(req, addr));
}

int
kvm_fit_low(vmem_addr_t first, vmem_addr_t last, const struct kvm_req *req,
    vmem_addr_t *addrp)
{
	vmem_addr_t lo = first > req->minaddr ? first : req->minaddr;
	vmem_addr_t hi = last < req->maxaddr ? last : req->maxaddr;
	vmem_addr_t a, b;

	if (lo > hi || hi - lo < req->size - 1)
		return (0);
	a = lo + ((req->phase - lo) & (req->align - 1));
	if (a < lo || a > hi || hi - a < req->size - 1)
		return (0);
	if (crosses(req, a)) {
		b = (a | (vmem_addr_t)(req->nocross - 1)) + 1;
		if (b == 0)
			return (0);
		a = b + ((req->phase - b) & (req->align - 1));
		if (a < b || a > hi || hi - a < req->size - 1 || crosses(req, a))
			return (0);
	}
	*addrp = a;
	return (1);
}

int
kvm_fit_high(vmem_addr_t first, vmem_addr_t last, const struct kvm_req *req,
    vmem_addr_t *addrp)
{
	vmem_addr_t lo = first > req->minaddr ? first : req->minaddr;
	vmem_addr_t hi = last < req->maxaddr ? last : req->maxaddr;
	vmem_addr_t t, a, b;

	if (lo > hi || hi - lo < req->size - 1)
		return (0);
	t = hi - (req->size - 1);
	a = t - ((t - req->phase) & (req->align - 1));
	if (a > t || a < lo)
		return (0);
	if (crosses(req, a)) {
		b = (a + (req->size - 1)) & ~(vmem_addr_t)(req->nocross - 1);
		if (b < req->size)
			return (0);
		t = b - req->size;
		a = t - ((t - req->phase) & (req->align - 1));
		if (a > t || a < lo || crosses(req, a))
			return (0);
	}
	*addrp = a;
	return (1);
}

int
kvm_foreach_gap(const struct kvm_model *m,
    int (*fn)(void *arg, const struct kvm_gap *g), void *arg)
{
	for (size_t s = 0; s < m->nspan; s++) {
		const struct kvm_span *sp = &m->span[s];
		vmem_addr_t cur = sp->first;
		int open = 1;
		size_t i = busy_lb(m, sp->first);
		int rc;

		for (; i < m->nbusy && m->busy[i].first <= sp->last; i++) {
			vmem_addr_t bl = busy_last(&m->busy[i]);
			if (m->busy[i].first > cur) {
				struct kvm_gap g = { cur, m->busy[i].first - 1 };
				if ((rc = fn(arg, &g)) != 0)
					return (rc);
			}
			if (bl == sp->last) {
				open = 0;
				break;
			}
			cur = bl + 1;
		}
		if (open) {
			struct kvm_gap g = { cur, sp->last };
			if ((rc = fn(arg, &g)) != 0)
				return (rc);
		}
	}
	return (0);
}

int
kvm_gap_of(const struct kvm_model *m, vmem_addr_t addr, struct kvm_gap *g)
{
	const struct kvm_span *s = kvm_span_of(m, addr);
	size_t i;

	if (s == NULL)
		return (0);
	i = busy_lb(m, addr);
	if (i > 0 && busy_last(&m->busy[i - 1]) >= addr)
		return (0);
	if (i < m->nbusy && m->busy[i].first == addr)
		return (0);
	g->first = s->first;
	if (i > 0 && busy_last(&m->busy[i - 1]) >= s->first)
		g->first = busy_last(&m->busy[i - 1]) + 1;
	g->last = s->last;
	if (i < m->nbusy && m->busy[i].first <= s->last)
		g->last = m->busy[i].first - 1;
	return (1);
}

struct search_arg {
	const struct kvm_req	*req;
	int			found;
	vmem_size_t		best;
	vmem_addr_t		top;
};

static int
search_cb(void *arg, const struct kvm_gap *g)
{
	struct search_arg *sa = arg;
	vmem_size_t gsize = g->last - g->first + 1;
	vmem_addr_t a;

	if (!kvm_fit_low(g->first, g->last, sa->req, &a))
		return (0);
	if (!sa->found || gsize < sa->best)
		sa->best = gsize;
	if (!kvm_fit_high(g->first, g->last, sa->req, &a))
		abort();	/* a low fit implies a high fit */
	if (!sa->found || a > sa->top)
		sa->top = a;
	sa->found = 1;
	return (0);
}

int
kvm_search(const struct kvm_model *m, const struct kvm_req *req,
    vmem_size_t *best_size, vmem_addr_t *top)
{
	struct search_arg sa = { req, 0, 0, 0 };

	kvm_foreach_gap(m, search_cb, &sa);
	if (sa.found) {
		if (best_size != NULL)
			*best_size = sa.best;
		if (top != NULL)
			*top = sa.top;
	}
	return (sa.found);
}

struct maxfree_arg {
	vmem_size_t	max;
	size_t		n;
};

static int
maxfree_cb(void *arg, const struct kvm_gap *g)
{
	struct maxfree_arg *ma = arg;
	vmem_size_t gsize = g->last - g->first + 1;

	if (gsize > ma->max)
		ma->max = gsize;
	ma->n++;
	return (0);
}

vmem_size_t
kvm_maxfree(const struct kvm_model *m, size_t *ngaps)
{
	struct maxfree_arg ma = { 0, 0 };

	kvm_foreach_gap(m, maxfree_cb, &ma);
	if (ngaps != NULL)
		*ngaps = ma.n;
	return (ma.max);
}

static int
from_arena_cb(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct kvm_model *seg = arg;

	(void)type;
	if (seg->nbusy == seg->capbusy)
		seg->busy = grow(seg->busy, &seg->capbusy, sizeof(*seg->busy));
	seg->busy[seg->nbusy++] = (struct kvm_busy){ addr, size };
	return (0);
}

int
kvm_from_arena(struct kvm_model *seg, const struct kvm_model *m, vmem_t *vm)
{
	struct kvm_busy *busy;
	size_t n;

	kvm_fini(seg);
	kvm_init(seg, m->quantum);
	if (m->nspan > 0) {
		seg->span = malloc(m->nspan * sizeof(*seg->span));
		if (seg->span == NULL)
			abort();
		memcpy(seg->span, m->span, m->nspan * sizeof(*seg->span));
	}
	seg->nspan = seg->capspan = m->nspan;
	seg->total = m->total;
	if (vmem_walk(vm, VMEM_ALLOC, from_arena_cb, seg) != 0)
		return (-1);
	/* Re-mark each walked segment, which checks spans and overlap. */
	busy = seg->busy;
	n = seg->nbusy;
	seg->busy = NULL;
	seg->nbusy = seg->capbusy = 0;
	for (size_t i = 0; i < n; i++) {
		if (kvm_mark_busy(seg, busy[i].first, busy[i].size) != 0) {
			free(busy);
			return (-1);
		}
	}
	free(busy);
	return (0);
}
