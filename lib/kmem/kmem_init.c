/*
 * kmem_init.c -- bring-up and teardown of a kmem instance, its accessors,
 * misuse reporting and the M_WAITOK sleep.
 *
 * Theory of operation
 * -------------------
 * kmem is FreeBSD's vm_kern.c on an explicit instance.  It owns a
 * simulated machine (pmap_sim) and, over it, the structures FreeBSD's
 * kmem_init() builds:
 *
 *   kernel_map     a vm_map over [kva_min, kva_max).  The bootstrap region
 *                  at its bottom is one entry from the start (the kernel's
 *                  own image, optionally backed by pages that
 *                  kmem_bootstrap_free_k() can give back).  Every other
 *                  entry is a KVA import, a submap, or a NetBSD-style
 *                  allocation of the compat layer.
 *   kernel arena   a vmem arena with no span of its own.  It imports KVA
 *                  from kernel_map in multiples of the import quantum,
 *                  aligned to the KVA quantum (2 MiB: a superpage), and
 *                  never gives it back (no release function, so adjacent
 *                  imports coalesce).  kva_alloc_k() allocates here.
 *   domain arenas  one per NUMA domain, importing from the kernel arena,
 *                  again KVA-quantum aligned and in import-quantum
 *                  multiples (128 quanta = 256 MiB with several domains, so
 *                  that chunks of different domains seldom interleave),
 *                  never releasing.  A 2 MiB chunk imported by domain d's
 *                  arena only ever holds memory of domain d: that is what
 *                  lets its pages fill one reservation and be promoted.
 *   rwx arenas     one per domain for M_EXEC memory, importing and
 *                  releasing one quantum at a time, so executable mappings
 *                  never share a chunk with ordinary ones.
 *
 * kmem_malloc_domainset_k() asks the domain set's iterator (domainset.c)
 * for a domain, takes KVA from that domain's arena (best fit, no sleep)
 * and backs it page by page with wired pages of that domain from the
 * machine's kernel object, at index (va - kva_min) / PAGE_SIZE, so that a
 * chunk's pages come from one superpage reservation; each page is entered
 * in the kernel pmap, which promotes a chunk once all 512 pages are in.
 * A failure part-way unbacks what was backed and returns the KVA; the
 * iterator then tries the next domain, and with M_WAITOK sleeps until
 * kmem frees something and starts again.
 *
 * kmem_free_k() must recover the arena without being told: like FreeBSD it
 * takes the domain of the first page and whether the allocation was
 * executable.  The machine does not let kmem flag its pages, so each
 * instance keeps a record of its allocations: three bitmaps over the
 * kernel address range (first page, last page, executable).  They also
 * let kmem_free_k() reject a wrong address or size before anything is
 * changed.  See doc/kmem.md for the invariants kmem_check() verifies.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "kmem_impl.h"
#include "kvmem_registry.h"

static _Atomic long live_instances;

/* Every live instance, for kmem_foreach() (see kvmem_registry.h). */
static struct kvmem_registry registry = KVMEM_REGISTRY_INIT;

struct foreach_ctx {
	kmem_foreach_fn	*fn;
	void		*arg;
};

static int
foreach_visit(void *item, void *ctx)
{
	struct foreach_ctx *c = ctx;
	return c->fn(item, c->arg);
}

int
kmem_foreach(kmem_foreach_fn *fn, void *arg)
{
	if (fn == NULL)
		return EINVAL;
	struct foreach_ctx c = { fn, arg };
	return kvmem__registry_walk(&registry, foreach_visit, &c);
}

long
kmem__live_instances(void)
{
	return atomic_load(&live_instances);
}

/* ---- Misuse ------------------------------------------------------------------------ */

static pthread_mutex_t default_lock = PTHREAD_MUTEX_INITIALIZER;
static kmem_misuse_fn *default_fn;
static void *default_arg;

static void
misuse_default(void *arg, struct kmem *k, enum kmem_misuse kind, vm_offset_t addr,
    vm_size_t size, const char *msg)
{
	(void)arg;
	(void)k;
	(void)kind;
	(void)addr;
	(void)size;
	fprintf(stderr, "%s\n", msg);
	fflush(stderr);
	abort();
}

