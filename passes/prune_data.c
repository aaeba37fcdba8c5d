/* The data-driven prune methods (docs/compression.md), scored on the
 * calibration set: apoz and activation zero whole output rows (neurons,
 * channels) and their bias entries, so that dead-neurons removes them;
 * wanda zeroes, per output row, the weights of smallest |w_ij| * ||x_j||
 * with x_j the layer's j-th input column over the calibration rows (the
 * Gram diagonal of refit_stats.c). Also the `default` method's policy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "opt_util.h"

/* Whether v reaches a graph output through nodes that are not weight
 * layers (depth-bounded: the graphs' weight layers are never far). */
static bool
reaches_output(const ir_graph *g, const ir_value *v, int depth)
{
	for (int i = 0; i < g->noutputs; i++)
		if (g->outputs[i] == v)
			return true;
	if (depth > 64)
		return false;
	for (const ir_node *n = g->first; n; n = n->next) {
		bool reads = false;
		for (int k = 0; k < n->nin && !reads; k++)
			reads = n->in[k] == v;
		if (!reads || cmp_is_weight_op(n->op))
			continue;
		for (int k = 0; k < n->nout; k++)
			if (n->out[k] && reaches_output(g, n->out[k], depth + 1))
				return true;
	}
	return false;
}

bool
cmp_is_output_layer(const ir_graph *g, const ir_node *n)
{
	return n->nout > 0 && reaches_output(g, n->out[0], 0);
}

/* The only node reading v, or NULL when none or several do. */
static ir_node *
sole_reader(ir_graph *g, const ir_value *v)
{
	ir_node *hit = NULL;
	for (int i = 0; i < g->noutputs; i++)
		if (g->outputs[i] == v)
			return NULL;
	for (ir_node *n = g->first; n; n = n->next)
		for (int k = 0; k < n->nin; k++)
			if (n->in[k] == v) {
				if (hit && hit != n)
					return NULL;
				hit = n;
			}
	return hit;
}

/* Per-channel statistics of one structurally pruned layer: taken on the
 * output of the elementwise activation that alone reads the layer's
 * output, else on the layer's output (where a fused activation is). */
typedef struct chan_stats {
	const ir_node *watch; /* whose output 0 is observed */
	bool after_act;       /* watch is the activation */
	bool conv;            /* channels along dim 1, else the last dim */
	int64_t m;            /* channels (the layer's rows) */
	double *zeros, *abs;  /* per channel: zero count, sum |a| */
	int64_t per;          /* observations per channel so far */
} chan_stats;

typedef struct chan_hook {
	chan_stats *cs;
	int n, seen;
} chan_hook;

static void
add_channels(chan_stats *c, const ir_value *v, const float *a)
{
	int64_t numel = ir_shape_numel(&v->shape), m = c->m;
	int64_t inner = 1, outer;
	if (c->conv)
		inner = numel / v->shape.dim[0] / m;
	outer = numel / (m * inner);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t ch = 0; ch < m; ch++) {
			const float *p = a + (o * m + ch) * inner;
			for (int64_t i = 0; i < inner; i++) {
				/* without an activation, what a Relu would zero */
				c->zeros[ch] += c->after_act ? p[i] == 0 : p[i] <= 0;
				c->abs[ch] += fabs(p[i]);
			}
		}
	c->per += outer * inner;
}

static bool
chan_fn(void *ctx, const ir_node *n, const void *const *in,
	const void *const *out)
{
	chan_hook *h = ctx;
	(void)in;
	for (int i = 0; i < h->n; i++)
		if (h->cs[i].watch == n) {
			add_channels(&h->cs[i], n->out[0], out[0]);
			h->seen++;
		}
	/* past the last watched node the run has nothing more to give */
	return h->seen < h->n;
}

/* Sets c up for layer L; false (the layer stays dense, warned) if its
 * output is not f32 with one channel per row. */
