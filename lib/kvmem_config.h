/*
 * Internal configuration header, included first by every library source.
 * C11 with glibc hides MAP_ANONYMOUS and friends under _POSIX_C_SOURCE, so
 * ask for the default feature set here, once.
 */
#ifndef KVMEM_CONFIG_H
#define KVMEM_CONFIG_H

#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

/*
 * Assertion tiers:
 *   KVMEM_ASSERT_ALWAYS  misuse and corruption checks, in every build;
 *   KVMEM_DEBUG          internal invariants (meson -Ddebug_checks=true);
 *   KVMEM_EXPENSIVE      whole-structure checks after each operation
 *                        (meson -Dexpensive_checks=true).
 */
#include <stdio.h>
#include <stdlib.h>

#define KVMEM_PANIC(...) do {						\
	fprintf(stderr, "kvmem: " __VA_ARGS__);				\
	fputc('\n', stderr);						\
	abort();							\
} while (0)

#define KVMEM_ASSERT_ALWAYS(cond) do {					\
	if (__builtin_expect(!(cond), 0))				\
		KVMEM_PANIC("%s:%d: assertion '%s' failed",		\
		    __FILE__, __LINE__, #cond);				\
} while (0)

#ifdef KVMEM_DEBUG
#define KVMEM_ASSERT(cond)	KVMEM_ASSERT_ALWAYS(cond)
#else
#define KVMEM_ASSERT(cond)	((void)0)
#endif

#define KVMEM_LIKELY(x)		__builtin_expect(!!(x), 1)
#define KVMEM_UNLIKELY(x)	__builtin_expect(!!(x), 0)

/*
 * Initialize a mutex that is held briefly and often contended (the
 * simulated machine's domain, pmap and object locks): glibc's adaptive
 * kind spins a little before sleeping in the kernel, which spares two
 * threads working the same machine a futex wake and wait per hand-off.
 * A plain mutex elsewhere.
 */
#include <pthread.h>
static inline int
kvmem_mutex_init_adaptive(pthread_mutex_t *m)
{
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	pthread_mutexattr_t a;
	int error;
	if (pthread_mutexattr_init(&a) != 0)
		return pthread_mutex_init(m, NULL);
	(void)pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
	error = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return error;
#else
	return pthread_mutex_init(m, NULL);
#endif
}

#endif /* KVMEM_CONFIG_H */