void
kmem_set_misuse_handler(struct kmem *k, kmem_misuse_fn *fn, void *arg)
{
	if (k == NULL) {
		pthread_mutex_lock(&default_lock);
		default_fn = fn;
		default_arg = arg;
		pthread_mutex_unlock(&default_lock);
		return;
	}
	k = kmem__get(k, "kmem_set_misuse_handler");
	pthread_mutex_lock(&k->misc_lock);
	k->misuse_fn = fn;
	k->misuse_arg = arg;
	pthread_mutex_unlock(&k->misc_lock);
}

const char *
kmem_misuse_name(enum kmem_misuse kind)
{
	switch (kind) {
	case KMEM_MISUSE_BAD_FREE:	return "bad free";
	case KMEM_MISUSE_NOT_BACKED:	return "not backed";
	case KMEM_MISUSE_BACKED:	return "already backed";
	case KMEM_MISUSE_ARENA:		return "arena misuse";
	case KMEM_MISUSE_LEAK:		return "leak";
	case KMEM_MISUSE_BAD_ARG:	return "bad argument";
	}
	return "unknown";
}

/*
 * Report a misuse to the instance's handler (else the process default,
 * else print and abort).  No kmem lock may be held.
 */
void
kmem__misuse(struct kmem *k, enum kmem_misuse kind, vm_offset_t addr, vm_size_t size,
    const char *call, const char *fmt, ...)
{
	char body[320], msg[448];
	kmem_misuse_fn *fn;
	void *arg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "kvmem: kmem '%s': %s (%s)", k->name, body, call);
	atomic_fetch_add_explicit(&k->st_misuses, 1, RLX);
	pthread_mutex_lock(&k->misc_lock);
	fn = k->misuse_fn;
	arg = k->misuse_arg;
	pthread_mutex_unlock(&k->misc_lock);
	if (fn == NULL) {
		pthread_mutex_lock(&default_lock);
		fn = default_fn;
		arg = default_arg;
		pthread_mutex_unlock(&default_lock);
	}
	if (fn == NULL)
		fn = misuse_default;
	fn(arg, k, kind, addr, size, msg);
}

/* The arenas' misuse reports go to the instance's handler. */
static void
arena_misuse(void *arg, vmem_t *vm, enum vmem_misuse kind, vmem_addr_t addr,
    vmem_size_t size, const char *msg)
{
	struct kmem *k = arg;

	(void)vm;
	if (k->destroying && kind == VMEM_MISUSE_LEAK)
		return;		/* kmem_destroy() reported it already */
	kmem__misuse(k, KMEM_MISUSE_ARENA, addr, size, "arena", "%s", msg);
}

void
kmem__einval(struct kmem *k)
{
	atomic_fetch_add_explicit(&k->st_einval, 1, RLX);
	errno = EINVAL;
}

struct kmem *
kmem__get(struct kmem *k, const char *call)
{
	if (KVMEM_UNLIKELY(k == NULL || k->magic != KMEM_MAGIC))
		KVMEM_PANIC("kmem: %s: %p is not a live kmem instance", call, (void *)k);
	return k;
}

/* ---- Flags ------------------------------------------------------------------------- */

int
kmem__check_flags(int flags)
{
	if ((flags & ~KMEM_FLAGS_MASK) != 0)
		return EINVAL;
	if (((flags & M_NOWAIT) != 0) == ((flags & M_WAITOK) != 0))
		return EINVAL;
	if ((flags & M_USE_RESERVE) != 0 && (flags & M_NOWAIT) == 0)
		return EINVAL;
	return 0;
}

/*
 * FreeBSD's malloc2vm_flags without the sleeping bits: kernel memory may
 * dig into the free reserve (VM_ALLOC_SYSTEM), M_USE_RESERVE to its last
 * pages.
 */
int
kmem__req(int flags)
{
	int req = (flags & M_USE_RESERVE) ? VM_ALLOC_INTERRUPT : VM_ALLOC_SYSTEM;

	if (flags & M_ZERO)
		req |= VM_ALLOC_ZERO;
	if (flags & M_NORECLAIM)
		req |= VM_ALLOC_NORECLAIM;
	return req;
}

/* ---- Sleeping ------------------------------------------------------------------------ */

/*
 * Every path that gives memory or KVA back bumps free_gen and, if someone
 * sleeps, broadcasts.  A sleeper counts itself in waiters before checking
 * the generation (both sequentially consistent), so a free either sees the
 * waiter or happened before the check: no lost wakeup.
 */
