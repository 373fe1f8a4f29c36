/*
 * test_kmem_stats.c -- statistics per instance and per domain, the census
 * of 2 MiB chunks (every fully populated chunk promoted, every chunk from
 * one domain, with 1, 2 and 4 domains; and what a KVA quantum smaller than
 * a superpage does to placement), and the JSON output.
 */
#include "kmem_test.h"

TestSuite(kmem_stats, .fini = kt_fini);

static struct kmem_chunk_stats
census(struct kmem *k)
{
	struct kmem_chunk_stats cs = { .version = KMEM_STATS_VERSION };

	cr_assert_eq(kmem_chunk_census(k, &cs), 0);
	return cs;
}

static void
promotion_run(int nd)
{
	struct kmem *k = kt_make(nd, 64 * MiB, NULL);
	static vm_offset_t va[4096];
	static vm_size_t sz[4096];
	struct kvt_rng r;
	int n = 0, i;

	kvt_rng_init(&r, kvt_seed() + (uint64_t)nd);
	/* Whole chunks, and runs of small allocations that fill chunks. */
	for (i = 0; i < 6 * nd; i++) {
		sz[n] = 512 * PG;
		va[n++] = kmem_malloc_k(k, 512 * PG, M_WAITOK);
	}
	for (int d = 0; d < nd; d++) {
		vm_size_t used = 0;

		while (used < 3 * 512 * PG) {
			vm_size_t s = kvt_range(&r, 1, 9) * PG;

			sz[n] = s;
			va[n++] = kmem_malloc_domain_k(k, d, s, M_WAITOK);
			used += s;
		}
	}
	for (i = 0; i < n; i++)
		cr_assert_neq(va[i], 0, "seed %" PRIu64, kvt_seed());
	struct kmem_chunk_stats cs = census(k);
	cr_log_info("%d domain(s): %" PRIu64 " chunks, %" PRIu64 " full, %" PRIu64 " promoted, %"
	    PRIu64 " from one domain", nd, cs.chunks, cs.full, cs.promoted, cs.one_domain);
	cr_assert_geq(cs.full, (uint64_t)(6 * nd + 2 * nd), "%d domains, seed %" PRIu64, nd,
	    kvt_seed());
	cr_assert_eq(cs.promoted, cs.full, "%d domains: every full chunk promoted (seed %" PRIu64
	    ")", nd, kvt_seed());
	cr_assert_eq(cs.one_domain, cs.chunks, "%d domains: every chunk from one domain (seed %"
	    PRIu64 ")", nd, kvt_seed());
	struct kmem_stats st = kt_stats(k);
	cr_assert_eq(st.pde_promotions, cs.promoted);
	kt_check(k);
	while (n > 0) {
		n--;
		kmem_free_k(k, va[n], sz[n]);
	}
	cs = census(k);
	cr_assert_eq(cs.chunks, 0);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_stats, promotion_one_domain)
{
	promotion_run(1);
}

Test(kmem_stats, promotion_two_domains)
{
	promotion_run(2);
}

Test(kmem_stats, promotion_four_domains)
{
	promotion_run(4);
}

/*
 * A KVA quantum of half a superpage lets two domains' arenas share a 2 MiB
 * chunk.  The chunk's reservation is made by whichever domain touches it
 * first, and the other domain's pages then come from that reservation: the
 * placement is lost (FreeBSD asserts this never happens).  kmem keeps
 * working: it counts pages where they are and frees by address.
 */
Test(kmem_stats, small_kva_quantum_loses_placement)
{
	struct kmem_config cfg;
	struct kmem *k;
	vm_offset_t va[16];
	int i, misplaced = 0;

	kt_config(&cfg, 2, 32 * MiB, NULL);
	cfg.kva_quantum = 1 * MiB;
	cfg.import_quantum = 1 * MiB;
	k = kt_create(&cfg);
	/* Alternate domains, a quantum each: KVA neighbours belong to different domains. */
	for (i = 0; i < 16; i++) {
		va[i] = kmem_malloc_domain_k(k, i % 2, 256 * PG, M_WAITOK);
		cr_assert_neq(va[i], 0);
		if (kt_domain_of(k, va[i]) != i % 2)
			misplaced++;
	}
	cr_assert_gt(misplaced, 0, "some allocations got the other domain's memory");
	cr_assert_eq(kt_dstats(k, 0).pages + kt_dstats(k, 1).pages, 16 * 256);
	cr_assert_eq(kt_dstats(k, 1).allocs, 8);
	struct kmem_chunk_stats cs = census(k);
	cr_assert_eq(cs.one_domain, cs.chunks, "a reservation is one domain");
	kt_check(k);
	for (i = 0; i < 16; i++)
		kmem_free_k(k, va[i], 256 * PG);	/* found by address */
	cr_assert_eq(kt_stats(k).pages, 0);
	kt_check(k);
	kmem_destroy(k);
}

