/* refit: layer-wise reconstruction (distillation into each compressed
 * layer). In network order, every pruned or weight-shared layer is refit
 * so that, on the compressed graph's own inputs to it, it reproduces the
 * teacher layer's outputs on the teacher's inputs: per output row, damped
 * least squares over the surviving weights and the bias (pruned zeros
 * stay zero), or, for shared weights, over the centroids with the codes
 * fixed (a zero centroid stays zero). Statistics are accumulated batch by
 * batch (refit_stats.c): the Gram matrix of the layer's input rows and
 * their products with the teacher's outputs; the solves are LAPACK's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

/* LAPACK (OpenBLAS): Cholesky solve of a symmetric positive definite
 * system, column-major (the matrices here are symmetric). */
extern void dposv_(const char *uplo, const int *n, const int *nrhs,
		   double *a, const int *lda, double *b, const int *ldb,
		   int *info);

bool
cmp_solve_spd_n(double *a, double *b, int n, int nrhs, double damp)
{
	double mean = 0;
	size_t nb = (size_t)n * (size_t)nrhs;
	for (int i = 0; i < n; i++)
		mean += a[(size_t)i * n + i];
	mean = n ? mean / n : 0;
	double lam = damp * mean + 1e-10;
	double *a0 = nn_xmalloc((size_t)n * n * sizeof *a0 + 1);
	double *b0 = nn_xmalloc(nb * sizeof *b0 + 1);
	memcpy(a0, a, (size_t)n * n * sizeof *a0);
	memcpy(b0, b, nb * sizeof *b0);
	int info = 1;
	/* not positive definite in floating point: damp harder */
	for (int tries = 0; tries < 6 && info != 0; tries++, lam *= 100) {
		memcpy(a, a0, (size_t)n * n * sizeof *a);
		memcpy(b, b0, nb * sizeof *b);
		for (int i = 0; i < n; i++)
			a[(size_t)i * n + i] += lam;
		dposv_("U", &n, &nrhs, a, &n, b, &n, &info);
	}
	free(a0);
	free(b0);
	return info == 0;
}

bool
cmp_solve_spd(double *a, double *b, int n, double damp)
{
	return cmp_solve_spd_n(a, b, n, 1, damp);
}

/* ||X w - y||^2 for row r of group s, from the statistics. w has k + 1
 * entries (the bias last; 0 without one). */
double
cmp_refit_row_error(const cmp_refit_stats *st, const cmp_refit_group *s,
		    int64_t r, const double *w)
{
	int64_t k1 = st->k + 1, n = 0;
	int64_t *nz = nn_xmalloc((size_t)k1 * sizeof *nz);
	double e = s->yy[r];
	for (int64_t i = 0; i < k1; i++)
		if (w[i] != 0)
			nz[n++] = i;
	/* w^T G w - 2 w^T xy + y^T y over the non-zeros only */
	for (int64_t a = 0; a < n; a++) {
		const double *g = s->g + nz[a] * k1;
		double gw = 0;
		for (int64_t b = 0; b < n; b++)
			gw += g[nz[b]] * w[nz[b]];
		e += w[nz[a]] * (gw - 2 * s->xy[nz[a] * st->mg + r]);
	}
	free(nz);
	return e > 0 ? e : 0;
}

/* The current weights of row r (group-local row r of group gi) as k + 1
 * doubles: effective (times alpha) weights, then the effective bias. */
void
cmp_refit_get_row(const cmp_refit *L, int64_t gi, int64_t r, double *w)
{
	int64_t row = gi * L->st.mg + r;
	for (int64_t c = 0; c < L->st.k; c++)
		w[c] = L->alpha * ir_load_f64(L->cl.w->data, L->cl.w->dtype,
					      cmp_at(&L->cl, row, c));
	w[L->st.k] = L->bias ? L->beta * ir_load_f64(L->bias->data,
						     L->bias->dtype, row) : 0;
}

static void
put_row(const cmp_refit *L, int64_t gi, int64_t r, const double *w,
	double *wv, double *bv)
{
	int64_t row = gi * L->st.mg + r;
	for (int64_t c = 0; c < L->st.k; c++)
		wv[cmp_at(&L->cl, row, c)] = w[c] / L->alpha;
	if (bv)
		bv[row] = w[L->st.k] / L->beta;
}

/* One row: least squares over its non-zero weights and the bias (a row
 * with no weight left gets the bias that best stands for it: a constant
 * that dead-neurons folds into the next layer). */