void
kmem__wakeup(struct kmem *k)
{
	atomic_fetch_add(&k->free_gen, 1);
	if (atomic_load(&k->waiters) != 0) {
		pthread_mutex_lock(&k->wait_lock);
		pthread_cond_broadcast(&k->wait_cv);
		pthread_mutex_unlock(&k->wait_lock);
	}
}

/*
 * Sleep until a kmem free after generation gen, or one poll interval
 * (memory freed outside kmem wakes nobody).  May return early.
 */
void
kmem__wait(struct kmem *k, uint64_t gen)
{
	struct timespec ts;

	atomic_fetch_add_explicit(&k->st_waits, 1, RLX);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)(k->wait_poll_ns % 1000000000u);
	ts.tv_sec += (time_t)(k->wait_poll_ns / 1000000000u);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_nsec -= 1000000000L;
		ts.tv_sec++;
	}
	pthread_mutex_lock(&k->wait_lock);
	atomic_fetch_add(&k->waiters, 1);
	while (atomic_load(&k->free_gen) == gen)
		if (pthread_cond_timedwait(&k->wait_cv, &k->wait_lock, &ts) == ETIMEDOUT)
			break;
	atomic_fetch_sub(&k->waiters, 1);
	pthread_mutex_unlock(&k->wait_lock);
}

/* ---- Configuration ------------------------------------------------------------------- */

void
kmem_config_init(struct kmem_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->version = KMEM_CONFIG_VERSION;
	pmap_sim_config_init(&cfg->machine);
	cfg->kva_min = PMAP_SIM_VM_MIN_KERNEL_ADDRESS;
	cfg->kva_max = PMAP_SIM_VM_MAX_KERNEL_ADDRESS;
	cfg->bootstrap_size = 16u << 20;
	cfg->kva_quantum = KMEM_KVA_QUANTUM;
	cfg->zero_region_size = 2u << 20;
}

static bool
pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

#define REJECT(...) do {						\
	if (msg != NULL && msglen > 0)					\
		snprintf(msg, msglen, __VA_ARGS__);			\
	return EINVAL;							\
} while (0)

int
kmem_config_check(const struct kmem_config *cfg, char *msg, size_t msglen)
{
	char m2[160];
	vm_size_t q, iq;

	if (cfg == NULL)
		REJECT("no configuration");
	if (cfg->version != KMEM_CONFIG_VERSION)
		REJECT("unknown configuration version %u", cfg->version);
	if (pmap_sim_config_check(&cfg->machine, m2, sizeof(m2)) != 0)
		REJECT("machine: %s", m2);
	q = cfg->kva_quantum;
	if (!pow2(q) || q < KPAGE)
		REJECT("kva_quantum 0x%" PRIx64 " is not a power of two of at least a page",
		    (uint64_t)q);
	if (cfg->kva_min < PMAP_SIM_KVA_MIN || (cfg->kva_min & (q - 1)) != 0)
		REJECT("kva_min 0x%" PRIx64 " is not a kernel address aligned to kva_quantum",
		    (uint64_t)cfg->kva_min);
	if (cfg->kva_max <= cfg->kva_min || (cfg->kva_max & KPAGE_MASK) != 0)
		REJECT("kva_max 0x%" PRIx64 " is not a page-aligned address above kva_min",
		    (uint64_t)cfg->kva_max);
	if ((cfg->bootstrap_size & KPAGE_MASK) != 0 ||
	    cfg->bootstrap_size >= cfg->kva_max - cfg->kva_min)
		REJECT("bootstrap_size 0x%" PRIx64 " is unaligned or leaves no KVA",
		    (uint64_t)cfg->bootstrap_size);
	if ((cfg->bootstrap_backed & KPAGE_MASK) != 0 ||
	    cfg->bootstrap_backed > cfg->bootstrap_size)
		REJECT("bootstrap_backed 0x%" PRIx64 " is unaligned or beyond the bootstrap region",
		    (uint64_t)cfg->bootstrap_backed);
	iq = cfg->import_quantum;
	if (iq != 0 && (iq % q != 0 || iq / q > (1u << 20)))
		REJECT("import_quantum 0x%" PRIx64 " is not a (sane) multiple of kva_quantum",
		    (uint64_t)iq);
	iq = cfg->rwx_import_quantum;
	if (iq != 0 && (iq % q != 0 || iq / q > (1u << 20)))
		REJECT("rwx_import_quantum 0x%" PRIx64 " is not a (sane) multiple of kva_quantum",
		    (uint64_t)iq);
	if ((cfg->zero_region_size & KPAGE_MASK) != 0 ||
	    (cfg->exec_map_size & KPAGE_MASK) != 0 || (cfg->pipe_map_size & KPAGE_MASK) != 0)
		REJECT("zero region and submap sizes must be page multiples");
	if ((cfg->kva_max - cfg->kva_min) / KPAGE > ((uint64_t)1 << 36))
		REJECT("the kernel address range is larger than 256 TiB");
	return 0;
}

