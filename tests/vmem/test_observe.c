/*
 * test_observe.c -- vmem_size for every mask, vmem_walk, vmem_contains,
 * vmem_get_stats, vmem_stats_json, vmem_dump, vmem_name, vmem_misuse_name.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvtest.h"

TestSuite(observe, .fini = kvt_fini_no_live);

/*
 * Arena "obs", quantum 16: spans [0x1000,0x2000) and [0x8000,0x8800),
 * busy [0x1000,0x1100), [0x1800,0x1840), [0x8000,0x8010).
 */
static vmem_t *
make_arena(void)
{
	vmem_t *vm = kvt_vmem_create("obs", 0x1000, 0x1000, 16, 0, M_WAITOK);

	cr_assert_not_null(vm);
	cr_assert_eq(vmem_add(vm, 0x8000, 0x800, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1000, 0x100, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x1800, 0x40, M_NOWAIT), 0);
	cr_assert_eq(vmem_xalloc_addr(vm, 0x8000, 0x10, M_NOWAIT), 0);
	return (vm);
}

static void
drop_arena(vmem_t *vm)
{
	vmem_xfree(vm, 0x1000, 0x100);
	vmem_xfree(vm, 0x1800, 0x40);
	vmem_xfree(vm, 0x8000, 0x10);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(observe, size_masks)
{
	vmem_t *vm = make_arena();

	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0x150);
	cr_assert_eq(vmem_size(vm, VMEM_FREE), 0x1800 - 0x150);
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 0x1800);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0x7f0,
	    "largest free segment: [0x8010, 0x8800)");
	struct vmem_stats st = kvt_stats(vm);
	cr_assert_eq(st.bytes_inuse, 0x150);
	cr_assert_eq(st.bytes_free, 0x1800 - 0x150);
	cr_assert_eq(st.bytes_total, 0x1800);
	cr_assert_eq(st.maxfree, 0x7f0);
	cr_assert_eq(st.busy_segs, 3);
	cr_assert_eq(st.free_segs, 3);
	cr_assert_eq(st.spans, 2);
	drop_arena(vm);
}

struct rec {
	struct kvt_seg	s[32];
	int		n;
	int		stop_at;	/* return nonzero on this call (1-based) */
};

static int
rec_cb(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct rec *r = arg;

	if (r->n < 32)
		r->s[r->n] = (struct kvt_seg){ addr, size, type };
	r->n++;
	return (r->n == r->stop_at ? 42 : 0);
}

Test(observe, walk)
{
	vmem_t *vm = make_arena();
	struct rec r;
	static const struct kvt_seg want[] = {
		{ 0x1000, 0x1000, VMEM_SPAN },
		{ 0x1000, 0x100, VMEM_ALLOC },
		{ 0x1100, 0x700, VMEM_FREE },
		{ 0x1800, 0x40, VMEM_ALLOC },
		{ 0x1840, 0x7c0, VMEM_FREE },
		{ 0x8000, 0x800, VMEM_SPAN },
		{ 0x8000, 0x10, VMEM_ALLOC },
		{ 0x8010, 0x7f0, VMEM_FREE },
	};

	memset(&r, 0, sizeof(r));
	cr_assert_eq(vmem_walk(vm, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN, rec_cb, &r), 0);
	cr_assert_eq(r.n, 8);
	for (int i = 0; i < 8; i++)
		cr_assert(r.s[i].addr == want[i].addr && r.s[i].size == want[i].size &&
		    r.s[i].type == want[i].type,
		    "entry %d: " KVT_X " %zu type %d", i, r.s[i].addr, r.s[i].size,
		    r.s[i].type);

	/* Each mask alone, in address order. */
	static const int masks[] = { VMEM_ALLOC, VMEM_FREE, VMEM_SPAN,
	    VMEM_ALLOC | VMEM_FREE };
	for (int m = 0; m < 4; m++) {
		memset(&r, 0, sizeof(r));
		cr_assert_eq(vmem_walk(vm, masks[m], rec_cb, &r), 0);
		int k = 0;
		for (int i = 0; i < 8; i++) {
			if (!(want[i].type & masks[m]))
				continue;
			cr_assert(k < r.n && r.s[k].addr == want[i].addr &&
			    r.s[k].type == want[i].type, "mask 0x%x entry %d", masks[m], k);
			k++;
		}
		cr_assert_eq(r.n, k, "mask 0x%x", masks[m]);
	}

	/* A nonzero return stops the walk and is returned. */
	memset(&r, 0, sizeof(r));
	r.stop_at = 3;
	cr_assert_eq(vmem_walk(vm, VMEM_ALLOC | VMEM_FREE, rec_cb, &r), 42);
	cr_assert_eq(r.n, 3);
	drop_arena(vm);
}

