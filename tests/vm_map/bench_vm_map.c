/*
 * bench_vm_map.c -- how find space + insert + delete scales with the number
 * of entries in a map, against a plain linear scan of a sorted entry array
 * measured in the same run.
 *
 * Workload: N one-page no-merge entries separated by one-page holes, then
 * free space.  One operation finds room for two pages from the bottom of the
 * map (every hole is too small, so the only fit is above the last entry),
 * inserts a new entry there and deletes it: the worst case for a scan, and
 * for the augmented tree a search that must prune every subtree by its
 * maxgap, with the largest gap moving on every insert and delete.
 *
 *   bench_vm_map [reps]          interleaved repetitions (default 11),
 *                                median ns per operation and ratios
 *   bench_vm_map --count N OPS   only the tree at N entries, OPS operations
 *                                bracketed for callgrind:
 *     valgrind --tool=callgrind --collect-atstart=no bench_vm_map --count N OPS
 *   (instructions per operation = collected Ir / OPS)
 *
 * Wall-clock figures on a shared VM are noisy: read the ratios, or the
 * callgrind counts.
 */
#include "kvmem_config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <valgrind/callgrind.h>

#include <kvmem/vm_map.h>

#define PG	((vm_offset_t)4096)
#define BASE	((vm_offset_t)0xfffffe0000000000ull)

static double
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- The map under test ------------------------------------------------------ */

static vm_map_t
make_map(long n)
{
	vm_map_t m = vm_map_create("bench", BASE, BASE + (2 * (vm_offset_t)n + 1024) * PG, PG);
	if (m == NULL)
		abort();
	for (long i = 0; i < n; i++)
		if (vm_map_insert(m, NULL, 0, BASE + 2 * (vm_offset_t)i * PG,
		    BASE + (2 * (vm_offset_t)i + 1) * PG, VM_PROT_RW, VM_PROT_RW,
		    VM_MAP_NOMERGE) != 0)
			abort();
	return m;
}

static void
tree_ops(vm_map_t m, long ops)
{
	for (long i = 0; i < ops; i++) {
		vm_offset_t a = BASE;
		if (vm_map_find(m, NULL, 0, &a, 2 * PG, 0, VMFS_ANY_SPACE, VM_PROT_RW,
		    VM_PROT_RW, 0) != 0 || vm_map_remove(m, a, a + 2 * PG) != 0)
			abort();
	}
}

/* ---- The baseline: a sorted array scanned linearly ------------------------- */

struct lin_entry {
	vm_offset_t	start, end;
};

struct lin_map {
	vm_offset_t		min, max;
	struct lin_entry	*e;
	long			n, cap;
};

static void
lin_make(struct lin_map *l, long n)
{
	l->min = BASE;
	l->max = BASE + (2 * (vm_offset_t)n + 1024) * PG;
	l->cap = n + 16;
	l->e = malloc((size_t)l->cap * sizeof(*l->e));
	if (l->e == NULL)
		abort();
	for (long i = 0; i < n; i++)
		l->e[i] = (struct lin_entry){ BASE + 2 * (vm_offset_t)i * PG,
		    BASE + (2 * (vm_offset_t)i + 1) * PG };
	l->n = n;
}

/* First fit from min: index of the entry to insert before, address in *a. */
static long
lin_findspace(const struct lin_map *l, vm_size_t len, vm_offset_t *a)
{
	vm_offset_t prev_end = l->min;
	for (long i = 0; i < l->n; i++) {
		if (l->e[i].start - prev_end >= len) {
			*a = prev_end;
			return i;
		}
		prev_end = l->e[i].end;
	}
	if (l->max - prev_end >= len) {
		*a = prev_end;
		return l->n;
	}
	return -1;
}

static void
lin_ops(struct lin_map *l, long ops)
{
	for (long k = 0; k < ops; k++) {
		vm_offset_t a;
		long i = lin_findspace(l, 2 * PG, &a);
		if (i < 0)
			abort();
		memmove(&l->e[i + 1], &l->e[i], (size_t)(l->n - i) * sizeof(*l->e));
		l->e[i] = (struct lin_entry){ a, a + 2 * PG };
		l->n++;
		memmove(&l->e[i], &l->e[i + 1], (size_t)(l->n - i - 1) * sizeof(*l->e));
		l->n--;
	}
}

/* ---- Driver --------------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	static const long sizes[] = { 100, 10000, 1000000 };
	enum { NS = 3, MAXREP = 101 };
	int reps = 11;

	if (argc == 4 && strcmp(argv[1], "--count") == 0) {
		long n = atol(argv[2]), ops = atol(argv[3]);
		vm_map_t m = make_map(n);
		tree_ops(m, 1000);	/* warm up: slabs, hint, caches */
		CALLGRIND_TOGGLE_COLLECT;
		tree_ops(m, ops);
		CALLGRIND_TOGGLE_COLLECT;
		printf("tree: %ld entries, %ld find+insert+delete operations counted\n",
		    n, ops);
		vm_map_destroy(m);
		return 0;
	}
	if (argc == 2)
		reps = atoi(argv[1]);
	if (reps < 1 || reps > MAXREP)
		reps = 11;

	vm_map_t tm[NS];
	struct lin_map lm[NS];
	long tops[NS], lops[NS];
	double tt[NS][MAXREP], lt[NS][MAXREP];

	for (int s = 0; s < NS; s++) {
		tm[s] = make_map(sizes[s]);
		lin_make(&lm[s], sizes[s]);
		/* Batches of roughly 20 ms, sized by one calibration pass. */
		double t0 = now_ns();
		tree_ops(tm[s], 2000);
		double per = (now_ns() - t0) / 2000;
		tops[s] = (long)(2e7 / per) + 1;
		t0 = now_ns();
		lin_ops(&lm[s], 5);
		per = (now_ns() - t0) / 5;
		lops[s] = (long)(2e7 / per) + 1;
	}
	/* Interleaved repetitions: every size and both structures per round. */
	for (int r = 0; r < reps; r++)
		for (int s = 0; s < NS; s++) {
			double t0 = now_ns();
			tree_ops(tm[s], tops[s]);
			tt[s][r] = (now_ns() - t0) / (double)tops[s];
			t0 = now_ns();
			lin_ops(&lm[s], lops[s]);
			lt[s][r] = (now_ns() - t0) / (double)lops[s];
		}

	printf("find space + insert + delete, 2 pages, every hole too small "
	    "(median of %d interleaved repetitions)\n", reps);
	printf("%10s %14s %14s %12s %14s %12s\n", "entries", "tree ns/op",
	    "tree vs 10^2", "linear ns/op", "linear vs 10^2", "linear/tree");
	double t100 = 0, l100 = 0;
	for (int s = 0; s < NS; s++) {
		double t = median(tt[s], reps), l = median(lt[s], reps);
		if (s == 0) {
			t100 = t;
			l100 = l;
		}
		printf("%10ld %14.1f %13.2fx %12.1f %13.0fx %11.2fx\n", sizes[s], t,
		    t / t100, l, l / l100, l / t);
		struct vm_map_stats st;
		memset(&st, 0, sizeof(st));
		st.version = VM_MAP_STATS_VERSION;
		vm_map_get_stats(tm[s], &st);
		if (vm_map_check(tm[s]) != 0)
			return 1;
		fprintf(stderr, "  (N=%ld: tree height %" PRIu64 ", %" PRIu64
		    " metadata bytes)\n", sizes[s], st.tree_height, st.metadata_bytes);
		vm_map_destroy(tm[s]);
		free(lm[s].e);
	}
	return 0;
}
