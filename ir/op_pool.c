/* MaxPool (with its optional Indices), AveragePool, GlobalAveragePool and
 * GlobalMaxPool over N-D inputs: shape inference and reference kernels.
 * Kernels compute in double and convert back to the element type. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static bool
is_global(const ir_node *n)
{
	return n->op == OP_GlobalAveragePool || n->op == OP_GlobalMaxPool;
}

static bool
check_input(const ir_node *n, nn_diag *d)
{
	const ir_value *x = n->in[0];
	bool maxlike = n->op == OP_MaxPool || n->op == OP_GlobalMaxPool;
	if (!ir_dtype_is_float(x->dtype) &&
	    !(maxlike && ir_dtype_is_int(x->dtype))) {
		nn_error_node(d, n, "dtype %s not supported",
			      ir_dtype_name(x->dtype));
		return false;
	}
	if (x->shape.rank < 3) {
		nn_error_node(d, n, "input has rank %d, expected N x C x "
			      "spatial dims (rank >= 3)", x->shape.rank);
		return false;
	}
	return true;
}

/* Window of a MaxPool or AveragePool from its attributes. */
static bool
pool_window(const ir_node *n, ir_window *w, nn_diag *d)
{
	const ir_shape *xs = &n->in[0]->shape;
	int cnt;
	const int64_t *k = ir_attr_ints(n, "kernel_shape", &cnt);
	if (!k) {
		nn_error_node(d, n, "attribute 'kernel_shape' is required");
		return false;
	}
	if (cnt != xs->rank - 2) {
		nn_error_node(d, n, "kernel_shape has %d values but the input "
			      "has %d spatial dims", cnt, xs->rank - 2);
		return false;
	}
	return ir_window_init(n, xs, k, ir_attr_i(n, "ceil_mode") != 0,
			      w, d);
}

bool
ir_shape_pool(ir_graph *g, ir_node *n, nn_diag *d)
{
	ir_window w;
	(void)g;
	if (!check_input(n, d))
		return false;
	const ir_shape *xs = &n->in[0]->shape;
	ir_shape ys = *xs;
	/* the max or mean of nothing (or of padding only) has no value */
	for (int i = 2; i < xs->rank; i++)
		if (xs->dim[i] == 0 && xs->dim[0] * xs->dim[1] > 0) {
			nn_error_node(d, n, "spatial dim %d is empty", i);
			return false;
		}
	if (is_global(n)) {
		for (int i = 2; i < xs->rank; i++)
			ys.dim[i] = 1;
	} else {
		if (!pool_window(n, &w, d))
			return false;
		memcpy(ys.dim + 2, w.out, (size_t)w.nd * sizeof(int64_t));
	}
	int64_t so = n->op == OP_MaxPool ? ir_attr_i(n, "storage_order") : 0;
	if (n->op == OP_MaxPool && so != 0 && so != 1) {
		nn_error_node(d, n, "storage_order must be 0 or 1, got %lld",
			      (long long)so);
		return false;
	}
	n->out[0]->dtype = n->in[0]->dtype;
	n->out[0]->shape = ys;
	if (n->nout > 1 && n->out[1]) {
		n->out[1]->dtype = IR_I64;
		n->out[1]->shape = ys;
	}
	return true;
}

/* Row-major spatial index idx of dims in[] as a column-major one. */
static int64_t
col_major(int64_t idx, const int64_t *in, int nd)
{
	int64_t c[IR_MAX_RANK], r = 0;
	for (int i = nd - 1; i >= 0; i--) {
		c[i] = idx % in[i];
		idx /= in[i];
	}
	for (int i = nd - 1; i >= 0; i--)
		r = r * in[i] + c[i];
	return r;
}

typedef struct pool_ctx {
	const ir_window *w;
	const int64_t *map;
	int64_t kn, np, nin; /* kernel, output and input spatial sizes */
} pool_ctx;

