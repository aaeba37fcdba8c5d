/* The compression side of the nncc driver: the lossy flags, the
 * calibration and evaluation data, the pipeline they make, and what
 * compression cost (--report, --tolerance). docs/compression.md has the
 * user's view. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nncc.h"

/* The value of option NAME at argv[*i] (cli_value), inside a parser with
 * argc, argv, i and a bool bad in scope. */
#define VALUE(name) cli_value(TOOL, argc, argv, i, name, &bad)

/* --prune=S[:METHOD] -> "prune{sparsity=S,method=...}" in a->prune_spec;
 * no METHOD means the default policy (docs/compression.md). */
static bool
parse_prune(args *a, const char *v)
{
	/* the default: one magnitude threshold across layers (measured best
	 * with and without data, docs/compression.md) */
	const char *colon = strchr(v, ':'), *m = colon ? colon + 1 : "global";
	char *end, extra[64] = "";
	double s = strtod(v, &end);
	int x, y, k;

	if (!strcmp(v, "auto")) {
		/* the spec needs --tolerance, which may come later:
		 * nncc_check_compression writes it */
		a->prune_auto = true;
		a->prune = v;
		return true;
	}
	if (end == v || (*end && end != colon) || !(s >= 0 && s <= 1)) {
		fprintf(stderr, TOOL ": error: --prune: bad sparsity '%.*s' "
			"(expected a number in [0, 1])\n",
			(int)(colon ? colon - v : (long)strlen(v)), v);
		return false;
	}
	if (!strcmp(m, "magnitude") || !strcmp(m, "global") ||
	    !strcmp(m, "random") || !strcmp(m, "l1") || !strcmp(m, "l2") ||
	    !strcmp(m, "dense") || !strcmp(m, "apoz") ||
	    !strcmp(m, "activation") || !strcmp(m, "wanda") ||
	    !strcmp(m, "default")) {
		snprintf(extra, sizeof extra, "%s", m);
	} else if (sscanf(m, "nm%d:%d%n", &x, &y, &k) == 2 && !m[k] &&
		   x >= 1 && y >= x) {
		snprintf(extra, sizeof extra, "nm,n=%d,m=%d", x, y);
	} else if (!strcmp(m, "block") ||
		   (sscanf(m, "block%dx%d%n", &x, &y, &k) == 2 && !m[k] &&
		    x >= 1 && y >= 1)) {
		if (strcmp(m, "block"))
			snprintf(extra, sizeof extra, "block,block=%dx%d", x, y);
		else
			snprintf(extra, sizeof extra, "block");
	} else {
		fprintf(stderr, TOOL ": error: --prune: unknown method '%s' "
			"(expected default, magnitude, global, random, l1, l2, "
			"nmN:M, blockRxC, dense, apoz, activation or wanda)\n",
			m);
		return false;
	}
	snprintf(a->prune_spec, sizeof a->prune_spec,
		 "prune{sparsity=%.17g,method=%s}", s, extra);
	a->prune = v;
	return true;
}

/* K[:layer|global]: one codebook per layer (default) or one for all. */
static bool
parse_share(args *a, const char *v)
{
	char *end;
	long k = strtol(v, &end, 10);

	if (end == v || (*end && *end != ':') || k < 2 || k > IR_MAX_CODES) {
		fprintf(stderr, TOOL ": error: --share: K must be an integer "
			"in 2..%d, got '%s'\n", IR_MAX_CODES, v);
		return false;
	}
	if (*end && strcmp(end, ":layer") && strcmp(end, ":global")) {
		fprintf(stderr, TOOL ": error: --share: unknown scope '%s' "
			"(expected layer or global)\n", end + 1);
		return false;
	}
	a->share = (int)k;
	a->share_global = !strcmp(end, ":global");
	return true;
}

/* --distill[=T]: the temperature, 4 by default. */
static bool
parse_distill(args *a, const char *s)
{
	char *end;

	if (!strcmp(s, "--distill")) {
		a->distill = 4;
		return true;
	}
	a->distill = strtod(s + 10, &end);
	if (end == s + 10 || *end || !(a->distill > 0 && a->distill <= 100)) {
		nncc_err("--distill: bad temperature '%s' (expected a number in "
			 "(0, 100])", s + 10);
		return false;
	}
	return true;
}

