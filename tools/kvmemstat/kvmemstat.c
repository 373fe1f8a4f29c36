/*
 * kvmemstat -- show a kvmem statistics snapshot (kvmem_statfile(3)):
 * the arena tree, quantum caches, physical memory per domain, pmap
 * counters and kmem instances.  See kvmemstat(1).
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kjson.h"

#define PROG		"kvmemstat"
#define SNAP_SCHEMA	"kvmem-stats"
#define SNAP_VERSION	1
#define OUT_SCHEMA	"kvmemstat"
#define OUT_VERSION	1
#define NORDER		13	/* buddy orders in a version 1 snapshot */
#define EXACT_MAX	((uint64_t)1 << 53)

enum {
	V_ARENAS = 0x01,
	V_QCACHES = 0x02,
	V_MEMORY = 0x04,
	V_PMAP = 0x08,
	V_KMEM = 0x10,
	V_ALL = 0x1f
};

/* ---- Field access (a missing or malformed field reads as 0 / "?") ---------------- */

static uint64_t
U(const struct kj *o, const char *key)
{
	uint64_t v = 0;

	kj_u64(kj_get(o, key), &v);
	return v;
}

static int64_t
I(const struct kj *o, const char *key, int64_t dflt)
{
	int64_t v = dflt;

	kj_i64(kj_get(o, key), &v);
	return v;
}

static const char *
S(const struct kj *o, const char *key)
{
	const char *s = kj_str(kj_get(o, key));

	return s != NULL ? s : "?";
}

static uint64_t
Uat(const struct kj *a, size_t i)
{
	uint64_t v = 0;

	kj_u64(kj_at(a, i), &v);
	return v;
}

/* Thousandths as "d.ddd". */
static void
milli(char *buf, size_t len, uint64_t m)
{
	snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, m / 1000, m % 1000);
}

/* ---- A JSON writer for --json ------------------------------------------------------- */

struct jw {
	FILE	*f;
	int	depth;
	int	inline_depth;	/* members at depths above this stay on one line */
	bool	first[32];
};

/* Output is indented, one member per line, except inside inline arrays. */
static void
jw_member(struct jw *w, const char *key)
{
	if (!w->first[w->depth])
		fputc(',', w->f);
	if (w->depth > 0 && w->depth <= w->inline_depth)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	else if (!w->first[w->depth])
		fputc(' ', w->f);
	w->first[w->depth] = false;
	if (key != NULL)
		fprintf(w->f, "\"%s\": ", key);
}

static void
jw_open(struct jw *w, const char *key, char c)
{
	jw_member(w, key);
	fputc(c, w->f);
	if (w->depth < 31)
		w->depth++;
	w->first[w->depth] = true;
}

/* An array whose elements stay on the line of its key. */
static void
jw_open_inline(struct jw *w, const char *key)
{
	jw_open(w, key, '[');
	w->inline_depth = w->depth - 1;
}

static void
jw_close(struct jw *w, char c)
{
	bool empty = w->first[w->depth];

	if (w->depth > 0)
		w->depth--;
	if (w->inline_depth == w->depth)
		w->inline_depth = 31;
	else if (!empty && w->depth < w->inline_depth)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	fputc(c, w->f);
}

