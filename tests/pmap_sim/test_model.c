/*
 * test_model.c -- a long random sequence of page allocations and frees,
 * object pages, pmap_enter/kenter/qenter/remove/protect/unwire, whole
 * 2 MiB fills (promotion) and partial removes (demotion), reads and writes
 * through the MMU, and deliberate misuse, checked against a reference
 * model: a map from virtual page slot to (page, writable, wired), the set
 * of allocated pages with their wiring, mapping count and last written
 * tag.  pmap_sim_check() runs periodically.  KVMEM_SEED replays a run;
 * KVMEM_PSIM_MODEL_OPS sets its length.
 */
#include <errno.h>
#include <stdlib.h>

#include "psim_test.h"

TestSuite(model, .fini = psim_fini_no_live);

#define NSLOT_A		2048			/* 4 superpages at KVA + 1 GiB */
#define NSLOT_RND	1024			/* random mappings: the first two */
#define NSLOT_B		64			/* at KVA + 600 GiB */
#define NSLOT		(NSLOT_A + NSLOT_B)
#define MAXPG		6000
#define NCHUNK		8			/* object index space: 8 chunks of 512 */

struct mpage {
	vm_page_t	m;
	int		obj;			/* -1: none, 0: kernel object, 1: obj */
	vm_pindex_t	pindex;
	unsigned	wired;
	unsigned	maps;
	uint64_t	tag;			/* first 8 bytes of the page */
};

struct slot {
	int		page;			/* -1: unmapped */
	bool		rw, wired;
};

struct model {
	struct pmap_sim	*sim;
	pmap_t		pm;
	vm_object_t	objs[2];
	struct mpage	pg[MAXPG];
	int		npg;
	int		opage[2][NCHUNK * 512];	/* object index -> page, -1 */
	struct slot	slot[NSLOT];
	struct psim_log	log;
	struct kvt_rng	r;
	uint64_t	seed, op;
	uint64_t	fills, promoted;
};

static vm_offset_t
slot_va(int s)
{
	return s < NSLOT_A ? KVA + GiB + (uint64_t)s * PG :
	    KVA + 600 * GiB + (uint64_t)(s - NSLOT_A) * PG;
}

#define CTX	"seed %" PRIu64 " op %" PRIu64
#define CTXA	md->seed, md->op

/* A slot for random single mappings: superpages 0-1 of window A, or window B. */
static int
rnd_slot(struct model *md, int span)
{
	if (kvt_chance(&md->r, 80))
		return (int)kvt_below(&md->r, (uint64_t)(NSLOT_RND - span));
	return NSLOT_A + (int)kvt_below(&md->r, (uint64_t)(NSLOT_B - span));
}

/* A random page for op_enter/op_qenter, not one of op_fill's (or -1). */
static int
rnd_page(struct model *md)
{
	int i = (int)kvt_below(&md->r, (uint64_t)md->npg);

	if (md->pg[i].obj == 0 && md->pg[i].pindex >= (NCHUNK / 2) * 512)
		return -1;
	return i;
}

static int
add_page(struct model *md, vm_page_t m, int obj, vm_pindex_t pi, bool wired)
{
	int i = md->npg++;

	/* Contents are whatever the page held unless it was asked zeroed. */
	md->pg[i] = (struct mpage){ m, obj, pi, wired ? 1 : 0, 0,
	    *(uint64_t *)vm_page_ptr(md->sim, m) };
	if (obj >= 0)
		md->opage[obj][pi] = i;
	return i;
}

static void
drop_page(struct model *md, int i)
{
	int last = --md->npg, s;

	if (md->pg[i].obj >= 0)
		md->opage[md->pg[i].obj][md->pg[i].pindex] = -1;
	if (i != last) {
		md->pg[i] = md->pg[last];
		if (md->pg[i].obj >= 0)
			md->opage[md->pg[i].obj][md->pg[i].pindex] = i;
		for (s = 0; s < NSLOT; s++)
			if (md->slot[s].page == last)
				md->slot[s].page = i;
	}
}