static bool
parse_tolerance(args *a, const char *v)
{
	char *end;
	double t = strtod(v, &end);

	if (end == v || *end || !(t >= 0 && t <= 1)) {
		nncc_err("--tolerance: bad value '%s' (expected a number in [0, 1])",
		    v);
		return false;
	}
	a->tolerance = t;
	return true;
}

/* --select-features=K|auto: K a positive count. */
static bool
parse_select(args *a, const char *v)
{
	char *end;
	long long k = strtoll(v, &end, 10);

	if (strcmp(v, "auto") && (end == v || *end || k < 1)) {
		nncc_err("--select-features: expected a positive number of "
			 "features or auto, got '%s'", v);
		return false;
	}
	a->select = v;
	return true;
}

int
nncc_parse_compression(args *a, int argc, char **argv, int *i)
{
	bool bad = false;
	const char *v;

	if ((v = VALUE("--prune-rules")))
		a->prune_rules = v;
	else if (!bad && (v = VALUE("--emit-rules")))
		a->emit_rules = v;
	else if (!bad && (v = VALUE("--prune")))
		return parse_prune(a, v) ? 1 : -1;
	else if (!bad && (v = VALUE("--share")))
		return parse_share(a, v) ? 1 : -1;
	else if (!bad && (v = VALUE("--calib")))
		return cli_add_file(TOOL, a->calib, &a->ncalib, NNCC_MAX_DATA,
				    "--calib", v);
	else if (!bad && (v = VALUE("--eval")))
		return cli_add_file(TOOL, a->eval, &a->neval, NNCC_MAX_DATA,
				    "--eval", v);
	else if (!bad && (v = VALUE("--labels")))
		a->labels = v;
	else if (!bad && (v = VALUE("--tolerance")))
		return parse_tolerance(a, v) ? 1 : -1;
	else if (!bad && (v = VALUE("--sparse-kernel"))) {
		static const char *const k[] = {"auto", "dense", "unrolled",
						"table", NULL};
		for (a->kernel = 0; k[a->kernel] && strcmp(k[a->kernel], v);)
			a->kernel++;
		if (!k[a->kernel]) {
			nncc_err("--sparse-kernel: unknown kernel '%s' (expected "
			    "auto, dense, unrolled or table)", v);
			return -1;
		}
	} else if (!bad && (v = VALUE("--emit-onnx")))
		a->emit_onnx = v;
	else if (!bad && !strcmp(argv[*i], "--no-refit"))
		return a->no_refit = true;
	else if (!bad && (v = VALUE("--select-features")))
		return parse_select(a, v) ? 1 : -1;
	else if (!bad && !strcmp(argv[*i], "--slim"))
		return a->slim = true;
	else if (!bad && (v = VALUE("--prune-steps"))) {
		char *end;
		long st = strtol(v, &end, 10);
		if (end == v || *end || st < 1 || st > 20) {
			nncc_err("--prune-steps: expected an integer in 1..20, "
				 "got '%s'", v);
			return -1;
		}
		a->prune_steps = (int)st;
		return 1;
	}
	else if (!bad && !strncmp(argv[*i], "--distill", 9) &&
		 (!argv[*i][9] || argv[*i][9] == '='))
		return parse_distill(a, argv[*i]) ? 1 : -1;
	return bad ? -1 : v ? 1 : 0;
}

/* --prune=auto: the pass prune-auto, under --tolerance, with --calib;
 * its rules file with --emit-rules. */
static int
check_prune_auto(args *a)
{
	if (a->emit_rules && !a->prune_auto)
		return nncc_err("--emit-rules needs --prune=auto (it writes the "
				"per-layer sparsities the search chose)%s", "");
	if (a->prune_rules)
		return nncc_err("--prune=auto chooses the per-layer sparsities "
				"itself: drop --prune-rules%s", "");
	if (!a->ncalib)
		return nncc_err("--prune=auto needs --calib (the inputs each "
				"pruned layer is refit and measured on)%s", "");
	if (a->tolerance < 0)
		return nncc_err("--prune=auto needs --tolerance X (the top-1 "
				"agreement, or with --labels the accuracy, it "
				"may lose)%s", "");
	snprintf(a->prune_spec, sizeof a->prune_spec,
		 "prune-auto{tolerance=%.17g,objective=%s}", a->tolerance,
		 a->size ? "bytes" : "weights");
	return 0;
}

