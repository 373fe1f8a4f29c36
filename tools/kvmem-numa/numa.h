/*
 * numa.h -- kvmem-numa's shared declarations: the machine description,
 * the workload (an event list in the benchmark suite's trace model), the
 * policy and quantum lists, one run's results, and the output writers.
 */
#ifndef KVMEM_NUMA_H
#define KVMEM_NUMA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <kvmem/kmem.h>

#define NUMA_PAGE		((uint64_t)4096)
#define NUMA_MAXDOM		16	/* domains a machine may have here */
#define NUMA_MAXCPU		256
#define NUMA_MAXTHREADS		16	/* as the trace format's threads 0-15 */
#define NUMA_MAXRUNS		64
#define NUMA_NONE		UINT32_MAX

/* ---- Machine ---------------------------------------------------------------- */

struct numa_machine {
	char		name[64];	/* preset name or file name */
	int		ndom;
	uint64_t	size[NUMA_MAXDOM];	/* bytes per domain */
	int		ncpu;
	int		cpu_dom[NUMA_MAXCPU];
	uint8_t		dist[NUMA_MAXDOM * NUMA_MAXDOM];
};

/*
 * Fill m from a preset name (NxSIZE or NxSIZE-ring).  0, or -1 if the name
 * is not a preset (nothing printed).
 */
int numa_machine_preset(struct numa_machine *m, const char *name);
/* Read a machine file; 0, or -1 after printing "FILE:LINE: why" to stderr. */
int numa_machine_load(struct numa_machine *m, const char *path);
/* Write m in the machine file format. */
void numa_machine_print(const struct numa_machine *m, FILE *f);
/* pmap_sim_config_check() of m: 0, or EINVAL with the reason in msg. */
int numa_machine_check(const struct numa_machine *m, char *msg, size_t len);
/* The CPU a workload thread runs on (documented rule). */
int numa_thread_cpu(const struct numa_machine *m, unsigned thread);

/* ---- Workload ----------------------------------------------------------------- */

struct numa_ev {
	uint32_t	npages;		/* an allocation's size in pages */
	uint32_t	ref;		/* NUMA_NONE: allocation; else the event it frees */
	uint8_t		thread;
};

struct numa_workload {
	char		name[64];	/* built-in name or trace file name */
	char		desc[160];
	uint32_t	n;
	struct numa_ev	*ev;
	unsigned	nthreads;
	uint64_t	nallocs;
	uint64_t	alloc_pages;	/* pages asked for in total */
	uint64_t	peak_pages;	/* live pages at the peak */
	uint32_t	peak_event;	/* the first event after which the peak holds */
};

struct numa_wparams {
	unsigned	threads;	/* 0: one per domain */
	unsigned	live_pct;	/* live target, percent of machine memory */
	uint64_t	allocs;		/* 0: enough to replace the live set 3 times */
	uint64_t	seed;
};

extern const char *const numa_workload_names[];
/* A built-in workload; 0, or -1 after printing why. */
int numa_workload_builtin(struct numa_workload *w, const char *name,
    const struct numa_machine *m, const struct numa_wparams *p);
/* A trace CSV (bench/README.md); 0, or -1 after printing "FILE:LINE: why". */
int numa_workload_trace(struct numa_workload *w, const char *path);
/* Peak and totals (after ev[] is filled). */
void numa_workload_finish(struct numa_workload *w);
/* Write w as a trace CSV; 0 or -1 (errno). */
int numa_workload_write(const struct numa_workload *w, FILE *f);
void numa_workload_free(struct numa_workload *w);

/* ---- Runs ---------------------------------------------------------------------- */

struct numa_policy {
	char		label[64];	/* the spec as given */
	struct domainset ds;
};

struct numa_quantum {
	char		label[32];	/* "2M", "64K:8M" */
	uint64_t	kva;		/* KVA quantum */
	uint64_t	import;		/* import quantum */
};

struct numa_result {
	const struct numa_policy *pol;
	const struct numa_quantum *q;
	/* Placement over the whole run (pages found behind each allocation). */
	uint64_t	allocs, fails, placed;
	uint64_t	local, remote;
	uint64_t	cost;		/* sum of SLIT distance caller -> page */
	uint64_t	misplaced;	/* pages not of their arena's domain */
	/* kmem's own counters at the end. */
	struct kmem_stats ks;
	/* At the peak. */
	uint64_t	live_pages[NUMA_MAXDOM];
	struct kmem_chunk_stats census;
	uint64_t	karena_free_segs, karena_free, karena_maxfree;
	uint64_t	darena_free_segs, darena_free, darena_maxfree;
	uint32_t	frag[NUMA_MAXDOM];	/* thousandths */
	uint64_t	free_pages[NUMA_MAXDOM];
	double		seconds;	/* with --time */
};

struct numa_opts {
	bool		check;		/* kmem_check after each run */
	bool		timing;
	const char	*segdir;	/* --segments */
};

/* Run w on m under one policy and quantum; 0, or -1 after printing why. */
int numa_run(const struct numa_machine *m, const struct numa_workload *w,
    const struct numa_policy *pol, const struct numa_quantum *q,
    const struct numa_opts *o, struct numa_result *r);

/* ---- Output -------------------------------------------------------------------- */

struct numa_report {
	const struct numa_machine	*m;
	const struct numa_workload	*w;
	uint64_t			seed;
	bool				timing;
	unsigned			nruns;
	struct numa_result		*runs;
};

void numa_print_table(const struct numa_report *rep, FILE *f);
void numa_print_json(const struct numa_report *rep, FILE *f);
/* Data, script and (gnuplot permitting) PNGs in dir; 0 or -1 after printing why. */
int numa_plot(const struct numa_report *rep, const char *dir);

/* "64K", "2M", "1G" or plain bytes. */
void numa_fmt_size(char *buf, size_t len, uint64_t bytes);
/* Parse "64K", "2M", "1G", "4096"; 0 or -1. */
int numa_parse_size(const char *s, uint64_t *out);

#endif /* KVMEM_NUMA_H */