Test(observe, contains)
{
	vmem_t *vm = make_arena();

	cr_assert(!vmem_contains(vm, 0));
	cr_assert(!vmem_contains(vm, 0xfff));
	cr_assert(vmem_contains(vm, 0x1000));
	cr_assert(vmem_contains(vm, 0x1100), "free addresses are inside a span too");
	cr_assert(vmem_contains(vm, 0x1fff));
	cr_assert(!vmem_contains(vm, 0x2000));
	cr_assert(!vmem_contains(vm, 0x7fff));
	cr_assert(vmem_contains(vm, 0x8000));
	cr_assert(vmem_contains(vm, 0x87ff));
	cr_assert(!vmem_contains(vm, 0x8800));
	cr_assert(!vmem_contains(vm, VMEM_ADDR_MAX));
	drop_arena(vm);
}

Test(observe, stats)
{
	vmem_t *vm = make_arena();
	struct vmem_stats st;
	vmem_addr_t a;

	cr_assert_eq(vmem_alloc(vm, 0x5000, M_NOWAIT, &a), ENOMEM);
	cr_assert_eq(vmem_alloc(vm, 0, M_NOWAIT, &a), EINVAL);
	st = kvt_stats(vm);
	cr_assert_eq(st.version, VMEM_STATS_VERSION);
	cr_assert_eq(st.size, sizeof(st));
	cr_assert_str_eq(st.name, "obs");
	cr_assert_eq(st.quantum, 16);
	cr_assert_eq(st.qcache_max, 16 * (vmem_size_t)kvt_qcache_quanta(),
	    "the caches of the test mode");
	cr_assert_eq(st.allocs, 3);
	cr_assert_eq(st.frees, 0);
	cr_assert_eq(st.alloc_fails, 1);
	cr_assert_eq(st.alloc_einval, 1);
	cr_assert_eq(st.imports, 0);
	cr_assert_eq(st.releases, 0);
	cr_assert_eq(st.misuses, 0);
	cr_assert_eq(st.bytes_imported, 0);
	cr_assert_eq(st.limit, 0);
	cr_assert_geq(st.hash_buckets, 1);
	cr_assert_geq(st.bt_total, st.busy_segs + st.free_segs);
	cr_assert_leq(st.bt_free, st.bt_total);
	cr_assert_gt(st.metadata_bytes, 0);

	/* Unknown versions are refused and the struct is left alone. */
	static const uint32_t bad[] = { 0, VMEM_STATS_VERSION + 1, 99, UINT32_MAX };
	for (int i = 0; i < 4; i++) {
		memset(&st, 0xa5, sizeof(st));
		st.version = bad[i];
		cr_assert_eq(vmem_get_stats(vm, &st), EINVAL, "version %u", bad[i]);
		cr_assert_eq(st.allocs, 0xa5a5a5a5a5a5a5a5ull, "version %u", bad[i]);
	}
	drop_arena(vm);
}

/* ---- vmem_dump ------------------------------------------------------------------ */

static char dumpbuf[65536];
static size_t dumplen;
static int dumpcalls;

static int
capture(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dumpbuf + dumplen, sizeof(dumpbuf) - dumplen, fmt, ap);
	va_end(ap);
	if (n > 0) {
		dumplen += (size_t)n;
		if (dumplen >= sizeof(dumpbuf))
			dumplen = sizeof(dumpbuf) - 1;
	}
	dumpcalls++;
	return (n);
}

