/*
 * ktrace.c -- the tools' trace CSV reader (format: bench/README.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ktrace.h"

/* Grow the per-event arrays to hold at least n + 1 events.  0 or -1. */
static int
grow(struct kt_trace *t, uint32_t *cap)
{
	uint32_t nc;
	void *p;

	if (t->n < *cap)
		return 0;
	if (*cap >= UINT32_MAX / 2)
		return -1;
	nc = *cap ? *cap * 2 : 4096;
	if ((p = realloc(t->size, (size_t)nc * sizeof(*t->size))) == NULL)
		return -1;
	t->size = p;
	if ((p = realloc(t->ref, (size_t)nc * sizeof(*t->ref))) == NULL)
		return -1;
	t->ref = p;
	if ((p = realloc(t->freed_at, (size_t)nc * sizeof(*t->freed_at))) == NULL)
		return -1;
	t->freed_at = p;
	if ((p = realloc(t->thread, nc)) == NULL)
		return -1;
	t->thread = p;
	*cap = nc;
	return 0;
}

/*
 * One comma-separated field at *sp: an unsigned decimal (into *v, returns
 * 1), empty or "-1" (returns 0), anything else (returns -1).  Advances *sp
 * past the field and its comma.
 */
static int
field(const char **sp, unsigned long long *v)
{
	const char *s = *sp;
	int r = 0;

	while (*s == ' ')
		s++;
	if (*s >= '0' && *s <= '9') {
		*v = 0;
		while (*s >= '0' && *s <= '9') {
			if (*v < (1ULL << 40))
				*v = *v * 10 + (unsigned long long)(*s - '0');
			s++;
		}
		r = 1;
	} else if (s[0] == '-' && s[1] == '1') {
		s += 2;
	}
	while (*s == ' ' || *s == '\r' || *s == '\n')
		s++;
	if (*s == ',')
		s++;
	else if (*s != '\0')
		r = -1;
	*sp = s;
	return r;
}

/* Parse one event line into t (room reserved).  NULL, or what is wrong. */
static const char *
parse_event(struct kt_trace *t, const char *line)
{
	unsigned long long size = 0, ref = 0, thr = 0;
	const char *s = line + 1;
	uint32_t i = t->n;
	int hs, hr, ht;

	if (line[0] != 'a' && line[0] != 'f')
		return "unknown operation (want a or f)";
	if (*s == ',')
		s++;
	else
		return "expected a comma after the operation";
	if ((hs = field(&s, &size)) < 0 || (hr = field(&s, &ref)) < 0 ||
	    (ht = field(&s, &thr)) < 0)
		return "bad field (want op,size,ref,thread)";
	if (*s != '\0')
		return "too many fields";
	if (ht == 0)
		thr = 0;
	if (thr >= KT_MAXT)
		return "thread number too large (0-15)";
	if (line[0] == 'a') {
		if (hs != 1 || size == 0 || size > UINT32_MAX)
			return "allocation without a valid size";
		if (hr == 1)
			return "allocation with a ref";
		t->size[i] = (uint32_t)size;
		t->ref[i] = KT_NONE;
		t->nallocs++;
	} else {
		if (hr != 1 || ref >= i)
			return "free must refer to an earlier event";
		if (t->ref[ref] != KT_NONE)
			return "free refers to a free";
		if (t->freed_at[ref] != KT_NONE)
			return "allocation freed twice";
		if (hs == 1 && size != t->size[ref])
			return "free size differs from the allocation's";
		t->size[i] = t->size[ref];
		t->ref[i] = (uint32_t)ref;
		t->freed_at[ref] = i;
		t->nfrees++;
	}
	t->freed_at[i] = KT_NONE;
	t->thread[i] = (uint8_t)thr;
	if (thr + 1 > t->nthreads)
		t->nthreads = (uint32_t)thr + 1;
	t->n++;
	return NULL;
}

/* Note what a comment line tells: the quantum, the kind, the closing mark. */
static void
parse_comment(struct kt_trace *t, const char *line)
{
	unsigned long long v;
	size_t len;

	if (sscanf(line, "# quantum %llu", &v) == 1 && v != 0 && (v & (v - 1)) == 0) {
		t->quantum = v;
		t->has_quantum = 1;
	} else if (strncmp(line, "# kind ", 7) == 0 && t->kind[0] == '\0') {
		snprintf(t->kind, sizeof(t->kind), "%s", line + 7);
		len = strlen(t->kind);
		while (len > 0 && (t->kind[len - 1] == '\n' || t->kind[len - 1] == '\r'))
			t->kind[--len] = '\0';
	} else if (strncmp(line, "# closed", 8) == 0) {
		t->closed_marker = 1;
	}
}

int
kt_load(struct kt_trace *t, const char *path, int flags, char *err, size_t errlen)
{
	FILE *f;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	uint32_t cap = 0, lineno = 0;
	uint64_t off = 0;
	const char *why = NULL;

	memset(t, 0, sizeof(*t));
	t->quantum = 16;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &lcap, f)) > 0) {
		lineno++;
		if (line[len - 1] != '\n') {
			if (flags & KT_ALLOW_TAIL)
				break;
		} else {
			line[--len] = '\0';
			if (len > 0 && line[len - 1] == '\r')
				line[--len] = '\0';
		}
		if (line[0] == '#') {
			parse_comment(t, line);
		} else if (line[0] != '\0' && strncmp(line, "op,", 3) != 0) {
			if (grow(t, &cap) != 0)
				why = "out of memory";
			else
				why = parse_event(t, line);
			if (why != NULL)
				break;
		}
		off = (uint64_t)ftello(f);
	}
	if (why == NULL && ferror(f))
		why = strerror(errno);
	free(line);
	fclose(f);
	t->good_bytes = off;
	t->closed = t->n > 0 && t->nallocs == t->nfrees;
	if (why == NULL && t->n == 0 && !(flags & KT_ALLOW_OPEN))
		why = "no events";
	if (why == NULL && !t->closed && !(flags & KT_ALLOW_OPEN))
		why = "not closed: some allocations are never freed";
	if (why != NULL) {
		snprintf(err, errlen, "%s, line %u: %s", path, lineno, why);
		kt_free(t);
		return -1;
	}
	if (t->nthreads == 0)
		t->nthreads = 1;
	return 0;
}

void
kt_free(struct kt_trace *t)
{
	free(t->size);
	free(t->ref);
	free(t->thread);
	free(t->freed_at);
	memset(t, 0, sizeof(*t));
}
