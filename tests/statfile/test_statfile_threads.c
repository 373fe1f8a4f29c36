/*
 * test_statfile_threads.c -- the writer thread (start, rewrite, stop,
 * EBUSY, unlink on stop, a failing first write) and snapshots taken while
 * other threads create and destroy arenas, machines and kmem instances.
 * Suite 'threads': also run under ThreadSanitizer (against crshim).
 *
 * KVMEM_SEED seeds the churn; KVMEM_STATFILE_ROUNDS sets its length.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "statfile_test.h"

TestSuite(statfile_threads, .fini = st_fini);

#define KiB	((vmem_size_t)1 << 10)
#define MiB	((vmem_size_t)1 << 20)

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The "sequence" of the snapshot at path; 0 if unreadable. */
static uint64_t
file_sequence(const char *path)
{
	struct kj doc;
	size_t len;
	char *text = st_slurp(path, &len);
	uint64_t seq;

	if (text == NULL)
		return 0;
	st_parse(text, len, &doc);	/* a rename never exposes half a file */
	seq = st_u(&doc, "sequence");
	kj_free(&doc);
	free(text);
	return seq;
}

Test(statfile_threads, start_rewrites_until_stop)
{
	vmem_t *vm = vmem_create("sf-thread", 0x1000, 0x100000, 0x1000, 0, M_WAITOK);
	char dir[256], path[300];
	uint64_t first, seq = 0;
	struct stat sb;

	cr_assert_not_null(vm);
	st_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/live.json", dir);
	cr_assert_eq(kvmem_statfile_start(path, 5, 0), 0);
	/* The first snapshot is written before start returns. */
	first = file_sequence(path);
	cr_assert_gt(first, 0, "no snapshot at %s after kvmem_statfile_start", path);
	cr_assert_eq(kvmem_statfile_start(path, 5, 0), EBUSY);
	/* The thread rewrites it (a liveness bound, not a timing assertion). */
	for (int i = 0; i < 4000 && (seq = file_sequence(path)) <= first + 2; i++)
		nap_ms(5);
	cr_assert_gt(seq, first + 2, "the writer thread did not rewrite %s", path);
	kvmem_statfile_stop();
	cr_assert_eq(kvmem_statfile_errors(), 0);
	/* After stop the file stays and is no longer rewritten. */
	seq = file_sequence(path);
	cr_assert_gt(seq, 0);
	nap_ms(30);
	cr_assert_eq(file_sequence(path), seq, "rewritten after kvmem_statfile_stop");
	kvmem_statfile_stop();		/* a second stop does nothing */

	/* With KVMEM_STATFILE_UNLINK, stop removes it. */
	cr_assert_eq(kvmem_statfile_start(path, 1000, KVMEM_STATFILE_UNLINK |
	    KVMEM_STATFILE_SEGMENTS), 0);
	cr_assert_eq(stat(path, &sb), 0);
	kvmem_statfile_stop();
	cr_assert_neq(stat(path, &sb), 0, "%s still there after stop with UNLINK", path);
	rmdir(dir);
	vmem_destroy(vm);
}

Test(statfile_threads, start_fails_on_unwritable_path)
{
	char dir[256], path[300];

	st_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/missing/live.json", dir);
	cr_assert_eq(kvmem_statfile_start(path, 5, 0), ENOENT);
	/* No thread was left running: a good start works. */
	snprintf(path, sizeof(path), "%s/live.json", dir);
	cr_assert_eq(kvmem_statfile_start(path, 5, KVMEM_STATFILE_UNLINK), 0);
	kvmem_statfile_stop();
	cr_assert_neq(access(path, F_OK), 0);
	rmdir(dir);
}

/* ---- Snapshots during churn ------------------------------------------------------- */

static atomic_bool churn_done;

struct churner {
	int		id;
	uint64_t	seed;
	unsigned	rounds;
};

/* Create a parent chain of arenas with allocations, then tear it down. */
static void *
arena_churn(void *arg)
{
	struct churner *c = arg;
	struct kvt_rng r;
	char name[32];

	kvt_rng_init(&r, c->seed);
	for (unsigned round = 0; round < c->rounds; round++) {
		vmem_t *vm[4];
		vmem_addr_t a[4][8];
		int depth = (int)kvt_range(&r, 1, 4);

		for (int d = 0; d < depth; d++) {
			snprintf(name, sizeof(name), "churn-%d-%u-%d", c->id, round, d);
			vm[d] = d == 0 ?
			    vmem_create(name, 0x100000, 16 * MiB, 4 * KiB, 0, M_WAITOK) :
			    vmem_create(name, 0, 0, 4 * KiB, kvt_chance(&r, 50) ? 16 * KiB : 0,
			    M_WAITOK);
			cr_assert_not_null(vm[d]);
			if (d > 0)
				vmem_set_source(vm[d], vm[d - 1], 64 * KiB);
		}
		for (int d = 0; d < depth; d++)
			for (int i = 0; i < 8; i++)
				cr_assert_eq(vmem_alloc(vm[d], (vmem_size_t)(i % 4 + 1) * 4 * KiB,
				    M_NOWAIT, &a[d][i]), 0, "seed %" PRIu64, kvt_seed());
		for (int d = depth - 1; d >= 0; d--) {
			for (int i = 0; i < 8; i++)
				vmem_free(vm[d], a[d][i], (vmem_size_t)(i % 4 + 1) * 4 * KiB);
			vmem_destroy(vm[d]);
		}
	}
	return NULL;
}

