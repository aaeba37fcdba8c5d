/* refit of shared weights: with every weight's code fixed, the layer's
 * output row r is Z_r c + b_r, where Z_r sums the input columns of each
 * code. The centroids c (all but a zero one) and the biases b are fit
 * together by least squares over all rows: the biases are eliminated
 * (b_r = (sum y_r - zbar_r . c) / N), leaving one small system in c. */
#include <stdlib.h>
#include <string.h>

#include "compress.h"

/* The code of every non-zero weight, as an unknown's index (-1: a zero
 * weight or a zero centroid, both fixed). */
static int
unknowns(const cmp_refit *L, int *uk)
{
	const ir_value *w = L->cl.w;
	int n = 0;
	for (int q = 0; q < w->ncodes; q++)
		uk[q] = w->codebook[q] != 0 ? n++ : -1;
	return n;
}

/* Adds row r of group s to a [nu, nu] and rhs [nu]. */
static void
add_row(const cmp_refit *L, const cmp_refit_group *s, int64_t gi, int64_t r,
	const int *uk, int nu, double *a, double *rhs, int *col, int *u,
	double *zbar)
{
	const ir_value *w = L->cl.w;
	int64_t k = L->st.k, k1 = k + 1, mg = L->st.mg, row = gi * mg + r;
	int n = 0;
	for (int64_t c = 0; c < k; c++) {
		int q = uk[w->codes[cmp_at(&L->cl, row, c)]];
		if (q >= 0) {
			col[n] = (int)c;
			u[n++] = q;
		}
	}
	memset(zbar, 0, (size_t)nu * sizeof *zbar);
	for (int i = 0; i < n; i++) {
		const double *gi_row = s->g + (int64_t)col[i] * k1;
		for (int j = 0; j < n; j++)
			a[u[i] * nu + u[j]] += L->alpha * L->alpha *
					       gi_row[col[j]];
		rhs[u[i]] += L->alpha * s->xy[(int64_t)col[i] * mg + r];
		zbar[u[i]] += L->alpha * gi_row[k];
	}
	if (!L->bias)
		return;
	double N = s->g[k * k1 + k], ybar = s->xy[k * mg + r];
	for (int i = 0; i < nu; i++) {
		for (int j = 0; j < nu; j++)
			a[i * nu + j] -= zbar[i] * zbar[j] / N;
		rhs[i] -= zbar[i] * ybar / N;
	}
}

/* Whether another layer of g holds the same codebook values (one
 * codebook across layers): refitting it here would split it. */
bool
cmp_book_shared(ir_graph *g, const ir_value *w)
{
	int nl;
	bool shared = false;
	cmp_layer *cl = cmp_weight_layers(g, &nl);
	for (int i = 0; i < nl && !shared; i++)
		shared = cl[i].w != w && cl[i].w->ncodes == w->ncodes &&
			 cl[i].w->codebook &&
			 !memcmp(cl[i].w->codebook, w->codebook,
				 (size_t)w->ncodes * sizeof *w->codebook);
	free(cl);
	return shared;
}

/* The squared error of every row at the current weights. */
static double
total_error(const cmp_refit *L)
{
	double e = 0, *w = nn_xmalloc((size_t)(L->st.k + 1) * sizeof *w);
	for (int64_t gi = 0; gi < L->st.ngroups; gi++)
		for (int64_t r = 0; r < L->st.mg; r++) {
			cmp_refit_get_row(L, gi, r, w);
			e += cmp_refit_row_error(&L->st, &L->st.group[gi], r,
						 w);
		}
	free(w);
	return e;
}

/* Writes codebook c (unknowns solved; others kept) and the biases that
 * go with it into the graph. */
static void
store(cmp_refit *L, ir_graph *g, const int *uk, const double *c)
{
	const ir_value *w = L->cl.w;
	int64_t numel = ir_shape_numel(&w->shape), k = L->st.k;
	int64_t k1 = k + 1, mg = L->st.mg;
	float *cb = nn_alloc_array(g->weights, (size_t)w->ncodes, sizeof *cb);
	double *v = nn_xmalloc((size_t)numel * sizeof *v + 1);
	for (int q = 0; q < w->ncodes; q++)
		cb[q] = uk[q] >= 0 && (float)(c[uk[q]] / L->alpha) != 0
			? (float)(c[uk[q]] / L->alpha) : w->codebook[q];
	for (int64_t i = 0; i < numel; i++)
		v[i] = cb[w->codes[i]];
	double *b = L->bias ? nn_xcalloc((size_t)L->cl.rows + 1, sizeof *b)
			    : NULL;
	for (int64_t gi = 0; b && gi < L->st.ngroups; gi++) {
		const cmp_refit_group *s = &L->st.group[gi];
		for (int64_t r = 0; r < mg; r++) {
			int64_t row = gi * mg + r;
			double zc = 0;
			for (int64_t col = 0; col < k; col++)
				zc += L->alpha * v[cmp_at(&L->cl, row, col)] *
				      s->g[col * k1 + k];
			b[row] = (s->xy[k * mg + r] - zc) /
				 s->g[k * k1 + k] / L->beta;
		}
	}
	int ncodes = w->ncodes;
	uint8_t *codes = w->codes;
	cmp_refit_store(L, g, v, b);
	L->cl.w->ncodes = ncodes;
	L->cl.w->codebook = cb;
	L->cl.w->codes = codes;
	free(v);
	free(b);
}

void
cmp_refit_codes(cmp_refit *L, ir_graph *g, double damp, double *err0,
		double *err1)
{
	const ir_value *w = L->cl.w;
	int uk[IR_MAX_CODES], nu = unknowns(L, uk);
	*err0 = *err1 = total_error(L);
	if (nu == 0 || !w->codes || cmp_book_shared(g, w))
		return;
	int64_t k = L->st.k;
	double *a = nn_xcalloc((size_t)(nu * nu), sizeof *a);
	double *rhs = nn_xcalloc((size_t)nu, sizeof *rhs);
	double *zbar = nn_xcalloc((size_t)nu, sizeof *zbar);
	int *col = nn_xmalloc((size_t)k * sizeof *col + 1);
	int *u = nn_xmalloc((size_t)k * sizeof *u + 1);
	for (int64_t gi = 0; gi < L->st.ngroups; gi++)
		for (int64_t r = 0; r < L->st.mg; r++)
			add_row(L, &L->st.group[gi], gi, r, uk, nu, a, rhs, col,
				u, zbar);
	if (cmp_solve_spd(a, rhs, nu, damp)) {
		store(L, g, uk, rhs);
		*err1 = total_error(L);
	}
	free(a);
	free(rhs);
	free(zbar);
	free(col);
	free(u);
}
