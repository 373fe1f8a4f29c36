/*
 * statfile.c -- JSON snapshots of the whole process (every arena, machine
 * and kmem instance) for kvmemstat(1), written atomically, once or by a
 * background thread.  The format is documented in kvmem_statfile(3).
 *
 * A snapshot is built in memory first.  Each of the three registries is
 * walked once under its own lock; what is read under the arena registry
 * lock is copied out, so parents can be turned into indices afterwards
 * (pointers are only compared, never followed, once the lock is dropped).
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kvmem/kmem.h>
#include <kvmem/pmap_sim.h>
#include <kvmem/statfile.h>
#include <kvmem/vmem.h>

#define SF_KNOWN_FLAGS	(KVMEM_STATFILE_SEGMENTS | KVMEM_STATFILE_UNLINK)
#define SF_MAXDEPTH	16
#define SF_EXACT_MAX	((uint64_t)1 << 53)	/* largest count written as a number */

/* ---- A growing string with JSON helpers ------------------------------------------ */

struct sb {
	char	*p;
	size_t	len, cap;
	bool	oom;
	int	depth;
	bool	first[SF_MAXDEPTH];	/* no member written yet at this depth */
};

/* Append formatted text; on allocation failure only sets sb->oom. */
static void
sb_printf(struct sb *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->oom)
		return;
	for (;;) {
		size_t room = sb->cap - sb->len;

		va_start(ap, fmt);
		n = vsnprintf(sb->p != NULL ? sb->p + sb->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			sb->oom = true;
			return;
		}
		if ((size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		size_t cap = sb->cap != 0 ? sb->cap : 4096;
		while (cap - sb->len <= (size_t)n)
			cap *= 2;
		char *np = realloc(sb->p, cap);
		if (np == NULL) {
			sb->oom = true;
			return;
		}
		sb->p = np;
		sb->cap = cap;
	}
}

/* The separator before a member (and its key when key is not NULL). */
static void
sb_member(struct sb *sb, const char *key)
{
	if (!sb->first[sb->depth])
		sb_printf(sb, ",");
	sb->first[sb->depth] = false;
	if (key != NULL)
		sb_printf(sb, "\"%s\":", key);
}

static void
sb_open(struct sb *sb, const char *key, char c)
{
	sb_member(sb, key);
	sb_printf(sb, "%c", c);
	if (sb->depth + 1 < SF_MAXDEPTH)
		sb->depth++;
	sb->first[sb->depth] = true;
}

static void
sb_close(struct sb *sb, char c)
{
	if (sb->depth > 0)
		sb->depth--;
	sb_printf(sb, "%c", c);
}

/* A string with JSON escapes (names are free text). */
static void
sb_str(struct sb *sb, const char *key, const char *s)
{
	sb_member(sb, key);
	sb_printf(sb, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			sb_printf(sb, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			sb_printf(sb, "\\u%04x", c);
		else
			sb_printf(sb, "%c", c);
	}
	sb_printf(sb, "\"");
}

/* An address or a size in bytes: always a hex string. */
static void
sb_hex(struct sb *sb, const char *key, uint64_t v)
{
	sb_member(sb, key);
	sb_printf(sb, "\"0x%" PRIx64 "\"", v);
}

/* A count: a number while exact in a double, else a hex string. */
static void
sb_num(struct sb *sb, const char *key, uint64_t v)
{
	sb_member(sb, key);
	if (v <= SF_EXACT_MAX)
		sb_printf(sb, "%" PRIu64, v);
	else
		sb_printf(sb, "\"0x%" PRIx64 "\"", v);
}

static void
sb_int(struct sb *sb, const char *key, long long v)
{
	sb_member(sb, key);
	sb_printf(sb, "%lld", v);
}

static void
sb_null(struct sb *sb, const char *key)
{
	sb_member(sb, key);
	sb_printf(sb, "null");
}

/* ---- Arenas ------------------------------------------------------------------------ */

struct seg {
	vmem_addr_t	addr;
	vmem_size_t	size;
	bool		busy;
};

struct arena_rec {
	vmem_t			*vm;
	vmem_t			*parent;
	struct vmem_stats	st;
	unsigned		nqc;
	struct vmem_qcache_stats *qc;
	struct seg		*segs;
	size_t			nsegs, capsegs;
	bool			oom;
};

struct arena_list {
	struct arena_rec	*a;
	size_t			n, cap;
	int			flags;
};

static void
arena_list_free(struct arena_list *al)
{
	for (size_t i = 0; i < al->n; i++) {
		free(al->a[i].qc);
		free(al->a[i].segs);
	}
	free(al->a);
}

/* vmem_walk callback: append one segment (runs with the arena locked). */
static int
collect_seg(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct arena_rec *r = arg;

	if (r->nsegs == r->capsegs) {
		size_t cap = r->capsegs != 0 ? 2 * r->capsegs : 64;
		struct seg *n = realloc(r->segs, cap * sizeof(*n));

		if (n == NULL) {
			r->oom = true;
			return ENOMEM;
		}
		r->segs = n;
		r->capsegs = cap;
	}
	r->segs[r->nsegs++] = (struct seg){ addr, size, (type & VMEM_ALLOC) != 0 };
	return 0;
}

/* vmem_foreach callback: copy out everything the snapshot needs of vm. */
static int
collect_arena(vmem_t *vm, void *arg)
{
	struct arena_list *al = arg;
	struct arena_rec *r;

	if (al->n == al->cap) {
		size_t cap = al->cap != 0 ? 2 * al->cap : 16;
		struct arena_rec *n = realloc(al->a, cap * sizeof(*n));

		if (n == NULL)
			return ENOMEM;
		al->a = n;
		al->cap = cap;
	}
	r = &al->a[al->n];
	memset(r, 0, sizeof(*r));
	r->vm = vm;
	r->parent = vmem_get_parent(vm);
	r->st.version = VMEM_STATS_VERSION;
	if (vmem_get_stats(vm, &r->st) != 0)
		return EINVAL;
	al->n++;	/* from here on the record owns its arrays */
	r->nqc = vmem_qcache_count(vm);
	if (r->nqc != 0) {
		r->qc = calloc(r->nqc, sizeof(*r->qc));
		if (r->qc == NULL)
			return ENOMEM;
		for (unsigned i = 0; i < r->nqc; i++) {
			r->qc[i].version = VMEM_STATS_VERSION;
			if (vmem_get_qcache_stats(vm, i, &r->qc[i]) != 0)
				return EINVAL;
		}
	}
	if ((al->flags & KVMEM_STATFILE_SEGMENTS) != 0) {
		vmem_walk(vm, VMEM_ALLOC | VMEM_FREE, collect_seg, r);
		if (r->oom)
			return ENOMEM;
	}
	return 0;
}

/* The snapshot index of arena vm, or -1. */
static long
arena_index(const struct arena_list *al, const vmem_t *vm)
{
	if (vm == NULL)
		return -1;
	for (size_t i = 0; i < al->n; i++)
		if (al->a[i].vm == vm)
			return (long)i;
	return -1;
}

static void
sb_arena_ref(struct sb *sb, const char *key, const struct arena_list *al, const vmem_t *vm)
{
	long i = arena_index(al, vm);

	if (i < 0)
		sb_null(sb, key);
	else
		sb_int(sb, key, i);
}

static void
emit_arena(struct sb *sb, const struct arena_list *al, size_t idx)
{
	const struct arena_rec *r = &al->a[idx];
	const struct vmem_stats *s = &r->st;

	sb_open(sb, NULL, '{');
	sb_int(sb, "id", (long long)idx);
	sb_str(sb, "name", s->name);
	sb_arena_ref(sb, "parent", al, r->parent);
	sb_hex(sb, "quantum", s->quantum);
	sb_hex(sb, "qcache_max", s->qcache_max);
	sb_hex(sb, "limit", s->limit);
	sb_hex(sb, "bytes_inuse", s->bytes_inuse);
	sb_hex(sb, "bytes_free", s->bytes_free);
	sb_hex(sb, "bytes_total", s->bytes_total);
	sb_hex(sb, "bytes_imported", s->bytes_imported);
	sb_hex(sb, "bytes_cached", s->bytes_cached);
	sb_hex(sb, "maxfree", s->maxfree);
	sb_hex(sb, "metadata_bytes", s->metadata_bytes);
	sb_num(sb, "allocs", s->allocs);
	sb_num(sb, "frees", s->frees);
	sb_num(sb, "alloc_fails", s->alloc_fails);
	sb_num(sb, "alloc_einval", s->alloc_einval);
	sb_num(sb, "imports", s->imports);
	sb_num(sb, "import_fails", s->import_fails);
	sb_num(sb, "releases", s->releases);
	sb_num(sb, "reclaims", s->reclaims);
	sb_num(sb, "sleeps", s->sleeps);
	sb_num(sb, "misuses", s->misuses);
	sb_num(sb, "spans", s->spans);
	sb_num(sb, "busy_segs", s->busy_segs);
	sb_num(sb, "free_segs", s->free_segs);
	sb_num(sb, "hash_buckets", s->hash_buckets);
	sb_num(sb, "hash_longest_chain", s->hash_longest_chain);
	sb_num(sb, "hash_resizes", s->hash_resizes);
	sb_num(sb, "bt_total", s->bt_total);
	sb_num(sb, "bt_free", s->bt_free);
	sb_open(sb, "qcaches", '[');
	for (unsigned i = 0; i < r->nqc; i++) {
		const struct vmem_qcache_stats *q = &r->qc[i];

		sb_open(sb, NULL, '{');
		sb_hex(sb, "objsize", q->objsize);
		sb_num(sb, "hits", q->hits);
		sb_num(sb, "misses", q->misses);
		sb_num(sb, "contention", q->contention);
		sb_num(sb, "mag_size", q->mag_size);
		sb_num(sb, "slabs", q->slabs);
		sb_hex(sb, "slab_size", q->slab_size);
		sb_num(sb, "slab_imports", q->slab_imports);
		sb_num(sb, "slab_releases", q->slab_releases);
		sb_num(sb, "depot_full", q->depot_full);
		sb_num(sb, "depot_empty", q->depot_empty);
		sb_num(sb, "objs_in_threads", q->objs_in_threads);
		sb_num(sb, "objs_in_depot", q->objs_in_depot);
		sb_num(sb, "objs_in_slabs", q->objs_in_slabs);
		sb_num(sb, "objs_out", q->objs_out);
		sb_num(sb, "threads", q->threads);
		sb_close(sb, '}');
	}
	sb_close(sb, ']');
	if ((al->flags & KVMEM_STATFILE_SEGMENTS) != 0) {
		sb_open(sb, "segments", '[');
		for (size_t i = 0; i < r->nsegs; i++) {
			sb_member(sb, NULL);
			sb_printf(sb, "[\"0x%" PRIx64 "\",\"0x%" PRIx64 "\",\"%s\"]",
			    (uint64_t)r->segs[i].addr, (uint64_t)r->segs[i].size,
			    r->segs[i].busy ? "busy" : "free");
		}
		sb_close(sb, ']');
	}
	sb_close(sb, '}');
}

/* ---- Machines ------------------------------------------------------------------------ */

struct machine_ctx {
	struct sb	*sb;
	struct pmap_sim	**sims;		/* in snapshot order, for kmem's "machine" */
	size_t		n, cap;
	int		error;
};

static void
emit_domain(struct sb *sb, const struct pmap_sim_domain_stats *d)
{
	sb_open(sb, NULL, '{');
	sb_int(sb, "domain", d->domain);
	sb_hex(sb, "start", d->start);
	sb_hex(sb, "end", d->end);
	sb_num(sb, "page_count", d->page_count);
	sb_num(sb, "free_count", d->free_count);
	sb_num(sb, "free_reserved", d->free_reserved);
	sb_num(sb, "interrupt_free_min", d->interrupt_free_min);
	sb_num(sb, "buddy_free", d->buddy_free);
	sb_num(sb, "reserv_free", d->reserv_free);
	sb_open(sb, "free_blocks", '[');
	for (int fl = 0; fl < PMAP_SIM_NFREELIST; fl++) {
		sb_open(sb, NULL, '[');
		for (int o = 0; o < PMAP_SIM_NFREEORDER; o++)
			sb_num(sb, NULL, d->free_blocks[fl][o]);
		sb_close(sb, ']');
	}
	sb_close(sb, ']');
	sb_open(sb, "unusable_index", '[');
	for (int o = 0; o < PMAP_SIM_NFREEORDER; o++)
		sb_num(sb, NULL, d->unusable_index[o]);
	sb_close(sb, ']');
	sb_num(sb, "frag_index", d->frag_index);
	sb_num(sb, "allocated", d->allocated);
	sb_num(sb, "wired_count", d->wired_count);
	sb_num(sb, "pt_pages", d->pt_pages);
	sb_num(sb, "reserv_active", d->reserv_active);
	sb_num(sb, "reserv_partial", d->reserv_partial);
	sb_num(sb, "reserv_fullpop", d->reserv_fullpop);
	sb_num(sb, "allocs", d->allocs);
	sb_num(sb, "frees", d->frees);
	sb_num(sb, "alloc_fails", d->alloc_fails);
	sb_num(sb, "faults_injected", d->faults_injected);
	sb_num(sb, "host_touched", d->host_touched);
	sb_close(sb, '}');
}

/* pmap_sim_foreach callback: one machine object. */
static int
emit_machine(struct pmap_sim *sim, void *arg)
{
	struct machine_ctx *mc = arg;
	struct sb *sb = mc->sb;
	struct pmap_sim_stats st = { .version = PMAP_SIM_STATS_VERSION };
	int nd, ncpu;

	if (pmap_sim_stats(sim, &st) != 0)
		return EINVAL;
	if (mc->n == mc->cap) {
		size_t cap = mc->cap != 0 ? 2 * mc->cap : 8;
		struct pmap_sim **n = realloc(mc->sims, cap * sizeof(*n));

		if (n == NULL)
			return ENOMEM;
		mc->sims = n;
		mc->cap = cap;
	}
	mc->sims[mc->n] = sim;
	nd = st.ndomains;
	ncpu = st.ncpus;
	sb_open(sb, NULL, '{');
	sb_int(sb, "id", (long long)mc->n++);
	sb_str(sb, "name", st.name);
	sb_int(sb, "ndomains", nd);
	sb_int(sb, "ncpus", ncpu);
	sb_num(sb, "page_count", st.page_count);
	sb_num(sb, "free_count", st.free_count);
	sb_num(sb, "wired_count", st.wired_count);
	sb_num(sb, "pt_pages", st.pt_pages);
	sb_num(sb, "pde_promotions", st.pde_promotions);
	sb_num(sb, "pde_p_failures", st.pde_p_failures);
	sb_num(sb, "pde_mappings", st.pde_mappings);
	sb_num(sb, "pde_demotions", st.pde_demotions);
	sb_num(sb, "reserv_broken", st.reserv_broken);
	sb_num(sb, "reserv_freed", st.reserv_freed);
	sb_num(sb, "reserv_fullpop", st.reserv_fullpop);
	sb_num(sb, "reserv_reclaimed", st.reserv_reclaimed);
	sb_num(sb, "reserv_partpopq", st.reserv_partpopq);
	sb_num(sb, "faults_injected", st.faults_injected);
	sb_num(sb, "misuses", st.misuses);
	sb_int(sb, "kernel_resident", st.kernel_resident);
	sb_int(sb, "kernel_wired", st.kernel_wired);
	sb_hex(sb, "host_reserved_bytes", st.host_reserved_bytes);
	sb_num(sb, "objects", st.objects);
	sb_open(sb, "cpu_domain", '[');
	for (int c = 0; c < ncpu; c++)
		sb_int(sb, NULL, pmap_sim_cpu_domain(sim, c));
	sb_close(sb, ']');
	sb_open(sb, "distance", '[');
	for (int i = 0; i < nd; i++) {
		sb_open(sb, NULL, '[');
		for (int j = 0; j < nd; j++)
			sb_int(sb, NULL, pmap_sim_distance(sim, i, j));
		sb_close(sb, ']');
	}
	sb_close(sb, ']');
	sb_open(sb, "domains", '[');
	for (int d = 0; d < nd; d++) {
		struct pmap_sim_domain_stats ds = { .version = PMAP_SIM_STATS_VERSION };

		if (pmap_sim_domain_stats(sim, d, &ds) != 0)
			return EINVAL;
		emit_domain(sb, &ds);
	}
	sb_close(sb, ']');
	sb_close(sb, '}');
	return 0;
}

/* ---- kmem instances -------------------------------------------------------------------- */

struct kmem_ctx {
	struct sb		*sb;
	const struct arena_list	*al;
	const struct machine_ctx *mc;
	long long		n;
};

/* kmem_foreach callback: one instance object. */
static int
emit_kmem(struct kmem *k, void *arg)
{
	struct kmem_ctx *kc = arg;
	struct sb *sb = kc->sb;
	struct kmem_stats st = { .version = KMEM_STATS_VERSION };
	struct kmem_chunk_stats cs = { .version = KMEM_STATS_VERSION };
	struct pmap_sim *sim = kmem_sim(k);
	long mi = -1;

	if (kmem_get_stats(k, &st) != 0 || kmem_chunk_census(k, &cs) != 0)
		return EINVAL;
	for (size_t i = 0; i < kc->mc->n; i++)
		if (kc->mc->sims[i] == sim)
			mi = (long)i;
	sb_open(sb, NULL, '{');
	sb_int(sb, "id", kc->n++);
	sb_str(sb, "name", st.name);
	if (mi < 0)
		sb_null(sb, "machine");
	else
		sb_int(sb, "machine", mi);
	sb_str(sb, "machine_name", pmap_sim_name(sim));
	sb_arena_ref(sb, "kernel_arena", kc->al, kmem_kernel_arena(k));
	sb_int(sb, "ndomains", st.ndomains);
	sb_int(sb, "ncpus", st.ncpus);
	sb_hex(sb, "kva_quantum", st.kva_quantum);
	sb_hex(sb, "import_quantum", st.import_quantum);
	sb_hex(sb, "kernel_arena_inuse", st.kernel_arena_inuse);
	sb_hex(sb, "kernel_arena_total", st.kernel_arena_total);
	sb_hex(sb, "kva_imported", st.kva_imported);
	sb_hex(sb, "kva_alloc_inuse", st.kva_alloc_inuse);
	sb_hex(sb, "kernel_map_size", st.kernel_map_size);
	sb_num(sb, "allocs", st.allocs);
	sb_num(sb, "frees", st.frees);
	sb_num(sb, "alloc_fails", st.alloc_fails);
	sb_num(sb, "einval", st.einval);
	sb_num(sb, "waits", st.waits);
	sb_num(sb, "misuses", st.misuses);
	sb_num(sb, "fallbacks", st.fallbacks);
	sb_num(sb, "pages", st.pages);
	sb_num(sb, "local_pages", st.local_pages);
	sb_num(sb, "remote_pages", st.remote_pages);
	sb_num(sb, "access_cost", st.access_cost);
	sb_num(sb, "kva_imports", st.kva_imports);
	sb_num(sb, "kva_import_fails", st.kva_import_fails);
	sb_num(sb, "pde_promotions", st.pde_promotions);
	sb_num(sb, "pde_demotions", st.pde_demotions);
	sb_num(sb, "pde_p_failures", st.pde_p_failures);
	sb_open(sb, "chunks", '{');
	sb_num(sb, "chunks", cs.chunks);
	sb_num(sb, "full", cs.full);
	sb_num(sb, "promoted", cs.promoted);
	sb_num(sb, "one_domain", cs.one_domain);
	sb_num(sb, "pages", cs.pages);
	sb_close(sb, '}');
	sb_open(sb, "domains", '[');
	for (int d = 0; d < st.ndomains; d++) {
		struct kmem_domain_stats ds = { .version = KMEM_STATS_VERSION };

		if (kmem_get_domain_stats(k, d, &ds) != 0)
			return EINVAL;
		sb_open(sb, NULL, '{');
		sb_int(sb, "domain", ds.domain);
		sb_arena_ref(sb, "arena", kc->al, kmem_domain_arena(k, d));
		sb_arena_ref(sb, "rwx_arena", kc->al, kmem_rwx_arena(k, d));
		sb_hex(sb, "kva_inuse", ds.kva_inuse);
		sb_hex(sb, "kva_total", ds.kva_total);
		sb_hex(sb, "rwx_inuse", ds.rwx_inuse);
		sb_hex(sb, "rwx_total", ds.rwx_total);
		sb_num(sb, "pages", ds.pages);
		sb_num(sb, "allocs", ds.allocs);
		sb_num(sb, "frees", ds.frees);
		sb_num(sb, "alloc_fails", ds.alloc_fails);
		sb_num(sb, "fallbacks", ds.fallbacks);
		sb_num(sb, "local_pages", ds.local_pages);
		sb_num(sb, "remote_pages", ds.remote_pages);
		sb_num(sb, "skipped", ds.skipped);
		sb_num(sb, "free_count", ds.free_count);
		sb_num(sb, "free_min", ds.free_min);
		sb_num(sb, "page_count", ds.page_count);
		sb_close(sb, '}');
	}
	sb_close(sb, ']');
	sb_close(sb, '}');
	return 0;
}

/* ---- The snapshot ------------------------------------------------------------------------- */

static atomic_ulong snapshots;	/* numbering, for readers polling the file */

/*
 * Build the whole snapshot into sb (NUL-terminated).  Returns 0, ENOMEM or
 * EINVAL (a stats call refused: a library/header mismatch).
 */
static int
build(struct sb *sb, int flags)
{
	struct arena_list al = { .flags = flags };
	struct machine_ctx mc = { .sb = sb };
	struct kmem_ctx kc = { .sb = sb, .al = &al, .mc = &mc };
	struct timespec ts;
	int error;

	memset(sb, 0, sizeof(*sb));
	sb->first[0] = true;
	if ((error = vmem_foreach(collect_arena, &al)) != 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &ts);
	sb_open(sb, NULL, '{');
	sb_str(sb, "schema", "kvmem-stats");
	sb_int(sb, "version", KVMEM_STATFILE_VERSION);
	sb_int(sb, "pid", (long long)getpid());
	sb_int(sb, "time", (long long)ts.tv_sec);
	sb_num(sb, "sequence", atomic_fetch_add(&snapshots, 1) + 1);
	sb_member(sb, "segments");
	sb_printf(sb, "%s", (flags & KVMEM_STATFILE_SEGMENTS) != 0 ? "true" : "false");
	sb_open(sb, "arenas", '[');
	for (size_t i = 0; i < al.n; i++)
		emit_arena(sb, &al, i);
	sb_close(sb, ']');
	sb_open(sb, "machines", '[');
	error = pmap_sim_foreach(emit_machine, &mc);
	sb_close(sb, ']');
	if (error != 0)
		goto out;
	sb_open(sb, "kmem", '[');
	error = kmem_foreach(emit_kmem, &kc);
	sb_close(sb, ']');
	if (error != 0)
		goto out;
	sb_close(sb, '}');
	sb_printf(sb, "\n");
out:
	arena_list_free(&al);
	free(mc.sims);
	if (error == 0 && sb->oom)
		error = ENOMEM;
	if (error != 0) {
		free(sb->p);
		sb->p = NULL;
	}
	return error;
}

int
kvmem_statfile_json(char *buf, size_t len, int flags)
{
	struct sb sb;
	int error;

	if ((flags & ~SF_KNOWN_FLAGS) != 0) {
		errno = EINVAL;
		return -1;
	}
	if ((error = build(&sb, flags)) != 0) {
		errno = error;
		return -1;
	}
	if (sb.len > (size_t)INT32_MAX) {
		free(sb.p);
		errno = ENOMEM;
		return -1;
	}
	if (len != 0 && buf != NULL) {
		size_t n = sb.len < len - 1 ? sb.len : len - 1;

		memcpy(buf, sb.p, n);
		buf[n] = '\0';
	}
	free(sb.p);
	return (int)sb.len;
}

int
kvmem_statfile_path(char *buf, size_t len)
{
	const char *env = getenv("KVMEM_STATFILE");
	const char *tmp;

	if (env != NULL && env[0] != '\0')
		return snprintf(buf, len, "%s", env);
	tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	return snprintf(buf, len, "%s/kvmem-%ld.json", tmp, (long)getpid());
}

/* Resolve path NULL to the default into a malloc'ed copy; NULL on ENOMEM. */
static char *
resolve_path(const char *path)
{
	char *p;
	int n;

	if (path != NULL)
		return strdup(path);
	n = kvmem_statfile_path(NULL, 0);
	if (n < 0 || (p = malloc((size_t)n + 1)) == NULL)
		return NULL;
	kvmem_statfile_path(p, (size_t)n + 1);
	return p;
}

/*
 * Write data to a new temporary file next to path, then rename it over
 * path.  0 or the errno of the step that failed (the temporary removed).
 */
static int
write_atomic(const char *path, const char *data, size_t len)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 8);
	size_t off = 0;
	int fd, error = 0;

	if (tmp == NULL)
		return ENOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".XXXXXX", 8);
	if ((fd = mkstemp(tmp)) < 0) {
		error = errno;
		free(tmp);
		return error;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			error = errno;
			break;
		}
		off += (size_t)n;
	}
	if (close(fd) != 0 && error == 0)
		error = errno;
	if (error == 0 && rename(tmp, path) != 0)
		error = errno;
	if (error != 0)
		unlink(tmp);
	free(tmp);
	return error;
}