int
nncc_check_compression(args *a)
{
	/* rules alone: unmatched layers stay as they are (sparsity 0), and
	 * a rule giving only a sparsity means magnitude, not dense */
	if (a->prune_rules && !a->prune)
		snprintf(a->prune_spec, sizeof a->prune_spec,
			 "prune{sparsity=0,method=magnitude}");
	if (a->prune_auto || a->emit_rules) {
		int r = check_prune_auto(a);
		if (r)
			return r;
	}
	if (a->labels && !a->ncalib && !a->neval)
		return nncc_err("--labels needs --calib or --eval (the inputs "
				"they label)%s", "");
	if (a->distill && !a->ncalib)
		return nncc_err("--distill needs --calib (the inputs the "
				"teacher's outputs are taken on)%s", "");
	if (a->slim && (!a->ncalib || a->tolerance < 0))
		return nncc_err("--slim needs --calib and --tolerance X (the "
				"top-1 agreement it may lose)%s", "");
	if (a->select && !a->ncalib)
		return nncc_err("--select-features needs --calib (the inputs "
				"features are ranked and the first layer refit "
				"on)%s", "");
	if (a->select && !strcmp(a->select, "auto") && a->tolerance < 0)
		return nncc_err("--select-features=auto needs --tolerance X (the "
				"top-1 agreement, or with --labels the accuracy, "
				"it may lose)%s", "");
	if (a->no_refit && !a->ncalib)
		return nncc_err("--no-refit needs --calib (refit only runs "
				"with calibration data)%s", "");
	return 0;
}

/* Gradual pruning with refit between steps wins back most at high
 * sparsity (docs/compression.md) but costs a refit per step: the default
 * is 4 steps for models of up to 2M weights, where a refit takes
 * seconds, and 1 above (ResNet-18: minutes per refit) or with a rules
 * file. */
#define NNCC_STEPS_MAX_WEIGHTS 2000000

void
nncc_choose_prune_steps(args *a, nn_diag *d)
{
	fe_options fo = {.shapes = a->shapes, .nshapes = a->nshapes,
			 .values = a->values, .nvalues = a->nvalues};
	ir_graph *g;
	int n;
	int64_t w = 0;

	/* a rules file (from --emit-rules, say) is one step, as prune-auto
	 * measured it */
	if (a->prune_steps || !a->prune_spec[0] || !a->ncalib || a->no_refit ||
	    a->prune_auto || a->prune_rules)
		return;
	a->prune_steps = 1;
	/* quiet: the real load says what there is to say about the model */
	nn_diag q = *d;
	q.out = fopen("/dev/null", "w");
	g = q.out ? fe_load_model(a->model, &fo, &q) : NULL;
	if (q.out)
		fclose(q.out);
	if (!g)
		return;
	pass_layer_stat *st = pass_layer_stats(g, &n);
	for (int i = 0; i < n; i++)
		w += st[i].params;
	free(st);
	ir_graph_free(g);
	a->prune_steps = w <= NNCC_STEPS_MAX_WEIGHTS ? 4 : 1;
}

bool
nncc_lossy(const args *a)
{
	return a->prune_spec[0] || a->share || a->distill || a->slim ||
	       a->select;
}

/* The whole pipeline when compressing. Pruning sees the model's weights as
 * given, after only the exact folds that make them constants (const-fold,
 * eliminate-layers) and before the structural passes: --prune=S then means
 * S of the model's own weights, rather than of what dead-neurons left (it
 * would shrink the denominators and prune real weights the user's zeros
 * already paid for). Every pass that changes weights runs there, on the
 * graph the teacher was copied from, so that refit and distill find each
 * layer's teacher node by position: prune, refit, select-features (its
 * refit keeps the pruned zeros; before sharing, whose codebook a refit
 * of every weight would break), share-weights, refit (of the
 * centroids), distill. The rest of the -O pipeline follows (at
 * least dead-neurons and dce, so structurally pruned rows physically go;
 * dead-neurons keeps codebooks, and with outgoing=1 also removes the
 * channels whose outgoing weights compression zeroed). */
