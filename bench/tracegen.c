/*
 * tracegen.c -- kvmem-tracegen: write synthetic allocation traces in the
 * CSV format of bench/README.md, deterministically from a seed.
 *
 *   kvmem-tracegen [--seed N] [--allocs N] [--live N] [-o FILE] KIND
 *   kvmem-tracegen --all DIR        the standard traces, DIR/KIND.csv
 *                                   (DIR is created if missing)
 *   kvmem-tracegen --list           the kinds and their defaults
 *
 * The model (same for every kind, parameters per kind): at each step a
 * thread is picked uniformly; it allocates with probability
 * live_target / (live_target + live), else frees, so the live population
 * hovers around live_target.  A free takes, with probability `recent`, one
 * of the 8 most recently allocated live blocks of the chosen owner (short
 * lifetimes, stack-like), else a uniformly random live block of that owner
 * (long lifetimes).  With probability `cross` (multi-thread kinds) the owner
 * is another thread: a uniformly random block of that thread is freed by a
 * thread that did not allocate it (never one of its youngest, which would
 * make a replay wait for the other thread at nearly every such free).  The producer/consumer kind instead has thread 0 allocate and thread 1
 * free the oldest block, keeping between lag_min and lag_max in flight.
 * After `allocs` allocations every live block is freed in random order (by
 * its owner), so the trace is closed and a replay can loop over it.
 * Sizes come from the kind's size mix; all are multiples of 8 bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum mix { MIX_SMALL, MIX_PAGES, MIX_MIXED, MIX_PC };

struct kind {
	const char	*name;
	const char	*what;
	enum mix	mix;
	unsigned	threads;
	unsigned long	allocs;		/* allocations before the closing frees */
	unsigned long	live;		/* live target (prodcons: lag_max) */
	double		recent;		/* share of frees among the 8 youngest */
	double		cross;		/* share of frees by another thread */
	unsigned long	quantum;	/* hint for arena backends */
	unsigned long	seed;
	int		prodcons;
};

static const struct kind kinds[] = {
	{ "small", "1 thread, small objects 8 B - 32 KiB (mostly <= 256 B)",
	  MIX_SMALL, 1, 150000, 4000, 0.6, 0.0, 16, 1, 0 },
	{ "pages", "1 thread, page multiples 4 KiB - 1 MiB (mostly 1-4 pages)",
	  MIX_PAGES, 1, 60000, 1000, 0.5, 0.0, 4096, 2, 0 },
	{ "mixed2t", "2 threads, 85% small + 15% pages, 20% of frees cross-thread",
	  MIX_MIXED, 2, 100000, 4000, 0.6, 0.2, 16, 3, 0 },
	{ "prodcons2t", "2 threads: thread 0 allocates 32-256 B, thread 1 frees "
	  "the oldest (256-1024 in flight)", MIX_PC, 2, 100000, 1024, 0, 0, 16, 4, 1 },
};
#define NKINDS	(sizeof(kinds) / sizeof(kinds[0]))

/* xorshift64*, as the benchmarks use. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi]. */
static uint64_t
uni(uint64_t *s, uint64_t lo, uint64_t hi)
{
	return lo + (rnd(s) >> 11) % (hi - lo + 1);
}

