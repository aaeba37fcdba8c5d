/* Graph construction and editing: values, nodes, attributes, use lists,
 * value numbering and constant facts. Everything lives in the graph's
 * arenas; nothing is freed before ir_graph_free. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* Growable arrays in the arena without a stored capacity: the capacity
 * of an array of n elements is max(4, next power of two >= n), so an
 * append reallocates exactly when n reaches a power of two. Code that
 * builds g->inputs/outputs/consts by itself must keep that invariant
 * (allocate at least that capacity) or go through these functions. */
static void *
grow(nn_arena *a, void *arr, int n, size_t elem)
{
	if (n < 4 && arr)
		return arr;
	if (n >= 4 && (n & (n - 1)) != 0)
		return arr;
	size_t cap = n < 4 ? 4 : (size_t)n * 2;
	void *p = nn_alloc_array(a, cap, elem);
	if (n)
		memcpy(p, arr, (size_t)n * elem);
	return p;
}

#define APPEND(g, arr, n, v)                                           \
	do {                                                           \
		(arr) = grow((g)->arena, (arr), (n), sizeof *(arr));   \
		(arr)[(n)++] = (v);                                    \
	} while (0)

ir_graph *
ir_graph_new(const char *name)
{
	nn_arena *a = nn_arena_new();
	ir_graph *g = nn_alloc(a, sizeof *g);
	g->arena = a;
	g->weights = nn_arena_new();
	g->name = nn_strdup(a, name ? name : "main");
	return g;
}

ir_graph *
ir_subgraph_new(ir_graph *parent, const char *name)
{
	ir_graph *g = nn_alloc(parent->arena, sizeof *g);
	g->arena = parent->arena;
	g->weights = parent->weights;
	g->name = nn_strdup(g->arena, name ? name : "body");
	g->opset = parent->opset;
	g->parent = parent;
	return g;
}

int
ir_node_ncaptured(const ir_node *n)
{
	for (int i = 0; i < n->nattrs; i++)
		if (n->attrs[i].kind == IR_ATTR_GRAPH)
			return n->attrs[i].g->ncaptured;
	return 0;
}

void
ir_graph_free(ir_graph *g)
{
	if (!g || g->parent)
		return;
	nn_arena_free(g->weights);
	nn_arena_free(g->arena); /* g itself lives here: free it last */
}

const char *
ir_intern(ir_graph *g, const char *s)
{
	return s ? nn_strdup(g->arena, s) : NULL;
}

static ir_value *
new_value(ir_graph *g, const char *name, ir_dtype t, const ir_shape *s)
{
	ir_value *v = nn_alloc(g->arena, sizeof *v);
	v->id = -1;
	v->name = ir_intern(g, name);
	v->dtype = t;
	if (s)
		v->shape = *s;
	return v;
}

ir_value *
ir_add_input(ir_graph *g, const char *name, ir_dtype t, const ir_shape *s)
{
	ir_value *v = new_value(g, name, t, s);
	v->is_input = true;
	APPEND(g, g->inputs, g->ninputs, v);
	return v;
}

ir_value *
ir_add_const(ir_graph *g, const char *name, ir_dtype t, const ir_shape *s,
	     const void *data)
{
	ir_value *v = new_value(g, name, t, s);
	int64_t n = ir_shape_numel(&v->shape);
	NN_ASSERT(n >= 0);
	size_t bytes = (size_t)n * ir_dtype_size(t);
	v->data = nn_alloc(g->weights, bytes);
	if (data && bytes)
		memcpy(v->data, data, bytes);
	APPEND(g, g->consts, g->nconsts, v);
	if (data)
		ir_const_facts(v);
	return v;
}

