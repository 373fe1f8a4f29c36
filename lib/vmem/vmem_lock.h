/*
 * vmem_lock.h -- the arena lock and the sleepers' wait queue.
 *
 * On Linux: a three-state futex lock (0 free, 1 held, 2 held and maybe
 * waited for).  The uncontended acquire is one compare-and-swap and the
 * release one exchange, against some thirty instructions each for glibc's
 * pthread_mutex_lock/unlock; this is on every segment-path operation.  The
 * wait queue is a futex sequence counter: a sleeper samples it under the
 * lock, drops the lock and sleeps only while the counter is unchanged; a
 * waker bumps it under the lock.  All ordering goes through C11 atomics, so
 * ThreadSanitizer sees every happens-before edge.
 *
 * Elsewhere: pthread mutex and condition variable.
 */
#ifndef KVMEM_VMEM_LOCK_H
#define KVMEM_VMEM_LOCK_H

#include "kvmem_config.h"

#include <stdint.h>

#ifdef __linux__
#include <limits.h>
#include <linux/futex.h>
#include <time.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct { _Atomic uint32_t state; } vmem_lock_t;
typedef struct { _Atomic uint32_t seq; } vmem_waitq_t;

static inline void
vmem_futex_wait(_Atomic uint32_t *word, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static inline void
vmem_futex_wait_ns(_Atomic uint32_t *word, uint32_t val, long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

static inline void
vmem_futex_wake(_Atomic uint32_t *word, int n)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static inline int
vmem_lock_init(vmem_lock_t *l)
{
	atomic_init(&l->state, 0);
	return 0;
}

static inline void
vmem_lock_fini(vmem_lock_t *l)
{
	(void)l;
}

/* Take the lock marking it contended (after a sleep, or when spinning failed). */
static inline void
vmem_lock_contended(vmem_lock_t *l)
{
	while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
		vmem_futex_wait(&l->state, 2);
}

/* Contended acquire: spin briefly, then sleep (vmem.c). */
void vmem__lock_slow(vmem_lock_t *l);

static inline void
vmem_lock(vmem_lock_t *l)
{
	uint32_t expect = 0;
	if (KVMEM_LIKELY(atomic_compare_exchange_strong_explicit(&l->state, &expect,
	    1, memory_order_acquire, memory_order_relaxed)))
		return;
	vmem__lock_slow(l);
}

static inline void
vmem_unlock(vmem_lock_t *l)
{
	if (KVMEM_UNLIKELY(atomic_exchange_explicit(&l->state, 0,
	    memory_order_release) == 2))
		vmem_futex_wake(&l->state, 1);
}

static inline int
vmem_waitq_init(vmem_waitq_t *q)
{
	atomic_init(&q->seq, 0);
	return 0;
}

static inline void
vmem_waitq_fini(vmem_waitq_t *q)
{
	(void)q;
}

/* Lock held on entry and on return; may return spuriously. */
static inline void
vmem_waitq_sleep(vmem_waitq_t *q, vmem_lock_t *l)
{
	uint32_t seq = atomic_load_explicit(&q->seq, memory_order_relaxed);
	vmem_unlock(l);
	vmem_futex_wait(&q->seq, seq);
	vmem_lock_contended(l);
}

/* As vmem_waitq_sleep, but returns after at most ns nanoseconds. */
static inline void
vmem_waitq_sleep_ns(vmem_waitq_t *q, vmem_lock_t *l, long ns)
{
	uint32_t seq = atomic_load_explicit(&q->seq, memory_order_relaxed);
	vmem_unlock(l);
	vmem_futex_wait_ns(&q->seq, seq, ns);
	vmem_lock_contended(l);
}

/* Lock held. */
static inline void
vmem_waitq_wakeall(vmem_waitq_t *q)
{
	atomic_fetch_add_explicit(&q->seq, 1, memory_order_release);
	vmem_futex_wake(&q->seq, INT_MAX);
}

#else /* !__linux__ */
#include <pthread.h>
#include <time.h>

typedef pthread_mutex_t vmem_lock_t;
typedef pthread_cond_t vmem_waitq_t;

static inline int vmem_lock_init(vmem_lock_t *l) { return pthread_mutex_init(l, NULL); }
static inline void vmem_lock_fini(vmem_lock_t *l) { pthread_mutex_destroy(l); }
static inline void vmem_lock(vmem_lock_t *l) { pthread_mutex_lock(l); }
static inline void vmem_unlock(vmem_lock_t *l) { pthread_mutex_unlock(l); }
static inline int vmem_waitq_init(vmem_waitq_t *q) { return pthread_cond_init(q, NULL); }
static inline void vmem_waitq_fini(vmem_waitq_t *q) { pthread_cond_destroy(q); }
static inline void vmem_waitq_sleep(vmem_waitq_t *q, vmem_lock_t *l) { pthread_cond_wait(q, l); }
static inline void vmem_waitq_wakeall(vmem_waitq_t *q) { pthread_cond_broadcast(q); }
static inline void
vmem_waitq_sleep_ns(vmem_waitq_t *q, vmem_lock_t *l, long ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ns % 1000000000L;
	ts.tv_sec += ns / 1000000000L + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(q, l, &ts);
}
#endif

#endif /* KVMEM_VMEM_LOCK_H */
