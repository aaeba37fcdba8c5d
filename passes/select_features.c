/* select-features: input feature selection for a model whose first weight
 * layer is fully connected (Gemm/MatMul on the input, through Flatten or
 * Reshape only): a feature is one element of the input sample, a column
 * of that layer's weight. Features constant on --calib are folded into
 * the bias; then recursive feature elimination: refit the first layer to
 * the teacher's outputs over the features left (refit's statistics and
 * solver), rank them, drop the least important, again, until K are left
 * (k=auto: the fewest whose top-1 agreement, or accuracy with labels,
 * stays within the tolerance on the evaluation set). A dropped feature is
 * a zero column: the graph keeps its input shape, and code generation
 * never reads an input element whose weight column is all zero. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

#define PROGRESS(s, ...) \
	cmp_progress((s)->d, (s)->quiet, "select-features", (s)->t0, \
		     __VA_ARGS__)

enum { KEPT, NEVER_READ, CONSTANT, ELIMINATED };

typedef struct sel {
	pass_env *e;
	nn_diag *d;
	cmp_refit L;       /* the first layer and its statistics */
	int64_t nf, m;     /* features (the layer's columns), outputs */
	bool has_bias;
	bool pruned;       /* zeros inside kept columns: solve row by row */
	double *w, *b;     /* [m, nf] effective weights, [m] effective bias */
	uint8_t *why;      /* [nf]: KEPT or why it went */
	int64_t *order;    /* eliminated features, least important first */
	int64_t nall;      /* features in order */
	int64_t norder;    /* how many of them are dropped now */
	int64_t nbase;     /* features kept before elimination */
	int64_t nkept;
	double damp, time, t0;
	bool quiet;
} sel;

/* ------------------------------------------------------------------ */
/* The first layer. */

static bool
refuse(const ir_node *n, nn_diag *d, const char *why)
{
	nn_error(d, "select-features: node '%s' (%s): %s", ir_node_label(n),
		 ir_ops[n->op].name, why);
	return false;
}

/* The first weight layer of g, which must read the only graph input
 * through views alone and be the input's only reader. */
static bool
first_layer(ir_graph *g, cmp_layer *out, nn_diag *d)
{
	int nl;
	cmp_layer *L = cmp_weight_layers(g, &nl);
	bool ok = cmp_check_layers(nl, "select-features", d);
	if (ok)
		*out = L[0];
	free(L);
	if (!ok)
		return false;
	ir_node *n = out->n;
	if (g->ninputs != 1) {
		nn_error(d, "select-features: the model has %d inputs; the "
			 "features are the elements of its one input",
			 g->ninputs);
		return false;
	}
	if ((n->op != OP_Gemm && n->op != OP_MatMul) || out->slot != 1)
		return refuse(n, d, "the first weight layer must be fully "
			      "connected (Gemm or MatMul with a constant "
			      "weight); input channels of other layers are "
			      "not selected");
	ir_compute_uses(g);
	const ir_value *v = n->in[0];
	while (v->def && ir_ops[v->def->op].kind == IR_KIND_RESHAPE &&
	       v->nuses == 1)
		v = v->def->in[0];
	int64_t B = pass_data_batch(g);
	if (v != g->inputs[0] || v->nuses != 1 || n->in[0]->shape.rank != 2 ||
	    ir_shape_numel(&v->shape) / B != out->cols ||
	    n->in[0]->shape.dim[0] != B)
		return refuse(n, d, "its input 0 is not the graph input "
			      "seen through Flatten/Reshape alone, one row "
			      "per sample, read by nothing else");
	return true;
}

/* ------------------------------------------------------------------ */
/* Statistics, the folding of constant features, the solves. */

/* Zero columns are never read; columns constant on the calibration data
 * go into the bias (exact there), if the layer has a bias or the
 * constant is 0. */
static void
mark_fixed(sel *s)
{
	const cmp_refit_stats *st = &s->L.st;
	const double *G = st->group[0].g;
	int64_t k1 = s->nf + 1;
	double rows = (double)st->nrows;
	for (int64_t j = 0; j < s->nf; j++) {
		bool zero = true, inner = false;
		for (int64_t r = 0; r < s->m; r++) {
			zero &= s->w[r * s->nf + j] == 0;
			inner |= s->w[r * s->nf + j] == 0;
		}
		double mean = G[j * k1 + s->nf] / rows;
		double var = G[j * k1 + j] / rows - mean * mean;
		if (zero) {
			s->why[j] = NEVER_READ;
		} else if (var <= 1e-9 * mean * mean + 1e-30 &&
			   (s->has_bias || mean == 0)) {
			for (int64_t r = 0; r < s->m; r++) {
				s->b[r] += s->w[r * s->nf + j] * mean;
				s->w[r * s->nf + j] = 0;
			}
			s->why[j] = CONSTANT;
		} else {
			s->pruned |= inner;
			s->nkept++;
		}
	}
}