ir_value *
ir_add_const_shared(ir_graph *g, const ir_value *v)
{
	ir_value *c = new_value(g, v->name, v->dtype, &v->shape);
	c->data = v->data;
	c->elided = v->elided;
	c->nnz = v->nnz;
	c->hash = v->hash;
	c->ncodes = v->ncodes;
	c->codebook = v->codebook;
	c->codes = v->codes;
	APPEND(g, g->consts, g->nconsts, c);
	return c;
}

void
ir_set_inputs(ir_graph *g, ir_value *const *in, int n)
{
	ir_value **a = NULL;
	int k = 0;
	for (int i = 0; i < n; i++)
		APPEND(g, a, k, in[i]);
	g->inputs = a;
	g->ninputs = k;
}

void
ir_freeze_input(ir_graph *g, ir_value *v, const void *data)
{
	int i = 0;
	while (i < g->ninputs && g->inputs[i] != v)
		i++;
	NN_ASSERT(i < g->ninputs);
	memmove(g->inputs + i, g->inputs + i + 1,
		sizeof *g->inputs * (size_t)(g->ninputs - i - 1));
	g->ninputs--; /* a smaller count keeps grow()'s capacity rule */
	int64_t n = ir_shape_numel(&v->shape);
	NN_ASSERT(n >= 0);
	size_t bytes = (size_t)n * ir_dtype_size(v->dtype);
	v->is_input = false;
	v->data = nn_alloc(g->weights, bytes);
	if (bytes)
		memcpy(v->data, data, bytes);
	APPEND(g, g->consts, g->nconsts, v);
	ir_const_facts(v);
}

void
ir_add_output(ir_graph *g, ir_value *v)
{
	APPEND(g, g->outputs, g->noutputs, v);
}

static ir_node *
new_node(ir_graph *g, ir_op op, const char *name, int nin,
	 ir_value *const *in, int nout)
{
	NN_ASSERT(op >= 0 && op < IR_NOPS && nin >= 0 && nout >= 0);
	ir_node *n = nn_alloc(g->arena, sizeof *n);
	n->op = op;
	n->name = ir_intern(g, name);
	n->nin = nin;
	n->nout = nout;
	n->in = nn_alloc_array(g->arena, nin ? nin : 1, sizeof *n->in);
	if (nin)
		memcpy(n->in, in, (size_t)nin * sizeof *n->in);
	n->out = nn_alloc_array(g->arena, nout ? nout : 1, sizeof *n->out);
	for (int i = 0; i < nout; i++) {
		n->out[i] = new_value(g, NULL, IR_UNDEF, NULL);
		n->out[i]->def = n;
	}
	n->id = -1;
	g->nnodes++;
	return n;
}

ir_node *
ir_add_node(ir_graph *g, ir_op op, const char *name, int nin,
	    ir_value *const *in, int nout)
{
	ir_node *n = new_node(g, op, name, nin, in, nout);
	n->prev = g->last;
	if (g->last)
		g->last->next = n;
	else
		g->first = n;
	g->last = n;
	return n;
}

ir_node *
ir_insert_node(ir_graph *g, ir_node *before, ir_op op, const char *name,
	       int nin, ir_value *const *in, int nout)
{
	if (!before)
		return ir_add_node(g, op, name, nin, in, nout);
	ir_node *n = new_node(g, op, name, nin, in, nout);
	n->next = before;
	n->prev = before->prev;
	if (before->prev)
		before->prev->next = n;
	else
		g->first = n;
	before->prev = n;
	return n;
}

void
ir_remove_node(ir_graph *g, ir_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		g->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		g->last = n->prev;
	n->prev = n->next = NULL;
	g->nnodes--;
}

/* Use lists are not updated here (they are an explicit analysis): call
 * ir_compute_uses again before relying on them. */
void
ir_replace_uses(ir_graph *g, ir_value *from, ir_value *to)
{
	for (ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nin; i++)
			if (n->in[i] == from)
				n->in[i] = to;
	for (int i = 0; i < g->noutputs; i++)
		if (g->outputs[i] == from)
			g->outputs[i] = to;
}

