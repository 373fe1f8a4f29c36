/*
 * workloads_vmem.c -- the vmem arena workloads.
 *
 * Setups (p[] of the table entries):
 *   frag   {quantum, holes, block quanta, live, arena size, base}
 *          Allocates `live` adjacent blocks, then 2 * holes more, and frees
 *          every other one of the latter: `holes` free segments of one block
 *          each, isolated by busy blocks, plus the free tail of the arena.
 *          With holes = 0 and live = 0 it is an empty arena.  ID arenas are
 *          frag setups with quantum 1.
 *   churn  {quantum, slots, -, -, arena size, base}: slots random-sized
 *          live allocations (sizes from kb_churn_size()).
 *   chain  {levels, pinned, import quantum, -, parent size, base}: a parent
 *          arena and, for 2 levels, a child that imports from it through
 *          vmem_set_source(); pinned keeps one page of the child allocated
 *          so its imported span is never released.
 *
 * Runs (q[]):
 *   pair     {size, flags}: vmem_alloc + vmem_free of one block.
 *   xpair    {size, align, phase, nocross, minaddr, maxaddr, flags}:
 *            vmem_xalloc + vmem_xfree (maxaddr 0 means VMEM_ADDR_MAX).
 *   free     {}: frees of random live blocks of a frag setup; prepare()
 *            reallocates the previous batch's victims into their holes
 *            (untimed) and picks the next victims.
 *   churn    {flags}: free a random slot, refill it with a random size.
 *   idchurn  {size, flags}: free a random live block, allocate one again.
 * Every allocation adds M_NOWAIT: a failure is reported, never waited for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kvmem/vmem.h>

#include "bench.h"

#define KB_BASE		0x100000000ULL		/* arenas start at 4 GiB */
#define KB_XBASE	0x10000E000ULL		/* misaligned for 64 KiB */
#define KiB		(1ULL << 10)
#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)

struct vm_state {
	vmem_t		*vm;		/* the arena the runs use */
	vmem_t		*parent;	/* chain: the source arena */
	vmem_addr_t	*live;		/* live blocks setup made */
	vmem_size_t	*lsize;		/* churn: size per slot */
	uint32_t	nlive;
	uint32_t	nfixed;		/* frag: the adjacent live blocks first */
	vmem_size_t	bsize;		/* frag: block size */
	vmem_addr_t	limit;		/* frag: end of the blocks setup made */
	uint64_t	cursor;		/* position in the random streams */
	struct kb_victims vict;		/* free path: victims among [0, nfixed) */
	int		freed;		/* the current victims are freed */
	vmem_addr_t	pinned;
};

static void
vm_check_err(int err, const char *what, vmem_size_t size)
{
	if (KB_UNLIKELY(err != 0))
		kb_fail("vmem: %s of %zu failed with %s", what, (size_t)size,
		    err == ENOMEM ? "ENOMEM" : err == EINVAL ? "EINVAL" : "an error");
}

static vmem_t *
vm_create(const char *name, vmem_addr_t base, vmem_size_t size, vmem_size_t quantum)
{
	vmem_t *vm = vmem_create(name, base, size, quantum, 0, M_WAITOK);

	if (vm == NULL)
		kb_fail("vmem: vmem_create(%s) failed (errno %d)", name, errno);
	return vm;
}

/* ---- Setups -------------------------------------------------------------- */

