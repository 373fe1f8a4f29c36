/*
 * output.c -- kvmem-numa's reports: two aligned tables, JSON (schema
 * "kvmem-numa" version 1) and gnuplot charts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "numa.h"

/* ---- Derived figures ------------------------------------------------------------- */

static double
ratio(uint64_t a, uint64_t b)
{
	return b == 0 ? 0.0 : (double)a / (double)b;
}

/* Mean distance of placed pages over the local distance: 1.0 = all local. */
static double
cost_per_page(const struct numa_result *r)
{
	return ratio(r->cost, r->placed) / 10.0;
}

/* Share of mapped pages (at the peak) that sit in promoted 2 MiB mappings. */
static double
promoted_share(const struct numa_result *r)
{
	return ratio(r->census.promoted * 512, r->census.pages);
}

/* ---- Table -------------------------------------------------------------------------- */

#define TMAXCOL	16
#define TMAXROW	(NUMA_MAXRUNS + 1)

struct table {
	unsigned	ncol, nrow;
	bool		left[TMAXCOL];
	char		cell[TMAXROW][TMAXCOL][96];
};

/* Set one cell (truncated to the cell's size). */
static void
tcell(struct table *t, unsigned row, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->cell[row][col], sizeof(t->cell[row][col]), fmt, ap);
	va_end(ap);
}

/* Print t with every column padded to its widest cell (text left, numbers right). */
static void
tprint(const struct table *t, FILE *f)
{
	size_t w[TMAXCOL] = { 0 };

	for (unsigned r = 0; r < t->nrow; r++)
		for (unsigned c = 0; c < t->ncol; c++)
			if (strlen(t->cell[r][c]) > w[c])
				w[c] = strlen(t->cell[r][c]);
	for (unsigned r = 0; r < t->nrow; r++) {
		for (unsigned c = 0; c < t->ncol; c++) {
			int pad = (int)w[c];

			if (c == t->ncol - 1 && t->left[c])
				fprintf(f, "%s", t->cell[r][c]);
			else
				fprintf(f, t->left[c] ? "%-*s" : "%*s", pad, t->cell[r][c]);
			if (c + 1 < t->ncol)
				fputs("  ", f);
		}
		fputc('\n', f);
	}
}

/* Values per domain joined with '/'. */
static void
per_domain(char *buf, size_t len, int n, const uint64_t *v64, const uint32_t *v)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int d = 0; d < n && o < len; d++)
		o += (size_t)snprintf(buf + o, len - o, "%s%" PRIu64, d ? "/" : "",
		    v64 != NULL ? v64[d] : (uint64_t)v[d]);
}

static void
dom_header(char *buf, size_t len, const char *what, int n)
{
	size_t o = (size_t)snprintf(buf, len, "%s ", what);

	for (int d = 0; d < n && o < len; d++)
		o += (size_t)snprintf(buf + o, len - o, "%sd%d", d ? "/" : "", d);
}

static void
mib(char *buf, size_t len, uint64_t bytes)
{
	snprintf(buf, len, "%.1fM", (double)bytes / (1 << 20));
}

