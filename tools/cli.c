/* Command-line pieces the nncc tools share (see cli.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nnrt.h"

const char *
cli_value(const char *tool, int argc, char **argv, int *i, const char *name,
	  bool *bad)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != 0)
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "%s: error: %s needs a value\n", tool, name);
		*bad = true;
		return NULL;
	}
	return argv[++*i];
}

bool
cli_add_input_shape(const char *tool, fe_input_shape **shapes, int *n,
		    const char *arg)
{
	*shapes = nn_xrealloc(*shapes, sizeof **shapes * (size_t)(*n + 1));
	if (!fe_parse_input_shape(arg, &(*shapes)[*n])) {
		fprintf(stderr, "%s: error: malformed --input-shape '%s' "
			"(expected NAME=1x3x224x224)\n", tool, arg);
		return false;
	}
	(*n)++;
	return true;
}

bool
cli_add_input_value(const char *tool, fe_input_value **vals, int *n,
		    const char *arg)
{
	const char *eq = strrchr(arg, '=');
	size_t len = strlen(arg), k;
	fe_input_value *v;
	nnrt_array a;
	char e[256], *name;

	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "%s: error: malformed --input-value '%s' "
			"(expected NAME=SCALAR or NAME=FILE.npy)\n", tool, arg);
		return false;
	}
	*vals = nn_xrealloc(*vals, sizeof **vals * (size_t)(*n + 1));
	v = memset(&(*vals)[*n], 0, sizeof **vals);
	k = strlen(eq + 1);
	if (k >= 4 && !strcmp(eq + 1 + k - 4, ".npy")) {
		int rc = cli_read_npy(eq + 1, &a, e, sizeof e);
		if (rc != 0) {
			fprintf(stderr, "%s: error: --input-value %s: cannot "
				"read '%s': %s\n", tool, arg, eq + 1, e);
			return false;
		}
		v->path = eq + 1;
		v->dtype = (ir_dtype)a.dtype; /* NNRT_* are ONNX's codes */
		v->shape.rank = a.rank;
		memcpy(v->shape.dim, a.dim, sizeof(int64_t) * (size_t)a.rank);
		v->data = a.data; /* freed by cli_free_input_values */
	} else
		v->text = eq + 1;
	name = nn_xmalloc(len + 1);
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = 0;
	v->name = name;
	(*n)++;
	return true;
}

void
cli_free_input_values(fe_input_value *vals, int n)
{
	for (int i = 0; i < n; i++) {
		free((void *)vals[i].name);
		free((void *)vals[i].data);
	}
	free(vals);
}

int
cli_add_file(const char *tool, const char **list, int *n, int max,
	     const char *flag, const char *v)
{
	if (*n == max) {
		fprintf(stderr, "%s: error: %s: more than %d files\n", tool,
			flag, max);
		return -1;
	}
	list[(*n)++] = v;
	return 1;
}

int
cli_read_npy(const char *path, nnrt_array *arr, char *err, size_t n)
{
	const char *why;
	FILE *f = nn_in_open(path, &why);
	int rc = -1;

	if (f) {
		rc = nnrt_npy_fread(f, arr, err, n);
		fclose(f);
	} else {
		snprintf(err, n, "%s", why);
		return 1;
	}
	return rc == 0 ? 0 : 2;
}

/* Reads one .npy file into *arr, reporting "FLAG: cannot read ...". */
static bool
read_npy(const char *flag, const char *path, nnrt_array *arr, nn_diag *d)
{
	char e[256];

	if (cli_read_npy(path, arr, e, sizeof e) == 0)
		return true;
	nn_error(d, "%s: cannot read '%s': %s", flag, path, e);
	return false;
}

