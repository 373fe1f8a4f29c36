/*
 * test_statfile.c -- snapshots (kvmem_statfile_json, kvmem_statfile_write):
 * every arena, machine and kmem instance appears with the values of the
 * stats API; segments as vmem_walk reports them; snprintf semantics;
 * atomic replacement of the file; errors leave nothing behind; the
 * default path.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statfile_test.h"

TestSuite(statfile, .fini = st_fini);

#define KiB	((vmem_size_t)1 << 10)
#define MiB	((vmem_size_t)1 << 20)

/* Compare an arena object with vmem_get_stats() and vmem_get_qcache_stats(). */
static void
check_arena(const struct kj *a, vmem_t *vm)
{
	struct vmem_stats st = { .version = VMEM_STATS_VERSION };
	const struct kj *qcs;

	cr_assert_not_null(a, "arena %s missing from the snapshot", vmem_name(vm));
	cr_assert_eq(vmem_get_stats(vm, &st), 0);
	cr_assert_str_eq(kj_str(st_get(a, "name")), st.name);
	cr_assert_eq(st_hex(a, "quantum"), st.quantum, "%s", st.name);
	cr_assert_eq(st_hex(a, "qcache_max"), st.qcache_max, "%s", st.name);
	cr_assert_eq(st_hex(a, "limit"), st.limit, "%s", st.name);
	cr_assert_eq(st_hex(a, "bytes_inuse"), st.bytes_inuse, "%s", st.name);
	cr_assert_eq(st_hex(a, "bytes_free"), st.bytes_free, "%s", st.name);
	cr_assert_eq(st_hex(a, "bytes_total"), st.bytes_total, "%s", st.name);
	cr_assert_eq(st_hex(a, "bytes_imported"), st.bytes_imported, "%s", st.name);
	cr_assert_eq(st_hex(a, "bytes_cached"), st.bytes_cached, "%s", st.name);
	cr_assert_eq(st_hex(a, "maxfree"), st.maxfree, "%s", st.name);
	cr_assert_eq(st_u(a, "allocs"), st.allocs, "%s", st.name);
	cr_assert_eq(st_u(a, "frees"), st.frees, "%s", st.name);
	cr_assert_eq(st_u(a, "alloc_fails"), st.alloc_fails, "%s", st.name);
	cr_assert_eq(st_u(a, "alloc_einval"), st.alloc_einval, "%s", st.name);
	cr_assert_eq(st_u(a, "imports"), st.imports, "%s", st.name);
	cr_assert_eq(st_u(a, "import_fails"), st.import_fails, "%s", st.name);
	cr_assert_eq(st_u(a, "releases"), st.releases, "%s", st.name);
	cr_assert_eq(st_u(a, "spans"), st.spans, "%s", st.name);
	cr_assert_eq(st_u(a, "busy_segs"), st.busy_segs, "%s", st.name);
	cr_assert_eq(st_u(a, "free_segs"), st.free_segs, "%s", st.name);
	qcs = st_get(a, "qcaches");
	cr_assert_eq(kj_len(qcs), vmem_qcache_count(vm), "%s", st.name);
	for (unsigned i = 0; i < vmem_qcache_count(vm); i++) {
		struct vmem_qcache_stats q = { .version = VMEM_STATS_VERSION };
		const struct kj *o = kj_at(qcs, i);

		cr_assert_eq(vmem_get_qcache_stats(vm, i, &q), 0);
		cr_assert_eq(st_hex(o, "objsize"), q.objsize, "%s cache %u", st.name, i);
		cr_assert_eq(st_u(o, "hits"), q.hits, "%s cache %u", st.name, i);
		cr_assert_eq(st_u(o, "misses"), q.misses, "%s cache %u", st.name, i);
		cr_assert_eq(st_u(o, "slabs"), q.slabs, "%s cache %u", st.name, i);
		cr_assert_eq(st_u(o, "objs_out"), q.objs_out, "%s cache %u", st.name, i);
		cr_assert_eq(st_u(o, "objs_in_threads") + st_u(o, "objs_in_depot") +
		    st_u(o, "objs_in_slabs"), q.objs_in_threads + q.objs_in_depot +
		    q.objs_in_slabs, "%s cache %u", st.name, i);
	}
}

