/* LSTM, GRU and RNN: the layer's facts (ir_rnn_get), shape inference and
 * the reference kernel. The kernel runs in double: one BLAS product for
 * the input projections of the whole sequence, then per time step one for
 * the recurrence, as the generated code does (codegen/lower_rnn.c). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "elem.h"
#include "ir.h"

/* The activation functions the ONNX recurrent ops accept, with how many
 * of activation_alpha/activation_beta each consumes and their defaults
 * (those of the ONNX ops of the same name). */
static const struct {
	const char *name;
	int nparams; /* 0, 1 (alpha) or 2 (alpha and beta) */
	double alpha, beta;
} fns[] = {
	[IR_RNN_RELU] = {"Relu", 0, 0, 0},
	[IR_RNN_TANH] = {"Tanh", 0, 0, 0},
	[IR_RNN_SIGMOID] = {"Sigmoid", 0, 0, 0},
	[IR_RNN_AFFINE] = {"Affine", 2, 1.0, 0.0},
	[IR_RNN_LEAKYRELU] = {"LeakyRelu", 1, 0.01, 0},
	[IR_RNN_THRESHOLDEDRELU] = {"ThresholdedRelu", 1, 1.0, 0},
	[IR_RNN_SCALEDTANH] = {"ScaledTanh", 2, 1.0, 1.0},
	[IR_RNN_HARDSIGMOID] = {"HardSigmoid", 2, 0.2, 0.5},
	[IR_RNN_ELU] = {"Elu", 1, 1.0, 0},
	[IR_RNN_SOFTSIGN] = {"Softsign", 0, 0, 0},
	[IR_RNN_SOFTPLUS] = {"Softplus", 0, 0, 0},
};
#define NFNS ((int)(sizeof fns / sizeof fns[0]))

static const ir_value *
opt_in(const ir_node *n, int k)
{
	return k < n->nin ? n->in[k] : NULL;
}

double
ir_rnn_apply(const ir_rnn_act *a, double x)
{
	switch (a->fn) {
	case IR_RNN_RELU: return x < 0 ? 0 : x; /* NaN stays NaN */
	case IR_RNN_TANH: return tanh(x);
	case IR_RNN_SIGMOID: return 1 / (1 + exp(-x));
	case IR_RNN_AFFINE: return a->alpha * x + a->beta;
	case IR_RNN_LEAKYRELU: return x >= 0 ? x : a->alpha * x;
	case IR_RNN_THRESHOLDEDRELU: return x > a->alpha ? x : 0;
	case IR_RNN_SCALEDTANH: return a->alpha * tanh(a->beta * x);
	case IR_RNN_HARDSIGMOID:
		x = a->alpha * x + a->beta; /* NaN stays NaN */
		return x < 0 ? 0 : x > 1 ? 1 : x;
	case IR_RNN_ELU: return x >= 0 ? x : a->alpha * expm1(x);
	case IR_RNN_SOFTSIGN: return x / (1 + fabs(x));
	case IR_RNN_SOFTPLUS: return fmax(x, 0) + log1p(exp(-fabs(x)));
	}
	nn_unreachable();
}

bool
ir_rnn_backward(const ir_rnn *r, int dir)
{
	return r->reverse || dir == 1;
}

/* activations, activation_alpha and activation_beta: the parameters are
 * consumed in order by the functions that take them. */
static bool
read_acts(const ir_node *n, ir_rnn *r, nn_diag *d)
{
	static const ir_rnn_fn dflt[3][3] = {
		{IR_RNN_SIGMOID, IR_RNN_TANH, IR_RNN_TANH}, /* LSTM */
		{IR_RNN_SIGMOID, IR_RNN_TANH},              /* GRU */
		{IR_RNN_TANH},                              /* RNN */
	};
	const ir_attr *names = ir_get_attr(n, "activations");
	const ir_attr *al = ir_get_attr(n, "activation_alpha");
	const ir_attr *be = ir_get_attr(n, "activation_beta");
	int k = n->op == OP_LSTM ? 0 : n->op == OP_GRU ? 1 : 2, ia = 0, ib = 0;
	int total = r->nacts * r->dirs;

	if (names && names->n != total) {
		if (d)
			nn_error_node(d, n, "%d activations given, expected "
				      "%d", names->n, total);
		return false;
	}
	for (int i = 0; i < total; i++) {
		ir_rnn_act *a = &r->act[i / r->nacts][i % r->nacts];
		int f = dflt[k][i % r->nacts];
		if (names) {
			for (f = 0; f < NFNS; f++)
				if (strcasecmp(fns[f].name, names->strings[i]) ==
				    0)
					break;
			if (f == NFNS) {
				if (d)
					nn_error_node(d, n, "activation '%s' is "
						      "not supported",
						      names->strings[i]);
				return false;
			}
		}
		a->fn = (ir_rnn_fn)f;
		a->alpha = fns[f].alpha;
		a->beta = fns[f].beta;
		if (fns[f].nparams >= 1 && al && ia < al->n)
			a->alpha = al->floats[ia++];
		if (fns[f].nparams >= 2 && be && ib < be->n)
			a->beta = be->floats[ib++];
	}
	return true;
}

