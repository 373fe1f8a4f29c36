/*
 * kmem_check.c -- kmem_check(): the whole stack must agree.
 *
 * Below the instance every layer checks itself (vmem_check, vm_map_check,
 * pmap_sim_check).  Across the layers:
 *
 *   kernel_map   its entries are the bootstrap region, KVA imports
 *                (no-fault, no object) adding up to what the import
 *                callback handed out, submaps, and compat entries with an
 *                object;
 *   kernel arena its spans lie inside imports or the bootstrap region and
 *                add up to imports plus bootstrap space given back;
 *   domain arenas their spans are KVA-quantum aligned, disjoint, and lie
 *                inside kernel-arena allocations;
 *   allocations  inside a domain arena's spans every page is either part
 *                of exactly one recorded allocation (first/last/exec bits)
 *                and then mapped, wired, a kernel-object page at its index,
 *                of the arena's domain, executable iff in an rwx arena; or
 *                not mapped at all.  The bytes found equal each arena's
 *                bytes in use, and the allocations found equal the
 *                instance's count;
 *   pages        what kmem counts per domain equals what the walk found
 *                (plus pages backed by kmem_back in kva_alloc space), and
 *                the kernel object holds exactly those plus the compat
 *                layer's; the bootstrap and zero regions are as built.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmem_impl.h"

struct seglist {
	vmem_addr_t	*a;
	vmem_size_t	*s;
	size_t		n, cap;
	int		oom;
};

static int
seg_add(void *arg, vmem_addr_t addr, vmem_size_t size, int type)
{
	struct seglist *l = arg;

	(void)type;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		vmem_addr_t *a = realloc(l->a, cap * sizeof(*a));
		vmem_size_t *s;

		if (a == NULL) {
			l->oom = 1;
			return 1;
		}
		l->a = a;
		if ((s = realloc(l->s, cap * sizeof(*s))) == NULL) {
			l->oom = 1;
			return 1;
		}
		l->s = s;
		l->cap = cap;
	}
	l->a[l->n] = addr;
	l->s[l->n] = size;
	l->n++;
	return 0;
}

static void
seg_free(struct seglist *l)
{
	free(l->a);
	free(l->s);
	memset(l, 0, sizeof(*l));
}

static int __attribute__((format(printf, 2, 3)))
bad(const struct kmem *k, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kmem_check '%s': ", k->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* The leaf mapping of va: its physical address (0: none) and entry. */
static vm_paddr_t
leaf(struct kmem *k, vm_offset_t va, uint64_t *ep)
{
	int level = 0;
	uint64_t e = pmap_sim_kpte(k->sim, va, &level);

	*ep = e;
	if (!(e & PMAP_PG_V))
		return 0;
	if (level == 2)
		return (e & PMAP_PG_PS_FRAME) + (va & (KSPG - 1));
	return e & PMAP_PG_FRAME;
}

/* ---- kernel_map ------------------------------------------------------------------------ */

struct map_walk {
	struct kmem	*k;
	vm_size_t	imports;
	int		boot_seen;
	int		err;
};

static int
map_entry(void *arg, const struct vm_map_entry_info *e)
{
	struct map_walk *w = arg;
	struct kmem *k = w->k;

	if (e->start == k->kva_min && k->boot_end != k->kva_min) {
		if (e->end != k->boot_end || e->object != NULL || !(e->flags & VM_MAP_ENTRY_NOFAULT)) {
			w->err = bad(k, "kernel_map: bootstrap entry [0x%" PRIx64 ", 0x%" PRIx64
			    ") is not [kva_min, bootstrap end)", (uint64_t)e->start, (uint64_t)e->end);
			return 1;
		}
		w->boot_seen = 1;
		return 0;
	}
	if (e->flags & VM_MAP_ENTRY_IS_SUB_MAP)
		return 0;
	if (e->object != NULL)
		return 0;			/* a compat (uvm_km) allocation */
	if (!(e->flags & VM_MAP_ENTRY_NOFAULT)) {
		w->err = bad(k, "kernel_map: entry [0x%" PRIx64 ", 0x%" PRIx64
		    ") is neither an import, a submap nor a compat allocation",
		    (uint64_t)e->start, (uint64_t)e->end);
		return 1;
	}
	w->imports += e->end - e->start;
	return 0;
}

