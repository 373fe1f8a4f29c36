/*
 * domainset.c -- domain sets, their policies, and the iteration that
 * orders the domains an allocation tries (FreeBSD vm_domainset.c).
 *
 * One round of the iteration offers each allowed domain once, in this
 * order: the policy's first choice, then (preferred-many) the rest of the
 * preferred subset nearest first, then the remaining domains round-robin
 * from the calling thread's cursor.  That is phase 1, and it passes over
 * domains whose free pages are below their minimum, remembering them;
 * phase 2 offers those, in the order they were passed over.  When both
 * phases are exhausted an M_NOWAIT caller is told ENOMEM; an M_WAITOK
 * caller sleeps until kmem frees memory (or a poll interval passes) and a
 * new round starts with a fresh first choice.  FreeBSD retries the first
 * choice in phase 2 even when it was not short of pages and, after a
 * wait, only the short domains; this iteration offers every domain in
 * every round instead.
 *
 * The round-robin cursor is per thread and per instance (in the thread's
 * counter block), shared by every set, as FreeBSD keeps it in the thread;
 * it moves only when there is a choice (a set of one domain leaves it).
 * Interleave positions live in the set (ds_seq), advanced atomically.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kmem_impl.h"
#include "pmap_sim_impl.h"

/* ---- Sets ------------------------------------------------------------------------- */

static void
derive(struct domainset *ds)
{
	uint64_t m = ds->ds_mask.__bits[0];
	unsigned n = 0, d;

	ds->ds_wtotal = 0;
	for (d = 0; d < DOMAINSET_SETSIZE; d++)
		if ((m >> d) & 1u) {
			ds->ds_order[n++] = (uint8_t)d;
			ds->ds_wtotal += ds->ds_weight[d];
		}
	ds->ds_cnt = (uint16_t)n;
}

int
domainset_init(struct domainset *ds, int policy, const domainset_t *mask, int prefer)
{
	struct domainset n;
	int d;

	if (ds == NULL || policy <= DOMAINSET_POLICY_INVALID || policy > DOMAINSET_POLICY_MAX)
		return EINVAL;
	memset(&n, 0, sizeof(n));
	n.ds_policy = (uint16_t)policy;
	n.ds_prefer = -1;
	n.ds_stride = 1;
	for (d = 0; d < DOMAINSET_SETSIZE; d++)
		n.ds_weight[d] = 1;
	if (policy == DOMAINSET_POLICY_PREFER || policy == DOMAINSET_POLICY_FIXED) {
		if (prefer < 0 || prefer >= DOMAINSET_SETSIZE)
			return EINVAL;
		n.ds_prefer = (int16_t)prefer;
	}
	if (mask == NULL) {
		if (policy == DOMAINSET_POLICY_FIXED)
			DOMAINSET_SET(prefer, &n.ds_mask);
		else
			n.ds_all = 1;
	} else {
		if (DOMAINSET_EMPTY(mask))
			return EINVAL;
		DOMAINSET_COPY(mask, &n.ds_mask);
		if (n.ds_prefer >= 0 && !DOMAINSET_ISSET(prefer, mask))
			return EINVAL;
		if (policy == DOMAINSET_POLICY_FIXED && DOMAINSET_COUNT(mask) != 1)
			return EINVAL;
	}
	derive(&n);
	n.ds_magic = KMEM_DS_MAGIC;
	*ds = n;
	return 0;
}

static bool
ds_ok(const struct domainset *ds)
{
	return ds != NULL && ds->ds_magic == KMEM_DS_MAGIC;
}

int
domainset_set_weights(struct domainset *ds, const unsigned *weight, int n)
{
	uint16_t w[DOMAINSET_SETSIZE];
	uint64_t m;
	unsigned total = 0;
	int d;

	if (!ds_ok(ds) || ds->ds_policy != DOMAINSET_POLICY_WEIGHTED_INTERLEAVE ||
	    weight == NULL || n <= 0 || n > DOMAINSET_SETSIZE)
		return EINVAL;
	m = ds->ds_all ? ~(uint64_t)0 : ds->ds_mask.__bits[0];
	for (d = 0; d < DOMAINSET_SETSIZE; d++) {
		unsigned v = d < n ? weight[d] : 0;

		if (v > 65535)
			return EINVAL;
		w[d] = (uint16_t)v;
		if ((m >> d) & 1u)
			total += v;
	}
	if (total == 0)
		return EINVAL;
	memcpy(ds->ds_weight, w, sizeof(w));
	derive(ds);
	return 0;
}