struct walk_cmp {
	const struct kj	*segs;
	size_t		i;
	int		bad;
};

/* vmem_walk callback: the next snapshot segment must be this one. */
static int
cmp_seg(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct walk_cmp *wc = arg;
	const struct kj *s = kj_at(wc->segs, wc->i++);
	uint64_t a, z;
	const char *t = kj_str(kj_at(s, 2));

	if (s == NULL || kj_len(s) != 3 || kj_u64(kj_at(s, 0), &a) != 0 ||
	    kj_u64(kj_at(s, 1), &z) != 0 || t == NULL || a != addr || z != size ||
	    strcmp(t, (type & VMEM_ALLOC) != 0 ? "busy" : "free") != 0)
		wc->bad++;
	return 0;
}

Test(statfile, arenas_match_stats_api)
{
	vmem_t *root = vmem_create("sf-root", 0x40000000, 16 * MiB, 4 * KiB, 0, M_WAITOK);
	vmem_t *mid = vmem_create("sf-mid", 0, 0, 4 * KiB, 4 * 4 * KiB, M_WAITOK);
	vmem_t *leaf = vmem_create("sf-leaf", 0, 0, 4 * KiB, 0, M_WAITOK);
	vmem_addr_t a[40], junk;
	struct kj doc;
	int i;

	cr_assert(root != NULL && mid != NULL && leaf != NULL);
	vmem_set_source(mid, root, 256 * KiB);
	vmem_set_source(leaf, mid, 64 * KiB);
	for (i = 0; i < 40; i++)
		cr_assert_eq(vmem_alloc(i < 20 ? mid : leaf, (vmem_size_t)(i % 5 + 1) * 4 * KiB,
		    M_NOWAIT | M_BESTFIT, &a[i]), 0);
	for (i = 0; i < 40; i += 4)
		vmem_free(i < 20 ? mid : leaf, a[i], (vmem_size_t)(i % 5 + 1) * 4 * KiB);
	cr_assert_eq(vmem_alloc(root, 64 * MiB, M_NOWAIT, &junk), ENOMEM);

	st_snapshot(&doc, KVMEM_STATFILE_SEGMENTS);
	cr_assert_str_eq(kj_str(st_get(&doc, "schema")), "kvmem-stats");
	cr_assert_eq(st_i(&doc, "version"), KVMEM_STATFILE_VERSION);
	cr_assert_eq(st_i(&doc, "pid"), (int64_t)getpid());
	cr_assert_eq(kj_len(st_get(&doc, "arenas")), 3, "only this test's arenas are live");
	const struct kj *ar = st_find(&doc, "arenas", "sf-root");
	const struct kj *am = st_find(&doc, "arenas", "sf-mid");
	const struct kj *al = st_find(&doc, "arenas", "sf-leaf");
	check_arena(ar, root);
	check_arena(am, mid);
	check_arena(al, leaf);
	cr_assert_eq(st_u(ar, "alloc_fails"), 1);
	/* Ids are positions in creation order; parents refer to them. */
	cr_assert_eq(st_i(ar, "id"), 0);
	cr_assert_eq(st_i(am, "id"), 1);
	cr_assert_eq(st_i(al, "id"), 2);
	cr_assert_eq(st_get(ar, "parent")->type, KJ_NULL);
	cr_assert_eq(st_i(am, "parent"), 0);
	cr_assert_eq(st_i(al, "parent"), 1);
	/* Segments: exactly what vmem_walk reports, in address order. */
	vmem_t *vms[3] = { root, mid, leaf };
	const struct kj *objs[3] = { ar, am, al };
	for (i = 0; i < 3; i++) {
		struct walk_cmp wc = { st_get(objs[i], "segments"), 0, 0 };

		vmem_walk(vms[i], VMEM_ALLOC | VMEM_FREE, cmp_seg, &wc);
		cr_assert_eq(wc.bad, 0, "%s: %d segment(s) differ", vmem_name(vms[i]), wc.bad);
		cr_assert_eq(wc.i, kj_len(wc.segs), "%s: segment count", vmem_name(vms[i]));
	}
	kj_free(&doc);

	/* Without the flag there are no segments. */
	st_snapshot(&doc, 0);
	cr_assert_null(kj_get(st_find(&doc, "arenas", "sf-mid"), "segments"));
	cr_assert_eq(st_get(&doc, "segments")->type, KJ_BOOL);
	kj_free(&doc);

	/* A destroyed arena disappears, and so does its children's parent link. */
	for (i = 0; i < 40; i++)
		if (i % 4 != 0)
			vmem_free(i < 20 ? mid : leaf, a[i], (vmem_size_t)(i % 5 + 1) * 4 * KiB);
	vmem_destroy(leaf);
	st_snapshot(&doc, 0);
	cr_assert_null(st_find(&doc, "arenas", "sf-leaf"));
	cr_assert_eq(kj_len(st_get(&doc, "arenas")), 2);
	kj_free(&doc);
	vmem_destroy(mid);
	vmem_destroy(root);
}

