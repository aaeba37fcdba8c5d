/* Shared pieces of the lossy compression passes: which constants are
 * weights (and their 2-D view), the seeded RNG, prune method names and
 * option checks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compress.h"

const char *const cmp_method_names[CMP_NMETHODS] = {
	"magnitude", "global", "random", "l1", "l2", "nm", "block", "dense",
	"apoz", "activation", "wanda", "default",
};

uint64_t
cmp_rng_next(cmp_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double
cmp_rng_unif(cmp_rng *r)
{
	return (double)(cmp_rng_next(r) >> 11) * 0x1p-53;
}

void
cmp_rng_perm(cmp_rng *r, int64_t *p, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		p[i] = i;
	for (int64_t i = n - 1; i > 0; i--) {
		int64_t j = (int64_t)(cmp_rng_unif(r) * (double)(i + 1));
		int64_t t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
}

int
cmp_key_order(const void *x, const void *y)
{
	const cmp_key *a = x, *b = y;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->layer != b->layer)
		return a->layer < b->layer ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

cmp_method
cmp_method_lookup(const char *s)
{
	for (int i = 0; i < CMP_NMETHODS; i++)
		if (strcmp(s, cmp_method_names[i]) == 0)
			return (cmp_method)i;
	return CMP_NMETHODS;
}

bool
cmp_parse_block(const char *s, int *r, int *c)
{
	char *e;
	long a = strtol(s, &e, 10), b;
	if (e == s || (*e != 'x' && *e != 'X'))
		return false;
	s = e + 1;
	b = strtol(s, &e, 10);
	if (e == s || *e || a < 1 || b < 1 || a > 65536 || b > 65536)
		return false;
	*r = (int)a;
	*c = (int)b;
	return true;
}

bool
cmp_spec_check(const cmp_spec *s, const char *where, nn_diag *d)
{
	if (!(s->sparsity >= 0 && s->sparsity <= 1)) {
		nn_error(d, "%s: sparsity %g is not in [0, 1]", where,
			 s->sparsity);
		return false;
	}
	if (s->method == CMP_NM && !(s->n >= 1 && s->n < s->m)) {
		nn_error(d, "%s: N:M needs 1 <= n < m, got n=%d m=%d", where,
			 s->n, s->m);
		return false;
	}
	if (s->method == CMP_BLOCK && (s->br < 1 || s->bc < 1)) {
		nn_error(d, "%s: bad block %dx%d", where, s->br, s->bc);
		return false;
	}
	return true;
}

bool
cmp_is_weight_op(ir_op op)
{
	return ir_ops[op].weight != IR_W_NONE;
}

/* Whether input k of n is a weight to compress: a weight input of its
 * row (ir_weight_inputs) holding a float constant with data. */
static bool
weight_at(const ir_node *n, int k)
{
	const ir_value *w = k < n->nin ? n->in[k] : NULL;
	return (ir_weight_inputs(n->op) >> k & 1) && w && ir_is_const(w) &&
	       w->data && !w->elided && ir_dtype_is_float(w->dtype) &&
	       w->shape.rank >= 1;
}

/* Fills the 2-D view of L->w for L->n's op (see compress.h). */
static void
layer_view(cmp_layer *L)
{
	const ir_shape *s = &L->w->shape;
	int64_t numel = ir_shape_numel(s);
	ir_weight_form form = ir_ops[L->n->op].weight;
	bool conv = form == IR_W_OIHW;
	if (form == IR_W_GATES) {
		/* [dirs, gates*hidden, in]: one row per gate unit */
		L->cols = s->dim[s->rank - 1];
		L->rows = L->cols ? numel / L->cols : 0;
		*L = (cmp_layer){ L->n, L->slot, L->w, L->rows, L->cols,
				  L->cols, L->cols ? L->cols : 1, 0, 1,
				  L->name };
	} else if (conv || (form == IR_W_KN &&
			    ir_attr_i_or(L->n, "transB", 0)) || s->rank == 1) {
		/* rows are dim 0 (a rank-1 MatMul B is one column) */
		L->rows = s->rank == 1 && !conv ? 1 : s->dim[0];
		L->cols = L->rows ? numel / L->rows : 0;
		*L = (cmp_layer){ L->n, L->slot, L->w, L->rows, L->cols,
				  L->cols, L->cols ? L->cols : 1, 0, 1,
				  L->name };
	} else if (form == IR_W_IOHW) {
		/* [C_in, M/group, k...]; an empty weight has no kernel */
		int64_t k = s->dim[0] && s->dim[1] ? numel / s->dim[0] /
			    s->dim[1] : 1;
		L->rows = s->dim[1];
		L->cols = s->dim[0] * k;
		L->rs = k;
		L->inner = k ? k : 1;
		L->os = s->dim[1] * k;
		L->is = 1;
	} else { /* [..., K, N]: Gemm transB=0, MatMul */
		int64_t K = s->dim[s->rank - 2], N = s->dim[s->rank - 1];
		L->rows = N;
		L->cols = N ? numel / N : 0;
		L->rs = 1;
		L->inner = K ? K : 1;
		L->os = K * N;
		L->is = N;
	}
}