/* One output position of one plane xp: max (and its input index). */
static double
max_at(const pool_ctx *pc, const double *xp, int64_t p, int64_t *arg)
{
	double best = -INFINITY;
	*arg = -1;
	for (int64_t kk = 0; kk < pc->kn; kk++) {
		int64_t i = pc->map[kk * pc->np + p];
		/* The first NaN is the maximum and stays (np.maximum). */
		if (i >= 0 && (*arg < 0 || xp[i] > best || isnan(xp[i])) &&
		    !(*arg >= 0 && isnan(best))) {
			best = xp[i];
			*arg = i;
		}
	}
	return best;
}

static double
avg_at(const pool_ctx *pc, const double *xp, int64_t p, bool incl_pad)
{
	double sum = 0;
	int64_t cnt = 0, cnt_pad = 0;
	for (int64_t kk = 0; kk < pc->kn; kk++) {
		int64_t i = pc->map[kk * pc->np + p];
		if (i >= 0) {
			sum += xp[i];
			cnt++;
		}
		cnt_pad += i != -2;
	}
	cnt = incl_pad ? cnt_pad : cnt;
	return cnt ? sum / (double)cnt : 0.0;
}

static void
window_pool(const ir_node *n, const ir_window *w, const double *x,
	    double *y, int64_t *ind)
{
	pool_ctx pc = {w, ir_window_map(w), 1, 1, 1};
	const ir_shape *xs = &n->in[0]->shape;
	bool incl = n->op == OP_AveragePool &&
		    ir_attr_i(n, "count_include_pad") != 0;
	bool cm = n->op == OP_MaxPool && ir_attr_i(n, "storage_order") == 1;
	for (int i = 0; i < w->nd; i++) {
		pc.kn *= w->k[i];
		pc.np *= w->out[i];
		pc.nin *= w->in[i];
	}
	int64_t planes = xs->dim[0] * xs->dim[1];
	for (int64_t c = 0; c < planes; c++) {
		const double *xp = x + c * pc.nin;
		for (int64_t p = 0; p < pc.np; p++) {
			int64_t arg, o = c * pc.np + p;
			if (n->op == OP_AveragePool) {
				y[o] = avg_at(&pc, xp, p, incl);
				continue;
			}
			y[o] = max_at(&pc, xp, p, &arg);
			if (ind)
				ind[o] = c * pc.nin +
					 (cm ? col_major(arg, w->in, w->nd)
					     : arg);
		}
	}
	free((void *)pc.map);
}

static void
global_pool(const ir_node *n, const double *x, double *y)
{
	const ir_shape *xs = &n->in[0]->shape;
	int64_t planes = xs->dim[0] * xs->dim[1];
	int64_t sz = ir_shape_numel(xs) / (planes ? planes : 1);
	for (int64_t c = 0; c < planes; c++) {
		const double *xp = x + c * sz;
		double acc = n->op == OP_GlobalMaxPool ? -INFINITY : 0.0;
		for (int64_t i = 0; i < sz; i++)
			if (n->op == OP_GlobalMaxPool)
				acc = xp[i] > acc || isnan(xp[i]) ? xp[i]
								   : acc;
			else
				acc += xp[i];
		y[c] = n->op == OP_GlobalMaxPool ? acc : acc / (double)sz;
	}
}

bool
ir_eval_pool(const ir_node *n, const void *const *in, void *const *out,
	     nn_diag *d)
{
	ir_window w;
	const ir_value *xv = n->in[0], *yv = n->out[0];
	if (!is_global(n) && !pool_window(n, &w, d))
		return false;
	int64_t nx = ir_shape_numel(&xv->shape), ny = ir_shape_numel(&yv->shape);
	double *x = nn_xmalloc((size_t)(nx > 0 ? nx : 1) * sizeof *x);
	double *y = nn_xmalloc((size_t)(ny > 0 ? ny : 1) * sizeof *y);
	for (int64_t i = 0; i < nx; i++)
		x[i] = ir_load_f64(in[0], xv->dtype, i);
	if (is_global(n))
		global_pool(n, x, y);
	else
		window_pool(n, &w, x, y,
			    n->nout > 1 && n->out[1] ? out[1] : NULL);
	for (int64_t i = 0; i < ny; i++)
		ir_store_f64(out[0], yv->dtype, i, y[i]);
	free(x);
	free(y);
	return true;
}
