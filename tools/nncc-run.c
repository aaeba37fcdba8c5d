/* nncc-run: runs a model (ONNX or IR text) with the reference interpreter
 * on .npy inputs; writes, compares (--expect) or scores (--labels) the
 * outputs. The oracle that compiled code and conformance are held to. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "frontend.h"
#include "nnrt.h"

#define TOOL "nncc-run"
#define MAX_MISMATCH_LINES 5

typedef struct run_args {
	const char *model, *labels;
	const char **in, **out, **expect;
	int nin, nout, nexpect;
	double rtol, atol;
	bool verbose; /* -v */
	fe_input_shape *shapes;
	int nshapes;
	fe_input_value *values; /* --input-value */
	int nvalues;
} run_args;

/* The .npy inputs as given (all), and which of them the import froze
 * because shape inference needed their value (fe_options.avail); the
 * graph's inputs are the others, in order. */
typedef struct run_inputs {
	int n;
	nnrt_array *arr;
	const char **frozen; /* the frozen input's name, or NULL */
	fe_input_value *avail;
} run_inputs;

typedef struct tensor_set {
	int n;
	void **buf;
	int64_t *numel;
} tensor_set;

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " TOOL " MODEL IN.npy... [options]\n"
		"  MODEL                 ONNX or IR text, told apart by "
		"content; - for stdin\n"
		"  IN.npy...             one array per graph input, in graph "
		"order\n"
		"  -o OUT.npy            write the next output (repeat for "
		"each output, in order)\n"
		"  --expect EXP.npy...   compare every output with these "
		"(exit 1 on mismatch)\n"
		"  --rtol R, --atol A    closeness |got-exp| <= A + R*|exp| "
		"(defaults 1e-4, 1e-5)\n"
		"  --labels Y.npy        input 0 holds many samples along dim "
		"0; print top-1 accuracy\n"
		"                        of output 0 against these integer "
		"labels\n"
		"  --input-shape N=DIMS  bind input N's shape, or symbolic "
		"dimension N (N=8; repeatable)\n"
		"  --input-value N=V     freeze input N to a constant (a scalar "
		"or a .npy file;\n"
		"                        repeatable); then IN.npy... are the "
		"other inputs'.\n"
		"                        An input whose value shape inference "
		"needs (a Reshape's\n"
		"                        shape, ...) is frozen to its IN.npy "
		"by itself\n"
		"  -v                    print each phase and its time "
		"(stderr)\n"
		"  --                    the arguments after it are files, "
		"even if they start\n"
		"                        with -\n"
		"  --help, --version     this text; the versions of nncc and "
		"LLVM\n");
}

static void
push(const char ***list, int *n, const char *s)
{
	*list = nn_xrealloc((void *)*list, sizeof(char *) * (size_t)(*n + 1));
	(*list)[(*n)++] = s;
}

static bool
parse_double(const char *opt, const char *s, double *v)
{
	char *end;

	*v = strtod(s, &end);
	if (end == s || *end || !(*v >= 0)) {
		fprintf(stderr, TOOL ": error: %s: expected a non-negative "
			"number, got '%s'\n", opt, s);
		return false;
	}
	return true;
}

/* Options that take one value; 1 handled, 0 not one of them, -1 error. */
static int
parse_valued(run_args *a, const char *s, const char *v)
{
	if (strcmp(s, "-o") && strcmp(s, "--rtol") && strcmp(s, "--atol") &&
	    strcmp(s, "--labels") && strcmp(s, "--input-shape") &&
	    strcmp(s, "--input-value"))
		return 0;
	if (!v) {
		fprintf(stderr, TOOL ": error: %s needs a value\n", s);
		return -1;
	}
	if (!strcmp(s, "-o"))
		push(&a->out, &a->nout, v);
	else if (!strcmp(s, "--rtol"))
		return parse_double(s, v, &a->rtol) ? 1 : -1;
	else if (!strcmp(s, "--atol"))
		return parse_double(s, v, &a->atol) ? 1 : -1;
	else if (!strcmp(s, "--labels"))
		a->labels = v;
	else if (!strcmp(s, "--input-value"))
		return cli_add_input_value(TOOL, &a->values, &a->nvalues, v)
			       ? 1 : -1;
	else if (!cli_add_input_shape(TOOL, &a->shapes, &a->nshapes, v))
		return -1;
	return 1;
}