/* Nonzero if s mentions the number x in hex (any case, any padding). */
static int
mentions_hex(const char *s, uintmax_t x)
{
	char lo[32], up[32];

	snprintf(lo, sizeof(lo), "%jx", x);
	snprintf(up, sizeof(up), "%jX", x);
	return (strstr(s, lo) != NULL || strstr(s, up) != NULL);
}

/* ---- A minimal JSON syntax checker --------------------------------------- */

static const char *json_value(const char *p);

static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return (p);
}

static const char *
json_string(const char *p)
{
	if (*p != '"')
		return (NULL);
	for (p++; *p != '"'; p++) {
		if (*p == '\0' || (unsigned char)*p < 0x20)
			return (NULL);
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return (NULL);
				p += 4;
			} else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0') {
				return (NULL);
			}
		}
	}
	return (p + 1);
}

static const char *
json_number(const char *p)
{
	const char *s = p;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (isdigit((unsigned char)*p))
		while (isdigit((unsigned char)*p))
			p++;
	else
		return (NULL);
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return (NULL);
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return (NULL);
		while (isdigit((unsigned char)*p))
			p++;
	}
	return (p > s ? p : NULL);
}

static const char *
json_container(const char *p, char open, char close, int keyed)
{
	if (*p != open)
		return (NULL);
	p = json_ws(p + 1);
	if (*p == close)
		return (p + 1);
	for (;;) {
		if (keyed) {
			if ((p = json_string(p)) == NULL)
				return (NULL);
			p = json_ws(p);
			if (*p != ':')
				return (NULL);
			p = json_ws(p + 1);
		}
		if ((p = json_value(p)) == NULL)
			return (NULL);
		p = json_ws(p);
		if (*p == close)
			return (p + 1);
		if (*p != ',')
			return (NULL);
		p = json_ws(p + 1);
	}
}

static const char *
json_value(const char *p)
{
	p = json_ws(p);
	switch (*p) {
	case '{':
		return (json_container(p, '{', '}', 1));
	case '[':
		return (json_container(p, '[', ']', 0));
	case '"':
		return (json_string(p));
	case 't':
		return (strncmp(p, "true", 4) == 0 ? p + 4 : NULL);
	case 'f':
		return (strncmp(p, "false", 5) == 0 ? p + 5 : NULL);
	case 'n':
		return (strncmp(p, "null", 4) == 0 ? p + 4 : NULL);
	default:
		return (json_number(p));
	}
}

static int
json_valid_object(const char *s)
{
	const char *p = json_ws(s);

	if (*p != '{')
		return (0);
	p = json_value(p);
	return (p != NULL && *json_ws(p) == '\0');
}

/* The value text after "key": in s, or NULL. */
static const char *
json_field(const char *s, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((p = strstr(s, pat)) == NULL)
		return (NULL);
	p = json_ws(p + strlen(pat));
	if (*p != ':')
		return (NULL);
	return (json_ws(p + 1));
}

Test(observe, json_self_test)
{
	cr_assert(json_valid_object("{\"a\":1,\"b\":[1,2.5e3,\"x\"],\"c\":{}}"));
	cr_assert(!json_valid_object("{\"a\":1,}"));
	cr_assert(!json_valid_object("{\"a\" 1}"));
	cr_assert(!json_valid_object("{\"a\":01x}"));
	cr_assert(!json_valid_object("{\"a\":1"));
	cr_assert(!json_valid_object("[1]"));
}