void
nncc_lossy_spec(const args *a, const char *ospec, char *buf, size_t n)
{
	static const char head[] = "const-fold,eliminate-layers,";
	bool refit = a->ncalib && !a->no_refit;
	size_t k = (size_t)snprintf(buf, n, "%s", head);

	/* the rules path is added by load_optimized: a file name may hold
	 * ',' or '}', which the text form cannot carry. prune-auto leaves
	 * its layers refit, as it verified them; other methods go in steps,
	 * refit after each */
	int steps = refit && a->prune_spec[0] && !a->prune_auto &&
		    a->prune_steps > 1 ? a->prune_steps : 1;
	size_t len = strlen(a->prune_spec);
	if (a->prune_auto)
		k += (size_t)snprintf(buf + k, n - k, "%s,", a->prune_spec);
	/* structured by activations: the layers after the removed neurons
	 * lost inputs but not weights, so refit them too */
	bool rows = strstr(a->prune_spec, "method=apoz") ||
		    strstr(a->prune_spec, "method=activation");
	for (int i = 1; i <= steps && len && !a->prune_auto; i++)
		k += (size_t)snprintf(buf + k, n - k, "%.*s%s%d%s%d},%s",
				      (int)len - 1, a->prune_spec,
				      ",step=", i, ",steps=", steps,
				      !refit ? "" : rows ? "refit{all=1},"
				      : "refit,");
	if (a->select)
		k += (size_t)snprintf(buf + k, n - k,
				      "select-features{k=%s,tolerance=%.17g},",
				      a->select, a->tolerance);
	if (a->share)
		k += (size_t)snprintf(buf + k, n - k,
				      "share-weights{k=%d,scope=%s},%s",
				      a->share, a->share_global ? "global"
				      : "layer", refit ? "refit," : "");
	if (a->distill)
		k += (size_t)snprintf(buf + k, n - k, "distill{t=%.17g},",
				      a->distill);
	if (a->slim)
		k += (size_t)snprintf(buf + k, n - k, "slim{tolerance=%.17g},",
				      a->tolerance);
	/* the channels compression left without outgoing weights go too,
	 * with the NaN an Inf of theirs would have made (outgoing=1) */
	static const char dn[] = "dead-neurons,";
	const char *tail = strncmp(ospec, head, sizeof head - 1) == 0
			   ? ospec + sizeof head - 1 : "dead-neurons,dce";
	const char *at = strstr(tail, dn);
	if (at)
		snprintf(buf + k, n - k, "%.*sdead-neurons{outgoing=1},%s",
			 (int)(at - tail), tail, at + sizeof dn - 1);
	else
		snprintf(buf + k, n - k, "%s", tail);
}

pass_env *
nncc_env_new(const args *a, nn_diag *d)
{
	pass_env *e = cli_env_new(a->calib, a->ncalib, a->eval, a->neval,
				  a->labels, d);

	if (e) {
		e->refit = !a->no_refit;
		e->tolerance = a->tolerance;
		e->distill_t = a->distill;
		e->stages = a->report || a->report_json || a->report_svg;
	}
	return e;
}

/* Why fidelity cannot be measured on ref, or NULL: samples are stacked
 * along dim 0 of every input, and top-1 is taken on output 0's rows. */
static const char *
unmeasurable(const ir_graph *ref)
{
	int64_t B = pass_data_batch(ref);
	for (int i = 0; i < ref->ninputs; i++)
		if (ref->inputs[i]->shape.rank < 1 ||
		    ref->inputs[i]->shape.dim[0] != B)
			return "an input has no batch dimension";
	if (ref->ninputs < 1)
		return "the model has no inputs";
	if (ref->noutputs < 1 || ref->outputs[0]->shape.rank < 1 ||
	    ref->outputs[0]->shape.dim[0] != B)
		return "the model's output 0 has no row per sample";
	return NULL;
}

