/* The memory planner: decides where every value lives at run time, with
 * liveness over the node order and first-fit packing of intermediates
 * into one 64-byte aligned arena. */
#include <stdlib.h>
#include <string.h>

#include "cg_internal.h"

#define ALIGN 64

static size_t
hash_ptr(const void *p, int tsize)
{
	uintptr_t x = (uintptr_t)p;

	x ^= x >> 17;
	x *= 0x9E3779B97F4A7C15ull;
	return (size_t)(x >> 7) & (size_t)(tsize - 1);
}

cg_buf *
cg_plan_find(const cg_plan *p, const ir_value *v)
{
	size_t h = hash_ptr(v, p->tsize);

	while (p->table[h]) {
		cg_buf *b = &p->bufs[p->table[h] - 1];
		if (b->v == v)
			return b;
		h = (h + 1) & (size_t)(p->tsize - 1);
	}
	return NULL;
}

cg_buf *
cg_buf_root(cg_buf *b)
{
	while (b && b->loc == CG_LOC_ALIAS)
		b = b->alias;
	return b;
}

bool
cg_is_view_op(ir_op op)
{
	return ir_ops[op].kind == IR_KIND_RESHAPE;
}

/* Adds v (if new); the buffers array is sized up front, so pointers into
 * it stay valid. */
static cg_buf *
add(cg_plan *p, const ir_value *v, cg_loc loc, int index)
{
	cg_buf *b = cg_plan_find(p, v);
	size_t h;

	if (b)
		return b;
	NN_ASSERT(p->nbufs < p->cap);
	b = &p->bufs[p->nbufs++];
	memset(b, 0, sizeof *b);
	b->v = v;
	b->loc = loc;
	b->index = index;
	b->size = ir_shape_numel(&v->shape) * (int64_t)ir_dtype_size(v->dtype);
	b->first = b->last = -1;
	h = hash_ptr(v, p->tsize);
	while (p->table[h])
		h = (h + 1) & (size_t)(p->tsize - 1);
	p->table[h] = p->nbufs;
	return b;
}

/* A view node aliases its input when nothing else of it is needed. */
static bool
can_alias(const ir_node *n)
{
	if (!cg_is_view_op(n->op) || !n->in[0] || !n->out[0])
		return false;
	for (int i = 1; i < n->nout; i++)
		if (n->out[i])
			return false;
	return true;
}

static bool
all_data(const ir_node *n)
{
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] && !n->out[i]->data)
			return false;
	return true;
}

/* A node with nothing to write is not called, unless it checks its
 * inputs at run time whatever the output's size; one empty output of
 * several (a Split's last piece) does not make the others empty. */
static bool
out_empty(const ir_node *n)
{
	if (ir_op_has(n->op, IR_OPF_CHECKS))
		return false;
	for (int i = 0; i < n->nout; i++)
		if (n->out[i] && ir_shape_numel(&n->out[i]->shape) != 0)
			return false;
	return true;
}

bool
cg_node_runs(const ir_node *n)
{
	return !all_data(n) && !out_empty(n);
}

static bool
place_node(cg_plan *p, ir_graph *g, ir_node *n, int i, nn_diag *d)
{
	cg_buf *out0;

	(void)g;
	for (int k = 0; k < n->nin; k++) {
		cg_buf *b;
		if (!n->in[k])
			continue;
		if (!(b = cg_plan_find(p, n->in[k]))) {
			nn_error_node(d, n, "input %d is used before it is "
				      "defined", k);
			return false;
		}
		if (b->loc == CG_LOC_CONST && !b->v->data) {
			nn_error_node(d, n, "constant '%s' has no data (elided)",
				      ir_value_label(b->v));
			return false;
		}
		b = cg_buf_root(b);
		if (b->last < i)
			b->last = i;
	}
	out0 = n->nout > 0 && n->out[0] ? cg_plan_find(p, n->out[0]) : NULL;
	p->skip[i] = all_data(n) ||
		     (can_alias(n) && !(out0 && out0->loc == CG_LOC_OUTPUT));
	for (int k = 0; k < n->nout; k++) {
		cg_buf *b;
		if (!n->out[k])
			continue;
		b = add(p, n->out[k], CG_LOC_ARENA, 0);
		if (b->loc == CG_LOC_OUTPUT)
			continue;
		if (n->out[k]->data) {
			b->loc = CG_LOC_CONST;
		} else if (p->skip[i]) {
			b->loc = CG_LOC_ALIAS;
			b->alias = cg_plan_find(p, n->in[0]);
		} else {
			b->first = b->last = i;
		}
	}
	return true;
}