static void
jw_str(struct jw *w, const char *key, const char *s)
{
	jw_member(w, key);
	fputc('"', w->f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(w->f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(w->f, "\\u%04x", c);
		else
			fputc(c, w->f);
	}
	fputc('"', w->f);
}

/* An unsigned integer: a number up to 2^53, above that a decimal string. */
static void
jw_u(struct jw *w, const char *key, uint64_t v)
{
	jw_member(w, key);
	if (v <= EXACT_MAX)
		fprintf(w->f, "%" PRIu64, v);
	else
		fprintf(w->f, "\"%" PRIu64 "\"", v);
}

static void
jw_i(struct jw *w, const char *key, int64_t v)
{
	jw_member(w, key);
	fprintf(w->f, "%" PRId64, v);
}

static void
jw_null(struct jw *w, const char *key)
{
	jw_member(w, key);
	fputs("null", w->f);
}

/* ---- The arena tree ------------------------------------------------------------------- */

struct tree {
	size_t	n;
	long	*parent;	/* index or -1 */
	bool	*seen;
};

/* Print arena i and (depth first, in snapshot order) the arenas importing from it. */
static void
arena_visit(const struct kj *arenas, struct tree *t, size_t i, int depth, FILE *out,
    struct jw *jw)
{
	const struct kj *a = kj_at(arenas, i);
	char name[256];

	t->seen[i] = true;
	if (jw != NULL) {
		jw_open(jw, NULL, '{');
		jw_i(jw, "id", (int64_t)i);
		jw_str(jw, "name", S(a, "name"));
		if (t->parent[i] < 0)
			jw_null(jw, "parent");
		else
			jw_i(jw, "parent", t->parent[i]);
		jw_i(jw, "depth", depth);
		jw_u(jw, "quantum", U(a, "quantum"));
		jw_u(jw, "inuse", U(a, "bytes_inuse"));
		jw_u(jw, "total", U(a, "bytes_total"));
		jw_u(jw, "imported", U(a, "bytes_imported"));
		jw_u(jw, "cached", U(a, "bytes_cached"));
		jw_u(jw, "allocs", U(a, "allocs"));
		jw_u(jw, "frees", U(a, "frees"));
		jw_u(jw, "fails", U(a, "alloc_fails"));
		jw_u(jw, "imports", U(a, "imports"));
		jw_u(jw, "import_fails", U(a, "import_fails"));
		jw_close(jw, '}');
	} else {
		snprintf(name, sizeof(name), "%*s%s", 2 * (depth < 40 ? depth : 40), "",
		    S(a, "name"));
		fprintf(out, "%4zu %-28s %14" PRIu64 " %14" PRIu64 " %10" PRIu64 " %6" PRIu64
		    "\n", i, name, U(a, "bytes_inuse"), U(a, "bytes_total"), U(a, "allocs"),
		    U(a, "alloc_fails"));
	}
	for (size_t c = 0; c < t->n; c++)
		if (!t->seen[c] && t->parent[c] == (long)i)
			arena_visit(arenas, t, c, depth + 1, out, jw);
}

/* Arenas with import depth as indentation, as illumos mdb's ::vmem shows them. */
static int
view_arenas(const struct kj *doc, FILE *out, struct jw *jw)
{
	const struct kj *arenas = kj_get(doc, "arenas");
	struct tree t = { .n = kj_len(arenas) };

	t.parent = calloc(t.n + 1, sizeof(*t.parent));
	t.seen = calloc(t.n + 1, sizeof(*t.seen));
	if (t.parent == NULL || t.seen == NULL) {
		free(t.parent);
		free(t.seen);
		return ENOMEM;
	}
	for (size_t i = 0; i < t.n; i++) {
		int64_t p = I(kj_at(arenas, i), "parent", -1);

		t.parent[i] = p >= 0 && (uint64_t)p < t.n && (size_t)p != i ? (long)p : -1;
	}
	if (jw != NULL)
		jw_open(jw, "arenas", '[');
	else
		fprintf(out, "%4s %-28s %14s %14s %10s %6s\n", "ID", "NAME", "INUSE", "TOTAL",
		    "SUCCEED", "FAIL");
	if (jw == NULL && t.n == 0)
		fprintf(out, "(no arenas)\n");
	for (size_t i = 0; i < t.n; i++)
		if (t.parent[i] < 0)
			arena_visit(arenas, &t, i, 0, out, jw);
	/* Whatever a parent cycle kept out of the tree. */
	for (size_t i = 0; i < t.n; i++)
		if (!t.seen[i])
			arena_visit(arenas, &t, i, 0, out, jw);
	if (jw != NULL)
		jw_close(jw, ']');
	free(t.parent);
	free(t.seen);
	return 0;
}

/* ---- Quantum caches, in vmstat -z columns ---------------------------------------------- */

static void
view_qcaches(const struct kj *doc, FILE *out, struct jw *jw)
{
	const struct kj *arenas = kj_get(doc, "arenas");
	size_t rows = 0;
	char item[128], label[130];

	if (jw != NULL)
		jw_open(jw, "qcaches", '[');
	else
		fprintf(out, "%-24s %8s  %6s  %8s  %8s  %10s  %4s  %5s  %8s  %5s\n", "ITEM", "SIZE",
		    "LIMIT", "USED", "FREE", "REQ", "FAIL", "SLEEP", "MISS", "SLABS");
	for (size_t i = 0; i < kj_len(arenas); i++) {
		const struct kj *a = kj_at(arenas, i);
		const struct kj *qcs = kj_get(a, "qcaches");

		for (size_t j = 0; j < kj_len(qcs); j++) {
			const struct kj *q = kj_at(qcs, j);
			uint64_t size = U(q, "objsize");
			uint64_t freeobjs = U(q, "objs_in_threads") + U(q, "objs_in_depot") +
			    U(q, "objs_in_slabs");

			rows++;
			snprintf(item, sizeof(item), "%s-%" PRIu64, S(a, "name"), size);
			snprintf(label, sizeof(label), "%s:", item);
			if (jw != NULL) {
				jw_open(jw, NULL, '{');
				jw_str(jw, "item", item);
				jw_i(jw, "arena", (int64_t)i);
				jw_u(jw, "size", size);
				jw_u(jw, "limit", 0);
				jw_u(jw, "used", U(q, "objs_out"));
				jw_u(jw, "free", freeobjs);
				jw_u(jw, "req", U(q, "hits") + U(q, "misses"));
				jw_null(jw, "fail");
				jw_null(jw, "sleep");
				jw_u(jw, "miss", U(q, "misses"));
				jw_u(jw, "slabs", U(q, "slabs"));
				jw_u(jw, "contention", U(q, "contention"));
				jw_close(jw, '}');
				continue;
			}
			fprintf(out, "%-24s %8" PRIu64 ", %6d, %8" PRIu64 ", %8" PRIu64 ", %10" PRIu64
			    ", %4s, %5s, %8" PRIu64 ", %5" PRIu64 "\n", label, size, 0,
			    U(q, "objs_out"), freeobjs, U(q, "hits") + U(q, "misses"), "-", "-",
			    U(q, "misses"),
			    U(q, "slabs"));
		}
	}
	if (jw != NULL)
		jw_close(jw, ']');
	else if (rows == 0)
		fprintf(out, "(no quantum caches)\n");
}

/* ---- Physical memory per domain ----------------------------------------------------------- */

static const char *const freelist_names[] = { "default", "dma32" };

static void
view_memory(const struct kj *doc, FILE *out, struct jw *jw)
{
	const struct kj *machines = kj_get(doc, "machines");
	char fi[32];

	if (jw != NULL)
		jw_open(jw, "memory", '[');
	else if (kj_len(machines) == 0)
		fprintf(out, "(no simulated machines)\n");
	for (size_t m = 0; m < kj_len(machines); m++) {
		const struct kj *mc = kj_at(machines, m);
		const struct kj *doms = kj_get(mc, "domains");

		if (jw != NULL) {
			jw_open(jw, NULL, '{');
			jw_i(jw, "machine", (int64_t)m);
			jw_str(jw, "name", S(mc, "name"));
			jw_open(jw, "domains", '[');
		} else {
			fprintf(out, "%smachine %zu \"%s\": %" PRId64 " domain(s), %" PRId64
			    " CPU(s), %" PRIu64 " pages, %" PRIu64 " free\n", m > 0 ? "\n" : "", m,
			    S(mc, "name"), I(mc, "ndomains", 0), I(mc, "ncpus", 0),
			    U(mc, "page_count"), U(mc, "free_count"));
			fprintf(out, "%6s %18s %18s %9s %9s %9s %9s %7s %6s\n", "DOMAIN", "START",
			    "END", "PAGES", "FREE", "ALLOC", "WIRED", "PTPAGES", "FRAG");
		}
		for (size_t d = 0; d < kj_len(doms); d++) {
			const struct kj *ds = kj_at(doms, d);

			milli(fi, sizeof(fi), U(ds, "frag_index"));
			if (jw != NULL) {
				const struct kj *fb = kj_get(ds, "free_blocks");

				jw_open(jw, NULL, '{');
				jw_i(jw, "domain", I(ds, "domain", (int64_t)d));
				jw_u(jw, "start", U(ds, "start"));
				jw_u(jw, "end", U(ds, "end"));
				jw_u(jw, "pages", U(ds, "page_count"));
				jw_u(jw, "free", U(ds, "free_count"));
				jw_u(jw, "allocated", U(ds, "allocated"));
				jw_u(jw, "wired", U(ds, "wired_count"));
				jw_u(jw, "pt_pages", U(ds, "pt_pages"));
				jw_u(jw, "frag_index_milli", U(ds, "frag_index"));
				jw_open(jw, "free_blocks", '{');
				for (size_t fl = 0; fl < kj_len(fb) && fl < 2; fl++) {
					jw_open_inline(jw, freelist_names[fl]);
					for (size_t o = 0; o < NORDER; o++)
						jw_u(jw, NULL, Uat(kj_at(fb, fl), o));
					jw_close(jw, ']');
				}
				jw_close(jw, '}');
				jw_close(jw, '}');
				continue;
			}
			fprintf(out, "%6" PRId64 " %#18" PRIx64 " %#18" PRIx64 " %9" PRIu64 " %9"
			    PRIu64 " %9" PRIu64 " %9" PRIu64 " %7" PRIu64 " %6s\n",
			    I(ds, "domain", (int64_t)d), U(ds, "start"), U(ds, "end"),
			    U(ds, "page_count"), U(ds, "free_count"), U(ds, "allocated"),
			    U(ds, "wired_count"), U(ds, "pt_pages"), fi);
		}
		if (jw != NULL) {
			jw_close(jw, ']');
			jw_close(jw, '}');
			continue;
		}
		/* /proc/buddyinfo: free blocks per order, a row per domain and free list. */
		fprintf(out, "free blocks per order (order 0 = 4 KiB ... order 12 = 16 MiB):\n");
		fprintf(out, "%-26s", "");
		for (int o = 0; o < NORDER; o++)
			fprintf(out, " %6d", o);
		fprintf(out, "\n");
		for (size_t d = 0; d < kj_len(doms); d++) {
			const struct kj *ds = kj_at(doms, d);
			const struct kj *fb = kj_get(ds, "free_blocks");

			for (size_t fl = 0; fl < kj_len(fb) && fl < 2; fl++) {
				const struct kj *row = kj_at(fb, fl);
				uint64_t any = 0;
				char label[64];

				for (size_t o = 0; o < NORDER; o++)
					any |= Uat(row, o);
				if (any == 0 && fl != 0)
					continue;	/* an unused DMA32 list */
				snprintf(label, sizeof(label), "Domain %" PRId64 ", list %s",
				    I(ds, "domain", (int64_t)d), freelist_names[fl]);
				fprintf(out, "%-26s", label);
				for (size_t o = 0; o < NORDER; o++)
					fprintf(out, " %6" PRIu64, Uat(row, o));
				fprintf(out, "\n");
			}
		}
	}
	if (jw != NULL)
		jw_close(jw, ']');
}

/* ---- pmap counters, named as FreeBSD's sysctls ------------------------------------------ */

static const char *const pmap_fields[][2] = {
	{ "vm.pmap.pde.promotions", "pde_promotions" },
	{ "vm.pmap.pde.p_failures", "pde_p_failures" },
	{ "vm.pmap.pde.mappings", "pde_mappings" },
	{ "vm.pmap.pde.demotions", "pde_demotions" },
	{ "vm.pmap.pt_pages", "pt_pages" },
	{ "vm.reserv.broken", "reserv_broken" },
	{ "vm.reserv.freed", "reserv_freed" },
	{ "vm.reserv.fullpop", "reserv_fullpop" },
	{ "vm.reserv.reclaimed", "reserv_reclaimed" },
	{ "vm.reserv.partpopq", "reserv_partpopq" },
};

static void
view_pmap(const struct kj *doc, FILE *out, struct jw *jw)
{
	const struct kj *machines = kj_get(doc, "machines");
	size_t nf = sizeof(pmap_fields) / sizeof(pmap_fields[0]);

	if (jw != NULL)
		jw_open(jw, "pmap", '[');
	else if (kj_len(machines) == 0)
		fprintf(out, "(no simulated machines)\n");
	for (size_t m = 0; m < kj_len(machines); m++) {
		const struct kj *mc = kj_at(machines, m);

		if (jw != NULL) {
			jw_open(jw, NULL, '{');
			jw_i(jw, "machine", (int64_t)m);
			jw_str(jw, "name", S(mc, "name"));
			for (size_t f = 0; f < nf; f++)
				jw_u(jw, pmap_fields[f][1], U(mc, pmap_fields[f][1]));
			jw_i(jw, "kernel_resident", I(mc, "kernel_resident", 0));
			jw_i(jw, "kernel_wired", I(mc, "kernel_wired", 0));
			jw_close(jw, '}');
			continue;
		}
		fprintf(out, "%smachine %zu \"%s\":\n", m > 0 ? "\n" : "", m, S(mc, "name"));
		for (size_t f = 0; f < nf; f++)
			fprintf(out, "  %-28s %" PRIu64 "\n", pmap_fields[f][0],
			    U(mc, pmap_fields[f][1]));
		fprintf(out, "  %-28s %" PRId64 "\n", "kernel pmap resident pages",
		    I(mc, "kernel_resident", 0));
		fprintf(out, "  %-28s %" PRId64 "\n", "kernel pmap wired pages",
		    I(mc, "kernel_wired", 0));
	}
	if (jw != NULL)
		jw_close(jw, ']');
}

/* ---- kmem instances ------------------------------------------------------------------------ */

static void
view_kmem(const struct kj *doc, FILE *out, struct jw *jw)
{
	const struct kj *ks = kj_get(doc, "kmem");
	static const char *const kfields[] = {
		"kernel_arena_inuse", "kernel_arena_total", "kva_imported", "kva_alloc_inuse",
		"kernel_map_size", "allocs", "frees", "alloc_fails", "einval", "waits", "misuses",
		"fallbacks", "pages", "local_pages", "remote_pages", "access_cost", "kva_imports",
		"kva_import_fails", "pde_promotions", "pde_demotions", "pde_p_failures",
	};
	static const char *const dfields[] = {
		"kva_inuse", "kva_total", "rwx_inuse", "rwx_total", "pages", "allocs", "frees",
		"alloc_fails", "fallbacks", "local_pages", "remote_pages", "skipped", "free_count",
		"free_min",
	};

	if (jw != NULL)
		jw_open(jw, "kmem", '[');
	else if (kj_len(ks) == 0)
		fprintf(out, "(no kmem instances)\n");
	for (size_t i = 0; i < kj_len(ks); i++) {
		const struct kj *k = kj_at(ks, i);
		const struct kj *cs = kj_get(k, "chunks");
		const struct kj *doms = kj_get(k, "domains");
		uint64_t placed = U(k, "local_pages") + U(k, "remote_pages");
		uint64_t cost = placed != 0 ? U(k, "access_cost") * 100 / (placed * 10) : 100;

		if (jw != NULL) {
			jw_open(jw, NULL, '{');
			jw_i(jw, "id", (int64_t)i);
			jw_str(jw, "name", S(k, "name"));
			jw_i(jw, "machine", I(k, "machine", -1));
			jw_i(jw, "ndomains", I(k, "ndomains", 0));
			jw_u(jw, "kva_quantum", U(k, "kva_quantum"));
			jw_u(jw, "import_quantum", U(k, "import_quantum"));
			for (size_t f = 0; f < sizeof(kfields) / sizeof(kfields[0]); f++)
				jw_u(jw, kfields[f], U(k, kfields[f]));
			jw_open(jw, "chunks", '{');
			jw_u(jw, "chunks", U(cs, "chunks"));
			jw_u(jw, "full", U(cs, "full"));
			jw_u(jw, "promoted", U(cs, "promoted"));
			jw_u(jw, "one_domain", U(cs, "one_domain"));
			jw_close(jw, '}');
			jw_open(jw, "domains", '[');
			for (size_t d = 0; d < kj_len(doms); d++) {
				const struct kj *ds = kj_at(doms, d);

				jw_open(jw, NULL, '{');
				jw_i(jw, "domain", I(ds, "domain", (int64_t)d));
				for (size_t f = 0; f < sizeof(dfields) / sizeof(dfields[0]); f++)
					jw_u(jw, dfields[f], U(ds, dfields[f]));
				jw_close(jw, '}');
			}
			jw_close(jw, ']');
			jw_close(jw, '}');
			continue;
		}
		fprintf(out, "%skmem %zu \"%s\" on machine %" PRId64 " \"%s\": %" PRId64
		    " domain(s), KVA quantum %#" PRIx64 ", import quantum %#" PRIx64 "\n",
		    i > 0 ? "\n" : "", i, S(k, "name"), I(k, "machine", -1), S(k, "machine_name"),
		    I(k, "ndomains", 0), U(k, "kva_quantum"), U(k, "import_quantum"));
		fprintf(out, "  kernel arena   %" PRIu64 " in use of %" PRIu64 " bytes; %" PRIu64
		    " imported from kernel_map in %" PRIu64 " import(s), %" PRIu64 " failed\n",
		    U(k, "kernel_arena_inuse"), U(k, "kernel_arena_total"), U(k, "kva_imported"),
		    U(k, "kva_imports"), U(k, "kva_import_fails"));
		fprintf(out, "  kernel_map     %" PRIu64 " bytes in entries; kva_alloc %" PRIu64
		    " bytes\n", U(k, "kernel_map_size"), U(k, "kva_alloc_inuse"));
		fprintf(out, "  calls          %" PRIu64 " allocs, %" PRIu64 " frees, %" PRIu64
		    " failed, %" PRIu64 " EINVAL, %" PRIu64 " waits, %" PRIu64 " misuses\n",
		    U(k, "allocs"), U(k, "frees"), U(k, "alloc_fails"), U(k, "einval"),
		    U(k, "waits"), U(k, "misuses"));
		fprintf(out, "  pages          %" PRIu64 " held; %" PRIu64 " local, %" PRIu64
		    " remote, %" PRIu64 " fallbacks; access cost %" PRIu64 ".%02" PRIu64 "x\n",
		    U(k, "pages"), U(k, "local_pages"), U(k, "remote_pages"), U(k, "fallbacks"),
		    cost / 100, cost % 100);
		fprintf(out, "  2 MiB chunks   %" PRIu64 " with pages, %" PRIu64 " full, %" PRIu64
		    " promoted, %" PRIu64 " from one domain\n", U(cs, "chunks"), U(cs, "full"),
		    U(cs, "promoted"), U(cs, "one_domain"));
		fprintf(out, "  %6s %12s %12s %12s %8s %8s %8s %6s %6s %8s %8s %6s\n", "DOMAIN",
		    "KVA_INUSE", "KVA_TOTAL", "RWX_INUSE", "PAGES", "ALLOCS", "FREES", "FAILS",
		    "FALLBK", "LOCAL", "REMOTE", "SKIP");
		for (size_t d = 0; d < kj_len(doms); d++) {
			const struct kj *ds = kj_at(doms, d);

			fprintf(out, "  %6" PRId64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %8"
			    PRIu64 " %8" PRIu64 " %8" PRIu64 " %6" PRIu64 " %6" PRIu64 " %8" PRIu64
			    " %8" PRIu64 " %6" PRIu64 "\n", I(ds, "domain", (int64_t)d),
			    U(ds, "kva_inuse"), U(ds, "kva_total"), U(ds, "rwx_inuse"),
			    U(ds, "pages"), U(ds, "allocs"), U(ds, "frees"), U(ds, "alloc_fails"),
			    U(ds, "fallbacks"), U(ds, "local_pages"), U(ds, "remote_pages"),
			    U(ds, "skipped"));
		}
	}
	if (jw != NULL)
		jw_close(jw, ']');
}

/* ---- Reading a snapshot ------------------------------------------------------------------- */

/*
 * Read and check the snapshot at path into *doc.  Returns 0, or 1 after a
 * message on stderr naming the file.
 */
static int
load(const char *path, struct kj *doc)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL, err[256];
	size_t len = 0, cap = 0;
	const struct kj *v;
	int64_t version;

	if (f == NULL) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return 1;
	}
	for (;;) {
		if (cap - len < 65536) {
			char *n = realloc(text, cap + 65536 + cap / 2);

			if (n == NULL) {
				fprintf(stderr, PROG ": %s: out of memory\n", path);
				free(text);
				fclose(f);
				return 1;
			}
			text = n;
			cap += 65536 + cap / 2;
		}
		size_t n = fread(text + len, 1, cap - len, f);

		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, PROG ": %s: read error: %s\n", path, strerror(errno));
		free(text);
		fclose(f);
		return 1;
	}
	fclose(f);
	if (kj_parse(text, len, doc, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s: not valid JSON: %s\n", path, err);
		free(text);
		return 1;
	}
	free(text);
	v = kj_get(doc, "schema");
	if (doc->type != KJ_OBJ || kj_str(v) == NULL || strcmp(kj_str(v), SNAP_SCHEMA) != 0) {
		fprintf(stderr, PROG ": %s: not a kvmem statistics snapshot (no \"schema\": \""
		    SNAP_SCHEMA "\")\n", path);
		kj_free(doc);
		return 1;
	}
	if (kj_i64(kj_get(doc, "version"), &version) != 0) {
		fprintf(stderr, PROG ": %s: snapshot has no numeric \"version\"\n", path);
		kj_free(doc);
		return 1;
	}
	if (version != SNAP_VERSION) {
		fprintf(stderr, PROG ": %s: snapshot version %" PRId64 " is not supported (this "
		    PROG " reads version %d)\n", path, version, SNAP_VERSION);
		kj_free(doc);
		return 1;
	}
	static const char *const lists[] = { "arenas", "machines", "kmem" };
	for (size_t i = 0; i < 3; i++) {
		v = kj_get(doc, lists[i]);
		if (v == NULL || v->type != KJ_ARR) {
			fprintf(stderr, PROG ": %s: snapshot has no \"%s\" array\n", path, lists[i]);
			kj_free(doc);
			return 1;
		}
	}
	return 0;
}