bool
ir_rnn_get(const ir_node *n, ir_rnn *r, nn_diag *d)
{
	const ir_shape *x = &n->in[IR_RNN_IN_X]->shape;
	const ir_shape *rs = &n->in[IR_RNN_IN_R]->shape;
	const char *dir = ir_attr_s(n, "direction");

	memset(r, 0, sizeof *r);
	r->gates = n->op == OP_LSTM ? 4 : n->op == OP_GRU ? 3 : 1;
	r->nacts = n->op == OP_LSTM ? 3 : n->op == OP_GRU ? 2 : 1;
	r->batch_first = ir_attr_i(n, "layout") != 0;
	if (strcmp(dir, "forward") == 0 || strcmp(dir, "reverse") == 0) {
		r->dirs = 1;
		r->reverse = dir[0] == 'r';
	} else if (strcmp(dir, "bidirectional") == 0) {
		r->dirs = 2;
	} else {
		if (d)
			nn_error_node(d, n, "direction '%s' is not forward, "
				      "reverse or bidirectional", dir);
		return false;
	}
	if (x->rank != 3 || rs->rank != 3) {
		if (d)
			nn_error_node(d, n, "X and R must be 3-D, got ranks "
				      "%d and %d", x->rank, rs->rank);
		return false;
	}
	r->t = x->dim[r->batch_first ? 1 : 0];
	r->b = x->dim[r->batch_first ? 0 : 1];
	r->i = x->dim[2];
	r->h = ir_attr_int(n, "hidden_size", rs->dim[2]); /* absent: R's */
	r->has_clip = ir_get_attr(n, "clip") != NULL;
	r->clip = ir_attr_float(n, "clip", 0);
	r->lbr = n->op == OP_GRU && ir_attr_i(n, "linear_before_reset") != 0;
	r->input_forget = n->op == OP_LSTM &&
			  ir_attr_i(n, "input_forget") != 0;
	if (r->has_clip && !(r->clip > 0)) {
		if (d)
			nn_error_node(d, n, "clip %g must be positive",
				      r->clip);
		return false;
	}
	if (ir_attr_i(n, "layout") & ~(int64_t)1) {
		if (d)
			nn_error_node(d, n, "layout must be 0 or 1");
		return false;
	}
	return read_acts(n, r, d);
}

/* Input k, if given, must have the dims want[0..rank). */
static bool
check_dims(const ir_node *n, int k, const char *what, int rank,
	   const int64_t *want, nn_diag *d)
{
	const ir_value *v = opt_in(n, k);
	ir_shape s = {rank, {0}};
	char got[64], exp[64];

	if (!v)
		return true;
	memcpy(s.dim, want, sizeof(int64_t) * (size_t)rank);
	if (ir_shape_eq(&v->shape, &s))
		return true;
	ir_shape_str(&v->shape, got, sizeof got);
	ir_shape_str(&s, exp, sizeof exp);
	nn_error_node(d, n, "%s has shape %s, expected %s", what, got, exp);
	return false;
}