static double
unit(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

static uint64_t
size_small(uint64_t *s)
{
	double u = unit(s);

	if (u < 0.40) return 8 * uni(s, 1, 8);		/* 8 - 64 */
	if (u < 0.70) return 8 * uni(s, 9, 32);		/* 72 - 256 */
	if (u < 0.90) return 8 * uni(s, 33, 128);	/* 264 - 1024 */
	if (u < 0.98) return 8 * uni(s, 129, 512);	/* to 4 KiB */
	return 8 * uni(s, 513, 4096);			/* to 32 KiB */
}

static uint64_t
size_pages(uint64_t *s)
{
	double u = unit(s);

	if (u < 0.60) return 4096;
	if (u < 0.85) return 4096 * uni(s, 2, 4);
	if (u < 0.95) return 4096 * uni(s, 5, 16);
	if (u < 0.99) return 4096 * uni(s, 17, 64);
	return 4096 * uni(s, 65, 256);
}

static uint64_t
size_of(const struct kind *k, uint64_t *s)
{
	switch (k->mix) {
	case MIX_SMALL:	return size_small(s);
	case MIX_PAGES:	return size_pages(s);
	case MIX_MIXED:	return unit(s) < 0.85 ? size_small(s) : size_pages(s);
	case MIX_PC:	return 16 * uni(s, 2, 16);
	}
	return 64;
}

/* A growable array of live allocations: event index and size. */
struct live {
	uint64_t	*ev;
	uint64_t	*size;
	size_t		n, cap;
};

static void
live_push(struct live *l, uint64_t ev, uint64_t size)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->ev = realloc(l->ev, l->cap * sizeof(*l->ev));
		l->size = realloc(l->size, l->cap * sizeof(*l->size));
		if (l->ev == NULL || l->size == NULL) {
			fprintf(stderr, "kvmem-tracegen: out of memory\n");
			exit(1);
		}
	}
	l->ev[l->n] = ev;
	l->size[l->n] = size;
	l->n++;
}

/* Remove entry j by moving the last one into its place. */
static void
live_take(struct live *l, size_t j, uint64_t *ev, uint64_t *size)
{
	*ev = l->ev[j];
	*size = l->size[j];
	l->n--;
	l->ev[j] = l->ev[l->n];
	l->size[j] = l->size[l->n];
}

struct out {
	FILE		*f;
	uint64_t	nev;
};

static void
emit_alloc(struct out *o, struct live *l, unsigned t, uint64_t size)
{
	fprintf(o->f, "a,%llu,,%u\n", (unsigned long long)size, t);
	live_push(l, o->nev++, size);
}

static void
emit_free(struct out *o, unsigned t, uint64_t ev, uint64_t size)
{
	fprintf(o->f, "f,%llu,%llu,%u\n", (unsigned long long)size,
	    (unsigned long long)ev, t);
	o->nev++;
}

/*
 * Write trace kind k with the given seed, allocation count and live target
 * to f.  Returns 0, or -1 on an output error.
 */
static int
generate(const struct kind *k, uint64_t seed, unsigned long allocs,
    unsigned long target, FILE *f)
{
	struct live live[2] = { { 0 }, { 0 } };
	struct out o = { f, 0 };
	uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	uint64_t ev, size;
	unsigned long made = 0;
	size_t head = 0;	/* prodcons: oldest live block in live[0] */

	fprintf(f, "# kvmem allocation trace, format 1\n");
	fprintf(f, "# kind %s: %s\n", k->name, k->what);
	fprintf(f, "# generator kvmem-tracegen --seed %llu --allocs %lu --live %lu %s\n",
	    (unsigned long long)seed, allocs, target, k->name);
	fprintf(f, "# quantum %lu\n# threads %u\n", k->quantum, k->threads);
	fprintf(f, "op,size,ref,thread\n");
	(void)rnd(&s);

	if (k->prodcons) {
		unsigned long lag_min = target / 4;

		while (made < allocs) {
			size_t inflight = live[0].n - head;
			int alloc = inflight < lag_min ? 1 : inflight >= target ? 0 :
			    (int)(rnd(&s) >> 63);

			if (alloc) {
				emit_alloc(&o, &live[0], 0, size_of(k, &s));
				made++;
			} else {
				emit_free(&o, 1, live[0].ev[head], live[0].size[head]);
				head++;
			}
		}
		for (; head < live[0].n; head++)
			emit_free(&o, 1, live[0].ev[head], live[0].size[head]);
	} else {
		while (made < allocs) {
			unsigned t = k->threads > 1 ? (unsigned)(rnd(&s) >> 63) : 0;
			size_t nlive = live[0].n + live[1].n;
			double pa = (double)target / (double)(target + nlive);

			if (nlive == 0 || unit(&s) < pa) {
				emit_alloc(&o, &live[t], t, size_of(k, &s));
				made++;
				continue;
			}
			unsigned owner = t;
			if (k->threads > 1 && unit(&s) < k->cross)
				owner = 1 - t;
			if (live[owner].n == 0)
				owner = 1 - owner;
			struct live *l = &live[owner];
			size_t j;
			if (owner == t && unit(&s) < k->recent) {
				size_t w = l->n < 8 ? l->n : 8;
				j = l->n - 1 - (size_t)uni(&s, 0, w - 1);
			} else {
				j = (size_t)uni(&s, 0, l->n - 1);
			}
			live_take(l, j, &ev, &size);
			emit_free(&o, t, ev, size);
		}
		for (unsigned t = 0; t < 2; t++)
			while (live[t].n > 0) {
				live_take(&live[t], (size_t)uni(&s, 0, live[t].n - 1),
				    &ev, &size);
				emit_free(&o, t, ev, size);
			}
	}
	for (unsigned t = 0; t < 2; t++) {
		free(live[t].ev);
		free(live[t].size);
	}
	return ferror(f) ? -1 : 0;
}

