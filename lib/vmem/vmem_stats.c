/*
 * vmem_stats.c -- looking at an arena: statistics, JSON, walk and dump.
 *
 * Everything here takes the arena lock for a consistent snapshot; nothing
 * changes the arena.
 */
#include "kvmem_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "vmem_impl.h"
#include "vmem_qcache.h"

#define arena(v, call)	vmem__arena((v), (call))

int
vmem_get_stats(vmem_t *v, struct vmem_stats *st)
{
	struct vmem_arena *vm = arena(v, "vmem_get_stats");
	if (st == NULL || st->version < 1 || st->version > VMEM_STATS_VERSION)
		return EINVAL;
	uint32_t version = st->version;	/* versions 1 and 2: the same struct */
	memset(st, 0, sizeof(*st));
	st->version = version;
	st->size = (uint32_t)sizeof(*st);
	vmem_size_t cached = vmem__qc_cached_bytes(vm);

	vmem_lock(&vm->lock);
	memcpy(st->name, vm->name, sizeof(st->name));
	st->quantum = vm->quantum;
	st->qcache_max = vm->qcache_max;
	st->allocs = vm->st_allocs;
	st->frees = vm->st_frees;
	st->alloc_fails = vm->st_alloc_fails;
	st->alloc_einval = vm->st_alloc_einval;
	st->imports = vm->st_imports;
	st->import_fails = vm->st_import_fails;
	st->releases = vm->st_releases;
	st->reclaims = vm->st_reclaims;
	st->sleeps = vm->st_sleeps;
	st->misuses = vm->st_misuses;
	st->spans = vm->nspans;
	st->busy_segs = vm->nbusy;
	st->free_segs = vm->nfree;
	st->hash_buckets = (uint64_t)1 << vm->hash_bits;
	uint64_t longest = 0;
	for (size_t i = 0; i < ((size_t)1 << vm->hash_bits); i++) {
		uint64_t n = 0;
		for (struct bt *bt = vm->hash[i]; bt != NULL; bt = bt->q_next)
			n++;
		if (n > longest)
			longest = n;
	}
	st->hash_longest_chain = longest;
	st->hash_resizes = vm->st_hash_resizes;
	st->bt_total = vm->nbt_total;
	st->bt_free = vm->nbt_idle;
	st->metadata_bytes = (vm->nbt_total / BT_PER_SLAB) * sizeof(struct bt_slab) +
	    (vm->hash != vm->hash_small ?
	    ((uint64_t)1 << vm->hash_bits) * sizeof(struct bt *) : 0);
	st->bytes_inuse = cached < vm->size_inuse ? vm->size_inuse - cached : 0;
	st->bytes_total = vm->size_total;
	st->bytes_free = vm->size_total - st->bytes_inuse;
	st->bytes_imported = vm->size_imported;
	st->bytes_cached = cached;
	st->limit = vm->limit;
	st->maxfree = vmem__maxfree_locked(vm);
	vmem_unlock(&vm->lock);
	return 0;
}

/* snprintf into buf at *pos, tracking the full length even when truncated. */
static void __attribute__((format(printf, 4, 5)))
jput(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *dst = *pos < len ? buf + *pos : NULL;
	size_t room = *pos < len ? len - *pos : 0;
	int n = vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos += (size_t)n;
}

