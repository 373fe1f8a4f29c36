/*
 * trace.c -- loading allocation traces and replaying them (see trace.h and
 * the format in bench/README.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#ifndef KB_TRACE_DIR
#define KB_TRACE_DIR	"bench-traces"
#endif

const char *const kb_trace_names[] = {
	"small", "pages", "mixed2t", "prodcons2t", NULL
};

static const char *trace_dir;

const char *
kb_trace_dir(void)
{
	const char *env = getenv("KB_TRACE_DIR");

	if (trace_dir != NULL)
		return trace_dir;
	return env != NULL && *env != '\0' ? env : KB_TRACE_DIR;
}

void
kb_set_trace_dir(const char *dir)
{
	trace_dir = dir;
}

/* ---- Loading -------------------------------------------------------------- */

struct growbuf {
	struct kb_ev	*ev;
	uint8_t		*thread;
	uint32_t	n, cap;
};

static int
grow(struct growbuf *g)
{
	uint32_t cap = g->cap ? g->cap * 2 : 65536;
	struct kb_ev *ev = realloc(g->ev, cap * sizeof(*ev));
	uint8_t *th;

	if (ev == NULL)
		return -1;
	g->ev = ev;
	if ((th = realloc(g->thread, cap)) == NULL)
		return -1;
	g->thread = th;
	g->cap = cap;
	return 0;
}

/* An unsigned decimal field ending at ',' or end of line; -1 if empty. */
static long long
field(const char **sp)
{
	const char *s = *sp;
	long long v = -1;

	while (*s == ' ')
		s++;
	if (*s >= '0' && *s <= '9') {
		v = 0;
		while (*s >= '0' && *s <= '9' && v < (1LL << 40))
			v = v * 10 + (*s++ - '0');
	} else if (*s == '-') {		/* "-1" or "-": no value */
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	while (*s == ' ' || *s == '\r' || *s == '\n')
		s++;
	if (*s == ',')
		s++;
	*sp = s;
	return v;
}

/*
 * Parse one event line into g.  Returns NULL, or a description of what is
 * wrong with it.
 */
static const char *
parse_event(struct growbuf *g, const char *line, uint32_t *freed_count,
    uint32_t **freed_at, uint32_t *fcap)
{
	char op = line[0];
	const char *s = line + 1;
	long long size, ref, thr;
	uint32_t i = g->n;

	if (op != 'a' && op != 'f')
		return "unknown operation (want a or f)";
	if (*s == ',')
		s++;
	size = field(&s);
	ref = field(&s);
	thr = field(&s);
	if (thr < 0)
		thr = 0;
	if (thr >= KB_TRACE_MAXT)
		return "thread number too large";
	if (g->n == g->cap && grow(g) != 0)
		return "out of memory";
	if (i >= *fcap) {
		uint32_t cap = *fcap ? *fcap * 2 : 65536;
		uint32_t *f = realloc(*freed_at, cap * sizeof(*f));

		if (f == NULL)
			return "out of memory";
		*freed_at = f;
		*fcap = cap;
	}
	if (op == 'a') {
		if (size <= 0 || size > (long long)UINT32_MAX)
			return "allocation without a valid size";
		g->ev[i].size = (uint32_t)size;
		g->ev[i].ref = KB_TRACE_NONE;
		(*freed_at)[i] = KB_TRACE_NONE;
	} else {
		if (ref < 0 || ref >= i)
			return "free must refer to an earlier event";
		if (g->ev[ref].ref != KB_TRACE_NONE)
			return "free refers to a free";
		if ((*freed_at)[ref] != KB_TRACE_NONE)
			return "allocation freed twice";
		if (size >= 0 && size != g->ev[ref].size)
			return "free size differs from the allocation's";
		g->ev[i].size = g->ev[ref].size;
		g->ev[i].ref = (uint32_t)ref;
		(*freed_at)[ref] = i;
		(*freed_at)[i] = KB_TRACE_NONE;
		(*freed_count)++;
	}
	g->thread[i] = (uint8_t)thr;
	g->n++;
	return NULL;
}

int
kb_trace_load(struct kb_trace *t, const char *path)
{
	FILE *f = fopen(path, "r");
	struct growbuf g = { 0 };
	uint32_t *freed_at = NULL, fcap = 0, nfreed = 0, lineno = 0;
	char *line = NULL;
	size_t lcap = 0;
	const char *why = NULL;

	memset(t, 0, sizeof(*t));
	if (f == NULL) {
		fprintf(stderr, "kvmem-bench: cannot open trace %s: %s "
		    "(make the traces with: kvmem-tracegen --all DIR)\n",
		    path, strerror(errno));
		return -1;
	}
	t->quantum = 16;
	while (getline(&line, &lcap, f) > 0) {
		lineno++;
		if (line[0] == '#') {
			unsigned long long v;

			if (sscanf(line, "# quantum %llu", &v) == 1 && v != 0 &&
			    (v & (v - 1)) == 0)
				t->quantum = v;
			continue;
		}
		if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0' ||
		    strncmp(line, "op,", 3) == 0)
			continue;
		if ((why = parse_event(&g, line, &nfreed, &freed_at, &fcap)) != NULL)
			break;
	}
	free(line);
	fclose(f);
	if (why == NULL && g.n == 0)
		why = "no events";
	if (why == NULL && nfreed * 2 != g.n)
		why = "not closed: some allocations are never freed";
	if (why != NULL) {
		fprintf(stderr, "kvmem-bench: trace %s, line %u: %s\n", path, lineno, why);
		free(g.ev);
		free(g.thread);
		free(freed_at);
		return -1;
	}
	t->n = g.n;
	t->ev = g.ev;
	t->thread = g.thread;
	t->freed_at = freed_at;
	t->nallocs = nfreed;
	t->nthreads = 1;
	uint64_t live = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->thread[i] + 1u > t->nthreads)
			t->nthreads = t->thread[i] + 1u;
		if (t->ev[i].ref == KB_TRACE_NONE) {
			live += t->ev[i].size;
			if (live > t->peak_live_bytes)
				t->peak_live_bytes = live;
		} else {
			live -= t->ev[i].size;
		}
	}
	const char *base = strrchr(path, '/');
	snprintf(t->name, sizeof(t->name), "%s", base != NULL ? base + 1 : path);
	return 0;
}

