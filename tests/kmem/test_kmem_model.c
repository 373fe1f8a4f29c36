/*
 * test_kmem_model.c -- randomized model-based runs: long random sequences
 * of kmem_malloc (every policy), kmem_alloc_contig, kmem_alloc_attr,
 * kva_alloc + kmem_back and the matching frees over machines of 1 to 4
 * domains, checked against a reference list of live allocations (no
 * overlap, placement, contents) and against kmem_check().  Seed with
 * KVMEM_SEED; KVMEM_KMEM_MODEL_OPS sets the length (default 20000 per
 * machine).
 */
#include "kmem_test.h"

TestSuite(kmem_model, .fini = kt_fini);

enum kind { K_MALLOC, K_CONTIG, K_ATTR, K_BACK };

struct live {
	vm_offset_t	va;
	vm_size_t	size;
	enum kind	kind;
	uint64_t	seed;
};

#define MAXLIVE	256
#define NPOL	7

struct model {
	struct kmem	*k;
	struct kvt_rng	rng;
	uint64_t	seed;
	int		nd;
	struct live	live[MAXLIVE];
	int		n;
	uint64_t	pages;		/* pages the live allocations hold */
	struct domainset pol[NPOL];
	uint64_t	ok[4], fail[4];
};

static void
make_policies(struct model *m)
{
	struct kvt_rng *r = &m->rng;
	unsigned w[4];
	domainset_t pref;
	int d;

	cr_assert_eq(domainset_init(&m->pol[0], DOMAINSET_POLICY_ROUNDROBIN, NULL, -1), 0);
	cr_assert_eq(domainset_init(&m->pol[1], DOMAINSET_POLICY_FIRSTTOUCH, NULL, -1), 0);
	cr_assert_eq(domainset_init(&m->pol[2], DOMAINSET_POLICY_INTERLEAVE, NULL, -1), 0);
	cr_assert_eq(domainset_set_stride(&m->pol[2], 1 + (unsigned)kvt_below(r, 3)), 0);
	cr_assert_eq(domainset_init(&m->pol[3], DOMAINSET_POLICY_PREFER, NULL,
	    (int)kvt_below(r, (uint64_t)m->nd)), 0);
	cr_assert_eq(domainset_init(&m->pol[4], DOMAINSET_POLICY_FIXED, NULL,
	    (int)kvt_below(r, (uint64_t)m->nd)), 0);
	cr_assert_eq(domainset_init(&m->pol[5], DOMAINSET_POLICY_WEIGHTED_INTERLEAVE, NULL, -1), 0);
	for (d = 0; d < 4; d++)
		w[d] = (unsigned)kvt_below(r, 4);
	w[kvt_below(r, (uint64_t)m->nd)] = 5;
	cr_assert_eq(domainset_set_weights(&m->pol[5], w, m->nd), 0);
	cr_assert_eq(domainset_init(&m->pol[6], DOMAINSET_POLICY_PREFERRED_MANY, NULL, -1), 0);
	DOMAINSET_ZERO(&pref);
	DOMAINSET_SET(kvt_below(r, (uint64_t)m->nd), &pref);
	DOMAINSET_SET(kvt_below(r, (uint64_t)m->nd), &pref);
	cr_assert_eq(domainset_set_preferred(&m->pol[6], &pref), 0);
}

static uint64_t
pick_pages(struct kvt_rng *r)
{
	unsigned c = (unsigned)kvt_below(r, 100);

	if (c < 70)
		return kvt_range(r, 1, 8);
	if (c < 90)
		return kvt_range(r, 9, 64);
	if (c < 98)
		return kvt_range(r, 65, 600);
	return 512;
}

/* Mark the first and last page of an allocation (the middle is checked by kmem_check). */
static void
mark(struct model *m, const struct live *l)
{
	kt_fill(m->k, l->va, 256, l->seed);
	kt_fill(m->k, l->va + l->size - 256, 256, l->seed + 1);
}

static bool
marked(struct model *m, const struct live *l)
{
	return kt_verify(m->k, l->va, 256, l->seed) &&
	    kt_verify(m->k, l->va + l->size - 256, 256, l->seed + 1);
}

static void
add(struct model *m, vm_offset_t va, vm_size_t size, enum kind kind, bool zero)
{
	struct live *l = &m->live[m->n];

	for (int i = 0; i < m->n; i++)
		cr_assert(va + size <= m->live[i].va || m->live[i].va + m->live[i].size <= va,
		    "seed %" PRIu64 ": 0x%" PRIx64 "+%zu overlaps 0x%" PRIx64 "+%zu", m->seed,
		    (uint64_t)va, (size_t)size, (uint64_t)m->live[i].va, (size_t)m->live[i].size);
	if (zero)
		cr_assert(kt_is_zero(m->k, va, size), "seed %" PRIu64 ": M_ZERO memory at 0x%"
		    PRIx64 " is not zero", m->seed, (uint64_t)va);
	l->va = va;
	l->size = size;
	l->kind = kind;
	l->seed = kvt_next(&m->rng);
	mark(m, l);
	m->n++;
	m->pages += size / PG;
}