int64_t
cg_node_scratch_bytes(const ir_node *n)
{
	int64_t dense = cg_scratch_bytes(n), sparse = cg_sparse_scratch_bytes(n);

	if (ir_ops[n->op].kind == IR_KIND_RNN)
		return cg_rnn_scratch_bytes(n);
	if (ir_ops[n->op].kind == IR_KIND_LINALG)
		return cg_linalg_scratch_bytes(n);
	if (ir_ops[n->op].kind == IR_KIND_CONTROL)
		return cg_control_scratch_bytes(n);

	return dense > sparse ? dense : sparse;
}

/* Kernel workspace (padded or im2col'd inputs), live only during its
 * node; not in the value table (v is NULL). A node split into T tasks
 * (cg_node_tasks) gets T slots, one per task: tasks may run at once. */
static void
add_scratch(cg_plan *p, ir_graph *g, const cg_options *o)
{
	int i = 0;

	for (ir_node *n = g->first; n; n = n->next, i++) {
		int64_t sz = p->skip[i] ? 0 : cg_node_scratch_bytes(n);
		int t = sz > 0 && cg_node_runs(n) ? cg_node_tasks(n, o) : 1;
		if (t > 1)
			sz = cg_task_slot_bytes(n) * t;
		cg_buf *b;
		if (sz <= 0)
			continue;
		NN_ASSERT(p->nbufs < p->cap);
		b = &p->bufs[p->nbufs++];
		memset(b, 0, sizeof *b);
		b->loc = CG_LOC_ARENA;
		b->size = sz;
		b->first = b->last = i;
		p->scratch[i] = p->nbufs;
	}
}

static int
by_size(const void *a, const void *b)
{
	const cg_buf *x = *(cg_buf *const *)a, *y = *(cg_buf *const *)b;

	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->first - y->first;
}

