/*
 * kjson.c -- a recursive-descent JSON reader (RFC 8259) building a tree.
 */
#include "kjson.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KJ_MAXDEPTH	64

struct kj_parser {
	const char	*p, *end, *start;
	char		*err;
	size_t		errlen;
	bool		failed;
};

/* Record the first error with its line and column. */
static void
fail(struct kj_parser *ps, const char *fmt, ...)
{
	int line = 1, col = 1;
	va_list ap;
	int n;

	if (ps->failed)
		return;
	ps->failed = true;
	for (const char *q = ps->start; q < ps->p && q < ps->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	if (ps->err == NULL || ps->errlen == 0)
		return;
	n = snprintf(ps->err, ps->errlen, "line %d, column %d: ", line, col);
	if (n < 0 || (size_t)n >= ps->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void
skip_ws(struct kj_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	    *ps->p == '\r'))
		ps->p++;
}

/* A growing byte buffer for decoded strings. */
struct buf {
	char	*p;
	size_t	len, cap;
};

static int
buf_put(struct buf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		size_t cap = b->cap != 0 ? 2 * b->cap : 32;
		char *n = realloc(b->p, cap);

		if (n == NULL)
			return -1;
		b->p = n;
		b->cap = cap;
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
	return 0;
}

static int
hex4(struct kj_parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4) {
		fail(ps, "truncated \\u escape");
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else {
			fail(ps, "bad \\u escape");
			return -1;
		}
	}
	*out = v;
	return 0;
}

/* Append code point cp as UTF-8. */
static int
put_utf8(struct buf *b, unsigned cp)
{
	if (cp < 0x80)
		return buf_put(b, (char)cp);
	if (cp < 0x800)
		return buf_put(b, (char)(0xc0 | (cp >> 6))) | buf_put(b, (char)(0x80 | (cp & 0x3f)));
	if (cp < 0x10000)
		return buf_put(b, (char)(0xe0 | (cp >> 12))) |
		    buf_put(b, (char)(0x80 | ((cp >> 6) & 0x3f))) |
		    buf_put(b, (char)(0x80 | (cp & 0x3f)));
	return buf_put(b, (char)(0xf0 | (cp >> 18))) |
	    buf_put(b, (char)(0x80 | ((cp >> 12) & 0x3f))) |
	    buf_put(b, (char)(0x80 | ((cp >> 6) & 0x3f))) |
	    buf_put(b, (char)(0x80 | (cp & 0x3f)));
}

/* A string at ps->p (the opening quote); returns the decoded copy or NULL. */
static char *
parse_string(struct kj_parser *ps)
{
	struct buf b = { 0 };

	ps->p++;
	if (buf_put(&b, 'x') != 0)
		goto nomem;
	b.len = 0;
	b.p[0] = '\0';
	for (;;) {
		if (ps->p >= ps->end) {
			fail(ps, "unterminated string");
			goto bad;
		}
		unsigned char c = (unsigned char)*ps->p++;

		if (c == '"')
			return b.p;
		if (c < 0x20) {
			ps->p--;
			fail(ps, "control character in string");
			goto bad;
		}
		if (c != '\\') {
			if (buf_put(&b, (char)c) != 0)
				goto nomem;
			continue;
		}
		if (ps->p >= ps->end) {
			fail(ps, "unterminated string");
			goto bad;
		}
		c = (unsigned char)*ps->p++;
		switch (c) {
		case '"': case '\\': case '/':
			if (buf_put(&b, (char)c) != 0)
				goto nomem;
			break;
		case 'b': if (buf_put(&b, '\b') != 0) goto nomem; break;
		case 'f': if (buf_put(&b, '\f') != 0) goto nomem; break;
		case 'n': if (buf_put(&b, '\n') != 0) goto nomem; break;
		case 'r': if (buf_put(&b, '\r') != 0) goto nomem; break;
		case 't': if (buf_put(&b, '\t') != 0) goto nomem; break;
		case 'u': {
			unsigned cp, lo;

			if (hex4(ps, &cp) != 0)
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u') {
					fail(ps, "unpaired surrogate");
					goto bad;
				}
				ps->p += 2;
				if (hex4(ps, &lo) != 0)
					goto bad;
				if (lo < 0xdc00 || lo > 0xdfff) {
					fail(ps, "unpaired surrogate");
					goto bad;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				fail(ps, "unpaired surrogate");
				goto bad;
			}
			if (cp == 0) {
				fail(ps, "\\u0000 in string");
				goto bad;
			}
			if (put_utf8(&b, cp) != 0)
				goto nomem;
			break;
		}
		default:
			ps->p--;
			fail(ps, "bad escape '\\%c'", c);
			goto bad;
		}
	}
nomem:
	fail(ps, "out of memory");
bad:
	free(b.p);
	return NULL;
}

/* A number at ps->p; stores its text (validated against the JSON grammar). */
static int
parse_number(struct kj_parser *ps, struct kj *v)
{
	const char *s = ps->p;
	size_t n;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (ps->p < ps->end && *ps->p >= '1' && *ps->p <= '9')
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	else {
		fail(ps, "bad number");
		return -1;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
			fail(ps, "bad number");
			return -1;
		}
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
			fail(ps, "bad number");
			return -1;
		}
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	n = (size_t)(ps->p - s);
	v->type = KJ_NUM;
	v->str = malloc(n + 1);
	if (v->str == NULL) {
		fail(ps, "out of memory");
		return -1;
	}
	memcpy(v->str, s, n);
	v->str[n] = '\0';
	return 0;
}