Test(statfile, machines_and_kmem_match_stats_api)
{
	struct pmap_sim_config pc;
	struct kmem_config kc;
	struct pmap_sim *sim;
	struct kmem *k;
	struct kj doc;
	vm_offset_t va[4];

	pmap_sim_config_init(&pc);
	snprintf(pc.name, sizeof(pc.name), "sf-alone");
	pc.ndomains = 1;
	pc.domain_size = 8 * MiB;
	cr_assert_not_null(sim = pmap_sim_create(&pc));
	cr_assert_not_null(vm_page_alloc_noobj(sim, 0));

	kmem_config_init(&kc);
	snprintf(kc.name, sizeof(kc.name), "sf-kmem");
	snprintf(kc.machine.name, sizeof(kc.machine.name), "sf-sim");
	kc.machine.ndomains = 2;
	kc.machine.domain_size = 16 * MiB;
	cr_assert_not_null(k = kmem_create(&kc));
	va[0] = kmem_malloc_domain_k(k, 0, 2 * MiB, M_WAITOK);
	va[1] = kmem_malloc_domain_k(k, 1, 12 * KiB, M_WAITOK);
	va[2] = kmem_malloc_domain_k(k, 1, 4 * KiB, M_WAITOK | M_EXEC);
	va[3] = kmem_malloc_domain_k(k, 0, 1024 * MiB, M_NOWAIT);
	cr_assert(va[0] != 0 && va[1] != 0 && va[2] != 0 && va[3] == 0);

	st_snapshot(&doc, 0);
	cr_assert_eq(kj_len(st_get(&doc, "machines")), 2);
	cr_assert_eq(kj_len(st_get(&doc, "kmem")), 1);
	struct pmap_sim *sims[2] = { sim, kmem_sim(k) };
	for (int m = 0; m < 2; m++) {
		struct pmap_sim_stats ps = { .version = PMAP_SIM_STATS_VERSION };
		const struct kj *mo, *doms;

		cr_assert_eq(pmap_sim_stats(sims[m], &ps), 0);
		mo = st_find(&doc, "machines", ps.name);
		cr_assert_not_null(mo, "machine %s missing", ps.name);
		cr_assert_eq(st_i(mo, "id"), m, "creation order");
		cr_assert_eq(st_i(mo, "ndomains"), ps.ndomains);
		cr_assert_eq(st_u(mo, "page_count"), ps.page_count);
		cr_assert_eq(st_u(mo, "free_count"), ps.free_count);
		cr_assert_eq(st_u(mo, "pt_pages"), ps.pt_pages);
		cr_assert_eq(st_u(mo, "pde_promotions"), ps.pde_promotions);
		cr_assert_eq(st_u(mo, "pde_demotions"), ps.pde_demotions);
		doms = st_get(mo, "domains");
		cr_assert_eq(kj_len(doms), (size_t)ps.ndomains);
		for (int d = 0; d < ps.ndomains; d++) {
			struct pmap_sim_domain_stats ds = { .version = PMAP_SIM_STATS_VERSION };
			const struct kj *o = kj_at(doms, (size_t)d), *fb;

			cr_assert_eq(pmap_sim_domain_stats(sims[m], d, &ds), 0);
			cr_assert_eq(st_i(o, "domain"), d);
			cr_assert_eq(st_hex(o, "start"), ds.start);
			cr_assert_eq(st_hex(o, "end"), ds.end);
			cr_assert_eq(st_u(o, "free_count"), ds.free_count, "%s/%d", ps.name, d);
			cr_assert_eq(st_u(o, "allocated"), ds.allocated, "%s/%d", ps.name, d);
			cr_assert_eq(st_u(o, "frag_index"), ds.frag_index, "%s/%d", ps.name, d);
			fb = st_get(o, "free_blocks");
			cr_assert_eq(kj_len(fb), PMAP_SIM_NFREELIST);
			for (int fl = 0; fl < PMAP_SIM_NFREELIST; fl++) {
				cr_assert_eq(kj_len(kj_at(fb, (size_t)fl)), PMAP_SIM_NFREEORDER);
				for (int ord = 0; ord < PMAP_SIM_NFREEORDER; ord++) {
					uint64_t v;

					cr_assert_eq(kj_u64(kj_at(kj_at(fb, (size_t)fl), (size_t)ord),
					    &v), 0);
					cr_assert_eq(v, ds.free_blocks[fl][ord], "%s/%d list %d order %d",
					    ps.name, d, fl, ord);
				}
			}
		}
	}

	struct kmem_stats ks = { .version = KMEM_STATS_VERSION };
	struct kmem_chunk_stats cs = { .version = KMEM_STATS_VERSION };
	const struct kj *ko = st_find(&doc, "kmem", "sf-kmem"), *kd, *ka;
	cr_assert_not_null(ko);
	cr_assert_eq(kmem_get_stats(k, &ks), 0);
	cr_assert_eq(kmem_chunk_census(k, &cs), 0);
	cr_assert_eq(st_i(ko, "machine"), 1, "the kmem's machine is the second one");
	cr_assert_str_eq(kj_str(st_get(ko, "machine_name")), "sf-sim");
	cr_assert_eq(st_u(ko, "allocs"), ks.allocs);
	cr_assert_eq(st_u(ko, "alloc_fails"), ks.alloc_fails);
	cr_assert_eq(st_u(ko, "alloc_fails"), 1);
	cr_assert_eq(st_u(ko, "pages"), ks.pages);
	cr_assert_eq(st_hex(ko, "kernel_arena_inuse"), ks.kernel_arena_inuse);
	cr_assert_eq(st_hex(ko, "kva_imported"), ks.kva_imported);
	cr_assert_eq(st_u(ko, "pde_promotions"), ks.pde_promotions);
	cr_assert_eq(st_u(st_get(ko, "chunks"), "promoted"), cs.promoted);
	cr_assert_eq(st_u(st_get(ko, "chunks"), "chunks"), cs.chunks);
	/* The kernel arena reference names the arena of that name. */
	ka = kj_at(st_get(&doc, "arenas"), (size_t)st_i(ko, "kernel_arena"));
	cr_assert_str_eq(kj_str(st_get(ka, "name")), vmem_name(kmem_kernel_arena(k)));
	kd = st_get(ko, "domains");
	cr_assert_eq(kj_len(kd), 2);
	for (int d = 0; d < 2; d++) {
		struct kmem_domain_stats ds = { .version = KMEM_STATS_VERSION };
		const struct kj *o = kj_at(kd, (size_t)d);
		const struct kj *da;

		cr_assert_eq(kmem_get_domain_stats(k, d, &ds), 0);
		cr_assert_eq(st_hex(o, "kva_inuse"), ds.kva_inuse, "domain %d", d);
		cr_assert_eq(st_hex(o, "rwx_inuse"), ds.rwx_inuse, "domain %d", d);
		cr_assert_eq(st_u(o, "pages"), ds.pages, "domain %d", d);
		cr_assert_eq(st_u(o, "allocs"), ds.allocs, "domain %d", d);
		da = kj_at(st_get(&doc, "arenas"), (size_t)st_i(o, "arena"));
		cr_assert_str_eq(kj_str(st_get(da, "name")), vmem_name(kmem_domain_arena(k, d)));
		/* kmem's per-domain arenas import from its kernel arena. */
		cr_assert_eq(st_i(da, "parent"), st_i(ko, "kernel_arena"));
	}
	kj_free(&doc);

	kmem_free_k(k, va[0], 2 * MiB);
	kmem_free_k(k, va[1], 12 * KiB);
	kmem_free_k(k, va[2], 4 * KiB);
	kmem_destroy(k);
	st_snapshot(&doc, 0);
	cr_assert_eq(kj_len(st_get(&doc, "kmem")), 0);
	cr_assert_eq(kj_len(st_get(&doc, "machines")), 1);
	kj_free(&doc);
	pmap_sim_destroy(sim);
	st_snapshot(&doc, 0);
	cr_assert_eq(kj_len(st_get(&doc, "machines")), 0);
	cr_assert_eq(kj_len(st_get(&doc, "arenas")), 0);
	kj_free(&doc);
}