static void *
vm_setup_frag(const uint64_t *p)
{
	struct vm_state *s = kb_xcalloc(1, sizeof(*s));
	uint64_t holes = p[1], fixed = p[3];
	uint64_t total = fixed + 2 * holes;
	vmem_addr_t a, first = 0;

	s->vm = vm_create("bench", p[5], p[4], p[0]);
	s->bsize = p[0] * p[2];
	s->nfixed = (uint32_t)fixed;
	s->live = kb_xcalloc(fixed + holes, sizeof(*s->live));
	for (uint64_t i = 0; i < total; i++) {
		vm_check_err(vmem_alloc(s->vm, s->bsize, M_FIRSTFIT | M_NOWAIT, &a),
		    "setup alloc", s->bsize);
		if (i == 0)
			first = a;
		else if (a != first + i * s->bsize)
			kb_fail("vmem: setup blocks are not adjacent (block %llu at %#llx)",
			    (unsigned long long)i, (unsigned long long)a);
		if (i < fixed || (i - fixed) % 2 == 1)
			s->live[s->nlive++] = a;
	}
	for (uint64_t j = 0; j < holes; j++)
		vmem_free(s->vm, first + (fixed + 2 * j) * s->bsize, s->bsize);
	s->limit = first + total * s->bsize;
	return s;
}

static void *
vm_setup_churn(const uint64_t *p)
{
	struct vm_state *s = kb_xcalloc(1, sizeof(*s));

	s->vm = vm_create("churn", p[5], p[4], p[0]);
	s->nlive = (uint32_t)p[1];
	s->live = kb_xcalloc(s->nlive, sizeof(*s->live));
	s->lsize = kb_xcalloc(s->nlive, sizeof(*s->lsize));
	for (uint32_t k = 0; k < s->nlive; k++) {
		s->lsize[k] = kb_churn_size(s->cursor++);
		vm_check_err(vmem_alloc(s->vm, s->lsize[k], M_FIRSTFIT | M_NOWAIT,
		    &s->live[k]), "churn setup alloc", s->lsize[k]);
	}
	return s;
}

static void *
vm_setup_chain(const uint64_t *p)
{
	struct vm_state *s = kb_xcalloc(1, sizeof(*s));

	s->vm = vm_create("parent", p[5], p[4], 4096);
	if (p[0] >= 2) {
		s->parent = s->vm;
		s->vm = vm_create("child", 0, 0, 4096);
		vmem_set_source(s->vm, s->parent, p[2]);
		if (p[1])
			vm_check_err(vmem_alloc(s->vm, 4096, M_FIRSTFIT | M_NOWAIT,
			    &s->pinned), "pin alloc", 4096);
	}
	return s;
}

static void vm_refill(struct vm_state *s);

static void
vm_teardown(void *st)
{
	struct vm_state *s = st;

	vm_refill(s);
	for (uint32_t k = 0; k < s->nlive; k++)
		vmem_free(s->vm, s->live[k], s->lsize ? s->lsize[k] : s->bsize);
	if (s->pinned != 0)
		vmem_free(s->vm, s->pinned, 4096);
	vmem_destroy(s->vm);
	if (s->parent != NULL)
		vmem_destroy(s->parent);
	free(s->live);
	free(s->lsize);
	kb_victims_fini(&s->vict);
	free(s);
}

static void
vm_counters(void *st, kb_counter_fn *fn, void *arg)
{
	struct vm_state *s = st;
	struct vmem_stats vs;

	memset(&vs, 0, sizeof(vs));
	vs.version = VMEM_STATS_VERSION;
	if (vmem_get_stats(s->vm, &vs) != 0)
		return;
	fn(arg, "busy_segs", (double)vs.busy_segs);
	fn(arg, "free_segs", (double)vs.free_segs);
	fn(arg, "hash_buckets", (double)vs.hash_buckets);
	fn(arg, "hash_chain_max", (double)vs.hash_longest_chain);
	if (s->parent != NULL) {
		fn(arg, "imports", (double)vs.imports);
		fn(arg, "releases", (double)vs.releases);
	}
}

/* ---- Runs ---------------------------------------------------------------- */

static uint64_t
vm_run_pair(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct vm_state *s = st;
	vmem_t *vm = s->vm;
	vmem_size_t size = q[0];
	int flags = (int)q[1] | M_NOWAIT;
	vmem_addr_t a;

	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		vm_check_err(vmem_alloc(vm, size, flags, &a), "vmem_alloc", size);
		vmem_free(vm, a, size);
	}
	return n;
}

