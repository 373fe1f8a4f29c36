/*
 * psim_test.h -- helpers for the pmap_sim suites: machine construction, a
 * recording misuse handler, the live-machine fini check, a reference
 * checker of the free page histogram.
 */
#ifndef PSIM_TEST_H
#define PSIM_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pmap_sim_impl.h"
#include "common/kvtest.h"

#define MiB	((uint64_t)1 << 20)
#define GiB	((uint64_t)1 << 30)
#define PG	PMAP_SIM_PAGE_SIZE
#define SPG	PMAP_SIM_SUPERPAGE_SIZE
#define KVA	PMAP_SIM_VM_MIN_KERNEL_ADDRESS

/* Pass a zeroed log as the handler argument; the last report wins. */
struct psim_log {
	int			count;
	enum pmap_sim_misuse	kind;
	uint64_t		addr;
	struct pmap_sim		*sim;
	char			msg[512];
};

static inline void
psim_record(void *arg, struct pmap_sim *sim, enum pmap_sim_misuse kind, uint64_t addr,
    const char *msg)
{
	struct psim_log *log = arg;

	log->count++;
	log->kind = kind;
	log->addr = addr;
	log->sim = sim;
	snprintf(log->msg, sizeof(log->msg), "%s", msg);
}

/* A machine of ndomains domains of size bytes each; log (may be NULL) records misuse. */
static inline struct pmap_sim *
psim_make(int ndomains, uint64_t size, struct psim_log *log)
{
	struct pmap_sim_config cfg;
	struct pmap_sim *sim;

	pmap_sim_config_init(&cfg);
	cfg.ndomains = ndomains;
	cfg.domain_size = size;
	cfg.ncpus = 2 * ndomains;
	if (log != NULL) {
		cfg.misuse_fn = psim_record;
		cfg.misuse_arg = log;
	}
	sim = pmap_sim_create(&cfg);
	cr_assert_not_null(sim, "pmap_sim_create(%d x %" PRIu64 ")", ndomains, size);
	return sim;
}

static inline void
psim_check(struct pmap_sim *sim)
{
	cr_assert_eq(pmap_sim_check(sim), 0, "pmap_sim_check failed (see stderr)");
}

static inline struct pmap_sim_domain_stats
psim_dstats(struct pmap_sim *sim, int domain)
{
	struct pmap_sim_domain_stats st = { .version = PMAP_SIM_STATS_VERSION };

	cr_assert_eq(pmap_sim_domain_stats(sim, domain, &st), 0);
	return st;
}

static inline struct pmap_sim_stats
psim_stats(struct pmap_sim *sim)
{
	struct pmap_sim_stats st = { .version = PMAP_SIM_STATS_VERSION };

	cr_assert_eq(pmap_sim_stats(sim, &st), 0);
	return st;
}

static inline uint64_t
psim_ctl(struct pmap_sim *sim, const char *name)
{
	uint64_t v = 0;

	cr_assert_eq(pmap_sim_sysctl(sim, name, &v), 0, "sysctl %s", name);
	return v;
}

/* Suite .fini: every machine the test made was destroyed. */
static inline void
psim_fini_no_live(void)
{
	cr_assert_eq(pmap_sim__live_machines(), 0, "%ld machine(s) not destroyed",
	    pmap_sim__live_machines());
}

#endif /* PSIM_TEST_H */