static bool
load(sel *s, ir_graph *g, const cmp_layer *cl)
{
	if (!cmp_refit_init(&s->L, g, s->e, cl, true, s->d))
		return refuse(cl->n, s->d, "the teacher has no such layer, "
			      "or its form cannot be refit");
	if (!cmp_refit_gather(&s->L, g, s->e, s->d))
		return false;
	s->nf = s->L.st.k;
	s->m = s->L.st.mg;
	s->has_bias = s->L.bias != NULL;
	s->w = nn_xmalloc((size_t)(s->m * s->nf) * sizeof *s->w + 1);
	s->b = nn_xmalloc((size_t)s->m * sizeof *s->b + 1);
	s->why = nn_xcalloc((size_t)s->nf + 1, 1);
	s->order = nn_xmalloc((size_t)s->nf * sizeof *s->order + 1);
	double *row = nn_xmalloc((size_t)(s->nf + 1) * sizeof *row);
	for (int64_t r = 0; r < s->m; r++) {
		cmp_refit_get_row(&s->L, 0, r, row);
		memcpy(s->w + r * s->nf, row, (size_t)s->nf * sizeof *row);
		s->b[r] = row[s->nf];
	}
	free(row);
	mark_fixed(s);
	return true;
}

/* The kept features (and the bias's index nf, with a bias) into idx. */
static int
kept_index(const sel *s, int *idx)
{
	int n = 0;
	for (int64_t j = 0; j < s->nf; j++)
		if (s->why[j] == KEPT)
			idx[n++] = (int)j;
	if (s->has_bias)
		idx[n++] = (int)s->nf;
	return n;
}

/* Least squares of every output over the kept features at once (one
 * factorization); w and b get the solution. With diag, also the diagonal
 * of the inverse of the (damped) Gram matrix, per kept feature in idx
 * order. False if the solve failed (w, b unchanged). */
static bool
solve_all(sel *s, double *w, double *b, double *diag)
{
	const cmp_refit_group *gr = &s->L.st.group[0];
	int64_t k1 = s->nf + 1, m = s->m;
	int *idx = nn_xmalloc((size_t)k1 * sizeof *idx);
	int n = kept_index(s, idx), nr = (int)m + (diag ? n : 0);
	double *a = nn_xmalloc((size_t)n * n * sizeof *a + 1);
	double *x = nn_xcalloc((size_t)n * (size_t)nr + 1, sizeof *x);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++)
			a[(size_t)i * n + j] = gr->g[idx[i] * k1 + idx[j]];
		for (int64_t r = 0; r < m; r++)
			x[(size_t)r * n + i] = gr->xy[idx[i] * m + r];
		if (diag)
			x[(size_t)(m + i) * n + i] = 1;
	}
	bool ok = n > 0 && cmp_solve_spd_n(a, x, n, nr, s->damp);
	for (int64_t r = 0; ok && r < m; r++) {
		memset(w + r * s->nf, 0, (size_t)s->nf * sizeof *w);
		for (int i = 0; i < n; i++)
			if (idx[i] < s->nf)
				w[r * s->nf + idx[i]] = x[(size_t)r * n + i];
			else
				b[r] = x[(size_t)r * n + i];
	}
	for (int i = 0; ok && diag && i < n; i++)
		diag[i] = x[(size_t)(m + i) * n + i];
	free(idx);
	free(a);
	free(x);
	return ok;
}

/* A pruned first layer keeps its zeros: refit's own row solve over each
 * row's non-zeros among the kept features. */
static void
solve_rows(sel *s, double *w, double *b)
{
	int64_t nf = s->nf;
	double *row = nn_xmalloc((size_t)(nf + 1) * sizeof *row);
	for (int64_t r = 0; r < s->m; r++) {
		for (int64_t j = 0; j < nf; j++)
			row[j] = s->why[j] == KEPT ? s->w[r * nf + j] : 0;
		row[nf] = s->b[r];
		cmp_refit_solve_row(&s->L, &s->L.st.group[0], r, row, s->damp);
		memcpy(w + r * nf, row, (size_t)nf * sizeof *row);
		b[r] = row[nf];
	}
	free(row);
}

/* The first layer's weights over the kept features, refit; what the
 * constant features left if none was eliminated (exact on --calib). */
