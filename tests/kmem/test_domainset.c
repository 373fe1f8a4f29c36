/*
 * test_domainset.c -- domain sets and their policies: the contract of
 * domainset_init / _set_* / _parse, the exact order the iterator offers
 * domains under each policy, the two phases around domains short of free
 * pages, allocations placed by each policy (with the local, remote and
 * fallback statistics), and exhaustion of one domain moving allocations
 * to the next.
 */
#include "kmem_test.h"

TestSuite(domainset, .fini = kt_fini);

static domainset_t
mask_of(uint64_t bits)
{
	domainset_t m = DOMAINSET_T_INITIALIZER(bits);

	return m;
}

Test(domainset, init_contract)
{
	struct domainset ds, keep;
	domainset_t m = mask_of(0x6), empty = mask_of(0);
	unsigned w[4] = { 3, 1, 0, 0 };

	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_ROUNDROBIN, &m, -1), 0);
	cr_assert_eq(ds.ds_cnt, 2);
	cr_assert_eq(ds.ds_order[0], 1);
	cr_assert_eq(ds.ds_order[1], 2);
	keep = ds;
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_INVALID, &m, -1), EINVAL);
	cr_assert_eq(domainset_init(&ds, 99, &m, -1), EINVAL);
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_ROUNDROBIN, &empty, -1), EINVAL);
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_PREFER, &m, 0), EINVAL, "not in mask");
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_PREFER, NULL, 64), EINVAL);
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_FIXED, &m, 1), EINVAL, "two domains");
	cr_assert_eq(domainset_init(NULL, DOMAINSET_POLICY_ROUNDROBIN, NULL, -1), EINVAL);
	cr_assert(memcmp(&ds, &keep, sizeof(ds)) == 0, "failed init leaves the set alone");

	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_FIXED, NULL, 3), 0);
	cr_assert(DOMAINSET_ISSET(3, &ds.ds_mask));
	cr_assert_eq(DOMAINSET_COUNT(&ds.ds_mask), 1);

	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_WEIGHTED_INTERLEAVE, NULL, -1), 0);
	cr_assert_eq(domainset_set_weights(&ds, w, 4), 0);
	cr_assert_eq(ds.ds_weight[0], 3);
	unsigned zero[2] = { 0, 0 }, big[1] = { 70000 };
	cr_assert_eq(domainset_set_weights(&ds, zero, 2), EINVAL);
	cr_assert_eq(domainset_set_weights(&ds, big, 1), EINVAL);
	cr_assert_eq(domainset_set_weights(&ds, w, 0), EINVAL);
	cr_assert_eq(domainset_set_stride(&ds, 0), EINVAL);
	cr_assert_eq(domainset_set_stride(&ds, 4), 0);
	cr_assert_eq(domainset_set_preferred(&ds, &m), EINVAL, "not a preferred-many set");

	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_PREFERRED_MANY, &m, -1), 0);
	domainset_t out = mask_of(0x9);
	cr_assert_eq(domainset_set_preferred(&ds, &out), EINVAL, "outside the mask");
	cr_assert_eq(domainset_set_preferred(&ds, &empty), EINVAL);
	domainset_t two = mask_of(0x4);
	cr_assert_eq(domainset_set_preferred(&ds, &two), 0);
	cr_assert_eq(domainset_set_weights(&ds, w, 4), EINVAL, "not weighted");

	struct domainset junk;
	memset(&junk, 0, sizeof(junk));
	cr_assert_eq(domainset_set_stride(&junk, 2), EINVAL, "uninitialized");

	cr_assert_str_eq(domainset_policy_name(DOMAINSET_POLICY_FIRSTTOUCH), "firsttouch");
	cr_assert_str_eq(domainset_policy_name(DOMAINSET_POLICY_PREFERRED_MANY), "preferred-many");
	cr_assert_str_eq(domainset_policy_name(42), "invalid");
}