Test(kmem_stats, counters_per_domain)
{
	struct kmem *k = kt_make(2, 32 * MiB, NULL);
	vm_offset_t a, b, c;

	cr_assert_eq(pmap_sim_set_cpu(kmem_sim(k), 3), 0);	/* domain 1 */
	a = kmem_malloc_domain_k(k, 0, 3 * PG, M_WAITOK);
	b = kmem_malloc_domain_k(k, 1, 5 * PG, M_WAITOK | M_EXEC);
	c = kva_alloc_k(k, 2 * PG);
	cr_assert_eq(kmem_back_domain_k(k, 1, c, 2 * PG, M_WAITOK), KERN_SUCCESS);

	struct kmem_domain_stats d0 = kt_dstats(k, 0), d1 = kt_dstats(k, 1);
	cr_assert_eq(d0.domain, 0);
	cr_assert_eq(d0.kva_inuse, 3 * PG);
	cr_assert_eq(d0.kva_total, 8 * MiB);
	cr_assert_eq(d0.pages, 3);
	cr_assert_eq(d0.allocs, 1);
	cr_assert_eq(d0.remote_pages, 3);
	cr_assert_eq(d1.rwx_inuse, 5 * PG);
	cr_assert_eq(d1.rwx_total, 2 * MiB);
	cr_assert_eq(d1.pages, 7, "kmem_malloc and kmem_back pages");
	cr_assert_eq(d1.local_pages, 5);
	cr_assert_eq(d1.page_count, 8192);
	cr_assert_eq(d1.free_min, 4 + 8192 / 200);
	cr_assert_gt(d1.free_count, 7000);
	struct kmem_domain_stats bad = { .version = 99 };
	cr_assert_eq(kmem_get_domain_stats(k, 0, &bad), EINVAL);
	bad.version = KMEM_STATS_VERSION;
	cr_assert_eq(kmem_get_domain_stats(k, 2, &bad), EINVAL);

	struct kmem_stats st = kt_stats(k);
	cr_assert_eq(st.ndomains, 2);
	cr_assert_eq(st.ncpus, 4);
	cr_assert_eq(st.pages, 10);
	cr_assert_eq(st.allocs, 2);
	cr_assert_eq(st.local_pages, 5);
	cr_assert_eq(st.remote_pages, 3);
	cr_assert_eq(st.access_cost, 5 * 10 + 3 * 21);
	cr_assert_eq(st.kva_alloc_inuse, 2 * MiB + 2 * PG, "zero region and c");
	cr_assert_geq(st.kva_imported, st.kernel_arena_total);
	struct kmem_stats badst = { .version = 0 };
	cr_assert_eq(kmem_get_stats(k, &badst), EINVAL);

	char buf[4096], small[16];
	int len = kmem_stats_json(k, buf, sizeof(buf));
	cr_assert_gt(len, 100);
	cr_assert_lt((size_t)len, sizeof(buf));
	cr_assert_eq(strlen(buf), (size_t)len);
	cr_assert(strstr(buf, "\"version\":1") != NULL);
	cr_assert(strstr(buf, "\"access_cost\":113") != NULL, "%s", buf);
	cr_assert(strstr(buf, "\"domains\":[{\"domain\":0,") != NULL, "%s", buf);
	cr_assert(buf[len - 1] == '}' && buf[len - 2] == ']');
	cr_assert_eq(kmem_stats_json(k, small, sizeof(small)), len, "snprintf-like length");
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(kmem_stats_json(k, NULL, 0), len);

	kmem_free_k(k, a, 3 * PG);
	kmem_free_k(k, b, 5 * PG);
	kmem_unback_k(k, c, 2 * PG);
	kva_free_k(k, c, 2 * PG);
	st = kt_stats(k);
	cr_assert_eq(st.frees, 2);
	cr_assert_eq(st.pages, 0);
	kt_check(k);
	kmem_destroy(k);
}
