/*
 * kvmem-picture -- draw an address space as a PNG: a raster in which each
 * row covers a fixed span of addresses, busy and free segments coloured
 * (by NUMA domain when known), addresses outside every span grey.  See
 * kvmem-picture(1).
 *
 *   kvmem-picture [-o out.png] [options] FILE.segments
 *   kvmem-picture [-o out.png] [options] --arena NAME FILE.json
 *   kvmem-picture [-o out.png] [options] --trace FILE [--at EVENT]
 *
 * The raster (class numbers, one row per line) and a gnuplot script are
 * written and gnuplot draws them; --data/--script keep them, --no-png
 * stops before gnuplot.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kvmem/vmem.h>

#include "../kvmem-trace/kreplay.h"
#include "../kvmem-trace/ktrace.h"

#define PROG	"kvmem-picture"

#define MAXDOM		64
/* Raster classes; domain d: free 4 + 2d, busy 5 + 2d. */
#define C_NONE		0	/* not in any span */
#define C_GAP		1	/* a long stretch outside every span, elided */
#define C_FREE		2
#define C_BUSY		3
#define C_DOM(d, busy)	(4 + 2 * (d) + (busy))
#define NCLASS		(4 + 2 * MAXDOM)

struct seg {
	uint64_t	start, size;
	int		busy;
	int		domain;		/* -1: unknown */
};

struct segs {
	struct seg	*v;
	size_t		n, cap;
	char		name[128];
};

static const char usage_text[] =
    "usage: kvmem-picture [-o out.png] [options] FILE.segments\n"
    "       kvmem-picture [-o out.png] [options] [--arena NAME] FILE.json\n"
    "       kvmem-picture [-o out.png] [options] --trace FILE [--at EVENT]\n"
    "Draw an address space: one raster row per fixed span of addresses,\n"
    "busy and free segments coloured (by NUMA domain when known).\n"
    "  -o, --output FILE    the PNG to write (default kvmem-picture.png)\n"
    "  -a, --arena NAME     the arena of a stats snapshot (JSON) to draw\n"
    "  -T, --trace FILE     replay a trace into a fresh arena and draw it\n"
    "  -e, --at EVENT       with --trace: after the first EVENT events\n"
    "                       (default: when the most bytes are live)\n"
    "  -f, --fit F          with --trace: instant (default), best or next\n"
    "  -q, --quantum Q      with --trace: arena quantum (default: the trace's)\n"
    "  -i, --import-quantum N  with --trace: import unit (default max(64 KiB, 16 quanta))\n"
    "  -W, --width PIXELS   image width (default 1000)\n"
    "  -H, --height PIXELS  image height (default 750)\n"
    "  -c, --columns N      raster cells per row (default 256)\n"
    "  -r, --rows N         at most N raster rows (default 128)\n"
    "  -n, --no-fold        do not elide long stretches outside every span\n"
    "  -t, --title TEXT     the title (default: the input's name)\n"
    "  -d, --data FILE      keep the raster data in FILE ('-': stdout)\n"
    "  -s, --script FILE    keep the gnuplot script in FILE ('-': stdout)\n"
    "  -N, --no-png         write data/script only, do not run gnuplot\n"
    "  -h, --help           this text\n";

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return 2;
}

static int
parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	x = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = x;
	return 0;
}

static int
add_seg(struct segs *s, uint64_t start, uint64_t size, int busy, int domain)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 1024;
		struct seg *v = realloc(s->v, nc * sizeof(*v));

		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = nc;
	}
	s->v[s->n++] = (struct seg){ start, size, busy, domain };
	return 0;
}

/* Check order and overlap.  NULL, or what is wrong (index in *at). */
static const char *
check_segs(const struct segs *s, size_t *at)
{
	for (size_t i = 0; i < s->n; i++) {
		*at = i;
		if (s->v[i].size == 0)
			return "a segment of size 0";
		if (s->v[i].start + s->v[i].size - 1 < s->v[i].start)
			return "a segment wraps past the top of the address space";
		if (i > 0 && s->v[i].start < s->v[i - 1].start + s->v[i - 1].size)
			return "segments out of order or overlapping";
	}
	return NULL;
}

/* ---- kvmem-segments files ------------------------------------------------ */

