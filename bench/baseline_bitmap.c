/*
 * baseline_bitmap.c -- a unit (ID) allocator over a bitmap with a second
 * level that marks full words, so finding the lowest free unit reads
 * nbits / 4096 summary words at worst.
 */
#include <errno.h>
#include <stdlib.h>

#include "baseline.h"

int
kb_bitmap_init(struct kb_bitmap *b, size_t nbits)
{
	b->nbits = nbits;
	b->nwords = (nbits + 63) / 64;
	b->nfull = (b->nwords + 63) / 64;
	b->words = calloc(b->nwords ? b->nwords : 1, sizeof(uint64_t));
	b->full = calloc(b->nfull ? b->nfull : 1, sizeof(uint64_t));
	if (b->words == NULL || b->full == NULL) {
		kb_bitmap_fini(b);
		return ENOMEM;
	}
	/* Units past nbits, and summary bits past nwords, are never free. */
	if (nbits % 64 != 0)
		b->words[b->nwords - 1] = ~0ULL << (nbits % 64);
	if (b->nwords % 64 != 0)
		b->full[b->nfull - 1] = ~0ULL << (b->nwords % 64);
	if (nbits % 64 != 0 && b->words[b->nwords - 1] == ~0ULL)
		b->full[(b->nwords - 1) / 64] |= 1ULL << ((b->nwords - 1) % 64);
	return 0;
}

void
kb_bitmap_fini(struct kb_bitmap *b)
{
	free(b->words);
	free(b->full);
	b->words = b->full = NULL;
}

long
kb_bitmap_alloc(struct kb_bitmap *b)
{
	for (size_t i = 0; i < b->nfull; i++) {
		uint64_t f = ~b->full[i];
		size_t w;
		unsigned bit;

		if (f == 0)
			continue;
		w = i * 64 + (size_t)__builtin_ctzll(f);
		bit = (unsigned)__builtin_ctzll(~b->words[w]);
		b->words[w] |= 1ULL << bit;
		if (b->words[w] == ~0ULL)
			b->full[i] |= 1ULL << (w % 64);
		return (long)(w * 64 + bit);
	}
	return -1;
}

void
kb_bitmap_free(struct kb_bitmap *b, size_t unit)
{
	size_t w = unit / 64;

	b->words[w] &= ~(1ULL << (unit % 64));
	b->full[w / 64] &= ~(1ULL << (w % 64));
}
