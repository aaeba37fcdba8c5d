/* The `prune` pass: zeroes weights of Conv/ConvTranspose/Gemm/MatMul
 * layers by magnitude (per layer or global), at random, by whole output
 * rows (L1/L2), N:M groups or RxC blocks; with calibration data by
 * activations (apoz, activation: whole rows) or wanda (prune_data.c);
 * the `default` policy; per-layer rules from a file.
 * Exact counts and deterministic ties: see docs/compression.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

static int64_t
target(double sparsity, int64_t n)
{
	return (int64_t)llround(sparsity * (double)n);
}

static double *
load(const ir_value *w, int64_t *numel)
{
	*numel = ir_shape_numel(&w->shape);
	double *v = nn_xmalloc((size_t)(*numel ? *numel : 1) * sizeof *v);
	for (int64_t i = 0; i < *numel; i++)
		v[i] = ir_load_f64(w->data, w->dtype, i);
	return v;
}

/* Zeroes the k smallest |v| (index order among equals). */
static void
prune_magnitude(double *v, int64_t n, int64_t k)
{
	cmp_key *ks = nn_xmalloc((size_t)(n ? n : 1) * sizeof *ks);
	for (int64_t i = 0; i < n; i++)
		ks[i] = (cmp_key){ fabs(v[i]), i, 0 };
	qsort(ks, (size_t)n, sizeof *ks, cmp_key_order);
	for (int64_t i = 0; i < k && i < n; i++)
		v[ks[i].i] = 0;
	free(ks);
}

/* Zeroes non-zeros chosen by a partial Fisher-Yates shuffle of the
 * non-zero indices (ascending) until k elements are zero. */
static void
prune_random(double *v, int64_t n, int64_t k, uint64_t seed)
{
	int64_t *nz = nn_xmalloc((size_t)(n ? n : 1) * sizeof *nz), m = 0;
	cmp_rng r = { seed };
	for (int64_t i = 0; i < n; i++)
		if (v[i] != 0)
			nz[m++] = i;
	for (int64_t i = 0, z = n - m; z < k && i < m; i++, z++) {
		int64_t j = i + (int64_t)(cmp_rng_unif(&r) * (double)(m - i));
		int64_t t = nz[i];
		nz[i] = nz[j];
		nz[j] = t;
		v[nz[i]] = 0;
	}
	free(nz);
}

/* Zeroes the round(s * rows) output rows of smallest L1 or L2 norm. */
static void
prune_rows(const cmp_layer *L, double *v, double s, bool l2)
{
	cmp_key *ks = nn_xmalloc((size_t)(L->rows ? L->rows : 1) *
				 sizeof *ks);
	for (int64_t r = 0; r < L->rows; r++) {
		double a = 0;
		for (int64_t c = 0; c < L->cols; c++) {
			double x = v[cmp_at(L, r, c)];
			a += l2 ? x * x : fabs(x);
		}
		ks[r] = (cmp_key){ a, r, 0 };
	}
	qsort(ks, (size_t)L->rows, sizeof *ks, cmp_key_order);
	for (int64_t i = 0; i < target(s, L->rows); i++)
		for (int64_t c = 0; c < L->cols; c++)
			v[cmp_at(L, ks[i].i, c)] = 0;
	free(ks);
}

/* In each group of m consecutive columns of a row, keeps the n largest
 * |w| (lower column first among equals); a last, shorter group keeps at
 * most n. */
static void
prune_nm(const cmp_layer *L, double *v, int n, int m)
{
	cmp_key *ks = nn_xmalloc((size_t)m * sizeof *ks);
	for (int64_t r = 0; r < L->rows; r++)
		for (int64_t c0 = 0; c0 < L->cols; c0 += m) {
			int len = (int)(L->cols - c0 < m ? L->cols - c0 : m);
			for (int j = 0; j < len; j++) {
				int64_t at = cmp_at(L, r, c0 + j);
				/* descending |w|, then ascending column */
				ks[j] = (cmp_key){ -fabs(v[at]), at, 0 };
			}
			qsort(ks, (size_t)len, sizeof *ks, cmp_key_order);
			for (int j = n; j < len; j++)
				v[ks[j].i] = 0;
		}
	free(ks);
}

