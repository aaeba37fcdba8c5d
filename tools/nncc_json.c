/* --report=json: the figures of the --report text (nncc_report, made
 * once by nncc_account) as one JSON document, through a small emitter:
 * strings escaped (invalid UTF-8 as U+FFFD), finite numbers only (NaN
 * and Inf as null). docs/report-json.md is the schema. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nncc.h"

#define JSON_SCHEMA_VERSION 1
#define JSON_MAX_DEPTH 16

typedef struct json_w {
	FILE *f;
	int depth;
	bool first[JSON_MAX_DEPTH]; /* no member yet at this depth */
	bool key;                   /* a key was just written */
} json_w;

/* The separator and indentation before a value or key. */
static void
sep(json_w *w)
{
	if (w->key) {
		w->key = false;
		return;
	}
	if (w->depth == 0)
		return;
	fputs(w->first[w->depth] ? "\n" : ",\n", w->f);
	w->first[w->depth] = false;
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

int
nncc_utf8_len(const unsigned char *s)
{
	int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2
		: (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 2 && s[0] < 0xc2)
		return 0; /* overlong */
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) ||
		       (s[0] == 0xed && s[1] >= 0xa0)))
		return 0; /* overlong, or a surrogate */
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || s[0] > 0xf4 ||
		       (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0;
	return n;
}

static void
put_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', f);
	while (*s) {
		int n = nncc_utf8_len(s);
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\u%04x", *s);
		else if (n == 0)
			fputs("\\ufffd", f);
		else
			fwrite(s, 1, (size_t)n, f);
		s += n ? n : 1;
	}
	fputc('"', f);
}

static void
j_open(json_w *w, char c)
{
	sep(w);
	fputc(c, w->f);
	NN_ASSERT(w->depth + 1 < JSON_MAX_DEPTH);
	w->first[++w->depth] = true;
}

static void
j_close(json_w *w, char c)
{
	bool empty = w->first[w->depth--];
	if (!empty) {
		fputc('\n', w->f);
		for (int i = 0; i < w->depth; i++)
			fputs("  ", w->f);
	}
	fputc(c, w->f);
}

static void
j_key(json_w *w, const char *k)
{
	sep(w);
	put_string(w->f, k);
	fputs(": ", w->f);
	w->key = true;
}

static void
j_str(json_w *w, const char *s)
{
	sep(w);
	if (s)
		put_string(w->f, s);
	else
		fputs("null", w->f);
}

/* The shortest of %.15g..%.17g that reads back as v; integers exactly. */
static void
j_num(json_w *w, double v)
{
	char buf[40];
	sep(w);
	if (!isfinite(v)) {
		fputs("null", w->f);
		return;
	}
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		fprintf(w->f, "%lld", (long long)v);
		return;
	}
	for (int p = 15; p <= 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, w->f);
}

static void
j_bool(json_w *w, bool b)
{
	sep(w);
	fputs(b ? "true" : "false", w->f);
}

static void
j_null(json_w *w)
{
	sep(w);
	fputs("null", w->f);
}

/* Key and value in one call. */
static void
kv_str(json_w *w, const char *k, const char *v)
{
	j_key(w, k);
	j_str(w, v);
}

static void
kv_num(json_w *w, const char *k, double v)
{
	j_key(w, k);
	j_num(w, v);
}

/* A count that may be unknown (< 0): null. */
static void
kv_count(json_w *w, const char *k, int64_t v)
{
	j_key(w, k);
	if (v < 0)
		j_null(w);
	else
		j_num(w, (double)v);
}

static void
kv_files(json_w *w, const char *k, const char *const *v, int n)
{
	j_key(w, k);
	j_open(w, '[');
	for (int i = 0; i < n; i++)
		j_str(w, v[i]);
	j_close(w, ']');
}

/* What was asked for: the compression flags as given. */
static void
put_options(json_w *w, const args *a)
{
	char lvl[4] = {'O', a->size ? 's' : (char)('0' + a->opt), 0};
	char *end = NULL;
	double s = a->prune && !a->prune_auto ? strtod(a->prune, &end) : NAN;
	const char *colon = a->prune ? strchr(a->prune, ':') : NULL;

	j_key(w, "options");
	j_open(w, '{');
	kv_str(w, "opt_level", lvl);
	kv_str(w, "prune", a->prune);
	j_key(w, "prune_sparsity");
	if (end && end != a->prune)
		j_num(w, s);
	else
		j_null(w);
	kv_str(w, "prune_method", a->prune_auto ? "auto"
	       : colon ? colon + 1 : a->prune ? "global" : NULL);
	kv_str(w, "prune_rules", a->prune_rules);
	j_key(w, "share");
	if (a->share)
		j_num(w, a->share);
	else
		j_null(w);
	kv_str(w, "share_scope", !a->share ? NULL : a->share_global
	       ? "global" : "layer");
	j_key(w, "tolerance");
	if (a->tolerance >= 0)
		j_num(w, a->tolerance);
	else
		j_null(w);
	kv_files(w, "calib", a->calib, a->ncalib);
	kv_files(w, "eval", a->eval, a->neval);
	kv_str(w, "labels", a->labels);
	j_key(w, "refit");
	j_bool(w, a->ncalib && !a->no_refit);
	j_key(w, "distill_temperature");
	if (a->distill)
		j_num(w, a->distill);
	else
		j_null(w);
	j_close(w, '}');
}

