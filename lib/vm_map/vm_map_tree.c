/*
 * vm_map_tree.c -- the map's entries as a red-black tree augmented with
 * free gaps.
 *
 * The tree is ordered by address, but insertion never compares keys: a new
 * entry always goes right after a known predecessor on the address list,
 * and the in-order successor position of a node is found structurally (the
 * predecessor's empty right link, or the empty left link of its old
 * successor).  Every node carries its own gap (free bytes up to the next
 * entry) and maxgap, the largest gap in its subtree.
 *
 * Keeping maxgap right: a change to one node's gap or children invalidates
 * only the maxgaps on its path to the root, so every change is followed by
 * a walk up from the changed node, which stops at the first node whose
 * maxgap comes out unchanged (everything above was computed from that same
 * value).  That early stop is only sound while the rest of the tree is
 * right, so each operation fixes one change at a time, and finishes before
 * rebalancing; a rotation keeps the set of nodes under the rotated pair,
 * so it only recomputes the two nodes it moved.  All of this is O(log n)
 * per operation, and usually far less.
 *
 * Callers hold the map lock for writing (lookups: either mode).
 */
#include "kvmem_config.h"

#include "vm_map_impl.h"

/* Recompute maxgaps from e to the root.  With early, stop where unchanged. */
static void
propagate(struct vme *e, bool early)
{
	for (; e != NULL; e = e->parent) {
		vm_size_t g = vmt_calc_maxgap(e);
		if (early && g == e->maxgap)
			return;
		e->maxgap = g;
	}
}

/* Make child take old's place under old's parent (or as the root). */
static inline void
replace_child(struct vm_map_impl *m, struct vme *old, struct vme *child)
{
	struct vme *p = old->parent;

	if (p == NULL)
		m->root = child;
	else if (p->left == old)
		p->left = child;
	else
		p->right = child;
	if (child != NULL)
		child->parent = p;
}

/* x's right child rises above x. */
static void
rotate_left(struct vm_map_impl *m, struct vme *x)
{
	struct vme *y = x->right;

	x->right = y->left;
	if (y->left != NULL)
		y->left->parent = x;
	replace_child(m, x, y);
	y->left = x;
	x->parent = y;
	x->maxgap = vmt_calc_maxgap(x);
	y->maxgap = vmt_calc_maxgap(y);
}

/* x's left child rises above x. */
static void
rotate_right(struct vm_map_impl *m, struct vme *x)
{
	struct vme *y = x->left;

	x->left = y->right;
	if (y->right != NULL)
		y->right->parent = x;
	replace_child(m, x, y);
	y->right = x;
	x->parent = y;
	x->maxgap = vmt_calc_maxgap(x);
	y->maxgap = vmt_calc_maxgap(y);
}

static inline bool
is_red(const struct vme *e)
{
	return e != NULL && e->red;
}

/* Restore the red-black rules after linking the red leaf z. */
static void
insert_fixup(struct vm_map_impl *m, struct vme *z)
{
	while (is_red(z->parent)) {
		struct vme *p = z->parent;
		struct vme *g = p->parent;	/* exists: a red node is not the root */

		if (p == g->left) {
			struct vme *u = g->right;
			if (is_red(u)) {
				p->red = 0;
				u->red = 0;
				g->red = 1;
				z = g;
				continue;
			}
			if (z == p->right) {
				rotate_left(m, p);
				z = p;
				p = z->parent;
			}
			p->red = 0;
			g->red = 1;
			rotate_right(m, g);
		} else {
			struct vme *u = g->left;
			if (is_red(u)) {
				p->red = 0;
				u->red = 0;
				g->red = 1;
				z = g;
				continue;
			}
			if (z == p->left) {
				rotate_right(m, p);
				z = p;
				p = z->parent;
			}
			p->red = 0;
			g->red = 1;
			rotate_left(m, g);
		}
	}
	m->root->red = 0;
}

/*
 * Restore the red-black rules after removing a black node: x (maybe NULL)
 * under parent xp carries an extra black.
 */
static void
delete_fixup(struct vm_map_impl *m, struct vme *x, struct vme *xp)
{
	while (x != m->root && !is_red(x)) {
		if (x == xp->left) {
			struct vme *w = xp->right;	/* exists: black heights */
			if (is_red(w)) {
				w->red = 0;
				xp->red = 1;
				rotate_left(m, xp);
				w = xp->right;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				w->red = 1;
				x = xp;
				xp = x->parent;
				continue;
			}
			if (!is_red(w->right)) {
				w->left->red = 0;
				w->red = 1;
				rotate_right(m, w);
				w = xp->right;
			}
			w->red = xp->red;
			xp->red = 0;
			w->right->red = 0;
			rotate_left(m, xp);
			x = m->root;
		} else {
			struct vme *w = xp->left;
			if (is_red(w)) {
				w->red = 0;
				xp->red = 1;
				rotate_right(m, xp);
				w = xp->left;
			}
			if (!is_red(w->left) && !is_red(w->right)) {
				w->red = 1;
				x = xp;
				xp = x->parent;
				continue;
			}
			if (!is_red(w->left)) {
				w->right->red = 0;
				w->red = 1;
				rotate_left(m, w);
				w = xp->left;
			}
			w->red = xp->red;
			xp->red = 0;
			w->left->red = 0;
			rotate_right(m, xp);
			x = m->root;
		}
	}
	if (x != NULL)
		x->red = 0;
}