void
numa_print_table(const struct numa_report *rep, FILE *f)
{
	const struct numa_machine *m = rep->m;
	const struct numa_workload *w = rep->w;
	static struct table t;
	char b[160];
	int nd = m->ndom;

	fprintf(f, "machine %s: %d domain%s (", m->name, nd, nd == 1 ? "" : "s");
	for (int d = 0; d < nd; d++) {
		numa_fmt_size(b, sizeof(b), m->size[d]);
		fprintf(f, "%s%s", d ? "+" : "", b);
	}
	fprintf(f, "), %d CPUs, SLIT", m->ncpu);
	for (int i = 0; i < nd; i++) {
		fputs(i ? " /" : "", f);
		for (int j = 0; j < nd; j++)
			fprintf(f, " %u", m->dist[i * nd + j]);
	}
	fprintf(f, "\nworkload %s: %s\n", w->name, w->desc);
	fprintf(f, "  %u events, %" PRIu64 " pages allocated in all, peak %" PRIu64
	    " live pages after event %u; thread->CPU", w->n, w->alloc_pages, w->peak_pages,
	    w->peak_event);
	for (unsigned th = 0; th < w->nthreads; th++)
		fprintf(f, " %u:%d", th, numa_thread_cpu(m, th));
	fprintf(f, "\nseed %" PRIu64 "\n\n", rep->seed);

	/* Placement over the whole run. */
	memset(&t, 0, sizeof(t));
	t.ncol = rep->timing ? 11 : 10;
	t.left[0] = t.left[1] = true;
	t.nrow = rep->nruns + 1;
	const char *h1[] = { "policy", "quantum", "allocs", "fails", "pages", "local%",
		"remote", "cost", "fallbacks", "misplaced", "seconds" };
	for (unsigned c = 0; c < t.ncol; c++)
		tcell(&t, 0, c, "%s", h1[c]);
	for (unsigned i = 0; i < rep->nruns; i++) {
		const struct numa_result *r = &rep->runs[i];
		unsigned row = i + 1;

		tcell(&t, row, 0, "%s", r->pol->label);
		tcell(&t, row, 1, "%s", r->q->label);
		tcell(&t, row, 2, "%" PRIu64, r->allocs);
		tcell(&t, row, 3, "%" PRIu64, r->fails);
		tcell(&t, row, 4, "%" PRIu64, r->placed);
		tcell(&t, row, 5, "%.1f", 100.0 * ratio(r->local, r->placed));
		tcell(&t, row, 6, "%" PRIu64, r->remote);
		tcell(&t, row, 7, "%.3f", cost_per_page(r));
		tcell(&t, row, 8, "%" PRIu64, r->ks.fallbacks);
		tcell(&t, row, 9, "%" PRIu64, r->misplaced);
		if (rep->timing)
			tcell(&t, row, 10, "%.3f", r->seconds);
	}
	fputs("placement (whole run; pages found behind each allocation):\n", f);
	tprint(&t, f);

	/* State at the peak. */
	memset(&t, 0, sizeof(t));
	t.ncol = 12;
	t.left[0] = t.left[1] = true;
	t.nrow = rep->nruns + 1;
	dom_header(b, sizeof(b), "pages", nd);
	tcell(&t, 0, 0, "policy");
	tcell(&t, 0, 1, "quantum");
	tcell(&t, 0, 2, "%s", b);
	tcell(&t, 0, 3, "chunks");
	tcell(&t, 0, 4, "full");
	tcell(&t, 0, 5, "promoted");
	tcell(&t, 0, 6, "promo%%");
	tcell(&t, 0, 7, "kseg");
	tcell(&t, 0, 8, "dseg");
	tcell(&t, 0, 9, "dlargest");
	tcell(&t, 0, 10, "dfree");
	dom_header(b, sizeof(b), "frag", nd);
	tcell(&t, 0, 11, "%s", b);
	for (unsigned i = 0; i < rep->nruns; i++) {
		const struct numa_result *r = &rep->runs[i];
		unsigned row = i + 1;

		tcell(&t, row, 0, "%s", r->pol->label);
		tcell(&t, row, 1, "%s", r->q->label);
		per_domain(b, sizeof(b), nd, r->live_pages, NULL);
		tcell(&t, row, 2, "%s", b);
		tcell(&t, row, 3, "%" PRIu64, r->census.chunks);
		tcell(&t, row, 4, "%" PRIu64, r->census.full);
		tcell(&t, row, 5, "%" PRIu64, r->census.promoted);
		tcell(&t, row, 6, "%.1f", 100.0 * promoted_share(r));
		tcell(&t, row, 7, "%" PRIu64, r->karena_free_segs);
		tcell(&t, row, 8, "%" PRIu64, r->darena_free_segs);
		mib(b, sizeof(b), r->darena_maxfree);
		tcell(&t, row, 9, "%s", b);
		mib(b, sizeof(b), r->darena_free);
		tcell(&t, row, 10, "%s", b);
		per_domain(b, sizeof(b), nd, NULL, r->frag);
		tcell(&t, row, 11, "%s", b);
	}
	fputs("\nat the peak (pages per domain; 2 MiB chunks; free segments of the kernel (k) and "
	    "domain (d) arenas; physical frag index per domain, 1/1000):\n", f);
	tprint(&t, f);
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void
jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void
numa_print_json(const struct numa_report *rep, FILE *f)
{
	const struct numa_machine *m = rep->m;
	const struct numa_workload *w = rep->w;
	int nd = m->ndom;

	fprintf(f, "{\"schema\":\"kvmem-numa\",\"version\":1,\n\"machine\":{\"name\":");
	jstr(f, m->name);
	fprintf(f, ",\"domains\":[");
	for (int d = 0; d < nd; d++) {
		int n = 0;

		fprintf(f, "%s{\"domain\":%d,\"size\":%" PRIu64 ",\"cpus\":[", d ? "," : "", d,
		    m->size[d]);
		for (int c = 0; c < m->ncpu; c++)
			if (m->cpu_dom[c] == d)
				fprintf(f, "%s%d", n++ ? "," : "", c);
		fprintf(f, "]}");
	}
	fprintf(f, "],\"distance\":[");
	for (int i = 0; i < nd; i++) {
		fprintf(f, "%s[", i ? "," : "");
		for (int j = 0; j < nd; j++)
			fprintf(f, "%s%u", j ? "," : "", m->dist[i * nd + j]);
		fputc(']', f);
	}
	fprintf(f, "]},\n\"workload\":{\"name\":");
	jstr(f, w->name);
	fprintf(f, ",\"description\":");
	jstr(f, w->desc);
	fprintf(f, ",\"threads\":%u,\"thread_cpus\":[", w->nthreads);
	for (unsigned t = 0; t < w->nthreads; t++)
		fprintf(f, "%s%d", t ? "," : "", numa_thread_cpu(m, t));
	fprintf(f, "],\"events\":%u,\"allocations\":%" PRIu64 ",\"pages_allocated\":%" PRIu64
	    ",\"peak_pages\":%" PRIu64 ",\"peak_event\":%u},\n\"seed\":%" PRIu64 ",\n\"runs\":[",
	    w->n, w->nallocs, w->alloc_pages, w->peak_pages, w->peak_event, rep->seed);
	for (unsigned i = 0; i < rep->nruns; i++) {
		const struct numa_result *r = &rep->runs[i];

		fprintf(f, "%s\n{\"policy\":", i ? "," : "");
		jstr(f, r->pol->label);
		fprintf(f, ",\"policy_name\":\"%s\",\"quantum\":", domainset_policy_name(r->pol->ds.ds_policy));
		jstr(f, r->q->label);
		fprintf(f, ",\"kva_quantum\":%" PRIu64 ",\"import_quantum\":%" PRIu64 ",\n"
		    " \"allocs\":%" PRIu64 ",\"fails\":%" PRIu64 ",\"pages_placed\":%" PRIu64
		    ",\"local_pages\":%" PRIu64 ",\"remote_pages\":%" PRIu64
		    ",\"local_share\":%.4f,\"access_cost\":%" PRIu64 ",\"cost_per_page\":%.4f"
		    ",\"misplaced_pages\":%" PRIu64 ",\"fallbacks\":%" PRIu64 ",\n",
		    r->q->kva, r->q->import, r->allocs, r->fails, r->placed, r->local, r->remote,
		    ratio(r->local, r->placed), r->cost, cost_per_page(r), r->misplaced,
		    r->ks.fallbacks);
		fprintf(f, " \"kmem\":{\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64
		    ",\"alloc_fails\":%" PRIu64 ",\"local_pages\":%" PRIu64 ",\"remote_pages\":%"
		    PRIu64 ",\"access_cost\":%" PRIu64 ",\"fallbacks\":%" PRIu64
		    ",\"kva_imported\":%" PRIu64 ",\"pde_promotions\":%" PRIu64
		    ",\"pde_demotions\":%" PRIu64 ",\"pde_p_failures\":%" PRIu64 "},\n",
		    r->ks.allocs, r->ks.frees, r->ks.alloc_fails, r->ks.local_pages,
		    r->ks.remote_pages, r->ks.access_cost, r->ks.fallbacks,
		    (uint64_t)r->ks.kva_imported, r->ks.pde_promotions, r->ks.pde_demotions,
		    r->ks.pde_p_failures);
		fprintf(f, " \"peak\":{\"pages_per_domain\":[");
		for (int d = 0; d < nd; d++)
			fprintf(f, "%s%" PRIu64, d ? "," : "", r->live_pages[d]);
		fprintf(f, "],\"chunks\":%" PRIu64 ",\"full_chunks\":%" PRIu64
		    ",\"promoted_chunks\":%" PRIu64 ",\"one_domain_chunks\":%" PRIu64
		    ",\"mapped_pages\":%" PRIu64 ",\"promoted_share\":%.4f,\n"
		    "  \"kernel_arena\":{\"free_segments\":%" PRIu64 ",\"free_bytes\":%" PRIu64
		    ",\"largest_free\":%" PRIu64 "},\"domain_arenas\":{\"free_segments\":%" PRIu64
		    ",\"free_bytes\":%" PRIu64 ",\"largest_free\":%" PRIu64 "},\n  \"physical\":[",
		    r->census.chunks, r->census.full, r->census.promoted, r->census.one_domain,
		    r->census.pages, promoted_share(r), r->karena_free_segs, r->karena_free,
		    r->karena_maxfree, r->darena_free_segs, r->darena_free, r->darena_maxfree);
		for (int d = 0; d < nd; d++)
			fprintf(f, "%s{\"domain\":%d,\"free_pages\":%" PRIu64 ",\"frag_index\":%.3f}",
			    d ? "," : "", d, r->free_pages[d], r->frag[d] / 1000.0);
		fprintf(f, "]}");
		if (rep->timing)
			fprintf(f, ",\"seconds\":%.4f", r->seconds);
		fputc('}', f);
	}
	fprintf(f, "\n]}\n");
}

/* ---- Plots ---------------------------------------------------------------------------- */

/* A label quoted for a gnuplot data file. */
static void
glabel(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++)
		fputc(*s == '"' ? '\'' : *s, f);
	fputc('"', f);
}