/* Is [a, e) covered by import entries (or the bootstrap entry) of kernel_map? */
static bool
covered_by_imports(struct kmem *k, vm_offset_t a, vm_offset_t e)
{
	while (a < e) {
		struct vm_map_entry_info info;

		if (!vm_map_lookup_entry(k->kernel_map, a, &info) || info.object != NULL ||
		    (info.flags & VM_MAP_ENTRY_IS_SUB_MAP) || !(info.flags & VM_MAP_ENTRY_NOFAULT))
			return false;
		a = info.end;
	}
	return true;
}

/* ---- Allocations in a domain arena ----------------------------------------------------- */

struct found {
	uint64_t	*pages;		/* per domain */
	uint64_t	allocs;
};

/*
 * Walk the pages of one span of domain d's arena (rwx or not) against the
 * records and the page tables; *inuse accumulates the allocated bytes.
 */
static int
check_span(struct kmem *k, int d, bool rwx, vm_offset_t s, vm_size_t size, struct found *f,
    vm_size_t *inuse)
{
	vm_offset_t va, astart = 0;
	bool in = false, aexec = false;

	if ((s & (k->kvaq - 1)) != 0 || (size & (k->kvaq - 1)) != 0)
		return bad(k, "%s arena of domain %d: span 0x%" PRIx64 " size %" PRIu64
		    " is not KVA-quantum aligned", rwx ? "rwx" : "kernel", d, (uint64_t)s,
		    (uint64_t)size);
	if (s < k->kva_min || s + size > k->kva_max || s + size < s)
		return bad(k, "domain %d: span 0x%" PRIx64 " is outside kernel_map", d,
		    (uint64_t)s);
	for (va = s; va < s + size; va += KPAGE) {
		uint64_t b = (va - k->kva_min) >> KPAGE_SHIFT, e;
		bool S = kmem__rec_test(k->rec_start, b), E = kmem__rec_test(k->rec_end, b);
		bool X = kmem__rec_test(k->rec_exec, b);
		vm_paddr_t pa = leaf(k, va, &e);

		if (S) {
			if (in)
				return bad(k, "allocation at 0x%" PRIx64 " starts inside the one at 0x%"
				    PRIx64, (uint64_t)va, (uint64_t)astart);
			in = true;
			astart = va;
			aexec = X;
			if (aexec != rwx)
				return bad(k, "allocation at 0x%" PRIx64 " in the %s arena of domain %d"
				    " is recorded %sexecutable", (uint64_t)va, rwx ? "rwx" : "kernel",
				    d, aexec ? "" : "not ");
		} else if (X) {
			return bad(k, "exec record at 0x%" PRIx64 " is not at an allocation's start",
			    (uint64_t)va);
		}
		if (in) {
			vm_page_t m = pa != 0 ? vm_page_from_phys(k->sim, pa) : NULL;

			if (m == NULL)
				return bad(k, "page 0x%" PRIx64 " of the allocation at 0x%" PRIx64
				    " is not mapped", (uint64_t)va, (uint64_t)astart);
			if (vm_page_object(m) != k->kobj || vm_page_pindex(m) != kmem__pindex(k, va))
				return bad(k, "page 0x%" PRIx64 " (pa 0x%" PRIx64 ") is not the kernel"
				    " object's page at its index", (uint64_t)va, (uint64_t)pa);
			if (vm_page_domain(m) != d && !k->mixed)
				return bad(k, "page 0x%" PRIx64 " is from domain %d, its arena's is %d",
				    (uint64_t)va, vm_page_domain(m), d);
			if (vm_page_wire_count(m) == 0 || !(e & PMAP_PG_W))
				return bad(k, "page 0x%" PRIx64 " is not wired", (uint64_t)va);
			if (!(e & PMAP_PG_RW))
				return bad(k, "page 0x%" PRIx64 " is not writable", (uint64_t)va);
			if (rwx && (e & PMAP_PG_NX))
				return bad(k, "page 0x%" PRIx64 " of an rwx allocation is not executable",
				    (uint64_t)va);
			f->pages[vm_page_domain(m)]++;
			*inuse += KPAGE;
		} else if (pa != 0) {
			return bad(k, "page 0x%" PRIx64 " of domain %d's arena is mapped outside"
			    " any allocation", (uint64_t)va, d);
		} else if (E) {
			return bad(k, "end record at 0x%" PRIx64 " without a start", (uint64_t)va);
		}
		if (E && in) {
			in = false;
			f->allocs++;
		}
	}
	if (in)
		return bad(k, "allocation at 0x%" PRIx64 " runs past its span's end",
		    (uint64_t)astart);
	return 0;
}