/* Positional arguments after MODEL are inputs, or expected outputs after
 * --expect (until the next option); after "--", every argument is
 * positional. 0 ok, 1 error, 2 --help, 3 --version. */
static int
parse_args(run_args *a, int argc, char **argv)
{
	bool expecting = false, options = true;
	int i, r;

	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (options && !strcmp(s, "--")) {
			options = false;
			continue;
		}
		if (options && (!strcmp(s, "--help") || !strcmp(s, "-h")))
			return 2;
		if (options && !strcmp(s, "--version"))
			return 3;
		if (options && !strcmp(s, "--expect")) {
			expecting = true;
			continue;
		}
		if (options && !strcmp(s, "-v")) {
			a->verbose = true;
			continue;
		}
		r = !options ? 0 : parse_valued(a, s, i + 1 < argc ? argv[i + 1]
								: NULL);
		if (r < 0)
			return 1;
		if (r > 0) {
			i++;
			expecting = false;
		} else if (options && s[0] == '-' && s[1])
			return cli_unknown_option(TOOL, s, usage);
		else if (!a->model)
			a->model = s;
		else if (expecting)
			push(&a->expect, &a->nexpect, s);
		else
			push(&a->in, &a->nin, s);
	}
	if (!a->model) {
		fprintf(stderr, TOOL ": error: no model given (see --help)\n");
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Inputs and outputs. */

static void
dims_str(const int64_t *dim, int rank, char *buf, size_t size)
{
	ir_shape s;

	s.rank = rank;
	memcpy(s.dim, dim, sizeof(int64_t) * (size_t)rank);
	ir_shape_str(&s, buf, size);
}

static void
array_type_str(const nnrt_array *a, char *buf, size_t size)
{
	char dims[160];

	dims_str(a->dim, a->rank, dims, sizeof dims);
	snprintf(buf, size, "%s%s", nnrt_dtype_name(a->dtype), dims);
}

static void
value_type_str(const ir_value *v, char *buf, size_t size)
{
	char dims[160];

	ir_shape_str(&v->shape, dims, sizeof dims);
	snprintf(buf, size, "%s%s", ir_dtype_name(v->dtype), dims);
}

static bool
load_npy(const char *path, nnrt_array *a)
{
	char err[256];
	int rc = cli_read_npy(path, a, err, sizeof err);

	if (rc == 0)
		return true;
	fprintf(stderr, TOOL ": error: %s: %s%s\n", path,
		rc == 1 ? "cannot open: " : "", err);
	return false;
}

/* .npy has no bfloat16: bf16 tensors travel as u16 arrays of their bit
 * patterns (what onnx.numpy_helper gives too). */
static int
npy_dtype(ir_dtype t)
{
	return t == IR_BF16 ? NNRT_U16 : (int)t;
}

/* Whether array a fits value v; with skip_dim0 the first dimension is not
 * compared (--labels batches). Reports a mismatch naming the input. */
static bool
check_input(const ir_value *v, int i, const nnrt_array *a, const char *path,
	    bool skip_dim0)
{
	char want[200], got[200];
	int k;
	bool ok = npy_dtype(v->dtype) == a->dtype && v->shape.rank == a->rank;

	for (k = skip_dim0 ? 1 : 0; ok && k < a->rank; k++)
		ok = v->shape.dim[k] == a->dim[k];
	if (ok)
		return true;
	value_type_str(v, want, sizeof want);
	array_type_str(a, got, sizeof got);
	fprintf(stderr, TOOL ": error: %s: input %d '%s' expects %s%s, got "
		"%s\n", path, i, ir_value_label(v), want,
		skip_dim0 ? " (any first dimension)" : "", got);
	return false;
}

/* Reads every IN.npy before the model is imported, so that the import
 * can freeze the inputs whose value shape inference needs. Input 0 of
 * --labels (many samples) is never frozen. A file that cannot be read is
 * reported later (check_read), after the model's own errors. */
static void
read_inputs(const run_args *a, run_inputs *r)
{
	char err[256];
	int i;

	r->n = a->nin;
	r->arr = nn_xcalloc((size_t)r->n + 1, sizeof *r->arr);
	r->frozen = nn_xcalloc((size_t)r->n + 1, sizeof *r->frozen);
	r->avail = nn_xcalloc((size_t)r->n + 1, sizeof *r->avail);
	for (i = 0; i < r->n; i++) {
		fe_input_value *v = &r->avail[i];

		if (cli_read_npy(a->in[i], &r->arr[i], err, sizeof err) != 0) {
			memset(&r->arr[i], 0, sizeof r->arr[i]);
			continue; /* dtype IR_UNDEF: never frozen */
		}
		v->path = a->in[i];
		v->dtype = a->labels && i == 0 ? IR_UNDEF
					       : (ir_dtype)r->arr[i].dtype;
		v->shape.rank = r->arr[i].rank;
		memcpy(v->shape.dim, r->arr[i].dim,
		       sizeof(int64_t) * (size_t)r->arr[i].rank);
		v->data = r->arr[i].data;
	}
}

/* Reports the first IN.npy that could not be read (by reading it again:
 * one that has become readable since is used as it is now). */
static bool
check_read(const run_args *a, run_inputs *r)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (!r->avail[i].path && !load_npy(a->in[i], &r->arr[i]))
			return false;
	return true;
}