static uint64_t
vm_run_xpair(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct vm_state *s = st;
	vmem_t *vm = s->vm;
	vmem_size_t size = q[0], align = q[1], phase = q[2], nocross = q[3];
	vmem_addr_t minaddr = q[4], maxaddr = q[5] ? q[5] : VMEM_ADDR_MAX;
	int flags = (int)q[6] | M_NOWAIT;
	vmem_addr_t a;

	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		vm_check_err(vmem_xalloc(vm, size, align, phase, nocross, minaddr,
		    maxaddr, flags, &a), "vmem_xalloc", size);
		vmem_xfree(vm, a, size);
	}
	return n;
}

/*
 * Put the previous batch's victims back: the holes they left are exactly
 * the free space below s->limit, and instant fit of one block fills the
 * smallest holes first, so as many allocations refill them all.
 */
static void
vm_refill(struct vm_state *s)
{
	vmem_addr_t a;

	if (!s->freed)
		return;
	for (uint32_t i = 0; i < s->vict.npick; i++) {
		vm_check_err(vmem_alloc(s->vm, s->bsize, M_FIRSTFIT | M_NOWAIT, &a),
		    "refill alloc", s->bsize);
		if (a >= s->limit)
			kb_fail("vmem: refill went past the live blocks (%#llx)",
			    (unsigned long long)a);
		s->live[s->vict.pick[i]] = a;
	}
	s->freed = 0;
}

/* Untimed: refill, then choose n distinct victims among the adjacent blocks. */
static void
vm_prepare_free(void *st, const uint64_t *q, uint64_t n)
{
	struct vm_state *s = st;

	(void)q;
	vm_refill(s);
	if (s->vict.perm == NULL)
		kb_victims_init(&s->vict, s->nfixed);
	kb_victims_choose(&s->vict, (uint32_t)n);
}

/* Timed: free the chosen victims. */
static uint64_t
vm_run_free(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct vm_state *s = st;
	vmem_t *vm = s->vm;
	vmem_size_t size = s->bsize;
	const uint32_t *pick = s->vict.pick;

	(void)q;
	(void)tid;
	for (uint64_t i = 0; i < n; i++)
		vmem_free(vm, s->live[pick[i]], size);
	s->freed = 1;
	return n;
}

static uint64_t
vm_run_churn(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct vm_state *s = st;
	vmem_t *vm = s->vm;
	int flags = (int)q[0] | M_NOWAIT;

	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t c = s->cursor++;
		uint32_t k = kb_churn_pick(c, s->nlive);

		vmem_free(vm, s->live[k], s->lsize[k]);
		s->lsize[k] = kb_churn_size(c);
		vm_check_err(vmem_alloc(vm, s->lsize[k], flags, &s->live[k]),
		    "churn alloc", s->lsize[k]);
	}
	return n;
}

static uint64_t
vm_run_idchurn(void *st, const uint64_t *q, unsigned tid, uint64_t n)
{
	struct vm_state *s = st;
	vmem_t *vm = s->vm;
	vmem_size_t size = q[0];
	int flags = (int)q[1] | M_NOWAIT;

	(void)tid;
	for (uint64_t i = 0; i < n; i++) {
		uint32_t k = kb_churn_pick(s->cursor++, s->nlive);

		vmem_free(vm, s->live[k], size);
		vm_check_err(vmem_alloc(vm, size, flags, &s->live[k]), "id alloc", size);
	}
	return n;
}

/* ---- Table --------------------------------------------------------------- */

/*
 * Parameter lists travel through the macros as parenthesized tuples, so
 * their commas survive; U() unpacks one into an initializer list.
 */
#define U(...)			__VA_ARGS__
#define IF			M_FIRSTFIT
#define BF			M_BESTFIT
#define NF			M_NEXTFIT
#define CORE			KB_CG_CORE

/*
 * Arena sizes sit in the middle of a free-list size class (classes split
 * each power of two of quanta in four): a free tail right at a class
 * boundary would change list on every allocation and again on every free,
 * adding two list moves (about 100 instructions) to each pair.
 */