/* Index of attribute `name` in n->attrs, or -(insertion point) - 1. */
static int
find_attr(const ir_node *n, const char *name)
{
	int lo = 0, hi = n->nattrs;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(n->attrs[mid].name, name);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

ir_attr *
ir_set_attr(ir_graph *g, ir_node *n, const char *name, ir_attr_kind k)
{
	int i = find_attr(n, name);
	if (i < 0) {
		i = -i - 1;
		ir_attr *a = nn_alloc_array(g->arena, (size_t)n->nattrs + 1,
					    sizeof *a);
		if (i)
			memcpy(a, n->attrs, (size_t)i * sizeof *a);
		if (n->nattrs - i)
			memcpy(a + i + 1, n->attrs + i,
			       (size_t)(n->nattrs - i) * sizeof *a);
		n->attrs = a;
		n->nattrs++;
		name = ir_intern(g, name);
	} else {
		name = n->attrs[i].name;
	}
	ir_attr *a = &n->attrs[i];
	memset(a, 0, sizeof *a);
	a->name = name;
	a->kind = k;
	return a;
}

const ir_attr *
ir_get_attr(const ir_node *n, const char *name)
{
	int i = find_attr(n, name);
	return i >= 0 ? &n->attrs[i] : NULL;
}

int64_t
ir_attr_int(const ir_node *n, const char *name, int64_t dflt)
{
	const ir_attr *a = ir_get_attr(n, name);
	if (!a)
		return dflt;
	return a->kind == IR_ATTR_FLOAT ? (int64_t)a->f : a->i;
}

double
ir_attr_float(const ir_node *n, const char *name, double dflt)
{
	const ir_attr *a = ir_get_attr(n, name);
	if (!a)
		return dflt;
	return a->kind == IR_ATTR_INT ? (double)a->i : a->f;
}

const char *
ir_attr_str(const ir_node *n, const char *name, const char *dflt)
{
	const ir_attr *a = ir_get_attr(n, name);
	return a && a->kind == IR_ATTR_STRING ? a->s : dflt;
}

const int64_t *
ir_attr_ints(const ir_node *n, const char *name, int *count)
{
	const ir_attr *a = ir_get_attr(n, name);
	if (!a || a->kind != IR_ATTR_INTS) {
		*count = 0;
		return NULL;
	}
	*count = a->n;
	return a->ints;
}

static void
reset_uses(ir_value *v)
{
	if (v) {
		v->nuses = 0;
		v->uses = NULL;
	}
}

void
ir_compute_uses(ir_graph *g)
{
	for (int i = 0; i < g->ninputs; i++)
		reset_uses(g->inputs[i]);
	for (int i = 0; i < g->nconsts; i++)
		reset_uses(g->consts[i]);
	for (ir_node *n = g->first; n; n = n->next) {
		for (int i = 0; i < n->nin; i++)
			reset_uses(n->in[i]);
		for (int i = 0; i < n->nout; i++)
			reset_uses(n->out[i]);
	}
	/* Count, allocate, then fill, so each list is one exact array. */
	for (ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nin; i++)
			if (n->in[i])
				n->in[i]->nuses++;
	for (ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nin; i++) {
			ir_value *v = n->in[i];
			if (!v)
				continue;
			if (!v->uses) {
				v->uses = nn_alloc_array(g->arena, (size_t)v->nuses,
							 sizeof *v->uses);
				v->nuses = 0;
			}
			v->uses[v->nuses++] = (ir_use){n, i};
		}
}

bool
ir_is_const(const ir_value *v)
{
	return v->def == NULL && !v->is_input;
}

static int
cmp_name(const void *a, const void *b)
{
	const ir_value *va = *(ir_value *const *)a, *vb = *(ir_value *const *)b;
	int c = strcmp(va->name, vb->name);
	if (c)
		return c;
	return (vb->id > va->id) - (vb->id < va->id); /* first seen first */
}

/* Values the printer shows by name get id -2 (a mark, replaced below):
 * named inputs, constants and graph outputs whose name is not taken by
 * an earlier such value. Returns how many were marked. */
static int
mark_named(ir_graph *g)
{
	int total = g->ninputs + g->nconsts + g->noutputs, k = 0, seq = 0;
	ir_value **named = nn_xmalloc(sizeof *named * (size_t)(total + 1));
	ir_value **lists[3] = {g->inputs, g->consts, g->outputs};
	int counts[3] = {g->ninputs, g->nconsts, g->noutputs};
	for (int l = 0; l < 3; l++)
		for (int i = 0; i < counts[l]; i++) {
			ir_value *v = lists[l][i];
			/* Ids here only order duplicates by first appearance,
			 * which is print order. */
			if (v && v->name && v->id == -1) {
				v->id = -3 - seq++;
				named[k++] = v;
			}
		}
	qsort(named, (size_t)k, sizeof *named, cmp_name);
	int marked = 0;
	for (int i = 0; i < k; i++) {
		bool dup = i > 0 && strcmp(named[i - 1]->name, named[i]->name) == 0;
		named[i]->id = dup ? -1 : -2;
		marked += !dup;
	}
	free(named);
	return marked;
}

static void
number(ir_value *v, int *next)
{
	if (v && v->id == -1)
		v->id = (*next)++;
}

static void
clear_ids(ir_graph *g)
{
	for (int i = 0; i < g->ninputs; i++)
		g->inputs[i]->id = -1;
	for (int i = 0; i < g->nconsts; i++)
		g->consts[i]->id = -1;
	for (int i = 0; i < g->noutputs; i++)
		g->outputs[i]->id = -1;
	for (ir_node *n = g->first; n; n = n->next)
		for (int i = 0; i < n->nout; i++)
			if (n->out[i])
				n->out[i]->id = -1;
}

/* Ids are unique and dense: the values printed as %N get 0..k-1 in print
 * order (inputs, constants, node outputs), then the values printed by
 * name get k.. in the same order. Nodes get their position. */
void
ir_number_values(ir_graph *g)
{
	clear_ids(g);
	mark_named(g);
	int next = 0;
	for (int i = 0; i < g->ninputs; i++)
		number(g->inputs[i], &next);
	for (int i = 0; i < g->nconsts; i++)
		number(g->consts[i], &next);
	int nid = 0;
	for (ir_node *n = g->first; n; n = n->next) {
		n->id = nid++;
		for (int i = 0; i < n->nout; i++)
			number(n->out[i], &next);
	}
	for (int i = 0; i < g->noutputs; i++)
		number(g->outputs[i], &next);
	g->nnumbered = next;
	/* Second sweep: the named ones. */
	ir_value **lists[3] = {g->inputs, g->consts, g->outputs};
	int counts[3] = {g->ninputs, g->nconsts, g->noutputs};
	for (int l = 0; l < 3; l++)
		for (int i = 0; i < counts[l]; i++)
			if (lists[l][i]->id == -2)
				lists[l][i]->id = next++;
}

void
ir_const_facts(ir_value *v)
{
	if (!v->data)
		return; /* elided: the parsed facts stand */
	int64_t n = ir_shape_numel(&v->shape);
	size_t esz = ir_dtype_size(v->dtype);
	int64_t nnz = 0;
	for (int64_t i = 0; i < n; i++)
		nnz += ir_load_f64(v->data, v->dtype, i) != 0;
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p = v->data;
	for (size_t i = 0; i < (size_t)n * esz; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	v->nnz = nnz;
	v->hash = h;
}

const char *
ir_value_label(const ir_value *v)
{
	/* Rotating buffers so a message can show a few labels at once. */
	static char buf[4][24];
	static int k;
	if (v->name)
		return v->name;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%%%d", v->id);
	return buf[k];
}

bool
ir_norm_axis(const ir_node *n, int64_t *axis, int rank, nn_diag *d)
{
	if (*axis < -rank || *axis >= rank) {
		nn_error_node(d, n, "axis %lld out of range for rank %d",
			      (long long)*axis, rank);
		return false;
	}
	if (*axis < 0)
		*axis += rank;
	return true;
}

bool
ir_check_float_input(const ir_node *n, int i, nn_diag *d)
{
	if (ir_dtype_is_float(n->in[i]->dtype))
		return true;
	nn_error_node(d, n, "input %d ('%s'): dtype %s not supported", i,
		      ir_value_label(n->in[i]), ir_dtype_name(n->in[i]->dtype));
	return false;
}

const char *
ir_node_label(const ir_node *n)
{
	return n->name ? n->name : "";
}

/* ------------------------------------------------------------------ */
/* ir_graph_clone. Values are mapped through their ids, which the clone
 * sets to positions in one table and then restores with
 * ir_number_values. */

static ir_attr
clone_attr(ir_graph *g, const ir_attr *a)
{
	ir_attr c = *a;
	c.name = ir_intern(g, a->name);
	c.s = ir_intern(g, a->s);
	if (a->ints) {
		c.ints = nn_alloc_array(g->arena, (size_t)a->n, sizeof *c.ints);
		memcpy(c.ints, a->ints, (size_t)a->n * sizeof *c.ints);
	}
	if (a->floats) {
		c.floats = nn_alloc_array(g->arena, (size_t)a->n,
					  sizeof *c.floats);
		memcpy(c.floats, a->floats, (size_t)a->n * sizeof *c.floats);
	}
	if (a->strings) {
		c.strings = nn_alloc_array(g->arena, (size_t)a->n,
					   sizeof *c.strings);
		for (int i = 0; i < a->n; i++)
			c.strings[i] = ir_intern(g, a->strings[i]);
	}
	if (a->t) {
		size_t b = (size_t)ir_shape_numel(&a->t->shape) *
			   ir_dtype_size(a->t->dtype);
		c.t = nn_alloc(g->arena, sizeof *c.t);
		*c.t = *a->t;
		c.t->data = nn_alloc(g->weights, b ? b : 1);
		if (b)
			memcpy(c.t->data, a->t->data, b);
	}
	return c;
}

static void *
clone_bytes(nn_arena *a, const void *p, size_t n)
{
	if (!p)
		return NULL;
	void *q = nn_alloc(a, n ? n : 1);
	memcpy(q, p, n);
	return q;
}

/* The facts a value carries besides its name, type and definition. */
static void
clone_value_facts(ir_graph *g, ir_value *c, const ir_value *v)
{
	size_t bytes = (size_t)ir_shape_numel(&v->shape) *
		       ir_dtype_size(v->dtype);
	c->dtype = v->dtype;
	c->shape = v->shape;
	c->elided = v->elided;
	c->nnz = v->nnz;
	c->hash = v->hash;
	c->ncodes = v->ncodes;
	if (v->def)
		c->data = clone_bytes(g->weights, v->data, bytes);
	else if (!v->data) /* elided: no data, as in g */
		c->data = NULL;
	c->codebook = clone_bytes(g->weights, v->codebook,
				  (size_t)v->ncodes * sizeof *v->codebook);
	c->codes = clone_bytes(g->weights, v->codes,
			       (size_t)ir_shape_numel(&v->shape));
}

static ir_value **
map_values(ir_graph *g)
{
	int k = g->ninputs + g->nconsts;
	for (ir_node *x = g->first; x; x = x->next)
		k += x->nout;
	ir_value **map = nn_xcalloc((size_t)k + 1, sizeof *map);
	k = 0;
	for (int i = 0; i < g->ninputs; i++)
		g->inputs[i]->id = k++;
	for (int i = 0; i < g->nconsts; i++)
		g->consts[i]->id = k++;
	for (ir_node *x = g->first; x; x = x->next)
		for (int i = 0; i < x->nout; i++)
			if (x->out[i])
				x->out[i]->id = k++;
	return map;
}

static void clone_into(ir_graph *c, ir_graph *g);

static ir_attr
clone_attr_in(ir_graph *c, const ir_attr *a)
{
	ir_attr r = clone_attr(c, a);
	if (a->g) {
		r.g = ir_subgraph_new(c, a->g->name);
		r.g->ncaptured = a->g->ncaptured;
		clone_into(r.g, a->g);
	}
	return r;
}

/* Copies the nodes of src (their graph attributes too) into dst before
 * `before` (NULL: at the end), their operands through map (indexed by
 * map_values ids), which gains their outputs. */
static void
clone_nodes(ir_graph *dst, ir_node *before, const ir_graph *src,
	    ir_value **map)
{
	for (ir_node *x = src->first; x; x = x->next) {
		ir_value **in = nn_xcalloc((size_t)x->nin + 1, sizeof *in);
		for (int i = 0; i < x->nin; i++)
			in[i] = x->in[i] ? map[x->in[i]->id] : NULL;
		ir_node *y = ir_insert_node(dst, before, x->op, x->name,
					    x->nin, in, x->nout);
		free(in);
		y->nattrs = x->nattrs;
		y->attrs = nn_alloc_array(dst->arena, (size_t)x->nattrs + 1,
					  sizeof *y->attrs);
		for (int i = 0; i < x->nattrs; i++)
			y->attrs[i] = clone_attr_in(dst, &x->attrs[i]);
		for (int i = 0; i < x->nout; i++) {
			if (!x->out[i]) {
				y->out[i] = NULL;
				continue;
			}
			y->out[i]->name = ir_intern(dst, x->out[i]->name);
			clone_value_facts(dst, y->out[i], x->out[i]);
			map[x->out[i]->id] = y->out[i];
		}
	}
}

/* Copies g's inputs, constants, nodes (subgraphs too) and outputs into
 * the empty graph c. */
static void
clone_into(ir_graph *c, ir_graph *g)
{
	ir_value **map = map_values(g);

	c->opset = g->opset;
	for (int i = 0; i < g->ninputs; i++) {
		const ir_value *v = g->inputs[i];
		map[v->id] = ir_add_input(c, v->name, v->dtype, &v->shape);
	}
	for (int i = 0; i < g->nconsts; i++) {
		const ir_value *v = g->consts[i];
		map[v->id] = ir_add_const(c, v->name, v->dtype, &v->shape,
					  v->data);
		clone_value_facts(c, map[v->id], v);
	}
	clone_nodes(c, NULL, g, map);
	for (int i = 0; i < g->noutputs; i++)
		ir_add_output(c, map[g->outputs[i]->id]);
	free(map);
	ir_number_values(g);
	ir_number_values(c);
}

ir_value **
ir_inline_graph(ir_graph *g, ir_node *before, ir_graph *sub,
		ir_value *const *args)
{
	ir_value **map = map_values(sub);
	for (int i = 0; i < sub->ninputs; i++)
		map[sub->inputs[i]->id] = args[i];
	for (int i = 0; i < sub->nconsts; i++)
		map[sub->consts[i]->id] = ir_add_const_shared(g, sub->consts[i]);
	clone_nodes(g, before, sub, map);
	ir_value **outs = nn_xcalloc((size_t)sub->noutputs + 1, sizeof *outs);
	for (int i = 0; i < sub->noutputs; i++)
		outs[i] = map[sub->outputs[i]->id];
	free(map);
	ir_number_values(sub);
	return outs;
}

ir_graph *
ir_graph_clone(ir_graph *g)
{
	ir_graph *c = ir_graph_new(g->name);
	clone_into(c, g);
	return c;
}
