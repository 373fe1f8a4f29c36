/*
 * test_netbsd_stress.c -- a stress run in the manner of NetBSD's vmem unit
 * test: an arena made of several odd spans (one ending at VMEM_ADDR_MAX),
 * random constrained allocations and frees, vmem_check() regularly, and
 * everything freed at the end.  Results are checked for overlap and for
 * their constraints with the reference interval model.  With quantum
 * caches (kvtest.h) the model holds what callers hold, and an ENOMEM is
 * checked against the segment layer as walked after the failure (slabs
 * with live objects stay busy there).
 *
 * KVMEM_STRESS_OPS: operations per test (default 300000).  KVMEM_SEED.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vmem_impl.h"
#include "common/kvmodel.h"
#include "common/kvtest.h"

TestSuite(netbsd_stress, .fini = kvt_fini_no_live);

struct blk {
	vmem_addr_t	addr;
	vmem_size_t	size;
	int		x;
};

/* Spans in units of the quantum; the last one ends at VMEM_ADDR_MAX. */
static const struct {
	vmem_addr_t	base;
	vmem_size_t	size;
} spans[] = {
	{ 0, 50 }, { 100, 200 }, { 1000, 300 }, { 0x12345, 77777 },
	{ 0x7fffffff0000, 0x10000 }, { 0x123456789a, 3 }, { 7777777, 1 },
};

/*
 * ENOMEM is right if no gap of the segment layer (after the drain that
 * precedes failure) fits the request, or for a cached size its slab.
 */
static int
enomem_ok(vmem_t *vm, const struct kvm_model *m, const struct kvm_req *req,
    int cached)
{
	struct kvm_model seg;
	struct kvm_req slab;
	int ok;

	memset(&seg, 0, sizeof(seg));
	cr_assert_eq(kvm_from_arena(&seg, m, vm), 0, "walk outside the model");
	if (cached) {
		slab = (struct kvm_req){ .size = kvt_slab_size(vm, req->size),
		    .align = 1, .minaddr = VMEM_ADDR_MIN,
		    .maxaddr = VMEM_ADDR_MAX };
		while (slab.align < slab.size)
			slab.align <<= 1;
		req = &slab;
	}
	ok = !kvm_search(&seg, req, NULL, NULL);
	kvm_fini(&seg);
	return (ok);
}