static bool
check_inputs(const ir_node *n, const ir_rnn *r, nn_diag *d)
{
	int64_t dd = r->dirs, gh = r->gates * r->h;
	int64_t w[3] = {dd, gh, r->i}, rr[3] = {dd, gh, r->h};
	int64_t b[2] = {dd, 2 * gh}, lens[1] = {r->b}, p[2] = {dd, 3 * r->h};
	int64_t st[3] = {dd, r->b, r->h}, stb[3] = {r->b, dd, r->h};
	const int64_t *s = r->batch_first ? stb : st;
	ir_dtype t = n->in[0]->dtype;

	if (!ir_dtype_is_float(t)) {
		nn_error_node(d, n, "dtype %s not supported (X must be "
			      "floating point)", ir_dtype_name(t));
		return false;
	}
	for (int k = 1; k < n->nin; k++)
		if (k != IR_RNN_IN_LENS && n->in[k] && n->in[k]->dtype != t) {
			nn_error_node(d, n, "input %d has dtype %s, expected "
				      "%s like X", k,
				      ir_dtype_name(n->in[k]->dtype),
				      ir_dtype_name(t));
			return false;
		}
	if (opt_in(n, IR_RNN_IN_LENS) &&
	    !ir_dtype_is_int(n->in[IR_RNN_IN_LENS]->dtype)) {
		nn_error_node(d, n, "sequence_lens must be integers, not %s",
			      ir_dtype_name(n->in[IR_RNN_IN_LENS]->dtype));
		return false;
	}
	if (r->h < 1 || r->t < 1 || r->b < 1 || r->i < 1) {
		nn_error_node(d, n, "hidden_size, sequence length, batch and "
			      "input size must be positive, got %lld, %lld, "
			      "%lld and %lld", (long long)r->h, (long long)r->t,
			      (long long)r->b, (long long)r->i);
		return false;
	}
	return check_dims(n, IR_RNN_IN_W, "W", 3, w, d) &&
	       check_dims(n, IR_RNN_IN_R, "R", 3, rr, d) &&
	       check_dims(n, IR_RNN_IN_B, "B", 2, b, d) &&
	       check_dims(n, IR_RNN_IN_LENS, "sequence_lens", 1, lens, d) &&
	       check_dims(n, IR_RNN_IN_H0, "initial_h", 3, s, d) &&
	       check_dims(n, IR_RNN_IN_C0, "initial_c", 3, s, d) &&
	       check_dims(n, IR_RNN_IN_P, "P", 2, p, d);
}

bool
ir_shape_rnn(ir_graph *g, ir_node *n, nn_diag *d)
{
	ir_rnn r;
	ir_dtype t = n->in[0]->dtype;

	(void)g;
	if (!ir_rnn_get(n, &r, d) || !check_inputs(n, &r, d))
		return false;
	for (int k = 0; k < n->nout; k++) {
		ir_value *v = n->out[k];
		if (!v)
			continue;
		v->dtype = t;
		if (k == 0 && r.batch_first)
			v->shape = (ir_shape){4, {r.b, r.t, r.dirs, r.h}};
		else if (k == 0)
			v->shape = (ir_shape){4, {r.t, r.dirs, r.b, r.h}};
		else if (r.batch_first)
			v->shape = (ir_shape){3, {r.b, r.dirs, r.h}};
		else
			v->shape = (ir_shape){3, {r.dirs, r.b, r.h}};
	}
	return true;
}

/* One evaluation: every tensor as doubles (NULL when absent). */
typedef struct rnn_run {
	const ir_rnn *r;
	double *x, *w, *rw, *bias, *h0, *c0, *p;
	int64_t *lens;
	double *y, *yh, *yc;
	double *xw, *rec, *h, *c, *tmp; /* per direction */
} rnn_run;

static int64_t
state_at(const ir_rnn *r, int dir, int64_t b)
{
	return r->batch_first ? (b * r->dirs + dir) * r->h
			      : ((int64_t)dir * r->b + b) * r->h;
}

static double
act(const rnn_run *q, int dir, int k, double x)
{
	const ir_rnn *r = q->r;
	if (r->has_clip && k < 2)
		x = x < -r->clip ? -r->clip : x > r->clip ? r->clip : x;
	return ir_rnn_apply(&r->act[dir][k], x);
}

/* One LSTM cell row: gates i, o, f, c of xr (input projection) + rr
 * (recurrence) + biases; updates h and c in place. */