Test(observe, stats_json)
{
	vmem_t *vm = make_arena();
	char buf[8192];
	int n = vmem_stats_json(vm, buf, sizeof(buf));
	static const char *fields[] = {
		"name", "quantum", "qcache_max", "allocs", "frees", "alloc_fails",
		"alloc_einval", "imports", "import_fails", "releases", "reclaims",
		"sleeps", "misuses", "spans", "busy_segs", "free_segs",
		"hash_buckets", "hash_longest_chain", "hash_resizes", "bt_total",
		"bt_free", "metadata_bytes", "bytes_inuse", "bytes_free",
		"bytes_total", "bytes_imported", "bytes_cached", "limit", "maxfree",
	};
	const char *v;

	cr_assert_gt(n, 0);
	cr_assert_lt((size_t)n, sizeof(buf));
	cr_assert_eq(strlen(buf), (size_t)n, "returns the length written");
	cr_assert(json_valid_object(buf), "not a JSON object: %s", buf);
	cr_assert_not_null(v = json_field(buf, "version"), "%s", buf);
	cr_assert(strncmp(v, "2", 1) == 0 && !isdigit((unsigned char)v[1]),
	    "\"version\":2 expected: %s", buf);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		cr_assert_not_null(json_field(buf, fields[i]), "field \"%s\" missing: %s",
		    fields[i], buf);
	cr_assert_not_null(v = json_field(buf, "name"));
	cr_assert_eq(strncmp(v, "\"obs\"", 5), 0, "name: %s", buf);
	cr_assert_not_null(v = json_field(buf, "bytes_inuse"));
	cr_assert_eq(strtoull(v, NULL, 10), 0x150, "bytes_inuse: %s", buf);
	cr_assert_not_null(v = json_field(buf, "quantum"));
	cr_assert_eq(strtoull(v, NULL, 10), 16);
	cr_assert_not_null(v = json_field(buf, "busy_segs"));
	cr_assert_eq(strtoull(v, NULL, 10), 3);
	drop_arena(vm);
}

Test(observe, stats_json_escapes_the_name)
{
	vmem_t *vm = kvt_vmem_create("q\"uo\\te\n\t", 0, 64, 16, 0, M_WAITOK);
	char buf[8192];
	int n = vmem_stats_json(vm, buf, sizeof(buf));
	const char *v;

	cr_assert_gt(n, 0);
	cr_assert(json_valid_object(buf), "a name with quotes, backslashes and "
	    "control characters must be escaped: %s", buf);
	cr_assert_not_null(v = json_field(buf, "name"));
	cr_assert_eq(strncmp(v, "\"q\\\"uo\\\\te", 10), 0, "name: %s", buf);
	vmem_destroy(vm);
}

Test(observe, empty_arena_observers)
{
	vmem_t *vm = kvt_vmem_create("void", 0, 0, 8, 0, M_WAITOK);
	char buf[16384];		/* room for 16 caches' stats */

	dumplen = 0;
	dumpbuf[0] = '\0';
	vmem_dump(vm, capture);
	cr_assert_not_null(strstr(dumpbuf, "void"), "%s", dumpbuf);
	cr_assert_eq(kvt_count(vm, VMEM_ALLOC | VMEM_FREE | VMEM_SPAN), 0);
	cr_assert_eq(vmem_size(vm, VMEM_MAXFREE), 0);
	cr_assert_gt(vmem_stats_json(vm, buf, sizeof(buf)), 0);
	cr_assert(json_valid_object(buf), "%s", buf);
	cr_assert_eq(vmem_check(vm), 0);
	vmem_destroy(vm);
}

Test(observe, stats_json_snprintf_semantics)
{
	vmem_t *vm = make_arena();
	char full[8192], small[64];
	int n = vmem_stats_json(vm, full, sizeof(full));

	cr_assert_gt(n, 20);
	cr_assert_eq(vmem_stats_json(vm, NULL, 0), n, "NULL, 0 gives the length");
	memset(small, 'X', sizeof(small));
	cr_assert_eq(vmem_stats_json(vm, small, 1), n);
	cr_assert_eq(small[0], '\0');
	cr_assert_eq(small[1], 'X', "nothing written past len");
	memset(small, 'X', sizeof(small));
	cr_assert_eq(vmem_stats_json(vm, small, 10), n);
	cr_assert_eq(strlen(small), 9);
	cr_assert_eq(strncmp(small, full, 9), 0);
	cr_assert_eq(small[10], 'X');

	char *exact = malloc((size_t)n + 2);
	cr_assert_not_null(exact);
	memset(exact, 'X', (size_t)n + 2);
	cr_assert_eq(vmem_stats_json(vm, exact, (size_t)n), n);
	cr_assert_eq(strlen(exact), (size_t)n - 1, "len n keeps n-1 characters");
	cr_assert_eq(exact[n], 'X');
	cr_assert_eq(vmem_stats_json(vm, exact, (size_t)n + 1), n);
	cr_assert_str_eq(exact, full);
	free(exact);
	drop_arena(vm);
}