/* Zeroes the round(s * tiles) br x bc tiles (edge tiles may be smaller)
 * of the 2-D view with the smallest L1 norm. */
static void
prune_blocks(const cmp_layer *L, double *v, double s, int br, int bc)
{
	int64_t tr = (L->rows + br - 1) / br, tc = (L->cols + bc - 1) / bc;
	int64_t nt = tr * tc;
	cmp_key *ks = nn_xmalloc((size_t)(nt ? nt : 1) * sizeof *ks);
	for (int64_t t = 0; t < nt; t++) {
		int64_t r0 = t / tc * br, c0 = t % tc * bc;
		double a = 0;
		for (int64_t r = r0; r < r0 + br && r < L->rows; r++)
			for (int64_t c = c0; c < c0 + bc && c < L->cols; c++)
				a += fabs(v[cmp_at(L, r, c)]);
		ks[t] = (cmp_key){ a, t, 0 };
	}
	qsort(ks, (size_t)nt, sizeof *ks, cmp_key_order);
	for (int64_t i = 0; i < target(s, nt); i++) {
		int64_t r0 = ks[i].i / tc * br, c0 = ks[i].i % tc * bc;
		for (int64_t r = r0; r < r0 + br && r < L->rows; r++)
			for (int64_t c = c0; c < c0 + bc && c < L->cols; c++)
				v[cmp_at(L, r, c)] = 0;
	}
	free(ks);
}

void
cmp_prune_layer(const cmp_layer *L, double *v, int64_t n, const cmp_spec *s,
		int index)
{
	switch (s->method) {
	case CMP_MAGNITUDE:
		prune_magnitude(v, n, target(s->sparsity, n));
		break;
	case CMP_RANDOM:
		prune_random(v, n, target(s->sparsity, n),
			     s->seed + (uint64_t)index);
		break;
	case CMP_L1: case CMP_L2:
		prune_rows(L, v, s->sparsity, s->method == CMP_L2);
		break;
	case CMP_NM: prune_nm(L, v, s->n, s->m); break;
	case CMP_BLOCK: prune_blocks(L, v, s->sparsity, s->br, s->bc); break;
	case CMP_APOZ: case CMP_ACTIVATION: case CMP_WANDA: break; /* data */
	default: nn_unreachable();
	}
}

/* One threshold over every layer in `sel` (same sparsity): the
 * round(s * total) smallest |w| of all of them, ties by layer then
 * index. */
static void
prune_global(double **vals, const int64_t *numel, const int *sel, int nsel,
	     double s)
{
	int64_t total = 0, at = 0;
	for (int i = 0; i < nsel; i++)
		total += numel[sel[i]];
	cmp_key *ks = nn_xmalloc((size_t)(total ? total : 1) * sizeof *ks);
	for (int i = 0; i < nsel; i++)
		for (int64_t e = 0; e < numel[sel[i]]; e++)
			ks[at++] =
				(cmp_key){ fabs(vals[sel[i]][e]), e, sel[i] };
	qsort(ks, (size_t)total, sizeof *ks, cmp_key_order);
	for (int64_t i = 0; i < target(s, total); i++)
		vals[ks[i].layer][ks[i].i] = 0;
	free(ks);
}