static void
lstm_row(const rnn_run *q, int dir, const double *xr, const double *rr,
	 double *h, double *c)
{
	const ir_rnn *r = q->r;
	int64_t hs = r->h;
	const double *wb = q->bias ? q->bias + dir * 8 * hs : NULL;
	const double *p = q->p ? q->p + dir * 3 * hs : NULL;

	for (int64_t j = 0; j < hs; j++) {
		double g[4];
		for (int k = 0; k < 4; k++)
			g[k] = xr[k * hs + j] + rr[k * hs + j] +
			       (wb ? wb[k * hs + j] + wb[(4 + k) * hs + j] : 0);
		double gi = act(q, dir, 0, g[0] + (p ? p[j] * c[j] : 0));
		double gf = r->input_forget ? 1 - gi :
			    act(q, dir, 0, g[2] + (p ? p[2 * hs + j] * c[j] : 0));
		double gc = act(q, dir, 1, g[3]);
		c[j] = gf * c[j] + gi * gc;
		double go = act(q, dir, 0, g[1] + (p ? p[hs + j] * c[j] : 0));
		h[j] = go * ir_rnn_apply(&r->act[dir][2], c[j]);
	}
}

static void
gru_row(const rnn_run *q, int dir, const double *xr, const double *rr,
	double *h)
{
	const ir_rnn *r = q->r;
	int64_t hs = r->h;
	const double *wb = q->bias ? q->bias + dir * 6 * hs : NULL;
	const double *rh = q->rw + (dir * 3 + 2) * hs * hs;
	double *z = q->tmp, *hr = q->tmp + hs;

	for (int64_t j = 0; j < hs; j++) {
		double gz = xr[j] + rr[j], gr = xr[hs + j] + rr[hs + j];
		if (wb) {
			gz += wb[j] + wb[3 * hs + j];
			gr += wb[hs + j] + wb[4 * hs + j];
		}
		z[j] = act(q, dir, 0, gz);
		hr[j] = act(q, dir, 0, gr); /* r, then r * h or r * (hR+b) */
	}
	for (int64_t j = 0; j < hs; j++) {
		double rb = wb ? wb[5 * hs + j] : 0;
		hr[j] = r->lbr ? hr[j] * (rr[2 * hs + j] + rb) : hr[j] * h[j];
	}
	for (int64_t j = 0; j < hs; j++) {
		double x = xr[2 * hs + j] + (wb ? wb[2 * hs + j] : 0);
		if (r->lbr) {
			x += hr[j];
		} else {
			x += wb ? wb[5 * hs + j] : 0;
			for (int64_t k = 0; k < hs; k++)
				x += hr[k] * rh[j * hs + k];
		}
		hr[hs + j] = act(q, dir, 1, x); /* the new gate, kept apart */
	}
	for (int64_t j = 0; j < hs; j++)
		h[j] = (1 - z[j]) * hr[hs + j] + z[j] * h[j];
}

static void
rnn_row(const rnn_run *q, int dir, const double *xr, const double *rr,
	double *h)
{
	int64_t hs = q->r->h;
	const double *wb = q->bias ? q->bias + dir * 2 * hs : NULL;

	for (int64_t j = 0; j < hs; j++)
		h[j] = act(q, dir, 0, xr[j] + rr[j] +
			   (wb ? wb[j] + wb[hs + j] : 0));
}

static void
run_direction(rnn_run *q, int dir)
{
	const ir_rnn *r = q->r;
	int64_t hs = r->h, gh = r->gates * hs, t = r->t, nb = r->b;
	bool back = ir_rnn_backward(r, dir);

	cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(t * nb),
		    (int)gh, (int)r->i, 1.0, q->x, (int)r->i,
		    q->w + dir * gh * r->i, (int)r->i, 0.0, q->xw, (int)gh);
	for (int64_t b = 0; b < nb; b++) {
		int64_t s0 = state_at(r, dir, b);
		for (int64_t j = 0; j < hs; j++) {
			q->h[b * hs + j] = q->h0 ? q->h0[s0 + j] : 0;
			q->c[b * hs + j] = q->c0 ? q->c0[s0 + j] : 0;
		}
	}
	for (int64_t s = 0; s < t; s++) {
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb,
			    (int)gh, (int)hs, 1.0, q->h, (int)hs,
			    q->rw + dir * gh * hs, (int)hs, 0.0, q->rec,
			    (int)gh);
		for (int64_t b = 0; b < nb; b++) {
			int64_t len = q->lens ? q->lens[b] : t;
			if (s >= len)
				continue;
			int64_t tt = back ? len - 1 - s : s;
			int64_t row = r->batch_first ? b * t + tt : tt * nb + b;
			const double *xr = q->xw + row * gh, *rr = q->rec + b * gh;
			double *h = q->h + b * hs;
			if (r->gates == 4)
				lstm_row(q, dir, xr, rr, h, q->c + b * hs);
			else if (r->gates == 3)
				gru_row(q, dir, xr, rr, h);
			else
				rnn_row(q, dir, xr, rr, h);
			if (q->y) {
				int64_t y0 = r->batch_first
					? ((b * t + tt) * r->dirs + dir) * hs
					: ((tt * r->dirs + dir) * nb + b) * hs;
				memcpy(q->y + y0, h, (size_t)hs * sizeof *h);
			}
		}
	}
	for (int64_t b = 0; b < nb; b++) {
		int64_t s0 = state_at(r, dir, b);
		for (int64_t j = 0; j < hs; j++) {
			if (q->yh)
				q->yh[s0 + j] = q->h[b * hs + j];
			if (q->yc)
				q->yc[s0 + j] = q->c[b * hs + j];
		}
	}
}