static bool
load_labels(const char *path, pass_data *x, nn_diag *d)
{
	nnrt_array y;
	bool ok;

	if (!read_npy("--labels", path, &y, d))
		return false;
	ok = (y.dtype == NNRT_I64 || y.dtype == NNRT_I32) &&
	     nnrt_array_numel(&y) == x->nsamples;
	if (!ok) {
		nn_error(d, "--labels: '%s' must hold %lld int64 or int32 "
			 "labels, one per sample of %s", path,
			 (long long)x->nsamples, x->what);
	} else {
		int64_t *l = nn_xmalloc((size_t)x->nsamples * sizeof *l + 1);
		for (int64_t i = 0; i < x->nsamples; i++)
			l[i] = y.dtype == NNRT_I64 ? ((int64_t *)y.data)[i]
						   : ((int32_t *)y.data)[i];
		x->labels = x->labels_owned = l;
	}
	nnrt_array_free(&y);
	return ok;
}

bool
cli_load_data(const char *flag, const char *const *paths, int n,
	      const char *labels, pass_data *x, nn_diag *d)
{
	static char what[4][512];
	static int k;
	bool ok = true;

	memset(x, 0, sizeof *x);
	k = (k + 1) % 4;
	snprintf(what[k], sizeof what[k], "%s %s%s", flag, paths[0],
		 n > 1 ? " ..." : "");
	x->what = what[k];
	x->ninputs = n;
	x->x = nn_xcalloc((size_t)n + 1, sizeof *x->x);
	x->owned = nn_xcalloc((size_t)n + 1, sizeof *x->owned);
	x->dtype = nn_xcalloc((size_t)n + 1, sizeof *x->dtype);
	x->shape = nn_xcalloc((size_t)n + 1, sizeof *x->shape);
	for (int i = 0; i < n && ok; i++) {
		nnrt_array a;
		if (!(ok = read_npy(flag, paths[i], &a, d)))
			break;
		x->x[i] = x->owned[i] = a.data;
		x->dtype[i] = (ir_dtype)a.dtype; /* NNRT_* are ONNX's codes */
		x->shape[i].rank = a.rank;
		memcpy(x->shape[i].dim, a.dim, sizeof(int64_t) * (size_t)a.rank);
		int64_t ns = a.rank >= 1 ? a.dim[0] : 0;
		if (i == 0)
			x->nsamples = ns;
		if (a.rank < 1 || ns != x->nsamples) {
			nn_error(d, "%s: '%s' has %lld samples along dim 0, "
				 "where '%s' has %lld (one file per graph "
				 "input, the same samples in each)", flag,
				 paths[i], (long long)ns, paths[0],
				 (long long)x->nsamples);
			ok = false;
		}
	}
	if (ok && labels)
		ok = load_labels(labels, x, d);
	if (!ok)
		pass_data_free(x);
	return ok;
}

pass_env *
cli_env_new(const char *const *calib, int ncalib, const char *const *eval,
	    int neval, const char *labels, nn_diag *d)
{
	pass_env *e = pass_env_new();
	bool ok = true;

	if (ncalib)
		ok = cli_load_data("--calib", calib, ncalib,
				   neval ? NULL : labels, &e->calib, d);
	if (ok && neval)
		ok = cli_load_data("--eval", eval, neval, labels, &e->eval, d);
	if (!ok) {
		cli_env_free(e);
		return NULL;
	}
	return e;
}

void
cli_env_free(pass_env *e)
{
	if (!e)
		return;
	pass_data_free(&e->calib);
	pass_data_free(&e->eval);
	pass_env_free(e);
}

const char *
cli_nncc_version(void)
{
	return NNCC_VERSION;
}

void
cli_version(const char *tool)
{
	/* the values CMake found: the LLVM the tools are built against and
	 * its default target (what nncc compiles for without --target) */
	printf("%s %s\nLLVM %s\ndefault target: %s\n", tool, cli_nncc_version(),
	       NNCC_LLVM_VERSION, NNCC_DEFAULT_TARGET);
}

const char *
cli_model_name(const char *model)
{
	return model && !strcmp(model, "-") ? "<stdin>" : model;
}

void
cli_timer_start(cli_timer *t, const char *tool, bool on)
{
	t->tool = tool;
	t->on = on;
	t->start = t->last = nnrt_now_ns();
}