/* ---- Bring-up ------------------------------------------------------------------------ */

static void teardown(struct kmem *k);

/* Distances and, per domain, every domain by increasing distance. */
static int
setup_domains(struct kmem *k, const struct kmem_config *cfg)
{
	int nd = k->ndomains, i, j;

	k->dom = aligned_alloc(64, sizeof(*k->dom) * (size_t)nd);
	k->dist = calloc((size_t)nd * (size_t)nd, 1);
	k->near = calloc((size_t)nd * (size_t)nd, 1);
	if (k->dom == NULL || k->dist == NULL || k->near == NULL)
		return ENOMEM;
	memset(k->dom, 0, sizeof(*k->dom) * (size_t)nd);
	for (i = 0; i < nd; i++) {
		struct kmem_domain *d = &k->dom[i];
		struct pmap_sim_domain_stats st = { .version = PMAP_SIM_STATS_VERSION };

		if (pmap_sim_domain_stats(k->sim, i, &st) != 0)
			return EINVAL;
		d->page_count = st.page_count;
		d->pa_start = st.start;
		d->pa_end = st.end;
		d->free_min = cfg->free_min != 0 ? cfg->free_min : 4 + st.page_count / 200;
		for (j = 0; j < nd; j++)
			k->dist[i * nd + j] = (uint8_t)pmap_sim_distance(k->sim, i, j);
	}
	for (i = 0; i < nd; i++) {
		uint8_t *row = &k->near[i * nd];

		for (j = 0; j < nd; j++)
			row[j] = (uint8_t)j;
		/* insertion sort by distance from i, ties by number; i itself first */
		for (j = 1; j < nd; j++) {
			uint8_t v = row[j];
			int m = j;
			unsigned dv = v == i ? 0 : k->dist[i * nd + v];

			while (m > 0) {
				uint8_t u = row[m - 1];
				unsigned du = u == i ? 0 : k->dist[i * nd + u];

				if (du <= dv)
					break;
				row[m] = u;
				m--;
			}
			row[m] = v;
		}
	}
	k->all_mask = nd == 64 ? ~(uint64_t)0 : (((uint64_t)1 << nd) - 1);
	return 0;
}

/* The allocation records: three bitmaps over the kernel range, no-reserve. */
static int
setup_records(struct kmem *k)
{
	uint64_t pages = (k->kva_max - k->kva_min) >> KPAGE_SHIFT;
	size_t words = (size_t)((pages + 63) / 64);
	size_t len = 3 * words * sizeof(uint64_t);
	void *p;

	len = (len + 4095) & ~(size_t)4095;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	    -1, 0);
	if (p == MAP_FAILED)
		return ENOMEM;
	k->rec_map = p;
	k->rec_len = len;
	k->rec_words = words;
	k->rec_start = p;
	k->rec_end = k->rec_start + words;
	k->rec_exec = k->rec_end + words;
	return 0;
}

/*
 * The kernel arena (in the instance) importing from kernel_map, and per
 * domain an arena and an rwx arena importing from it; misuse they detect
 * goes to the instance's handler.  0 or an errno (teardown cleans up).
 */
