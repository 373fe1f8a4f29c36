/*
 * ktrace.h -- reading allocation traces for the kvmem tools.
 *
 * The trace CSV format is the benchmark suite's (bench/README.md): comment
 * lines start with '#', an optional "op,size,ref,thread" header, then one
 * event per line, "a,SIZE,,THREAD" or "f,SIZE,REF,THREAD".  This reader is
 * the tools' own (the benchmark's loader needs the C++ benchmark parts) and
 * applies the same rules.
 */
#ifndef KVMEM_TOOLS_KTRACE_H
#define KVMEM_TOOLS_KTRACE_H

#include <stdint.h>
#include <stdio.h>

#define KT_MAXT		16		/* threads a trace may use */
#define KT_NONE		UINT32_MAX	/* ref of an allocation */

struct kt_trace {
	uint32_t	n;		/* events */
	uint32_t	nallocs;
	uint32_t	nfrees;
	uint32_t	nthreads;	/* highest thread number + 1 */
	uint64_t	quantum;	/* "# quantum Q", default 16 */
	int		has_quantum;	/* the trace said so */
	char		kind[128];	/* "# kind ..." text, or "" */
	uint32_t	*size;		/* per event (a free: its allocation's) */
	uint32_t	*ref;		/* per event: KT_NONE or the allocation freed */
	uint8_t		*thread;	/* per event */
	uint32_t	*freed_at;	/* per allocation: its free, or KT_NONE */
	int		closed;		/* every allocation is freed */
	int		closed_marker;	/* a "# closed" comment line was seen */
	uint64_t	good_bytes;	/* file bytes up to the last complete line */
};

#define KT_ALLOW_OPEN	0x1	/* accept a trace that is not closed */
#define KT_ALLOW_TAIL	0x2	/* ignore an unterminated last line */

/*
 * Load and validate the trace at path.  Returns 0, or -1 with a message
 * naming the file (and the line) in err.  On failure t holds nothing.
 */
int  kt_load(struct kt_trace *t, const char *path, int flags, char *err, size_t errlen);
void kt_free(struct kt_trace *t);

#endif /* KVMEM_TOOLS_KTRACE_H */