#define FRAG(h, bq, live)	(16, h, bq, live, 13 * GiB, KB_BASE)
#define PAGES			(4096, 0, 1, 0, 13 * GiB, KB_BASE)
#define XARENA			(4096, 0, 1, 0, 3 * GiB + 256 * MiB, KB_XBASE)
#define IDS(live)		(1, 0, 1, live, KB_ID_CAPACITY, 1)
#define CHAIN(lv, pin)		(lv, pin, 64 * KiB, 0, 832 * MiB, KB_BASE)
#define CHURNP			(16, 10000, 0, 0, 13 * GiB, KB_BASE)

#define E(row, sw, val, impl, setup, prep, run, ps, qs, batch, cg, fl) \
	{ row, sw, val, impl, vm_setup_##setup, vm_teardown, prep, \
	  vm_run_##run, vm_counters, { U ps }, { U qs }, batch, cg, fl }

/* The three fit strategies over one setup: alloc + free of size. */
#define FITS(row, sw, val, ps, size, fl)				\
	E(row, sw, val, "kvmem_instant", frag, NULL, pair, ps, (size, IF), 0, 0, fl), \
	E(row, sw, val, "kvmem_best", frag, NULL, pair, ps, (size, BF), 0, 0, fl), \
	E(row, sw, val, "kvmem_next", frag, NULL, pair, ps, (size, NF), 0, 1000, 0)

/*
 * vmem_xalloc of 16 KiB with constraints c = (align, phase, nocross, min,
 * max) on an arena whose free space starts at 0x...E000, so every
 * constraint moves the block off the segment start and splits it in three;
 * the last entry aligns on an arena that starts aligned (a two-way split),
 * to separate the cost of the constraint from that of the extra fragment.
 */
#define XA(val, impl, fit, c) XA_ON(XARENA, val, impl, fit, c)
#define XA_ON(arena, val, impl, fit, c) \
	E("xalloc", "c", val, impl, frag, NULL, xpair, arena, \
	  (16 * KiB, U c, fit), 0, 0, fit == IF ? CORE : 0)
#define XALL(fit, impl) \
	XA("none", impl, fit, (0, 0, 0, 0, 0)), \
	E("xalloc", "c", "alloc", impl, frag, NULL, pair, XARENA, \
	  (16 * KiB, fit), 0, 0, fit == IF ? CORE : 0), \
	XA("align64K", impl, fit, (64 * KiB, 0, 0, 0, 0)), \
	XA("align64K_phase4K", impl, fit, (64 * KiB, 4 * KiB, 0, 0, 0)), \
	XA("nocross64K", impl, fit, (0, 0, 64 * KiB, 0, 0)), \
	XA("range1G_2G", impl, fit, \
	   (0, 0, 0, KB_XBASE + GiB, KB_XBASE + 2 * GiB - 1)), \
	XA("all", impl, fit, \
	   (64 * KiB, 4 * KiB, MiB, KB_XBASE + GiB, KB_XBASE + 2 * GiB - 1)), \
	XA_ON(PAGES, "align64K_on_aligned_arena", impl, fit, (64 * KiB, 0, 0, 0, 0))

/* Holes of 40 quanta, requests of 41: one size class, no hole fits. */
#define CLASSMISS(val, h, cg) \
	E("frag_classmiss", "holes", val, "kvmem_instant", frag, NULL, pair, \
	  FRAG(h, 40, 0), (41 * 16, IF), 0, 0, 0), \
	E("frag_classmiss", "holes", val, "kvmem_best", frag, NULL, pair, \
	  FRAG(h, 40, 0), (41 * 16, BF), 0, cg, 0)

const struct kb_workload kb_vmem_workloads[] = {
	FITS("pair_64B", NULL, NULL, FRAG(0, 1, 0), 64, CORE),
	E("pair_64KiB", NULL, NULL, "kvmem_instant", frag, NULL, pair, PAGES,
	  (64 * KiB, IF), 0, 0, CORE),
	E("pair_64KiB", NULL, NULL, "kvmem_best", frag, NULL, pair, PAGES,
	  (64 * KiB, BF), 0, 0, 0),
	E("pair_16KiB_align4K", NULL, NULL, "kvmem_instant", frag, NULL, pair,
	  PAGES, (16 * KiB, IF), 0, 0, CORE),

	/* Fragmentation sweep: requests the 1-quantum holes cannot hold... */
	FITS("frag_nofit", "holes", "0", FRAG(0, 1, 0), 32, CORE),
	FITS("frag_nofit", "holes", "1000", FRAG(1000, 1, 0), 32, CORE),
	FITS("frag_nofit", "holes", "1000000", FRAG(1000000, 1, 0), 32, CORE),
	/* ...and requests they fit exactly. */
	FITS("frag_fit", "holes", "0", FRAG(0, 1, 0), 16, CORE),
	FITS("frag_fit", "holes", "1000", FRAG(1000, 1, 0), 16, CORE),
	FITS("frag_fit", "holes", "1000000", FRAG(1000000, 1, 0), 16, CORE),
	/* Adversarial for segregated best fit (see CLASSMISS). */
	CLASSMISS("0", 0, 0),
	CLASSMISS("1000", 1000, 1000),
	CLASSMISS("1000000", 1000000, 20),

	/* Live-count sweep: one extra block's pair, and frees of random blocks. */
	E("live_pair", "live", "1000", "kvmem_instant", frag, NULL, pair,
	  FRAG(0, 1, 1000), (16, IF), 0, 0, CORE),
	E("live_pair", "live", "1000000", "kvmem_instant", frag, NULL, pair,
	  FRAG(0, 1, 1000000), (16, IF), 0, 0, CORE),
	E("live_free", "live", "1000", "kvmem", frag, vm_prepare_free, free,
	  FRAG(0, 1, 1000), (0), 100, 0, CORE),
	E("live_free", "live", "1000000", "kvmem", frag, vm_prepare_free, free,
	  FRAG(0, 1, 1000000), (0), 100, 0, CORE),

	/* Constrained vmem_xalloc against unconstrained, 16 KiB on 4 KiB pages. */
	XALL(IF, "kvmem_instant"),
	XALL(BF, "kvmem_best"),

	/* Random sizes, 16 B to 64 KiB, 10^4 live. */
	E("churn_random", NULL, NULL, "kvmem_instant", churn, NULL, churn,
	  CHURNP, (IF), 0, 20000, 0),
	E("churn_random", NULL, NULL, "kvmem_best", churn, NULL, churn,
	  CHURNP, (BF), 0, 20000, 0),
	E("churn_random", NULL, NULL, "kvmem_next", churn, NULL, churn,
	  CHURNP, (NF), 0, 20000, 0),

	/* IDs: quantum 1 over 1.1 million IDs, against the bitmap baseline. */
	E("ids_pair", NULL, NULL, "kvmem_instant", frag, NULL, pair, IDS(0),
	  (1, IF), 0, 0, 0),
	E("ids_churn", "live", "1000", "kvmem_instant", frag, NULL, idchurn,
	  IDS(1000), (1, IF), 0, 0, 0),
	E("ids_churn", "live", "1000000", "kvmem_instant", frag, NULL, idchurn,
	  IDS(1000000), (1, IF), 0, 0, 0),

	/* Import chain: 4 KiB pairs on one arena, and on a child importing 64 KiB. */
	E("chain", "levels", "1", "kvmem_instant", chain, NULL, pair,
	  CHAIN(1, 0), (4096, IF), 0, 0, 0),
	E("chain", "levels", "2_pinned", "kvmem_instant", chain, NULL, pair,
	  CHAIN(2, 1), (4096, IF), 0, 0, 0),
	E("chain", "levels", "2_import_release", "kvmem_instant", chain, NULL, pair,
	  CHAIN(2, 0), (4096, IF), 0, 0, 0),

	{ NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, { 0 }, { 0 }, 0, 0, 0 }
};