/* Print the chosen views of one snapshot. */
static int
show(const struct kj *doc, int views, bool json)
{
	struct jw jw = { .f = stdout, .inline_depth = 31, .first = { true } };
	struct jw *w = json ? &jw : NULL;
	bool sep = false;
	int error = 0;

	if (json) {
		jw_open(w, NULL, '{');
		jw_str(w, "schema", OUT_SCHEMA);
		jw_i(w, "version", OUT_VERSION);
		jw_open(w, "source", '{');
		jw_str(w, "schema", SNAP_SCHEMA);
		jw_i(w, "version", SNAP_VERSION);
		jw_close(w, '}');
	}
#define SECTION(title) do {						\
	if (!json) {							\
		printf("%s== %s ==\n", sep ? "\n" : "", title);		\
		sep = true;						\
	}								\
} while (0)
	if ((views & V_ARENAS) != 0) {
		SECTION("arenas");
		error = view_arenas(doc, stdout, w);
	}
	if ((views & V_QCACHES) != 0) {
		SECTION("quantum caches");
		view_qcaches(doc, stdout, w);
	}
	if ((views & V_MEMORY) != 0) {
		SECTION("physical memory");
		view_memory(doc, stdout, w);
	}
	if ((views & V_PMAP) != 0) {
		SECTION("pmap");
		view_pmap(doc, stdout, w);
	}
	if ((views & V_KMEM) != 0) {
		SECTION("kmem");
		view_kmem(doc, stdout, w);
	}