int
domainset_set_preferred(struct domainset *ds, const domainset_t *preferred)
{
	if (!ds_ok(ds) || ds->ds_policy != DOMAINSET_POLICY_PREFERRED_MANY ||
	    preferred == NULL || DOMAINSET_EMPTY(preferred) ||
	    (!ds->ds_all && !DOMAINSET_SUBSET(&ds->ds_mask, preferred)))
		return EINVAL;
	DOMAINSET_COPY(preferred, &ds->ds_preferred);
	return 0;
}

int
domainset_set_stride(struct domainset *ds, unsigned stride)
{
	if (!ds_ok(ds) || stride == 0)
		return EINVAL;
	ds->ds_stride = stride;
	return 0;
}

void
domainset_reset(struct domainset *ds)
{
	if (ds_ok(ds))
		__atomic_store_n(&ds->ds_seq, 0, __ATOMIC_RELAXED);
}

const char *
domainset_policy_name(int policy)
{
	switch (policy) {
	case DOMAINSET_POLICY_ROUNDROBIN:		return "roundrobin";
	case DOMAINSET_POLICY_FIRSTTOUCH:		return "firsttouch";
	case DOMAINSET_POLICY_PREFER:			return "prefer";
	case DOMAINSET_POLICY_INTERLEAVE:		return "interleave";
	case DOMAINSET_POLICY_FIXED:			return "fixed";
	case DOMAINSET_POLICY_WEIGHTED_INTERLEAVE:	return "weighted-interleave";
	case DOMAINSET_POLICY_PREFERRED_MANY:		return "preferred-many";
	}
	return "invalid";
}

/* Parse "D,D-D,..." into a mask; the end of the list in *endp. */
static int
parse_list(const char *s, const char **endp, domainset_t *mask, unsigned *vals, int *nvals)
{
	int n = 0;

	DOMAINSET_ZERO(mask);
	for (;;) {
		char *e;
		unsigned long a = strtoul(s, &e, 10), b;

		if (e == s || a >= 65536)
			return EINVAL;
		b = a;
		if (*e == '-' && vals == NULL) {
			s = e + 1;
			b = strtoul(s, &e, 10);
			if (e == s || b < a || b >= DOMAINSET_SETSIZE)
				return EINVAL;
		}
		if (vals != NULL) {
			if (n >= DOMAINSET_SETSIZE)
				return EINVAL;
			vals[n++] = (unsigned)a;
		} else {
			if (b >= DOMAINSET_SETSIZE)
				return EINVAL;
			for (unsigned long d = a; d <= b; d++)
				DOMAINSET_SET(d, mask);
		}
		s = e;
		if (*s != ',')
			break;
		s++;
	}
	if (nvals != NULL)
		*nvals = n;
	*endp = s;
	return 0;
}