static const struct kind *
find_kind(const char *name)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

static int
write_file(const struct kind *k, uint64_t seed, unsigned long allocs,
    unsigned long live, const char *path)
{
	FILE *f = path != NULL ? fopen(path, "w") : stdout;
	int err;

	if (f == NULL) {
		fprintf(stderr, "kvmem-tracegen: %s: %s\n", path, strerror(errno));
		return 1;
	}
	err = generate(k, seed, allocs, live, f);
	if (path != NULL && fclose(f) != 0)
		err = -1;
	if (err != 0) {
		fprintf(stderr, "kvmem-tracegen: write error on %s\n",
		    path != NULL ? path : "stdout");
		return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: kvmem-tracegen [--seed N] [--allocs N] [--live N] [-o FILE] KIND\n"
	    "       kvmem-tracegen --all DIR\n"
	    "       kvmem-tracegen --list\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *out = NULL, *name = NULL, *all = NULL;
	unsigned long long seed = 0;
	unsigned long allocs = 0, live = 0;
	int have_seed = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--list") == 0) {
			for (size_t k = 0; k < NKINDS; k++)
				printf("%-11s seed %lu, %lu allocations, live %lu, quantum %lu: %s\n",
				    kinds[k].name, kinds[k].seed, kinds[k].allocs,
				    kinds[k].live, kinds[k].quantum, kinds[k].what);
			return 0;
		} else if (strcmp(a, "--all") == 0 && i + 1 < argc) {
			all = argv[++i];
		} else if (strcmp(a, "--seed") == 0 && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
			have_seed = 1;
		} else if (strcmp(a, "--allocs") == 0 && i + 1 < argc) {
			allocs = strtoul(argv[++i], NULL, 0);
		} else if (strcmp(a, "--live") == 0 && i + 1 < argc) {
			live = strtoul(argv[++i], NULL, 0);
		} else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
			out = argv[++i];
		} else if (a[0] == '-' || name != NULL) {
			usage();
		} else {
			name = a;
		}
	}
	if (all != NULL) {
		char path[4096];

		if (mkdir(all, 0777) != 0 && errno != EEXIST) {
			fprintf(stderr, "kvmem-tracegen: %s: %s\n", all, strerror(errno));
			return 1;
		}
		for (size_t k = 0; k < NKINDS; k++) {
			snprintf(path, sizeof(path), "%s/%s.csv", all, kinds[k].name);
			if (write_file(&kinds[k], kinds[k].seed, kinds[k].allocs,
			    kinds[k].live, path) != 0)
				return 1;
		}
		return 0;
	}
	if (name == NULL)
		usage();
	const struct kind *k = find_kind(name);
	if (k == NULL) {
		fprintf(stderr, "kvmem-tracegen: unknown kind '%s' (see --list)\n", name);
		return 2;
	}
	return write_file(k, have_seed ? seed : k->seed, allocs ? allocs : k->allocs,
	    live ? live : k->live, out);
}