static int
check_domain_arena(struct kmem *k, int d, bool rwx, struct seglist *children, struct found *f)
{
	vmem_t *arena = rwx ? k->dom[d].rwx_arena : k->dom[d].arena;
	struct seglist spans = { 0 };
	vm_size_t inuse = 0, want;
	size_t i;
	int rc = 0;

	if (vmem_check(arena) != 0)
		return bad(k, "vmem_check of the %s arena of domain %d failed",
		    rwx ? "rwx" : "kernel", d);
	(void)vmem_walk(arena, VMEM_SPAN, seg_add, &spans);
	if (spans.oom) {
		seg_free(&spans);
		return bad(k, "out of memory");
	}
	for (i = 0; i < spans.n && rc == 0; i++) {
		rc = check_span(k, d, rwx, spans.a[i], spans.s[i], f, &inuse);
		if (rc == 0)
			rc = seg_add(children, spans.a[i], spans.s[i], VMEM_SPAN) ? 1 : 0;
	}
	seg_free(&spans);
	if (rc != 0)
		return rc;
	want = vmem_size(arena, VMEM_ALLOC);
	if (inuse != want)
		return bad(k, "%s arena of domain %d: %" PRIu64 " bytes in use, records cover %"
		    PRIu64, rwx ? "rwx" : "kernel", d, (uint64_t)want, (uint64_t)inuse);
	return 0;
}

static int
cmp_addr(const void *x, const void *y)
{
	const vmem_addr_t *a = x, *b = y;

	return *a < *b ? -1 : *a > *b;
}

/* Pairs (addr, size) sorted by address, in one array. */
static vmem_addr_t *
sorted_pairs(const struct seglist *l)
{
	vmem_addr_t *p = malloc((l->n ? l->n : 1) * 2 * sizeof(*p));
	size_t i;

	if (p == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		p[2 * i] = l->a[i];
		p[2 * i + 1] = l->s[i];
	}
	qsort(p, l->n, 2 * sizeof(*p), cmp_addr);
	return p;
}

/*
 * The kernel arena's allocations: children's spans must be inside them
 * (disjoint); the rest is kva_alloc space (and the zero region), where
 * pages kmem_back mapped are counted.
 */