/* The pass options as the default spec, plus the rules file. */
static bool
read_opts(const pass_opts *o, cmp_spec *s, cmp_rules **rules, nn_diag *d)
{
	static const char *const keys[] = { "sparsity", "method", "n", "m",
		"block", "seed", "rules", "verbose", "step", "steps", NULL };
	bool ok = pass_opts_allow(o, "prune", keys, d);
	const char *m = pass_opt_str(o, "method", "magnitude");
	const char *b = pass_opt_str(o, "block", "1x8");
	const char *rf = pass_opt_str(o, "rules", NULL);
	s->sparsity = pass_opt_f64(o, "prune", "sparsity", 0.5, d, &ok);
	s->n = (int)pass_opt_i64(o, "prune", "n", 2, d, &ok);
	s->m = (int)pass_opt_i64(o, "prune", "m", 4, d, &ok);
	s->seed = (uint64_t)pass_opt_i64(o, "prune", "seed", 1, d, &ok);
	if (ok && (s->method = cmp_method_lookup(m)) == CMP_NMETHODS) {
		nn_error(d, "pass 'prune': unknown method '%s' (magnitude, "
			 "global, random, l1, l2, nm, block, dense, apoz, "
			 "activation, wanda, default)", m);
		ok = false;
	}
	if (ok && !cmp_parse_block(b, &s->br, &s->bc)) {
		nn_error(d, "pass 'prune': option 'block': expected RxC like "
			 "4x4, got '%s'", b);
		ok = false;
	}
	if (!ok || !cmp_spec_check(s, "pass 'prune'", d))
		return false;
	*rules = rf ? cmp_rules_load(rf, s, d) : NULL;
	return !rf || *rules;
}

static void
note_layer(nn_diag *d, const cmp_layer *L, const cmp_spec *s,
	   const double *v, int64_t n)
{
	int64_t z = 0;
	for (int64_t i = 0; i < n; i++)
		z += v[i] == 0;
	nn_note(d, "prune: layer '%s' (%s): %s %g: %lld of %lld zero",
		cmp_layer_name(L), ir_ops[L->n->op].name,
		cmp_method_names[s->method], s->sparsity, (long long)z,
		(long long)n);
}

/* Group the global-method layers by sparsity and prune each group. */
static void
run_global(double **vals, const int64_t *numel, const cmp_spec *specs,
	   int nl)
{
	int *sel = nn_xmalloc(sizeof *sel * (size_t)(nl ? nl : 1));
	bool *done = nn_xcalloc((size_t)(nl ? nl : 1), sizeof *done);
	for (int i = 0; i < nl; i++) {
		int ns = 0;
		if (specs[i].method != CMP_GLOBAL || done[i])
			continue;
		for (int j = i; j < nl; j++)
			if (specs[j].method == CMP_GLOBAL &&
			    specs[j].sparsity == specs[i].sparsity) {
				sel[ns++] = j;
				done[j] = true;
			}
		prune_global(vals, numel, sel, ns, specs[i].sparsity);
	}
	free(sel);
	free(done);
}

/* Gradual pruning (docs/compression.md): step k of n prunes to density
 * (1 - s)^(k/n) of the final sparsity s, so that refit between steps
 * repairs a little damage at a time. The share each layer gets of a
 * global sparsity is fixed by the final global mask of the teacher's
 * weights (or, without a teacher, of the weights now): refit rescales
 * layers, and a threshold over refit weights would empty some. */
typedef struct schedule {
	int step, steps;
} schedule;

static double
step_sparsity(double s, const schedule *sc)
{
	return 1 - pow(1 - s, (double)sc->step / sc->steps);
}

/* The weights of layer L as its teacher had them, or as they are now. */
static double *
teacher_vals(ir_graph *g, const pass_env *e, const cmp_layer *L,
	     int64_t numel)
{
	ir_node *t = e ? pass_teacher_node(e, g, L->n) : NULL;
	int64_t n;
	const ir_value *tw = t && t->nin > L->slot ? t->in[L->slot] : NULL;
	if (tw && tw->data && ir_shape_numel(&tw->shape) == numel)
		return load(tw, &n);
	return load(L->w, &n);
}

/* The global groups at step k: each layer by magnitude to its scheduled
 * share of the final global mask. */