static bool
chan_init(chan_stats *c, ir_graph *g, const cmp_layer *L, nn_diag *d)
{
	ir_node *a = sole_reader(g, L->n->out[0]);
	memset(c, 0, sizeof *c);
	c->after_act = a && ir_ops[a->op].kind == IR_KIND_UNARY &&
		       a->nout == 1 && a->out[0];
	c->watch = c->after_act ? a : L->n;
	c->conv = L->n->op == OP_Conv || L->n->op == OP_FusedConv;
	c->m = L->rows;
	const ir_shape *s = &c->watch->out[0]->shape;
	int ax = c->conv ? 1 : s->rank - 1;
	if (c->watch->out[0]->dtype != IR_F32 || ax < 0 || ax >= s->rank ||
	    s->dim[ax] != c->m || (c->conv && s->rank < 2)) {
		nn_warn(d, "prune: layer '%s' left dense: its output has no "
			"channel per output row", cmp_layer_name(L));
		return false;
	}
	c->zeros = nn_xcalloc((size_t)c->m, sizeof *c->zeros);
	c->abs = nn_xcalloc((size_t)c->m, sizeof *c->abs);
	return true;
}

/* Runs g over the calibration set once, feeding every cs[i]. */
static bool
gather_channels(ir_graph *g, pass_env *e, chan_stats *cs, int n, nn_diag *d)
{
	void **out = nn_xcalloc((size_t)g->noutputs + 1, sizeof *out);
	int64_t B = pass_data_batch(g);
	bool ok = true;
	for (int i = 0; i < g->noutputs; i++)
		out[i] = nn_xmalloc(
			(size_t)ir_shape_numel(&g->outputs[i]->shape) *
				ir_dtype_size(g->outputs[i]->dtype) + 1);
	for (int64_t s0 = 0; ok && n && s0 < e->calib.nsamples; s0 += B) {
		chan_hook h = {cs, n, 0};
		ir_run_hook hook = {chan_fn, &h};
		nn_progress_detail("prune", "calibration sample %lld of %lld",
				   (long long)s0 + 1,
				   (long long)e->calib.nsamples);
		ok = pass_data_run(g, &e->calib, s0, out, &hook, d);
	}
	for (int i = 0; i < g->noutputs; i++)
		free(out[i]);
	free(out);
	return ok;
}

/* Squared L2 norm of the weights reading channel ch of layer L: the
 * columns of every weight layer its output reaches through non-weight
 * nodes, when that layer's columns come in one block per channel (Gemm
 * after Flatten, Conv of group 1); 1 where no such layer is found. */
static double
outgoing_norm2(ir_graph *g, const cmp_layer *L, const cmp_layer *all,
	       int nl, int64_t ch)
{
	double s = 0;
	bool found = false;
	for (int j = 0; j < nl; j++) {
		const cmp_layer *C = &all[j];
		if (C == L || C->cols % L->rows != 0 ||
		    ir_attr_i_or(C->n, "group", 1) != 1)
			continue;
		const ir_value *x = C->n->in[0];
		bool feeds = false;
		for (const ir_node *m = L->n; m && !feeds; m = m->next)
			feeds = m == C->n;
		/* a later layer whose input the first is upstream of */
		if (!feeds || !x)
			continue;
		ir_node *p = L->n;
		const ir_value *v = p->out[0];
		for (int hop = 0; hop < 16 && v != x; hop++) {
			ir_node *r = sole_reader(g, v);
			if (!r || cmp_is_weight_op(r->op) || r->nout < 1 ||
			    !r->out[0])
				break;
			v = r->out[0];
		}
		if (v != x)
			continue;
		found = true;
		int64_t q = C->cols / L->rows;
		for (int64_t r = 0; r < C->rows; r++)
			for (int64_t c = ch * q; c < (ch + 1) * q; c++) {
				double w = ir_load_f64(C->w->data, C->w->dtype,
						       cmp_at(C, r, c));
				s += w * w;
			}
	}
	return found ? s : 1;
}