Test(observe, dump)
{
	vmem_t *vm = make_arena();

	dumplen = 0;
	dumpcalls = 0;
	dumpbuf[0] = '\0';
	vmem_dump(vm, capture);
	cr_assert_gt(dumpcalls, 0);
	cr_assert_gt(dumplen, 0);
	cr_assert_not_null(strstr(dumpbuf, "obs"), "the dump names the arena:\n%s",
	    dumpbuf);
	cr_assert(mentions_hex(dumpbuf, 0x1800), "busy segment missing:\n%s", dumpbuf);
	cr_assert(mentions_hex(dumpbuf, 0x1840), "free segment missing:\n%s", dumpbuf);
	cr_assert(mentions_hex(dumpbuf, 0x8010), "free segment missing:\n%s", dumpbuf);
	cr_assert_eq(vmem_check(vm), 0);
	drop_arena(vm);
}

Test(observe, names)
{
	vmem_t *vm = make_arena();
	static const enum vmem_misuse kinds[] = { VMEM_MISUSE_DOUBLE_FREE,
	    VMEM_MISUSE_UNKNOWN_FREE, VMEM_MISUSE_SIZE_MISMATCH,
	    VMEM_MISUSE_ADD_OVERLAP, VMEM_MISUSE_LEAK, VMEM_MISUSE_BAD_ARG };

	cr_assert_str_eq(vmem_name(vm), "obs");
	for (int i = 0; i < 6; i++) {
		const char *n = vmem_misuse_name(kinds[i]);
		cr_assert_not_null(n);
		cr_assert_gt(strlen(n), 0);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(n, vmem_misuse_name(kinds[j]));
	}
	drop_arena(vm);
}

/* ---- vmem_foreach, vmem_get_parent, vmem_set_parent -------------------- */

struct seen {
	vmem_t	*want[4];
	int	order[4];	/* position among the arenas seen, or -1 */
	int	n;		/* arenas seen (ours or not) */
	int	stop_at;	/* return 7 when this many have been seen; 0: never */
};

static int
seen_cb(vmem_t *vm, void *arg)
{
	struct seen *s = arg;
	for (int i = 0; i < 4; i++)
		if (s->want[i] == vm)
			s->order[i] = s->n;
	s->n++;
	return (s->stop_at != 0 && s->n == s->stop_at) ? 7 : 0;
}

static struct seen
seen_walk(vmem_t *a, vmem_t *b, vmem_t *c, vmem_t *d)
{
	struct seen s = { .want = { a, b, c, d }, .order = { -1, -1, -1, -1 } };
	cr_assert_eq(vmem_foreach(seen_cb, &s), 0);
	return s;
}

Test(observe, foreach_lists_live_arenas_in_creation_order)
{
	static vmem_t store;	/* an arena in caller storage is listed too */
	vmem_t *a = vmem_create("fa", 0x1000, 0x1000, 16, 0, M_WAITOK);
	vmem_t *b = vmem_init(&store, "fb", 0, 0, 16, 0, M_WAITOK);
	vmem_t *c = vmem_create("fc", 0, 0, 16, 64, M_WAITOK);
	cr_assert(a != NULL && b != NULL && c != NULL);

	struct seen s = seen_walk(a, b, c, NULL);
	cr_assert(s.order[0] >= 0 && s.order[0] < s.order[1] &&
	    s.order[1] < s.order[2], "order %d %d %d", s.order[0], s.order[1],
	    s.order[2]);
	cr_assert_eq(s.order[3], -1);

	/* A failed create is never listed. */
	errno = 0;
	cr_assert_null(vmem_create("bad", 0, 0, 3, 0, M_WAITOK));
	cr_assert_eq(errno, EINVAL);
	struct seen s2 = seen_walk(a, b, c, NULL);
	cr_assert_eq(s2.n, s.n);

	vmem_destroy(b);
	s = seen_walk(a, b, c, NULL);
	cr_assert_eq(s.order[1], -1, "a destroyed arena is not listed");
	cr_assert_eq(s.n, s2.n - 1);
	cr_assert(s.order[0] >= 0 && s.order[2] > s.order[0]);
	vmem_destroy(a);
	vmem_destroy(c);
}