static void
unmap_slot(struct model *md, int s)
{
	if (md->slot[s].page >= 0)
		md->pg[md->slot[s].page].maps--;
	md->slot[s].page = -1;
}

static void
op_alloc(struct model *md)
{
	bool wired = kvt_chance(&md->r, 50), zero = kvt_chance(&md->r, 30);
	int req = VM_ALLOC_SYSTEM | (wired ? VM_ALLOC_WIRED : 0) | (zero ? VM_ALLOC_ZERO : 0);
	vm_page_t m;

	if (md->npg >= MAXPG - 600)
		return;
	if (kvt_chance(&md->r, 50)) {
		m = vm_page_alloc_noobj_domain(md->sim, (int)kvt_below(&md->r, 2), req);
		if (m != NULL && md->pg[add_page(md, m, -1, 0, wired)].tag != 0)
			cr_assert(!zero, CTX ": VM_ALLOC_ZERO page is not zero", CTXA);
		return;
	}
	/* Kernel object chunks 4..7 are left to op_fill. */
	int o = (int)kvt_below(&md->r, 2);
	vm_pindex_t pi = kvt_below(&md->r, (o == 0 ? NCHUNK / 2 : NCHUNK) * 512);

	if (md->opage[o][pi] >= 0)
		return;
	m = vm_page_alloc_domain(md->sim, md->objs[o], pi, (int)kvt_below(&md->r, 2), req);
	if (m != NULL) {
		cr_assert_eq(vm_page_pindex(m), pi, CTX, CTXA);
		if (md->pg[add_page(md, m, o, pi, wired)].tag != 0)
			cr_assert(!zero, CTX ": VM_ALLOC_ZERO page is not zero", CTXA);
	}
}

static void
op_free(struct model *md)
{
	int i, tries;

	for (tries = 0; tries < 8 && md->npg > 0; tries++) {
		i = (int)kvt_below(&md->r, (uint64_t)md->npg);
		if (md->pg[i].maps != 0)
			continue;
		while (md->pg[i].wired > 0) {
			vm_page_unwire_noq(md->sim, md->pg[i].m);
			md->pg[i].wired--;
		}
		vm_page_free(md->sim, md->pg[i].m);
		drop_page(md, i);
		return;
	}
}

static void
op_enter(struct model *md)
{
	int s = rnd_slot(md, 0), i;
	bool rw = kvt_chance(&md->r, 70), wired = kvt_chance(&md->r, 50);
	int rc;

	if (md->npg == 0)
		return;
	i = md->slot[s].page >= 0 && kvt_chance(&md->r, 85) ? md->slot[s].page : rnd_page(md);
	if (i < 0)
		return;
	if (md->slot[s].page >= 0 && md->slot[s].page != i) {
		/* Misuse: another page is mapped there.  Nothing may change. */
		int before = md->log.count;
		vm_paddr_t pa = pmap_kextract(md->sim, slot_va(s));

		rc = pmap_enter(md->pm, slot_va(s), md->pg[i].m, VM_PROT_RW, 0, 0);
		cr_assert_eq(rc, EINVAL, CTX, CTXA);
		cr_assert_eq(md->log.count, before + 1, CTX, CTXA);
		cr_assert_eq(md->log.kind, PMAP_SIM_MISUSE_MAPPED, CTX, CTXA);
		cr_assert_eq(pmap_kextract(md->sim, slot_va(s)), pa, CTX, CTXA);
		return;
	}
	rc = pmap_enter(md->pm, slot_va(s), md->pg[i].m, rw ? VM_PROT_RW : VM_PROT_READ,
	    (rw ? VM_PROT_RW : VM_PROT_READ) | (wired ? PMAP_ENTER_WIRED : 0), 0);
	if (rc == ENOMEM)
		return;
	cr_assert_eq(rc, 0, CTX, CTXA);
	if (md->slot[s].page < 0)
		md->pg[i].maps++;
	md->slot[s] = (struct slot){ i, rw, wired };
}

