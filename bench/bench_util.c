/*
 * bench_util.c -- helpers shared by the C workloads: failure reporting,
 * the precomputed random streams, small allocation wrappers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

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