static void
do_alloc(struct model *m)
{
	struct kvt_rng *r = &m->rng;
	struct kmem *k = m->k;
	uint64_t np = pick_pages(r);
	vm_size_t size = np * PG;
	int flags = M_NOWAIT | (kvt_chance(r, 30) ? M_ZERO : 0);
	unsigned c = (unsigned)kvt_below(r, 100);
	enum kind kind;
	vm_offset_t va;

	if (c < 80) {
		int p = (int)kvt_below(r, NPOL);
		const struct domainset *ds = &m->pol[p];

		kind = K_MALLOC;
		if (kvt_chance(r, 5))
			flags |= M_EXEC;
		(void)pmap_sim_set_cpu(kmem_sim(k), (int)kvt_below(r, (uint64_t)(2 * m->nd)));
		va = kmem_malloc_domainset_k(k, ds, size, flags);
		if (va != 0) {
			int d = kt_domain_of(k, va);

			cr_assert_eq(kt_domain_of(k, va + size - PG), d, "seed %" PRIu64, m->seed);
			if (p == 4)
				cr_assert_eq(d, ds->ds_prefer, "seed %" PRIu64 ": fixed set", m->seed);
		}
	} else if (c < 88) {
		kind = K_CONTIG;
		np = kvt_range(r, 1, 16);
		size = np * PG;
		va = kmem_alloc_contig_k(k, size, flags, 0, ~(vm_paddr_t)0,
		    (unsigned long)PG << kvt_below(r, 4), 0, VM_MEMATTR_DEFAULT);
		if (va != 0)
			cr_assert_eq(pmap_kextract(kmem_sim(k), va + size - PG),
			    pmap_kextract(kmem_sim(k), va) + size - PG, "seed %" PRIu64, m->seed);
	} else if (c < 93) {
		kind = K_ATTR;
		va = kmem_alloc_attr_k(k, size, flags, 0, ~(vm_paddr_t)0, VM_MEMATTR_DEFAULT);
	} else {
		kind = K_BACK;
		va = kva_alloc_k(k, size);
		if (va != 0 && kmem_back_k(k, va, size, flags) != KERN_SUCCESS) {
			kva_free_k(k, va, size);
			va = 0;
		}
	}
	if (va == 0) {
		cr_assert_eq(errno, ENOMEM, "seed %" PRIu64 ": errno %d", m->seed, errno);
		m->fail[kind]++;
		return;
	}
	m->ok[kind]++;
	add(m, va, size, kind, (flags & M_ZERO) != 0);
}

static void
do_free(struct model *m, int i)
{
	struct live l = m->live[i];

	cr_assert(marked(m, &l), "seed %" PRIu64 ": allocation 0x%" PRIx64 "+%zu was disturbed",
	    m->seed, (uint64_t)l.va, (size_t)l.size);
	if (l.kind == K_BACK) {
		kmem_unback_k(m->k, l.va, l.size);
		kva_free_k(m->k, l.va, l.size);
	} else {
		kmem_free_k(m->k, l.va, l.size);
	}
	cr_assert_eq(pmap_kextract(kmem_sim(m->k), l.va), 0);
	m->live[i] = m->live[--m->n];
	m->pages -= l.size / PG;
}

static void
run(int nd, uint64_t ops)
{
	struct kmem_config cfg;
	struct model *m = calloc(1, sizeof(*m));
	struct kt_snap s0, s1;
	uint64_t op;

	cr_assert_not_null(m);
	m->seed = kvt_seed() ^ ((uint64_t)nd * 0x9e3779b97f4a7c15ull);
	kvt_rng_init(&m->rng, m->seed);
	m->nd = nd;
	kt_config(&cfg, nd, 16 * MiB, NULL);
	m->k = kt_create(&cfg);
	make_policies(m);
	s0 = kt_snap(m->k);
	for (op = 0; op < ops; op++) {
		if (m->n < MAXLIVE && (m->n == 0 || kvt_chance(&m->rng, 55)))
			do_alloc(m);
		else
			do_free(m, (int)kvt_below(&m->rng, (uint64_t)m->n));
		if (op % 256 == 255) {
			cr_assert_eq(kmem_check(m->k), 0, "seed %" PRIu64 ", op %" PRIu64, m->seed,
			    op);
			cr_assert_eq(kt_stats(m->k).pages, m->pages, "seed %" PRIu64, m->seed);
		}
	}
	while (m->n > 0)
		do_free(m, m->n - 1);
	cr_assert_eq(kmem_check(m->k), 0, "seed %" PRIu64, m->seed);
	s1 = kt_snap(m->k);
	cr_assert_eq(s0.free_plus_pt, s1.free_plus_pt, "seed %" PRIu64 ": pages leaked", m->seed);
	cr_assert_eq(s1.kobj_pages, 0);
	cr_assert_eq(s1.live_allocs, 0);
	cr_log_info("model nd=%d seed %" PRIu64 ": malloc %" PRIu64 "/%" PRIu64 " contig %"
	    PRIu64 "/%" PRIu64 " attr %" PRIu64 "/%" PRIu64 " back %" PRIu64 "/%" PRIu64
	    " (ok/failed)", nd, m->seed, m->ok[0], m->fail[0], m->ok[1], m->fail[1], m->ok[2],
	    m->fail[2], m->ok[3], m->fail[3]);
	cr_assert_gt(m->ok[0], 0);
	kmem_destroy(m->k);
	free(m);
}

static uint64_t
ops(void)
{
	return kvt_env_ull("KVMEM_KMEM_MODEL_OPS", 20000);
}

Test(kmem_model, one_domain, .timeout = 300)
{
	run(1, ops());
}

Test(kmem_model, two_domains, .timeout = 300)
{
	run(2, ops());
}

Test(kmem_model, three_domains, .timeout = 300)
{
	run(3, ops());
}

Test(kmem_model, four_domains, .timeout = 300)
{
	run(4, ops());
}