static void
op_qenter(struct model *md)
{
	int n = 1 + (int)kvt_below(&md->r, 8), s = rnd_slot(md, 8), k;
	vm_page_t ma[8];
	int idx[8];

	if (md->npg == 0 || (s < NSLOT_A && s + n > NSLOT_A))
		return;		/* the windows are not adjacent */
	for (k = 0; k < n; k++) {
		if (md->slot[s + k].page >= 0)
			return;
		if ((idx[k] = rnd_page(md)) < 0)
			return;
		ma[k] = md->pg[idx[k]].m;
	}
	if (n == 1 && kvt_chance(&md->r, 50)) {
		if (pmap_kenter(md->sim, slot_va(s), vm_page_phys(ma[0])) != 0)
			return;
	} else if (pmap_qenter(md->sim, slot_va(s), ma, n) != 0)
		return;
	for (k = 0; k < n; k++) {
		md->slot[s + k] = (struct slot){ idx[k], true, false };
		md->pg[idx[k]].maps++;
	}
}

static void
range(struct model *md, int *s, int *e)
{
	bool big = kvt_chance(&md->r, 20);

	*s = (int)kvt_below(&md->r, NSLOT);
	*e = *s + 1 + (int)kvt_below(&md->r, big ? 700 : 6);
	if (*e > NSLOT)
		*e = NSLOT;
	/* Ranges stay inside one window. */
	if (*s < NSLOT_A && *e > NSLOT_A)
		*e = NSLOT_A;
}

static void
op_remove(struct model *md)
{
	int s, e, k;

	range(md, &s, &e);
	if (e - s == 1 && kvt_chance(&md->r, 50))
		cr_assert_eq(pmap_kremove(md->sim, slot_va(s)), 0, CTX, CTXA);
	else
		cr_assert_eq(pmap_remove(md->pm, slot_va(s), slot_va(e - 1) + PG), 0, CTX, CTXA);
	for (k = s; k < e; k++)
		unmap_slot(md, k);
}

static void
op_protect(struct model *md)
{
	int s, e, k, what = (int)kvt_below(&md->r, 3);

	range(md, &s, &e);
	if (what == 2) {
		cr_assert_eq(pmap_unwire(md->pm, slot_va(s), slot_va(e - 1) + PG), 0, CTX, CTXA);
		for (k = s; k < e; k++)
			md->slot[k].wired = false;
		return;
	}
	cr_assert_eq(pmap_protect(md->pm, slot_va(s), slot_va(e - 1) + PG,
	    what == 0 ? VM_PROT_READ : VM_PROT_NONE), 0, CTX, CTXA);
	for (k = s; k < e; k++) {
		if (what == 0)
			md->slot[k].rw = false;
		else
			unmap_slot(md, k);
	}
}

/*
 * Map a fresh kernel-object chunk (4..7) in order over superpage 2 or 3 of
 * window A, after clearing that superpage and freeing the chunk's old pages.
 */