static void
final_weights(sel *s, double *w, double *b)
{
	memcpy(w, s->w, (size_t)(s->m * s->nf) * sizeof *w);
	memcpy(b, s->b, (size_t)s->m * sizeof *b);
	for (int64_t j = 0; j < s->nf; j++)
		if (s->why[j] == ELIMINATED)
			for (int64_t r = 0; r < s->m; r++)
				w[r * s->nf + j] = 0;
	if (!s->norder)
		return;
	if (s->pruned)
		solve_rows(s, w, b);
	else if (!solve_all(s, w, b, NULL))
		nn_warn(s->d, "select-features: the refit failed; the "
			"eliminated features' weights are only zeroed");
}

/* Writes w, b (effective) as node n's weight and bias in graph g. */
static void
store(const sel *s, ir_graph *g, const cmp_layer *cl, const double *w,
      const double *b)
{
	int64_t numel = ir_shape_numel(&cl->w->shape);
	double *wv = nn_xcalloc((size_t)numel + 1, sizeof *wv);
	for (int64_t r = 0; r < s->m; r++)
		for (int64_t c = 0; c < s->nf; c++)
			wv[cmp_at(cl, r, c)] = w[r * s->nf + c] / s->L.alpha;
	cmp_replace_weight(g, cl->w, wv);
	if (s->has_bias) {
		double *bv = nn_xmalloc((size_t)s->m * sizeof *bv + 1);
		for (int64_t r = 0; r < s->m; r++)
			bv[r] = b[r] / s->L.beta;
		cmp_replace_input(g, cl->n, 2, bv);
		free(bv);
	}
	free(wv);
}

/* ------------------------------------------------------------------ */
/* Recursive elimination. */

typedef struct ranked {
	double imp;
	int64_t j;
} ranked;

static int
by_importance(const void *pa, const void *pb)
{
	const ranked *a = pa, *b = pb;
	if (a->imp != b->imp)
		return a->imp < b->imp ? -1 : 1;
	return a->j < b->j ? -1 : a->j > b->j;
}

/* Importance of a kept feature j: how much the first layer's squared
 * reconstruction error (its outputs against the teacher's, over all
 * outputs) grows when j goes and the others are refit. For least squares
 * with Gram matrix G that is exactly sum_r w_rj^2 / (G^-1)_jj (the
 * optimal brain surgeon identity), so one factorization ranks every
 * feature; unlike |w_j| * std(x_j) it credits a feature whose
 * information another one also carries (the refit moves its weight
 * there) as cheap to drop. Damping makes it approximate. */
static bool
rank_kept(sel *s, ranked *rk, int *n)
{
	double *w = nn_xmalloc((size_t)(s->m * s->nf) * sizeof *w + 1);
	double *b = nn_xcalloc((size_t)s->m + 1, sizeof *b);
	double *diag = nn_xmalloc((size_t)(s->nf + 1) * sizeof *diag);
	bool ok = solve_all(s, w, b, diag);
	*n = 0;
	for (int64_t j = 0; ok && j < s->nf; j++) {
		if (s->why[j] != KEPT)
			continue;
		double sum = 0;
		for (int64_t r = 0; r < s->m; r++)
			sum += w[r * s->nf + j] * w[r * s->nf + j];
		rk[*n] = (ranked){sum / diag[*n], j};
		(*n)++;
	}
	qsort(rk, (size_t)*n, sizeof *rk, by_importance);
	free(w);
	free(b);
	free(diag);
	return ok;
}

/* Eliminates features until `target` are kept, a share `frac` of those
 * left per step (at least one); past the time limit, the rest by the
 * last ranking. */
static bool
eliminate(sel *s, int64_t target, double frac)
{
	ranked *rk = nn_xmalloc((size_t)s->nf * sizeof *rk + 1);
	bool ok = true, late = false;
	while (ok && s->nkept > target) {
		int n;
		if (!(ok = rank_kept(s, rk, &n)))
			break;
		int64_t drop = (int64_t)ceil(frac * (double)s->nkept);
		late = cmp_now() - s->t0 > s->time;
		if (drop > s->nkept - target || late)
			drop = s->nkept - target;
		for (int64_t i = 0; i < drop; i++) {
			s->why[rk[i].j] = ELIMINATED;
			s->order[s->nall++] = rk[i].j;
		}
		s->norder = s->nall;
		s->nkept -= drop;
		PROGRESS(s, "%lld features kept (least important dropped: "
			 "%lld)%s", (long long)s->nkept, (long long)rk[0].j,
			 late ? "; time limit: the rest by this ranking" : "");
	}
	free(rk);
	if (!ok)
		nn_error(s->d, "select-features: the least-squares refit of "
			 "layer '%s' failed", cmp_layer_name(&s->L.cl));
	return ok;
}

