/* The pass manager: the registry expanded from passes.def, pipeline
 * parsing ("a,b{k=v,k2=v2},c"), option accessors, and running a pipeline
 * with verification, IR dumps and statistics. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "passes.h"

const pass_info pass_table[] = {
#define PASS(name, fn, lossy, help) { name, fn, lossy, help },
#include "passes.def"
#undef PASS
};
const int pass_count = (int)(sizeof pass_table / sizeof pass_table[0]);

const pass_info *
pass_lookup(const char *name)
{
	int i;

	for (i = 0; i < pass_count; i++)
		if (strcmp(pass_table[i].name, name) == 0)
			return &pass_table[i];
	return NULL;
}

const char *
pass_pipeline_for_level(int level, bool size)
{
	if (size || level >= 2)
		return "const-fold,eliminate-layers,dead-neurons,"
		       "dedup-weights,fuse,dce";
	return level == 1 ? "const-fold,eliminate-layers,dce" : "";
}

/* ------------------------------------------------------------------ */
/* Options. */

const char *
pass_opt_str(const pass_opts *o, const char *key, const char *dflt)
{
	int i;

	for (i = 0; o && i < o->n; i++)
		if (strcmp(o->opt[i].key, key) == 0)
			return o->opt[i].value;
	return dflt;
}

double
pass_opt_f64(const pass_opts *o, const char *pass, const char *key,
	     double dflt, nn_diag *d, bool *ok)
{
	const char *s = pass_opt_str(o, key, NULL);
	char *end;
	double v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v)) {
		nn_error(d, "pass '%s': option '%s': expected a number, got "
			 "'%s'", pass, key, s);
		*ok = false;
		return dflt;
	}
	return v;
}

int64_t
pass_opt_i64(const pass_opts *o, const char *pass, const char *key,
	     int64_t dflt, nn_diag *d, bool *ok)
{
	const char *s = pass_opt_str(o, key, NULL);
	char *end;
	long long v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end || errno) {
		nn_error(d, "pass '%s': option '%s': expected an integer, got "
			 "'%s'", pass, key, s);
		*ok = false;
		return dflt;
	}
	return (int64_t)v;
}