/* Read a kvmem-segments file.  0, or 1 after printing why (naming the file). */
static int
read_segments(const char *path, FILE *f, struct segs *s)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = 0;

	snprintf(s->name, sizeof(s->name), "%s", path);
	while (getline(&line, &cap, f) > 0) {
		unsigned long long a, z;
		char state[16], extra;
		int dom = -1, n;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (lineno == 1 && strncmp(line, "# kvmem-segments 1", 18) != 0) {
			fprintf(stderr, PROG ": %s: not a kvmem-segments file (first line "
			    "must be '# kvmem-segments 1')\n", path);
			rc = 1;
			break;
		}
		if (strncmp(line, "# name ", 7) == 0) {
			snprintf(s->name, sizeof(s->name), "%s", line + 7);
			continue;
		}
		if (line[0] == '#' || line[strspn(line, " \t")] == '\0')
			continue;
		n = sscanf(line, "%llx %llx %15s %d %c", &a, &z, state, &dom, &extra);
		if (n < 3 || n > 4 || strncmp(line, "0x", 2) != 0 ||
		    (strcmp(state, "busy") != 0 && strcmp(state, "free") != 0) ||
		    (n == 4 && (dom < 0 || dom >= MAXDOM))) {
			fprintf(stderr, PROG ": %s, line %u: want '0xSTART 0xSIZE busy|free "
			    "[DOMAIN]' (domain 0-%d)\n", path, lineno, MAXDOM - 1);
			rc = 1;
			break;
		}
		if (add_seg(s, a, z, strcmp(state, "busy") == 0, n == 4 ? dom : -1) != 0) {
			fprintf(stderr, PROG ": out of memory\n");
			rc = 1;
			break;
		}
	}
	free(line);
	return rc;
}

/* ---- Stats snapshot JSON (the arenas' "segments" arrays) --------------------- */

struct jp {
	const char	*p, *end;
	const char	*err;
	const char	*want;		/* --arena, or NULL */
	struct segs	*out;
	int		found;		/* arenas named want with segments */
	char		names[1024];	/* arenas with segments, for messages */
	int		depth;
};

static void
jws(struct jp *j)
{
	while (j->p < j->end && isspace((unsigned char)*j->p))
		j->p++;
}

/* A JSON string into buf (escapes kept simple: \x -> x).  0 or -1. */
static int
jstr(struct jp *j, char *buf, size_t len)
{
	size_t n = 0;

	jws(j);
	if (j->p >= j->end || *j->p != '"') {
		j->err = "expected a string";
		return -1;
	}
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		char c = *j->p++;

		if (c == '\\' && j->p < j->end)
			c = *j->p++;
		if (n + 1 < len)
			buf[n++] = c;
	}
	if (j->p >= j->end) {
		j->err = "unterminated string";
		return -1;
	}
	j->p++;
	if (len > 0)
		buf[n] = '\0';
	return 0;
}

static int jvalue(struct jp *j, struct segs *segs_here);

/* A number or a "0x..." string as an unsigned value.  0 or -1. */
static int
jaddr(struct jp *j, uint64_t *v)
{
	char buf[64], *end;

	jws(j);
	if (j->p < j->end && *j->p == '"') {
		if (jstr(j, buf, sizeof(buf)) != 0)
			return -1;
	} else {
		size_t n = 0;

		while (j->p < j->end && n + 1 < sizeof(buf) &&
		    (isalnum((unsigned char)*j->p) || *j->p == '.' || *j->p == '-' ||
		    *j->p == '+'))
			buf[n++] = *j->p++;
		buf[n] = '\0';
	}
	errno = 0;
	*v = strtoull(buf, &end, 0);
	if (buf[0] == '\0' || buf[0] == '-' || *end != '\0' || errno != 0) {
		j->err = "expected an address or size (\"0x...\" or a number)";
		return -1;
	}
	return 0;
}

/* A "segments" array: [[start, size, "busy"|"free" (, domain)], ...]. */
static int
jsegments(struct jp *j, struct segs *s)
{
	jws(j);
	j->p++;		/* '[' */
	jws(j);
	if (j->p < j->end && *j->p == ']') {
		j->p++;
		return 0;
	}
	for (;;) {
		uint64_t a, z, dom = UINT64_MAX;
		char state[16];

		jws(j);
		if (j->p >= j->end || *j->p != '[') {
			j->err = "a segment must be an array [start, size, state]";
			return -1;
		}
		j->p++;
		if (jaddr(j, &a) != 0)
			return -1;
		jws(j);
		if (j->p >= j->end || *j->p++ != ',') {
			j->err = "expected ',' in a segment";
			return -1;
		}
		if (jaddr(j, &z) != 0)
			return -1;
		jws(j);
		if (j->p >= j->end || *j->p++ != ',') {
			j->err = "expected ',' in a segment";
			return -1;
		}
		if (jstr(j, state, sizeof(state)) != 0)
			return -1;
		if (strcmp(state, "busy") != 0 && strcmp(state, "free") != 0) {
			j->err = "a segment's state must be \"busy\" or \"free\"";
			return -1;
		}
		jws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			if (jaddr(j, &dom) != 0)
				return -1;
			if (dom >= MAXDOM) {
				j->err = "domain out of range";
				return -1;
			}
			jws(j);
		}
		if (j->p >= j->end || *j->p++ != ']') {
			j->err = "expected ']' after a segment";
			return -1;
		}
		if (add_seg(s, a, z, strcmp(state, "busy") == 0,
		    dom == UINT64_MAX ? -1 : (int)dom) != 0) {
			j->err = "out of memory";
			return -1;
		}
		jws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return 0;
		}
		j->err = "expected ',' or ']' in segments";
		return -1;
	}
}

