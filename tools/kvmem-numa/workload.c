/*
 * workload.c -- kvmem-numa's workloads: built-in mixes generated from a
 * seed, and trace CSV files in the benchmark suite's format
 * (bench/README.md), both turned into one event list.  Sizes are in pages
 * (a trace's byte sizes are rounded up to 4 KiB pages).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numa.h"

const char *const numa_workload_names[] = { "small", "large", "mixed", "skewed", NULL };

/* ---- Random numbers (splitmix64: small, seedable, the same everywhere) ---------- */

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static uint32_t
rnd_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rnd(s) % ((uint64_t)hi - lo + 1));
}

/* Share out of 1000. */
static unsigned
rnd_mille(uint64_t *s)
{
	return (unsigned)(rnd(s) % 1000);
}

/* Page counts: mostly one page, a tail up to 256 (the `pages` trace's mix). */
static uint32_t
size_small(uint64_t *s)
{
	unsigned r = rnd_mille(s);

	if (r < 600)
		return 1;
	if (r < 850)
		return rnd_range(s, 2, 4);
	if (r < 950)
		return rnd_range(s, 5, 16);
	if (r < 990)
		return rnd_range(s, 17, 64);
	return rnd_range(s, 65, 256);
}

/* About 2 MiB: half exactly 512 pages, a quarter a little less, a quarter more. */
static uint32_t
size_large(uint64_t *s)
{
	unsigned r = rnd_mille(s);

	if (r < 500)
		return 512;
	if (r < 750)
		return rnd_range(s, 384, 511);
	return rnd_range(s, 513, 768);
}

static uint32_t
size_mixed(uint64_t *s)
{
	return rnd_mille(s) < 850 ? size_small(s) : size_large(s);
}

/* ---- Building the event list ------------------------------------------------------ */

struct gen {
	struct numa_workload *w;
	uint32_t	cap;
	uint32_t	*live[NUMA_MAXTHREADS];	/* per thread: live allocation events */
	uint32_t	nlive[NUMA_MAXTHREADS];
	uint32_t	livecap[NUMA_MAXTHREADS];
	uint64_t	live_pages[NUMA_MAXTHREADS];
};

/* Append an event to the list (grown as needed); 0 or -1 when out of memory. */
static int
push(struct gen *g, uint32_t npages, uint32_t ref, unsigned thread)
{
	struct numa_workload *w = g->w;

	if (w->n == g->cap) {
		uint32_t ncap = g->cap ? g->cap * 2 : 4096;
		struct numa_ev *nev = realloc(w->ev, (size_t)ncap * sizeof(*nev));

		if (nev == NULL)
			return -1;
		w->ev = nev;
		g->cap = ncap;
	}
	w->ev[w->n++] = (struct numa_ev){ .npages = npages, .ref = ref, .thread = (uint8_t)thread };
	return 0;
}

/* Thread t allocates npages: the event is appended and remembered as live. */
static int
gen_alloc(struct gen *g, unsigned t, uint32_t npages)
{
	if (g->nlive[t] == g->livecap[t]) {
		uint32_t ncap = g->livecap[t] ? g->livecap[t] * 2 : 1024;
		uint32_t *nl = realloc(g->live[t], (size_t)ncap * sizeof(*nl));

		if (nl == NULL)
			return -1;
		g->live[t] = nl;
		g->livecap[t] = ncap;
	}
	g->live[t][g->nlive[t]++] = g->w->n;
	g->live_pages[t] += npages;
	return push(g, npages, NUMA_NONE, t);
}

/* Free a uniformly chosen live allocation of thread t (which has one). */
static int
gen_free(struct gen *g, unsigned t, uint64_t *s)
{
	uint32_t i = (uint32_t)(rnd(s) % g->nlive[t]), ref = g->live[t][i];
	uint32_t np = g->w->ev[ref].npages;

	g->live[t][i] = g->live[t][--g->nlive[t]];
	g->live_pages[t] -= np;
	return push(g, np, ref, t);
}

void
numa_workload_finish(struct numa_workload *w)
{
	uint64_t live = 0, peak = 0;

	w->nallocs = w->alloc_pages = 0;
	w->peak_event = 0;
	w->nthreads = 0;
	for (uint32_t i = 0; i < w->n; i++) {
		const struct numa_ev *e = &w->ev[i];

		if (e->ref == NUMA_NONE) {
			live += e->npages;
			w->nallocs++;
			w->alloc_pages += e->npages;
		} else {
			live -= e->npages;
		}
		if (live > peak) {
			peak = live;
			w->peak_event = i;
		}
		if (e->thread + 1u > w->nthreads)
			w->nthreads = e->thread + 1u;
	}
	w->peak_pages = peak;
}

