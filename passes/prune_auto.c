/* prune-auto: performance-based pruning. Each weight layer's sensitivity
 * (the loss of top-1 agreement with the teacher, or of accuracy with
 * labels, on the evaluation set when that layer alone is pruned by
 * magnitude and refit) is measured on a sparsity grid; a greedy search
 * then raises the sparsity of the layer that removes the most weights (or
 * bytes) per point of predicted loss, verifies every step on the whole
 * model (all chosen layers pruned, then refit) and freezes a layer whose
 * step goes over the tolerance. The graph ends with the last verified
 * choice; emit= writes it as a rules file (docs/compression.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"

#define PROGRESS(s, ...) \
	cmp_progress((s)->d, (s)->quiet, "prune-auto", (s)->t0, __VA_ARGS__)

/* The sparsity grid; level 0 is the layer as given. */
static const double grid[] = { 0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925,
	0.95, 0.97, 0.98, 0.99 };
#define NGRID ((int)(sizeof grid / sizeof grid[0]))

typedef struct alayer {
	const char *name;    /* g's */
	int64_t params, cols;
	int64_t zeros0;      /* zeros before pruning */
	double loss[NGRID];  /* the model's loss with this layer alone */
	int nlev;            /* levels with a known loss (>= 1) */
	bool frozen;         /* its next step went over the tolerance */
} alayer;

typedef struct search {
	ir_graph *g;
	pass_env *e;
	const pass_data *x;  /* where the loss is measured */
	nn_diag *d;
	double tol, damp, budget, t0, base;
	bool refit, bytes, quiet;
	int nl, ntrials;
	alayer *L;
	int *level;          /* the chosen grid level per layer */
	pass_fidelity fid;   /* of the last measurement */
} search;


static bool
over_time(const search *s)
{
	return cmp_now() - s->t0 > s->budget;
}

/* Zeros of layer A at grid level j: magnitude pruning only adds zeros. */
static int64_t
zeros_at(const alayer *A, int j)
{
	int64_t z = (int64_t)llround(grid[j] * (double)A->params);
	return z > A->zeros0 ? z : A->zeros0;
}

/* What level j of layer A saves: weights removed, or (objective=bytes)
 * f32 bytes saved, a non-zero of a sparse kernel costing its value and
 * a column index of 8 or 16 bits (codegen's choice is not visible here,
 * so this is the estimate; the smaller of dense and sparse is kept). */
static double
saving(const search *s, const alayer *A, int j)
{
	int64_t z = zeros_at(A, j), dense = 4 * A->params;
	if (!s->bytes)
		return (double)z;
	int64_t sparse = (A->params - z) * (4 + (A->cols <= 256 ? 1 : 2));
	return (double)(dense - (sparse < dense ? sparse : dense));
}

/* Refit of h's pruned layers, as pass refit after prune does; its log
 * lines are kept only when keep_log (the trials are not the report). */
static bool
run_refit(search *s, ir_graph *h, bool keep_log)
{
	char damp[32];
	snprintf(damp, sizeof damp, "%.17g", s->damp);
	pass_opt kv = { "damp", damp };
	pass_opts o = { 1, &kv, s->e };
	pass_env_mark m = pass_env_save(s->e);
	bool changed = false, ok;
	if (keep_log)
		return pass_refit(h, &o, s->d, &changed);
	ok = pass_refit(h, &o, s->d, &changed);
	pass_env_rewind(s->e, m);
	return ok;
}

/* Prunes every layer of h at its level by magnitude (cmp_prune_layer, as
 * pass prune does for the rules file emit= writes), then refits. */
static bool
apply(search *s, ir_graph *h, const int *level, bool keep_log,
      bool *changed)
{
	int nl;
	cmp_layer *cl = cmp_weight_layers(h, &nl);
	NN_ASSERT(nl == s->nl);
	for (int i = 0; i < nl; i++) {
		cmp_spec sp = { .method = CMP_MAGNITUDE,
				.sparsity = grid[level[i]] };
		int64_t n = ir_shape_numel(&cl[i].w->shape), nnz = 0;
		if (!level[i])
			continue;
		double *v = nn_xmalloc((size_t)(n ? n : 1) * sizeof *v);
		for (int64_t k = 0; k < n; k++)
			v[k] = ir_load_f64(cl[i].w->data, cl[i].w->dtype, k);
		cmp_prune_layer(&cl[i], v, n, &sp, i);
		for (int64_t k = 0; k < n; k++)
			nnz += v[k] != 0;
		if (nnz < cl[i].w->nnz) {
			cmp_replace_weight(h, cl[i].w, v);
			*changed = true;
		}
		free(v);
	}
	free(cl);
	return !s->refit || !*changed || run_refit(s, h, keep_log);
}