static void
free_inputs(run_inputs *r)
{
	int i;

	for (i = 0; r->arr && i < r->n; i++)
		nnrt_array_free(&r->arr[i]);
	free(r->arr);
	free((void *)r->frozen);
	free(r->avail);
}

static void
set_options(const run_args *a, const run_inputs *r, fe_options *fo,
	    const fe_input_shape *sh, int nsh, const char **frozen)
{
	memset(fo, 0, sizeof *fo);
	fo->shapes = sh;
	fo->nshapes = nsh;
	fo->values = a->values;
	fo->nvalues = a->nvalues;
	fo->avail = r->avail;
	fo->navail = r->n;
	fo->frozen = frozen;
}

/* The .npy index of graph input k: the k-th file not frozen. */
static int
kept(const run_inputs *r, int k)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (!r->frozen[i] && k-- == 0)
			return i;
	nn_unreachable();
}

static bool
check_count(const run_args *a, const ir_graph *g, const run_inputs *r)
{
	int i, nf = 0;

	for (i = 0; i < r->n; i++)
		nf += r->frozen[i] != NULL;
	if (a->nin - nf == g->ninputs)
		return true;
	fprintf(stderr, TOOL ": error: %s: the graph has %d input%s, %d .npy "
		"file%s given\n", a->model, g->ninputs,
		g->ninputs == 1 ? "" : "s", a->nin, a->nin == 1 ? "" : "s");
	for (i = 0; i < g->ninputs; i++) {
		char t[200];

		value_type_str(g->inputs[i], t, sizeof t);
		fprintf(stderr, TOOL ": note: input %d '%s': %s\n", i,
			ir_value_label(g->inputs[i]), t);
	}
	return false;
}

static bool
check_inputs(const run_args *a, const ir_graph *g, const run_inputs *r)
{
	int k, i;

	for (k = 0; k < g->ninputs; k++) {
		i = kept(r, k);
		if (!check_input(g->inputs[k], k, &r->arr[i], a->in[i],
				 a->labels && k == 0))
			return false;
	}
	return true;
}

static bool
user_bound(const run_args *a, const char *name)
{
	int i;

	for (i = 0; i < a->nshapes; i++)
		if (name && strcmp(a->shapes[i].name, name) == 0)
			return true;
	return false;
}

/* An ONNX model with symbolic dimensions is imported with batch 1 unless
 * --input-shape binds it; when an input's .npy has another shape of the
 * same rank, re-import with the .npy's shape bound (quietly: if the model
 * fixes that dimension, the mismatch is reported as usual). Input 0 of
 * --labels keeps the model's batch (samples run batch by batch). */
