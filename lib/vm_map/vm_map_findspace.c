/*
 * vm_map_findspace.c -- finding free space with the gap-augmented tree.
 *
 * A request is normalized into a window [lo, hi) that the placement must
 * lie in, a length, and an alignment with phase.  Bottom-up search wants
 * the lowest placement; top-down the highest.  Every free gap belongs to
 * the entry before it (the gap before the first entry to the header).
 *
 * The search is an in-order (or reverse in-order) walk of the tree that
 * skips every subtree whose maxgap is below the length, every left subtree
 * that ends before lo and every right subtree that starts after hi, and
 * stops at the first gap that takes the placement.  Without alignment any
 * gap of at least length bytes wholly inside the window fits, so after the
 * walk leaves the O(log n) nodes along the window's edges it goes straight
 * down to the answer: O(log n) whatever the number of entries.  With
 * alignment a gap of length <= size < length + align - page may still
 * refuse the placement; those gaps are visited and skipped, so the answer
 * is always exact first fit (no false failure) and the cost grows only
 * with the number of such near-miss gaps before the answer.
 */
#include "kvmem_config.h"

#include <errno.h>

#include "vm_map_impl.h"

int
vm_map__decode_fs(const struct vm_map_impl *m, int find_space, struct vm_map_fs *fs)
{
	unsigned v = (unsigned)find_space;
	unsigned base = v & 0xffu;
	unsigned shift = (v >> 8) & 0xffu;

	if (find_space < 0 || (v & ~(0xffffu | (unsigned)VMFS_TOPDOWN)) != 0)
		return EINVAL;
	fs->fixed = false;
	fs->super = false;
	fs->optimal = false;
	fs->topdown = (v & VMFS_TOPDOWN) != 0;
	fs->align = m->page_size;
	if (shift != 0) {
		if (base != 0 || shift >= 64)
			return EINVAL;
		if (((vm_size_t)1 << shift) > fs->align)
			fs->align = (vm_size_t)1 << shift;
		return 0;
	}
	switch (base) {
	case VMFS_NO_SPACE:
		if (fs->topdown)
			return EINVAL;
		fs->fixed = true;
		return 0;
	case VMFS_ANY_SPACE:
		return 0;
	case VMFS_OPTIMAL_SPACE:
		fs->optimal = true;
		fs->super = true;
		return 0;
	case VMFS_SUPER_SPACE:
		fs->super = true;
		return 0;
	}
	return EINVAL;
}

bool
vm_map__make_req(const struct vm_map_impl *m, const struct vm_map_fs *fs,
    bool super, vm_offset_t hint, vm_size_t length, vm_offset_t max_addr,
    vm_ooffset_t offset, struct vm_map_req *req)
{
	vm_offset_t lo = m->min, hi = m->max;

	if (max_addr != 0 && max_addr < hi)
		hi = max_addr;
	if (fs->topdown) {
		/* Placement at or below hint: its end at or below hint + length. */
		if (hint < lo)
			return false;
		if (hint < hi && hi - hint > length)
			hi = hint + length;
	} else {
		if (hint > lo)
			lo = hint;
	}
	if (lo >= hi || hi - lo < length)
		return false;

	req->length = length;
	req->align = fs->align;
	req->phase = 0;
	req->lo = lo;
	req->hi = hi;
	req->topdown = fs->topdown;

	/*
	 * Superpage placement: the address agrees with the object offset
	 * modulo the superpage size, but only when the request, after the
	 * first superpage boundary of the object, still spans a whole
	 * superpage (else alignment buys nothing).
	 */
	vm_size_t sp = m->superpage;
	if (super && sp > req->align && length >= sp) {
		vm_size_t phase = (vm_size_t)offset & (sp - 1);
		vm_size_t lead = (sp - phase) & (sp - 1);
		if (length - lead >= sp) {
			req->align = sp;
			req->phase = phase;
		}
	}
	return true;
}

bool
vm_map__fit(const struct vm_map_req *req, vm_offset_t glo, vm_offset_t ghi,
    vm_offset_t *addr)
{
	vm_offset_t l = glo > req->lo ? glo : req->lo;
	vm_offset_t h = ghi < req->hi ? ghi : req->hi;
	vm_size_t mask = req->align - 1;
	vm_offset_t a;

	if (l >= h || h - l < req->length)
		return false;
	if (!req->topdown) {
		a = l + ((req->phase - l) & mask);
		if (a < l || a > h - req->length)
			return false;
	} else {
		vm_offset_t t = h - req->length;
		a = t - ((t - req->phase) & mask);
		if (a > t || a < l)
			return false;
	}
	*addr = a;
	return true;
}

/* Results of the subtree searches. */
enum { S_NONE = 0, S_FOUND = 1, S_STOP = 2 };

/* Lowest fitting gap in the subtree of n (bottom-up). */
static int
search_up(const struct vm_map_req *req, struct vme *n, vm_offset_t *addr,
    struct vme **prev)
{
	while (n != NULL && n->maxgap >= req->length) {
		/* Gaps on the left end at or before n->start. */
		if (n->start > req->lo && vmt_maxgap(n->left) >= req->length) {
			int rc = search_up(req, n->left, addr, prev);
			if (rc != S_NONE)
				return rc;
		}
		/* This and every later gap start at or after n->end. */
		if (n->end >= req->hi)
			return S_STOP;
		if (n->gap >= req->length &&
		    vm_map__fit(req, n->end, n->end + n->gap, addr)) {
			*prev = n;
			return S_FOUND;
		}
		n = n->right;
	}
	return S_NONE;
}

/* Highest fitting gap in the subtree of n (top-down). */
static int
search_down(const struct vm_map_req *req, struct vme *n, vm_offset_t *addr,
    struct vme **prev)
{
	while (n != NULL && n->maxgap >= req->length) {
		/* Gaps on the right start at or after n->end. */
		if (n->end < req->hi && vmt_maxgap(n->right) >= req->length) {
			int rc = search_down(req, n->right, addr, prev);
			if (rc != S_NONE)
				return rc;
		}
		/* This and every earlier gap end at or before n->end + n->gap. */
		if (n->end + n->gap <= req->lo)
			return S_STOP;
		if (n->gap >= req->length &&
		    vm_map__fit(req, n->end, n->end + n->gap, addr)) {
			*prev = n;
			return S_FOUND;
		}
		/* Gaps on the left end at or before n->start. */
		if (n->start <= req->lo)
			return S_STOP;
		n = n->left;
	}
	return S_NONE;
}

bool
vm_map__search(const struct vm_map_impl *m, const struct vm_map_req *req,
    vm_offset_t *addr, struct vme **prev)
{
	struct vme *hdr = (struct vme *)&m->header;

	if (req->length > vmt_map_maxgap(m))
		return false;
	if (!req->topdown) {
		if (m->header.gap >= req->length &&
		    vm_map__fit(req, hdr->end, hdr->end + hdr->gap, addr)) {
			*prev = hdr;
			return true;
		}
		return search_up(req, m->root, addr, prev) == S_FOUND;
	}
	if (search_down(req, m->root, addr, prev) == S_FOUND)
		return true;
	if (m->header.gap >= req->length &&
	    vm_map__fit(req, hdr->end, hdr->end + hdr->gap, addr)) {
		*prev = hdr;
		return true;
	}
	return false;
}