/* The loss of h against the teacher on the evaluation set: 1 - top-1
 * agreement, or with labels the accuracy lost. */
static bool
measure(search *s, ir_graph *h, double *loss)
{
	if (!pass_measure_fidelity(s->e->teacher, h, s->x, &s->fid, s->d))
		return false;
	*loss = s->x->labels ? s->fid.ref_accuracy - s->fid.accuracy
			     : 1 - s->fid.top1_agree;
	return true;
}

/* The loss of the model with every layer at level[] (g is left alone). */
static bool
trial(search *s, const int *level, double *loss)
{
	ir_graph *h = ir_graph_clone(s->g);
	bool changed = false;
	bool ok = apply(s, h, level, false, &changed) && measure(s, h, loss);
	ir_graph_free(h);
	s->ntrials++;
	return ok;
}

/* Layer i's loss at every grid level with the others as given, up to the
 * first level well over the tolerance (the search would not get past it
 * anyway); one progress line per layer. */
static bool
sensitivity(search *s, int i)
{
	alayer *A = &s->L[i];
	double cap = 2 * s->tol + 1.5 / (double)s->x->nsamples;
	char curve[512] = "";
	size_t k = 0;
	A->loss[0] = s->base;
	A->nlev = 1;
	for (int j = 1; j < NGRID && !over_time(s); j++) {
		double loss = s->base;
		s->level[i] = j;
		bool ok = zeros_at(A, j) == A->zeros0 ||
			  trial(s, s->level, &loss);
		s->level[i] = 0;
		if (!ok)
			return false;
		A->loss[j] = loss;
		A->nlev = j + 1;
		pass_env_record(s->e, "prune-auto-sensitivity", A->name,
				PASS_FIELDS(PF_NUM("sparsity", grid[j]),
					    PF_NUM("loss", loss),
					    PF_NUM("params", (double)A->params)),
				NULL);
		k += (size_t)snprintf(curve + k, sizeof curve - k, " %g:%.4f",
				      grid[j], loss);
		if (loss > cap)
			break;
	}
	PROGRESS(s, "layer '%s' (%lld weights) alone, sparsity:loss%s",
		 A->name, (long long)A->params, curve);
	return true;
}

/* The next step: the layer (and level *to, the next one that saves
 * more) with the most saved per loss predicted from its curve; -1 when
 * every layer is frozen or at the end of its curve. */
static int
pick(const search *s, int *to)
{
	double eps = 0.5 / (double)s->x->nsamples, best = -1, bgain = 0;
	int bi = -1;
	for (int i = 0; i < s->nl; i++) {
		const alayer *A = &s->L[i];
		int l = s->level[i], j = l + 1;
		double here = saving(s, A, l);
		while (j < A->nlev && saving(s, A, j) <= here)
			j++;
		if (A->frozen || j >= A->nlev)
			continue;
		double gain = saving(s, A, j) - here;
		double sc = gain / (fmax(A->loss[j] - A->loss[l], 0) + eps);
		if (sc > best || (sc == best && gain > bgain)) {
			best = sc;
			bgain = gain;
			bi = i;
			*to = j;
		}
	}
	return bi;
}

static double
removed_share(const search *s)
{
	int64_t z = 0, p = 0;
	for (int i = 0; i < s->nl; i++) {
		z += zeros_at(&s->L[i], s->level[i]);
		p += s->L[i].params;
	}
	return p ? (double)z / (double)p : 0;
}

/* The weights left with every layer at level[]. */
static int64_t
nnz_at(const search *s, const int *level)
{
	int64_t n = 0;
	for (int i = 0; i < s->nl; i++)
		n += s->L[i].params - zeros_at(&s->L[i], level[i]);
	return n;
}

/* Raises one layer a step at a time while the whole model, verified,
 * stays within the tolerance. */
