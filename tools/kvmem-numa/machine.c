/*
 * machine.c -- kvmem-numa's machine descriptions: presets (NxSIZE,
 * NxSIZE-ring) and the machine file format (see kvmem-numa(1)):
 *
 *	# comment
 *	name NAME
 *	domain D SIZE		one line per domain, D = 0, 1, ... in order
 *	cpus LIST D		CPUs in LIST ("0-3,8") belong to domain D
 *	distance D V0 V1 ...	row D of the SLIT matrix (all rows or none)
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

int
numa_parse_size(const char *s, uint64_t *out)
{
	char *e;
	unsigned long long v;
	uint64_t mul = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno != 0)
		return -1;
	switch (*e) {
	case 'k': case 'K': mul = (uint64_t)1 << 10; e++; break;
	case 'm': case 'M': mul = (uint64_t)1 << 20; e++; break;
	case 'g': case 'G': mul = (uint64_t)1 << 30; e++; break;
	default: break;
	}
	if (mul != 1 && (strcmp(e, "iB") == 0 || strcmp(e, "B") == 0))
		e += strlen(e);
	if (*e != '\0' || (v != 0 && mul > UINT64_MAX / v))
		return -1;
	*out = (uint64_t)v * mul;
	return 0;
}

void
numa_fmt_size(char *buf, size_t len, uint64_t b)
{
	if (b != 0 && b % ((uint64_t)1 << 30) == 0)
		snprintf(buf, len, "%" PRIu64 "G", b >> 30);
	else if (b != 0 && b % ((uint64_t)1 << 20) == 0)
		snprintf(buf, len, "%" PRIu64 "M", b >> 20);
	else if (b != 0 && b % ((uint64_t)1 << 10) == 0)
		snprintf(buf, len, "%" PRIu64 "K", b >> 10);
	else
		snprintf(buf, len, "%" PRIu64, b);
}

/* Two CPUs per domain, 10 local; remote 21, or 10 + 11 per hop on a ring. */
int
numa_machine_preset(struct numa_machine *m, const char *name)
{
	char *e, sz[32];
	unsigned long n;
	const char *x;
	size_t len;
	bool ring = false;
	uint64_t size;

	if (!isdigit((unsigned char)name[0]))
		return -1;
	n = strtoul(name, &e, 10);
	if (*e != 'x' || n < 1 || n > NUMA_MAXDOM)
		return -1;
	x = e + 1;
	len = strcspn(x, "-");
	if (len == 0 || len >= sizeof(sz))
		return -1;
	memcpy(sz, x, len);
	sz[len] = '\0';
	if (x[len] != '\0') {
		if (strcmp(x + len, "-ring") != 0)
			return -1;
		ring = true;
	}
	if (numa_parse_size(sz, &size) != 0 || size == 0 || size % NUMA_PAGE != 0)
		return -1;
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->ndom = (int)n;
	m->ncpu = 2 * (int)n;
	for (int d = 0; d < m->ndom; d++) {
		m->size[d] = size;
		m->cpu_dom[2 * d] = m->cpu_dom[2 * d + 1] = d;
		for (int j = 0; j < m->ndom; j++) {
			int hops = abs(d - j);

			if (ring && m->ndom - hops < hops)
				hops = m->ndom - hops;
			if (!ring && hops > 1)
				hops = 1;
			m->dist[d * m->ndom + j] = (uint8_t)(10 + 11 * hops);
		}
	}
	return 0;
}

struct lp {
	const char	*path;
	unsigned	line;
};

static int
lerr(const struct lp *lp, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kvmem-numa: %s:%u: ", lp->path, lp->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

/* A non-negative decimal integer no larger than max; 0 or -1. */
static int
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *e;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoul(s, &e, 10);
	return (errno != 0 || *e != '\0' || *out > max) ? -1 : 0;
}