void
kb_trace_free(struct kb_trace *t)
{
	free(t->ev);
	free(t->thread);
	free(t->freed_at);
	memset(t, 0, sizeof(*t));
}

/* ---- Replay ----------------------------------------------------------------- */

struct helper_arg {
	struct kb_replay *r;
	unsigned	tid;
};

/* A helper thread: run its share of every window the timed thread opens. */
static void *
helper_main(void *arg)
{
	struct helper_arg *h = arg;
	struct kb_replay *r = h->r;
	unsigned tid = h->tid;
	uint32_t seen = 0;

	free(h);
	for (;;) {
		uint32_t g;

		while ((g = atomic_load_explicit(&r->gen, memory_order_acquire)) == seen)
			kb_wait_change(&r->gen, seen);
		if (atomic_load_explicit(&r->stop, memory_order_acquire))
			return NULL;
		seen = g;
		r->window(r, tid, r->lo, r->hi, r->wpass);
		atomic_fetch_add_explicit(&r->ndone, 1, memory_order_release);
		kb_wake_all(&r->ndone);
	}
}

struct kb_replay *
kb_replay_open(const char *name, kb_window_fn *window, void *bst)
{
	char path[4096];
	struct kb_replay *r;
	size_t sz = (sizeof(*r) + 63) & ~(size_t)63;

	snprintf(path, sizeof(path), "%s/%s.csv", kb_trace_dir(), name);
	if ((r = aligned_alloc(64, sz)) == NULL)
		kb_fail("out of memory (replay)");
	memset(r, 0, sz);
	if (kb_trace_load(&r->t, path) != 0) {
		free(r);
		return NULL;
	}
	snprintf(r->t.name, sizeof(r->t.name), "%s", name);
	r->addr = kb_xcalloc(r->t.n, sizeof(*r->addr));
	r->done = kb_xcalloc(r->t.n, sizeof(*r->done));
	r->pass = 1;
	r->bst = bst;
	r->window = window;
	atomic_init(&r->gen, 0);
	atomic_init(&r->ndone, 0);
	atomic_init(&r->stop, 0);
	for (unsigned k = 1; k < r->t.nthreads; k++) {
		struct helper_arg *h = kb_xcalloc(1, sizeof(*h));

		h->r = r;
		h->tid = k;
		if (pthread_create(&r->helper[k - 1], NULL, helper_main, h) != 0)
			kb_fail("cannot start a replay thread");
		r->nhelpers++;
	}
	return r;
}

void
kb_replay_run(struct kb_replay *r, uint64_t n)
{
	while (n > 0) {
		uint32_t chunk = r->t.n - r->cursor;

		if (chunk > n)
			chunk = (uint32_t)n;
		if (r->nhelpers == 0) {
			r->window(r, 0, r->cursor, r->cursor + chunk, r->pass);
		} else {
			uint32_t d;

			r->lo = r->cursor;
			r->hi = r->cursor + chunk;
			r->wpass = r->pass;
			atomic_store_explicit(&r->ndone, 0, memory_order_relaxed);
			atomic_fetch_add_explicit(&r->gen, 1, memory_order_release);
			kb_wake_all(&r->gen);
			r->window(r, 0, r->lo, r->hi, r->pass);
			while ((d = atomic_load_explicit(&r->ndone, memory_order_acquire)) !=
			    r->nhelpers)
				kb_wait_change(&r->ndone, d);
		}
		r->cursor += chunk;
		n -= chunk;
		if (r->cursor == r->t.n) {
			r->cursor = 0;
			r->pass++;
		}
	}
}

void
kb_replay_close(struct kb_replay *r,
    void (*free_live)(void *bst, uintptr_t addr, uint32_t size))
{
	if (r == NULL)
		return;
	atomic_store_explicit(&r->stop, 1, memory_order_release);
	atomic_fetch_add_explicit(&r->gen, 1, memory_order_release);
	kb_wake_all(&r->gen);
	for (unsigned k = 0; k < r->nhelpers; k++)
		pthread_join(r->helper[k], NULL);
	for (uint32_t i = 0; i < r->cursor; i++)
		if (r->t.ev[i].ref == KB_TRACE_NONE && r->t.freed_at[i] >= r->cursor)
			free_live(r->bst, r->addr[i], r->t.ev[i].size);
	free(r->addr);
	free((void *)r->done);
	kb_trace_free(&r->t);
	free(r);
}