Test(statfile, names_are_escaped)
{
	vmem_t *vm = vmem_create("q\"b\\s\tx", 0x1000, 0x10000, 0x1000, 0, M_WAITOK);
	struct kj doc;

	cr_assert_not_null(vm);
	st_snapshot(&doc, 0);
	cr_assert_not_null(st_find(&doc, "arenas", "q\"b\\s\tx"));
	kj_free(&doc);
	vmem_destroy(vm);
}

Test(statfile, snprintf_semantics)
{
	vmem_t *vm = vmem_create("sf-snp", 0x1000, 0x10000, 0x1000, 0, M_WAITOK);
	char small[16];
	int n;

	cr_assert_not_null(vm);
	n = kvmem_statfile_json(NULL, 0, 0);
	cr_assert_gt(n, (int)sizeof(small));
	memset(small, 'x', sizeof(small));
	n = kvmem_statfile_json(small, sizeof(small), 0);
	cr_assert_gt(n, (int)sizeof(small));
	cr_assert_eq(small[sizeof(small) - 1], '\0', "truncated output is terminated");
	cr_assert_eq(strncmp(small, "{\"schema\":\"kvme", sizeof(small) - 1), 0, "got '%s'",
	    small);
	/* len 0 stores nothing. */
	memset(small, 'x', sizeof(small));
	cr_assert_gt(kvmem_statfile_json(small, 0, 0), 0);
	cr_assert_eq(small[0], 'x');
	vmem_destroy(vm);
}

