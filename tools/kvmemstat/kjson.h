/*
 * kjson.h -- a small JSON reader for kvmemstat (and the statfile tests):
 * the whole document becomes a tree of values; numbers keep their text so
 * 64-bit integers are read exactly.
 */
#ifndef KVMEMSTAT_KJSON_H
#define KVMEMSTAT_KJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kj_type { KJ_NULL, KJ_BOOL, KJ_NUM, KJ_STR, KJ_ARR, KJ_OBJ };

struct kj {
	enum kj_type	type;
	bool		b;		/* KJ_BOOL */
	char		*str;		/* KJ_STR: the decoded string; KJ_NUM: its text */
	size_t		n;		/* KJ_ARR, KJ_OBJ: member count */
	struct kj	*items;		/* KJ_ARR: elements; KJ_OBJ: values */
	char		**keys;		/* KJ_OBJ: keys */
};

/*
 * Parse text[0..len) as one JSON value into *out.  Returns 0, or -1 with a
 * message "line L, column C: what" in err (out is then empty).  Nesting
 * deeper than 64 levels is refused.  \u escapes above 0x7f are kept as
 * UTF-8.
 */
int kj_parse(const char *text, size_t len, struct kj *out, char *err, size_t errlen);
void kj_free(struct kj *v);

/* The member key of an object, or NULL (also when v is NULL or not an object). */
const struct kj *kj_get(const struct kj *v, const char *key);
/* Element i of an array, or NULL. */
const struct kj *kj_at(const struct kj *v, size_t i);
/* Members of an array (0 for anything else or NULL). */
size_t kj_len(const struct kj *v);

/*
 * An unsigned integer: a number without fraction or exponent, or a string
 * "0x<hex>" or "<decimal>".  0 on success, -1 otherwise (*out unchanged).
 */
int kj_u64(const struct kj *v, uint64_t *out);
/* A signed integer (a number).  0 or -1. */
int kj_i64(const struct kj *v, int64_t *out);
/* The string, or NULL if v is not a string. */
const char *kj_str(const struct kj *v);

#endif /* KVMEMSTAT_KJSON_H */