#undef SECTION
	if (json) {
		jw_close(w, '}');
		putchar('\n');
	}
	fflush(stdout);
	return error;
}

/* ---- main ------------------------------------------------------------------------------- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [-aqmPk] [--json] [-w seconds [-c count]] FILE\n"
	    "       " PROG " [-aqmPk] [--json] [-w seconds [-c count]] -p PID\n"
	    "Show a kvmem statistics snapshot (written by kvmem_statfile_write(3)).\n"
	    "\n"
	    "  -a, --arenas      the arena tree (import depth as indentation)\n"
	    "  -q, --qcaches     quantum caches, in vmstat -z columns\n"
	    "  -m, --memory      physical memory per domain, free blocks per order\n"
	    "  -P, --pmap        pmap counters (promotions, demotions, page-table pages)\n"
	    "  -k, --kmem        kmem instances\n"
	    "                    (no view option: all views)\n"
	    "  -j, --json        print what the views show as JSON (schema \"kvmemstat\", 1)\n"
	    "  -p, --pid PID     read the default snapshot of process PID:\n"
	    "                    ${TMPDIR:-/tmp}/kvmem-PID.json\n"
	    "  -w, --wait SECS   show the snapshot again every SECS seconds\n"
	    "  -c, --count N     with -w: stop after N displays\n"
	    "  -h, --help        this help\n");
}

static int
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" PROG " --help' for more information.\n");
	return 2;
}

/* A decimal number in [lo, hi]; 0 or -1. */
static int
parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "arenas", no_argument, NULL, 'a' },
		{ "qcaches", no_argument, NULL, 'q' },
		{ "memory", no_argument, NULL, 'm' },
		{ "pmap", no_argument, NULL, 'P' },
		{ "kmem", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "wait", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int views = 0, c;
	bool json = false, have_pid = false;
	long pid = 0, wait = 0, count = 0;
	char pathbuf[PATH_MAX];
	const char *path;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":aqmPkjp:w:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': views |= V_ARENAS; break;
		case 'q': views |= V_QCACHES; break;
		case 'm': views |= V_MEMORY; break;
		case 'P': views |= V_PMAP; break;
		case 'k': views |= V_KMEM; break;
		case 'j': json = true; break;
		case 'p':
			if (parse_num(optarg, 1, INT_MAX, &pid) != 0)
				return bad_usage("bad process id '%s'", optarg);
			have_pid = true;
			break;
		case 'w':
			if (parse_num(optarg, 1, 86400, &wait) != 0)
				return bad_usage("bad interval '%s' (seconds, 1 to 86400)", optarg);
			break;
		case 'c':
			if (parse_num(optarg, 1, LONG_MAX, &count) != 0)
				return bad_usage("bad count '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return bad_usage("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt != 0)
				return bad_usage("unknown option '-%c'", optopt);
			return bad_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (views == 0)
		views = V_ALL;
	if (count != 0 && wait == 0)
		return bad_usage("-c needs -w");
	if (have_pid) {
		const char *tmp = getenv("TMPDIR");

		if (optind != argc)
			return bad_usage("give either FILE or -p PID, not both");
		if (tmp == NULL || tmp[0] == '\0')
			tmp = "/tmp";
		snprintf(pathbuf, sizeof(pathbuf), "%s/kvmem-%ld.json", tmp, pid);
		path = pathbuf;
	} else {
		if (optind == argc)
			return bad_usage("no snapshot: give FILE or -p PID");
		if (optind + 1 != argc)
			return bad_usage("one snapshot FILE only");
		path = argv[optind];
	}
	for (long n = 1;; n++) {
		struct kj doc;
		int error;

		if (load(path, &doc) != 0)
			return 1;
		error = show(&doc, views, json);
		kj_free(&doc);
		if (error != 0) {
			fprintf(stderr, PROG ": %s: %s\n", path, strerror(error));
			return 1;
		}
		if (wait == 0 || (count != 0 && n >= count))
			break;
		struct timespec ts = { .tv_sec = wait };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		if (!json)
			printf("\n");
	}
	return 0;
}