int
kvmem_statfile_write(const char *path, int flags)
{
	struct sb sb;
	char *p;
	int error;

	if ((flags & ~SF_KNOWN_FLAGS) != 0)
		return EINVAL;
	if ((p = resolve_path(path)) == NULL)
		return ENOMEM;
	error = build(&sb, flags);
	if (error == 0)
		error = write_atomic(p, sb.p, sb.len);
	free(sb.p);
	free(p);
	return error;
}

/* ---- The writer thread ------------------------------------------------------------------- */

static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;	/* serializes start/stop */
static pthread_mutex_t w_sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t w_cv;
static bool w_running;		/* under w_lock */
static bool w_quit;		/* under w_sleep_lock */
static pthread_t w_thread;
static char *w_path;
static unsigned w_interval_ms;
static int w_flags;
static atomic_ulong w_errors;

static void *
writer_main(void *arg)
{
	struct timespec until;

	(void)arg;
	pthread_mutex_lock(&w_sleep_lock);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += w_interval_ms / 1000;
		until.tv_nsec += (long)(w_interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!w_quit && pthread_cond_timedwait(&w_cv, &w_sleep_lock, &until) != ETIMEDOUT)
			;
		if (w_quit)
			break;
		pthread_mutex_unlock(&w_sleep_lock);
		if (kvmem_statfile_write(w_path, w_flags & KVMEM_STATFILE_SEGMENTS) != 0)
			atomic_fetch_add(&w_errors, 1);
		pthread_mutex_lock(&w_sleep_lock);
	}
	pthread_mutex_unlock(&w_sleep_lock);
	return NULL;
}