int
numa_workload_builtin(struct numa_workload *w, const char *name,
    const struct numa_machine *m, const struct numa_wparams *p)
{
	uint32_t (*sizefn)(uint64_t *);
	struct gen g;
	uint64_t s = p->seed, mem = 0, total, target[NUMA_MAXTHREADS], nallocs, made = 0;
	unsigned nt = p->threads ? p->threads : (unsigned)m->ndom, pct = p->live_pct;
	unsigned burst = 8;
	double mean;
	int rc = -1;

	if (nt > NUMA_MAXTHREADS)
		nt = NUMA_MAXTHREADS;
	memset(w, 0, sizeof(*w));
	memset(&g, 0, sizeof(g));
	g.w = w;
	if (strcmp(name, "small") == 0) {
		sizefn = size_small, mean = 5.6;
	} else if (strcmp(name, "large") == 0) {
		sizefn = size_large, mean = 528;
	} else if (strcmp(name, "mixed") == 0 || strcmp(name, "skewed") == 0) {
		sizefn = size_mixed, mean = 84;
	} else {
		fprintf(stderr, "kvmem-numa: unknown workload '%s' (small, large, mixed, skewed, "
		    "or a trace file name containing '/' or ending in .csv)\n", name);
		return -1;
	}
	if (pct == 0)
		pct = strcmp(name, "skewed") == 0 ? 80 : 50;
	for (int d = 0; d < m->ndom; d++)
		mem += m->size[d] / NUMA_PAGE;
	total = mem * pct / 100;
	for (unsigned t = 0; t < nt; t++) {
		if (strcmp(name, "skewed") != 0 || nt == 1)
			target[t] = total / nt;
		else
			target[t] = t == 0 ? total * 9 / 10 : total / 10 / (nt - 1);
		if (target[t] == 0)
			target[t] = 1;
	}
	nallocs = p->allocs ? p->allocs : (uint64_t)(3.0 * (double)total / mean) + 1;
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->desc, sizeof(w->desc),
	    "%u threads, %" PRIu64 " allocations, live target %u%% of memory%s", nt, nallocs, pct,
	    strcmp(name, "skewed") == 0 ? " (90% of it thread 0's)" : "");
	/* Steady state: a thread picked at random does a burst of events. */
	while (made < nallocs) {
		unsigned t = (unsigned)(rnd(&s) % nt);

		for (unsigned b = 0; b < burst && made < nallocs; b++) {
			uint64_t live = g.live_pages[t];
			bool alloc = g.nlive[t] == 0 ||
			    rnd(&s) % (target[t] + live) < target[t];

			if (alloc) {
				if (gen_alloc(&g, t, sizefn(&s)) != 0)
					goto out;
				made++;
			} else if (gen_free(&g, t, &s) != 0) {
				goto out;
			}
		}
	}
	/* Closing: every thread frees what it has, in random order and turns. */
	for (;;) {
		unsigned left = 0, t;

		for (t = 0; t < nt; t++)
			left += g.nlive[t] != 0;
		if (left == 0)
			break;
		do
			t = (unsigned)(rnd(&s) % nt);
		while (g.nlive[t] == 0);
		for (unsigned b = 0; b < burst && g.nlive[t] != 0; b++)
			if (gen_free(&g, t, &s) != 0)
				goto out;
	}
	numa_workload_finish(w);
	rc = 0;
out:
	for (unsigned t = 0; t < NUMA_MAXTHREADS; t++)
		free(g.live[t]);
	if (rc != 0) {
		fprintf(stderr, "kvmem-numa: workload %s: out of memory\n", name);
		numa_workload_free(w);
	}
	return rc;
}

/* ---- Trace CSV ---------------------------------------------------------------------- */