static void
put_layers(json_w *w, const nncc_report *r)
{
	j_key(w, "layers");
	j_open(w, '[');
	for (int i = 0; i < r->nlayers; i++) {
		const nncc_report_layer *L = &r->layer[i];
		j_open(w, '{');
		kv_str(w, "name", L->name);
		kv_str(w, "op", L->op);
		kv_str(w, "method", L->method);
		kv_num(w, "params", (double)L->params);
		kv_num(w, "nnz", (double)L->nnz);
		kv_num(w, "sparsity", L->sparsity);
		kv_num(w, "codes", L->ncodes);
		kv_num(w, "dense_bytes", 4.0 * (double)L->params);
		kv_num(w, "object_bytes", (double)L->bytes);
		kv_str(w, "kernel", L->kernel);
		j_close(w, '}');
	}
	j_close(w, ']');
}

static void
put_sizes(json_w *w, const args *a, const nncc_report *r)
{
	int64_t params = 0, nnz = 0;
	for (int i = 0; i < r->nlayers; i++) {
		params += r->layer[i].params;
		nnz += r->layer[i].nnz;
	}
	j_key(w, "weights");
	j_open(w, '{');
	kv_num(w, "dense_bytes_before", (double)r->before);
	kv_num(w, "object_bytes_after", (double)r->after);
	kv_num(w, "ratio", r->after ? (double)r->before / (double)r->after
	       : NAN);
	kv_num(w, "params", (double)params);
	kv_num(w, "nnz", (double)nnz);
	kv_num(w, "sparsity", params ? 1 - (double)nnz / (double)params
	       : 0.0);
	j_close(w, '}');
	j_key(w, "object");
	if (r->object_bytes < 0) {
		j_null(w);
		return;
	}
	j_open(w, '{');
	kv_str(w, "path", a->out);
	kv_num(w, "bytes", (double)r->object_bytes);
	kv_count(w, "code_bytes", r->sizes.code);
	kv_count(w, "weights_bytes", r->sizes.weights);
	kv_count(w, "workspace_bytes", r->sizes.workspace);
	j_close(w, '}');
}

static void
put_fidelity(json_w *w, const nncc_report *r)
{
	const pass_fidelity *f = &r->fid;
	j_key(w, "fidelity");
	if (!r->measured) {
		j_null(w);
		return;
	}
	j_open(w, '{');
	kv_str(w, "on", r->note);
	kv_num(w, "samples", (double)f->nsamples);
	kv_num(w, "max_abs_err", f->max_abs);
	kv_num(w, "max_rel_err", f->max_rel);
	kv_num(w, "agree", (double)f->agree);
	kv_num(w, "top1_agreement", f->top1_agree);
	j_key(w, "accuracy");
	if (f->accuracy >= 0) {
		j_num(w, f->accuracy);
		kv_num(w, "correct", (double)f->correct);
		kv_num(w, "ref_accuracy", f->ref_accuracy);
		kv_num(w, "ref_correct", (double)f->ref_correct);
	} else {
		j_null(w);
	}
	j_close(w, '}');
}

/* The passes' records in order: kind, layer, their figures, the line. */
static void
put_log(json_w *w, const nncc_report *r)
{
	j_key(w, "log");
	j_open(w, '[');
	for (int i = 0; r->env && i < r->env->nevents; i++) {
		const pass_event *ev = &r->env->events[i];
		j_open(w, '{');
		kv_str(w, "kind", ev->kind);
		kv_str(w, "layer", ev->layer);
		for (int k = 0; k < ev->nfields; k++) {
			j_key(w, ev->field[k].key);
			if (ev->field[k].str)
				j_str(w, ev->field[k].str);
			else if (ev->field[k].is_bool)
				j_bool(w, ev->field[k].num != 0);
			else
				j_num(w, ev->field[k].num);
		}
		kv_str(w, "text", ev->text);
		j_close(w, '}');
	}
	j_close(w, ']');
}

bool
nncc_write_report_json(const char *path, const args *a, const nncc_report *r,
		       nn_diag *d)
{
	nn_outfile o;
	json_w w = {0};
	FILE *f = nn_out_open(&o, path, d);

	if (!f)
		return false;
	w.f = f;
	j_open(&w, '{');
	kv_str(&w, "schema", "nncc-report");
	kv_num(&w, "version", JSON_SCHEMA_VERSION);
	kv_str(&w, "nncc_version", cli_nncc_version());
	kv_str(&w, "model", a->model);
	put_options(&w, a);
	put_layers(&w, r);
	put_sizes(&w, a, r);
	put_fidelity(&w, r);
	put_log(&w, r);
	j_close(&w, '}');
	fputc('\n', f);
	return nn_out_close(&o, true, d);
}