static bool
greedy(search *s)
{
	int to;
	for (int step = 1, i; (i = pick(s, &to)) >= 0; step++) {
		int was = s->level[i];
		double loss;
		if (over_time(s)) {
			nn_warn(s->d, "prune-auto: time budget of %g s spent; "
				"the search stops at the last verified step "
				"(raise it with time=)", s->budget);
			return true;
		}
		s->level[i] = to;
		if (!trial(s, s->level, &loss))
			return false;
		int64_t tried = nnz_at(s, s->level);
		bool keep = loss <= s->tol + 1e-12;
		if (!keep) {
			s->level[i] = was;
			s->L[i].frozen = true;
		}
		pass_field fl[] = {PF_NUM("step", step),
				   PF_NUM("from", grid[was]),
				   PF_NUM("to", grid[to]),
				   PF_NUM("loss", loss),
				   PF_BOOL("kept", keep),
				   PF_NUM("removed_share", removed_share(s)),
				   PF_NUM("nnz", (double)tried),
				   PF_NUM("top1_agreement", s->fid.top1_agree),
				   PF_NUM("accuracy", s->fid.accuracy)};
		pass_env_record(s->e, "prune-auto-step", s->L[i].name, fl,
				s->fid.accuracy >= 0 ? 9 : 8, NULL);
		PROGRESS(s, "step %d: layer '%s' %g -> %g: loss %.4f, %s, "
			 "%.2f%% of the weights removed", step, s->L[i].name,
			 grid[was], grid[to], loss, keep ? "kept"
			 : "over the tolerance (back to the last)",
			 100 * removed_share(s));
	}
	return true;
}

/* Writes one rules line per layer: its name as an fnmatch pattern that
 * matches only itself (glob characters escaped; whitespace, which the
 * rules syntax cannot hold, as '?'), then `dense` or the sparsity. */
static void
rules_line(FILE *f, const char *name, int level)
{
	for (const char *p = name; *p; p++) {
		if (strchr("*?[]\\#", *p))
			fputc('\\', f);
		fputc(strchr(" \t\r\n\v\f", *p) ? '?' : *p, f);
	}
	if (level)
		fprintf(f, " %g magnitude\n", grid[level]);
	else
		fprintf(f, " dense\n");
}

static bool
emit_rules(const search *s, const char *path)
{
	nn_outfile o;
	FILE *f = nn_out_open(&o, path, s->d);
	if (!f)
		return false;
	fprintf(f, "# prune-auto{tolerance=%g}: %.2f%% of the weights removed; "
		"nncc --prune-rules FILE repeats this build\n", s->tol,
		100 * removed_share(s));
	for (int i = 0; i < s->nl; i++)
		rules_line(f, s->L[i].name, s->level[i]);
	return nn_out_close(&o, true, s->d);
}

/* The options; the tolerance defaults to the environment's (--tolerance)
 * and must be given one way or the other. */
static bool
read_opts(search *s, const pass_opts *o, const char **emit, nn_diag *d)
{
	static const char *const keys[] = { "tolerance", "time", "emit",
		"objective", "refit", "damp", "quiet", NULL };
	bool ok = pass_opts_allow(o, "prune-auto", keys, d);
	const char *obj = pass_opt_str(o, "objective", "weights");
	pass_env *e = o ? o->env : NULL;
	s->tol = pass_opt_f64(o, "prune-auto", "tolerance",
			      e ? e->tolerance : -1, d, &ok);
	s->budget = pass_opt_f64(o, "prune-auto", "time", 120, d, &ok);
	s->damp = pass_opt_f64(o, "prune-auto", "damp", 0.001, d, &ok);
	s->refit = pass_opt_i64(o, "prune-auto", "refit",
				e ? e->refit : 1, d, &ok) != 0;
	s->quiet = pass_opt_i64(o, "prune-auto", "quiet", 0, d, &ok) != 0;
	*emit = pass_opt_str(o, "emit", NULL);
	if (!ok)
		return false;
	if (strcmp(obj, "weights") && strcmp(obj, "bytes")) {
		nn_error(d, "pass 'prune-auto': option 'objective': expected "
			 "weights or bytes, got '%s'", obj);
		return false;
	}
	s->bytes = !strcmp(obj, "bytes");
	if (s->tol < 0 && (!e || e->tolerance < 0)) {
		nn_error(d, "prune-auto needs a tolerance: prune-auto{tolerance="
			 "X} (nncc --prune=auto --tolerance X), the top-1 "
			 "agreement (with labels, the accuracy) it may lose");
		return false;
	}
	if (!(s->tol >= 0 && s->tol <= 1) || !(s->budget > 0) ||
	    !(s->damp >= 0)) {
		nn_error(d, "pass 'prune-auto': need tolerance in [0, 1], time "
			 "> 0 and damp >= 0 (got %g, %g, %g)", s->tol,
			 s->budget, s->damp);
		return false;
	}
	return true;
}