static void
op_fill(struct model *md)
{
	int sp = 2 + (int)kvt_below(&md->r, 2), c = NCHUNK / 2 + (int)kvt_below(&md->r, NCHUNK / 2);
	int first, k, i;
	bool contig = true;
	vm_paddr_t pa0;
	int level;

	cr_assert_eq(pmap_remove(md->pm, slot_va(sp * 512), slot_va(sp * 512) + SPG), 0, CTX, CTXA);
	for (k = 0; k < 512; k++)
		unmap_slot(md, sp * 512 + k);
	for (k = 0; k < 512; k++) {
		i = md->opage[0][c * 512 + k];
		if (i >= 0 && md->pg[i].maps != 0)
			return;		/* still mapped elsewhere */
	}
	for (k = 0; k < 512; k++) {
		i = md->opage[0][c * 512 + k];
		if (i < 0)
			continue;
		while (md->pg[i].wired > 0) {
			vm_page_unwire_noq(md->sim, md->pg[i].m);
			md->pg[i].wired--;
		}
		vm_page_free(md->sim, md->pg[i].m);
		drop_page(md, i);
	}
	if (md->npg + 512 > MAXPG)
		return;
	first = md->npg;
	for (k = 0; k < 512; k++) {
		vm_page_t m = vm_page_alloc_domain(md->sim, md->objs[0], (vm_pindex_t)(c * 512 + k),
		    c % 2, VM_ALLOC_SYSTEM | VM_ALLOC_WIRED);

		if (m == NULL)
			return;		/* keep what we got; op_free recycles it */
		add_page(md, m, 0, (vm_pindex_t)(c * 512 + k), true);
	}
	pa0 = vm_page_phys(md->pg[first].m);
	for (k = 0; k < 512; k++) {
		int s = sp * 512 + k, rc;

		if (vm_page_phys(md->pg[first + k].m) != pa0 + (uint64_t)k * PG)
			contig = false;
		rc = pmap_enter(md->pm, slot_va(s), md->pg[first + k].m, VM_PROT_RW,
		    VM_PROT_RW | PMAP_ENTER_WIRED, 0);
		if (rc == ENOMEM)
			return;		/* leave what was entered; the model follows */
		cr_assert_eq(rc, 0, CTX, CTXA);
		md->slot[s] = (struct slot){ first + k, true, true };
		md->pg[first + k].maps++;
	}
	md->fills++;
	pmap_sim_kpte(md->sim, slot_va(sp * 512), &level);
	if (contig && pa0 % SPG == 0 && psim_rv_fullpop(md->sim, pa0 >> PMAP_SIM_PAGE_SHIFT)) {
		cr_assert_eq(level, 2, CTX ": full reservation mapped in order, not promoted", CTXA);
		md->promoted++;
	} else
		cr_assert_eq(level, 1, CTX, CTXA);
}

static void
op_rw(struct model *md)
{
	int s = (int)kvt_below(&md->r, NSLOT), i = md->slot[s].page;
	uint64_t v = kvt_next(&md->r), got;
	int rc;

	if (i < 0) {
		cr_assert_eq(pmap_sim_read(md->sim, slot_va(s), &got, 8), EFAULT, CTX, CTXA);
		return;
	}
	cr_assert_eq(pmap_sim_read(md->sim, slot_va(s), &got, 8), 0, CTX, CTXA);
	cr_assert_eq(got, md->pg[i].tag, CTX " slot %d", CTXA, s);
	rc = pmap_sim_write(md->sim, slot_va(s), &v, 8);
	if (!md->slot[s].rw) {
		cr_assert_eq(rc, EACCES, CTX, CTXA);
		return;
	}
	cr_assert_eq(rc, 0, CTX, CTXA);
	md->pg[i].tag = v;
}

static void
op_misuse_free(struct model *md)
{
	int s = (int)kvt_below(&md->r, NSLOT), before = md->log.count, i = md->slot[s].page;

	if (i < 0)
		return;
	vm_page_free(md->sim, md->pg[i].m);
	cr_assert_eq(md->log.count, before + 1, CTX, CTXA);
	cr_assert(md->log.kind == PMAP_SIM_MISUSE_FREE_MAPPED ||
	    md->log.kind == PMAP_SIM_MISUSE_FREE_WIRED, CTX, CTXA);
	cr_assert_eq(pmap_kextract(md->sim, slot_va(s)), vm_page_phys(md->pg[i].m), CTX, CTXA);
}

static void
verify_all(struct model *md)
{
	long resident = 0, wired = 0;
	int s, i;

	for (s = 0; s < NSLOT; s++) {
		vm_offset_t va = slot_va(s);
		uint64_t e = pmap_sim_kpte(md->sim, va, NULL);
		int p = md->slot[s].page;

		if (p < 0) {
			cr_assert_eq(pmap_kextract(md->sim, va), 0, CTX " slot %d", CTXA, s);
			continue;
		}
		resident++;
		wired += md->slot[s].wired;
		cr_assert_eq(pmap_kextract(md->sim, va + 8), vm_page_phys(md->pg[p].m) + 8,
		    CTX " slot %d", CTXA, s);
		cr_assert_eq((e & PMAP_PG_RW) != 0, md->slot[s].rw, CTX " slot %d rw", CTXA, s);
		cr_assert_eq((e & PMAP_PG_W) != 0, md->slot[s].wired, CTX " slot %d wired", CTXA, s);
	}
	cr_assert_eq(pmap_resident_count(md->pm), resident, CTX, CTXA);
	cr_assert_eq(pmap_wired_count(md->pm), wired, CTX, CTXA);
	for (i = 0; i < md->npg; i++) {
		cr_assert_eq(vm_page_map_count(md->pg[i].m), md->pg[i].maps, CTX, CTXA);
		cr_assert_eq(vm_page_wire_count(md->pg[i].m), md->pg[i].wired, CTX, CTXA);
		cr_assert_eq(*(uint64_t *)vm_page_ptr(md->sim, md->pg[i].m), md->pg[i].tag, CTX, CTXA);
	}
	cr_assert_eq(pmap_sim_check(md->sim), 0, CTX, CTXA);
}

