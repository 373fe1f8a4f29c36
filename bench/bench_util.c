/*
 * bench_util.c -- helpers shared by the C workloads: failure reporting,
 * the precomputed random streams, small allocation wrappers.
 */
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "kb_pc.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

uint32_t kb_stream_sizes[KB_STREAM_LEN];
uint32_t kb_stream_picks[KB_STREAM_LEN];

void
kb_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("kvmem-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void *
kb_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		kb_fail("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

/*
 * Fill the streams from a fixed seed, so every run and every allocator
 * sees the same sizes and victims.  Sizes: an octave 16 << e (e uniform in
 * 0..11) plus a uniform offset inside the octave, rounded down to 16.
 */
void
kb_streams_init(void)
{
	static int done;
	uint64_t s = 0x9E3779B97F4A7C15ULL;

	if (done)
		return;
	done = 1;
	for (uint32_t i = 0; i < KB_STREAM_LEN; i++) {
		uint64_t r = kb_rand(&s);
		uint32_t lo = 16u << kb_index(r, 12);
		uint32_t off = (uint32_t)(kb_rand(&s) >> 40) % lo;

		kb_stream_sizes[i] = (lo + off) & ~15u;
		kb_stream_picks[i] = (uint32_t)(kb_rand(&s) >> 32);
	}
}

void
kb_victims_init(struct kb_victims *v, uint32_t n)
{
	v->perm = kb_xcalloc(n, sizeof(*v->perm));
	v->pick = kb_xcalloc(n, sizeof(*v->pick));
	for (uint32_t i = 0; i < n; i++)
		v->perm[i] = i;
	v->n = n;
	v->pos = n;
	v->npick = 0;
	v->rng = 0x2545F4914F6CDD1DULL;
}

void
kb_victims_fini(struct kb_victims *v)
{
	free(v->perm);
	free(v->pick);
	v->perm = v->pick = NULL;
	v->n = v->npick = 0;
}

void
kb_victims_choose(struct kb_victims *v, uint32_t k)
{
	if (k > v->n)
		kb_fail("free batch of %u from only %u live blocks", k, v->n);
	if (v->pos + k > v->n) {
		for (uint32_t i = v->n - 1; i > 0; i--) {
			uint32_t j = kb_index(kb_rand(&v->rng), i + 1), t = v->perm[i];

			v->perm[i] = v->perm[j];
			v->perm[j] = t;
		}
		v->pos = 0;
	}
	memcpy(v->pick, v->perm + v->pos, k * sizeof(*v->pick));
	v->pos += k;
	v->npick = k;
}

const char *
kb_c_compiler(void)
{
#if defined(__clang__)
	return "clang " __clang_version__;
#elif defined(__GNUC__)
	return "gcc " __VERSION__;
#else
	return "unknown C compiler";
#endif
}

/*
 * Spin politely: pause for the first few hundred calls, then yield the CPU
 * (the machine may have fewer free cores than threads), then nap 20 us;
 * after about half a second of naps, 1 ms, and after some 5 s, 10 ms, so a
 * thread idling in a state the shim keeps between benchmarks costs next to
 * nothing.
 */
void
kb_backoff(uint32_t spins)
{
	if (spins < 256) {
		kb_cpu_relax();
	} else if (spins < 2048) {
		sched_yield();
	} else {
		struct timespec ts = { 0, spins < 27000 ? 20000 :
		    spins < 32000 ? 1000000 : 10000000 };

		nanosleep(&ts, NULL);
	}
}

void
kb_backoff_short(uint32_t spins)
{
	kb_backoff(spins < 4000 ? spins : 4000);
}

/* ---- Waiting for a word to change (futex) --------------------------------- */

void
kb_wait_change(_Atomic uint32_t *word, uint32_t old)
{
	for (uint32_t spins = 0; spins < 512; spins++) {
		if (atomic_load_explicit(word, memory_order_acquire) != old)
			return;
		if (spins < 256)
			kb_cpu_relax();
		else
			sched_yield();
	}
	while (atomic_load_explicit(word, memory_order_acquire) == old) {
#ifdef __linux__
		syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, old, NULL, NULL, 0);
#else
		kb_backoff(2048);
#endif
	}
}

void
kb_wake_all(_Atomic uint32_t *word)
{
#ifdef __linux__
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
	(void)word;
#endif
}

/* ---- Producer/consumer ring ---------------------------------------------- */

/*
 * The consumer: drain every run of filled slots (at most two per pass,
 * around the wrap) until told to stop with an empty ring.
 */
static void *
kb_pc_consumer(void *arg)
{
	struct kb_pc *pc = arg;
	uint64_t t = atomic_load_explicit(&pc->tail, memory_order_relaxed);
	uint32_t spins = 0;

	for (;;) {
		uint64_t h = atomic_load_explicit(&pc->head, memory_order_acquire);

		if (h == t) {
			if (atomic_load_explicit(&pc->stop, memory_order_acquire))
				break;
			kb_backoff(spins++);
			continue;
		}
		spins = 0;
		while (t != h) {
			uint32_t at = (uint32_t)(t & (KB_PC_CAP - 1));
			uint32_t run = KB_PC_CAP - at;

			if (run > h - t)
				run = (uint32_t)(h - t);
			pc->drain(pc->ctx, &pc->slot[at], run);
			t += run;
			atomic_store_explicit(&pc->tail, t, memory_order_release);
		}
	}
	return NULL;
}

struct kb_pc *
kb_pc_create(kb_pc_drain_fn *drain, void *ctx)
{
	struct kb_pc *pc;
	size_t sz = (sizeof(*pc) + 63) & ~(size_t)63;

	pc = aligned_alloc(64, sz);
	if (pc == NULL)
		kb_fail("out of memory (producer/consumer ring)");
	memset(pc, 0, sz);
	atomic_init(&pc->head, 0);
	atomic_init(&pc->tail, 0);
	atomic_init(&pc->stop, 0);
	pc->drain = drain;
	pc->ctx = ctx;
	if (pthread_create(&pc->thread, NULL, kb_pc_consumer, pc) != 0)
		kb_fail("cannot start the consumer thread");
	pc->started = 1;
	return pc;
}

void
kb_pc_sync(struct kb_pc *pc)
{
	uint64_t h = atomic_load_explicit(&pc->head, memory_order_relaxed);
	uint32_t spins = 0;

	while (atomic_load_explicit(&pc->tail, memory_order_acquire) != h)
		kb_backoff_short(spins++);
	pc->tail_seen = h;
}

void
kb_pc_destroy(struct kb_pc *pc)
{
	if (pc == NULL)
		return;
	if (pc->started) {
		atomic_store_explicit(&pc->stop, 1, memory_order_release);
		pthread_join(pc->thread, NULL);
	}
	free(pc);
}