void
vmt_link_after(struct vm_map_impl *m, struct vme *prev, struct vme *e)
{
	/* The address list; prev's gap shrinks first, in the intact tree. */
	e->prev = prev;
	e->next = prev->next;
	prev->next->prev = e;
	prev->next = e;
	e->gap = e->next->start - e->end;
	prev->gap = e->start - prev->end;
	if (prev != &m->header)
		propagate(prev, true);

	/* The tree: e becomes the in-order successor of prev, as a leaf. */
	e->left = e->right = NULL;
	e->red = 1;
	e->maxgap = e->gap;
	if (m->root == NULL) {
		e->parent = NULL;
		m->root = e;
	} else if (prev != &m->header && prev->right == NULL) {
		prev->right = e;
		e->parent = prev;
	} else {
		/* e->next is prev's old successor (the tree minimum when prev
		 * is the header): the leftmost node of some subtree. */
		struct vme *s = e->next;
		s->left = e;
		e->parent = s;
	}
	/* A new leaf can only raise its ancestors' maxgaps. */
	propagate(e->parent, true);
	insert_fixup(m, e);
	m->nentries++;
}

void
vmt_unlink(struct vm_map_impl *m, struct vme *e)
{
	struct vme *prev = e->prev;
	struct vme *x, *xp;
	bool removed_black;

	/*
	 * prev's gap absorbs e first, while the tree is otherwise intact, so
	 * the walk up may stop where nothing changes.  (After the rotations
	 * below that would not be safe: a rotation can refresh prev without
	 * refreshing its new ancestors.)
	 */
	prev->next = e->next;
	e->next->prev = prev;
	prev->gap = prev->next->start - prev->end;
	if (prev != &m->header)
		propagate(prev, true);

	if (e->left == NULL || e->right == NULL) {
		/* x takes e's place: the ancestors lost e's gap only. */
		x = e->left != NULL ? e->left : e->right;
		xp = e->parent;
		removed_black = !e->red;
		replace_child(m, e, x);
		propagate(xp, true);
	} else {
		/* The successor y (leftmost of the right subtree) takes e's place. */
		struct vme *y = e->right;
		while (y->left != NULL)
			y = y->left;
		removed_black = !y->red;
		x = y->right;
		if (y->parent == e) {
			xp = y;
		} else {
			xp = y->parent;
			xp->left = x;
			if (x != NULL)
				x->parent = xp;
			y->right = e->right;
			y->right->parent = y;
		}
		replace_child(m, e, y);
		y->left = e->left;
		y->left->parent = y;
		y->red = e->red;
		/*
		 * Nodes between y's old place and its new one lost y; y must be
		 * recomputed whatever happens below it; above y the ancestors
		 * were computed from e's value, which y inherits for the
		 * comparison that lets the walk stop early.
		 */
		for (struct vme *n = xp; n != y; n = n->parent) {
			vm_size_t g = vmt_calc_maxgap(n);
			if (g == n->maxgap)
				break;
			n->maxgap = g;
		}
		y->maxgap = e->maxgap;
		propagate(y, true);
	}
	if (removed_black)
		delete_fixup(m, x, xp);
	e->left = e->right = e->parent = NULL;
	m->nentries--;
}

void
vmt_regap(struct vm_map_impl *m, struct vme *e)
{
	e->gap = e->next->start - e->end;
	if (e != &m->header)
		propagate(e, true);
}

bool
vmt_lookup(const struct vm_map_impl *m, vm_offset_t addr, struct vme **out)
{
	struct vme *cur = m->root;
	struct vme *best = (struct vme *)&m->header;

	while (cur != NULL) {
		if (addr < cur->start) {
			cur = cur->left;
		} else if (addr >= cur->end) {
			best = cur;
			cur = cur->right;
		} else {
			*out = cur;
			return true;
		}
	}
	*out = best;
	return false;
}

uint64_t
vmt_height(const struct vme *e)
{
	if (e == NULL)
		return 0;
	uint64_t l = vmt_height(e->left), r = vmt_height(e->right);
	return 1 + (l > r ? l : r);
}