Test(observe, foreach_stops_at_nonzero_and_rejects_null)
{
	vmem_t *a = vmem_create("sa", 0, 0, 16, 0, M_WAITOK);
	vmem_t *b = vmem_create("sb", 0, 0, 16, 0, M_WAITOK);
	cr_assert(a != NULL && b != NULL);
	struct seen s = { .stop_at = 1 };
	cr_assert_eq(vmem_foreach(seen_cb, &s), 7);
	cr_assert_eq(s.n, 1, "the walk went on after a nonzero return");
	cr_assert_eq(vmem_foreach(NULL, NULL), EINVAL);
	vmem_destroy(b);
	vmem_destroy(a);
}

Test(observe, parent_from_set_source_and_set_parent)
{
	vmem_t *top = vmem_create("top", 0x100000, 0x100000, 4096, 0, M_WAITOK);
	vmem_t *mid = vmem_create("mid", 0, 0, 4096, 0, M_WAITOK);
	vmem_t *leaf = vmem_create("leaf", 0, 0, 4096, 0, M_WAITOK);
	cr_assert(top != NULL && mid != NULL && leaf != NULL);

	cr_assert_null(vmem_get_parent(top));
	cr_assert_null(vmem_get_parent(mid));
	vmem_set_source(mid, top, 0x10000);
	cr_assert_eq(vmem_get_parent(mid), top);
	/* A caller's own import callback: recorded by hand. */
	vmem_set_ximport(leaf, vmem_ximport_from_arena, vmem_release_to_arena, mid,
	    0x4000);
	cr_assert_null(vmem_get_parent(leaf));
	vmem_set_parent(leaf, mid);
	cr_assert_eq(vmem_get_parent(leaf), mid);

	vmem_addr_t x;
	cr_assert_eq(vmem_alloc(leaf, 4096, M_NOWAIT, &x), 0);
	cr_assert(x >= 0x100000 && x < 0x200000);
	vmem_free(leaf, x, 4096);
	vmem_destroy(leaf);

	vmem_set_parent(mid, NULL);
	cr_assert_null(vmem_get_parent(mid), "NULL forgets the parent");
	vmem_set_parent(mid, top);
	vmem_destroy(top);
	cr_assert_null(vmem_get_parent(mid), "a destroyed parent is forgotten");
	vmem_destroy(mid);
}

/* An observer's walk: vmem_get_parent and the stats inside a vmem_foreach
 * callback (the list lock is held there). */
struct tree_walk {
	vmem_t	*child, *parent;
	int	found;
};

static int
tree_cb(vmem_t *vm, void *arg)
{
	struct tree_walk *w = arg;
	struct vmem_stats st = { .version = VMEM_STATS_VERSION };

	cr_assert_eq(vmem_get_stats(vm, &st), 0);
	if (vm == w->child && vmem_get_parent(vm) == w->parent)
		w->found++;
	return 0;
}

Test(observe, foreach_callback_may_ask_for_parents, .timeout = 20)
{
	vmem_t *p = vmem_create("tp", 0x100000, 0x100000, 4096, 0, M_WAITOK);
	vmem_t *c = vmem_create("tc", 0, 0, 4096, 0, M_WAITOK);
	struct tree_walk w = { .child = c, .parent = p };

	vmem_set_source(c, p, 0);
	cr_assert_eq(vmem_foreach(tree_cb, &w), 0);
	cr_assert_eq(w.found, 1);
	vmem_destroy(c);
	vmem_destroy(p);
}