/* Distinct policies and quanta in run order. */
static unsigned
distinct(const struct numa_report *rep, bool quanta, const char **out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < rep->nruns; i++) {
		const char *l = quanta ? rep->runs[i].q->label : rep->runs[i].pol->label;
		unsigned j;

		for (j = 0; j < n && strcmp(out[j], l) != 0; j++)
			;
		if (j == n)
			out[n++] = l;
	}
	return n;
}

static const struct numa_result *
find_run(const struct numa_report *rep, const char *pol, const char *q)
{
	for (unsigned i = 0; i < rep->nruns; i++)
		if (strcmp(rep->runs[i].pol->label, pol) == 0 &&
		    strcmp(rep->runs[i].q->label, q) == 0)
			return &rep->runs[i];
	return NULL;
}

static FILE *
open_in(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL)
		fprintf(stderr, "kvmem-numa: %s: %s\n", path, strerror(errno));
	return f;
}

static int
close_in(FILE *f, const char *dir, const char *name)
{
	if (fclose(f) != 0) {
		fprintf(stderr, "kvmem-numa: %s/%s: %s\n", dir, name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Is gnuplot in PATH? */
static bool
have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char buf[4096];

	while (path != NULL && *path != '\0') {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/gnuplot", (int)n, n ? path : ".");
		if (access(buf, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

int
numa_plot(const struct numa_report *rep, const char *dir)
{
	const char *pols[NUMA_MAXRUNS], *qs[NUMA_MAXRUNS];
	unsigned np = distinct(rep, false, pols), nq = distinct(rep, true, qs);
	int nd = rep->m->ndom, status;
	FILE *f;
	pid_t pid;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "kvmem-numa: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	/* Local share and cost: one row per policy, one column pair per quantum. */
	if ((f = open_in(dir, "numa-local.dat")) == NULL)
		return -1;
	fprintf(f, "# policy, then local%% for each quantum, then cost per page for each:");
	for (unsigned q = 0; q < nq; q++)
		fprintf(f, " %s", qs[q]);
	fputc('\n', f);
	for (unsigned p = 0; p < np; p++) {
		glabel(f, pols[p]);
		for (unsigned pass = 0; pass < 2; pass++)
			for (unsigned q = 0; q < nq; q++) {
				const struct numa_result *r = find_run(rep, pols[p], qs[q]);

				if (r == NULL)
					fprintf(f, " NaN");
				else if (pass == 0)
					fprintf(f, " %.2f", 100.0 * ratio(r->local, r->placed));
				else
					fprintf(f, " %.3f", cost_per_page(r));
			}
		fputc('\n', f);
	}
	if (close_in(f, dir, "numa-local.dat") != 0)
		return -1;
	/* Pages per domain at the peak: one row per run. */
	if ((f = open_in(dir, "numa-domains.dat")) == NULL)
		return -1;
	fprintf(f, "# run, then live pages at the peak in each domain\n");
	for (unsigned i = 0; i < rep->nruns; i++) {
		char l[128];

		snprintf(l, sizeof(l), "%s %s", rep->runs[i].pol->label, rep->runs[i].q->label);
		glabel(f, l);
		for (int d = 0; d < nd; d++)
			fprintf(f, " %" PRIu64, rep->runs[i].live_pages[d]);
		fputc('\n', f);
	}
	if (close_in(f, dir, "numa-domains.dat") != 0)
		return -1;
	/* Promotion: one row per quantum, one column per policy. */
	if ((f = open_in(dir, "numa-promotion.dat")) == NULL)
		return -1;
	fprintf(f, "# quantum, then %% of mapped pages in promoted superpages per policy:");
	for (unsigned p = 0; p < np; p++)
		fprintf(f, " %s", pols[p]);
	fputc('\n', f);
	for (unsigned q = 0; q < nq; q++) {
		glabel(f, qs[q]);
		for (unsigned p = 0; p < np; p++) {
			const struct numa_result *r = find_run(rep, pols[p], qs[q]);

			fprintf(f, r ? " %.2f" : " NaN", r ? 100.0 * promoted_share(r) : 0.0);
		}
		fputc('\n', f);
	}
	if (close_in(f, dir, "numa-promotion.dat") != 0)
		return -1;

	if ((f = open_in(dir, "numa.gp")) == NULL)
		return -1;
	fprintf(f, "# kvmem-numa charts: run 'gnuplot numa.gp' in this directory.\n"
	    "set terminal pngcairo size 900,560 font 'sans,10' noenhanced\n"
	    "set style data histogram\nset style fill solid 0.85 border -1\n"
	    "set boxwidth 0.9\nset grid ytics\nset key outside right top\n"
	    "set xtics rotate by -30\n");
	fprintf(f, "\nset output 'numa-local.png'\nset multiplot layout 2,1 title "
	    "'%s on %s: placement per policy'\n", rep->w->name, rep->m->name);
	fprintf(f, "set style histogram cluster gap 1\nset ylabel 'local pages (%%)'\n"
	    "set yrange [0:105]\nset xtics format ''\n");
	fprintf(f, "plot ");
	for (unsigned q = 0; q < nq; q++)
		fprintf(f, "%s'numa-local.dat' using %u:xtic(1) title 'quantum %s'",
		    q ? ", " : "", 2 + q, qs[q]);
	fprintf(f, "\nset ylabel 'access cost (1.0 = all local)'\nset yrange [0:*]\n"
	    "set xtics format '%%g'\nplot ");
	for (unsigned q = 0; q < nq; q++)
		fprintf(f, "%s'numa-local.dat' using %u:xtic(1) title 'quantum %s'",
		    q ? ", " : "", 2 + nq + q, qs[q]);
	fprintf(f, "\nunset multiplot\n");
	fprintf(f, "\nset output 'numa-domains.png'\nset title '%s on %s: live pages per "
	    "domain at the peak'\nset style histogram rowstacked\nset ylabel 'pages'\n"
	    "set yrange [0:*]\nset bmargin 6\nplot for [i=2:%d] 'numa-domains.dat' using i:xtic(1) "
	    "title sprintf('domain %%d', i-2)\n", rep->w->name, rep->m->name, nd + 1);
	fprintf(f, "\nset output 'numa-promotion.png'\nset title '%s on %s: share of mapped "
	    "pages in promoted 2 MiB superpages'\nset style histogram cluster gap 1\n"
	    "set ylabel 'promoted (%%)'\nset yrange [0:105]\nset xlabel 'KVA quantum'\n"
	    "set xtics norotate\nset bmargin\nplot ", rep->w->name, rep->m->name);
	for (unsigned p = 0; p < np; p++)
		fprintf(f, "%s'numa-promotion.dat' using %u:xtic(1) title '%s'", p ? ", " : "",
		    2 + p, pols[p]);
	fputc('\n', f);
	if (close_in(f, dir, "numa.gp") != 0)
		return -1;

	if (!have_gnuplot()) {
		fprintf(stderr, "kvmem-numa: gnuplot not found in PATH: data and numa.gp written "
		    "to %s, no PNG made\n", dir);
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "kvmem-numa: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(126);
		execlp("gnuplot", "gnuplot", "numa.gp", (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "kvmem-numa: gnuplot failed on %s/numa.gp\n", dir);
		return -1;
	}
	return 0;
}