static void
run_global_steps(ir_graph *g, const pass_env *e, const cmp_layer *L,
		 double **vals, const int64_t *numel, const cmp_spec *specs,
		 int nl, const schedule *sc)
{
	double **tv = nn_xcalloc((size_t)(nl ? nl : 1), sizeof *tv);
	cmp_spec *fin = nn_xmalloc(sizeof *fin * (size_t)(nl ? nl : 1));
	for (int i = 0; i < nl; i++) {
		fin[i] = specs[i];
		if (specs[i].method == CMP_GLOBAL)
			tv[i] = teacher_vals(g, e, &L[i], numel[i]);
	}
	run_global(tv, numel, fin, nl);
	for (int i = 0; i < nl; i++) {
		if (!tv[i])
			continue;
		int64_t z = 0;
		for (int64_t k = 0; k < numel[i]; k++)
			z += tv[i][k] == 0;
		double sl = numel[i] ? (double)z / (double)numel[i] : 0;
		prune_magnitude(vals[i], numel[i],
				target(step_sparsity(sl, sc), numel[i]));
		free(tv[i]);
	}
	free(tv);
	free(fin);
}

/* There is something to prune, and every rule names some layer. */
static bool
layers_ok(const cmp_layer *L, int nl, const cmp_rules *rules, nn_diag *d)
{
	if (!cmp_check_layers(nl, "prune", d))
		return false;
	const char **names = nn_xmalloc(sizeof *names * (size_t)nl);
	for (int i = 0; i < nl; i++)
		names[i] = cmp_layer_name(&L[i]);
	bool ok = cmp_rules_check_used(rules, names, nl, d);
	free(names);
	return ok;
}

/* Whether a spec needs calibration data. */
static bool
data_method(cmp_method m)
{
	return m == CMP_APOZ || m == CMP_ACTIVATION || m == CMP_WANDA;
}

/* Resolves `default` (with data when the env has it) and checks that
 * the data methods have their data; false after reporting. */
static bool
resolve_specs(ir_graph *g, const pass_opts *o, const cmp_layer *L, int nl,
	      cmp_spec *specs, pass_env **env, nn_diag *d)
{
	bool need = false, have = o->env && o->env->calib.ninputs;
	cmp_resolve_default(g, L, nl, specs, have);
	for (int i = 0; i < nl; i++)
		need = need || data_method(specs[i].method);
	*env = NULL;
	return !need || (*env = pass_need_data(o, g, "prune", d));
}

/* The per-layer methods at this step (magnitude in steps; the others,
 * data-driven ones included, at the last step). Whole-row methods leave
 * a layer that produces the model's outputs dense: its rows are the
 * classes (a classifier cut to a few logits), not neurons; and a
 * recurrent weight, whose rows are not neurons either (cmp_rows_free). */
static void
run_layers(ir_graph *g, const cmp_layer *L, int nl, cmp_spec *specs,
	   double **vals, const int64_t *numel, const schedule *sc,
	   nn_diag *d)
{
	for (int i = 0; i < nl; i++) {
		cmp_spec si = specs[i];
		if ((si.method == CMP_L1 || si.method == CMP_L2) &&
		    !cmp_rows_free(&L[i])) {
			nn_warn(d, "prune: layer '%s' left dense: %s removes "
				"whole rows, and a recurrent weight's rows are "
				"gate units tied to its other weight, bias and "
				"state", cmp_layer_name(&L[i]),
				cmp_method_names[si.method]);
			specs[i].method = CMP_DENSE;
			continue;
		}
		if ((si.method == CMP_L1 || si.method == CMP_L2) &&
		    cmp_is_output_layer(g, L[i].n)) {
			nn_warn(d, "prune: layer '%s' left dense: %s would "
				"remove rows of the model's outputs",
				cmp_layer_name(&L[i]), cmp_method_names[si.method]);
			specs[i].method = CMP_DENSE;
			continue;
		}
		if (si.method == CMP_MAGNITUDE)
			si.sparsity = step_sparsity(si.sparsity, sc);
		else if (sc->step != sc->steps)
			continue;
		if (si.method != CMP_GLOBAL && si.method != CMP_DENSE)
			cmp_prune_layer(&L[i], vals[i], numel[i], &si, i);
	}
}