/* "0-3,8" into seen[] (each CPU once); 0 or -1 after lerr. */
static int
parse_cpus(const struct lp *lp, char *list, int dom, struct numa_machine *m, bool *seen)
{
	char *save = NULL, *tok;

	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		unsigned long lo, hi;
		char *dash = strchr(tok, '-');

		if (dash != NULL)
			*dash = '\0';
		if (parse_uint(tok, NUMA_MAXCPU - 1, &lo) != 0 ||
		    (dash != NULL && parse_uint(dash + 1, NUMA_MAXCPU - 1, &hi) != 0))
			return lerr(lp, "bad CPU list (numbers 0-%d, e.g. 0-3,8)", NUMA_MAXCPU - 1);
		if (dash == NULL)
			hi = lo;
		if (hi < lo)
			return lerr(lp, "bad CPU range %lu-%lu", lo, hi);
		for (unsigned long c = lo; c <= hi; c++) {
			if (seen[c])
				return lerr(lp, "CPU %lu given twice", c);
			seen[c] = true;
			m->cpu_dom[c] = dom;
			if ((int)c + 1 > m->ncpu)
				m->ncpu = (int)c + 1;
		}
	}
	return 0;
}

int
numa_machine_load(struct numa_machine *m, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *save, *kw, *a;
	size_t cap = 0;
	struct lp lp = { path, 0 };
	bool seen_cpu[NUMA_MAXCPU] = { false };
	bool have_row[NUMA_MAXDOM] = { false };
	int nrows = 0, rc = -1;
	unsigned long v, d;
	unsigned last_line = 0;

	if (f == NULL) {
		fprintf(stderr, "kvmem-numa: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", path);
	while (getline(&line, &cap, f) != -1) {
		lp.line++;
		line[strcspn(line, "#\r\n")] = '\0';
		save = NULL;
		kw = strtok_r(line, " \t", &save);
		if (kw == NULL)
			continue;
		last_line = lp.line;
		if (strcmp(kw, "name") == 0) {
			a = strtok_r(NULL, "", &save);
			if (a == NULL)
				goto bad_args;
			a += strspn(a, " \t");
			a[strcspn(a, "\t")] = '\0';
			snprintf(m->name, sizeof(m->name), "%s", a);
		} else if (strcmp(kw, "domain") == 0) {
			char *s1 = strtok_r(NULL, " \t", &save), *s2 = strtok_r(NULL, " \t", &save);
			uint64_t size;

			if (s1 == NULL || s2 == NULL || strtok_r(NULL, " \t", &save) != NULL)
				goto bad_args;
			if (parse_uint(s1, NUMA_MAXDOM - 1, &d) != 0)
				{ lerr(&lp, "bad domain number '%s' (0-%d)", s1, NUMA_MAXDOM - 1); goto out; }
			if ((int)d != m->ndom)
				{ lerr(&lp, "domain %lu out of order (expected domain %d)", d, m->ndom); goto out; }
			if (numa_parse_size(s2, &size) != 0 || size == 0 || size % NUMA_PAGE != 0)
				{ lerr(&lp, "bad size '%s' (a multiple of 4K, e.g. 256M)", s2); goto out; }
			m->size[m->ndom++] = size;
		} else if (strcmp(kw, "cpus") == 0) {
			char *s1 = strtok_r(NULL, " \t", &save), *s2 = strtok_r(NULL, " \t", &save);

			if (s1 == NULL || s2 == NULL || strtok_r(NULL, " \t", &save) != NULL)
				goto bad_args;
			if (parse_uint(s2, NUMA_MAXDOM - 1, &d) != 0 || (int)d >= m->ndom)
				{ lerr(&lp, "cpus: domain '%s' not declared (declare domains first)", s2); goto out; }
			if (parse_cpus(&lp, s1, (int)d, m, seen_cpu) != 0)
				goto out;
		} else if (strcmp(kw, "distance") == 0) {
			char *s1 = strtok_r(NULL, " \t", &save);
			int j = 0;

			if (s1 == NULL)
				goto bad_args;
			if (parse_uint(s1, NUMA_MAXDOM - 1, &d) != 0 || (int)d >= m->ndom)
				{ lerr(&lp, "distance: domain '%s' not declared (declare domains first)", s1); goto out; }
			if (have_row[d])
				{ lerr(&lp, "distance row %lu given twice", d); goto out; }
			for (a = strtok_r(NULL, " \t", &save); a != NULL; a = strtok_r(NULL, " \t", &save)) {
				if (j >= m->ndom)
					{ lerr(&lp, "distance row %lu has more than %d values", d, m->ndom); goto out; }
				if (parse_uint(a, 254, &v) != 0 || v < 10)
					{ lerr(&lp, "bad distance '%s' (10-254)", a); goto out; }
				if (((int)d == j) != (v == 10))
					{ lerr(&lp, "distance %lu->%d is %lu: 10 means local, only on the diagonal", d, j, v); goto out; }
				m->dist[d * (unsigned long)m->ndom + (unsigned long)j] = (uint8_t)v;
				j++;
			}
			if (j != m->ndom)
				{ lerr(&lp, "distance row %lu has %d values, expected %d", d, j, m->ndom); goto out; }
			have_row[d] = true;
			nrows++;
		} else {
			lerr(&lp, "unknown keyword '%s' (name, domain, cpus, distance)", kw);
			goto out;
		}
		continue;
bad_args:
		lerr(&lp, "wrong arguments for '%s' (see kvmem-numa(1), MACHINE FILES)", kw);
		goto out;
	}
	if (ferror(f)) {
		fprintf(stderr, "kvmem-numa: %s: %s\n", path, strerror(errno));
		goto out;
	}
	lp.line = last_line;
	if (m->ndom == 0) {
		lerr(&lp, "no 'domain' line");
		goto out;
	}
	if (nrows != 0 && nrows != m->ndom) {
		lerr(&lp, "distance rows for %d of %d domains (give all or none)", nrows, m->ndom);
		goto out;
	}
	for (int c = 0; c < m->ncpu; c++)
		if (!seen_cpu[c]) {
			lerr(&lp, "CPU %d has no domain (CPUs are numbered 0..N-1)", c);
			goto out;
		}
	if (m->ncpu == 0) {
		m->ncpu = m->ndom;
		for (int c = 0; c < m->ncpu; c++)
			m->cpu_dom[c] = c;
	}
	for (int i = 0; i < m->ndom; i++) {
		bool has = false;

		for (int c = 0; c < m->ncpu; c++)
			has |= m->cpu_dom[c] == i;
		if (!has) {
			lerr(&lp, "domain %d has no CPU", i);
			goto out;
		}
		if (nrows == 0)
			for (int j = 0; j < m->ndom; j++)
				m->dist[i * m->ndom + j] = i == j ? 10 : 21;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

void
numa_machine_print(const struct numa_machine *m, FILE *f)
{
	char b[32];

	fprintf(f, "# kvmem-numa machine\nname %s\n", m->name);
	for (int d = 0; d < m->ndom; d++) {
		numa_fmt_size(b, sizeof(b), m->size[d]);
		fprintf(f, "domain %d %s\n", d, b);
	}
	for (int d = 0; d < m->ndom; d++) {
		int c = 0, n = 0;

		fprintf(f, "cpus ");
		while (c < m->ncpu) {
			int e;

			if (m->cpu_dom[c] != d) {
				c++;
				continue;
			}
			for (e = c; e + 1 < m->ncpu && m->cpu_dom[e + 1] == d; e++)
				;
			fprintf(f, "%s%d", n++ ? "," : "", c);
			if (e > c)
				fprintf(f, "-%d", e);
			c = e + 1;
		}
		fprintf(f, " %d\n", d);
	}
	for (int i = 0; i < m->ndom; i++) {
		fprintf(f, "distance %d", i);
		for (int j = 0; j < m->ndom; j++)
			fprintf(f, " %u", m->dist[i * m->ndom + j]);
		fputc('\n', f);
	}
}

/* Thread T: domain T mod N, the (T div N)-th CPU of that domain (cyclically). */
int
numa_thread_cpu(const struct numa_machine *m, unsigned t)
{
	int dom = (int)(t % (unsigned)m->ndom), want = (int)(t / (unsigned)m->ndom), n = 0, c;

	for (c = 0; c < m->ncpu; c++)
		n += m->cpu_dom[c] == dom;
	want %= n;
	for (c = 0; c < m->ncpu; c++)
		if (m->cpu_dom[c] == dom && want-- == 0)
			return c;
	return 0;
}
