/*
 * kvmodel.h -- a simple reference model of an arena's address space for
 * the randomized tests: sorted spans, sorted busy intervals, and the free
 * gaps between them, plus the request rules of SEMANTICS (which requests
 * are EINVAL, where a constrained request fits inside a gap).
 *
 * All intervals are kept as [first, last] byte addresses so a span may end
 * at VMEM_ADDR_MAX.  Nothing here is clever: sorted arrays and linear scans.
 */
#ifndef KVMODEL_H
#define KVMODEL_H

#include <stddef.h>
#include <stdint.h>

#include <kvmem/vmem.h>

enum kvm_kind {
	KVM_ADDED = 1,		/* vmem_add/create span: never merges */
	KVM_IMPORTED,		/* import with a release function: never merges */
	KVM_MERGING		/* import without release: merges with its kind */
};

struct kvm_span {
	vmem_addr_t	first, last;
	enum kvm_kind	kind;
};

struct kvm_busy {
	vmem_addr_t	first;
	vmem_size_t	size;		/* rounded */
};

struct kvm_model {
	vmem_size_t	quantum;
	struct kvm_span	*span;
	size_t		nspan, capspan;
	struct kvm_busy	*busy;
	size_t		nbusy, capbusy;
	vmem_size_t	total;		/* bytes in spans */
	vmem_size_t	inuse;		/* bytes busy */
};

/* A normalized, valid constrained request (sizes rounded, align >= quantum). */
struct kvm_req {
	vmem_size_t	size, align, phase, nocross;
	vmem_addr_t	minaddr, maxaddr;
};

void kvm_init(struct kvm_model *m, vmem_size_t quantum);
void kvm_fini(struct kvm_model *m);

/*
 * Add a span; 0, or -1 when it overlaps a span or is empty/wraps.  A
 * KVM_MERGING span merges with adjacent KVM_MERGING spans.
 */
int kvm_add_span(struct kvm_model *m, vmem_addr_t addr, vmem_size_t size,
    enum kvm_kind kind);
/*
 * Remove exactly the span [addr, addr+size): 0, or -1 if no span has those
 * bounds or some of it is busy.
 */
int kvm_remove_span(struct kvm_model *m, vmem_addr_t addr, vmem_size_t size);
/* The span containing addr, or NULL. */
const struct kvm_span *kvm_span_of(const struct kvm_model *m, vmem_addr_t addr);
/* Nonzero if the span contains no busy byte. */
int kvm_span_idle(const struct kvm_model *m, const struct kvm_span *s);

/* Nonzero if [addr, addr+size) lies inside one span and touches no busy byte. */
int kvm_range_free(const struct kvm_model *m, vmem_addr_t addr, vmem_size_t size);
/* Mark busy (must be free: returns -1 otherwise). */
int kvm_mark_busy(struct kvm_model *m, vmem_addr_t addr, vmem_size_t size);
/* Free the busy interval starting at addr of exactly size: 0, or -1. */
int kvm_mark_free(struct kvm_model *m, vmem_addr_t addr, vmem_size_t size);
/* Index of the busy interval starting at addr, or -1. */
long kvm_busy_at(const struct kvm_model *m, vmem_addr_t addr);

/*
 * Whether vmem_xalloc(size, align, phase, nocross, minaddr, maxaddr) must be
 * EINVAL: by the rules listed in SEMANTICS.md, or because no address in
 * [minaddr, maxaddr] meets the constraints (no arena could ever satisfy it,
 * the header's definition of EINVAL).  Returns 1 for EINVAL; else 0 and the
 * normalized request in *req.
 */
int kvm_req_invalid(vmem_size_t quantum, vmem_size_t size, vmem_size_t align,
    vmem_size_t phase, vmem_size_t nocross, vmem_addr_t minaddr,
    vmem_addr_t maxaddr, struct kvm_req *req);

/* Nonzero if addr is a placement of req (alignment, phase, nocross, range). */
int kvm_req_ok(const struct kvm_req *req, vmem_addr_t addr);
/* Lowest / highest placement of req inside the gap [first, last]; 0 if none. */
int kvm_fit_low(vmem_addr_t first, vmem_addr_t last, const struct kvm_req *req,
    vmem_addr_t *addrp);
int kvm_fit_high(vmem_addr_t first, vmem_addr_t last, const struct kvm_req *req,
    vmem_addr_t *addrp);

/* A free gap: [first, last]. */
struct kvm_gap {
	vmem_addr_t	first, last;
};
/* Call fn for each gap in address order; a nonzero return stops and is returned. */
int kvm_foreach_gap(const struct kvm_model *m,
    int (*fn)(void *arg, const struct kvm_gap *g), void *arg);
/* The gap containing the free byte addr; 0 if addr is not free. */
int kvm_gap_of(const struct kvm_model *m, vmem_addr_t addr, struct kvm_gap *g);

/*
 * Over all gaps: whether any holds req; the smallest size of a gap that
 * holds it (*best_size); the highest placement (*top).  Returns 0 if none.
 */
int kvm_search(const struct kvm_model *m, const struct kvm_req *req,
    vmem_size_t *best_size, vmem_addr_t *top);

/* Largest gap size (0 if none) and number of gaps. */
vmem_size_t kvm_maxfree(const struct kvm_model *m, size_t *ngaps);

/*
 * The segment layer of arena vm as a model: the spans of m and, as busy
 * intervals, every busy segment vm walks (allocations and the slabs of its
 * quantum caches).  With caches, m tracks what callers hold and seg what
 * the segment layer can still place.  seg is (re)initialized; kvm_fini it.
 * Returns -1 if a walked busy segment lies outside m's spans or overlaps
 * another, else 0.
 */
int kvm_from_arena(struct kvm_model *seg, const struct kvm_model *m,
    vmem_t *vm);

#endif /* KVMODEL_H */