static void
rebind_inputs(const run_args *a, ir_graph **gp, run_inputs *r)
{
	fe_input_shape *sh = nn_xcalloc((size_t)(a->nshapes + a->nin) + 1,
					sizeof *sh);
	const char **frozen = nn_xcalloc((size_t)r->n + 1, sizeof *frozen);
	int k, n = a->nshapes;
	ir_graph *g2 = NULL;
	fe_options fo;
	nn_diag d;

	if (a->nshapes) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(sh, a->shapes, sizeof *sh * (size_t)a->nshapes);
	for (k = a->labels ? 1 : 0; k < (*gp)->ninputs; k++) {
		const ir_value *v = (*gp)->inputs[k];
		const nnrt_array *arr = &r->arr[kept(r, k)];

		if (v->shape.rank != arr->rank || !v->name ||
		    user_bound(a, v->name) ||
		    !memcmp(v->shape.dim, arr->dim,
			    sizeof(int64_t) * (size_t)arr->rank))
			continue;
		sh[n].name = v->name;
		sh[n].shape.rank = arr->rank;
		memcpy(sh[n++].shape.dim, arr->dim,
		       sizeof(int64_t) * (size_t)arr->rank);
	}
	nn_diag_init(&d, TOOL, cli_model_name(a->model));
	d.out = fopen("/dev/null", "w");
	if (n > a->nshapes && fe_model_format(a->model) == FE_MODEL_ONNX &&
	    d.out) {
		set_options(a, r, &fo, sh, n, frozen);
		g2 = fe_load_model(a->model, &fo, &d);
	}
	if (d.out)
		fclose(d.out);
	if (g2) {
		ir_graph_free(*gp);
		*gp = g2;
		memcpy((void *)r->frozen, frozen, sizeof *frozen * (size_t)r->n);
	}
	free((void *)frozen);
	free(sh);
}

/* Says which inputs the import froze, and how to compile the same. */
static void
note_frozen(const run_args *a, const run_inputs *r)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (r->frozen[i])
			fprintf(stderr, TOOL ": note: input '%s' frozen to %s: "
				"shape inference needs its value (nncc: "
				"--input-value %s=%s)\n", r->frozen[i],
				a->in[i], r->frozen[i], a->in[i]);
}

static void
alloc_outputs(const ir_graph *g, tensor_set *t)
{
	int i;

	t->n = g->noutputs;
	t->buf = nn_xcalloc((size_t)t->n + 1, sizeof(void *));
	t->numel = nn_xcalloc((size_t)t->n + 1, sizeof(int64_t));
	for (i = 0; i < t->n; i++) {
		const ir_value *v = g->outputs[i];

		t->numel[i] = ir_shape_numel(&v->shape);
		NN_ASSERT(t->numel[i] >= 0);
		t->buf[i] = nn_xcalloc((size_t)t->numel[i] + 1,
				       ir_dtype_size(v->dtype));
	}
}

static void
free_outputs(tensor_set *t)
{
	int i;

	for (i = 0; i < t->n; i++)
		free(t->buf[i]);
	free(t->buf);
	free(t->numel);
}

/* Writes output i to path (see nn_out_open: never a partial file). */
static bool
write_output(const char *path, const ir_value *v, void *data, int64_t numel)
{
	nnrt_array a;
	nn_outfile o;
	nn_diag d;
	char err[256];
	FILE *f;
	bool ok;

	memset(&a, 0, sizeof a);
	a.dtype = npy_dtype(v->dtype);
	a.rank = v->shape.rank;
	memcpy(a.dim, v->shape.dim, sizeof(int64_t) * (size_t)a.rank);
	a.data = data;
	a.nbytes = (size_t)numel * ir_dtype_size(v->dtype);
	nn_diag_init(&d, TOOL, NULL);
	if (!nnrt_dtype_size(a.dtype)) {
		nn_error(&d, "%s: dtype %s has no .npy form", path,
			 ir_dtype_name(v->dtype));
		return false;
	}
	if (!(f = nn_out_open(&o, path, &d)))
		return false;
	/* a write error leaves the stream's error flag set, and the close
	 * reports it with the file's name */
	ok = nnrt_npy_fwrite(f, &a, err, sizeof err) == 0 || ferror(f);
	if (!ok)
		nn_error(&d, "%s: %s", path, err);
	return nn_out_close(&o, ok, &d);
}

/* ------------------------------------------------------------------ */
/* --expect: comparison. */

typedef struct cmp_stats {
	double max_abs, max_rel;
	int64_t nbad;
} cmp_stats;