/* Fidelity of g against ref on the evaluation set, or on seeded random
 * inputs without data. */
static bool
measure(const args *a, const pass_env *e, ir_graph *ref, ir_graph *g,
	pass_fidelity *fid, char *note, size_t nn, nn_diag *d)
{
	pass_data rnd = {0};
	const pass_data *x = e ? pass_env_eval(e) : NULL;
	bool ok;

	if (x && x->ninputs) {
		snprintf(note, nn, "%s", x->what);
	} else {
		bool rep = a->report || a->report_json || a->report_svg;
		int64_t B = pass_data_batch(ref), nb = rep ? 64 : 16;
		pass_data_random(ref, B * nb, 1, &rnd);
		snprintf(note, nn, "%lld seeded random batches (no --calib)",
			 (long long)nb);
		x = &rnd;
	}
	ok = pass_measure_fidelity(ref, g, x, fid, d);
	pass_data_free(&rnd);
	return ok;
}

static const char *
method_of(const args *a, const ir_value *w)
{
	static char buf[96];
	const char *colon = a->prune ? strchr(a->prune, ':') : NULL;
	const char *p = a->prune_rules ? "rules" : a->prune_auto ? "auto"
		      : colon ? colon + 1
		      : a->prune ? "global" : NULL;

	/* "l1", "share16", "nm2:4+share16" */
	if (!p && !w->ncodes)
		return "-";
	snprintf(buf, sizeof buf, "%s%s", p ? p : "", p && w->ncodes ? "+" : "");
	if (w->ncodes)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "share%d",
			 w->ncodes);
	return buf;
}

/* The element count of weight input `slot` of the layer named `name` in
 * g (the uncompressed graph), or `dflt` if g has no layer of that name. */
static int64_t
params_before(ir_graph *g, const char *name, int slot, int64_t dflt)
{
	for (ir_node *n = g->first; n && name; n = n->next)
		if (n->name && strcmp(n->name, name) == 0 && n->nin > slot &&
		    n->in[slot])
			return ir_shape_numel(&n->in[slot]->shape);
	return dflt;
}

/* The rows of r: one per weight layer code generation emits, with the
 * kernel cg_sparse_choose gives it (what code generation emits). params
 * is the layer's weight count in the uncompressed model and sparsity the
 * share of those gone, pruned or physically removed with dead neurons. */
static void
report_layers(nncc_report *r, const args *a, ir_graph *ref, ir_graph *g,
	      const cg_options *o)
{
	int cap = 0;

	r->after = 0;
	for (ir_node *n = g->first; n; n = n->next)
		for (int slot = 1; slot < n->nin; slot++) {
			cg_kernel_choice c;
			const ir_value *w = n->in[slot];
			const char *in = ir_weight_input_name(n->op, slot);
			if (cg_sparse_choose(n, slot, o, &c) == CG_KERNEL_NONE)
				continue;
			r->after += c.bytes[c.kind];
			if (r->nlayers == cap) {
				cap = cap ? 2 * cap : 16;
				r->layer = realloc(r->layer, (size_t)cap *
						   sizeof *r->layer);
				NN_ASSERT(r->layer);
			}
			nncc_report_layer *L = &r->layer[r->nlayers++];
			/* the names compress_report.c gives: "NODE:W" */
			snprintf(L->name, sizeof L->name, "%s%s%s", n->name
				 ? n->name : ir_value_label(w), in ? ":" : "",
				 in ? in : "");
			L->op = ir_ops[n->op].name;
			snprintf(L->method, sizeof L->method, "%s",
				 method_of(a, w));
			L->params = params_before(ref, n->name, slot, c.params);
			L->nnz = c.nnz;
			L->sparsity = L->params ? 1 - (double)c.nnz /
					(double)L->params : 0.0;
			L->ncodes = w->ncodes;
			L->bytes = c.bytes[c.kind];
			L->kernel = cg_kernel_name(c.kind);
		}
}