Test(statfile, bad_flags)
{
	char buf[64];

	errno = 0;
	cr_assert_eq(kvmem_statfile_json(buf, sizeof(buf), 0x100), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(kvmem_statfile_write("/nonexistent/never", 0x100), EINVAL);
	cr_assert_eq(kvmem_statfile_start("/nonexistent/never", 10, 0x100), EINVAL);
}

/* Names in dir, sorted into one string "a b c" (for "nothing left behind"). */
static void
list_dir(const char *dir, char *out, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char names[16][256];
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && n < 16)
			snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i > 0 ? " " : "", names[i]);
}

Test(statfile, write_replaces_atomically)
{
	vmem_t *vm = vmem_create("sf-atomic", 0x1000, 0x100000, 0x1000, 0, M_WAITOK);
	char dir[256], path[300], names[1024];
	struct stat st1, st2;
	struct kj doc;
	char *text, *old;
	vmem_addr_t x;
	size_t len;
	int fd;

	cr_assert_not_null(vm);
	st_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/snap.json", dir);
	cr_assert_eq(kvmem_statfile_write(path, 0), 0);
	cr_assert_eq(stat(path, &st1), 0);
	list_dir(dir, names, sizeof(names));
	cr_assert_str_eq(names, "snap.json", "only the snapshot in the directory");

	/* A reader with the old file open keeps a complete old snapshot. */
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	old = st_slurp(path, NULL);
	cr_assert_not_null(old);
	cr_assert_eq(vmem_alloc(vm, 0x3000, M_NOWAIT, &x), 0);
	cr_assert_eq(kvmem_statfile_write(path, KVMEM_STATFILE_SEGMENTS), 0);
	cr_assert_eq(stat(path, &st2), 0);
	cr_assert_neq(st1.st_ino, st2.st_ino, "the file was replaced, not rewritten in place");
	{
		char *buf = malloc(1 << 16);
		ssize_t n = read(fd, buf, (1 << 16) - 1);

		cr_assert_gt(n, 0);
		buf[n] = '\0';
		cr_assert_str_eq(buf, old, "the open old file is unchanged");
		free(buf);
	}
	close(fd);
	free(old);
	list_dir(dir, names, sizeof(names));
	cr_assert_str_eq(names, "snap.json", "no temporary file left");

	text = st_slurp(path, &len);
	cr_assert_not_null(text);
	cr_assert_eq(text[len - 1], '\n', "a snapshot file ends with a newline");
	st_parse(text, len, &doc);
	free(text);
	cr_assert_eq(st_hex(st_find(&doc, "arenas", "sf-atomic"), "bytes_inuse"), 0x3000);
	cr_assert_eq(st_get(&doc, "segments")->b, true);
	cr_assert_eq(kj_len(st_get(st_find(&doc, "arenas", "sf-atomic"), "segments")), 2);
	kj_free(&doc);
	unlink(path);
	rmdir(dir);
	vmem_free(vm, x, 0x3000);
	vmem_destroy(vm);
}