int
domainset_parse(struct domainset *ds, const char *spec)
{
	static const struct {
		const char	*name;
		int		policy;
	} names[] = {
		{ "rr", DOMAINSET_POLICY_ROUNDROBIN }, { "roundrobin", DOMAINSET_POLICY_ROUNDROBIN },
		{ "ft", DOMAINSET_POLICY_FIRSTTOUCH }, { "firsttouch", DOMAINSET_POLICY_FIRSTTOUCH },
		{ "il", DOMAINSET_POLICY_INTERLEAVE }, { "interleave", DOMAINSET_POLICY_INTERLEAVE },
		{ "prefer", DOMAINSET_POLICY_PREFER }, { "fixed", DOMAINSET_POLICY_FIXED },
		{ "wil", DOMAINSET_POLICY_WEIGHTED_INTERLEAVE },
		{ "weighted", DOMAINSET_POLICY_WEIGHTED_INTERLEAVE },
		{ "pmany", DOMAINSET_POLICY_PREFERRED_MANY },
		{ "preferred-many", DOMAINSET_POLICY_PREFERRED_MANY },
	};
	struct domainset n;
	domainset_t mask, pref;
	unsigned vals[DOMAINSET_SETSIZE];
	const char *s = spec, *e;
	size_t len, i;
	int policy = 0, prefer = -1, nvals = 0, have_mask = 0, have_args = 0;
	unsigned long stride = 1;

	if (ds == NULL || spec == NULL)
		return EINVAL;
	len = strcspn(s, ":@/");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len && strncmp(names[i].name, s, len) == 0)
			policy = names[i].policy;
	if (policy == 0)
		return EINVAL;
	s += len;
	if (*s == ':') {
		s++;
		have_args = 1;
		if (parse_list(s, &e, &pref, vals, &nvals) != 0)
			return EINVAL;
		s = e;
	}
	if (*s == '@') {
		if (parse_list(s + 1, &e, &mask, NULL, NULL) != 0)
			return EINVAL;
		s = e;
		have_mask = 1;
	}
	if (*s == '/') {
		char *x;

		stride = strtoul(s + 1, &x, 10);
		if (x == s + 1 || stride == 0 || stride > 0xffffffffu)
			return EINVAL;
		s = x;
	}
	if (*s != '\0')
		return EINVAL;
	switch (policy) {
	case DOMAINSET_POLICY_PREFER:
	case DOMAINSET_POLICY_FIXED:
		if (!have_args || nvals != 1)
			return EINVAL;
		prefer = (int)vals[0];
		break;
	case DOMAINSET_POLICY_WEIGHTED_INTERLEAVE:
	case DOMAINSET_POLICY_PREFERRED_MANY:
		if (!have_args)
			return EINVAL;
		break;
	default:
		if (have_args)
			return EINVAL;
	}
	if (domainset_init(&n, policy, have_mask ? &mask : NULL, prefer) != 0)
		return EINVAL;
	if (policy == DOMAINSET_POLICY_WEIGHTED_INTERLEAVE &&
	    domainset_set_weights(&n, vals, nvals) != 0)
		return EINVAL;
	if (policy == DOMAINSET_POLICY_PREFERRED_MANY) {
		DOMAINSET_ZERO(&pref);
		for (i = 0; i < (size_t)nvals; i++) {
			if (vals[i] >= DOMAINSET_SETSIZE)
				return EINVAL;
			DOMAINSET_SET(vals[i], &pref);
		}
		if (domainset_set_preferred(&n, &pref) != 0)
			return EINVAL;
	}
	n.ds_stride = (uint32_t)stride;
	*ds = n;
	return 0;
}

int
kmem__ds_setup_builtin(struct kmem *k)
{
	int d;

	if (domainset_init(&k->ds_rr, DOMAINSET_POLICY_ROUNDROBIN, NULL, -1) != 0 ||
	    domainset_init(&k->ds_ft, DOMAINSET_POLICY_FIRSTTOUCH, NULL, -1) != 0 ||
	    domainset_init(&k->ds_il, DOMAINSET_POLICY_INTERLEAVE, NULL, -1) != 0)
		return EINVAL;
	for (d = 0; d < k->ndomains; d++)
		if (domainset_init(&k->dom[d].ds_pref, DOMAINSET_POLICY_PREFER, NULL, d) != 0 ||
		    domainset_init(&k->dom[d].ds_fixed, DOMAINSET_POLICY_FIXED, NULL, d) != 0)
			return EINVAL;
	return 0;
}

struct domainset *
kmem_domainset(struct kmem *k, int policy, int domain)
{
	k = kmem__get(k, "kmem_domainset");
	switch (policy) {
	case DOMAINSET_POLICY_ROUNDROBIN:
		return &k->ds_rr;
	case DOMAINSET_POLICY_FIRSTTOUCH:
		return &k->ds_ft;
	case DOMAINSET_POLICY_INTERLEAVE:
		return &k->ds_il;
	case DOMAINSET_POLICY_PREFER:
	case DOMAINSET_POLICY_FIXED:
		if (domain >= 0 && domain < k->ndomains)
			return policy == DOMAINSET_POLICY_PREFER ? &k->dom[domain].ds_pref :
			    &k->dom[domain].ds_fixed;
		break;
	}
	errno = EINVAL;
	return NULL;
}

/* ---- Free pages ----------------------------------------------------------------------- */

/*
 * The machine's free page count of a domain.  pmap_sim has no public
 * accessor cheaper than its full statistics, so read the counter under the
 * domain's lock.
 */
uint64_t
kmem__free_count(struct kmem *k, int domain)
{
	struct psim_domain *d = &k->sim->dom[domain];
	uint64_t n;

	pthread_mutex_lock(&d->lock);
	n = psim_free_count(d);
	pthread_mutex_unlock(&d->lock);
	return n;
}

bool
kmem__below_min(struct kmem *k, int domain)
{
	return kmem__free_count(k, domain) < k->dom[domain].free_min;
}

/* ---- Iteration -------------------------------------------------------------------------- */

static inline uint64_t
bit(int d)
{
	return (uint64_t)1 << d;
}