/*
 * An object: remember its "name" and parse its "segments" array into a
 * scratch list; if it is the arena wanted, keep the list.
 */
static int
jobject(struct jp *j)
{
	char key[64], name[128] = "";
	struct segs mine = { 0 };
	int have_segs = 0, have_name = 0;

	j->p++;		/* '{' */
	jws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		if (jstr(j, key, sizeof(key)) != 0)
			goto fail;
		jws(j);
		if (j->p >= j->end || *j->p++ != ':') {
			j->err = "expected ':'";
			goto fail;
		}
		jws(j);
		if (strcmp(key, "name") == 0 && j->p < j->end && *j->p == '"') {
			if (jstr(j, name, sizeof(name)) != 0)
				goto fail;
			have_name = 1;
		} else if (strcmp(key, "segments") == 0 && j->p < j->end && *j->p == '[') {
			if (jsegments(j, &mine) != 0)
				goto fail;
			have_segs = 1;
		} else if (jvalue(j, NULL) != 0) {
			goto fail;
		}
		jws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			break;
		}
		j->err = "expected ',' or '}'";
		goto fail;
	}
	if (have_segs && have_name) {
		size_t l = strlen(j->names);

		if (l + strlen(name) + 4 < sizeof(j->names))
			snprintf(j->names + l, sizeof(j->names) - l, "%s'%s'",
			    l ? ", " : "", name);
		if (j->want == NULL || strcmp(j->want, name) == 0) {
			j->found++;
			if (j->found == 1) {
				free(j->out->v);
				*j->out = mine;
				snprintf(j->out->name, sizeof(j->out->name), "%s", name);
				return 0;
			}
		}
	}
	free(mine.v);
	return 0;
fail:
	free(mine.v);
	return -1;
}

static int
jvalue(struct jp *j, struct segs *unused)
{
	(void)unused;
	jws(j);
	if (j->p >= j->end) {
		j->err = "unexpected end of file";
		return -1;
	}
	if (++j->depth > 64) {
		j->err = "nested too deeply";
		return -1;
	}
	int rc = 0;
	char c = *j->p;

	if (c == '{') {
		rc = jobject(j);
	} else if (c == '[') {
		j->p++;
		jws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
		} else {
			for (;;) {
				if ((rc = jvalue(j, NULL)) != 0)
					break;
				jws(j);
				if (j->p < j->end && *j->p == ',') {
					j->p++;
					continue;
				}
				if (j->p < j->end && *j->p == ']') {
					j->p++;
					break;
				}
				j->err = "expected ',' or ']'";
				rc = -1;
				break;
			}
		}
	} else if (c == '"') {
		char skip[8];

		rc = jstr(j, skip, sizeof(skip));
	} else if (c == '-' || isalnum((unsigned char)c)) {
		while (j->p < j->end && (isalnum((unsigned char)*j->p) || *j->p == '-' ||
		    *j->p == '+' || *j->p == '.'))
			j->p++;
	} else {
		j->err = "unexpected character";
		rc = -1;
	}
	j->depth--;
	return rc;
}

