/* The statistics refit solves from, for one layer: per group of a
 * (grouped) convolution, G = sum of [x 1]^T [x 1] over the layer's input
 * rows x (Gemm/MatMul rows; im2col patches of a Conv) on the compressed
 * graph, XY = sum of [x 1]^T y with y the teacher layer's outputs for the
 * same sample, and the sum of y^2 per output. Both graphs run batch by
 * batch up to the layer only; nothing but these sums is kept. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

/* Whether teacher node t can give n's outputs: the same op and output,
 * and the same weight shape unless the student's input width may differ
 * (any_width: slim took away the layer before it). */
static bool
same_layer(const ir_node *n, const ir_node *t, int slot, bool any_width)
{
	return t && t->op == n->op && t->nin > slot && t->in[slot] &&
	       (any_width || ir_shape_eq(&t->in[slot]->shape,
					 &n->in[slot]->shape)) &&
	       t->nout > 0 && t->out[0] && n->out[0] &&
	       ir_shape_eq(&t->out[0]->shape, &n->out[0]->shape);
}

/* Whether the layer changed from its teacher (pruned or shared). */
static bool
compressed(const ir_value *w, const ir_value *tw)
{
	return w->ncodes || w->nnz < tw->nnz;
}

/* Geometry of a Conv: the window and its map for one sample. */
static bool
conv_geometry(cmp_refit *L, const ir_node *n, nn_diag *d)
{
	const ir_shape *x = &n->in[0]->shape, *w = &n->in[1]->shape;
	int64_t k[IR_MAX_RANK];
	if (x->rank < 3)
		return false;
	for (int i = 2; i < w->rank; i++)
		k[i - 2] = w->dim[i];
	if (!ir_window_init(n, x, k, false, &L->win, d))
		return false;
	L->map = ir_window_map(&L->win);
	L->kn = 1;
	L->pout = 1;
	L->pin = 1;
	for (int i = 0; i < L->win.nd; i++) {
		L->kn *= L->win.k[i];
		L->pout *= L->win.out[i];
		L->pin *= L->win.in[i];
	}
	L->st.ngroups = ir_attr_i(n, "group");
	L->cin = x->dim[1] / L->st.ngroups;
	return true;
}

/* The layer's shape as rows of x against outputs y; false (with why) if
 * refit does not handle it. */
static bool
geometry(cmp_refit *L, const ir_node *n, const char **why, nn_diag *d)
{
	L->alpha = L->beta = 1;
	L->st.ngroups = 1;
	L->bias = n->nin > 2 && n->in[2] && ir_is_const(n->in[2]) &&
			  n->in[2]->data ? n->in[2] : NULL;
	if (n->nin > 2 && n->in[2] && !L->bias) {
		*why = "its bias is not a constant";
		return false;
	}
	if (L->bias && ir_shape_numel(&L->bias->shape) != L->cl.rows) {
		*why = "its bias is not one value per output";
		return false;
	}
	switch (n->op) {
	case OP_Gemm:
		if (ir_attr_i(n, "transA")) {
			*why = "Gemm with transA";
			return false;
		}
		L->alpha = ir_attr_f(n, "alpha");
		L->beta = ir_attr_f(n, "beta");
		if (L->alpha == 0 || (L->bias && L->beta == 0)) {
			*why = "alpha or beta is 0";
			return false;
		}
		break;
	case OP_MatMul:
		if (n->in[1]->shape.rank != 2) {
			*why = "a batched MatMul weight";
			return false;
		}
		break;
	case OP_Conv:
		if (!conv_geometry(L, n, d)) {
			*why = "its window";
			return false;
		}
		L->conv = true;
		break;
	default:
		*why = "its op";
		return false;
	}
	L->st.k = L->cl.cols;
	L->st.mg = L->cl.rows / L->st.ngroups;
	if (L->st.k == 0 || L->st.mg == 0) { /* nothing to solve for */
		*why = "its weight is empty";
		return false;
	}
	return true;
}