/* Zeroes the round(s * rows) rows (at most rows - 1) of lowest score,
 * weights and bias entries. */
static void
zero_rows(const cmp_layer *L, double *v, double *bias, cmp_key *sc,
	  double s)
{
	int64_t k = (int64_t)llround(s * (double)L->rows);
	if (k > L->rows - 1)
		k = L->rows - 1; /* a layer keeps at least one neuron */
	qsort(sc, (size_t)L->rows, sizeof *sc, cmp_key_order);
	for (int64_t i = 0; i < k; i++) {
		for (int64_t c = 0; c < L->cols; c++)
			v[cmp_at(L, sc[i].i, c)] = 0;
		if (bias)
			bias[sc[i].i] = 0;
	}
}

/* The layer's bias constant (one value per row), or NULL. */
static ir_value *
row_bias(const cmp_layer *L)
{
	ir_node *n = L->n;
	ir_value *b = n->nin > 2 ? n->in[2] : NULL;
	if (!b || !ir_is_const(b) || !b->data ||
	    ir_shape_numel(&b->shape) != L->rows ||
	    (n->op != OP_Gemm && n->op != OP_Conv && n->op != OP_FusedConv &&
	     n->op != OP_FusedGemm))
		return NULL;
	return b;
}

/* Scores rows from c and zeroes them in v; the bias gets a new constant. */
static void
prune_structured(ir_graph *g, const cmp_layer *L, const cmp_layer *all,
		 int nl, const cmp_spec *s, chan_stats *c, double *v)
{
	cmp_key *sc = nn_xmalloc((size_t)L->rows * sizeof *sc);
	double per = c->per ? (double)c->per : 1;
	for (int64_t r = 0; r < L->rows; r++) {
		/* lowest score goes first: most zeros / least activation */
		double a = s->method == CMP_APOZ ? -c->zeros[r] / per :
			   c->abs[r] / per *
			   sqrt(outgoing_norm2(g, L, all, nl, r));
		sc[r] = (cmp_key){ a, r, 0 };
	}
	ir_value *b = row_bias(L);
	double *bv = NULL;
	if (b) {
		bv = nn_xmalloc((size_t)L->rows * sizeof *bv);
		for (int64_t r = 0; r < L->rows; r++)
			bv[r] = ir_load_f64(b->data, b->dtype, r);
	}
	zero_rows(L, v, bv, sc, s->sparsity);
	if (b)
		L->n->in[2] = pass_const_f64(g, b->dtype, &b->shape, bv);
	free(bv);
	free(sc);
}

/* Wanda on one layer: per row, the round(s * cols) weights (at most
 * cols - 1) of smallest |w| * ||x_c|| become zero; false if the
 * statistics cannot be had (the caller falls back to magnitude). A row
 * keeps a weight because an unstructured method must not kill neurons:
 * at 0.95 a 3x3 single-channel Conv (9 columns) would lose every row. */
static bool
prune_wanda(ir_graph *g, pass_env *e, const cmp_layer *L, double *v,
	    double s, bool *ok, nn_diag *d)
{
	cmp_refit R;
	/* a recurrent weight: refit has no statistics for it (warned) */
	if (ir_ops[L->n->op].weight == IR_W_GATES ||
	    !cmp_refit_init(&R, g, e, L, true, d))
		return false;
	if (!(*ok = cmp_refit_gather(&R, g, e, d))) {
		cmp_refit_fini(&R);
		return false;
	}
	int64_t k = (int64_t)llround(s * (double)L->cols), k1 = R.st.k + 1;
	if (k > L->cols - 1)
		k = L->cols - 1;
	cmp_key *sc = nn_xmalloc((size_t)(L->cols ? L->cols : 1) * sizeof *sc);
	for (int64_t r = 0; r < L->rows; r++) {
		const double *G = R.st.group[r / R.st.mg].g;
		for (int64_t c = 0; c < L->cols; c++)
			sc[c] = (cmp_key){ fabs(v[cmp_at(L, r, c)]) *
					 sqrt(G[c * k1 + c]), c, 0 };
		qsort(sc, (size_t)L->cols, sizeof *sc, cmp_key_order);
		for (int64_t i = 0; i < k && i < L->cols; i++)
			v[cmp_at(L, r, sc[i].i)] = 0;
	}
	free(sc);
	cmp_refit_fini(&R);
	return true;
}

