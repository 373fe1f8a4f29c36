/*
 * record.c -- libkvmem-trace-record.so, the LD_PRELOAD library behind
 * `kvmem-trace record`.
 *
 * It wraps malloc, free, calloc, realloc, posix_memalign, aligned_alloc and
 * memalign, forwards every call to the next definition (dlsym RTLD_NEXT)
 * and appends one trace event per allocation or free to the trace file in
 * the benchmark CSV format.  It also wraps _exit and _Exit, to close the
 * trace before a process ends without running exit handlers.  The program sees exactly what the real
 * allocator returns; the recorder only watches.
 *
 * Configuration comes from KVMEM_TRACE_RECORD="PID:HDRLEN:PATH", set by
 * kvmem-trace: only the process PID records, and only while PATH still
 * holds nothing but the HDRLEN bytes of header kvmem-trace wrote (so an
 * image started by exec in the same process does not write a second,
 * renumbered trace into it).
 *
 * Design: one global lock orders the events (event numbers are global);
 * an open-addressing hash (mmap'd, never from malloc) maps each live
 * address to its event number, size and thread; events are formatted into
 * a buffer flushed with write(2) in whole lines.  A per-thread flag makes
 * calls made by the recorder itself (or by the real allocator, or by dlsym)
 * go straight through.  A free is recorded before the real free, so the
 * address cannot be handed out again before its free is in the trace.  At
 * exit the still-live allocations are freed in the trace, in allocation
 * order, so the trace is closed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT		__attribute__((visibility("default")))
#define TLS		_Thread_local __attribute__((tls_model("initial-exec")))

typedef void *malloc_fn(size_t);
typedef void free_fn(void *);
typedef void *calloc_fn(size_t, size_t);
typedef void *realloc_fn(void *, size_t);
typedef int posix_memalign_fn(void **, size_t, size_t);
typedef void *aligned_alloc_fn(size_t, size_t);
typedef void *memalign_fn(size_t, size_t);

static malloc_fn *real_malloc;
static free_fn *real_free;
static calloc_fn *real_calloc;
static realloc_fn *real_realloc;
static posix_memalign_fn *real_posix_memalign;
static aligned_alloc_fn *real_aligned_alloc;
static memalign_fn *real_memalign;
typedef void exit_fn(int);
static exit_fn *real__exit, *real__Exit;

/* ---- Bootstrap: allocations made while dlsym runs --------------------------- */

static _Alignas(16) unsigned char boot_buf[16384];
static size_t boot_used;
static TLS int resolving;	/* this thread is inside resolve() */
static TLS int busy;		/* this thread is inside the recorder */

/* A block from the static buffer (16-byte header holds the size), or NULL. */
static void *
boot_alloc(size_t size, int zero)
{
	size_t need = ((size + 15) & ~(size_t)15) + 16;
	unsigned char *p;

	if (size > sizeof(boot_buf) || boot_used + need > sizeof(boot_buf))
		return NULL;
	p = boot_buf + boot_used;
	boot_used += need;
	memcpy(p, &size, sizeof(size));
	if (zero)
		memset(p + 16, 0, size);
	return p + 16;
}

static int
is_boot(const void *p)
{
	return (const unsigned char *)p >= boot_buf &&
	    (const unsigned char *)p < boot_buf + sizeof(boot_buf);
}

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

/* Store the next definition of name into the function pointer at dst. */
static void
next_sym(void *dst, const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	memcpy(dst, &p, sizeof(p));
}

/* Find the next definitions of the wrapped functions. */
static void
resolve(void)
{
	resolving = 1;
	next_sym(&real_malloc, "malloc");
	next_sym(&real_free, "free");
	next_sym(&real_calloc, "calloc");
	next_sym(&real_realloc, "realloc");
	next_sym(&real_posix_memalign, "posix_memalign");
	next_sym(&real_aligned_alloc, "aligned_alloc");
	next_sym(&real_memalign, "memalign");
	next_sym(&real__exit, "_exit");
	next_sym(&real__Exit, "_Exit");
	resolving = 0;
}