static bool
init(cmp_refit *L, ir_graph *g, const pass_env *e, const cmp_layer *cl,
     bool all, bool any_width, nn_diag *d)
{
	const char *why = NULL;
	memset(L, 0, sizeof *L);
	L->cl = *cl;
	L->n = cl->n;
	L->dense = any_width;
	L->t = pass_teacher_node(e, g, cl->n);
	if (ir_ops[L->n->op].kind == IR_KIND_RNN) {
		/* h_t = f(x_t W^T + h_(t-1) R^T + b): the node's outputs are
		 * states after the recurrence, not products of one weight,
		 * and R's inputs are earlier states that R itself changes;
		 * said once a run (pass_refit sets said_recurrent), for
		 * every such weight */
		if (!e->said_recurrent)
			nn_warn(d, "refit: layer '%s' left as it is: a "
				"recurrent weight (the layer's outputs are "
				"states after the recurrence, not its "
				"products; no least-squares refit)",
				cmp_layer_name(cl));
		return false;
	}
	if (!same_layer(L->n, L->t, cl->slot, any_width))
		return false; /* a layer the teacher lacks: nothing to match */
	if (!all && !any_width && !compressed(cl->w, L->t->in[cl->slot]))
		return false;
	if (!geometry(L, L->n, &why, d)) {
		nn_warn(d, "refit: layer '%s' left as it is: %s",
			cmp_layer_name(cl), why);
		free(L->map);
		L->map = NULL;
		return false;
	}
	int64_t k1 = L->st.k + 1, mg = L->st.mg;
	L->st.group = nn_xcalloc((size_t)L->st.ngroups, sizeof *L->st.group);
	for (int64_t i = 0; i < L->st.ngroups; i++) {
		cmp_refit_group *s = &L->st.group[i];
		s->g = nn_xcalloc((size_t)(k1 * k1), sizeof *s->g);
		s->xy = nn_xcalloc((size_t)(k1 * mg), sizeof *s->xy);
		s->yy = nn_xcalloc((size_t)mg, sizeof *s->yy);
	}
	return true;
}

bool
cmp_refit_init(cmp_refit *L, ir_graph *g, const pass_env *e,
	       const cmp_layer *cl, bool all, nn_diag *d)
{
	return init(L, g, e, cl, all, false, d);
}

bool
cmp_refit_init_any(cmp_refit *L, ir_graph *g, const pass_env *e,
		   const cmp_layer *cl, nn_diag *d)
{
	return init(L, g, e, cl, true, true, d);
}

void
cmp_refit_fini(cmp_refit *L)
{
	for (int64_t i = 0; L->st.group && i < L->st.ngroups; i++) {
		free(L->st.group[i].g);
		free(L->st.group[i].xy);
		free(L->st.group[i].yy);
	}
	free(L->st.group);
	free(L->map);
	memset(L, 0, sizeof *L);
}

/* Adds rows x [p, k] (with an implicit 1 column) and y [p, mg] to s. */
static void
accumulate(const cmp_refit_stats *st, cmp_refit_group *s, const double *x,
	   const double *y, int64_t p)
{
	int64_t k = st->k, k1 = k + 1, mg = st->mg;
	cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)p, 1,
		    x, (int)k, 1, s->g, (int)k1);
	cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)k, (int)mg,
		    (int)p, 1, x, (int)k, y, (int)mg, 1, s->xy, (int)mg);
	for (int64_t r = 0; r < p; r++) {
		const double *xr = x + r * k, *yr = y + r * mg;
		for (int64_t c = 0; c < k; c++)
			s->g[c * k1 + k] += xr[c];
		for (int64_t j = 0; j < mg; j++) {
			s->xy[k * mg + j] += yr[j];
			s->yy[j] += yr[j] * yr[j];
		}
	}
	s->g[k * k1 + k] += (double)p;
}

/* Rows of a Gemm/MatMul input [.., k] and output [.., m] (one group). */
static void
add_fc(cmp_refit *L, const float *x, const float *y, int64_t rows)
{
	int64_t k = L->st.k, mg = L->st.mg;
	for (int64_t r0 = 0; r0 < rows; r0 += 256) {
		int64_t p = rows - r0 < 256 ? rows - r0 : 256;
		double *xd = nn_xmalloc((size_t)(p * k) * sizeof *xd + 1);
		double *yd = nn_xmalloc((size_t)(p * mg) * sizeof *yd + 1);
		for (int64_t i = 0; i < p * k; i++)
			xd[i] = x[r0 * k + i];
		for (int64_t i = 0; i < p * mg; i++)
			yd[i] = y[r0 * mg + i];
		accumulate(&L->st, &L->st.group[0], xd, yd, p);
		L->st.nrows += p;
		free(xd);
		free(yd);
	}
}

/* One sample of a Conv: per group, the im2col rows [pout, cin * kn] of
 * x [C, pin] and the outputs y [M, pout] transposed to [pout, mg]. */
