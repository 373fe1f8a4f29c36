/*
 * <kvmem/domainset.h> -- NUMA domain sets and the policies that choose
 * among their domains (FreeBSD <sys/domainset.h> and vm_domainset.c).
 *
 * A domain set is a mask of allowed domains plus a policy saying which of
 * them an allocation tries first: round-robin (a cursor per thread),
 * first-touch (the calling thread's simulated CPU's domain), prefer (one
 * domain), interleave (an allocation counter striding across the set),
 * and, beyond FreeBSD, fixed (one domain, no fallback), weighted
 * interleave (per-domain weights, as Linux's MPOL_WEIGHTED_INTERLEAVE) and
 * preferred-many (a subset tried first, nearest first).  Whatever the
 * policy, the other allowed domains follow in round-robin order, in two
 * phases: first skipping domains whose free pages are below their
 * minimum, then trying those.  With M_WAITOK, when every domain failed,
 * the iteration waits until memory is freed and starts again.
 *
 * Sets are plain structures (static, automatic or heap storage) set up
 * with domainset_init(); they do not belong to a kmem instance and are
 * checked against one when used.  See domainset(3) and doc/kmem.md.
 */
#ifndef KVMEM_DOMAINSET_H
#define KVMEM_DOMAINSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kmem;
struct kmem_tstat;

/* ---- Masks (FreeBSD's DOMAINSET_* bitset macros) --------------------------- */

#define DOMAINSET_SETSIZE	64	/* = PMAP_SIM_MAXDOMAINS */

typedef struct domainset_mask {
	uint64_t	__bits[1];
} domainset_t;

#define DOMAINSET_T_INITIALIZER(x)	{ { (uint64_t)(x) } }
#define DOMAINSET_BIT_(n)	((uint64_t)1 << ((unsigned)(n) & 63u))
#define DOMAINSET_ZERO(p)	((p)->__bits[0] = 0)
#define DOMAINSET_FILL(p)	((p)->__bits[0] = ~(uint64_t)0)
#define DOMAINSET_SET(n, p)	((p)->__bits[0] |= DOMAINSET_BIT_(n))
#define DOMAINSET_CLR(n, p)	((p)->__bits[0] &= ~DOMAINSET_BIT_(n))
#define DOMAINSET_ISSET(n, p)	(((p)->__bits[0] & DOMAINSET_BIT_(n)) != 0)
#define DOMAINSET_COPY(f, t)	((t)->__bits[0] = (f)->__bits[0])
#define DOMAINSET_EMPTY(p)	((p)->__bits[0] == 0)
#define DOMAINSET_COUNT(p)	__builtin_popcountll((p)->__bits[0])
#define DOMAINSET_SUBSET(p, c)	(((c)->__bits[0] & ~(p)->__bits[0]) == 0) /* c within p */

/* ---- Policies ------------------------------------------------------------------ */

#define DOMAINSET_POLICY_INVALID	0
#define DOMAINSET_POLICY_ROUNDROBIN	1	/* per-thread cursor over the set */
#define DOMAINSET_POLICY_FIRSTTOUCH	2	/* the calling CPU's domain */
#define DOMAINSET_POLICY_PREFER		3	/* ds_prefer first */
#define DOMAINSET_POLICY_INTERLEAVE	4	/* set counter / stride */
/* kvmem extensions: */
#define DOMAINSET_POLICY_FIXED		5	/* ds_prefer only, never another */
#define DOMAINSET_POLICY_WEIGHTED_INTERLEAVE 6	/* interleave by ds_weight[] */
#define DOMAINSET_POLICY_PREFERRED_MANY	7	/* ds_preferred first, nearest first */
#define DOMAINSET_POLICY_MAX		7

/*
 * A domain set.  The layout is public so sets can live anywhere; change
 * them only through the functions below (they keep the derived fields
 * right).  Only ds_seq changes during use (atomically).
 */
struct domainset {
	domainset_t	ds_mask;	/* allowed domains (unless ds_all) */
	domainset_t	ds_preferred;	/* PREFERRED_MANY: tried first */
	uint16_t	ds_policy;	/* DOMAINSET_POLICY_* */
	int16_t		ds_prefer;	/* PREFER, FIXED: the domain; else -1 */
	uint16_t	ds_cnt;		/* domains in ds_mask (derived) */
	uint8_t		ds_all;		/* "every domain of the instance" */
	uint8_t		ds_pad_;
	uint32_t	ds_stride;	/* interleave: allocations per turn (>= 1) */
	uint32_t	ds_wtotal;	/* sum of ds_weight[] over ds_mask (derived) */
	uint32_t	ds_magic;	/* set by domainset_init() */
	uint64_t	ds_seq;		/* interleave position (atomic) */
	uint8_t		ds_order[DOMAINSET_SETSIZE];	/* ds_mask ascending (derived) */
	uint16_t	ds_weight[DOMAINSET_SETSIZE];	/* WEIGHTED_INTERLEAVE */
};