static double *
in_f64(const ir_node *n, const void *const *in, int k)
{
	return opt_in(n, k) ? elem_to_f64(n->in[k], in[k]) : NULL;
}

static double *
out_f64(const ir_node *n, int k)
{
	if (k >= n->nout || !n->out[k])
		return NULL;
	int64_t c = ir_shape_numel(&n->out[k]->shape);
	return nn_xcalloc((size_t)(c > 0 ? c : 1), sizeof(double));
}

static bool
read_lens(const ir_node *n, const void *const *in, const ir_rnn *r,
	  rnn_run *q, nn_diag *d)
{
	if (!opt_in(n, IR_RNN_IN_LENS))
		return true;
	q->lens = nn_xmalloc((size_t)r->b * sizeof *q->lens + 1);
	for (int64_t b = 0; b < r->b; b++) {
		q->lens[b] = ir_load_i64(in[IR_RNN_IN_LENS],
					 n->in[IR_RNN_IN_LENS]->dtype, b);
		if (q->lens[b] < 0 || q->lens[b] > r->t) {
			nn_error_node(d, n, "sequence_lens[%lld] = %lld is "
				      "outside [0, %lld]", (long long)b,
				      (long long)q->lens[b], (long long)r->t);
			return false;
		}
	}
	return true;
}

static void
store_out(const ir_node *n, void *const *out, int k, const double *v)
{
	if (!v)
		return;
	int64_t c = ir_shape_numel(&n->out[k]->shape);
	for (int64_t i = 0; i < c; i++)
		ir_store_f64(out[k], n->out[k]->dtype, i, v[i]);
}

bool
ir_eval_rnn(const ir_node *n, const void *const *in, void *const *out,
	    nn_diag *d)
{
	ir_rnn r;
	rnn_run q = {0};
	bool ok = ir_rnn_get(n, &r, d);

	if (ok && (ok = read_lens(n, in, &r, &q, d))) {
		int64_t gh = r.gates * r.h, rows = r.t * r.b;
		q.r = &r;
		q.x = in_f64(n, in, IR_RNN_IN_X);
		q.w = in_f64(n, in, IR_RNN_IN_W);
		q.rw = in_f64(n, in, IR_RNN_IN_R);
		q.bias = in_f64(n, in, IR_RNN_IN_B);
		q.h0 = in_f64(n, in, IR_RNN_IN_H0);
		q.c0 = in_f64(n, in, IR_RNN_IN_C0);
		q.p = in_f64(n, in, IR_RNN_IN_P);
		q.y = out_f64(n, 0), q.yh = out_f64(n, 1), q.yc = out_f64(n, 2);
		q.xw = nn_xmalloc((size_t)(rows * gh + 1) * sizeof(double));
		q.rec = nn_xmalloc((size_t)(r.b * gh + 1) * sizeof(double));
		q.h = nn_xmalloc((size_t)(r.b * r.h) * sizeof(double));
		q.c = nn_xmalloc((size_t)(r.b * r.h) * sizeof(double));
		q.tmp = nn_xmalloc((size_t)(3 * r.h) * sizeof(double));
		for (int dir = 0; dir < r.dirs; dir++)
			run_direction(&q, dir);
		store_out(n, out, 0, q.y);
		store_out(n, out, 1, q.yh);
		store_out(n, out, 2, q.yc);
	}
	double *bufs[] = {q.x, q.w, q.rw, q.bias, q.h0, q.c0, q.p, q.y, q.yh,
			  q.yc, q.xw, q.rec, q.h, q.c, q.tmp};
	for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
		free(bufs[i]);
	free(q.lens);
	return ok;
}