static int
by_offset(const void *a, const void *b)
{
	const cg_buf *x = *(cg_buf *const *)a, *y = *(cg_buf *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int
by_first(const void *a, const void *b)
{
	const cg_buf *x = *(cg_buf *const *)a, *y = *(cg_buf *const *)b;

	return (x->first > y->first) - (x->first < y->first);
}

/* The arena buffers sorted by first use, with a max tree of their last
 * use over that order: the buffers live during [a, b] are found in time
 * proportional to their number (times log n), not to all buffers, so
 * that packing stays near linear on long graphs. */
typedef struct live_index {
	cg_buf **ord;
	int *mx; /* mx[k]: max last over the range of tree node k */
} live_index;

static int
index_fill(live_index *x, int k, int lo, int hi)
{
	int m = lo + (hi - lo) / 2, l, r;

	if (hi - lo == 1)
		return x->mx[k] = x->ord[lo]->last;
	l = index_fill(x, 2 * k, lo, m);
	r = index_fill(x, 2 * k + 1, m, hi);
	return x->mx[k] = l > r ? l : r;
}

/* Appends to out the buffers among ord[lo, hi) with first <= b and
 * last >= a whose size rank is below `rank` (already placed). */
static void
index_query(const live_index *x, int k, int lo, int hi, int a, int b,
	    int rank, const int *ranks, cg_buf **out, int *nout)
{
	int m = lo + (hi - lo) / 2;

	if (x->mx[k] < a || x->ord[lo]->first > b)
		return;
	if (hi - lo == 1) {
		if (ranks[lo] < rank)
			out[(*nout)++] = x->ord[lo];
		return;
	}
	index_query(x, 2 * k, lo, m, a, b, rank, ranks, out, nout);
	index_query(x, 2 * k + 1, m, hi, a, b, rank, ranks, out, nout);
}

/* The lowest 64-byte aligned offset where b fits among the placed
 * buffers live (sorted by offset) with it. */
static int64_t
first_fit(const cg_buf *b, cg_buf **live, int nl)
{
	int64_t off = 0, sz = (b->size + ALIGN - 1) / ALIGN * ALIGN;

	qsort(live, (size_t)nl, sizeof *live, by_offset);
	for (int j = 0; j < nl; j++) {
		if (live[j]->offset >= off + sz)
			break;
		if (live[j]->offset + live[j]->size > off)
			off = (live[j]->offset + live[j]->size + ALIGN - 1) /
			      ALIGN * ALIGN;
	}
	return off;
}

/* First fit by offset among the placed buffers whose lifetimes overlap,
 * largest buffers first. */
static void
pack(cg_plan *p)
{
	size_t cap = (size_t)p->nbufs + 1;
	cg_buf **list = nn_xcalloc(cap, sizeof *list);
	cg_buf **live = nn_xcalloc(cap, sizeof *live);
	int *rank_of = nn_xcalloc(cap, sizeof *rank_of); /* by bufs index */
	int *ranks = nn_xcalloc(cap, sizeof *ranks);     /* by ord position */
	live_index x = {nn_xcalloc(cap, sizeof *x.ord), NULL};
	int n = 0;

	for (int i = 0; i < p->nbufs; i++)
		if (p->bufs[i].loc == CG_LOC_ARENA)
			list[n++] = &p->bufs[i];
	qsort(list, (size_t)n, sizeof *list, by_size);
	for (int i = 0; i < n; i++)
		rank_of[list[i] - p->bufs] = i;
	memcpy(x.ord, list, (size_t)n * sizeof *list);
	qsort(x.ord, (size_t)n, sizeof *x.ord, by_first);
	for (int i = 0; i < n; i++)
		ranks[i] = rank_of[x.ord[i] - p->bufs];
	x.mx = nn_xcalloc(4 * cap, sizeof *x.mx);
	if (n)
		index_fill(&x, 1, 0, n);
	p->arena_size = 0;
	for (int i = 0; i < n; i++) {
		cg_buf *b = list[i];
		int64_t end;
		int nl = 0;
		index_query(&x, 1, 0, n, b->first, b->last, i, ranks, live,
			    &nl);
		b->offset = first_fit(b, live, nl);
		end = b->offset + (b->size + ALIGN - 1) / ALIGN * ALIGN;
		if (end > p->arena_size)
			p->arena_size = end;
	}
	free(list);
	free(live);
	free(rank_of);
	free(ranks);
	free(x.ord);
	free(x.mx);
}

cg_plan *
cg_plan_build(ir_graph *g, const cg_options *o, nn_diag *d)
{
	cg_plan *p = nn_xcalloc(1, sizeof *p);
	int nvals = g->ninputs + g->nconsts + g->noutputs, i = 0;

	for (ir_node *n = g->first; n; n = n->next)
		nvals += n->nout;
	for (ir_node *n = g->first; n; n = n->next)
		nvals++; /* a scratch buffer per node at most */
	p->cap = nvals + 1;
	p->bufs = nn_xcalloc((size_t)p->cap, sizeof *p->bufs);
	for (p->tsize = 16; p->tsize < 2 * p->cap; p->tsize *= 2)
		;
	p->table = nn_xcalloc((size_t)p->tsize, sizeof *p->table);
	p->nnodes = g->nnodes;
	for (ir_node *n = g->first; n; n = n->next)
		i++;
	p->nnodes = i;
	p->skip = nn_xcalloc((size_t)i + 1, sizeof *p->skip);
	p->scratch = nn_xcalloc((size_t)i + 1, sizeof *p->scratch);
	for (int k = 0; k < g->ninputs; k++)
		add(p, g->inputs[k], CG_LOC_INPUT, k);
	for (int k = 0; k < g->nconsts; k++)
		add(p, g->consts[k], CG_LOC_CONST, 0);
	/* Outputs first, so the first occurrence of a node output that is a
	 * graph output is written in place. */
	for (int k = 0; k < g->noutputs; k++)
		if (g->outputs[k]->def && !g->outputs[k]->data)
			add(p, g->outputs[k], CG_LOC_OUTPUT, k);
	i = 0;
	for (ir_node *n = g->first; n; n = n->next, i++)
		if (!place_node(p, g, n, i, d)) {
			cg_plan_free(p);
			return NULL;
		}
	add_scratch(p, g, o);
	/* Values copied to the outputs at the end must live to the end. */
	for (int k = 0; k < g->noutputs; k++) {
		cg_buf *b = cg_buf_root(cg_plan_find(p, g->outputs[k]));
		if (b && b->loc == CG_LOC_ARENA)
			b->last = p->nnodes;
	}
	pack(p);
	return p;
}

void
cg_plan_free(cg_plan *p)
{
	if (!p)
		return;
	free(p->bufs);
	free(p->table);
	free(p->skip);
	free(p->scratch);
	free(p);
}