static void
stress(vmem_size_t q)
{
	uint64_t seed = kvt_seed() ^ q;
	uint64_t ops = kvt_env_ull("KVMEM_STRESS_OPS", 300000);
	struct kvt_rng r;
	struct kvm_model m;
	struct blk *b;
	size_t nb = 0, capb = 4096;
	vmem_t *vm;
	vmem_size_t topsz = 100000 * q;
	vmem_addr_t top = VMEM_ADDR_MAX - (topsz - 1);
	uint64_t nalloc = 0, nfail = 0;

	kvt_rng_init(&r, seed);
	kvm_init(&m, q);
	b = malloc(capb * sizeof(*b));
	cr_assert_not_null(b);
	vm = kvt_vmem_create("stress", spans[0].base * q, spans[0].size * q, q, 0,
	    M_WAITOK);
	cr_assert_not_null(vm);
	cr_assert_eq(kvm_add_span(&m, spans[0].base * q, spans[0].size * q,
	    KVM_ADDED), 0);
	for (size_t i = 1; i < sizeof(spans) / sizeof(spans[0]); i++) {
		cr_assert_eq(vmem_add(vm, spans[i].base * q, spans[i].size * q,
		    M_NOWAIT), 0);
		cr_assert_eq(kvm_add_span(&m, spans[i].base * q, spans[i].size * q,
		    KVM_ADDED), 0);
	}
	cr_assert_eq(vmem_add(vm, top, topsz, M_NOWAIT), 0);
	cr_assert_eq(kvm_add_span(&m, top, topsz, KVM_ADDED), 0);
	cr_assert_eq(vmem_check(vm), 0);

	for (uint64_t op = 0; op < ops; op++) {
		if (nb > 0 && (nb == capb || kvt_chance(&r, 45))) {
			size_t k = kvt_below(&r, nb);
			struct blk x = b[k];

			b[k] = b[--nb];
			cr_assert_eq(kvm_mark_free(&m, x.addr, x.size), 0);
			/* x.x: from vmem_xalloc, and freed the same way. */
			if (x.x)
				vmem_xfree(vm, x.addr, x.size);
			else
				vmem_free(vm, x.addr, x.size);
		} else {
			vmem_size_t size = q * (kvt_chance(&r, 80) ?
			    kvt_range(&r, 1, 16) : kvt_range(&r, 1, 4096));
			vmem_size_t align = 0, phase = 0, nocross = 0;
			vmem_addr_t min = VMEM_ADDR_MIN, max = VMEM_ADDR_MAX, a = 0;
			int flags = M_NOWAIT, rc, x = kvt_chance(&r, 60);
			static const int fits[] = { M_FIRSTFIT, M_BESTFIT, M_NEXTFIT,
			    VMEM_TOPDOWN, 0 };
			struct kvm_req req;

			flags |= fits[kvt_below(&r, 5)];
			if (x) {
				if (kvt_chance(&r, 50))
					align = q << kvt_below(&r, 12);
				if (align > q && kvt_chance(&r, 50))
					phase = q * kvt_below(&r, align / q);
				if (kvt_chance(&r, 30)) {
					nocross = q;
					while (nocross < size)
						nocross <<= 1;
					nocross <<= kvt_below(&r, 4);
					if ((phase & (nocross - 1)) + size > nocross)
						nocross = 0;
				}
				switch (kvt_below(&r, 6)) {
				case 0:
					min = kvt_below(&r, 0x13000 * q);
					break;
				case 1:
					max = kvt_range(&r, 0x12345 * q, 0x30000 * q);
					break;
				case 2:
					min = top + kvt_below(&r, topsz);
					break;
				case 3:
					min = kvt_below(&r, 0x1000 * q);
					max = min + kvt_range(&r, size, 0x2000 * q);
					break;
				default:
					break;
				}
			}
			int inval = kvm_req_invalid(q, size, align, phase, nocross,
			    min, max, &req);
			if (x)
				rc = vmem_xalloc(vm, size, align, phase, nocross, min,
				    max, flags, &a);
			else
				rc = vmem_alloc(vm, size, flags, &a);
			if (inval) {
				cr_assert_eq(rc, EINVAL, "seed %" PRIu64 " op %" PRIu64
				    ": size %zu align %zu phase %zu nocross %zu min "
				    KVT_X " max " KVT_X ": rc %d, not EINVAL", seed, op,
				    size, align, phase, nocross, min, max, rc);
			} else if (rc == 0) {
				cr_assert(kvm_req_ok(&req, a),
				    "seed %" PRIu64 " op %" PRIu64 ": " KVT_X
				    " violates size %zu align %zu phase %zu nocross "
				    "%zu min " KVT_X " max " KVT_X, seed, op, a, size,
				    align, phase, nocross, min, max);
				cr_assert_eq(kvm_mark_busy(&m, a, size), 0,
				    "seed %" PRIu64 " op %" PRIu64 ": " KVT_X "+%zu "
				    "overlaps a live block or leaves the spans", seed,
				    op, a, size);
				if (nb == capb) {
					capb *= 2;
					b = realloc(b, capb * sizeof(*b));
					cr_assert_not_null(b);
				}
				b[nb++] = (struct blk){ a, size, x };
				nalloc++;
			} else {
				cr_assert_eq(rc, ENOMEM, "seed %" PRIu64 " op %" PRIu64
				    ": rc %d", seed, op, rc);
				cr_assert(vmem_qcache_count(vm) != 0 ?
				    enomem_ok(vm, &m, &req, !x && kvt_cached(vm, size)) :
				    !kvm_search(&m, &req, NULL, NULL),
				    "seed %" PRIu64 " op %" PRIu64 ": ENOMEM for size "
				    "%zu align %zu phase %zu nocross %zu min " KVT_X
				    " max " KVT_X " flags 0x%x, but a gap fits", seed, op,
				    size, align, phase, nocross, min, max, flags);
				nfail++;
			}
		}
		if (op % 1000 == 0) {
			cr_assert_eq(vmem_check(vm), 0, "seed %" PRIu64 " op %" PRIu64,
			    seed, op);
			cr_assert_eq(vmem_size(vm, VMEM_ALLOC), m.inuse,
			    "seed %" PRIu64, seed);
		}
	}
	while (nb > 0) {
		nb--;
		if (b[nb].x)
			vmem_xfree(vm, b[nb].addr, b[nb].size);
		else
			vmem_free(vm, b[nb].addr, b[nb].size);
	}
	cr_assert_eq(vmem_size(vm, VMEM_ALLOC), 0);
	vmem_qcache_drain(vm);
	cr_assert_eq(kvt_count(vm, VMEM_FREE), sizeof(spans) / sizeof(spans[0]) + 1,
	    "one free segment per span after freeing everything (seed %" PRIu64
	    ")", seed);
	cr_assert_eq(vmem_check(vm), 0);
	cr_assert_gt(nalloc, ops / 4);
	cr_assert_gt(nfail, 0);
	vmem_destroy(vm);
	kvm_fini(&m);
	free(b);
}

Test(netbsd_stress, quantum_1, .timeout = 300)
{
	stress(1);
}

Test(netbsd_stress, quantum_16, .timeout = 300)
{
	stress(16);
}