Test(model, random_operations)
{
	static struct model mdl;
	struct model *md = &mdl;
	uint64_t ops = kvt_env_ull("KVMEM_PSIM_MODEL_OPS", 500000);
	int i, s;

	memset(md, 0, sizeof(*md));
	md->seed = kvt_seed();
	kvt_rng_init(&md->r, md->seed);
	md->sim = psim_make(2, 24 * MiB, &md->log);
	md->pm = pmap_sim_kernel_pmap(md->sim);
	md->objs[0] = pmap_sim_kernel_object(md->sim);
	md->objs[1] = pmap_sim_object_create(md->sim, 0);
	memset(md->opage, 0xff, sizeof(md->opage));
	for (s = 0; s < NSLOT; s++)
		md->slot[s].page = -1;

	for (md->op = 0; md->op < ops; md->op++) {
		unsigned x = (unsigned)kvt_below(&md->r, 1000);

		if (x < 220)
			op_alloc(md);
		else if (x < 400)
			op_free(md);
		else if (x < 620)
			op_enter(md);
		else if (x < 680)
			op_qenter(md);
		else if (x < 760)
			op_remove(md);
		else if (x < 820)
			op_protect(md);
		else if (x < 822)
			op_fill(md);
		else if (x < 995)
			op_rw(md);
		else
			op_misuse_free(md);
		if (md->op % 5000 == 0)
			verify_all(md);
	}
	verify_all(md);
	cr_log_info("model: %" PRIu64 " ops, %" PRIu64 " fills, %" PRIu64 " promoted, "
	    "%" PRIu64 " promotions, %" PRIu64 " demotions, %" PRIu64 " broken reservations, "
	    "%d misuse reports", ops, md->fills, md->promoted,
	    psim_ctl(md->sim, "vm.pmap.pde.promotions"), psim_ctl(md->sim, "vm.pmap.pde.demotions"),
	    psim_ctl(md->sim, "vm.reserv.broken"), md->log.count);

	/* Tear down through the API and end where we began. */
	pmap_remove(md->pm, slot_va(0), slot_va(NSLOT_A - 1) + PG);
	pmap_remove(md->pm, slot_va(NSLOT_A), slot_va(NSLOT - 1) + PG);
	for (s = 0; s < NSLOT; s++)
		unmap_slot(md, s);
	while (md->npg > 0) {
		i = md->npg - 1;
		while (md->pg[i].wired-- > 0)
			vm_page_unwire_noq(md->sim, md->pg[i].m);
		vm_page_free(md->sim, md->pg[i].m);
		drop_page(md, i);
	}
	cr_assert_eq(pmap_resident_count(md->pm), 0);
	for (i = 0; i < 2; i++) {
		struct pmap_sim_domain_stats ds = psim_dstats(md->sim, i);

		cr_assert_eq(ds.allocated, ds.pt_pages, "seed %" PRIu64 ": only page-table pages left",
		    md->seed);
		cr_assert_eq(ds.reserv_active, 0);
	}
	cr_assert_eq(pmap_sim_check(md->sim), 0, "seed %" PRIu64, md->seed);
	cr_assert_eq(pmap_sim_object_destroy(md->objs[1]), 0);
	pmap_sim_destroy(md->sim);
}
