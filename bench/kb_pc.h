/*
 * kb_pc.h -- the producer/consumer rig: a bounded single-producer,
 * single-consumer ring of addresses and a consumer thread that frees what
 * comes out of it.
 *
 * The timed thread allocates and pushes (kb_pc_push); the consumer thread,
 * started at setup and kept for the life of the state, pops runs of
 * addresses and hands each run to the allocator's drain function, which
 * frees them with direct calls.  kb_pc_sync() waits until everything
 * pushed has been freed, so a timed batch covers whole transfers.
 */
#ifndef KVMEM_BENCH_KB_PC_H
#define KVMEM_BENCH_KB_PC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "bench.h"

#define KB_PC_CAP	1024u	/* ring slots (a power of two) */

/* Sleep until *word != old (a short spin first); wake every such sleeper. */
void kb_wait_change(_Atomic uint32_t *word, uint32_t old);
void kb_wake_all(_Atomic uint32_t *word);

/* Frees n addresses of one size; runs in the consumer thread. */
typedef void kb_pc_drain_fn(void *ctx, const uintptr_t *items, uint32_t n);

struct kb_pc {
	/* Producer side. */
	_Alignas(64) _Atomic uint64_t head;	/* next slot to fill */
	uint64_t	tail_seen;		/* producer's copy of tail */
	/* Consumer side. */
	_Alignas(64) _Atomic uint64_t tail;	/* next slot to drain */
	_Atomic int	stop;
	kb_pc_drain_fn	*drain;
	void		*ctx;
	pthread_t	thread;
	int		started;
	_Alignas(64) uintptr_t slot[KB_PC_CAP];
};

/*
 * A ring with its consumer thread running drain(ctx, ...).  Exits through
 * kb_fail() if the thread cannot be made.  Free with kb_pc_destroy().
 */
struct kb_pc *kb_pc_create(kb_pc_drain_fn *drain, void *ctx);
/* Stop and join the consumer after it has drained the ring; free it. */
void kb_pc_destroy(struct kb_pc *pc);

/* Wait until the consumer has taken everything pushed so far. */
void kb_pc_sync(struct kb_pc *pc);

/* Producer only: append one address, waiting while the ring is full. */
static inline void
kb_pc_push(struct kb_pc *pc, uintptr_t item)
{
	uint64_t h = atomic_load_explicit(&pc->head, memory_order_relaxed);

	if (KB_UNLIKELY(h - pc->tail_seen >= KB_PC_CAP)) {
		uint32_t spins = 0;

		while (h - (pc->tail_seen = atomic_load_explicit(&pc->tail,
		    memory_order_acquire)) >= KB_PC_CAP)
			kb_backoff_short(spins++);
	}
	pc->slot[h & (KB_PC_CAP - 1)] = item;
	atomic_store_explicit(&pc->head, h + 1, memory_order_release);
}

#endif /* KVMEM_BENCH_KB_PC_H */