/* Read a stats snapshot and take the segments of the arena wanted.  0 or 1. */
static int
read_json(const char *path, FILE *f, const char *want, struct segs *s)
{
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	struct jp j;

	for (;;) {
		if (len + 65536 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 1 << 20);

			if (nb == NULL) {
				free(buf);
				fprintf(stderr, PROG ": out of memory\n");
				return 1;
			}
			buf = nb;
		}
		if ((n = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	memset(&j, 0, sizeof(j));
	j.p = buf;
	j.end = buf + len;
	j.want = want;
	j.out = s;
	if (jvalue(&j, NULL) != 0) {
		fprintf(stderr, PROG ": %s, byte %ld: %s\n", path, (long)(j.p - buf), j.err);
		free(buf);
		return 1;
	}
	free(buf);
	if (j.found == 0) {
		if (want != NULL)
			fprintf(stderr, PROG ": %s: no arena '%s' with segments (arenas "
			    "with segments: %s)\n", path, want,
			    j.names[0] ? j.names : "none; take the snapshot with segments");
		else
			fprintf(stderr, PROG ": %s: no arena with segments (take the "
			    "snapshot with segments)\n", path);
		return 1;
	}
	if (j.found > 1 && want == NULL) {
		fprintf(stderr, PROG ": %s: several arenas have segments (%s): choose "
		    "one with --arena NAME\n", path, j.names);
		return 1;
	}
	return 0;
}

/* ---- A trace, replayed ---------------------------------------------------- */

static int
walk_seg(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	return add_seg(arg, addr, size, type == VMEM_ALLOC, -1) != 0 ? ENOMEM : 0;
}

/*
 * Replay the first `at` events of the trace (UINT64_MAX: up to the peak of
 * live bytes) into a fresh arena and take its segments.  0 or 1.
 */
static int
read_trace(const char *path, uint64_t at, const struct kr_cfg *cfg, struct segs *s,
    char *info, size_t infolen)
{
	struct kt_trace t;
	struct kr r;
	char err[512];
	uint64_t live = 0, peak = 0;

	if (kt_load(&t, path, KT_ALLOW_OPEN, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	if (at == UINT64_MAX) {
		at = 0;
		for (uint32_t i = 0; i < t.n; i++) {
			if (t.ref[i] == KT_NONE)
				live += t.size[i];
			else
				live -= t.size[i];
			if (live > peak) {
				peak = live;
				at = (uint64_t)i + 1;
			}
		}
	} else if (at > t.n) {
		fprintf(stderr, PROG ": %s: --at %" PRIu64 " but the trace has %" PRIu32
		    " events\n", path, at, t.n);
		kt_free(&t);
		return 1;
	}
	if (kr_open(&r, cfg, &t) != 0) {
		kt_free(&t);
		return 1;
	}
	kr_run(&r, (uint32_t)at);
	if (vmem_walk(r.vm, VMEM_ALLOC | VMEM_FREE, walk_seg, s) != 0) {
		fprintf(stderr, PROG ": out of memory\n");
		kr_close(&r);
		kt_free(&t);
		return 1;
	}
	const char *b = strrchr(path, '/');

	snprintf(s->name, sizeof(s->name), "%s", b ? b + 1 : path);
	snprintf(info, infolen, "after %" PRIu64 " of %" PRIu32 " events, quantum %"
	    PRIu64 ", %s fit%s", at, t.n, r.cfg.quantum,
	    cfg->fit == M_BESTFIT ? "best" : cfg->fit == M_NEXTFIT ? "next" : "instant",
	    r.fails ? ", some allocations failed" : "");
	kr_close(&r);
	kt_free(&t);
	return 0;
}

/* ---- Layout ---------------------------------------------------------------- */

/* One drawn row: a row of addresses, or an elided gap. */
struct row {
	uint64_t	addr;		/* first address (a gap: its start) */
	uint64_t	gap;		/* 0, or the bytes elided */
};

struct layout {
	uint64_t	rowspan, cell;	/* bytes per row, per cell */
	unsigned	cols;
	struct row	*rows;
	size_t		nrows;
};

/*
 * Rows for rowspan R: consecutive runs of segments become bands of whole
 * rows; a gap of more than two rows between bands becomes one gap row
 * (unless nofold).  Returns the row count; fills rows when non-NULL.
 */
static size_t
make_rows(const struct segs *s, uint64_t R, int nofold, struct row *rows)
{
	size_t n = 0;
	uint64_t band_lo = 0, band_hi = 0;	/* [lo, hi) in rows of R; hi 0: none */
	int have = 0;

	for (size_t i = 0; i <= s->n; i++) {
		uint64_t lo = 0, hi = 0;

		if (i < s->n) {
			lo = s->v[i].start / R;
			hi = (s->v[i].start + s->v[i].size - 1) / R + 1;
			if (have && (nofold || lo <= band_hi + 2)) {
				if (hi > band_hi)
					band_hi = hi;
				continue;
			}
		}
		if (have) {
			for (uint64_t r = band_lo; r < band_hi; r++, n++)
				if (rows != NULL)
					rows[n] = (struct row){ r * R, 0 };
			if (i < s->n) {
				if (rows != NULL)
					rows[n] = (struct row){ band_hi * R, (lo - band_hi) * R };
				n++;
			}
		}
		band_lo = lo;
		band_hi = hi;
		have = 1;
		if (n > (1u << 24))
			break;		/* far too many: the caller doubles R */
	}
	return n;
}

/* Choose the smallest power-of-two row span giving at most maxrows rows. */
static int
layout(const struct segs *s, unsigned cols, unsigned maxrows, int nofold, struct layout *L)
{
	uint64_t R = 1;

	while (R < cols)
		R <<= 1;
	for (;;) {
		size_t n = make_rows(s, R, nofold, NULL);

		if (n <= maxrows || R >= ((uint64_t)1 << 63))
			break;
		R <<= 1;
	}
	L->rowspan = R;
	L->cols = cols;
	L->cell = R / cols;
	L->nrows = make_rows(s, R, nofold, NULL);
	if ((L->rows = calloc(L->nrows ? L->nrows : 1, sizeof(*L->rows))) == NULL)
		return -1;
	make_rows(s, R, nofold, L->rows);
	return 0;
}

/*
 * The class of every cell: the state holding the most bytes of the cell
 * (ties go to the higher class: busy over free over outside).
 */
static int
rasterize(const struct segs *s, const struct layout *L, unsigned char *out)
{
	size_t k = 0;		/* first segment that may reach the current cell */
	uint64_t bytes[NCLASS];

	for (size_t r = 0; r < L->nrows; r++) {
		for (unsigned c = 0; c < L->cols; c++) {
			unsigned char *o = &out[r * L->cols + c];
			uint64_t lo = L->rows[r].addr + (uint64_t)c * L->cell;
			uint64_t hi = lo + L->cell;	/* may wrap to 0 at the top */
			uint64_t covered = 0;
			int best = C_NONE;

			if (L->rows[r].gap != 0) {
				*o = C_GAP;
				continue;
			}
			memset(bytes, 0, sizeof(bytes));
			while (k < s->n && s->v[k].start + s->v[k].size - 1 < lo)
				k++;
			for (size_t i = k; i < s->n; i++) {
				const struct seg *g = &s->v[i];
				uint64_t a = g->start > lo ? g->start : lo;
				uint64_t zlast = g->start + g->size - 1;
				uint64_t last = zlast < hi - 1 ? zlast : hi - 1;
				int cls;

				if (g->start > hi - 1)
					break;
				if (last < a)
					continue;
				cls = g->domain >= 0 ? C_DOM(g->domain, g->busy) :
				    g->busy ? C_BUSY : C_FREE;
				bytes[cls] += last - a + 1;
				covered += last - a + 1;
			}
			bytes[C_NONE] = L->cell - covered;
			for (int x = 1; x < NCLASS; x++)
				if (bytes[x] != 0 && bytes[x] >= bytes[best])
					best = x;
			*o = (unsigned char)best;
		}
	}
	return 0;
}

/* ---- Output ----------------------------------------------------------------- */

/* A byte count in a short human unit, e.g. "1.5 MiB". */
static void
human(uint64_t v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double x = (double)v;
	int u = 0;

	while (x >= 1024 && u < 6) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", v);
	else
		snprintf(buf, len, "%.*f %s", x < 10 ? 2 : x < 100 ? 1 : 0, x, unit[u]);
}

/* The colours of the classes (domain colours cycle through ten hues). */
static void
class_colour(int cls, char *buf, size_t len)
{
	static const char *const busy[10] = { "#1f77b4", "#d62728", "#2ca02c",
	    "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f" };
	static const char *const freec[10] = { "#aec7e8", "#ff9896", "#98df8a",
	    "#ffbb78", "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5", "#dbdb8d", "#c7c7c7" };

	switch (cls) {
	case C_NONE: snprintf(buf, len, "#e0e0e0"); return;
	case C_GAP:  snprintf(buf, len, "#ffffff"); return;
	case C_FREE: snprintf(buf, len, "#a6dba0"); return;
	case C_BUSY: snprintf(buf, len, "#762a83"); return;
	default: break;
	}
	int d = (cls - 4) / 2, b = (cls - 4) % 2;

	snprintf(buf, len, "%s", b ? busy[d % 10] : freec[d % 10]);
}

static void
class_name(int cls, char *buf, size_t len)
{
	switch (cls) {
	case C_NONE: snprintf(buf, len, "not in any span"); return;
	case C_GAP:  snprintf(buf, len, "elided gap"); return;
	case C_FREE: snprintf(buf, len, "free"); return;
	case C_BUSY: snprintf(buf, len, "busy"); return;
	default: break;
	}
	snprintf(buf, len, "%s, domain %d", (cls - 4) % 2 ? "busy" : "free", (cls - 4) / 2);
}

static void
row_label(const struct row *r, char *buf, size_t len)
{
	if (r->gap != 0) {
		char h[32];

		human(r->gap, h, sizeof(h));
		snprintf(buf, len, "(gap %s)", h);
	} else {
		snprintf(buf, len, "0x%" PRIx64, r->addr);
	}
}

static int
write_data(FILE *f, const struct segs *s, const struct layout *L,
    const unsigned char *cells)
{
	char lab[64];

	fprintf(f, "# kvmem-picture raster 1\n# name %s\n", s->name);
	fprintf(f, "# rows %zu columns %u bytes-per-row 0x%" PRIx64 " bytes-per-cell 0x%"
	    PRIx64 "\n", L->nrows, L->cols, L->rowspan, L->cell);
	fprintf(f, "# classes: 0 not in any span, 1 elided gap, 2 free, 3 busy, "
	    "4+2d free in domain d, 5+2d busy in domain d\n");
	for (size_t r = 0; r < L->nrows; r++) {
		row_label(&L->rows[r], lab, sizeof(lab));
		fprintf(f, "# row %zu %s\n", r, lab);
	}
	for (size_t r = 0; r < L->nrows; r++) {
		for (unsigned c = 0; c < L->cols; c++)
			fprintf(f, "%s%u", c ? " " : "", cells[r * L->cols + c]);
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

/* gnuplot string quoting: single quotes, doubled inside. */
static void
gq(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static int
write_script(FILE *f, const char *png, const char *data, const char *title,
    const char *subtitle, const struct layout *L, const unsigned char *cells,
    unsigned width, unsigned height)
{
	int present[NCLASS] = { 0 }, maxcls = 0;
	char col[16], name[64], lab[64], h1[32], h2[32], full[600];
	size_t step;

	for (size_t i = 0; i < L->nrows * L->cols; i++) {
		present[cells[i]] = 1;
		if (cells[i] > maxcls)
			maxcls = cells[i];
	}
	fprintf(f, "# kvmem-picture: gnuplot script for the raster in the data file\n");
	fprintf(f, "set terminal pngcairo noenhanced size %u,%u font 'Sans,10' background '#ffffff'\n",
	    width, height);
	fprintf(f, "set output ");
	gq(f, png);
	fprintf(f, "\n");
	fprintf(f, "set tmargin 5\nset title ");
	gq(f, title);
	fprintf(f, " noenhanced font ',13' offset 0,0.8\n");
	fprintf(f, "set label 1 ");
	gq(f, subtitle);
	fprintf(f, " at graph 0.5, graph 1 center offset 0,1.2 noenhanced font ',9'\n");
	human(L->rowspan, h1, sizeof(h1));
	human(L->cell, h2, sizeof(h2));
	snprintf(full, sizeof(full), "offset in the row (a row: %s; a cell: %s)", h1, h2);
	fprintf(f, "set xlabel ");
	gq(f, full);
	fprintf(f, " noenhanced");
	fprintf(f, "\nset bmargin 7\n");
	fprintf(f, "set xrange [-0.5:%u.5]\nset yrange [%zu.5:-0.5]\n",
	    L->cols - 1, L->nrows ? L->nrows - 1 : 0);
	fprintf(f, "set cbrange [0:%d]\nunset colorbox\nset tics out nomirror\n",
	    maxcls + 1);
	{
		size_t w = 8;

		for (size_t r = 0; r < L->nrows; r++) {
			row_label(&L->rows[r], lab, sizeof(lab));
			w = strlen(lab) > w ? strlen(lab) : w;
		}
		fprintf(f, "set border 3\nset lmargin %zu\nset rmargin 16\n", w + 3);
	}
	fprintf(f, "set key below center horizontal Left reverse box "
	    "spacing 1.3 samplen 2 width 2 maxrows 2\n");
	/* Elided gaps: a white row, its size written to the right of it. */
	for (size_t r = 0, n = 0; r < L->nrows; r++) {
		if (L->rows[r].gap == 0)
			continue;
		row_label(&L->rows[r], lab, sizeof(lab));
		fprintf(f, "set label %zu ", 10 + n++);
		gq(f, lab);
		fprintf(f, " at graph 1, first %zu left offset 1,0 font ',8' textcolor "
		    "rgb '#555555'\n", r);
	}
	/* A step palette: class k is drawn at k + 0.5, inside [k, k + 1]. */
	fprintf(f, "set palette maxcolors %d\nset palette defined (", maxcls + 1);
	for (int k = 0; k <= maxcls; k++) {
		class_colour(k, col, sizeof(col));
		fprintf(f, "%s%d '%s', %d '%s'", k ? ", " : "", k, col, k + 1, col);
	}
	fprintf(f, ")\n");
	/* x tics: eight offsets along the row. */
	fprintf(f, "set xtics (");
	for (unsigned k = 0; k <= 8; k++) {
		unsigned c = k * L->cols / 8;
		uint64_t off = (uint64_t)c * L->cell;

		fprintf(f, "%s'+0x%" PRIx64 "' %g", k ? ", " : "", off,
		    (double)c - (k == 8 ? 0.5 : 0.5));
	}
	fprintf(f, ")\n");
	/* y tics: about 24 rows labelled, plus every gap and the row after it. */
	step = L->nrows / 24 + 1;
	fprintf(f, "set ytics (");
	for (size_t r = 0, first = 1; r < L->nrows; r++) {
		int gap = L->rows[r].gap != 0, after = r > 0 && L->rows[r - 1].gap != 0;

		if (gap || !(r % step == 0 || after))
			continue;
		if (!after && r > 0 && ((r + 1 < L->nrows && L->rows[r + 1].gap) ||
		    (r > 1 && L->rows[r - 2].gap)))
			continue;	/* keep labels near a gap apart */
		row_label(&L->rows[r], lab, sizeof(lab));
		fprintf(f, "%s", first ? "" : ", ");
		gq(f, lab);
		fprintf(f, " %zu", r);
		first = 0;
	}
	fprintf(f, ")\nset ytics font ',9'\n");
	fprintf(f, "plot ");
	gq(f, data);
	fprintf(f, " matrix using 1:2:($3+0.5) with image notitle");
	for (int k = 0; k < NCLASS; k++) {
		if (!present[k])
			continue;
		class_colour(k, col, sizeof(col));
		class_name(k, name, sizeof(name));
		fprintf(f, ", \\\n     NaN with boxes fs solid 1.0 border lc rgb '#606060' "
		    "fc rgb '%s' title '%s'", col, name);
	}
	fprintf(f, "\n");
	return ferror(f) ? -1 : 0;
}

/* Run gnuplot on script.  0, or 1 after printing why. */
static int
run_gnuplot(const char *script)
{
	pid_t pid;
	int status;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		if (errno == ENOENT)
			fprintf(stderr, PROG ": gnuplot is not installed (not found in "
			    "PATH); use --no-png --data FILE --script FILE to get the "
			    "data and the script\n");
		else
			fprintf(stderr, PROG ": gnuplot: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 127)
			fprintf(stderr, PROG ": gnuplot failed on %s\n", script);
		return 1;
	}
	return 0;
}

static FILE *
open_out(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");

	if (f == NULL)
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
	return f;
}

static int
close_out(FILE *f, const char *path)
{
	int bad = ferror(f);

	if (f == stdout)
		bad |= fflush(f);
	else
		bad |= fclose(f);
	if (bad)
		fprintf(stderr, PROG ": %s: write error\n", path);
	return bad ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "arena", required_argument, NULL, 'a' },
		{ "trace", required_argument, NULL, 'T' },
		{ "at", required_argument, NULL, 'e' },
		{ "fit", required_argument, NULL, 'f' },
		{ "quantum", required_argument, NULL, 'q' },
		{ "import-quantum", required_argument, NULL, 'i' },
		{ "width", required_argument, NULL, 'W' },
		{ "height", required_argument, NULL, 'H' },
		{ "columns", required_argument, NULL, 'c' },
		{ "rows", required_argument, NULL, 'r' },
		{ "no-fold", no_argument, NULL, 'n' },
		{ "title", required_argument, NULL, 't' },
		{ "data", required_argument, NULL, 'd' },
		{ "script", required_argument, NULL, 's' },
		{ "no-png", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 } };
	const char *out = "kvmem-picture.png", *arena = NULL, *trace = NULL;
	const char *title = NULL, *datap = NULL, *scriptp = NULL, *input = NULL;
	struct kr_cfg cfg = { KR_VMEM, 0, 0, 0, M_FIRSTFIT, 0 };
	uint64_t at = UINT64_MAX, v, width = 1000, height = 750, cols = 256, rows = 128;
	int c, nofold = 0, nopng = 0, rc = 0, at_set = 0;
	struct segs s = { 0 };
	struct layout L = { 0 };
	unsigned char *cells = NULL;
	char subtitle[320] = "", info[200] = "";
	char tmpdir[] = "/tmp/kvmem-picture.XXXXXX", dpath[64], spath[64];
	int made_tmp = 0;

	while ((c = getopt_long(argc, argv, "o:a:T:e:f:q:i:W:H:c:r:nt:d:s:Nh", lo, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'a': arena = optarg; break;
		case 'T': trace = optarg; break;
		case 'e':
			if (parse_u64(optarg, &at) != 0 || at == UINT64_MAX)
				return usage_error("bad --at '%s'", optarg);
			at_set = 1;
			break;
		case 'f':
			if (strcmp(optarg, "instant") == 0)
				cfg.fit = M_FIRSTFIT;
			else if (strcmp(optarg, "best") == 0)
				cfg.fit = M_BESTFIT;
			else if (strcmp(optarg, "next") == 0)
				cfg.fit = M_NEXTFIT;
			else
				return usage_error("unknown fit '%s' (instant, best, next)", optarg);
			break;
		case 'q':
			if (parse_u64(optarg, &cfg.quantum) != 0 || cfg.quantum == 0 ||
			    (cfg.quantum & (cfg.quantum - 1)) != 0)
				return usage_error("--quantum wants a power of two, not '%s'", optarg);
			break;
		case 'i':
			if (parse_u64(optarg, &cfg.import_quantum) != 0)
				return usage_error("bad --import-quantum '%s'", optarg);
			break;
		case 'W': case 'H': case 'c': case 'r':
			if (parse_u64(optarg, &v) != 0 || v < 1 ||
			    v > (c == 'c' ? 4096u : c == 'r' ? 4096u : 20000u) ||
			    ((c == 'W' || c == 'H') && v < 200))
				return usage_error("value out of range: '%s'", optarg);
			*(c == 'W' ? &width : c == 'H' ? &height : c == 'c' ? &cols : &rows) = v;
			break;
		case 'n': nofold = 1; break;
		case 't': title = optarg; break;
		case 'd': datap = optarg; break;
		case 's': scriptp = optarg; break;
		case 'N': nopng = 1; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (trace != NULL && optind != argc)
		return usage_error("%s", "--trace takes no other input FILE");
	if (trace == NULL && optind + 1 != argc)
		return usage_error("%s", "one input FILE is needed (or --trace FILE)");
	if (trace == NULL && at_set)
		return usage_error("%s", "--at needs --trace");
	if (trace != NULL && arena != NULL)
		return usage_error("%s", "--arena is for a stats snapshot, not --trace");
	if ((cols & (cols - 1)) != 0)
		return usage_error("%s", "--columns must be a power of two");
	if (datap != NULL && scriptp != NULL && strcmp(datap, "-") == 0 &&
	    strcmp(scriptp, "-") == 0)
		return usage_error("%s", "--data and --script cannot both be stdout");
	if (!nopng && ((datap != NULL && strcmp(datap, "-") == 0) ||
	    (scriptp != NULL && strcmp(scriptp, "-") == 0)))
		return usage_error("%s", "'-' (stdout) for --data or --script needs --no-png");

	if (trace != NULL) {
		if (read_trace(trace, at, &cfg, &s, info, sizeof(info)) != 0)
			return 1;
	} else {
		FILE *f;
		int ch;

		input = argv[optind];
		if ((f = fopen(input, "r")) == NULL) {
			fprintf(stderr, PROG ": %s: %s\n", input, strerror(errno));
			return 1;
		}
		while ((ch = getc(f)) != EOF && isspace(ch))
			;
		if (ch == '{') {
			ungetc(ch, f);
			rc = read_json(input, f, arena, &s);
		} else {
			rewind(f);
			if (arena != NULL) {
				fclose(f);
				return usage_error("%s", "--arena is for a stats snapshot (JSON)");
			}
			rc = read_segments(input, f, &s);
		}
		fclose(f);
		if (rc != 0)
			goto out;
	}
	size_t bad;
	const char *why = check_segs(&s, &bad);

	if (why != NULL) {
		fprintf(stderr, PROG ": %s: segment %zu (0x%" PRIx64 "): %s\n",
		    trace ? trace : input, bad, s.v[bad].start, why);
		rc = 1;
		goto out;
	}
	if (s.n == 0) {
		fprintf(stderr, PROG ": %s: no segments to draw\n", trace ? trace : input);
		rc = 1;
		goto out;
	}
	if (layout(&s, (unsigned)cols, (unsigned)rows, nofold, &L) != 0 ||
	    (cells = malloc(L.nrows * L.cols)) == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		rc = 1;
		goto out;
	}
	rasterize(&s, &L, cells);

	/* The subtitle: what is busy and free. */
	{
		uint64_t nb = 0, nf = 0, bb = 0, bf = 0, maxf = 0;
		char h1[32], h2[32], h3[32];

		for (size_t i = 0; i < s.n; i++) {
			if (s.v[i].busy) {
				nb++;
				bb += s.v[i].size;
			} else {
				nf++;
				bf += s.v[i].size;
				maxf = s.v[i].size > maxf ? s.v[i].size : maxf;
			}
		}
		human(bb, h1, sizeof(h1));
		human(bf, h2, sizeof(h2));
		human(maxf, h3, sizeof(h3));
		snprintf(subtitle, sizeof(subtitle), "%s%sbusy %s in %" PRIu64 " segments, "
		    "free %s in %" PRIu64 " (largest %s)", info[0] ? info : "",
		    info[0] ? "; " : "", h1, nb, h2, nf, h3);
	}
	char deftitle[200];

	snprintf(deftitle, sizeof(deftitle), "%s", s.name);
	if (title == NULL)
		title = deftitle;

	if (datap == NULL || scriptp == NULL) {
		if (!nopng) {
			if (mkdtemp(tmpdir) == NULL) {
				fprintf(stderr, PROG ": %s: %s\n", tmpdir, strerror(errno));
				rc = 1;
				goto out;
			}
			made_tmp = 1;
		}
		snprintf(dpath, sizeof(dpath), "%s/raster.dat", tmpdir);
		snprintf(spath, sizeof(spath), "%s/picture.gp", tmpdir);
	}
	{
		const char *dp = datap ? datap : dpath, *sp = scriptp ? scriptp : spath;
		FILE *f;

		if (datap != NULL || !nopng) {
			if ((f = open_out(dp)) == NULL) {
				rc = 1;
				goto out;
			}
			write_data(f, &s, &L, cells);
			if ((rc = close_out(f, dp)) != 0)
				goto out;
		}
		if (scriptp != NULL || !nopng) {
			if ((f = open_out(sp)) == NULL) {
				rc = 1;
				goto out;
			}
			write_script(f, out, dp, title, subtitle, &L, cells,
			    (unsigned)width, (unsigned)height);
			if ((rc = close_out(f, sp)) != 0)
				goto out;
		}
		if (!nopng)
			rc = run_gnuplot(sp);
		if (made_tmp) {
			unlink(dpath);
			unlink(spath);
			rmdir(tmpdir);
		}
	}
out:
	free(s.v);
	free(L.rows);
	free(cells);
	return rc;
}