static int parse_value(struct kj_parser *ps, struct kj *v, int depth);

/* Append one zeroed member slot to an array or object; NULL on ENOMEM. */
static struct kj *
grow(struct kj_parser *ps, struct kj *v, size_t *cap)
{
	if (v->n == *cap) {
		size_t c = *cap != 0 ? 2 * *cap : 8;
		struct kj *items = realloc(v->items, c * sizeof(*items));

		if (items == NULL) {
			fail(ps, "out of memory");
			return NULL;
		}
		v->items = items;
		if (v->type == KJ_OBJ) {
			char **keys = realloc(v->keys, c * sizeof(*keys));

			if (keys == NULL) {
				fail(ps, "out of memory");
				return NULL;
			}
			v->keys = keys;
		}
		*cap = c;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	if (v->type == KJ_OBJ)
		v->keys[v->n] = NULL;
	return &v->items[v->n++];
}

static int
parse_container(struct kj_parser *ps, struct kj *v, int depth, bool obj)
{
	size_t cap = 0;
	char close = obj ? '}' : ']';

	if (depth >= KJ_MAXDEPTH) {
		fail(ps, "nested too deeply");
		return -1;
	}
	v->type = obj ? KJ_OBJ : KJ_ARR;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		struct kj *item;
		char *key = NULL;

		skip_ws(ps);
		if (obj) {
			if (ps->p >= ps->end || *ps->p != '"') {
				fail(ps, "expected a member name");
				return -1;
			}
			if ((key = parse_string(ps)) == NULL)
				return -1;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				fail(ps, "expected ':'");
				return -1;
			}
			ps->p++;
		}
		if ((item = grow(ps, v, &cap)) == NULL) {
			free(key);
			return -1;
		}
		if (obj)
			v->keys[v->n - 1] = key;
		if (parse_value(ps, item, depth + 1) != 0)
			return -1;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return 0;
		}
		fail(ps, "expected ',' or '%c'", close);
		return -1;
	}
}

static int
literal(struct kj_parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		fail(ps, "unexpected character");
		return -1;
	}
	ps->p += n;
	return 0;
}

static int
parse_value(struct kj_parser *ps, struct kj *v, int depth)
{
	skip_ws(ps);
	if (ps->p >= ps->end) {
		fail(ps, "unexpected end of input");
		return -1;
	}
	switch (*ps->p) {
	case '{':
		return parse_container(ps, v, depth, true);
	case '[':
		return parse_container(ps, v, depth, false);
	case '"':
		v->type = KJ_STR;
		v->str = parse_string(ps);
		return v->str != NULL ? 0 : -1;
	case 't':
		v->type = KJ_BOOL;
		v->b = true;
		return literal(ps, "true");
	case 'f':
		v->type = KJ_BOOL;
		return literal(ps, "false");
	case 'n':
		v->type = KJ_NULL;
		return literal(ps, "null");
	default:
		return parse_number(ps, v);
	}
}

int
kj_parse(const char *text, size_t len, struct kj *out, char *err, size_t errlen)
{
	struct kj_parser ps = { text, text + len, text, err, errlen, false };

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen != 0)
		err[0] = '\0';
	if (parse_value(&ps, out, 0) == 0) {
		skip_ws(&ps);
		if (ps.p == ps.end)
			return 0;
		fail(&ps, "trailing characters after the document");
	}
	kj_free(out);
	return -1;
}

void
kj_free(struct kj *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++) {
		kj_free(&v->items[i]);
		if (v->keys != NULL)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

const struct kj *
kj_get(const struct kj *v, const char *key)
{
	if (v == NULL || v->type != KJ_OBJ)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (v->keys[i] != NULL && strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

const struct kj *
kj_at(const struct kj *v, size_t i)
{
	if (v == NULL || v->type != KJ_ARR || i >= v->n)
		return NULL;
	return &v->items[i];
}

size_t
kj_len(const struct kj *v)
{
	return v != NULL && v->type == KJ_ARR ? v->n : 0;
}

const char *
kj_str(const struct kj *v)
{
	return v != NULL && v->type == KJ_STR ? v->str : NULL;
}

/* Whole-string strtoull in base; 0 or -1. */
static int
parse_u64(const char *s, int base, uint64_t *out)
{
	unsigned long long x;
	char *end;

	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	x = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (uint64_t)x;
	return 0;
}

int
kj_u64(const struct kj *v, uint64_t *out)
{
	if (v == NULL)
		return -1;
	if (v->type == KJ_NUM)
		return parse_u64(v->str, 10, out);
	if (v->type == KJ_STR) {
		if (v->str[0] == '0' && (v->str[1] == 'x' || v->str[1] == 'X'))
			return v->str[2] != '\0' ? parse_u64(v->str + 2, 16, out) : -1;
		return parse_u64(v->str, 10, out);
	}
	return -1;
}

int
kj_i64(const struct kj *v, int64_t *out)
{
	long long x;
	char *end;

	if (v == NULL || v->type != KJ_NUM)
		return -1;
	errno = 0;
	x = strtoll(v->str, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (int64_t)x;
	return 0;
}