void
cmp_refit_solve_row(const cmp_refit *L, const cmp_refit_group *s, int64_t r,
		    double *w, double damp)
{
	int64_t k1 = L->st.k + 1, mg = L->st.mg;
	int *idx = nn_xmalloc((size_t)k1 * sizeof *idx);
	int n = 0;
	for (int64_t c = 0; c < L->st.k; c++)
		if (w[c] != 0 || L->dense)
			idx[n++] = (int)c;
	if (L->bias)
		idx[n++] = (int)L->st.k;
	if (n == 0) {
		free(idx);
		return;
	}
	double *a = nn_xmalloc((size_t)n * n * sizeof *a);
	double *b = nn_xmalloc((size_t)n * sizeof *b);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++)
			a[(size_t)i * n + j] = s->g[idx[i] * k1 + idx[j]];
		b[i] = s->xy[idx[i] * mg + r];
	}
	if (cmp_solve_spd(a, b, n, damp))
		for (int i = 0; i < n; i++)
			w[idx[i]] = b[i];
	free(a);
	free(b);
	free(idx);
}

/* The unshared case: every row of every group on its own. */
static void
refit_rows(cmp_refit *L, ir_graph *g, double damp, double *err0, double *err1)
{
	int64_t numel = ir_shape_numel(&L->cl.w->shape), k1 = L->st.k + 1;
	double *wv = nn_xcalloc((size_t)numel + 1, sizeof *wv);
	double *bv = L->bias ? nn_xcalloc((size_t)(L->cl.rows + 1),
					  sizeof *bv) : NULL;
	double *w = nn_xmalloc((size_t)k1 * sizeof *w);
	for (int64_t i = 0; i < numel; i++)
		wv[i] = ir_load_f64(L->cl.w->data, L->cl.w->dtype, i);
	for (int64_t gi = 0; gi < L->st.ngroups; gi++) {
		const cmp_refit_group *s = &L->st.group[gi];
		for (int64_t r = 0; r < L->st.mg; r++) {
			cmp_refit_get_row(L, gi, r, w);
			*err0 += cmp_refit_row_error(&L->st, s, r, w);
			cmp_refit_solve_row(L, s, r, w, damp);
			*err1 += cmp_refit_row_error(&L->st, s, r, w);
			put_row(L, gi, r, w, wv, bv);
		}
	}
	cmp_refit_store(L, g, wv, bv);
	free(w);
	free(wv);
	free(bv);
}

bool
cmp_refit_one(ir_graph *g, pass_env *e, const cmp_layer *cl, bool all,
	      bool any_width, double damp, nn_diag *d, bool *done)
{
	cmp_refit L;
	*done = false;
	if (!(any_width ? cmp_refit_init_any(&L, g, e, cl, d)
			: cmp_refit_init(&L, g, e, cl, all, d)))
		return true;
	bool ok = cmp_refit_gather(&L, g, e, d);
	if (ok) {
		double e0 = 0, e1 = 0;
		if (L.cl.w->ncodes && !L.dense)
			cmp_refit_codes(&L, g, damp, &e0, &e1);
		else
			refit_rows(&L, g, damp, &e0, &e1);
		const char *what = L.cl.w->ncodes && !L.dense ? "centroids"
				   : "weights";
		double r0 = e0 / L.st.yy_total, r1 = e1 / L.st.yy_total;
		pass_env_record(e, "refit", cmp_layer_name(&L.cl),
				PASS_FIELDS(PF_STR("what", what),
					    PF_NUM("error_before", r0),
					    PF_NUM("error_after", r1),
					    PF_NUM("rows", (double)L.st.nrows)),
				"refit %-24s %s reconstruction error %.4g -> "
				"%.4g (relative, %lld rows)",
				cmp_layer_name(&L.cl), what, r0, r1,
				(long long)L.st.nrows);
		*done = true;
	}
	cmp_refit_fini(&L);
	return ok;
}

bool
pass_refit(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	static const char *const keys[] = {"damp", "all", NULL};
	bool ok = pass_opts_allow(o, "refit", keys, d);
	double damp = pass_opt_f64(o, "refit", "damp", 0.001, d, &ok);
	bool all = pass_opt_i64(o, "refit", "all", 0, d, &ok) != 0;
	pass_env *e;
	int nl;

	if (!ok || !(e = pass_need_data(o, g, "refit", d)))
		return false;
	if (!(damp >= 0)) {
		nn_error(d, "refit: damp must be >= 0, got %g", damp);
		return false;
	}
	cmp_layer *cl = cmp_weight_layers(g, &nl);
	bool rnn = false;
	for (int i = 0; i < nl && ok; i++) {
		bool done;
		rnn |= ir_ops[cl[i].n->op].kind == IR_KIND_RNN;
		nn_progress("refit", "layer %s (%d of %d)",
			    cmp_layer_name(&cl[i]), i + 1, nl);
		ok = cmp_refit_one(g, e, &cl[i], all, false, damp, d, &done);
		*changed |= done;
		/* the replaced weight moved: look the layers up again */
		free(cl);
		cl = cmp_weight_layers(g, &nl);
	}
	free(cl);
	/* the recurrent weights it left were warned of (cmp_refit_init);
	 * the driver's later refit steps need not repeat it */
	e->said_recurrent |= rnn;
	return ok;
}