static int
setup_arenas(struct kmem *k, const struct kmem_config *cfg)
{
	char name[VMEM_NAME_MAX];
	int i;

	k->kernel_arena = vmem_init(&k->kernel_arena_store, "kernel arena", 0, 0, KPAGE, 0, 0);
	if (k->kernel_arena == NULL)
		return errno != 0 ? errno : ENOMEM;
	vmem_set_misuse_handler(k->kernel_arena, arena_misuse, k);
	vmem_set_ximport(k->kernel_arena, kmem__kva_import, NULL, &k->src_kernel, k->import_q);
	for (i = 0; i < k->ndomains; i++) {
		struct kmem_domain *d = &k->dom[i];

		snprintf(name, sizeof(name), "kernel arena domain %d", i & 63);
		d->arena = vmem_create(name, 0, 0, KPAGE, cfg->arena_qcache_max, M_WAITOK);
		snprintf(name, sizeof(name), "kernel rwx arena domain %d", i & 63);
		d->rwx_arena = vmem_create(name, 0, 0, KPAGE, 0, M_WAITOK);
		if (d->arena == NULL || d->rwx_arena == NULL)
			return ENOMEM;
		vmem_set_misuse_handler(d->arena, arena_misuse, k);
		vmem_set_misuse_handler(d->rwx_arena, arena_misuse, k);
		vmem_set_ximport(d->arena, kmem__kva_import_domain, NULL, &k->src_dom, k->import_q);
		vmem_set_ximport(d->rwx_arena, kmem__kva_import_domain, kmem__kva_release_domain,
		    &k->src_rwx, k->rwx_q);
		/* Both import from the kernel arena: say so to observers. */
		vmem_set_parent(d->arena, k->kernel_arena);
		vmem_set_parent(d->rwx_arena, k->kernel_arena);
	}
	return 0;
}

/*
 * Bring-up in FreeBSD's order (map, bootstrap, arenas) plus the machine
 * first and the extras last; any failure tears down what was built.
 */
