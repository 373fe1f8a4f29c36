/*
 * malloc_common.h -- pair and churn workloads over any malloc-like
 * interface, generated per allocator so the timed loop calls it directly.
 *
 * KB_MALLOC_FAMILY(tag, ALLOC, FREE) defines, for ALLOC(size, flags) and
 * FREE(ptr, size, flags):
 *   tag##_run_pair   q = {size, flags}: allocate and free one block;
 *   tag##_run_churn  q = {-, flags}: free a random slot, refill it;
 *   tag##_setup_churn / tag##_teardown_churn, p = {-, slots}.
 *   tag##_setup_live / tag##_teardown_live, p = {size, live, flags}, and
 *   tag##_prepare_free / tag##_run_free: frees of random live blocks, the
 *   previous batch reallocated (untimed) by prepare.
 * KB_MALLOC_PC(tag, ALLOC, FREE) defines the producer/consumer rows,
 *   p = {size, flags}: tag##_setup_pc starts the consumer thread (kb_pc.h),
 *   tag##_run_pc allocates n blocks and passes them to it, then waits
 *   until all n are freed; one operation is one transfer.
 * The blocks are never written: these rows time the allocator only.
 */
#ifndef KVMEM_BENCH_MALLOC_COMMON_H
#define KVMEM_BENCH_MALLOC_COMMON_H

#include <stdlib.h>

#include "bench.h"
#include "kb_pc.h"

/* Not every allocator uses every generated function. */
#define KB_UNUSED	__attribute__((unused))

struct kb_mstate {
	void		**ptr;
	uint32_t	*size;
	uint32_t	nslots;
	uint64_t	cursor;
	int		flags;		/* the flags setup allocated with */
	struct kb_victims vict;		/* live-free rows */
	int		freed;		/* vict.pick[] are freed */
};

/* Pair setups need no state; any non-NULL pointer will do. */
static inline void *
kb_mstate_none(const uint64_t *p)
{
	static int dummy;

	(void)p;
	return &dummy;
}

static inline void
kb_mstate_none_free(void *st)
{
	(void)st;
}

