/*
 * statfile_test.h -- helpers for the statfile suites: take a snapshot and
 * parse it (with kvmemstat's JSON reader), look members up with
 * assertions, and the fini check that no arena, machine or kmem instance
 * outlived its test.
 */
#ifndef STATFILE_TEST_H
#define STATFILE_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <kvmem/kmem.h>
#include <kvmem/pmap_sim.h>
#include <kvmem/statfile.h>
#include <kvmem/vmem.h>

#include "kmem_impl.h"
#include "pmap_sim_impl.h"
#include "common/kvtest.h"
#include "../../tools/kvmemstat/kjson.h"

/* Parse text[0..len) into *doc, failing the test with the parser's message. */
static inline void
st_parse(const char *text, size_t len, struct kj *doc)
{
	char err[256];

	cr_assert_eq(kj_parse(text, len, doc, err, sizeof(err)), 0,
	    "snapshot is not valid JSON: %s", err);
}

/*
 * A snapshot taken now through kvmem_statfile_json(), parsed.  Other
 * threads may change the process between the sizing call and the real
 * one: retry with a bigger buffer until the snapshot fits.
 */
static inline void
st_snapshot(struct kj *doc, int flags)
{
	int n = kvmem_statfile_json(NULL, 0, flags), m;
	size_t cap;
	char *buf;

	cr_assert_gt(n, 0, "kvmem_statfile_json: %s", strerror(errno));
	for (cap = (size_t)n + 4096;; cap = (size_t)m + 4096) {
		buf = malloc(cap);
		cr_assert_not_null(buf);
		m = kvmem_statfile_json(buf, cap, flags);
		cr_assert_gt(m, 0, "kvmem_statfile_json: %s", strerror(errno));
		if ((size_t)m < cap)
			break;
		cr_assert_eq(strlen(buf), cap - 1, "truncated to the buffer");
		free(buf);
	}
	cr_assert_eq(strlen(buf), (size_t)m);
	st_parse(buf, (size_t)m, doc);
	free(buf);
}

/* Read a whole file into a malloc'ed NUL-terminated buffer; NULL if it cannot be opened. */
static inline char *
st_slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap * 2 + 8192;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n != 0);
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* Member key of o, which must be present. */
static inline const struct kj *
st_get(const struct kj *o, const char *key)
{
	const struct kj *v = kj_get(o, key);

	cr_assert_not_null(v, "snapshot member \"%s\" missing", key);
	return v;
}

/* An unsigned member (number or hex string), which must be present. */
static inline uint64_t
st_u(const struct kj *o, const char *key)
{
	uint64_t v;

	cr_assert_eq(kj_u64(st_get(o, key), &v), 0, "member \"%s\" is not an unsigned integer",
	    key);
	return v;
}

/* A member that must be a "0x..." string (addresses and sizes). */
static inline uint64_t
st_hex(const struct kj *o, const char *key)
{
	const char *s = kj_str(st_get(o, key));

	cr_assert(s != NULL && s[0] == '0' && s[1] == 'x', "member \"%s\" is not a hex string",
	    key);
	return st_u(o, key);
}

static inline int64_t
st_i(const struct kj *o, const char *key)
{
	int64_t v;

	cr_assert_eq(kj_i64(st_get(o, key), &v), 0, "member \"%s\" is not an integer", key);
	return v;
}

/* The element of top-level list (arenas, machines, kmem) named name, or NULL. */
static inline const struct kj *
st_find(const struct kj *doc, const char *list, const char *name)
{
	const struct kj *l = st_get(doc, list);

	for (size_t i = 0; i < kj_len(l); i++) {
		const char *s = kj_str(kj_get(kj_at(l, i), "name"));

		if (s != NULL && strcmp(s, name) == 0)
			return kj_at(l, i);
	}
	return NULL;
}

/* Suite .fini: nothing the test made is still alive, no writer thread left. */
static inline void
st_fini(void)
{
	kvmem_statfile_stop();
	kvt_fini_no_live();
	cr_assert_eq(pmap_sim__live_machines(), 0, "%ld machine(s) still live",
	    pmap_sim__live_machines());
	cr_assert_eq(kmem__live_instances(), 0, "%ld kmem instance(s) still live",
	    kmem__live_instances());
}

/* A fresh directory under ${TMPDIR:-/tmp}; the caller removes it (st_rmdir). */
static inline void
st_mkdtemp(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, len, "%s/kvmem-statfile-test.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

#endif /* STATFILE_TEST_H */
