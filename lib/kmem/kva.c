/*
 * kva.c -- kernel virtual address space: the import callbacks that stack
 * the arenas on kernel_map (kva_import, kva_import_domain) and
 * kva_alloc_k / kva_free_k.
 *
 * FreeBSD's imports know only a size: kva_import asks kernel_map for a
 * superpage-aligned range and kva_import_domain takes a KVA_QUANTUM-
 * aligned piece of the kernel arena, ignoring the request's other
 * constraints.  Here both are vmem_ximport_t callbacks: the region they
 * return is aligned to the largest of the KVA quantum, the request's
 * alignment and its nocross boundary, is at least phase + size long and
 * lies within [minaddr, maxaddr], so it always holds a placement that
 * meets every constraint.  The size is the request rounded up to the
 * arena's import quantum; when that much no longer fits, a second try
 * asks for the request rounded to the KVA quantum only.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>

#include "kmem_impl.h"

static unsigned
log2u(uint64_t x)
{
	return 63u - (unsigned)__builtin_clzll(x);
}

/*
 * The import's alignment and the two sizes to try (the second 0 when it
 * would be the same).  EINVAL-free: false only on overflow.
 */
static bool
import_shape(const struct kmem_src *src, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vm_size_t *alignp, vm_size_t *len1p,
    vm_size_t *len2p)
{
	vm_size_t a = src->k->kvaq, need, q = src->quantum, l1, l2;

	if (align > a)
		a = align;
	if (nocross > a)
		a = nocross;
	if (phase > ~(vm_size_t)0 - size)
		return false;
	need = phase + size;
	if (need > ~(vm_size_t)0 - q)
		return false;
	l1 = (need + q - 1) / q * q;
	l2 = (need + src->k->kvaq - 1) & ~(src->k->kvaq - 1);
	*alignp = a;
	*len1p = l1;
	*len2p = l2 < l1 ? l2 : 0;
	return true;
}

/*
 * kva_import: the kernel arena's import from kernel_map (arg: the
 * instance's kernel source).  Inserts a no-fault entry for the region.
 * 0, or ENOMEM when kernel_map has no room.  Never sleeps.
 */
int
kmem__kva_import(void *arg, vmem_size_t size, vmem_size_t align, vmem_size_t phase,
    vmem_size_t nocross, vmem_addr_t minaddr, vmem_addr_t maxaddr, int flags,
    vmem_addr_t *addrp, vmem_size_t *sizep)
{
	const struct kmem_src *src = arg;
	struct kmem *k = src->k;
	vm_size_t a, len[2];
	vm_offset_t hint, maxa;
	int i, error = ENOMEM;

	(void)flags;
	if (!import_shape(src, size, align, phase, nocross, &a, &len[0], &len[1]))
		goto out;
	hint = minaddr > k->kva_min ? minaddr : k->kva_min;
	maxa = maxaddr >= k->kva_max - 1 ? 0 : maxaddr + 1;
	for (i = 0; i < 2 && len[i] != 0; i++) {
		vm_offset_t addr = hint;

		error = vm_map_find(k->kernel_map, NULL, 0, &addr, len[i], maxa,
		    VMFS_ALIGNED_SPACE(log2u(a)), VM_PROT_ALL, VM_PROT_ALL, VM_MAP_NOFAULT);
		if (error == 0) {
			*addrp = addr;
			*sizep = len[i];
			atomic_fetch_add_explicit(&k->kva_imported, len[i], RLX);
			atomic_fetch_add_explicit(&k->st_kva_imports, 1, RLX);
			return 0;
		}
	}
out:
	atomic_fetch_add_explicit(&k->st_kva_import_fails, 1, RLX);
	return error == EINVAL ? ENOMEM : error;
}

/*
 * kva_import_domain: a per-domain (or rwx) arena's import from the kernel
 * arena (arg: that arena's source).  The kernel arena may import from
 * kernel_map in turn.  0 or ENOMEM.
 */
int
kmem__kva_import_domain(void *arg, vmem_size_t size, vmem_size_t align, vmem_size_t phase,
    vmem_size_t nocross, vmem_addr_t minaddr, vmem_addr_t maxaddr, int flags,
    vmem_addr_t *addrp, vmem_size_t *sizep)
{
	const struct kmem_src *src = arg;
	struct kmem *k = src->k;
	vm_size_t a, len[2];
	int i, error = ENOMEM;
	int xflags = (flags & (M_NOWAIT | M_WAITOK)) | M_BESTFIT;

	if (!import_shape(src, size, align, phase, nocross, &a, &len[0], &len[1]))
		return ENOMEM;
	for (i = 0; i < 2 && len[i] != 0; i++) {
		vmem_addr_t addr;

		error = vmem_xalloc(k->kernel_arena, len[i], a, 0, 0, minaddr, maxaddr, xflags,
		    &addr);
		if (error == 0) {
			*addrp = addr;
			*sizep = len[i];
			return 0;
		}
	}
	return error == EINVAL ? ENOMEM : error;
}

/* The rwx arenas give whole imports back to the kernel arena. */
void
kmem__kva_release_domain(void *arg, vmem_addr_t addr, vmem_size_t size)
{
	const struct kmem_src *src = arg;

	vmem_xfree(src->k->kernel_arena, addr, size);
	kmem__wakeup(src->k);
}

/* ---- kva_alloc / kva_free -------------------------------------------------------------- */

vm_offset_t
kva_alloc_k(struct kmem *k, vm_size_t size)
{
	vmem_addr_t addr;

	k = kmem__get(k, "kva_alloc_k");
	if (!kmem__round(size, &size)) {
		kmem__einval(k);
		return 0;
	}
	if (vmem_alloc(k->kernel_arena, size, M_BESTFIT | M_NOWAIT, &addr) != 0) {
		errno = ENOMEM;
		return 0;
	}
	return addr;
}

void
kva_free_k(struct kmem *k, vm_offset_t addr, vm_size_t size)
{
	static const char call[] = "kva_free_k";
	vm_size_t len;

	k = kmem__get(k, call);
	if (!kmem__round(size, &len) || !kmem__in_kva(k, addr, len)) {
		kmem__misuse(k, KMEM_MISUSE_BAD_FREE, addr, size, call,
		    "bad range 0x%" PRIx64 " size %" PRIu64, (uint64_t)addr, (uint64_t)size);
		return;
	}
	if (pmap_kextract(k->sim, addr) != 0 || pmap_kextract(k->sim, addr + len - KPAGE) != 0) {
		kmem__misuse(k, KMEM_MISUSE_BACKED, addr, len, call,
		    "KVA 0x%" PRIx64 " size %" PRIu64 " is still backed (kmem_unback it first)",
		    (uint64_t)addr, (uint64_t)len);
		return;
	}
	vmem_free(k->kernel_arena, addr, len);
	kmem__wakeup(k);
}