/* The set's domains in ascending order: ds_order, or 0..n-1 for "all". */
static inline int
set_count(const struct domainset_iter *di)
{
	return di->di_set->ds_all ? di->di_kmem->ndomains : di->di_set->ds_cnt;
}

static inline int
set_at(const struct domainset_iter *di, unsigned i)
{
	return di->di_set->ds_all ? (int)i : di->di_set->ds_order[i];
}

/* Advance the thread's cursor to the next domain of the set that is in mask. */
static int
rr_next(struct domainset_iter *di, uint64_t mask)
{
	unsigned cnt = (unsigned)set_count(di);
	int d;

	do
		d = set_at(di, (unsigned)(++di->di_cursor % cnt));
	while (!(mask & bit(d)));
	if (!di->di_ts->shared)
		di->di_ts->cursor = di->di_cursor;
	return d;
}

/* The domain of mask nearest to the caller's. */
static int
nearest(const struct domainset_iter *di, uint64_t mask)
{
	const struct kmem *k = di->di_kmem;
	const uint8_t *row = &k->near[di->di_origin * k->ndomains];
	int i;

	for (i = 0; i < k->ndomains; i++)
		if (mask & bit(row[i]))
			return row[i];
	return -1;
}

/* The policy's first choice for a new round. */
static int
policy_first(struct domainset_iter *di)
{
	struct domainset *ds = (struct domainset *)(uintptr_t)di->di_set;
	uint64_t s;

	switch (ds->ds_policy) {
	case DOMAINSET_POLICY_FIRSTTOUCH:
		if (di->di_valid & bit(di->di_origin))
			return di->di_origin;
		return rr_next(di, di->di_valid);
	case DOMAINSET_POLICY_PREFER:
	case DOMAINSET_POLICY_FIXED:
		return ds->ds_prefer;
	case DOMAINSET_POLICY_INTERLEAVE:
		s = __atomic_fetch_add(&ds->ds_seq, 1, __ATOMIC_RELAXED);
		return set_at(di, (unsigned)((s / ds->ds_stride) % (unsigned)set_count(di)));
	case DOMAINSET_POLICY_WEIGHTED_INTERLEAVE: {
		uint64_t total = 0, pos;
		int d;

		for (d = 0; d < di->di_kmem->ndomains; d++)
			if (di->di_valid & bit(d))
				total += ds->ds_weight[d];
		s = __atomic_fetch_add(&ds->ds_seq, 1, __ATOMIC_RELAXED);
		pos = (s / ds->ds_stride) % total;
		for (d = 0;; d++)
			if (di->di_valid & bit(d)) {
				if (pos < ds->ds_weight[d])
					return d;
				pos -= ds->ds_weight[d];
			}
	}
	case DOMAINSET_POLICY_PREFERRED_MANY:
		return nearest(di, di->di_pref);
	default:
		return rr_next(di, di->di_valid);
	}
}

static void
round_reset(struct domainset_iter *di)
{
	di->di_phase = 1;
	di->di_remain = di->di_valid;
	di->di_pref = di->di_set->ds_policy == DOMAINSET_POLICY_PREFERRED_MANY ?
	    di->di_set->ds_preferred.__bits[0] & di->di_valid : 0;
	di->di_nskipped = 0;
	di->di_replay = 0;
}

/* The next phase-1 candidate (the policy's choice if first), or -1. */
static int
p1_next(struct domainset_iter *di, bool first)
{
	int d;

	if (first) {
		d = policy_first(di);
		if (di->di_first < 0)
			di->di_first = d;
	} else if (di->di_pref & di->di_remain)
		d = nearest(di, di->di_pref & di->di_remain);
	else if (di->di_remain != 0)
		d = rr_next(di, di->di_remain);
	else
		return -1;
	di->di_remain &= ~bit(d);
	di->di_pref &= ~bit(d);
	return d;
}

/* Offer the next domain of this round: 0, or ENOMEM when the round is over. */
static int
advance(struct domainset_iter *di, bool first, int *domainp)
{
	struct kmem *k = di->di_kmem;
	int d;

	if (di->di_phase == 1) {
		while ((d = p1_next(di, first)) >= 0) {
			first = false;
			if (di->di_valid == bit(d) || !kmem__below_min(k, d)) {
				*domainp = d;
				return 0;
			}
			di->di_skipped[di->di_nskipped++] = (uint8_t)d;
			atomic_fetch_add_explicit(&k->dom[d].skipped, 1, RLX);
		}
		di->di_phase = 2;
	}
	if (di->di_replay < di->di_nskipped) {
		*domainp = di->di_skipped[di->di_replay++];
		return 0;
	}
	return ENOMEM;
}