void
cli_phase(cli_timer *t, const char *phase)
{
	double now = nnrt_now_ns();

	if (t->on) {
		nn_progress_clear();
		fprintf(stderr, "%s: %-12s %10.3f ms\n", t->tool, phase,
			(now - t->last) / 1e6);
	}
	t->last = now;
}

void
cli_timer_end(cli_timer *t)
{
	nn_progress_clear();
	if (t->on)
		fprintf(stderr, "%s: %-12s %10.3f ms\n", t->tool, "total",
			(nnrt_now_ns() - t->start) / 1e6);
}

/* Levenshtein distance of a[0..n) and b[0..m). */
static size_t
edit_distance(const char *a, size_t n, const char *b, size_t m)
{
	size_t *row = nn_xmalloc((m + 1) * sizeof *row), best;

	for (size_t j = 0; j <= m; j++)
		row[j] = j;
	for (size_t i = 1; i <= n; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= m; j++) {
			size_t up = row[j], d = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < d)
				d = up + 1;
			if (row[j - 1] + 1 < d)
				d = row[j - 1] + 1;
			row[j] = d;
			diag = up;
		}
	}
	best = row[m];
	free(row);
	return best;
}

const char *
cli_nearest(const char *s, const char *const *words, int n)
{
	size_t sl = strlen(s), best = (size_t)-1;
	const char *bw = NULL;

	for (int i = 0; i < n; i++) {
		size_t d = edit_distance(s, sl, words[i], strlen(words[i]));
		if (d < best) {
			best = d;
			bw = words[i];
		}
	}
	return bw && best > 0 && 2 * best <= sl ? bw : NULL;
}

int
cli_help_options(const char *help, const char **opt, size_t *len, int max)
{
	int n = 0;

	for (const char *l = help; *l && n < max;) {
		size_t ll = strcspn(l, "\n");
		/* an option line starts with two spaces and '-'; its first
		 * column ends at two spaces in a row */
		if (!strncmp(l, "  -", 3)) {
			const char *w = l + 2, *end = strstr(w, "  ");
			if (!end || end > l + ll)
				end = l + ll;
			while (w < end && n < max) {
				size_t wl = strcspn(w, " \n");
				if (w[0] == '-' && (isalpha((unsigned char)w[1]) ||
				    (w[1] == '-' && isalpha((unsigned char)w[2])))) {
					size_t k = strcspn(w, "=[,;:)| \n");
					opt[n] = w;
					len[n++] = k < wl ? k : wl;
				}
				w += wl;
				w += strspn(w, " ");
			}
		}
		l += ll;
		if (*l)
			l++;
	}
	return n;
}

int
cli_unknown_option(const char *tool, const char *arg, void (*usage)(FILE *))
{
	/* the candidates are the options --help lists: the one table */
	size_t keylen = strcspn(arg, "="), best = (size_t)-1, len = 0, bl = 0;
	size_t olen[CLI_MAX_OPTIONS];
	const char *bs = NULL, *opt[CLI_MAX_OPTIONS];
	char *help = NULL;
	FILE *f = open_memstream(&help, &len);
	int n = 0;

	if (f) {
		usage(f);
		fclose(f);
		n = cli_help_options(help, opt, olen, CLI_MAX_OPTIONS);
	}
	for (int i = 0; i < n; i++) {
		size_t d = edit_distance(arg, keylen, opt[i], olen[i]);
		if (d < best) {
			best = d;
			bs = opt[i];
			bl = olen[i];
		}
	}
	if (bs && best > 0 && 2 * best < keylen &&
	    best <= (keylen / 4 > 2 ? keylen / 4 : 2))
		fprintf(stderr, "%s: error: unknown option '%s' (did you mean "
			"'%.*s'?)\n", tool, arg, (int)bl, bs);
	else
		fprintf(stderr, "%s: error: unknown option '%s' (see --help)\n",
			tool, arg);
	free(help);
	return 1;
}