/* Nonzero when the real functions are usable by this thread. */
static int
ready(void)
{
	if (resolving)
		return 0;
	if (real_malloc == NULL)
		pthread_once(&resolve_once, resolve);
	return real_malloc != NULL && real_free != NULL;
}

/* ---- State ----------------------------------------------------------------- */

struct slot {
	uintptr_t	addr;		/* 0: empty */
	uint32_t	ev;		/* the allocation's event number */
	uint32_t	size;
	uint32_t	thread;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int enabled;		/* recording (under lock after init) */
static int fd = -1;
static uint32_t nevents;
static uint32_t nthreads_seen;
static struct slot *tab;
static size_t tab_cap, tab_used;	/* cap: a power of two */
static char obuf[65536];
static size_t olen;
static uint64_t skipped;	/* allocations not recorded (size 0 or > 4 GiB) */
static TLS int my_thread = -1;
static pid_t rec_pid;		/* the process recording */

/* Write the buffer out (whole lines only are ever in it). */
static void
flush(void)
{
	size_t off = 0;

	while (off < olen) {
		ssize_t w = write(fd, obuf + off, olen - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {		/* disk full or similar: stop recording */
			enabled = 0;
			break;
		}
		off += (size_t)w;
	}
	olen = 0;
}

static char *
put_u(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *
put_s(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* Append one event line; ref UINT32_MAX means an allocation. */
static void
emit(char op, uint32_t size, uint32_t ref, uint32_t thread)
{
	char line[80], *p = line;

	*p++ = op;
	*p++ = ',';
	p = put_u(p, size);
	*p++ = ',';
	if (ref != UINT32_MAX)
		p = put_u(p, ref);
	*p++ = ',';
	p = put_u(p, thread);
	*p++ = '\n';
	if (olen + (size_t)(p - line) > sizeof(obuf))
		flush();
	memcpy(obuf + olen, line, (size_t)(p - line));
	olen += (size_t)(p - line);
	nevents++;
}

static size_t
hash_addr(uintptr_t a)
{
	uint64_t x = (uint64_t)a;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

/* Double the table (or make the first one).  0, or -1 if mmap fails. */
static int
tab_grow(void)
{
	size_t ncap = tab_cap ? tab_cap * 2 : 65536;
	struct slot *nt = mmap(NULL, ncap * sizeof(*nt), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (nt == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < tab_cap; i++) {
		if (tab[i].addr == 0)
			continue;
		size_t j = hash_addr(tab[i].addr) & (ncap - 1);

		while (nt[j].addr != 0)
			j = (j + 1) & (ncap - 1);
		nt[j] = tab[i];
	}
	if (tab != NULL)
		munmap(tab, tab_cap * sizeof(*tab));
	tab = nt;
	tab_cap = ncap;
	return 0;
}

static struct slot *
tab_find(uintptr_t a)
{
	if (tab == NULL)
		return NULL;
	for (size_t j = hash_addr(a) & (tab_cap - 1);; j = (j + 1) & (tab_cap - 1)) {
		if (tab[j].addr == a)
			return &tab[j];
		if (tab[j].addr == 0)
			return NULL;
	}
}

/* Remove slot s, shifting later members of its cluster back (no tombstones). */
static void
tab_remove(struct slot *s)
{
	size_t mask = tab_cap - 1, i = (size_t)(s - tab), j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (tab[j].addr == 0)
			break;
		size_t home = hash_addr(tab[j].addr) & mask;

		/* Move j into the hole at i unless its home lies in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			tab[i] = tab[j];
			i = j;
		}
	}
	tab[i].addr = 0;
	tab_used--;
}

static uint32_t
thread_number(void)
{
	if (my_thread < 0)
		my_thread = (int)(nthreads_seen++ % 16);
	return (uint32_t)my_thread;
}

/* Record an allocation of size bytes at p (lock not held). */
static void
rec_alloc(void *p, size_t size)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&lock);
	if (!enabled) {
		pthread_mutex_unlock(&lock);
		return;
	}
	if (size == 0 || size > UINT32_MAX || nevents == UINT32_MAX - 1 ||
	    ((tab_used + 1) * 2 > tab_cap && tab_grow() != 0)) {
		skipped++;
		pthread_mutex_unlock(&lock);
		return;
	}
	struct slot *s = tab_find((uintptr_t)p);

	if (s != NULL) {
		/*
		 * The block was freed where the recorder could not see it
		 * (inside the real allocator): free it in the trace now.
		 */
		emit('f', s->size, s->ev, s->thread);
		tab_remove(s);
	}
	size_t j = hash_addr((uintptr_t)p) & (tab_cap - 1);

	while (tab[j].addr != 0)
		j = (j + 1) & (tab_cap - 1);
	tab[j].addr = (uintptr_t)p;
	tab[j].ev = nevents;
	tab[j].size = (uint32_t)size;
	tab[j].thread = thread_number();
	tab_used++;
	emit('a', (uint32_t)size, UINT32_MAX, tab[j].thread);
	pthread_mutex_unlock(&lock);
}

/*
 * Record the free of p if it is a recorded allocation; before the real
 * free.  Returns the recorded size (0 if not recorded).
 */
static uint32_t
rec_free(void *p)
{
	uint32_t size = 0;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&lock);
	if (enabled) {
		struct slot *s = tab_find((uintptr_t)p);

		if (s != NULL) {
			size = s->size;
			emit('f', s->size, s->ev, thread_number());
			tab_remove(s);
		}
	}
	pthread_mutex_unlock(&lock);
	return size;
}

/* ---- fork: the child neither records nor writes ------------------------------ */

static void
at_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void
at_parent(void)
{
	pthread_mutex_unlock(&lock);
}

static void
at_child(void)
{
	enabled = 0;
	olen = 0;
	pthread_mutex_unlock(&lock);
}

/* ---- Start and finish ---------------------------------------------------- */

__attribute__((constructor)) static void
rec_init(void)
{
	const char *cfg = getenv("KVMEM_TRACE_RECORD");
	char *end;
	long pid;
	unsigned long long hdrlen;
	struct stat st;

	busy++;
	(void)ready();
	if (cfg == NULL)
		goto out;
	pid = strtol(cfg, &end, 10);
	if (*end != ':' || pid != (long)getpid())
		goto out;
	hdrlen = strtoull(end + 1, &end, 10);
	if (*end != ':')
		goto out;
	fd = open(end + 1, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) != 0 || (unsigned long long)st.st_size != hdrlen) {
		close(fd);
		fd = -1;
		goto out;
	}
	if (tab_grow() != 0) {
		close(fd);
		fd = -1;
		goto out;
	}
	pthread_atfork(at_prepare, at_parent, at_child);
	rec_pid = getpid();
	enabled = 1;
out:
	busy--;
}

static int
cmp_ev(const void *a, const void *b)
{
	uint32_t x = ((const struct slot *)a)->ev, y = ((const struct slot *)b)->ev;

	return x < y ? -1 : x > y;
}

static void
rec_fini(void)
{
	char line[160], *p;
	size_t n = 0;

	busy++;
	pthread_mutex_lock(&lock);
	if (!enabled)
		goto out;
	/* Close the trace: free what is live, oldest allocation first. */
	for (size_t i = 0; i < tab_cap; i++)
		if (tab[i].addr != 0)
			tab[n++] = tab[i];
	qsort(tab, n, sizeof(*tab), cmp_ev);
	for (size_t i = 0; i < n; i++)
		emit('f', tab[i].size, tab[i].ev, tab[i].thread);
	flush();
	p = put_s(line, "# closed at exit: ");
	p = put_u(p, n);
	p = put_s(p, " still live freed; threads ");
	p = put_u(p, nthreads_seen);
	p = put_s(p, "; allocations not recorded ");
	p = put_u(p, skipped);
	*p++ = '\n';
	memcpy(obuf, line, (size_t)(p - line));
	olen = (size_t)(p - line);
	flush();
	enabled = 0;
	close(fd);
	fd = -1;
out:
	pthread_mutex_unlock(&lock);
	busy--;
}

__attribute__((destructor)) static void
rec_fini_at_exit(void)
{
	rec_fini();
}

/* ---- The wrappers ------------------------------------------------------- */

/*
 * _exit and _Exit skip the destructor: close the trace first (only in the
 * recording process itself, never in a vfork child sharing its memory).
 */
EXPORT _Noreturn void
_exit(int status)
{
	if (rec_pid != 0 && getpid() == rec_pid)
		rec_fini();
	if (real__exit == NULL)
		resolve();
	real__exit(status);
	for (;;)
		;
}

EXPORT _Noreturn void
_Exit(int status)
{
	if (rec_pid != 0 && getpid() == rec_pid)
		rec_fini();
	if (real__Exit == NULL)
		resolve();
	real__Exit(status);
	for (;;)
		;
}

EXPORT void *
malloc(size_t size)
{
	void *p;

	if (!ready())
		return boot_alloc(size, 0);
	if (busy)
		return real_malloc(size);
	busy++;
	p = real_malloc(size);
	rec_alloc(p, size);
	busy--;
	return p;
}

EXPORT void
free(void *p)
{
	if (p == NULL || is_boot(p))
		return;
	if (!ready() || busy) {
		if (real_free != NULL)
			real_free(p);
		return;
	}
	busy++;
	(void)rec_free(p);
	real_free(p);
	busy--;
}

EXPORT void *
calloc(size_t n, size_t size)
{
	void *p;

	if (!ready() || real_calloc == NULL) {
		if (size != 0 && n > SIZE_MAX / size)
			return NULL;
		return boot_alloc(n * size, 1);
	}
	if (busy)
		return real_calloc(n, size);
	busy++;
	p = real_calloc(n, size);
	if (p != NULL)
		rec_alloc(p, n * size);
	busy--;
	return p;
}

EXPORT void *
realloc(void *old, size_t size)
{
	void *p;
	uint32_t osize;

	if (is_boot(old)) {
		/* Move a bootstrap block to the real heap (recorded as a new one). */
		size_t have;

		memcpy(&have, (unsigned char *)old - 16, sizeof(have));
		if ((p = malloc(size)) != NULL)
			memcpy(p, old, have < size ? have : size);
		return p;
	}
	if (!ready() || real_realloc == NULL)
		return boot_alloc(size, 0);
	if (busy)
		return real_realloc(old, size);
	busy++;
	/* In the trace: the free of old, then an allocation of size. */
	osize = rec_free(old);
	p = real_realloc(old, size);
	if (p != NULL && size != 0)
		rec_alloc(p, size);
	else if (p == NULL && old != NULL && size != 0 && osize != 0)
		rec_alloc(old, osize);	/* failed: old is still there */
	busy--;
	return p;
}

EXPORT int
posix_memalign(void **pp, size_t align, size_t size)
{
	int e;

	if (!ready() || real_posix_memalign == NULL)
		return ENOMEM;
	if (busy)
		return real_posix_memalign(pp, align, size);
	busy++;
	e = real_posix_memalign(pp, align, size);
	if (e == 0)
		rec_alloc(*pp, size);
	busy--;
	return e;
}

EXPORT void *
aligned_alloc(size_t align, size_t size)
{
	void *p;

	if (!ready() || real_aligned_alloc == NULL)
		return NULL;
	if (busy)
		return real_aligned_alloc(align, size);
	busy++;
	p = real_aligned_alloc(align, size);
	rec_alloc(p, size);
	busy--;
	return p;
}

EXPORT void *
memalign(size_t align, size_t size)
{
	void *p;

	if (!ready() || real_memalign == NULL)
		return NULL;
	if (busy)
		return real_memalign(align, size);
	busy++;
	p = real_memalign(align, size);
	rec_alloc(p, size);
	busy--;
	return p;
}