/* The layer's name: the node's (or its weight's) name, and for a node
 * with several weights "NODE:W", "NODE:R" (ir_weight_input_name). */
static const char *
layer_name(ir_graph *g, const ir_node *n, int k)
{
	const char *base = n->name && *n->name ? n->name
			   : ir_value_label(n->in[k]);
	const char *in = ir_weight_input_name(n->op, k);
	char buf[1024];
	if (!in)
		return base;
	snprintf(buf, sizeof buf, "%s:%s", base, in);
	return ir_intern(g, buf);
}

cmp_layer *
cmp_weight_layers(ir_graph *g, int *count)
{
	cmp_layer *L = NULL;
	int n = 0;
	for (ir_node *nd = g->first; nd; nd = nd->next)
		for (int slot = 1; slot < nd->nin; slot++) {
			int i;
			if (!weight_at(nd, slot))
				continue;
			for (i = 0; i < n && L[i].w != nd->in[slot]; i++)
				;
			if (i < n)
				continue;
			L = nn_xrealloc(L, sizeof *L * (size_t)(n + 1));
			L[n] = (cmp_layer){ .n = nd, .slot = slot,
					    .w = nd->in[slot],
					    .name = layer_name(g, nd, slot) };
			layer_view(&L[n++]);
		}
	*count = n;
	return L;
}

bool
cmp_rows_free(const cmp_layer *L)
{
	return ir_ops[L->n->op].weight != IR_W_GATES;
}

bool
cmp_check_data(ir_graph *g, const char *pass, nn_diag *d)
{
	for (ir_node *n = g->first; n; n = n->next)
		for (int k = 1; k < n->nin; k++)
			if ((ir_weight_inputs(n->op) >> k & 1) && n->in[k] &&
			    n->in[k]->elided) {
				nn_error_node(d, n, "%s: weight '%s' is elided "
					      "(print the IR with "
					      "--print-weights)", pass,
					      ir_value_label(n->in[k]));
				return false;
			}
	return true;
}

bool
cmp_check_layers(int nlayers, const char *pass, nn_diag *d)
{
	if (nlayers > 0)
		return true;
	nn_error(d, "%s: the model has no weight layer to compress (a Conv, "
		 "ConvTranspose, Gemm or MatMul whose input 1 is a float "
		 "constant, or an LSTM, GRU or RNN whose W or R is)", pass);
	return false;
}

const char *
cmp_layer_name(const cmp_layer *L)
{
	if (L->name)
		return L->name;
	if (L->n->name && *L->n->name)
		return L->n->name;
	return ir_value_label(L->w);
}

/* Whether anything but a weight slot still reads v. */
static bool
still_used(const ir_graph *g, const ir_value *v)
{
	for (const ir_node *n = g->first; n; n = n->next)
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] == v)
				return true;
	for (int k = 0; k < g->noutputs; k++)
		if (g->outputs[k] == v)
			return true;
	return false;
}

/* nw takes the place and name of w in g's constants once nothing reads
 * w any more, so the printed graph reads as before with only the data
 * changed. */
static void
take_place(ir_graph *g, ir_value *w, ir_value *nw)
{
	if (still_used(g, w))
		return;
	for (int i = 0; i < g->nconsts - 1; i++)
		if (g->consts[i] == w) {
			g->consts[i] = nw;
			g->nconsts--;
			break;
		}
	nw->name = w->name;
}

/* A new constant of w's type and shape holding vals. */
static ir_value *
const_like(ir_graph *g, const ir_value *w, const double *vals)
{
	ir_value *nw = ir_add_const(g, NULL, w->dtype, &w->shape, NULL);
	int64_t numel = ir_shape_numel(&w->shape);
	for (int64_t i = 0; i < numel; i++)
		ir_store_f64(nw->data, w->dtype, i, vals[i] == 0 ? 0 : vals[i]);
	ir_const_facts(nw);
	return nw;
}

ir_value *
cmp_replace_weight(ir_graph *g, ir_value *w, const double *vals)
{
	ir_value *nw = const_like(g, w, vals);
	for (ir_node *n = g->first; n; n = n->next)
		for (int k = 1; k < n->nin; k++)
			if (n->in[k] == w && weight_at(n, k))
				n->in[k] = nw;
	take_place(g, w, nw);
	return nw;
}

ir_value *
cmp_replace_input(ir_graph *g, ir_node *n, int slot, const double *vals)
{
	ir_value *old = n->in[slot], *nv = const_like(g, old, vals);
	n->in[slot] = nv;
	take_place(g, old, nv);
	return nv;
}

double
cmp_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void
cmp_progress(nn_diag *d, bool quiet, const char *pass, double t0,
	     const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	(void)d;
	if (quiet || !nn_progress_on())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	nn_progress(pass, "[%.1fs] %s", cmp_now() - t0, line);
}