static int
terr(const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kvmem-numa: %s:%u: ", path, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* A decimal field of at most max; empty allowed if *present is wanted. */
static int
field_u64(const char *s, uint64_t max, uint64_t *out, bool *present)
{
	char *e;

	if (*s == '\0') {
		*present = false;
		return 0;
	}
	*present = true;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoull(s, &e, 10);
	return (errno != 0 || *e != '\0' || *out > max) ? -1 : 0;
}

int
numa_workload_trace(struct numa_workload *w, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *fld[5];
	size_t cap = 0;
	unsigned ln = 0;
	struct gen g;
	uint32_t *bytes = NULL, *freed = NULL;	/* per event: size in bytes; freed flag */
	uint32_t bcap = 0;
	int rc = -1;
	const char *base;

	if (f == NULL) {
		fprintf(stderr, "kvmem-numa: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(w, 0, sizeof(*w));
	memset(&g, 0, sizeof(g));
	g.w = w;
	base = strrchr(path, '/');
	snprintf(w->name, sizeof(w->name), "%s", base ? base + 1 : path);
	while (getline(&line, &cap, f) != -1) {
		uint64_t size = 0, ref = 0, thread = 0;
		bool has_size, has_ref, has_thread;
		int nf = 0;
		char *p = line;

		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strcmp(line, "op,size,ref,thread") == 0)
			continue;
		while (nf < 5) {
			fld[nf++] = p;
			p = strchr(p, ',');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		if (nf != 4)
			{ terr(path, ln, "expected 4 fields op,size,ref,thread"); goto out; }
		if (field_u64(fld[3], NUMA_MAXTHREADS - 1, &thread, &has_thread) != 0 || !has_thread)
			{ terr(path, ln, "bad thread '%s' (0-%d)", fld[3], NUMA_MAXTHREADS - 1); goto out; }
		if (field_u64(fld[1], UINT32_MAX, &size, &has_size) != 0 || (has_size && size == 0))
			{ terr(path, ln, "bad size '%s' (1-%u bytes)", fld[1], UINT32_MAX); goto out; }
		if (field_u64(fld[2], UINT32_MAX - 1, &ref, &has_ref) != 0)
			{ terr(path, ln, "bad ref '%s'", fld[2]); goto out; }
		if (w->n == bcap) {
			uint32_t nc = bcap ? bcap * 2 : 4096;
			uint32_t *nb = realloc(bytes, (size_t)nc * sizeof(*nb));

			if (nb == NULL)
				goto nomem;
			bytes = nb;
			nb = realloc(freed, (size_t)nc * sizeof(*nb));
			if (nb == NULL)
				goto nomem;
			freed = nb;
			bcap = nc;
		}
		if (strcmp(fld[0], "a") == 0) {
			if (!has_size || has_ref)
				{ terr(path, ln, "an allocation needs a size and no ref"); goto out; }
			bytes[w->n] = (uint32_t)size;
			freed[w->n] = 0;
			if (push(&g, (uint32_t)((size + NUMA_PAGE - 1) / NUMA_PAGE), NUMA_NONE,
			    (unsigned)thread) != 0)
				goto nomem;
		} else if (strcmp(fld[0], "f") == 0) {
			if (!has_ref || ref >= w->n || w->ev[ref].ref != NUMA_NONE)
				{ terr(path, ln, "a free needs the index of an earlier allocation"); goto out; }
			if (freed[ref])
				{ terr(path, ln, "allocation %" PRIu64 " freed twice", ref); goto out; }
			if (has_size && size != bytes[ref])
				{ terr(path, ln, "size %" PRIu64 " differs from allocation %" PRIu64
				    "'s %u", size, ref, bytes[ref]); goto out; }
			freed[ref] = 1;
			bytes[w->n] = 0;
			freed[w->n] = 0;
			if (push(&g, w->ev[ref].npages, (uint32_t)ref, (unsigned)thread) != 0)
				goto nomem;
		} else {
			terr(path, ln, "unknown op '%s' (a or f)", fld[0]);
			goto out;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "kvmem-numa: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (w->n == 0)
		{ terr(path, ln, "no events"); goto out; }
	for (uint32_t i = 0; i < w->n; i++)
		if (w->ev[i].ref == NUMA_NONE && !freed[i])
			{ terr(path, ln, "allocation %u is never freed (traces are closed)", i); goto out; }
	numa_workload_finish(w);
	snprintf(w->desc, sizeof(w->desc), "trace, %u threads, %" PRIu64 " allocations",
	    w->nthreads, w->nallocs);
	rc = 0;
	goto out;
nomem:
	fprintf(stderr, "kvmem-numa: %s: out of memory\n", path);
out:
	free(bytes);
	free(freed);
	free(line);
	fclose(f);
	if (rc != 0)
		numa_workload_free(w);
	return rc;
}

int
numa_workload_write(const struct numa_workload *w, FILE *f)
{
	fprintf(f, "# kvmem allocation trace, format 1\n# kind %s: %s\n# quantum 4096\n"
	    "# threads %u\nop,size,ref,thread\n", w->name, w->desc, w->nthreads);
	for (uint32_t i = 0; i < w->n; i++) {
		const struct numa_ev *e = &w->ev[i];

		if (e->ref == NUMA_NONE)
			fprintf(f, "a,%" PRIu64 ",,%u\n", (uint64_t)e->npages * NUMA_PAGE, e->thread);
		else
			fprintf(f, "f,%" PRIu64 ",%u,%u\n", (uint64_t)e->npages * NUMA_PAGE, e->ref,
			    e->thread);
	}
	return ferror(f) ? -1 : 0;
}

void
numa_workload_free(struct numa_workload *w)
{
	free(w->ev);
	w->ev = NULL;
	w->n = 0;
}