static int
check_kernel_allocs(struct kmem *k, struct seglist *children, struct found *f)
{
	struct seglist busy = { 0 };
	vmem_addr_t *c = NULL, *b = NULL;
	size_t i, j = 0;
	int rc = 0;

	(void)vmem_walk(k->kernel_arena, VMEM_ALLOC, seg_add, &busy);
	if (busy.oom || (c = sorted_pairs(children)) == NULL || (b = sorted_pairs(&busy)) == NULL) {
		rc = bad(k, "out of memory");
		goto out;
	}
	/* children: disjoint, and each covered by consecutive busy segments */
	for (i = 0; i < children->n; i++) {
		vm_offset_t a = c[2 * i], e = a + c[2 * i + 1];

		if (i > 0 && c[2 * i - 2] + c[2 * i - 1] > a) {
			rc = bad(k, "domain arena spans at 0x%" PRIx64 " and 0x%" PRIx64 " overlap",
			    (uint64_t)c[2 * i - 2], (uint64_t)a);
			goto out;
		}
		while (j < busy.n && b[2 * j] + b[2 * j + 1] <= a)
			j++;
		while (a < e) {
			if (j >= busy.n || b[2 * j] > a) {
				rc = bad(k, "domain arena span 0x%" PRIx64 " is not kernel arena"
				    " allocation at 0x%" PRIx64, (uint64_t)c[2 * i], (uint64_t)a);
				goto out;
			}
			a = b[2 * j] + b[2 * j + 1];
			if (a <= e)
				j++;
		}
		if (a != e) {
			rc = bad(k, "domain arena span 0x%" PRIx64 " ends inside a kernel arena"
			    " allocation", (uint64_t)c[2 * i]);
			goto out;
		}
	}
	/* busy space that is no child's: kva_alloc space */
	j = 0;
	for (i = 0; i < busy.n; i++) {
		vm_offset_t a = b[2 * i], e = a + b[2 * i + 1], va;

		for (va = a; va < e; va += KPAGE) {
			uint64_t pte;
			vm_paddr_t pa;
			vm_page_t m;

			while (j < children->n && c[2 * j] + c[2 * j + 1] <= va)
				j++;
			if (j < children->n && c[2 * j] <= va) {
				va = c[2 * j] + c[2 * j + 1] - KPAGE;
				continue;
			}
			if (k->zero_size != 0 && va >= k->zero_va && va < k->zero_va + k->zero_size)
				continue;
			if ((pa = leaf(k, va, &pte)) == 0)
				continue;
			m = vm_page_from_phys(k->sim, pa);
			if (m == NULL || vm_page_object(m) != k->kobj ||
			    vm_page_pindex(m) != kmem__pindex(k, va) || vm_page_wire_count(m) == 0) {
				rc = bad(k, "kva_alloc space 0x%" PRIx64 " maps a page kmem_back did not"
				    " put there", (uint64_t)va);
				goto out;
			}
			f->pages[vm_page_domain(m)]++;
		}
	}
out:
	free(c);
	free(b);
	seg_free(&busy);
	return rc;
}

static int
check_regions(struct kmem *k)
{
	vm_offset_t va;
	uint64_t n = 0, pte;

	for (va = k->kva_min; va < k->boot_backed_end; va += KPAGE) {
		vm_paddr_t pa = leaf(k, va, &pte);
		vm_page_t m = pa != 0 ? vm_page_from_phys(k->sim, pa) : NULL;

		if (m == NULL || vm_page_object(m) == k->kobj)
			continue;	/* given back, perhaps backed again by kmem_back */
		if (vm_page_object(m) != NULL)
			return bad(k, "bootstrap page 0x%" PRIx64 " belongs to an object",
			    (uint64_t)va);
		n++;
	}
	if (n != atomic_load(&k->boot_pages))
		return bad(k, "%" PRIu64 " bootstrap pages mapped, %" PRIu64 " counted", n,
		    (uint64_t)atomic_load(&k->boot_pages));
	for (va = k->zero_va; va < k->zero_va + k->zero_size; va += KPAGE) {
		vm_paddr_t pa = leaf(k, va, &pte);

		if (pa != vm_page_phys(k->zero_page) || (pte & PMAP_PG_RW))
			return bad(k, "zero region page 0x%" PRIx64 " is not the zero page mapped"
			    " read-only", (uint64_t)va);
	}
	if (k->zero_size != 0) {
		const unsigned char *p = vm_page_ptr(k->sim, k->zero_page);

		for (size_t i = 0; i < KPAGE; i++)
			if (p[i] != 0)
				return bad(k, "the zero page is not zero at byte %zu", i);
	}
	return 0;
}