bool
cmp_prune_data(ir_graph *g, pass_env *e, const cmp_layer *L, int nl,
	       cmp_spec *specs, double **vals, nn_diag *d)
{
	chan_stats *cs = nn_xcalloc((size_t)nl + 1, sizeof *cs);
	int *who = nn_xmalloc(((size_t)nl + 1) * sizeof *who), nc = 0;
	bool ok = true;
	for (int i = 0; i < nl && ok; i++) {
		cmp_method m = specs[i].method;
		if (m == CMP_WANDA &&
		    !prune_wanda(g, e, &L[i], vals[i], specs[i].sparsity, &ok,
				 d) && ok) {
			nn_warn(d, "prune: layer '%s': wanda has no input "
				"statistics for it; pruned by magnitude",
				cmp_layer_name(&L[i]));
			specs[i].method = CMP_MAGNITUDE;
		}
		if (m != CMP_APOZ && m != CMP_ACTIVATION)
			continue;
		/* the outputs are the model's answer, not features */
		if (cmp_is_output_layer(g, L[i].n))
			specs[i].method = CMP_DENSE;
		else if (!cmp_rows_free(&L[i])) {
			nn_warn(d, "prune: layer '%s' left dense: %s removes "
				"whole rows, and a recurrent weight's rows are "
				"gate units tied to its other weight, bias and "
				"state", cmp_layer_name(&L[i]),
				cmp_method_names[m]);
			specs[i].method = CMP_DENSE;
		}
		else if (chan_init(&cs[nc], g, &L[i], d))
			who[nc++] = i;
		else
			specs[i].method = CMP_DENSE;
	}
	ok = ok && gather_channels(g, e, cs, nc, d);
	for (int j = 0; j < nc; j++) {
		if (ok)
			prune_structured(g, &L[who[j]], L, nl, &specs[who[j]],
					 &cs[j], vals[who[j]]);
		free(cs[j].zeros);
		free(cs[j].abs);
	}
	free(cs);
	free(who);
	return ok;
}

/* The `default` method (docs/compression.md): the layers that produce the
 * model's outputs (the classifier) get half the sparsity, the others
 * more, so that the zeros are still round(s * total) of all the default
 * layers' weights; with calibration data every layer is pruned by wanda
 * (then refit), without by one global magnitude threshold over the
 * hidden layers and magnitude in the output layers. */
void
cmp_resolve_default(ir_graph *g, const cmp_layer *L, int nl, cmp_spec *specs,
		    bool data)
{
	for (int i = 0; i < nl; i++) {
		if (specs[i].method != CMP_DEFAULT)
			continue;
		double s = specs[i].sparsity, tot = 0, out = 0;
		for (int j = i; j < nl; j++)
			if (specs[j].method == CMP_DEFAULT &&
			    specs[j].sparsity == s) {
				double n = (double)(L[j].rows * L[j].cols);
				tot += n;
				out += cmp_is_output_layer(g, L[j].n) ? n : 0;
			}
		/* all output layers (a one-layer model): nothing to shift */
		double so = out < tot ? s / 2 : s;
		double sh = out < tot ? (s * tot - so * out) / (tot - out) : s;
		if (sh > 1)
			sh = 1;
		for (int j = i; j < nl; j++) {
			if (specs[j].method != CMP_DEFAULT ||
			    specs[j].sparsity != s)
				continue;
			bool o = cmp_is_output_layer(g, L[j].n);
			specs[j].sparsity = o ? so : sh;
			specs[j].method = data ? CMP_WANDA : o ? CMP_MAGNITUDE
				       : CMP_GLOBAL;
		}
	}
}