Test(domainset, parse)
{
	struct domainset ds;

	cr_assert_eq(domainset_parse(&ds, "rr"), 0);
	cr_assert_eq(ds.ds_policy, DOMAINSET_POLICY_ROUNDROBIN);
	cr_assert(ds.ds_all);
	cr_assert_eq(domainset_parse(&ds, "ft@0,2-3"), 0);
	cr_assert_eq(ds.ds_policy, DOMAINSET_POLICY_FIRSTTOUCH);
	cr_assert_eq(ds.ds_mask.__bits[0], 0xd);
	cr_assert_eq(domainset_parse(&ds, "prefer:2"), 0);
	cr_assert_eq(ds.ds_prefer, 2);
	cr_assert_eq(domainset_parse(&ds, "fixed:1"), 0);
	cr_assert_eq(ds.ds_mask.__bits[0], 0x2);
	cr_assert_eq(domainset_parse(&ds, "il/8"), 0);
	cr_assert_eq(ds.ds_stride, 8);
	cr_assert_eq(domainset_parse(&ds, "wil:3,1@0-1"), 0);
	cr_assert_eq(ds.ds_weight[0], 3);
	cr_assert_eq(ds.ds_weight[1], 1);
	cr_assert_eq(ds.ds_wtotal, 4);
	cr_assert_eq(domainset_parse(&ds, "pmany:1,3"), 0);
	cr_assert_eq(ds.ds_preferred.__bits[0], 0xa);
	static const char *const badspecs[] = {
		"", "bogus", "rr:1", "prefer", "prefer:1,2", "prefer:5@0-3", "il/0", "il/x",
		"wil", "wil:0,0", "pmany:70", "rr@", "rr@3-1", "rr@64", "rr junk", "fixed:1@0-1",
	};
	for (size_t i = 0; i < sizeof(badspecs) / sizeof(badspecs[0]); i++)
		cr_assert_eq(domainset_parse(&ds, badspecs[i]), EINVAL, "'%s'", badspecs[i]);
}

/* The domains one M_NOWAIT iteration offers, as a string of digits. */
static void
order(struct kmem *k, const struct domainset *ds, char *out, size_t len)
{
	struct domainset_iter di;
	int d, flags = M_NOWAIT;
	size_t n = 0;

	cr_assert_eq(domainset_iter_init(&di, k, ds, &d, &flags), 0);
	cr_assert_eq(flags, M_NOWAIT);
	do {
		cr_assert_lt(n + 1, len);
		out[n++] = (char)('0' + d);
	} while (domainset_iter_next(&di, &d) == 0);
	out[n] = '\0';
}

static struct kmem *
make4(void)
{
	struct kmem_config cfg;
	/* 0-1 and 2-3 are pairs; pairs are 20 apart, 1-2 are 15. */
	static const uint8_t dist[16] = {
		10, 12, 20, 20,
		12, 10, 15, 20,
		20, 15, 10, 12,
		20, 20, 12, 10,
	};

	kt_config(&cfg, 4, 16 * MiB, NULL);
	cfg.machine.distance = dist;
	return kt_create(&cfg);
}