int
kmem_check(struct kmem *k)
{
	struct map_walk mw;
	struct seglist spans = { 0 }, children = { 0 };
	struct found f = { 0 };
	struct kmem_submap *s;
	uint64_t total = 0;
	vm_size_t sum = 0;
	size_t i;
	int d, rc = 0;

	k = kmem__get(k, "kmem_check");
	if (pmap_sim_check(k->sim) != 0)
		return bad(k, "pmap_sim_check failed");
	if (vm_map_check(k->kernel_map) != 0)
		return bad(k, "vm_map_check of kernel_map failed");
	pthread_mutex_lock(&k->sub_lock);
	for (s = k->subs; s != NULL && rc == 0; s = s->next)
		if (vm_map_check(s->map) != 0)
			rc = bad(k, "vm_map_check of submap '%s' failed", vm_map_name(s->map));
	pthread_mutex_unlock(&k->sub_lock);
	if (rc != 0)
		return rc;
	if (vmem_check(k->kernel_arena) != 0)
		return bad(k, "vmem_check of the kernel arena failed");

	mw = (struct map_walk){ .k = k };
	(void)vm_map_walk(k->kernel_map, map_entry, &mw);
	if (mw.err)
		return 1;
	if (k->boot_end != k->kva_min && !mw.boot_seen)
		return bad(k, "kernel_map has no bootstrap entry");
	if (mw.imports != atomic_load(&k->kva_imported))
		return bad(k, "kernel_map holds %" PRIu64 " bytes of imports, %" PRIu64 " imported",
		    (uint64_t)mw.imports, (uint64_t)atomic_load(&k->kva_imported));

	(void)vmem_walk(k->kernel_arena, VMEM_SPAN, seg_add, &spans);
	for (i = 0; i < spans.n; i++) {
		if (!covered_by_imports(k, spans.a[i], spans.a[i] + spans.s[i])) {
			rc = bad(k, "kernel arena span 0x%" PRIx64 " size %" PRIu64
			    " is not inside kernel_map imports", (uint64_t)spans.a[i],
			    (uint64_t)spans.s[i]);
			break;
		}
		sum += spans.s[i];
	}
	seg_free(&spans);
	if (rc != 0)
		return rc;
	if (sum != atomic_load(&k->kva_imported) + atomic_load(&k->boot_freed))
		return bad(k, "kernel arena spans total %" PRIu64 ", imports + bootstrap %" PRIu64,
		    (uint64_t)sum,
		    (uint64_t)(atomic_load(&k->kva_imported) + atomic_load(&k->boot_freed)));

	f.pages = calloc((size_t)k->ndomains, sizeof(*f.pages));
	if (f.pages == NULL)
		return bad(k, "out of memory");
	for (d = 0; d < k->ndomains && rc == 0; d++) {
		rc = check_domain_arena(k, d, false, &children, &f);
		if (rc == 0)
			rc = check_domain_arena(k, d, true, &children, &f);
	}
	if (rc == 0)
		rc = check_kernel_allocs(k, &children, &f);
	seg_free(&children);
	if (rc == 0 && f.allocs != kmem__live_allocs(k))
		rc = bad(k, "%" PRIu64 " allocations found, %" PRIu64 " counted", f.allocs,
		    kmem__live_allocs(k));
	struct kmem_tdom_sum tsum[DOMAINSET_SETSIZE];

	kmem__tsum(k, tsum, NULL);
	for (d = 0; d < k->ndomains && rc == 0; d++) {
		uint64_t counted = tsum[d].pages;

		if (counted != f.pages[d])
			rc = bad(k, "domain %d: %" PRIu64 " pages counted, %" PRIu64 " found", d,
			    counted, f.pages[d]);
		total += f.pages[d];
	}
	free(f.pages);
	if (rc != 0)
		return rc;
	if (total + atomic_load(&k->compat_kobj_pages) != pmap_sim_object_npages(k->kobj))
		return bad(k, "the kernel object has %" PRIu64 " pages, kmem knows of %" PRIu64,
		    pmap_sim_object_npages(k->kobj),
		    total + (uint64_t)atomic_load(&k->compat_kobj_pages));
	return check_regions(k);
}