/*
 * Set up ds with a policy.  mask NULL means every domain of the kmem
 * instance the set is later used with (checked then).  prefer is the
 * domain of PREFER and FIXED (FIXED with mask NULL means {prefer}) and is
 * ignored (pass -1) for the others.  Weighted interleave starts with
 * weight 1 for every domain; preferred-many starts with an empty preferred
 * subset (set one before use).  Returns 0, or EINVAL for an unknown
 * policy, an empty mask, a domain >= DOMAINSET_SETSIZE, or a prefer
 * domain outside the mask.  On EINVAL ds is unchanged.
 */
KVMEM_EXPORT int domainset_init(struct domainset *ds, int policy, const domainset_t *mask,
    int prefer);
/*
 * Weighted interleave: weight[d] for domains 0..n-1 (others 0).  A domain
 * of weight 0 is never chosen first but stays a fallback.  0, or EINVAL
 * (not a weighted set, n out of range, a weight above 65535, or every
 * allowed domain of weight 0).
 */
KVMEM_EXPORT int domainset_set_weights(struct domainset *ds, const unsigned *weight, int n);
/* Preferred-many: the subset tried first.  0, or EINVAL (empty, outside the mask). */
KVMEM_EXPORT int domainset_set_preferred(struct domainset *ds, const domainset_t *preferred);
/* Interleave (plain or weighted): consecutive allocations per turn.  0 or EINVAL (0). */
KVMEM_EXPORT int domainset_set_stride(struct domainset *ds, unsigned stride);
/* Restart an interleaved set's sequence at its first domain. */
KVMEM_EXPORT void domainset_reset(struct domainset *ds);
/*
 * Set ds from text: "rr", "ft", "il", "prefer:D", "fixed:D",
 * "wil:W0,W1,...", "pmany:D,D,..." optionally followed by "@D,D-D" to
 * restrict the mask and "/S" for a stride.  0 or EINVAL.
 */
KVMEM_EXPORT int domainset_parse(struct domainset *ds, const char *spec);
/* "roundrobin", "firsttouch", ...; "invalid" for unknown values. */
KVMEM_EXPORT const char *domainset_policy_name(int policy);

/* ---- Iteration (vm_domainset_iter_policy_init / _policy) ----------------------- */

/*
 * Walk the domains an allocation on instance k should try, in policy
 * order:
 *
 *	int domain, aflags = flags;
 *	if (domainset_iter_init(&di, k, ds, &domain, &aflags) != 0)
 *		return EINVAL;
 *	do {
 *		if (try_allocate(domain, aflags) succeeded)
 *			break;
 *	} while (domainset_iter_next(&di, &domain) == 0);
 *
 * domainset_iter_init checks ds against k (and flags: exactly one of
 * M_NOWAIT and M_WAITOK) and returns 0 and the first domain, or EINVAL.
 * It turns M_WAITOK into M_NOWAIT in *flagsp: each attempt must not
 * sleep; the iterator does the waiting.  domainset_iter_next returns 0
 * and the next domain, or ENOMEM when every domain was tried (twice for
 * domains skipped for being short of pages) and the caller asked for
 * M_NOWAIT.  With M_WAITOK it then sleeps until kmem frees memory (or a
 * short poll interval passes) and starts over from the policy's first
 * choice.  The fields are private.
 */
struct domainset_iter {
	struct kmem		*di_kmem;
	struct kmem_tstat	*di_ts;		/* the thread's counters and cursor */
	const struct domainset	*di_set;
	uint64_t		di_valid;	/* allowed domains */
	uint64_t		di_remain;	/* phase 1: not offered yet */
	uint64_t		di_pref;	/* preferred-many: not offered yet */
	uint64_t		di_gen;		/* free generation before this round */
	uintptr_t		di_cursor;	/* round-robin position */
	int			di_flags;	/* the caller's flags */
	int			di_origin;	/* the calling CPU's domain */
	int			di_first;	/* the policy's choice in the first round */
	int			di_phase;	/* 1 or 2 */
	int			di_nskipped;	/* phase 1 skips, in order */
	int			di_replay;	/* phase 2 position */
	unsigned		di_rounds;	/* waits so far */
	unsigned		di_max_rounds;	/* 0: wait for ever */
	uint8_t			di_skipped[DOMAINSET_SETSIZE];
};

KVMEM_EXPORT int domainset_iter_init(struct domainset_iter *di, struct kmem *k,
    const struct domainset *ds, int *domainp, int *flagsp);
KVMEM_EXPORT int domainset_iter_next(struct domainset_iter *di, int *domainp);

#ifdef __cplusplus
}
#endif

#endif /* KVMEM_DOMAINSET_H */