static void
print_layers(FILE *f, const nncc_report *r)
{
	fprintf(f, "%-24s %-15s %-16s %10s %10s %9s %12s %-8s\n", "layer",
		"op", "method", "params", "nnz", "sparsity", "object-bytes",
		"kernel");
	for (int i = 0; i < r->nlayers; i++) {
		const nncc_report_layer *L = &r->layer[i];
		fprintf(f, "%-24s %-15s %-16s %10lld %10lld %8.2f%% %12lld "
			"%-8s\n", L->name, L->op, L->method,
			(long long)L->params, (long long)L->nnz,
			100.0 * L->sparsity, (long long)L->bytes, L->kernel);
	}
}

void
nncc_report_free(nncc_report *r)
{
	free(r->layer);
	r->layer = NULL;
	r->nlayers = 0;
}

static int64_t
dense_weight_bytes(ir_graph *g)
{
	int n;
	int64_t t = 0;
	pass_layer_stat *st = pass_layer_stats(g, &n);

	for (int i = 0; i < n; i++)
		t += st[i].dense_bytes;
	free(st);
	return t;
}

FILE *
nncc_report_stream(const args *a)
{
	const char *outs[4] = {a->out, a->emit_onnx, a->report_json,
			       a->report_svg};
	for (int k = 0; k < 4; k++)
		if (outs[k] && !strcmp(outs[k], "-"))
			return stderr;
	return stdout;
}

bool
nncc_account(const args *a, pass_env *e, ir_graph *ref, ir_graph *g,
	     const char *name, nncc_report *r, nn_diag *d)
{
	cg_options o = nncc_cg_options(a, name);
	FILE *f = nncc_report_stream(a);
	pass_fidelity fid;
	const char *why = unmeasurable(ref);
	bool ok = !why && measure(a, e, ref, g, &fid, r->note, sizeof r->note,
				  d);

	r->before = dense_weight_bytes(ref);
	r->env = e;
	/* a bad --calib/--labels is an error; a model fidelity cannot be
	 * measured on (several inputs, ...) only when --calib or --tolerance
	 * asks for it: else the build goes on, with a warning */
	if (why && (a->tolerance >= 0 || a->ncalib))
		nn_error(d, "%s: cannot measure fidelity: %s",
			 a->ncalib ? "--calib" : "--tolerance", why);
	else if (why)
		nn_warn(d, "fidelity not measured: %s", why);
	if (!ok && (a->tolerance >= 0 || a->ncalib || !why))
		return false;
	r->measured = ok;
	if (ok)
		r->fid = fid;
	report_layers(r, a, ref, g, &o);
	nn_progress_clear(); /* a terminal's progress line ends first */
	if (a->report) {
		print_layers(f, r);
		fprintf(f, "weights: %lld bytes dense f32 before, %lld bytes in "
			"the object after (%.2fx smaller)\n",
			(long long)r->before, (long long)r->after, r->after ?
			(double)r->before / (double)r->after : 0.0);
		if (e && e->log)
			fputs(e->log, f);
		if (ok)
			pass_print_fidelity(f, &fid, r->note);
	} else if (ok && (nncc_lossy(a) || !(a->report_json ||
					   a->report_svg))) {
		nn_note(d, "compression: weights %lld -> %lld bytes; on %lld "
			"samples (%s): max abs err %.3g, top-1 agreement %.4f",
			(long long)r->before, (long long)r->after,
			(long long)fid.nsamples, r->note, fid.max_abs,
			fid.top1_agree);
	}
	/* with --labels the tolerance is the accuracy that may be lost */
	if (a->tolerance >= 0 && fid.accuracy >= 0 &&
	    fid.ref_accuracy - fid.accuracy > a->tolerance + 1e-12) {
		nn_error(d, "accuracy %.4f is more than the tolerance %g below "
			 "the uncompressed model's %.4f; nothing written",
			 fid.accuracy, a->tolerance, fid.ref_accuracy);
		return false;
	}
	if (a->tolerance >= 0 && fid.accuracy < 0 &&
	    1 - fid.top1_agree > a->tolerance + 1e-12) {
		nn_error(d, "top-1 agreement with the uncompressed model is "
			 "%.4f (%lld/%lld), below 1 - tolerance = %.4f; nothing "
			 "written", fid.top1_agree, (long long)fid.agree,
			 (long long)fid.nsamples, 1 - a->tolerance);
		return false;
	}
	return true;
}