static void
index_str(const ir_shape *s, int64_t flat, char *buf, size_t size)
{
	int64_t idx[IR_MAX_RANK];
	size_t n = 0;
	int k;

	for (k = s->rank - 1; k >= 0; k--) {
		idx[k] = s->dim[k] ? flat % s->dim[k] : 0;
		flat = s->dim[k] ? flat / s->dim[k] : 0;
	}
	n += (size_t)snprintf(buf, size, "[");
	for (k = 0; k < s->rank && n < size; k++)
		n += (size_t)snprintf(buf + n, size - n, "%s%lld",
				      k ? "," : "", (long long)idx[k]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
}

/* Whether got is close to exp: NaN equals NaN, infinities must match
 * exactly, integers and bools compare exactly. */
static bool
close_enough(double got, double exp, bool exact, double rtol, double atol)
{
	if (isnan(got) || isnan(exp))
		return isnan(got) && isnan(exp);
	if (got == exp)
		return true;
	if (exact)
		return false;
	return fabs(got - exp) <= atol + rtol * fabs(exp);
}

static void
accumulate(cmp_stats *st, double got, double exp)
{
	double abs_err = fabs(got - exp);

	if (isnan(got) || isnan(exp) || got == exp)
		return;
	if (abs_err > st->max_abs || isnan(abs_err))
		st->max_abs = abs_err;
	if (exp != 0 && abs_err / fabs(exp) > st->max_rel)
		st->max_rel = abs_err / fabs(exp);
}

/* Compares got with exp; with show, prints the first mismatches. */
static cmp_stats
compare_data(const ir_value *v, const void *got, const void *exp,
	     int64_t numel, const run_args *a, bool show)
{
	bool exact = !ir_dtype_is_float(v->dtype);
	cmp_stats st = { 0, 0, 0 };
	char at[200];
	int64_t i;

	for (i = 0; i < numel; i++) {
		double x = ir_load_f64(got, v->dtype, i);
		double e = ir_load_f64(exp, v->dtype, i);

		accumulate(&st, x, e);
		if (close_enough(x, e, exact, a->rtol, a->atol))
			continue;
		if (st.nbad++ < MAX_MISMATCH_LINES && show) {
			index_str(&v->shape, i, at, sizeof at);
			printf("  mismatch at %s: got %.9g, expected %.9g\n",
			       at, x, e);
		}
	}
	return st;
}

/* Compares output i against the .npy at path; false on any mismatch. */
static bool
compare_output(const run_args *a, int i, const ir_value *v, const void *got,
	       int64_t numel)
{
	const char *path = a->expect[i];
	char want[200], have[200];
	nnrt_array e;
	cmp_stats st;
	bool ok;

	if (!load_npy(path, &e))
		return false;
	if (e.dtype != npy_dtype(v->dtype) || e.rank != v->shape.rank ||
	    memcmp(e.dim, v->shape.dim, sizeof(int64_t) * (size_t)e.rank)) {
		value_type_str(v, have, sizeof have);
		array_type_str(&e, want, sizeof want);
		printf("output %d '%s': mismatch: got %s, expected %s (%s)\n",
		       i, ir_value_label(v), have, want, path);
		nnrt_array_free(&e);
		return false;
	}
	st = compare_data(v, got, e.data, numel, a, false);
	ok = st.nbad == 0;
	printf("output %d '%s': max abs err %.3g, max rel err %.3g\n", i,
	       ir_value_label(v), st.max_abs, st.max_rel);
	if (!ok) {
		printf("output %d '%s': mismatch: %lld of %lld elements differ"
		       " (rtol %g, atol %g)\n", i, ir_value_label(v),
		       (long long)st.nbad, (long long)numel, a->rtol,
		       a->atol);
		compare_data(v, got, e.data, numel, a, true);
	}
	nnrt_array_free(&e);
	return ok;
}

/* ------------------------------------------------------------------ */
/* --labels: top-1 accuracy over many samples. */

static bool
load_labels(const run_args *a, int64_t nsamples, nnrt_array *y)
{
	if (!load_npy(a->labels, y))
		return false;
	if (!ir_dtype_is_int((ir_dtype)y->dtype) ||
	    nnrt_array_numel(y) != nsamples || y->rank < 1 ||
	    y->dim[0] != nsamples) {
		char t[200];

		array_type_str(y, t, sizeof t);
		fprintf(stderr, TOOL ": error: %s: expected %lld integer "
			"labels, got %s\n", a->labels, (long long)nsamples,
			t);
		nnrt_array_free(y);
		return false;
	}
	return true;
}

/* The number of output-0 elements that belong to one sample of a batch of
 * b; -1 (reported) if output 0 is not laid out per sample. */
static int64_t
per_sample(const ir_graph *g, int64_t b)
{
	const ir_value *v = g->outputs[0];
	int64_t numel = ir_shape_numel(&v->shape);

	if (v->shape.rank >= 1 && v->shape.dim[0] == b)
		return numel / b;
	if (b == 1)
		return numel;
	fprintf(stderr, TOOL ": error: --labels: output 0 '%s' has no batch "
		"dimension of %lld\n", ir_value_label(v), (long long)b);
	return -1;
}

static int64_t
argmax(const void *data, ir_dtype t, int64_t off, int64_t n)
{
	int64_t i, best = 0;
	double bv = ir_load_f64(data, t, off);

	for (i = 1; i < n; i++) {
		double x = ir_load_f64(data, t, off + i);

		if (x > bv) {
			bv = x;
			best = i;
		}
	}
	return best;
}

/* Runs batches of b samples out of input 0 and counts correct top-1
 * predictions; -1 on error. */
static int64_t
score(ir_graph *g, const nnrt_array *in, const nnrt_array *y, int64_t b,
      int64_t per, nn_diag *d)
{
	const void **ins = nn_xcalloc((size_t)g->ninputs, sizeof(void *));
	size_t row = in[0].nbytes / (size_t)in[0].dim[0];
	int64_t s, j, correct = 0;
	tensor_set out;
	int i;

	alloc_outputs(g, &out);
	for (i = 1; i < g->ninputs; i++)
		ins[i] = in[i].data;
	for (s = 0; s < in[0].dim[0] && correct >= 0; s += b) {
		ins[0] = (const char *)in[0].data + (size_t)s * row;
		if (!ir_run(g, (const void *const *)ins, out.buf, d)) {
			correct = -1;
			break;
		}
		for (j = 0; j < b; j++)
			correct += argmax(out.buf[0], g->outputs[0]->dtype,
					  j * per, per) ==
				   ir_load_i64(y->data, (ir_dtype)y->dtype,
					       s + j);
	}
	free_outputs(&out);
	free((void *)ins);
	return correct;
}

static bool
run_labels(const run_args *a, ir_graph *g, const nnrt_array *in, nn_diag *d)
{
	int64_t n = in[0].rank ? in[0].dim[0] : 0;
	int64_t b = g->inputs[0]->shape.rank ? g->inputs[0]->shape.dim[0] : 0;
	int64_t per, correct;
	nnrt_array y;

	if (b <= 0 || n <= 0 || n % b != 0) {
		fprintf(stderr, TOOL ": error: --labels: %lld samples in %s do "
			"not split into batches of %lld (input 0's first "
			"dimension)\n", (long long)n, a->in[0], (long long)b);
		return false;
	}
	per = per_sample(g, b);
	if (per <= 0 || !load_labels(a, n, &y))
		return false;
	correct = score(g, in, &y, b, per, d);
	nnrt_array_free(&y);
	if (correct < 0)
		return false;
	printf("accuracy: %.4f (%lld/%lld)\n", (double)correct / (double)n,
	       (long long)correct, (long long)n);
	return true;
}

/* ------------------------------------------------------------------ */
/* The plain run. */

static void
print_output(int i, const ir_value *v, const void *data, int64_t numel)
{
	char t[200];
	int64_t k;

	value_type_str(v, t, sizeof t);
	printf("output %d '%s': %s = [", i, ir_value_label(v), t);
	for (k = 0; k < numel && k < 32; k++)
		printf("%s%.6g", k ? ", " : "", ir_load_f64(data, v->dtype, k));
	printf("%s]\n", numel > 32 ? ", ..." : "");
}

static bool
finish_outputs(const run_args *a, const ir_graph *g, const tensor_set *t)
{
	bool ok = true;
	int i;

	for (i = 0; i < a->nout && ok; i++)
		ok = write_output(a->out[i], g->outputs[i], t->buf[i],
				  t->numel[i]);
	for (i = 0; i < a->nexpect; i++)
		if (!compare_output(a, i, g->outputs[i], t->buf[i],
				    t->numel[i]))
			ok = false;
	for (i = 0; i < t->n && !a->nout && !a->nexpect; i++)
		print_output(i, g->outputs[i], t->buf[i], t->numel[i]);
	return ok;
}

static bool
check_counts(const run_args *a, const ir_graph *g)
{
	if (a->nout > g->noutputs) {
		fprintf(stderr, TOOL ": error: %d -o files given, the graph "
			"has %d output%s\n", a->nout, g->noutputs,
			g->noutputs == 1 ? "" : "s");
		return false;
	}
	if (a->nexpect && a->nexpect != g->noutputs) {
		fprintf(stderr, TOOL ": error: %d --expect files given, the "
			"graph has %d output%s\n", a->nexpect, g->noutputs,
			g->noutputs == 1 ? "" : "s");
		return false;
	}
	if (a->labels && (a->nout || a->nexpect)) {
		fprintf(stderr, TOOL ": error: --labels cannot be combined "
			"with -o or --expect\n");
		return false;
	}
	return true;
}

static bool
run_model(const run_args *a, ir_graph **gp, run_inputs *r, nn_diag *d)
{
	const void **ptr;
	tensor_set out = { 0, NULL, NULL };
	ir_graph *g;
	bool ok;
	int k;

	ok = check_counts(a, *gp) && check_count(a, *gp, r) &&
	     check_read(a, r);
	if (ok)
		rebind_inputs(a, gp, r);
	g = *gp;
	ok = ok && check_counts(a, g) && check_count(a, g, r) &&
	     check_inputs(a, g, r);
	if (ok)
		note_frozen(a, r);
	ptr = nn_xcalloc((size_t)g->ninputs + 1, sizeof *ptr);
	if (ok && a->labels) {
		nnrt_array *in = nn_xcalloc((size_t)g->ninputs + 1,
					    sizeof *in);
		for (k = 0; k < g->ninputs; k++)
			in[k] = r->arr[kept(r, k)];
		ok = run_labels(a, g, in, d);
		free(in);
	} else if (ok) {
		for (k = 0; k < g->ninputs; k++)
			ptr[k] = r->arr[kept(r, k)].data;
		alloc_outputs(g, &out);
		ok = ir_run(g, (const void *const *)ptr, out.buf, d) &&
		     finish_outputs(a, g, &out);
		free_outputs(&out);
	}
	free((void *)ptr);
	return ok;
}

int
main(int argc, char **argv)
{
	run_args a;
	run_inputs in;
	fe_options fo;
	ir_graph *g = NULL;
	nn_diag d;
	int r;

	memset(&a, 0, sizeof a);
	memset(&in, 0, sizeof in);
	a.rtol = 1e-4;
	a.atol = 1e-5;
	r = parse_args(&a, argc, argv);
	if (r == 2)
		usage(stdout);
	if (r == 3) {
		cli_version(TOOL);
		r = 2;
	}
	if (r == 0) {
		cli_timer t;
		cli_timer_start(&t, TOOL, a.verbose);
		r = 1;
		nn_diag_init(&d, TOOL, cli_model_name(a.model));
		read_inputs(&a, &in);
		cli_phase(&t, "inputs");
		set_options(&a, &in, &fo, a.shapes, a.nshapes, in.frozen);
		g = fe_load_model(a.model, &fo, &d);
		if (!g) /* the data it lacked may be why */
			check_read(&a, &in);
		else
			cli_phase(&t, "import");
		r = g && run_model(&a, &g, &in, &d) ? 0 : 1;
		if (r == 0) {
			cli_phase(&t, "run");
			cli_timer_end(&t);
		}
	}
	if (g)
		ir_graph_free(g);
	free_inputs(&in);
	free((void *)a.in);
	free((void *)a.out);
	free((void *)a.expect);
	free(a.shapes);
	cli_free_input_values(a.values, a.nvalues);
	return r == 2 ? 0 : r;
}