int
vmem_stats_json(vmem_t *v, char *buf, size_t len)
{
	struct vmem_stats st = { .version = VMEM_STATS_VERSION };
	if (vmem_get_stats(v, &st) != 0)
		return -1;
	size_t pos = 0;
	if (len > 0)
		buf[0] = '\0';
	jput(buf, len, &pos, "{\"version\":%u,\"name\":\"", st.version);
	for (const char *p = st.name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			jput(buf, len, &pos, "\\%c", c);
		else if (c < 0x20)
			jput(buf, len, &pos, "\\u%04x", c);
		else
			jput(buf, len, &pos, "%c", c);
	}
	jput(buf, len, &pos, "\"");
#define U(f)	jput(buf, len, &pos, ",\"" #f "\":%" PRIu64, (uint64_t)st.f)
	U(quantum); U(qcache_max);
	U(allocs); U(frees); U(alloc_fails); U(alloc_einval);
	U(imports); U(import_fails); U(releases); U(reclaims); U(sleeps);
	U(misuses); U(spans); U(busy_segs); U(free_segs);
	U(hash_buckets); U(hash_longest_chain); U(hash_resizes);
	U(bt_total); U(bt_free); U(metadata_bytes);
	U(bytes_inuse); U(bytes_free); U(bytes_total); U(bytes_imported);
	U(bytes_cached); U(limit); U(maxfree);
#undef U
	jput(buf, len, &pos, ",\"qcaches\":[");
	unsigned n = vmem_qcache_count(v);
	for (unsigned i = 0; i < n; i++) {
		struct vmem_qcache_stats q = { .version = VMEM_STATS_VERSION };
		if (vmem_get_qcache_stats(v, i, &q) != 0)
			break;
		jput(buf, len, &pos, "%s{", i == 0 ? "" : ",");
#define Q(f, sep) jput(buf, len, &pos, sep "\"" #f "\":%" PRIu64, (uint64_t)q.f)
		Q(objsize, ""); Q(hits, ","); Q(misses, ","); Q(contention, ",");
		Q(mag_size, ","); Q(slabs, ","); Q(slab_size, ","); Q(slab_imports, ",");
		Q(slab_releases, ","); Q(depot_full, ","); Q(depot_empty, ",");
		Q(objs_in_threads, ","); Q(objs_in_depot, ","); Q(objs_in_slabs, ",");
		Q(objs_out, ","); Q(threads, ","); Q(lone, ","); Q(lone_imports, ",");
		Q(lone_releases, ",");
#undef Q
		jput(buf, len, &pos, "}");
	}
	jput(buf, len, &pos, "]}");
	return pos > (size_t)INT32_MAX ? -1 : (int)pos;
}

static int
walk_type(const struct bt *bt)
{
	switch (bt->type) {
	case BT_SPAN:	return VMEM_SPAN;
	case BT_BUSY:	return VMEM_ALLOC;
	case BT_FREE:	return VMEM_FREE;
	default:	return 0;
	}
}

int
vmem_walk(vmem_t *v, int typemask, vmem_walk_fn *fn, void *arg)
{
	struct vmem_arena *vm = arena(v, "vmem_walk");
	int r = 0;
	vmem_lock(&vm->lock);
	for (struct bt *bt = vm->seg_head.seg_next; bt != &vm->seg_head;
	    bt = bt->seg_next) {
		int t = walk_type(bt);
		if ((t & typemask) != 0 && (r = fn(arg, bt->start, bt->size, t)) != 0)
			break;
	}
	vmem_unlock(&vm->lock);
	return r;
}

void
vmem_dump(vmem_t *v, vmem_printf_fn *pr)
{
	struct vmem_arena *vm = arena(v, "vmem_dump");
	vmem_lock(&vm->lock);
	pr("vmem '%s': quantum %zu, total %zu, in use %zu, imported %zu, "
	    "%" PRIu64 " spans, %" PRIu64 " busy, %" PRIu64 " free segments\n",
	    vm->name, vm->quantum, vm->size_total, vm->size_inuse,
	    vm->size_imported, vm->nspans, vm->nbusy, vm->nfree);
	for (struct bt *bt = vm->seg_head.seg_next; bt != &vm->seg_head;
	    bt = bt->seg_next) {
		if (bt->type == BT_SPAN)
			pr("  span [0x%" PRIxPTR ", 0x%" PRIxPTR "] size %zu%s%s\n",
			    bt->start, bt->start + (bt->size - 1), bt->size,
			    (bt->span_flags & BT_SPAN_IMPORTED) ? " imported" : "",
			    (bt->span_flags & BT_SPAN_RELEASABLE) ? " releasable" : "");
		else
			pr("    %s [0x%" PRIxPTR ", 0x%" PRIxPTR "] size %zu\n",
			    bt->type == BT_BUSY ? "busy" : "free",
			    bt->start, bt->start + (bt->size - 1), bt->size);
	}
	vmem_unlock(&vm->lock);
}