/* The first `count` features of the elimination order dropped, the
 * rest of it kept. */
static void
set_prefix(sel *s, int64_t count)
{
	for (int64_t i = 0; i < s->nall; i++)
		s->why[s->order[i]] = i < count ? ELIMINATED : KEPT;
	s->norder = count;
	s->nkept = s->nbase - count;
}

/* ------------------------------------------------------------------ */
/* k=auto: the fewest features within the tolerance. */

/* The fidelity of g with the current selection (on a copy); *within
 * says whether it is within tol (accuracy with labels, else top-1). */
static bool
measure(sel *s, ir_graph *g, double tol, bool *within, pass_fidelity *f)
{
	ir_graph *t = ir_graph_clone(g);
	int nl;
	cmp_layer *cl = cmp_weight_layers(t, &nl);
	double *w = nn_xmalloc((size_t)(s->m * s->nf) * sizeof *w + 1);
	double *b = nn_xmalloc((size_t)s->m * sizeof *b + 1);
	final_weights(s, w, b);
	store(s, t, &cl[0], w, b);
	bool ok = pass_measure_fidelity(s->e->teacher, t, pass_env_search(s->e),
					f, s->d);
	*within = f->accuracy >= 0
		? f->ref_accuracy - f->accuracy <= tol + 1e-12
		: 1 - f->top1_agree <= tol + 1e-12;
	char acc[48] = "";
	if (ok && f->accuracy >= 0)
		snprintf(acc, sizeof acc, ", accuracy %.4f", f->accuracy);
	if (ok) {
		pass_field fl[] = {PF_NUM("features", (double)s->nkept),
				   PF_NUM("top1_agreement", f->top1_agree),
				   PF_BOOL("within", *within),
				   PF_NUM("accuracy", f->accuracy)};
		pass_env_record(s->e, "select-features-trial", NULL, fl,
				f->accuracy >= 0 ? 4 : 3, "select-features: "
				"%lld features: top-1 agreement %.4f%s%s",
				(long long)s->nkept, f->top1_agree, acc,
				*within ? "" : " (beyond the tolerance)");
	}
	if (ok)
		PROGRESS(s, "%lld features: agreement %.4f%s%s",
			 (long long)s->nkept, f->top1_agree, acc,
			 *within ? "" : " (beyond the tolerance)");
	free(w);
	free(b);
	free(cl);
	ir_graph_free(t);
	return ok;
}

/* Ranks every feature by elimination down to one, then bisects on how
 * many of that order to drop (agreement falls, about monotonically, as
 * more go); past twice the time limit it stops at the best found.
 * *keep_model: false if even folding the constants breaks the
 * tolerance (then g stays as it is). */
static bool
search_auto(sel *s, ir_graph *g, double tol, bool *keep_model)
{
	pass_fidelity f;
	bool in;
	*keep_model = true;
	if (!eliminate(s, 1, 0.1))
		return false;
	set_prefix(s, 0);
	if (!measure(s, g, tol, &in, &f))
		return false;
	if (!in) {
		pass_env_record(s->e, "select-features-unchanged", NULL, NULL,
				0, "select-features: the constant features "
				"alone break the tolerance: the model is left "
				"as it is");
		*keep_model = false;
		return true;
	}
	int64_t lo = 0, hi = s->nall + 1; /* lo within; hi not (or never) */
	while (hi - lo > 1 && cmp_now() - s->t0 < 2 * s->time) {
		int64_t mid = lo + (hi - lo) / 2;
		set_prefix(s, mid);
		if (!measure(s, g, tol, &in, &f))
			return false;
		*(in ? &lo : &hi) = mid;
	}
	set_prefix(s, lo);
	return true;
}

/* ------------------------------------------------------------------ */
/* The report and the entry. */

static void
log_dropped_line(const sel *s, const char *line)
{
	pass_env_record(s->e, "select-features-dropped", NULL,
			PASS_FIELDS(PF_STR("indices", line + 1)),
			"input features dropped:%s", line);
}

/* "0-11 16 18-20 ..." in lines of about 72 characters. */
static void
log_dropped(const sel *s)
{
	char line[160];
	size_t n = 0;
	line[0] = 0;
	for (int64_t j = 0; j < s->nf; j++) {
		if (s->why[j] == KEPT)
			continue;
		int64_t e = j;
		while (e + 1 < s->nf && s->why[e + 1] != KEPT)
			e++;
		n += (size_t)(e > j ? snprintf(line + n, sizeof line - n,
					       " %lld-%lld", (long long)j,
					       (long long)e)
				    : snprintf(line + n, sizeof line - n,
					       " %lld", (long long)j));
		j = e;
		if (n > 72) {
			log_dropped_line(s, line);
			n = 0;
			line[0] = 0;
		}
	}
	if (n)
		log_dropped_line(s, line);
}