Test(domainset, iteration_order_per_policy)
{
	struct kmem *k = make4();
	struct domainset ds;
	char buf[32];

	/* Round-robin: the thread's cursor moves by one per choice. */
	order(k, kmem_domainset(k, DOMAINSET_POLICY_ROUNDROBIN, 0), buf, sizeof(buf));
	cr_assert_str_eq(buf, "1230");
	order(k, kmem_domainset(k, DOMAINSET_POLICY_ROUNDROBIN, 0), buf, sizeof(buf));
	cr_assert_str_eq(buf, "1230", "cursor advanced by 4, then 1");

	/* First-touch: the calling CPU's domain first (CPUs 2c and 2c+1 are in domain c). */
	cr_assert_eq(pmap_sim_set_cpu(kmem_sim(k), 5), 0);
	order(k, kmem_domainset(k, DOMAINSET_POLICY_FIRSTTOUCH, 0), buf, sizeof(buf));
	cr_assert_eq(buf[0], '2', "%s", buf);
	cr_assert_eq(strlen(buf), 4);
	/* ... unless that domain is not in the set: then round-robin. */
	domainset_t m01 = mask_of(0x3);
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_FIRSTTOUCH, &m01, -1), 0);
	order(k, &ds, buf, sizeof(buf));
	cr_assert(strcmp(buf, "01") == 0 || strcmp(buf, "10") == 0, "%s", buf);

	/* Prefer: the domain, then the others. */
	order(k, kmem_domainset(k, DOMAINSET_POLICY_PREFER, 3), buf, sizeof(buf));
	cr_assert_eq(buf[0], '3');
	cr_assert_eq(strlen(buf), 4);
	/* Fixed: only the domain. */
	order(k, kmem_domainset(k, DOMAINSET_POLICY_FIXED, 1), buf, sizeof(buf));
	cr_assert_str_eq(buf, "1");

	/* Interleave: successive allocations stride across the set. */
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_INTERLEAVE, NULL, -1), 0);
	char firsts[16];
	for (int i = 0; i < 8; i++) {
		order(k, &ds, buf, sizeof(buf));
		firsts[i] = buf[0];
	}
	firsts[8] = '\0';
	cr_assert_str_eq(firsts, "01230123");
	cr_assert_eq(domainset_set_stride(&ds, 3), 0);
	domainset_reset(&ds);
	for (int i = 0; i < 8; i++) {
		order(k, &ds, buf, sizeof(buf));
		firsts[i] = buf[0];
	}
	cr_assert_str_eq(firsts, "00011122", "stride 3");

	/* Weighted interleave: 3:1:0:0 over eight choices. */
	unsigned w[4] = { 3, 1, 0, 0 };
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_WEIGHTED_INTERLEAVE, NULL, -1), 0);
	cr_assert_eq(domainset_set_weights(&ds, w, 4), 0);
	for (int i = 0; i < 8; i++) {
		order(k, &ds, buf, sizeof(buf));
		firsts[i] = buf[0];
		cr_assert_eq(strlen(buf), 4, "weight 0 domains stay fallbacks");
	}
	cr_assert_str_eq(firsts, "00010001");

	/* Preferred-many: the preferred ones nearest first, then the rest. */
	domainset_t pref = mask_of(0xa);	/* 1 and 3 */
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_PREFERRED_MANY, NULL, -1), 0);
	cr_assert_eq(domainset_set_preferred(&ds, &pref), 0);
	cr_assert_eq(pmap_sim_set_cpu(kmem_sim(k), 0), 0);	/* domain 0 */
	order(k, &ds, buf, sizeof(buf));
	cr_assert_eq(buf[0], '1', "1 is 12 from domain 0, 3 is 20: %s", buf);
	cr_assert_eq(buf[1], '3', "%s", buf);
	cr_assert_eq(strlen(buf), 4);
	cr_assert_eq(pmap_sim_set_cpu(kmem_sim(k), 4), 0);	/* domain 2 */
	order(k, &ds, buf, sizeof(buf));
	cr_assert_eq(buf[0], '3', "3 is 12 from domain 2, 1 is 15: %s", buf);
	cr_assert_eq(buf[1], '1', "%s", buf);
	cr_assert_eq(pmap_sim_set_cpu(kmem_sim(k), 7), 0);	/* domain 3 */
	order(k, &ds, buf, sizeof(buf));
	cr_assert_eq(buf[0], '3', "its own domain first: %s", buf);
	cr_assert_eq(buf[1], '1', "%s", buf);
	kmem_destroy(k);
}

Test(domainset, iteration_bad_input)
{
	struct kmem *k = make4();
	struct domainset_iter di;
	struct domainset ds;
	int d = -1, flags = M_NOWAIT;
	domainset_t m = mask_of(0x30);

	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_ROUNDROBIN, &m, -1), 0);
	cr_assert_eq(domainset_iter_init(&di, k, &ds, &d, &flags), EINVAL, "domains 4, 5");
	flags = 0;
	cr_assert_eq(domainset_iter_init(&di, k, kmem_domainset(k, DOMAINSET_POLICY_ROUNDROBIN,
	    0), &d, &flags), EINVAL, "no wait flag");
	flags = M_NOWAIT;
	cr_assert_eq(domainset_init(&ds, DOMAINSET_POLICY_PREFERRED_MANY, NULL, -1), 0);
	cr_assert_eq(domainset_iter_init(&di, k, &ds, &d, &flags), EINVAL, "nothing preferred");
	cr_assert_null(kmem_domainset(k, DOMAINSET_POLICY_PREFER, 4));
	cr_assert_null(kmem_domainset(k, DOMAINSET_POLICY_WEIGHTED_INTERLEAVE, 0));
	cr_assert_eq(domainset_iter_init(&di, k, NULL, &d, &flags), EINVAL);
	kmem_destroy(k);
}

