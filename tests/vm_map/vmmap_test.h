/*
 * vmmap_test.h -- helpers shared by the vm_map suites: the fini check, a
 * recording pmap stub, entry snapshots, and a recording misuse handler.
 */
#ifndef VMMAP_TEST_H
#define VMMAP_TEST_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmem/vm_map.h>

#include "vm_map_impl.h"
#include "common/kvtest.h"

#define PG	((vm_offset_t)4096)
#define X64	"0x%" PRIx64

/* Suite .fini: every map and entry slab created by the test was freed. */
void tm_fini(void);

/* A map of [base, base + npages pages), 4 KiB pages, that must succeed. */
vm_map_t tm_map(const char *name, vm_offset_t base, uint64_t npages);

/* ---- Recording pmap ----------------------------------------------------- */
struct tm_call {
	int		kind;		/* 'r' remove, 'f' free_pages, 'p' protect */
	vm_offset_t	start, end;	/* remove/protect range */
	vm_object_t	object;		/* free_pages */
	vm_ooffset_t	offset;
	vm_size_t	size;
	vm_prot_t	prot;
};
struct tm_pmap {
	struct tm_call	*call;
	size_t		n, cap;
};
extern const struct vm_map_pmap_ops tm_pmap_ops;
void tm_pmap_reset(struct tm_pmap *p);
/* Total bytes passed to remove / free_pages. */
vm_size_t tm_removed_bytes(const struct tm_pmap *p);
vm_size_t tm_freed_bytes(const struct tm_pmap *p);

/* ---- Snapshots ----------------------------------------------------------- */
struct tm_snap {
	struct vm_map_entry_info *e;
	size_t			n, cap;
	vm_size_t		size;
};
void tm_snap_take(vm_map_t map, struct tm_snap *s);
int  tm_snap_same(const struct tm_snap *a, const struct tm_snap *b);
void tm_snap_free(struct tm_snap *s);
/* The i-th entry (must exist). */
struct vm_map_entry_info tm_entry(vm_map_t map, size_t i);
struct vm_map_stats tm_stats(vm_map_t map);

/* ---- Misuse recording ----------------------------------------------------- */
struct tm_misuse {
	int			count;
	enum vm_map_misuse	kind;
	vm_map_t		map;
	char			msg[512];
};
void tm_misuse_record(void *arg, vm_map_t map, enum vm_map_misuse kind,
    vm_offset_t addr, const char *msg);

#endif /* VMMAP_TEST_H */