/* The search's state for g; false after an error. */
static bool
setup(search *s, ir_graph *g, const pass_opts *o, const char **emit,
      nn_diag *d)
{
	memset(s, 0, sizeof *s);
	s->g = g;
	s->d = d;
	s->t0 = cmp_now();
	if (!read_opts(s, o, emit, d) || !cmp_check_data(g, "prune-auto", d) ||
	    !(s->e = pass_need_data(o, g, "prune-auto", d)))
		return false;
	s->x = pass_env_search(s->e);
	cmp_layer *cl = cmp_weight_layers(g, &s->nl);
	if (!cmp_check_layers(s->nl, "prune-auto", d)) {
		free(cl);
		return false;
	}
	s->L = nn_xcalloc((size_t)s->nl, sizeof *s->L);
	s->level = nn_xcalloc((size_t)s->nl, sizeof *s->level);
	for (int i = 0; i < s->nl; i++) {
		alayer *A = &s->L[i];
		A->name = cmp_layer_name(&cl[i]);
		A->params = ir_shape_numel(&cl[i].w->shape);
		A->cols = cl[i].cols;
		A->zeros0 = A->params - cl[i].w->nnz;
	}
	free(cl);
	return true;
}

/* The model as given is the search's start: it must be within the
 * tolerance itself (an earlier lossy pass may have spent it). */
static bool
start(search *s)
{
	if (!trial(s, s->level, &s->base))
		return false;
	if (s->base > s->tol + 1e-12) {
		nn_error(s->d, "prune-auto: the model as given already loses "
			 "%.4f against the uncompressed one, over the tolerance "
			 "%g", s->base, s->tol);
		return false;
	}
	PROGRESS(s, "%d weight layers; loss measured on %lld samples of %s "
		 "(%s), tolerance %g", s->nl, (long long)s->x->nsamples,
		 s->x->what, s->x->labels ? "accuracy lost" :
		 "1 - top-1 agreement", s->tol);
	return true;
}

/* Applies the choice to g itself, checks it once more and says what it
 * cost (progress and --report). */
static bool
finish(search *s, bool *changed)
{
	double loss;
	int64_t z = 0, p = 0;
	if (!apply(s, s->g, s->level, true, changed) ||
	    !measure(s, s->g, &loss))
		return false;
	for (int i = 0; i < s->nl; i++) {
		z += zeros_at(&s->L[i], s->level[i]);
		p += s->L[i].params;
		pass_env_record(s->e, "prune-auto-layer", s->L[i].name,
				PASS_FIELDS(PF_NUM("sparsity",
						   grid[s->level[i]]),
					    PF_NUM("params", s->L[i].params)),
				"prune-auto %-24s sparsity %g", s->L[i].name,
				grid[s->level[i]]);
	}
	double share = p ? (double)z / (double)p : 0.0, sec = cmp_now() - s->t0;
	const char *what = s->x->labels ? "accuracy lost"
			   : "1 - top-1 agreement";
	pass_env_record(s->e, "prune-auto", NULL,
			PASS_FIELDS(PF_NUM("removed", (double)z),
				    PF_NUM("params", (double)p),
				    PF_NUM("removed_share", share),
				    PF_NUM("seconds", sec),
				    PF_NUM("trials", s->ntrials),
				    PF_NUM("loss", loss),
				    PF_STR("loss_is", what),
				    PF_NUM("tolerance", s->tol),
				    PF_STR("on", s->x->what)),
			"prune-auto: %lld of %lld weights removed (%.2f%%) in "
			"%.1f s, %d trials; loss %.4f (%s) within tolerance %g",
			(long long)z, (long long)p, 100 * share, sec,
			s->ntrials, loss, what, s->tol);
	PROGRESS(s, "chosen: %.2f%% of the weights removed, loss %.4f, %d "
		 "trials", 100 * removed_share(s), loss, s->ntrials);
	/* the same steps as the last verified trial: a miss is a bug */
	NN_ASSERT(loss <= s->tol + 1e-12);
	return true;
}

bool
pass_prune_auto(ir_graph *g, const pass_opts *o, nn_diag *d, bool *changed)
{
	search s;
	const char *emit = NULL;
	bool ok = setup(&s, g, o, &emit, d) && start(&s);
	int i;
	for (i = 0; ok && i < s.nl && !over_time(&s); i++)
		ok = sensitivity(&s, i);
	if (ok && i < s.nl)
		nn_warn(d, "prune-auto: time budget of %g s spent after "
			"measuring %d of %d layers; the rest stay as they are "
			"(raise it with time=)", s.budget, i, s.nl);
	ok = ok && greedy(&s) && finish(&s, changed) &&
	     (!emit || emit_rules(&s, emit));
	free(s.L);
	free(s.level);
	return ok;
}