struct kmem *
kmem_create(const struct kmem_config *cfg)
{
	pthread_condattr_t ca;
	struct kmem *k;
	unsigned shift;
	int error;

	if (kmem_config_check(cfg, NULL, 0) != 0) {
		errno = EINVAL;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(k->name, sizeof(k->name), "%s", cfg->name[0] != '\0' ? cfg->name : "kmem");
	pthread_mutex_init(&k->wait_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->wait_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&k->sub_lock, NULL);
	pthread_mutex_init(&k->misc_lock, NULL);
	k->misuse_fn = cfg->misuse_fn;
	k->misuse_arg = cfg->misuse_arg;
	if (pthread_key_create(&k->tls, NULL) != 0) {
		pthread_mutex_destroy(&k->wait_lock);
		pthread_cond_destroy(&k->wait_cv);
		pthread_mutex_destroy(&k->sub_lock);
		pthread_mutex_destroy(&k->misc_lock);
		free(k);
		errno = EAGAIN;
		return NULL;
	}
	k->magic = KMEM_MAGIC;
	k->kva_min = cfg->kva_min;
	k->kva_max = cfg->kva_max;
	k->boot_end = cfg->kva_min + cfg->bootstrap_size;
	k->boot_backed_end = cfg->kva_min + cfg->bootstrap_backed;
	k->kvaq = cfg->kva_quantum;
	for (shift = 0; ((vm_size_t)1 << shift) < k->kvaq; shift++)
		;
	k->kvaq_shift = shift;
	k->mixed = k->kvaq < KSPG;
	k->wait_poll_ns = (uint64_t)(cfg->wait_poll_ms != 0 ? cfg->wait_poll_ms : 20) * 1000000u;

	k->sim = pmap_sim_create(&cfg->machine);
	if (k->sim == NULL) {
		error = errno != 0 ? errno : ENOMEM;
		goto fail;
	}
	k->kpmap = pmap_sim_kernel_pmap(k->sim);
	k->kobj = pmap_sim_kernel_object(k->sim);
	k->ndomains = pmap_sim_ndomains(k->sim);
	if ((error = kmem__tstat_init(k)) != 0)
		goto fail;
	k->import_q = cfg->import_quantum != 0 ? cfg->import_quantum :
	    k->ndomains > 1 ? k->kvaq * KMEM_NUMA_IMPORT_FACTOR : k->kvaq;
	k->rwx_q = cfg->rwx_import_quantum != 0 ? cfg->rwx_import_quantum : k->kvaq;
	k->src_kernel = (struct kmem_src){ k, k->import_q };
	k->src_dom = (struct kmem_src){ k, k->import_q };
	k->src_rwx = (struct kmem_src){ k, k->rwx_q };
	if ((error = setup_domains(k, cfg)) != 0 || (error = setup_records(k)) != 0)
		goto fail;

	k->kernel_map = vm_map_init(&k->kernel_map_store, "kernel_map", k->kva_min, k->kva_max,
	    KPAGE);
	if (k->kernel_map == NULL) {
		error = errno != 0 ? errno : ENOMEM;
		goto fail;
	}
	vm_map_set_pmap(k->kernel_map, &kmem__pmap_ops, k);
	if (cfg->bootstrap_size != 0 &&
	    (error = vm_map_insert(k->kernel_map, NULL, 0, k->kva_min, k->boot_end, VM_PROT_ALL,
	    VM_PROT_ALL, VM_MAP_NOFAULT | VM_MAP_NOMERGE)) != 0)
		goto fail;
	if ((error = kmem__bootstrap_init(k)) != 0 || (error = setup_arenas(k, cfg)) != 0 ||
	    (error = kmem__ds_setup_builtin(k)) != 0)
		goto fail;
	if (cfg->zero_region_size != 0 &&
	    (error = kmem__zero_region_init(k, cfg->zero_region_size)) != 0)
		goto fail;
	if (cfg->exec_map_size != 0) {
		vm_offset_t lo, hi;

		if ((error = kmem__subinit(k, NULL, k->kernel_map, "exec_map", &lo, &hi,
		    cfg->exec_map_size, VMFS_ANY_SPACE, &k->exec_map)) != 0)
			goto fail;
	}
	if (cfg->pipe_map_size != 0) {
		vm_offset_t lo, hi;

		if ((error = kmem__subinit(k, NULL, k->kernel_map, "pipe_map", &lo, &hi,
		    cfg->pipe_map_size, VMFS_ANY_SPACE, &k->pipe_map)) != 0)
			goto fail;
	}
	if ((error = kvmem__registry_link(&registry, k)) != 0)
		goto fail;
	atomic_fetch_add(&live_instances, 1);
	return k;
fail:
	teardown(k);
	errno = error;
	return NULL;
}

static int
lowest_busy(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	vm_offset_t *firstp = arg;

	(void)size;
	(void)type;
	if (*firstp == 0 || addr < *firstp)
		*firstp = addr;
	return 1;		/* the walk is in address order: the first is the lowest */
}

/*
 * Bytes handed out by arenas that belong to callers (not to other arenas),
 * and the lowest address of a live kmem_malloc allocation (0 if none).
 */
static vm_size_t
leaked_bytes(struct kmem *k, vm_offset_t *firstp)
{
	vm_size_t n = 0, children = 0;
	int i;

	*firstp = 0;
	for (i = 0; i < k->ndomains; i++) {
		struct kmem_domain *d = &k->dom[i];

		if (d->arena != NULL) {
			n += vmem_size(d->arena, VMEM_ALLOC);
			children += vmem_size(d->arena, VMEM_ALLOC | VMEM_FREE);
			(void)vmem_walk(d->arena, VMEM_ALLOC, lowest_busy, firstp);
		}
		if (d->rwx_arena != NULL) {
			n += vmem_size(d->rwx_arena, VMEM_ALLOC);
			children += vmem_size(d->rwx_arena, VMEM_ALLOC | VMEM_FREE);
			(void)vmem_walk(d->rwx_arena, VMEM_ALLOC, lowest_busy, firstp);
		}
	}
	if (k->kernel_arena != NULL) {
		vm_size_t inuse = vmem_size(k->kernel_arena, VMEM_ALLOC);

		inuse -= children + k->zero_size;
		n += inuse;
	}
	return n;
}

/*
 * Undo a bring-up, complete or not.  Tolerates every member still unset.
 * The machine goes last: whatever kmem leaked in it goes with it.
 */
static void
teardown(struct kmem *k)
{
	int i;

	k->destroying = true;
	if (k->kernel_map != NULL) {
		/* The machine is discarded whole: no need to unmap piecemeal. */
		kmem__submaps_fini(k);
		kmem__zero_region_fini(k);
		vm_map_set_pmap(k->kernel_map, NULL, NULL);
	}
	if (k->dom != NULL) {
		for (i = 0; i < k->ndomains; i++) {
			if (k->dom[i].rwx_arena != NULL)
				vmem_destroy(k->dom[i].rwx_arena);
			if (k->dom[i].arena != NULL)
				vmem_destroy(k->dom[i].arena);
		}
	}
	if (k->kernel_arena != NULL)
		vmem_destroy(k->kernel_arena);
	if (k->kernel_map != NULL)
		vm_map_destroy(k->kernel_map);
	if (k->sim != NULL)
		pmap_sim_destroy(k->sim);
	if (k->rec_map != NULL)
		munmap(k->rec_map, k->rec_len);
	free(k->dom);
	free(k->dist);
	free(k->near);
	if (k->ts_shared != NULL)
		kmem__tstat_fini(k);
	pthread_key_delete(k->tls);
	pthread_mutex_destroy(&k->wait_lock);
	pthread_cond_destroy(&k->wait_cv);
	pthread_mutex_destroy(&k->sub_lock);
	pthread_mutex_destroy(&k->misc_lock);
	k->magic = 0;
	free(k);
}

void
kmem_destroy(struct kmem *k)
{
	vm_offset_t first;
	vm_size_t leaked;

	if (k == NULL)
		return;
	k = kmem__get(k, "kmem_destroy");
	kvmem__registry_unlink(&registry, k);
	leaked = leaked_bytes(k, &first);
	if (leaked != 0)
		kmem__misuse(k, KMEM_MISUSE_LEAK, first, leaked, "kmem_destroy",
		    "destroyed with %" PRIu64 " bytes (%" PRIu64 " allocations) still allocated,"
		    " the first at 0x%" PRIx64, (uint64_t)leaked, kmem__live_allocs(k),
		    (uint64_t)first);
	atomic_fetch_sub(&live_instances, 1);
	teardown(k);
}

/* ---- Accessors ----------------------------------------------------------------------- */

const char *
kmem_name(const struct kmem *k)
{
	return kmem__get((struct kmem *)(uintptr_t)k, "kmem_name")->name;
}

int
kmem_ndomains(const struct kmem *k)
{
	return kmem__get((struct kmem *)(uintptr_t)k, "kmem_ndomains")->ndomains;
}

struct pmap_sim *
kmem_sim(struct kmem *k)
{
	return kmem__get(k, "kmem_sim")->sim;
}

pmap_t
kmem_kernel_pmap(struct kmem *k)
{
	return kmem__get(k, "kmem_kernel_pmap")->kpmap;
}

vm_object_t
kmem_kernel_object(struct kmem *k)
{
	return kmem__get(k, "kmem_kernel_object")->kobj;
}

vm_map_t
kmem_kernel_map(struct kmem *k)
{
	return kmem__get(k, "kmem_kernel_map")->kernel_map;
}

vmem_t *
kmem_kernel_arena(struct kmem *k)
{
	return kmem__get(k, "kmem_kernel_arena")->kernel_arena;
}

vmem_t *
kmem_domain_arena(struct kmem *k, int domain)
{
	k = kmem__get(k, "kmem_domain_arena");
	if (domain < 0 || domain >= k->ndomains) {
		errno = EINVAL;
		return NULL;
	}
	return k->dom[domain].arena;
}

vmem_t *
kmem_rwx_arena(struct kmem *k, int domain)
{
	k = kmem__get(k, "kmem_rwx_arena");
	if (domain < 0 || domain >= k->ndomains) {
		errno = EINVAL;
		return NULL;
	}
	return k->dom[domain].rwx_arena;
}

vm_map_t
kmem_exec_map(struct kmem *k)
{
	return kmem__get(k, "kmem_exec_map")->exec_map;
}

vm_map_t
kmem_pipe_map(struct kmem *k)
{
	return kmem__get(k, "kmem_pipe_map")->pipe_map;
}

vm_offset_t
kmem_zero_region(struct kmem *k, vm_size_t *sizep)
{
	k = kmem__get(k, "kmem_zero_region");
	if (sizep != NULL)
		*sizep = k->zero_size;
	return k->zero_va;
}

void
kmem_bootstrap_region(struct kmem *k, vm_offset_t *startp, vm_offset_t *endp,
    vm_offset_t *backed_endp)
{
	k = kmem__get(k, "kmem_bootstrap_region");
	if (startp != NULL)
		*startp = k->kva_min;
	if (endp != NULL)
		*endp = k->boot_end;
	if (backed_endp != NULL)
		*backed_endp = k->boot_backed_end;
}

vm_size_t
kmem_kva_quantum(const struct kmem *k)
{
	return kmem__get((struct kmem *)(uintptr_t)k, "kmem_kva_quantum")->kvaq;
}

vm_size_t
kmem_import_quantum(const struct kmem *k)
{
	return kmem__get((struct kmem *)(uintptr_t)k, "kmem_import_quantum")->import_q;
}