bool
pass_opts_allow(const pass_opts *o, const char *pass,
		const char *const *keys, nn_diag *d)
{
	bool ok = true;
	int i, k;

	for (i = 0; o && i < o->n; i++) {
		for (k = 0; keys && keys[k]; k++)
			if (strcmp(o->opt[i].key, keys[k]) == 0)
				break;
		if (keys && keys[k])
			continue;
		nn_error(d, "pass '%s': unknown option '%s'", pass,
			 o->opt[i].key);
		ok = false;
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Pipeline parsing. The spec is copied into one buffer that the option
 * strings point into (keys and values are NUL-terminated in place). */

typedef struct pass_step {
	const pass_info *info;
	pass_opts opts;
} pass_step;

struct pass_pipeline {
	int n;
	pass_step *steps;
	char *buf;
};

static bool
is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static void
list_known(nn_diag *d)
{
	char buf[1024];
	size_t n = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < pass_count && n < sizeof buf; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s",
				      i ? ", " : "", pass_table[i].name);
	nn_note(d, "known passes: %s", buf);
}

static char *
skip_space(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses "k=v,k2=v2}" at p (after '{') into s->opts; returns the position
 * after '}', or NULL after reporting. */
static char *
parse_opts(char *p, pass_step *s, nn_diag *d)
{
	const char *pass = s->info->name;

	for (;;) {
		char *key, *val;

		p = skip_space(p);
		key = p;
		while (is_name_char(*p))
			p++;
		if (p == key) {
			nn_error(d, "pass '%s': expected an option name at "
				 "'%s'", pass, *p ? p : "end of pipeline");
			return NULL;
		}
		val = skip_space(p);
		if (*val != '=') {
			nn_error(d, "pass '%s': option '%.*s' needs '=value'",
				 pass, (int)(p - key), key);
			return NULL;
		}
		*p = 0;
		p = val = skip_space(val + 1);
		while (*p && *p != ',' && *p != '}' && *p != '{')
			p++;
		if (!*p || *p == '{') {
			nn_error(d, "pass '%s': option list lacks a closing "
				 "'}'", pass);
			return NULL;
		}
		if (p == val) {
			nn_error(d, "pass '%s': option '%s' has an empty value",
				 pass, key);
			return NULL;
		}
		s->opts.opt = nn_xrealloc(s->opts.opt, sizeof(pass_opt) *
					  (size_t)(s->opts.n + 1));
		s->opts.opt[s->opts.n++] = (pass_opt){ key, val };
		if (*p == '}') {
			*p = 0;
			return p + 1;
		}
		*p++ = 0;
	}
}

/* One "name" or "name{...}" at p; returns the position after it. */
static char *
parse_step(char *p, pass_pipeline *pl, nn_diag *d)
{
	pass_step *s;
	char *name = p, save;

	while (is_name_char(*p))
		p++;
	if (p == name) {
		nn_error(d, "expected a pass name at '%s'",
			 *p ? p : "end of pipeline");
		return NULL;
	}
	save = *p;
	*p = 0;
	pl->steps = nn_xrealloc(pl->steps, sizeof(pass_step) *
				(size_t)(pl->n + 1));
	s = &pl->steps[pl->n];
	memset(s, 0, sizeof *s);
	s->info = pass_lookup(name);
	if (!s->info) {
		nn_error(d, "unknown pass '%s'", name);
		list_known(d);
		return NULL;
	}
	pl->n++;
	*p = save;
	p = skip_space(p);
	if (*p == '{') {
		*p = 0;
		return parse_opts(p + 1, s, d);
	}
	return p;
}

bool
pass_pipeline_add_opt(pass_pipeline *pl, const char *pass, const char *key,
		      const char *value)
{
	bool found = false;

	for (int i = 0; i < pl->n; i++) {
		pass_opts *o = &pl->steps[i].opts;
		if (strcmp(pl->steps[i].info->name, pass) != 0)
			continue;
		o->opt = nn_xrealloc(o->opt, sizeof(pass_opt) *
				     (size_t)(o->n + 1));
		o->opt[o->n++] = (pass_opt){ key, value };
		found = true;
	}
	return found;
}

pass_pipeline *
pass_pipeline_parse(const char *spec, nn_diag *d)
{
	pass_pipeline *pl = nn_xcalloc(1, sizeof *pl);
	char *p;

	pl->buf = nn_xstrdup(spec);
	p = skip_space(pl->buf);
	while (*p) {
		p = parse_step(p, pl, d);
		if (!p)
			goto fail;
		p = skip_space(p);
		if (*p == ',') {
			p = skip_space(p + 1);
			if (!*p) {
				nn_error(d, "pipeline ends with ','");
				goto fail;
			}
		} else if (*p) {
			nn_error(d, "unexpected '%c' in pipeline after pass "
				 "'%s'", *p, pl->steps[pl->n - 1].info->name);
			goto fail;
		}
	}
	return pl;
fail:
	pass_pipeline_free(pl);
	return NULL;
}

void
pass_pipeline_free(pass_pipeline *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		free(p->steps[i].opts.opt);
	free(p->steps);
	free(p->buf);
	free(p);
}

/* ------------------------------------------------------------------ */
/* Running. */

typedef struct graph_stats {
	int64_t nodes, params, bytes;
} graph_stats;

typedef struct stat_row {
	const char *name;
	graph_stats before, after;
	double ms;
} stat_row;

static int
cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a;
	uintptr_t y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* Counts nodes, and the elements and bytes of the constants that a node
 * or a graph output uses (dead entries of g->consts do not count). */
static graph_stats
measure(const ir_graph *g)
{
	graph_stats st = { 0, 0, 0 };
	const ir_value **v;
	const ir_node *n;
	size_t nv = 0, cap = 16, i;
	int k;

	v = nn_xmalloc(cap * sizeof *v);
	for (n = g->first; n; n = n->next) {
		st.nodes++;
		for (k = 0; k < n->nin; k++) {
			if (!n->in[k] || !ir_is_const(n->in[k]))
				continue;
			if (nv == cap)
				v = nn_xrealloc(v, (cap *= 2) * sizeof *v);
			v[nv++] = n->in[k];
		}
	}
	for (k = 0; k < g->noutputs; k++) {
		if (!ir_is_const(g->outputs[k]))
			continue;
		if (nv == cap)
			v = nn_xrealloc(v, (cap *= 2) * sizeof *v);
		v[nv++] = g->outputs[k];
	}
	qsort(v, nv, sizeof *v, cmp_ptr);
	for (i = 0; i < nv; i++) {
		int64_t numel;

		if (i > 0 && v[i] == v[i - 1])
			continue;
		numel = ir_shape_numel(&v[i]->shape);
		if (numel < 0)
			continue;
		st.params += numel;
		st.bytes += numel * (int64_t)ir_dtype_size(v[i]->dtype);
	}
	free(v);
	return st;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
print_stats(FILE *f, const stat_row *rows, int n)
{
	int w = 4, i;

	for (i = 0; i < n; i++)
		if ((int)strlen(rows[i].name) > w)
			w = (int)strlen(rows[i].name);
	fprintf(f, "%-*s %12s %12s %14s %14s %12s %10s\n", w, "pass",
		"nodes-before", "nodes-after", "params-before",
		"params-after", "bytes-saved", "time-ms");
	for (i = 0; i < n; i++) {
		const stat_row *r = &rows[i];

		fprintf(f, "%-*s %12lld %12lld %14lld %14lld %12lld %10.3f\n",
			w, r->name, (long long)r->before.nodes,
			(long long)r->after.nodes, (long long)r->before.params,
			(long long)r->after.params,
			(long long)(r->before.bytes - r->after.bytes), r->ms);
	}
}

/* The fidelity of g against the teacher after lossy step `pass`, as one
 * line of e's log. */
static bool
log_stage(pass_env *e, const char *pass, ir_graph *g, nn_diag *d)
{
	const pass_data *x = pass_env_eval(e);
	pass_fidelity f;

	if (!x->ninputs || !e->teacher)
		return true;
	if (!pass_measure_fidelity(e->teacher, g, x, &f, d))
		return false;
	/* the weights left, for accuracy against size (--report=svg) */
	int nl;
	int64_t params = 0, nnz = 0;
	pass_layer_stat *st = pass_layer_stats(g, &nl);
	for (int i = 0; i < nl; i++) {
		params += st[i].params;
		nnz += st[i].nnz;
	}
	free(st);
	pass_field fl[] = {PF_STR("pass", pass), PF_STR("on", x->what),
			   PF_NUM("samples", (double)f.nsamples),
			   PF_NUM("agree", (double)f.agree),
			   PF_NUM("top1_agreement", f.top1_agree),
			   PF_NUM("params", (double)params),
			   PF_NUM("nnz", (double)nnz),
			   PF_NUM("accuracy", f.accuracy),
			   PF_NUM("ref_accuracy", f.ref_accuracy)};
	int nf = f.accuracy >= 0 ? 9 : 7;
	if (f.accuracy >= 0)
		pass_env_record(e, "stage", NULL, fl, nf, "stage %-16s top-1 "
				"agreement %.4f, accuracy %.4f (uncompressed "
				"%.4f) on %s", pass, f.top1_agree, f.accuracy,
				f.ref_accuracy, x->what);
	else
		pass_env_record(e, "stage", NULL, fl, nf, "stage %-16s top-1 "
				"agreement %.4f on %s", pass, f.top1_agree,
				x->what);
	return true;
}

/* A lossless pass also runs inside g's subgraphs (If's branches, Loop's
 * and Scan's bodies), innermost last; not on the branch an If with a
 * known condition skips (inference never typed it). Lossy passes act on
 * the top-level weight layers only. */
static bool
run_in_subgraphs(const pass_step *s, ir_graph *g, const pass_opts *opts,
		 nn_diag *d)
{
	for (ir_node *n = g->first; n; n = n->next) {
		const uint8_t *known = n->op == OP_If ? n->in[0]->data : NULL;
		for (int i = 0; i < n->nattrs; i++) {
			const ir_attr *a = &n->attrs[i];
			bool changed = false;
			if (a->kind != IR_ATTR_GRAPH ||
			    (known && strcmp(a->name, *known ? "then_branch"
							     : "else_branch")))
				continue;
			if (!s->info->fn(a->g, opts, d, &changed) ||
			    !run_in_subgraphs(s, a->g, opts, d))
				return false;
		}
	}
	return true;
}

/* Runs one step with its verification and dump; false on error. */
static bool
run_step(const pass_step *s, ir_graph *g, const pass_run_opts *o,
	 nn_diag *d, double *ms)
{
	bool changed = false, ok;
	FILE *dump = o->dump ? o->dump : stderr;
	double t0 = now_ms();

	pass_opts opts = s->opts;
	opts.env = o->env;
	ok = s->info->fn(g, &opts, d, &changed);
	if (ok && !s->info->lossy)
		ok = run_in_subgraphs(s, g, &opts, d);
	*ms = now_ms() - t0;
	if (!ok) {
		if (d->nerrors == 0)
			nn_error(d, "pass '%s' failed", s->info->name);
		return false;
	}
	if (o->verify_each && !ir_verify(g, d)) {
		nn_error(d, "IR verification failed after pass '%s'",
			 s->info->name);
		return false;
	}
	if (o->print_after_all ||
	    (o->print_after && strcmp(o->print_after, s->info->name) == 0)) {
		fprintf(dump, "// -----// IR Dump After %s //----- //\n",
			s->info->name);
		ir_print(dump, g, NULL);
		fflush(dump);
	}
	return true;
}

bool
pass_pipeline_run(pass_pipeline *p, ir_graph *g, const pass_run_opts *o,
		  nn_diag *d)
{
	static const pass_run_opts none;
	stat_row *rows;
	bool ok = true;
	int i;

	if (!o)
		o = &none;
	if (o->print_after && !pass_lookup(o->print_after)) {
		nn_error(d, "--print-after: unknown pass '%s'",
			 o->print_after);
		list_known(d);
		return false;
	}
	rows = nn_xcalloc((size_t)p->n + 1, sizeof *rows);
	for (i = 0; i < p->n && ok; i++) {
		const pass_info *info = p->steps[i].info;
		rows[i].name = info->name;
		if (info->lossy && o->env && !o->env->teacher)
			o->env->teacher = ir_graph_clone(g);
		if (o->print_stats)
			rows[i].before = measure(g);
		nn_progress("passes", "%s (%d of %d)", info->name, i + 1, p->n);
		ok = run_step(&p->steps[i], g, o, d, &rows[i].ms);
		if (o->print_stats)
			rows[i].after = measure(g);
		if (ok && info->lossy && o->env && o->env->stages) {
			nn_progress("passes", "%s: fidelity after it",
				    info->name);
			ok = log_stage(o->env, info->name, g, d);
		}
	}
	nn_progress_clear(); /* what the caller prints next starts clean */
	if (o->print_stats)
		print_stats(stderr, rows, i);
	free(rows);
	return ok;
}