int
kvmem_statfile_start(const char *path, unsigned interval_ms, int flags)
{
	pthread_condattr_t ca;
	int error;

	if ((flags & ~SF_KNOWN_FLAGS) != 0)
		return EINVAL;
	pthread_mutex_lock(&w_lock);
	if (w_running) {
		pthread_mutex_unlock(&w_lock);
		return EBUSY;
	}
	if ((w_path = resolve_path(path)) == NULL) {
		pthread_mutex_unlock(&w_lock);
		return ENOMEM;
	}
	w_interval_ms = interval_ms != 0 ? interval_ms : 1000;
	w_flags = flags;
	w_quit = false;
	atomic_store(&w_errors, 0);
	error = kvmem_statfile_write(w_path, flags & KVMEM_STATFILE_SEGMENTS);
	if (error == 0) {
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w_cv, &ca);
		pthread_condattr_destroy(&ca);
		error = pthread_create(&w_thread, NULL, writer_main, NULL);
		if (error != 0) {
			pthread_cond_destroy(&w_cv);
			if ((flags & KVMEM_STATFILE_UNLINK) != 0)
				unlink(w_path);
		}
	}
	if (error != 0) {
		free(w_path);
		w_path = NULL;
	} else
		w_running = true;
	pthread_mutex_unlock(&w_lock);
	return error;
}

void
kvmem_statfile_stop(void)
{
	pthread_mutex_lock(&w_lock);
	if (!w_running) {
		pthread_mutex_unlock(&w_lock);
		return;
	}
	pthread_mutex_lock(&w_sleep_lock);
	w_quit = true;
	pthread_cond_signal(&w_cv);
	pthread_mutex_unlock(&w_sleep_lock);
	pthread_join(w_thread, NULL);
	pthread_cond_destroy(&w_cv);
	if ((w_flags & KVMEM_STATFILE_UNLINK) != 0)
		unlink(w_path);
	free(w_path);
	w_path = NULL;
	w_running = false;
	pthread_mutex_unlock(&w_lock);
}

unsigned long
kvmem_statfile_errors(void)
{
	return atomic_load(&w_errors);
}