#define KB_MALLOC_FAMILY(tag, ALLOC, FREE)				\
static KB_UNUSED uint64_t							\
tag##_run_pair(void *st, const uint64_t *q, unsigned tid, uint64_t n)	\
{									\
	size_t size = (size_t)q[0];					\
	int flags = (int)q[1];						\
									\
	(void)st;							\
	(void)tid;							\
	(void)flags;							\
	for (uint64_t i = 0; i < n; i++) {				\
		void *p = ALLOC(size, flags);				\
									\
		if (KB_UNLIKELY(p == NULL))				\
			kb_fail(#tag ": allocation of %zu failed", size); \
		KB_ESCAPE(p);						\
		FREE(p, size, flags);					\
	}								\
	return n;							\
}									\
									\
static KB_UNUSED void *							\
tag##_setup_churn(const uint64_t *p)					\
{									\
	struct kb_mstate *s = kb_xcalloc(1, sizeof(*s));		\
									\
	s->flags = (int)p[2];						\
	s->nslots = (uint32_t)p[1];					\
	s->ptr = kb_xcalloc(s->nslots, sizeof(*s->ptr));		\
	s->size = kb_xcalloc(s->nslots, sizeof(*s->size));		\
	for (uint32_t k = 0; k < s->nslots; k++) {			\
		s->size[k] = kb_churn_size(s->cursor++);		\
		s->ptr[k] = ALLOC(s->size[k], s->flags);		\
		if (s->ptr[k] == NULL)					\
			kb_fail(#tag ": churn setup failed");		\
	}								\
	return s;							\
}									\
									\
static KB_UNUSED void							\
tag##_teardown_churn(void *st)						\
{									\
	struct kb_mstate *s = st;					\
									\
	(void)s->flags;							\
	for (uint32_t k = 0; k < s->nslots; k++)			\
		FREE(s->ptr[k], s->size[k], s->flags);			\
	free(s->ptr);							\
	free(s->size);							\
	free(s);							\
}									\
									\
static KB_UNUSED uint64_t							\
tag##_run_churn(void *st, const uint64_t *q, unsigned tid, uint64_t n)	\
{									\
	struct kb_mstate *s = st;					\
	int flags = s->flags;						\
									\
	(void)q;							\
	(void)tid;							\
	(void)flags;							\
	for (uint64_t i = 0; i < n; i++) {				\
		uint64_t c = s->cursor++;				\
		uint32_t k = kb_churn_pick(c, s->nslots);		\
									\
		FREE(s->ptr[k], s->size[k], flags);			\
		s->size[k] = kb_churn_size(c);				\
		s->ptr[k] = ALLOC(s->size[k], flags);			\
		if (KB_UNLIKELY(s->ptr[k] == NULL))			\
			kb_fail(#tag ": churn allocation failed");	\
	}								\
	return n;							\
}

#define KB_MALLOC_LIVE(tag, ALLOC, FREE)				\
static KB_UNUSED void *							\
tag##_setup_live(const uint64_t *p)					\
{									\
	struct kb_mstate *s = kb_xcalloc(1, sizeof(*s));		\
									\
	s->flags = (int)p[2];						\
	s->nslots = (uint32_t)p[1];					\
	s->ptr = kb_xcalloc(s->nslots, sizeof(*s->ptr));		\
	s->size = kb_xcalloc(1, sizeof(*s->size));			\
	s->size[0] = (uint32_t)p[0];					\
	for (uint32_t k = 0; k < s->nslots; k++)			\
		if ((s->ptr[k] = ALLOC(s->size[0], s->flags)) == NULL)	\
			kb_fail(#tag ": live setup failed");		\
	kb_victims_init(&s->vict, s->nslots);				\
	return s;							\
}									\
									\
static KB_UNUSED void							\
tag##_refill(struct kb_mstate *s)					\
{									\
	if (!s->freed)							\
		return;							\
	for (uint32_t i = 0; i < s->vict.npick; i++)			\
		if ((s->ptr[s->vict.pick[i]] = ALLOC(s->size[0], s->flags)) == NULL) \
			kb_fail(#tag ": refill failed");		\
	s->freed = 0;							\
}									\
									\
static KB_UNUSED void							\
tag##_teardown_live(void *st)						\
{									\
	struct kb_mstate *s = st;					\
									\
	tag##_refill(s);						\
	for (uint32_t k = 0; k < s->nslots; k++)			\
		FREE(s->ptr[k], s->size[0], s->flags);			\
	kb_victims_fini(&s->vict);					\
	free(s->ptr);							\
	free(s->size);							\
	free(s);							\
}									\
									\
static KB_UNUSED void							\
tag##_prepare_free(void *st, const uint64_t *q, uint64_t n)		\
{									\
	struct kb_mstate *s = st;					\
									\
	(void)q;							\
	tag##_refill(s);						\
	kb_victims_choose(&s->vict, (uint32_t)n);			\
}									\
									\
static KB_UNUSED uint64_t						\
tag##_run_free(void *st, const uint64_t *q, unsigned tid, uint64_t n)	\
{									\
	struct kb_mstate *s = st;					\
	size_t size = s->size[0];					\
	int flags = s->flags;						\
	const uint32_t *pick = s->vict.pick;				\
									\
	(void)q;							\
	(void)tid;							\
	(void)size;							\
	(void)flags;							\
	for (uint64_t i = 0; i < n; i++)				\
		FREE(s->ptr[pick[i]], size, flags);			\
	s->freed = 1;							\
	return n;							\
}

#define KB_MALLOC_PC(tag, ALLOC, FREE)					\
struct tag##_pcstate {							\
	struct kb_pc	*pc;						\
	size_t		size;						\
	int		flags;						\
};									\
									\
static void								\
tag##_pc_drain(void *ctx, const uintptr_t *items, uint32_t n)		\
{									\
	struct tag##_pcstate *s = ctx;					\
	size_t size = s->size;						\
	int flags = s->flags;						\
									\
	(void)size;							\
	(void)flags;							\
	for (uint32_t i = 0; i < n; i++)				\
		FREE((void *)items[i], size, flags);			\
}									\
									\
static void *								\
tag##_setup_pc(const uint64_t *p)					\
{									\
	struct tag##_pcstate *s = kb_xcalloc(1, sizeof(*s));		\
									\
	s->size = (size_t)p[0];						\
	s->flags = (int)p[1];						\
	s->pc = kb_pc_create(tag##_pc_drain, s);			\
	return s;							\
}									\
									\
static void								\
tag##_teardown_pc(void *st)						\
{									\
	struct tag##_pcstate *s = st;					\
									\
	kb_pc_destroy(s->pc);						\
	free(s);							\
}									\
									\
static uint64_t								\
tag##_run_pc(void *st, const uint64_t *q, unsigned tid, uint64_t n)	\
{									\
	struct tag##_pcstate *s = st;					\
	struct kb_pc *pc = s->pc;					\
	size_t size = s->size;						\
	int flags = s->flags;						\
									\
	(void)q;							\
	(void)tid;							\
	(void)flags;							\
	for (uint64_t i = 0; i < n; i++) {				\
		void *p = ALLOC(size, flags);				\
									\
		if (KB_UNLIKELY(p == NULL))				\
			kb_fail(#tag ": allocation of %zu failed", size); \
		kb_pc_push(pc, (uintptr_t)p);				\
	}								\
	kb_pc_sync(pc);							\
	return n;							\
}

/* A producer/consumer row of size-byte transfers. */
#define KB_PC_ROW(row, impl, tag, size, fl) \
	{ row, NULL, NULL, impl, tag##_setup_pc, tag##_teardown_pc, NULL, \
	  tag##_run_pc, NULL, { size, fl }, { 0 }, 0, 0, KB_REALTIME }

/* A live-free row: free of random blocks among `live` of `size` bytes. */
#define KB_LIVE_FREE(impl, tag, size, live, fl, cgfl) \
	{ "live_free", "live", #live, impl, tag##_setup_live, \
	  tag##_teardown_live, tag##_prepare_free, tag##_run_free, NULL, \
	  { size, live, fl }, { 0 }, 100, 0, cgfl }

#endif /* KVMEM_BENCH_MALLOC_COMMON_H */