static void
add_conv(cmp_refit *L, const float *x, const float *y)
{
	int64_t k = L->st.k, mg = L->st.mg, np = L->pout;
	double *xd = nn_xmalloc((size_t)(np * k) * sizeof *xd + 1);
	double *yd = nn_xmalloc((size_t)(np * mg) * sizeof *yd + 1);
	for (int64_t gi = 0; gi < L->st.ngroups; gi++) {
		const float *xg = x + gi * L->cin * L->pin;
		for (int64_t c = 0; c < k; c++) {
			const float *xc = xg + (c / L->kn) * L->pin;
			const int64_t *mp = L->map + (c % L->kn) * np;
			for (int64_t p = 0; p < np; p++)
				xd[p * k + c] = mp[p] >= 0 ? xc[mp[p]] : 0.0;
		}
		const float *yg = y + gi * mg * np;
		for (int64_t j = 0; j < mg; j++)
			for (int64_t p = 0; p < np; p++)
				yd[p * mg + j] = yg[j * np + p];
		accumulate(&L->st, &L->st.group[gi], xd, yd, np);
	}
	L->st.nrows += np;
	free(xd);
	free(yd);
}

/* dsyrk filled the upper triangle of G; the solves read it whole. */
static void
symmetrize(cmp_refit_stats *st)
{
	int64_t k1 = st->k + 1;
	for (int64_t gi = 0; gi < st->ngroups; gi++) {
		double *g = st->group[gi].g;
		for (int64_t i = 0; i < k1; i++)
			for (int64_t j = 0; j < i; j++)
				g[i * k1 + j] = g[j * k1 + i];
	}
}

/* Observers: copy node `want`'s input 0 (student) or output 0 (teacher)
 * and stop the run there. */
typedef struct grab {
	const ir_node *want;
	bool output;
	float *buf;
	size_t bytes;
} grab;

static bool
grab_fn(void *ctx, const ir_node *n, const void *const *in,
	const void *const *out)
{
	grab *gb = ctx;
	if (n != gb->want)
		return true;
	memcpy(gb->buf, gb->output ? out[0] : in[0], gb->bytes);
	return false;
}

bool
cmp_refit_gather(cmp_refit *L, ir_graph *g, pass_env *e, nn_diag *d)
{
	const ir_value *xv = L->n->in[0], *yv = L->n->out[0];
	int64_t B = pass_data_batch(g), xn = ir_shape_numel(&xv->shape);
	int64_t yn = ir_shape_numel(&yv->shape);
	if (xv->dtype != IR_F32 || yv->dtype != IR_F32)
		return false;
	grab gs = {L->n, false, nn_xmalloc((size_t)xn * 4 + 4),
		   (size_t)xn * 4};
	grab gt = {L->t, true, nn_xmalloc((size_t)yn * 4 + 4), (size_t)yn * 4};
	ir_run_hook hs = {grab_fn, &gs}, ht = {grab_fn, &gt};
	bool ok = true;
	for (int64_t s0 = 0; s0 < e->calib.nsamples && ok; s0 += B) {
		nn_progress_detail("refit", "layer %s: calibration sample %lld "
				   "of %lld", cmp_layer_name(&L->cl),
				   (long long)s0 + 1,
				   (long long)e->calib.nsamples);
		ok = pass_data_run(e->teacher, &e->calib, s0, NULL, &ht, d) &&
		     pass_data_run(g, &e->calib, s0, NULL, &hs, d);
		if (!ok)
			break;
		if (!L->conv) {
			add_fc(L, gs.buf, gt.buf, xn / L->st.k);
			continue;
		}
		int64_t nb = xv->shape.dim[0];
		for (int64_t b = 0; b < nb; b++)
			add_conv(L, gs.buf + b * (xn / nb),
				 gt.buf + b * (yn / nb));
	}
	free(gs.buf);
	free(gt.buf);
	symmetrize(&L->st);
	L->st.yy_total = 0;
	for (int64_t gi = 0; gi < L->st.ngroups; gi++)
		for (int64_t j = 0; j < L->st.mg; j++)
			L->st.yy_total += L->st.group[gi].yy[j];
	if (L->st.yy_total <= 0)
		L->st.yy_total = 1;
	return ok;
}

void
cmp_refit_store(cmp_refit *L, ir_graph *g, const double *w, const double *b)
{
	ir_value *nw = cmp_replace_weight(g, L->cl.w, w);
	L->cl.w = nw;
	if (b)
		L->bias = cmp_replace_input(g, L->n, 2, b);
}