/* Pages straight from the machine until domain d is below its minimum. */
static int
starve(struct kmem *k, int d, vm_page_t *pages, int max)
{
	int n = 0;

	while (kt_free_pages(k, d) >= k->dom[d].free_min) {
		cr_assert_lt(n, max);
		pages[n] = vm_page_alloc_noobj_domain(kmem_sim(k), d, VM_ALLOC_SYSTEM);
		cr_assert_not_null(pages[n]);
		n++;
	}
	return n;
}

Test(domainset, two_phases_around_short_domains)
{
	struct kmem *k = make4();
	static vm_page_t pages[8192];
	struct domainset *pref1 = kmem_domainset(k, DOMAINSET_POLICY_PREFER, 1);
	char buf[32];
	int n = starve(k, 1, pages, 8192);

	/* Domain 1 is offered last, after the others. */
	order(k, pref1, buf, sizeof(buf));
	cr_assert_eq(strlen(buf), 4, "%s", buf);
	cr_assert_eq(buf[3], '1', "%s", buf);
	cr_assert_eq(kt_dstats(k, 1).skipped, 1);
	/* An allocation preferring 1 lands elsewhere (a fallback) ... */
	vm_offset_t va = kmem_malloc_domainset_k(k, pref1, PG, M_NOWAIT);
	cr_assert_neq(va, 0);
	cr_assert_neq(kt_domain_of(k, va), 1);
	cr_assert_eq(kt_stats(k).fallbacks, 1);
	kmem_free_k(k, va, PG);
	/* ... but a fixed set still gets it from 1 in the second phase. */
	va = kmem_malloc_domainset_k(k, kmem_domainset(k, DOMAINSET_POLICY_FIXED, 1), PG,
	    M_NOWAIT);
	cr_assert_neq(va, 0);
	cr_assert_eq(kt_domain_of(k, va), 1);
	kmem_free_k(k, va, PG);
	while (n > 0)
		vm_page_free(kmem_sim(k), pages[--n]);
	order(k, pref1, buf, sizeof(buf));
	cr_assert_eq(buf[0], '1', "back to normal: %s", buf);
	kt_check(k);
	kmem_destroy(k);
}

