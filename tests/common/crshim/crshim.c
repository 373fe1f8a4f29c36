/*
 * crshim.c -- the runner behind the Criterion stand-in (criterion/criterion.h
 * in this directory), for the ThreadSanitizer build of the 'threads' suite.
 *
 * Runs every registered test in a forked child (suite and test .init, the
 * test, test and suite .fini), with alarm() for .timeout, and prints TAP on
 * stdout: a test passes when the child exits 0, or dies of the expected
 * .signal, or exits with the expected .exit_code.  Arguments other than
 * --filter=SUITE/NAME-PREFIX are accepted and ignored (meson passes --tap=-).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

static struct crs_test *tests;
static struct crs_suite *suites;

void
crs_register_test(struct crs_test *t)
{
	t->next = tests;
	tests = t;
}

void
crs_register_suite(struct crs_suite *s)
{
	s->next = suites;
	suites = s;
}

void
crs_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s:%d: Assertion failed: %s\n  ", file, line, expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	_exit(1);
}

void
crs_log(const char *level, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%s] ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static const struct crs_suite *
suite_of(const struct crs_test *t)
{
	for (const struct crs_suite *s = suites; s != NULL; s = s->next)
		if (strcmp(s->name, t->suite) == 0)
			return (s);
	return (NULL);
}

static int
cmp_test(const void *a, const void *b)
{
	const struct crs_test *x = *(const struct crs_test *const *)a;
	const struct crs_test *y = *(const struct crs_test *const *)b;
	int c = strcmp(x->suite, y->suite);

	return (c != 0 ? c : strcmp(x->name, y->name));
}

/* Run one test in a child; returns 1 if it passed, with a note in why. */
static int
run_one(const struct crs_test *t, char *why, size_t whylen)
{
	const struct crs_suite *s = suite_of(t);
	double timeout = t->opts.timeout;
	int status;
	pid_t pid;

	if (timeout == 0 && s != NULL)
		timeout = s->opts.timeout;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return (0);
	}
	if (pid == 0) {
		if (timeout > 0)
			alarm((unsigned)timeout + (timeout > (unsigned)timeout));
		if (s != NULL && s->opts.init != NULL)
			s->opts.init();
		if (t->opts.init != NULL)
			t->opts.init();
		t->fn();
		if (t->opts.fini != NULL)
			t->opts.fini();
		if (s != NULL && s->opts.fini != NULL)
			s->opts.fini();
		fflush(NULL);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			return (0);
		}
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		if (t->opts.signal != 0 && sig == t->opts.signal)
			return (1);
		snprintf(why, whylen, "%s (signal %d)",
		    sig == SIGALRM ? "timed out" : "crashed", sig);
		return (0);
	}
	if (WEXITSTATUS(status) == t->opts.exit_code && t->opts.signal == 0)
		return (1);
	snprintf(why, whylen, "exit status %d", WEXITSTATUS(status));
	return (0);
}

int
main(int argc, char **argv)
{
	const char *filter = NULL;
	struct crs_test **v;
	size_t n = 0, i, failed = 0;

	for (int a = 1; a < argc; a++)
		if (strncmp(argv[a], "--filter=", 9) == 0)
			filter = argv[a] + 9;
	for (struct crs_test *t = tests; t != NULL; t = t->next)
		n++;
	v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL)
		return (2);
	n = 0;
	for (struct crs_test *t = tests; t != NULL; t = t->next)
		v[n++] = t;
	qsort(v, n, sizeof(*v), cmp_test);
	printf("TAP version 13\n1..%zu\n", n);
	for (i = 0; i < n; i++) {
		const struct crs_test *t = v[i];
		const struct crs_suite *s = suite_of(t);
		char name[512], alt[512], why[256] = "";

		snprintf(name, sizeof(name), "%s::%s", t->suite, t->name);
		snprintf(alt, sizeof(alt), "%s/%s", t->suite, t->name);
		if (t->opts.disabled || (s != NULL && s->opts.disabled) ||
		    (filter != NULL && strncmp(name, filter, strlen(filter)) != 0 &&
		    strncmp(alt, filter, strlen(filter)) != 0)) {
			printf("ok %zu - %s # SKIP\n", i + 1, name);
			continue;
		}
		if (run_one(t, why, sizeof(why))) {
			printf("ok %zu - %s\n", i + 1, name);
		} else {
			printf("not ok %zu - %s # %s\n", i + 1, name, why);
			failed++;
		}
		fflush(stdout);
	}
	fprintf(stderr, "[====] Synthesis: Tested: %zu | Passing: %zu | "
	    "Failing: %zu\n", n, n - failed, failed);
	free(v);
	return (failed != 0);
}