/* Machines and kmem instances come and go. */
static void *
machine_churn(void *arg)
{
	struct churner *c = arg;

	for (unsigned round = 0; round < c->rounds / 8 + 1; round++) {
		struct pmap_sim_config pc;
		struct kmem_config kc;
		struct pmap_sim *sim;
		struct kmem *k;
		vm_offset_t va;

		pmap_sim_config_init(&pc);
		pc.domain_size = 4 * MiB;
		snprintf(pc.name, sizeof(pc.name), "churn-sim");
		cr_assert_not_null(sim = pmap_sim_create(&pc));
		kmem_config_init(&kc);
		kc.machine.ndomains = 2;
		kc.machine.domain_size = 8 * MiB;
		snprintf(kc.machine.name, sizeof(kc.machine.name), "churn-kmem-sim");
		cr_assert_not_null(k = kmem_create(&kc));
		va = kmem_malloc_k(k, 8 * KiB, M_WAITOK);
		cr_assert_neq(va, 0);
		kmem_free_k(k, va, 8 * KiB);
		kmem_destroy(k);
		pmap_sim_destroy(sim);
	}
	return NULL;
}

/* Take snapshots until the churners finish; each must be whole and coherent. */
static void *
snapshotter(void *arg)
{
	unsigned long *count = arg;

	while (!atomic_load(&churn_done)) {
		struct kj doc;
		const struct kj *arenas;

		st_snapshot(&doc, (*count & 1) != 0 ? KVMEM_STATFILE_SEGMENTS : 0);
		arenas = st_get(&doc, "arenas");
		for (size_t i = 0; i < kj_len(arenas); i++) {
			const struct kj *a = kj_at(arenas, i), *p = st_get(a, "parent");
			int64_t pi;

			cr_assert_eq(st_i(a, "id"), (int64_t)i);
			if (p->type != KJ_NULL) {
				cr_assert_eq(kj_i64(p, &pi), 0);
				cr_assert(pi >= 0 && (size_t)pi < kj_len(arenas) && (size_t)pi != i,
				    "arena %zu: parent %" PRId64 " of %zu (seed %" PRIu64 ")", i,
				    pi, kj_len(arenas), kvt_seed());
			}
			cr_assert_geq(st_hex(a, "bytes_total"), st_hex(a, "bytes_inuse"));
		}
		/*
		 * A kmem instance names its machine by position, or null when the
		 * machine was made after the machines were listed.
		 */
		for (size_t i = 0; i < kj_len(st_get(&doc, "kmem")); i++) {
			const struct kj *k = kj_at(st_get(&doc, "kmem"), i), *m;
			const struct kj *machines = st_get(&doc, "machines");
			int64_t mi;

			if (st_get(k, "machine")->type == KJ_NULL)
				continue;
			mi = st_i(k, "machine");
			cr_assert(mi >= 0 && (size_t)mi < kj_len(machines));
			m = kj_at(machines, (size_t)mi);
			cr_assert_str_eq(kj_str(st_get(m, "name")),
			    kj_str(st_get(k, "machine_name")));
		}
		kj_free(&doc);
		(*count)++;
	}
	return NULL;
}

Test(statfile_threads, snapshots_during_churn)
{
	unsigned rounds = (unsigned)kvt_env_ull("KVMEM_STATFILE_ROUNDS", 200);
	struct churner c[3];
	pthread_t t[3], snap;
	unsigned long snaps = 0;

	atomic_store(&churn_done, false);
	cr_assert_eq(pthread_create(&snap, NULL, snapshotter, &snaps), 0);
	for (int i = 0; i < 3; i++) {
		c[i] = (struct churner){ i, kvt_seed() + (uint64_t)i, rounds };
		cr_assert_eq(pthread_create(&t[i], NULL, i < 2 ? arena_churn : machine_churn,
		    &c[i]), 0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	atomic_store(&churn_done, true);
	pthread_join(snap, NULL);
	cr_log_info("%lu snapshots during the churn (seed %" PRIu64 ")", snaps, kvt_seed());
	cr_assert_gt(snaps, 0);
}