static void
report(const sel *s)
{
	int64_t c[4] = {0};
	for (int64_t j = 0; j < s->nf; j++)
		c[s->why[j]]++;
	pass_env_record(s->e, "select-features", NULL,
			PASS_FIELDS(PF_NUM("kept", (double)c[KEPT]),
				    PF_NUM("features", (double)s->nf)),
			"input features: %lld of %lld kept",
			(long long)c[KEPT], (long long)s->nf);
	pass_env_record(s->e, "select-features-why", NULL,
			PASS_FIELDS(PF_NUM("never_read", (double)c[NEVER_READ]),
				    PF_NUM("constant", (double)c[CONSTANT]),
				    PF_NUM("eliminated", (double)c[ELIMINATED])),
			"select-features: %lld never read (zero weights), "
			"%lld constant on the calibration data (folded into "
			"the bias), %lld eliminated", (long long)c[NEVER_READ],
			(long long)c[CONSTANT], (long long)c[ELIMINATED]);
	log_dropped(s);
}

/* k: a count >= 1, or "auto" (*k = 0). */
static bool
parse_k(const char *v, int64_t *k, nn_diag *d)
{
	char *end;
	if (!v) {
		nn_error(d, "select-features needs k=K (features to keep) or "
			 "k=auto (nncc --select-features=K|auto)");
		return false;
	}
	if (!strcmp(v, "auto")) {
		*k = 0;
		return true;
	}
	long long x = strtoll(v, &end, 10);
	if (end == v || *end || x < 1) {
		nn_error(d, "select-features: k must be a positive integer or "
			 "auto, got '%s'", v);
		return false;
	}
	*k = x;
	return true;
}

static bool
check_opts(const pass_opts *o, ir_graph *g, sel *s, int64_t *k, double *tol,
	   nn_diag *d)
{
	static const char *const keys[] = {"k", "tolerance", "damp", "time",
					   "quiet", NULL};
	const char *P = "select-features";
	bool ok = pass_opts_allow(o, P, keys, d);
	pass_env *e = o ? o->env : NULL;
	*tol = pass_opt_f64(o, P, "tolerance", e ? e->tolerance : -1, d, &ok);
	s->damp = pass_opt_f64(o, P, "damp", 0.001, d, &ok);
	s->time = pass_opt_f64(o, P, "time", 60, d, &ok);
	s->quiet = pass_opt_i64(o, P, "quiet", 0, d, &ok) != 0;
	if (!ok || !parse_k(pass_opt_str(o, "k", NULL), k, d))
		return false;
	if (!*k && !(*tol >= 0 && *tol <= 1)) {
		nn_error(d, "select-features{k=auto} needs a tolerance in "
			 "[0, 1] (nncc --tolerance X, or tolerance=X): the "
			 "top-1 agreement it may lose");
		return false;
	}
	if (!(s->damp >= 0) || !(s->time > 0)) {
		nn_error(d, "select-features: damp must be >= 0 and time > 0");
		return false;
	}
	return (s->e = pass_need_data(o, g, P, d)) != NULL;
}

static void
sel_free(sel *s)
{
	cmp_refit_fini(&s->L);
	free(s->w);
	free(s->b);
	free(s->why);
	free(s->order);
}

/* Needs o->env (calibration data, the teacher); leaves use lists stale. */
bool
pass_select_features(ir_graph *g, const pass_opts *o, nn_diag *d,
		     bool *changed)
{
	sel s = {0};
	int64_t k;
	double tol;
	cmp_layer cl;
	bool keep = true;
	s.d = d;
	s.t0 = cmp_now();
	if (!check_opts(o, g, &s, &k, &tol, d) ||
	    !cmp_check_data(g, "select-features", d) ||
	    !first_layer(g, &cl, d))
		return false;
	bool ok = load(&s, g, &cl);
	s.nbase = s.nkept;
	ok = ok && (k ? eliminate(&s, k, 0.05)
		      : search_auto(&s, g, tol, &keep));
	if (ok && keep) {
		double *w = nn_xmalloc((size_t)(s.m * s.nf) * sizeof *w + 1);
		double *b = nn_xmalloc((size_t)s.m * sizeof *b + 1);
		final_weights(&s, w, b);
		store(&s, g, &cl, w, b);
		free(w);
		free(b);
		report(&s);
		*changed = true;
	}
	sel_free(&s);
	return ok;
}