int
kmem__iter_init(struct domainset_iter *di, struct kmem *k, const struct domainset *ds,
    int *domainp, int *flagsp, unsigned max_rounds)
{
	uint64_t valid;
	int flags = *flagsp;

	if (!ds_ok(ds) || ds->ds_policy == DOMAINSET_POLICY_INVALID ||
	    ds->ds_policy > DOMAINSET_POLICY_MAX ||
	    ((flags & M_NOWAIT) != 0) == ((flags & M_WAITOK) != 0))
		return EINVAL;
	valid = ds->ds_all ? k->all_mask : ds->ds_mask.__bits[0];
	if (valid == 0 || (valid & ~k->all_mask) != 0)
		return EINVAL;
	if (ds->ds_policy == DOMAINSET_POLICY_PREFERRED_MANY &&
	    (ds->ds_preferred.__bits[0] & valid) == 0)
		return EINVAL;
	if ((ds->ds_policy == DOMAINSET_POLICY_PREFER || ds->ds_policy == DOMAINSET_POLICY_FIXED) &&
	    (ds->ds_prefer < 0 || !(valid & bit(ds->ds_prefer))))
		return EINVAL;
	if (ds->ds_policy == DOMAINSET_POLICY_WEIGHTED_INTERLEAVE) {
		uint64_t total = 0;

		for (int d = 0; d < k->ndomains; d++)
			if (valid & bit(d))
				total += ds->ds_weight[d];
		if (total == 0)
			return EINVAL;
	}
	di->di_kmem = k;
	di->di_ts = kmem__tstat(k);
	di->di_set = ds;
	di->di_valid = valid;
	di->di_flags = flags;
	di->di_origin = pmap_sim_curdomain(k->sim);
	di->di_gen = atomic_load(&k->free_gen);
	di->di_rounds = 0;
	di->di_max_rounds = max_rounds;
	*flagsp = (flags & ~M_WAITOK) | M_NOWAIT;
	if ((valid & (valid - 1)) == 0) {
		/* One domain: nothing to choose, no cursor to move, no phase 2. */
		di->di_first = *domainp = __builtin_ctzll(valid);
		di->di_cursor = 0;
		di->di_phase = 2;
		di->di_remain = di->di_pref = 0;
		di->di_nskipped = di->di_replay = 0;
		return 0;
	}
	di->di_cursor = di->di_ts->cursor;
	di->di_first = -1;
	round_reset(di);
	(void)advance(di, true, domainp);	/* a round always offers a domain */
	return 0;
}

int
domainset_iter_init(struct domainset_iter *di, struct kmem *k, const struct domainset *ds,
    int *domainp, int *flagsp)
{
	k = kmem__get(k, "domainset_iter_init");
	if (di == NULL || domainp == NULL || flagsp == NULL)
		return EINVAL;
	return kmem__iter_init(di, k, ds, domainp, flagsp, 0);
}

int
domainset_iter_next(struct domainset_iter *di, int *domainp)
{
	struct kmem *k = di->di_kmem;

	for (;;) {
		if (advance(di, false, domainp) == 0)
			return 0;
		if (!(di->di_flags & M_WAITOK) ||
		    (di->di_max_rounds != 0 && di->di_rounds >= di->di_max_rounds))
			return ENOMEM;
		kmem__wait(k, di->di_gen);
		di->di_rounds++;
		di->di_gen = atomic_load(&k->free_gen);
		round_reset(di);
		if (advance(di, true, domainp) == 0)
			return 0;
	}
}

void
kmem__iter_done(struct domainset_iter *di, int domain, uint64_t npages)
{
	struct kmem *k = di->di_kmem;
	struct kmem_tstat *ts = di->di_ts;
	struct kmem_tdom *d = &ts->d[domain];

	kmem__tadd(ts, &d->allocs, 1);
	if (domain != di->di_first)
		kmem__tadd(ts, &d->fallbacks, 1);
	if (domain == di->di_origin) {
		kmem__tadd(ts, &d->local_pages, npages);
	} else {
		kmem__tadd(ts, &d->remote_pages, npages);
		kmem__tadd(ts, &ts->remote_cost,
		    npages * k->dist[di->di_origin * k->ndomains + domain]);
	}
}