/* Writes back the layers that lost weights; frees vals[i]. */
static bool
store_layers(ir_graph *g, const cmp_layer *L, int nl, const cmp_spec *specs,
	     double **vals, const int64_t *numel, bool write, bool verbose,
	     nn_diag *d)
{
	bool changed = false;
	for (int i = 0; i < nl; i++) {
		if (verbose)
			note_layer(d, &L[i], &specs[i], vals[i], numel[i]);
		int64_t nnz = 0;
		for (int64_t e = 0; e < numel[i]; e++)
			nnz += vals[i][e] != 0;
		/* pruning only zeroes, so fewer non-zeros means a change */
		if (write && nnz < L[i].w->nnz) {
			cmp_replace_weight(g, L[i].w, vals[i]);
			changed = true;
		}
		free(vals[i]);
	}
	return changed;
}

/* The step options; false after reporting. */
static bool
read_schedule(const pass_opts *o, schedule *sc, nn_diag *d)
{
	bool ok = true;
	sc->step = (int)pass_opt_i64(o, "prune", "step", 1, d, &ok);
	sc->steps = (int)pass_opt_i64(o, "prune", "steps", 1, d, &ok);
	if (ok && !(sc->steps >= 1 && sc->step >= 1 &&
		    sc->step <= sc->steps)) {
		nn_error(d, "pass 'prune': step %d of %d: need 1 <= step <= "
			 "steps", sc->step, sc->steps);
		ok = false;
	}
	return ok;
}

/* Prunes the layers L with the default spec and the rules. */
static bool
prune_layers(ir_graph *g, const pass_opts *o, cmp_layer *L, int nl,
	     const cmp_spec *dflt, const cmp_rules *rules,
	     const schedule *sc, nn_diag *d, bool *changed)
{
	size_t m = (size_t)(nl ? nl : 1);
	cmp_spec *specs = nn_xmalloc(sizeof *specs * m);
	double **vals = nn_xcalloc(m, sizeof *vals);
	int64_t *numel = nn_xmalloc(sizeof *numel * m);
	pass_env *env;
	for (int i = 0; i < nl; i++) {
		const cmp_rule *r = cmp_rules_match(rules,
						    cmp_layer_name(&L[i]));
		specs[i] = r ? r->spec : *dflt;
		vals[i] = load(L[i].w, &numel[i]);
	}
	bool ok = resolve_specs(g, o, L, nl, specs, &env, d) &&
		  (!env || sc->step != sc->steps ||
		   cmp_prune_data(g, env, L, nl, specs, vals, d));
	if (ok)
		run_layers(g, L, nl, specs, vals, numel, sc, d);
	if (ok && sc->steps > 1)
		run_global_steps(g, o->env, L, vals, numel, specs, nl, sc);
	else if (ok)
		run_global(vals, numel, specs, nl);
	*changed |= store_layers(g, L, nl, specs, vals, numel, ok,
				 pass_opt_str(o, "verbose", NULL) != NULL, d);
	free(vals);
	free(numel);
	free(specs);
	return ok;
}

bool
pass_prune(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	cmp_spec dflt;
	cmp_rules *rules = NULL;
	schedule sc;
	int nl = 0;
	cmp_layer *L = NULL;
	bool ok = read_opts(o, &dflt, &rules, d) &&
		  cmp_check_data(g, "prune", d) && read_schedule(o, &sc, d);
	if (ok) {
		L = cmp_weight_layers(g, &nl);
		ok = layers_ok(L, nl, rules, d) &&
		     prune_layers(g, o, L, nl, &dflt, rules, &sc, d, changed);
	}
	free(L);
	cmp_rules_free(rules);
	return ok;
}
