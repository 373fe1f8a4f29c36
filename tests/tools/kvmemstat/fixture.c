/*
 * fixture.c -- builds a fixed allocator stack, does a fixed sequence of
 * work on it in one thread and writes a kvmem statistics snapshot (with
 * segments) to argv[1], for kvmemstat's golden tests.
 *
 * Everything the views show must be the same on every host: the arenas
 * have fixed bases, the kmem instance lives on a simulated machine with a
 * fixed layout, and nothing depends on time, pids or host addresses.
 *
 * The stack:
 *   root   [0x10000000, +64 MiB), quantum 4 KiB
 *     mid  imports from root in 1 MiB steps; quantum caches up to 16 KiB
 *       leaf  imports from mid in 64 KiB steps
 *   io     [0xfe000000, +1 MiB) and [0xfe200000, +512 KiB), quantum 512
 *   kmem "fixk" on machine "fixsim": 2 domains of 32 MiB, 2 CPUs, and its
 *   kernel arena with two per-domain and two executable arenas under it.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmem/kmem.h>
#include <kvmem/statfile.h>
#include <kvmem/vmem.h>

#define KiB	((vmem_size_t)1 << 10)
#define MiB	((vmem_size_t)1 << 20)

static void
die(const char *what, int error)
{
	fprintf(stderr, "fixture: %s: %s\n", what, strerror(error));
	exit(1);
}

static vmem_addr_t
xalloc(vmem_t *vm, vmem_size_t size)
{
	vmem_addr_t a;
	int error = vmem_alloc(vm, size, M_NOWAIT | M_BESTFIT, &a);

	if (error != 0)
		die(vmem_name(vm), error);
	return a;
}

int
main(int argc, char **argv)
{
	vmem_t *root, *mid, *leaf, *io;
	vmem_addr_t ma[24], la[8], ia[6], junk;
	struct kmem_config cfg;
	struct kmem *k;
	vm_offset_t kv[6], kva;
	int i, error;

	if (argc != 2) {
		fprintf(stderr, "usage: fixture SNAPSHOT\n");
		return 2;
	}
	root = vmem_create("root", 0x10000000, 64 * MiB, 4 * KiB, 0, M_WAITOK);
	mid = vmem_create("mid", 0, 0, 4 * KiB, 16 * KiB, M_WAITOK);
	leaf = vmem_create("leaf", 0, 0, 4 * KiB, 0, M_WAITOK);
	io = vmem_create("io", 0xfe000000, 1 * MiB, 512, 0, M_WAITOK);
	if (root == NULL || mid == NULL || leaf == NULL || io == NULL)
		die("vmem_create", errno);
	vmem_set_source(mid, root, 1 * MiB);
	vmem_set_source(leaf, mid, 64 * KiB);
	if ((error = vmem_add(io, 0xfe200000, 512 * KiB, M_WAITOK)) != 0)
		die("vmem_add", error);

	/* mid: cached sizes (1 to 4 quanta) and bigger ones; free every third. */
	for (i = 0; i < 24; i++)
		ma[i] = xalloc(mid, (vmem_size_t)(i % 6 + 1) * 4 * KiB);
	for (i = 0; i < 24; i += 3)
		vmem_free(mid, ma[i], (vmem_size_t)(i % 6 + 1) * 4 * KiB);
	/* leaf: 8 allocations of 12 KiB, half freed; one that cannot fit the limit. */
	vmem_set_limit(leaf, 256 * KiB);
	for (i = 0; i < 8; i++)
		la[i] = xalloc(leaf, 12 * KiB);
	for (i = 1; i < 8; i += 2)
		vmem_free(leaf, la[i], 12 * KiB);
	if (vmem_alloc(leaf, 512 * KiB, M_NOWAIT, &junk) == 0)
		die("leaf: an allocation over the limit succeeded", EINVAL);
	/* io: a few odd sizes, one failure. */
	for (i = 0; i < 6; i++)
		ia[i] = xalloc(io, (vmem_size_t)(i + 1) * 1536);
	vmem_free(io, ia[2], 3 * 1536);
	if (vmem_alloc(io, 2 * MiB, M_NOWAIT, &junk) == 0)
		die("io: an allocation bigger than the arena succeeded", EINVAL);

	kmem_config_init(&cfg);
	snprintf(cfg.name, sizeof(cfg.name), "fixk");
	snprintf(cfg.machine.name, sizeof(cfg.machine.name), "fixsim");
	cfg.machine.ndomains = 2;
	cfg.machine.domain_size = 32 * MiB;
	cfg.machine.ncpus = 2;
	if ((k = kmem_create(&cfg)) == NULL)
		die("kmem_create", errno);
	/* A whole superpage in domain 0 (promoted), small ones in both domains. */
	kv[0] = kmem_malloc_domain_k(k, 0, 2 * MiB, M_WAITOK);
	kv[1] = kmem_malloc_domain_k(k, 0, 16 * KiB, M_WAITOK | M_ZERO);
	kv[2] = kmem_malloc_domain_k(k, 1, 64 * KiB, M_WAITOK);
	kv[3] = kmem_malloc_domain_k(k, 1, 8 * KiB, M_WAITOK);
	kv[4] = kmem_malloc_domain_k(k, 1, 4 * KiB, M_WAITOK | M_EXEC);
	kv[5] = kmem_malloc_domain_k(k, 0, 128 * MiB, M_NOWAIT);	/* fails */
	for (i = 0; i < 5; i++)
		if (kv[i] == 0)
			die("kmem_malloc_domain_k", errno);
	if (kv[5] != 0)
		die("kmem: a 128 MiB allocation on a 64 MiB machine succeeded", EINVAL);
	kmem_free_k(k, kv[3], 8 * KiB);
	if ((kva = kva_alloc_k(k, 40 * KiB)) == 0)
		die("kva_alloc_k", errno);

	if ((error = kvmem_statfile_write(argv[1], KVMEM_STATFILE_SEGMENTS)) != 0)
		die(argv[1], error);

	kva_free_k(k, kva, 40 * KiB);
	kmem_free_k(k, kv[0], 2 * MiB);
	kmem_free_k(k, kv[1], 16 * KiB);
	kmem_free_k(k, kv[2], 64 * KiB);
	kmem_free_k(k, kv[4], 4 * KiB);
	kmem_destroy(k);
	for (i = 0; i < 6; i++)
		if (i != 2)
			vmem_free(io, ia[i], (vmem_size_t)(i + 1) * 1536);
	for (i = 0; i < 8; i += 2)
		vmem_free(leaf, la[i], 12 * KiB);
	for (i = 0; i < 24; i++)
		if (i % 3 != 0)
			vmem_free(mid, ma[i], (vmem_size_t)(i % 6 + 1) * 4 * KiB);
	vmem_destroy(io);
	vmem_destroy(leaf);
	vmem_destroy(mid);
	vmem_destroy(root);
	return 0;
}