Test(domainset, placement_and_locality_per_policy)
{
	struct kmem *k = make4();
	struct domainset il, wil, pm;
	unsigned w[4] = { 1, 0, 0, 3 };
	domainset_t pref = mask_of(0x4);
	vm_offset_t va[64];
	int i, cnt[4];

	cr_assert_eq(pmap_sim_set_cpu(kmem_sim(k), 2), 0);	/* domain 1 */
	/* First-touch: all local. */
	for (i = 0; i < 16; i++)
		va[i] = kmem_malloc_domainset_k(k, kmem_domainset(k, DOMAINSET_POLICY_FIRSTTOUCH,
		    0), 2 * PG, M_WAITOK);
	for (i = 0; i < 16; i++) {
		cr_assert_eq(kt_domain_of(k, va[i]), 1);
		kmem_free_k(k, va[i], 2 * PG);
	}
	struct kmem_stats st = kt_stats(k);
	cr_assert_eq(st.local_pages, 32);
	cr_assert_eq(st.remote_pages, 0);
	cr_assert_eq(st.fallbacks, 0);
	cr_assert_eq(st.access_cost, 320);

	/* Round-robin: one in four local; the cost follows the distance matrix. */
	for (i = 0; i < 16; i++)
		va[i] = kmem_malloc_k(k, PG, M_WAITOK);
	memset(cnt, 0, sizeof(cnt));
	for (i = 0; i < 16; i++) {
		cnt[kt_domain_of(k, va[i])]++;
		kmem_free_k(k, va[i], PG);
	}
	for (i = 0; i < 4; i++)
		cr_assert_eq(cnt[i], 4, "domain %d got %d", i, cnt[i]);
	st = kt_stats(k);
	cr_assert_eq(st.local_pages, 32 + 4);
	cr_assert_eq(st.remote_pages, 12);
	cr_assert_eq(st.access_cost, 320 + 4 * (12 + 10 + 15 + 20));

	/* Interleave and weighted interleave: the shares of the sequence. */
	cr_assert_eq(domainset_init(&il, DOMAINSET_POLICY_INTERLEAVE, NULL, -1), 0);
	cr_assert_eq(domainset_init(&wil, DOMAINSET_POLICY_WEIGHTED_INTERLEAVE, NULL, -1), 0);
	cr_assert_eq(domainset_set_weights(&wil, w, 4), 0);
	for (i = 0; i < 32; i++)
		va[i] = kmem_malloc_domainset_k(k, i < 16 ? &il : &wil, PG, M_WAITOK);
	memset(cnt, 0, sizeof(cnt));
	for (i = 0; i < 16; i++)
		cnt[kt_domain_of(k, va[i])]++;
	cr_assert(cnt[0] == 4 && cnt[1] == 4 && cnt[2] == 4 && cnt[3] == 4);
	memset(cnt, 0, sizeof(cnt));
	for (i = 16; i < 32; i++)
		cnt[kt_domain_of(k, va[i])]++;
	cr_assert(cnt[0] == 4 && cnt[3] == 12, "weights 1:3 -> %d:%d", cnt[0], cnt[3]);
	for (i = 0; i < 32; i++)
		kmem_free_k(k, va[i], PG);

	/* Preferred-many with domain 2 preferred from domain 1: everything in 2. */
	cr_assert_eq(domainset_init(&pm, DOMAINSET_POLICY_PREFERRED_MANY, NULL, -1), 0);
	cr_assert_eq(domainset_set_preferred(&pm, &pref), 0);
	for (i = 0; i < 8; i++) {
		va[i] = kmem_malloc_domainset_k(k, &pm, PG, M_WAITOK);
		cr_assert_eq(kt_domain_of(k, va[i]), 2);
	}
	for (i = 0; i < 8; i++)
		kmem_free_k(k, va[i], PG);
	cr_assert_eq(kt_dstats(k, 2).remote_pages, 4 + 4 + 8, "rr, il, pmany");
	kt_check(k);
	kmem_destroy(k);
}

Test(domainset, exhausted_domain_moves_on)
{
	struct kmem *k = make4();
	static vm_offset_t va[8192];
	struct domainset *pref0 = kmem_domainset(k, DOMAINSET_POLICY_PREFER, 0);
	struct domainset *fix0 = kmem_domainset(k, DOMAINSET_POLICY_FIXED, 0);
	int n = 0, moved = 0, d;

	/* Fill domain 0 through the fixed set until it says no. */
	while ((va[n] = kmem_malloc_domainset_k(k, fix0, 4 * PG, M_NOWAIT)) != 0)
		n++;
	cr_assert_eq(errno, ENOMEM);
	cr_assert_gt(n, 800, "%d allocations", n);
	cr_assert_eq(kt_dstats(k, 0).fallbacks, 0);
	/* Preferring 0 now lands in the others, counted as fallbacks. */
	for (int i = 0; i < 32; i++) {
		va[n] = kmem_malloc_domainset_k(k, pref0, 4 * PG, M_NOWAIT);
		cr_assert_neq(va[n], 0);
		d = kt_domain_of(k, va[n]);
		cr_assert_neq(d, 0);
		moved++;
		n++;
	}
	cr_assert_eq(kt_stats(k).fallbacks, (uint64_t)moved);
	kt_check(k);
	while (n > 0) {
		n--;
		kmem_free_k(k, va[n], 4 * PG);
	}
	kt_check(k);
	kmem_destroy(k);
}
