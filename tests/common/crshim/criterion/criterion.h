/*
 * A minimal stand-in for <criterion/criterion.h>, used only to build the
 * 'threads' suite under ThreadSanitizer: Criterion 2.4 cannot start under
 * TSan (its BoxFort arena maps fixed addresses inside TSan's shadow memory;
 * Criterion issue #274).  It supports what the thread tests use: Test and
 * TestSuite with .init/.fini/.timeout/.signal/.exit_code/.disabled, the
 * cr_assert family and cr_log_*.  Each test runs in a forked child; the
 * runner prints TAP like `--tap=-`.
 */
#ifndef KVMEM_CRSHIM_CRITERION_H
#define KVMEM_CRSHIM_CRITERION_H

/* What the real header pulls in, so tests compile the same with both. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

struct crs_opts {
	int		dummy_;		/* keeps the initializer non-empty */
	double		timeout;
	int		signal;
	int		exit_code;
	int		disabled;
	void		(*init)(void);
	void		(*fini)(void);
	const char	*description;
};

struct crs_test {
	const char		*suite;
	const char		*name;
	void			(*fn)(void);
	struct crs_opts		opts;
	struct crs_test		*next;
};

struct crs_suite {
	const char		*name;
	struct crs_opts		opts;
	struct crs_suite	*next;
};

void crs_register_test(struct crs_test *t);
void crs_register_suite(struct crs_suite *s);
void crs_fail(const char *file, int line, const char *expr, const char *fmt, ...);
void crs_log(const char *level, const char *fmt, ...);

#define CRS_CAT_(a, b)	a##b
#define CRS_CAT(a, b)	CRS_CAT_(a, b)

/* Test(Suite, Name, options...) */
#define Test(...)	CRS_TEST_(__VA_ARGS__, )
#define CRS_TEST_(S, N, ...)						\
	static void crs_fn_##S##_##N(void);				\
	static struct crs_test crs_t_##S##_##N = {			\
		.suite = #S, .name = #N, .fn = crs_fn_##S##_##N,	\
		.opts = { .dummy_ = 0, __VA_ARGS__ } };		\
	__attribute__((constructor)) static void			\
	crs_reg_##S##_##N(void)						\
	{								\
		crs_register_test(&crs_t_##S##_##N);			\
	}								\
	static void crs_fn_##S##_##N(void)

/* TestSuite(Name, options...) */
#define TestSuite(...)	CRS_SUITE_(__VA_ARGS__, )
#define CRS_SUITE_(S, ...)						\
	static struct crs_suite crs_s_##S = {				\
		.name = #S, .opts = { .dummy_ = 0, __VA_ARGS__ } };	\
	__attribute__((constructor)) static void crs_sreg_##S(void)	\
	{								\
		crs_register_suite(&crs_s_##S);				\
	}								\
	struct crs_suite_end_##S

/* cr_assert(cond[, fmt, args...]) and friends: fail and end the test. */
#define cr_assert(...)		CRS_ASSERT_(__VA_ARGS__, "")
#define CRS_ASSERT_(c, ...)						\
	do {								\
		if (!(c))						\
			crs_fail(__FILE__, __LINE__, #c, __VA_ARGS__);	\
	} while (0)
#define cr_assert_not(...)	CRS_ASSERT_NOT_(__VA_ARGS__, "")
#define CRS_ASSERT_NOT_(c, ...)	CRS_ASSERT_(!(c), __VA_ARGS__)
#define cr_assert_fail(...)	crs_fail(__FILE__, __LINE__, "fail", __VA_ARGS__, "")

#define CRS_CMP_(op, a, b, ...)						\
	do {								\
		if (!((a) op (b)))					\
			crs_fail(__FILE__, __LINE__, #a " " #op " " #b,	\
			    __VA_ARGS__);				\
	} while (0)
#define cr_assert_eq(...)	CRS_CMP_(==, __VA_ARGS__, "")
#define cr_assert_neq(...)	CRS_CMP_(!=, __VA_ARGS__, "")
#define cr_assert_lt(...)	CRS_CMP_(<, __VA_ARGS__, "")
#define cr_assert_leq(...)	CRS_CMP_(<=, __VA_ARGS__, "")
#define cr_assert_gt(...)	CRS_CMP_(>, __VA_ARGS__, "")
#define cr_assert_geq(...)	CRS_CMP_(>=, __VA_ARGS__, "")

#define CRS_NULL_(op, p, ...)						\
	do {								\
		if (!((const void *)(p) op NULL))			\
			crs_fail(__FILE__, __LINE__, #p " " #op " NULL",\
			    __VA_ARGS__);				\
	} while (0)
#define cr_assert_null(...)	CRS_NULL_(==, __VA_ARGS__, "")
#define cr_assert_not_null(...)	CRS_NULL_(!=, __VA_ARGS__, "")

#define CRS_STR_(op, a, b, ...)						\
	do {								\
		if (!(strcmp((a), (b)) op 0))				\
			crs_fail(__FILE__, __LINE__,			\
			    "strcmp(" #a ", " #b ") " #op " 0", __VA_ARGS__);\
	} while (0)
#define cr_assert_str_eq(...)	CRS_STR_(==, __VA_ARGS__, "")
#define cr_assert_str_neq(...)	CRS_STR_(!=, __VA_ARGS__, "")

#define cr_log_info(...)	crs_log("info", __VA_ARGS__)
#define cr_log_warn(...)	crs_log("warning", __VA_ARGS__)
#define cr_log_error(...)	crs_log("error", __VA_ARGS__)

#endif /* KVMEM_CRSHIM_CRITERION_H */