Test(statfile, errors_leave_nothing_behind)
{
	char dir[256], path[300], names[1024], *before, *after;
	size_t len;

	st_mkdtemp(dir, sizeof(dir));
	/* A missing directory. */
	snprintf(path, sizeof(path), "%s/missing/snap.json", dir);
	cr_assert_eq(kvmem_statfile_write(path, 0), ENOENT);
	/* A regular file where a directory should be. */
	snprintf(path, sizeof(path), "%s/file", dir);
	cr_assert_eq(kvmem_statfile_write(path, 0), 0);
	snprintf(path, sizeof(path), "%s/file/snap.json", dir);
	cr_assert_eq(kvmem_statfile_write(path, 0), ENOTDIR);
	/* The rename fails (a directory is in the way): the temporary file goes. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(kvmem_statfile_write(path, 0), EISDIR);
	list_dir(dir, names, sizeof(names));
	cr_assert_str_eq(names, "file sub", "nothing left behind");
	/* And a failed write leaves an existing snapshot as it was. */
	snprintf(path, sizeof(path), "%s/file", dir);
	before = st_slurp(path, &len);
	cr_assert_eq(kvmem_statfile_write(path, 0x100), EINVAL);
	after = st_slurp(path, &len);
	cr_assert_str_eq(before, after);
	free(before);
	free(after);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

Test(statfile, default_path)
{
	char dir[256], want[300], got[300], small[8];
	struct kj doc;
	char *text;
	size_t len;
	int n;

	st_mkdtemp(dir, sizeof(dir));
	unsetenv("KVMEM_STATFILE");
	setenv("TMPDIR", dir, 1);
	snprintf(want, sizeof(want), "%s/kvmem-%ld.json", dir, (long)getpid());
	n = kvmem_statfile_path(got, sizeof(got));
	cr_assert_str_eq(got, want);
	cr_assert_eq(n, (int)strlen(want));
	cr_assert_eq(kvmem_statfile_path(small, sizeof(small)), n, "snprintf-style length");
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(kvmem_statfile_write(NULL, 0), 0);
	text = st_slurp(want, &len);
	cr_assert_not_null(text, "no snapshot at %s", want);
	st_parse(text, len, &doc);
	kj_free(&doc);
	free(text);
	unlink(want);

	/* An empty TMPDIR means /tmp; KVMEM_STATFILE wins over both. */
	setenv("TMPDIR", "", 1);
	snprintf(want, sizeof(want), "/tmp/kvmem-%ld.json", (long)getpid());
	kvmem_statfile_path(got, sizeof(got));
	cr_assert_str_eq(got, want);
	snprintf(want, sizeof(want), "%s/chosen.json", dir);
	setenv("KVMEM_STATFILE", want, 1);
	kvmem_statfile_path(got, sizeof(got));
	cr_assert_str_eq(got, want);
	cr_assert_eq(kvmem_statfile_write(NULL, 0), 0);
	cr_assert_eq(access(want, R_OK), 0);
	unlink(want);
	unsetenv("KVMEM_STATFILE");
	rmdir(dir);
}
