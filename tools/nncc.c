/* nncc: the compiler driver. Loads a model (ONNX or IR text), runs the
 * pass pipeline of the -O level, then the lossy compression passes asked
 * for (measuring what they cost), and emits an object file (or assembly,
 * LLVM IR, bitcode) and optionally its C header. */
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "cli.h"
#include "frontend.h"
#include "nnrt.h"
#include "passes.h"

/* The value of option NAME at argv[*i] (cli_value), inside a parser with
 * argc, argv, i and a bool bad in scope. */
#define VALUE(name) cli_value(TOOL, argc, argv, i, name, &bad)

#define TOOL "nncc"
#define NNCC_VERSION "0.1.0"

typedef struct args {
	const char *model, *out, *name, *header, *emit_ir, *cpu, *triple;
	const char *emit_onnx; /* --emit-onnx: the graph as plain ONNX */
	int opt;          /* 0..3 */
	bool size, asm_out, emit_llvm;
	pass_run_opts run;
	fe_input_shape *shapes;
	int nshapes;
	/* compression (docs/compression.md); prune_spec is the pass text */
	char prune_spec[256];
	const char *prune, *prune_rules, *calib, *labels;
	int share;        /* 0: no sharing */
	bool share_global; /* one codebook across layers */
	double tolerance; /* < 0: none */
	bool report;
	int kernel;       /* --sparse-kernel: a cg_kernel, 0 = cost model */
} args;

static void
usage(FILE *f)
{
	fputs("usage: " TOOL " MODEL [options] -o FILE\n"
	      "       " TOOL " MODEL [options] --emit-onnx FILE [-o FILE]\n"
	      "  MODEL                   .onnx file or IR text (.nnir)\n"
	      "  -o FILE                 output (object by default; - for "
	      "stdout)\n"
	      "  -O0 -O1 -O2 -O3 -Os     optimization level (default -O2)\n"
	      "  -S                      emit assembly\n"
	      "  --emit-llvm             emit LLVM IR text (.ll; bitcode if -o "
	      "ends in .bc)\n"
	      "  -mcpu=CPU               target CPU (default: the host's)\n"
	      "  --target=TRIPLE         target triple (default: the host's)\n"
	      "  --name NAME             symbol prefix (default: output file "
	      "stem)\n"
	      "  -H FILE, --emit-header FILE   write the C header\n"
	      "  --input-shape N=DIMS    bind input N's shape, e.g. "
	      "x=1x3x224x224 (repeatable)\n"
	      "  --emit-ir FILE          write the IR code generation receives\n"
	      "  --print-after=PASS      dump the IR to stderr after PASS\n"
	      "  --print-after-all       dump the IR after every pass\n"
	      "  --print-stats           per-pass statistics on stderr\n"
	      "compression (lossy, only when asked; runs after the -O passes):\n"
	      "  --prune=SPARSITY[:METHOD]  prune weight layers to SPARSITY in "
	      "[0, 1];\n"
	      "                          METHOD: magnitude (default), global, "
	      "random, l1, l2,\n"
	      "                          nmN:M (e.g. nm2:4), blockRxC (e.g. "
	      "block4x4), dense\n"
	      "  --prune-rules FILE      per-layer rules (docs/compression.md)\n"
	      "  --share=K[:SCOPE]       k-means weight sharing, K in 2..256 "
	      "centroids;\n"
	      "                          SCOPE: layer (a codebook per layer, "
	      "default)\n"
	      "                          or global (one for all layers)\n"
	      "  --calib FILE.npy        f32 inputs to measure fidelity on "
	      "(default:\n"
	      "                          seeded random inputs)\n"
	      "  --labels FILE.npy       int labels of --calib: report "
	      "accuracy\n"
	      "  --tolerance X           fail if top-1 agreement with the "
	      "uncompressed\n"
	      "                          model is below 1-X\n"
	      "  --report                per-layer table, sizes and fidelity "
	      "(stdout)\n"
	      "  --emit-onnx FILE        write the model after all passes as "
	      "plain ONNX\n"
	      "                          (without -o, only that file)\n"
	      "  --sparse-kernel=K       auto (cost model, default), dense, "
	      "unrolled or table\n"
	      "                          for every weight layer that can take "
	      "it (testing)\n"
	      "  --help, --version\n", f);
}

static int
err(const char *fmt, const char *a)
{
	fprintf(stderr, TOOL ": error: ");
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	return 1;
}

/* --prune=S[:METHOD] -> "prune{sparsity=S,method=...}" in a->prune_spec. */
static bool
parse_prune(args *a, const char *v)
{
	const char *colon = strchr(v, ':'), *m = colon ? colon + 1 : "magnitude";
	char *end, extra[64] = "";
	double s = strtod(v, &end);
	int x, y, k;

	if (end == v || (*end && end != colon) || !(s >= 0 && s <= 1)) {
		fprintf(stderr, TOOL ": error: --prune: bad sparsity '%.*s' "
			"(expected a number in [0, 1])\n",
			(int)(colon ? colon - v : (long)strlen(v)), v);
		return false;
	}
	if (!strcmp(m, "magnitude") || !strcmp(m, "global") ||
	    !strcmp(m, "random") || !strcmp(m, "l1") || !strcmp(m, "l2") ||
	    !strcmp(m, "dense")) {
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
			"(expected magnitude, global, random, l1, l2, nmN:M, "
			"blockRxC or dense)\n", m);
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

static bool
parse_tolerance(args *a, const char *v)
{
	char *end;
	double t = strtod(v, &end);

	if (end == v || *end || !(t >= 0 && t <= 1)) {
		err("--tolerance: bad value '%s' (expected a number in [0, 1])",
		    v);
		return false;
	}
	a->tolerance = t;
	return true;
}

/* The compression flags: 1 handled, 0 not one, -1 error. */
static int
parse_compression(args *a, int argc, char **argv, int *i)
{
	bool bad = false;
	const char *v;

	if ((v = VALUE("--prune-rules")))
		a->prune_rules = v;
	else if (!bad && (v = VALUE("--prune")))
		return parse_prune(a, v) ? 1 : -1;
	else if (!bad && (v = VALUE("--share")))
		return parse_share(a, v) ? 1 : -1;
	else if (!bad && (v = VALUE("--calib")))
		a->calib = v;
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
			err("--sparse-kernel: unknown kernel '%s' (expected "
			    "auto, dense, unrolled or table)", v);
			return -1;
		}
	} else if (!bad && (v = VALUE("--emit-onnx")))
		a->emit_onnx = v;
	return bad ? -1 : v ? 1 : 0;
}


/* 1 handled, 0 not a valued option, -1 error. */
static int
parse_valued(args *a, int argc, char **argv, int *i)
{
	bool bad = false;
	const char *v;
	int r = parse_compression(a, argc, argv, i);

	if (r != 0)
		return r;
	if ((v = VALUE("-o")))
		a->out = v;
	else if (!bad && (v = VALUE("--name")))
		a->name = v;
	else if (!bad && ((v = VALUE("-H")) ||
			  (!bad && (v = VALUE("--emit-header")))))
		a->header = v;
	else if (!bad && (v = VALUE("--emit-ir")))
		a->emit_ir = v;
	else if (!bad && (v = VALUE("--target")))
		a->triple = v;
	else if (!bad && (v = VALUE("--print-after")))
		a->run.print_after = v;
	else if (!bad && (v = VALUE("--input-shape")))
		return cli_add_input_shape(TOOL, &a->shapes, &a->nshapes, v) ? 1 : -1;
	return bad ? -1 : v ? 1 : 0;
}

static int
parse_flag(args *a, const char *s)
{
	if (!strncmp(s, "-O", 2) && s[2] && !s[3] &&
	    strchr("0123s", s[2])) {
		a->size = s[2] == 's';
		a->opt = a->size ? 2 : s[2] - '0';
	} else if (!strcmp(s, "-S"))
		a->asm_out = true;
	else if (!strcmp(s, "--emit-llvm"))
		a->emit_llvm = true;
	else if (!strncmp(s, "-mcpu=", 6))
		a->cpu = s + 6;
	else if (!strcmp(s, "--print-after-all"))
		a->run.print_after_all = true;
	else if (!strcmp(s, "--print-stats"))
		a->run.print_stats = true;
	else if (!strcmp(s, "--report"))
		a->report = true;
	else
		return err("unknown option '%s' (see --help)", s);
	return 0;
}

/* 0 ok, 1 error, 2 --help, 3 --version. */
static int
parse_args(args *a, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int r;
		if (!strcmp(s, "--help") || !strcmp(s, "-h"))
			return 2;
		if (!strcmp(s, "--version"))
			return 3;
		if ((r = parse_valued(a, argc, argv, &i)) != 0) {
			if (r < 0)
				return 1;
		} else if (s[0] == '-' && s[1]) {
			if (parse_flag(a, s))
				return 1;
		} else if (a->model) {
			fprintf(stderr, TOOL ": error: more than one model given "
				"('%s' and '%s')\n", a->model, s);
			return 1;
		} else {
			a->model = s;
		}
	}
	if (!a->model)
		return err("no model given%s", " (see --help)");
	if (!a->out && !a->emit_onnx)
		return err("no output file given%s",
			   " (-o FILE, or --emit-onnx FILE)");
	if (a->out && a->emit_onnx && !strcmp(a->out, "-") &&
	    !strcmp(a->emit_onnx, "-"))
		return err("-o and --emit-onnx cannot both be stdout%s", "");
	if (a->name && !cg_is_identifier(a->name))
		return err("--name '%s' is not a C identifier", a->name);
	/* rules alone: unmatched layers stay as they are (sparsity 0), and
	 * a rule giving only a sparsity means magnitude, not dense */
	if (a->prune_rules && !a->prune)
		snprintf(a->prune_spec, sizeof a->prune_spec,
			 "prune{sparsity=0,method=magnitude}");
	if (a->labels && !a->calib)
		return err("--labels needs --calib (the inputs they label)%s",
			   "");
	return 0;
}

static bool
write_ir(const char *path, ir_graph *g, nn_diag *d)
{
	nn_outfile o;
	FILE *f = nn_out_open(&o, path, d);

	if (!f)
		return false;
	ir_print(f, g, &(ir_print_opts){true});
	return nn_out_close(&o, true, d);
}

static cg_output
output_kind(const args *a)
{
	/* --emit-llvm writes LLVM IR text (.ll); bitcode when -o names a .bc
	 * file. */
	if (a->emit_llvm && a->out) {
		size_t n = strlen(a->out);
		return n > 3 && strcmp(a->out + n - 3, ".bc") == 0 ? CG_OUT_BC
								   : CG_OUT_LL;
	}
	return a->asm_out ? CG_OUT_ASM : CG_OUT_OBJ;
}

/* Writes the requested files; on failure removes the ones written. */
static bool
emit_all(const args *a, ir_graph *g, const char *name, nn_diag *d)
{
	cg_options o = {name, a->opt, a->size, a->cpu, a->triple,
			output_kind(a), a->run.print_stats, a->kernel};
	const char *done[3];
	int n = 0;
	bool ok = true;

	if (a->emit_onnx && (ok = fe_export_onnx(g, a->emit_onnx, d)))
		done[n++] = a->emit_onnx;
	if (ok && a->emit_ir && (ok = write_ir(a->emit_ir, g, d)))
		done[n++] = a->emit_ir;
	if (ok && a->header && (ok = cg_write_header(g, name, a->header, d)))
		done[n++] = a->header;
	if (ok && a->out)
		ok = cg_compile(g, &o, a->out, d);
	while (!ok && n-- > 0)
		nn_out_remove(done[n]);
	return ok;
}

static bool
lossy(const args *a)
{
	return a->prune_spec[0] || a->share;
}

/* The whole pipeline when compressing. Pruning sees the model's weights as
 * given, after only the exact folds that make them constants (const-fold,
 * eliminate-layers) and before the structural passes: --prune=S then means
 * S of the model's own weights, rather than of what dead-neurons left (it
 * would shrink the denominators and prune real weights the user's zeros
 * already paid for). The rest of the -O pipeline follows (at least
 * dead-neurons and dce, so structurally pruned rows physically go), and
 * sharing comes last, since passes that rebuild weights drop codebooks. */
static void
lossy_spec(const args *a, const char *ospec, char *buf, size_t n)
{
	static const char head[] = "const-fold,eliminate-layers,";
	size_t k = (size_t)snprintf(buf, n, "%s", head);

	if (a->prune_spec[0]) {
		/* the rules path is added by load_optimized: a file name may
		 * hold ',' or '}', which the text form cannot carry */
		k += (size_t)snprintf(buf + k, n - k, "%s,", a->prune_spec);
	}
	if (strncmp(ospec, head, sizeof head - 1) == 0)
		k += (size_t)snprintf(buf + k, n - k, "%s",
				      ospec + sizeof head - 1);
	else
		k += (size_t)snprintf(buf + k, n - k, "dead-neurons,dce");
	if (a->share)
		snprintf(buf + k, n - k, ",share-weights{k=%d,scope=%s}",
			 a->share, a->share_global ? "global" : "layer");
}

static bool
read_npy(const char *flag, const char *path, nnrt_array *arr, nn_diag *d)
{
	char e[256];
	const char *why;
	FILE *f = nn_in_open(path, &why);
	int rc = -1;

	if (f) {
		rc = nnrt_npy_fread(f, arr, e, sizeof e);
		fclose(f);
	} else
		snprintf(e, sizeof e, "%s", why);
	if (rc == 0)
		return true;
	nn_error(d, "%s: cannot read '%s': %s", flag, path, e);
	return false;
}

/* Checks the --calib array against input 0 of g: f32, samples along dim
 * 0, a whole number of batches. */
static bool
check_calib(const ir_graph *g, const nnrt_array *x, const char *path,
	    nn_diag *d)
{
	const ir_shape *s = &g->inputs[0]->shape;
	bool ok = x->dtype == NNRT_F32 && x->rank == s->rank && s->rank >= 1;

	for (int k = 1; ok && k < s->rank; k++)
		ok = x->dim[k] == s->dim[k];
	if (!ok) {
		nn_error(d, "--calib: '%s' must be f32 with the shape of input "
			 "'%s' (%s) but for dim 0, got %s with rank %d", path,
			 ir_value_label(g->inputs[0]),
			 ir_dtype_name(g->inputs[0]->dtype),
			 nnrt_dtype_name(x->dtype), x->rank);
		return false;
	}
	if (x->dim[0] == 0 || x->dim[0] % s->dim[0]) {
		nn_error(d, "--calib: '%s' has %lld samples, not a positive "
			 "multiple of the model's batch %lld", path,
			 (long long)x->dim[0], (long long)s->dim[0]);
		return false;
	}
	return true;
}

static int64_t *
read_labels(const char *path, int64_t n, nn_diag *d)
{
	nnrt_array y;
	int64_t *l = NULL;

	if (!read_npy("--labels", path, &y, d))
		return NULL;
	if ((y.dtype != NNRT_I64 && y.dtype != NNRT_I32) ||
	    nnrt_array_numel(&y) != n) {
		nn_error(d, "--labels: '%s' must hold %lld int64 or int32 "
			 "labels, one per --calib sample", path, (long long)n);
	} else {
		l = nn_xmalloc((size_t)n * sizeof *l);
		for (int64_t i = 0; i < n; i++)
			l[i] = y.dtype == NNRT_I64 ? ((int64_t *)y.data)[i]
						   : ((int32_t *)y.data)[i];
	}
	nnrt_array_free(&y);
	return l;
}

/* Why fidelity cannot be measured on ref, or NULL: it runs samples
 * through the model's one f32 input, stacked along dim 0. */
static const char *
unmeasurable(const ir_graph *ref)
{
	if (ref->ninputs != 1)
		return "the model has more than one input";
	if (ref->inputs[0]->dtype != IR_F32)
		return "the model's input is not f32";
	if (ref->inputs[0]->shape.rank < 1 || ref->inputs[0]->shape.dim[0] < 1)
		return "the model's input has no batch dimension";
	if (ref->noutputs < 1 || ref->outputs[0]->shape.rank < 1 ||
	    ref->outputs[0]->shape.dim[0] != ref->inputs[0]->shape.dim[0])
		return "the model's output 0 has no row per sample";
	return NULL;
}

/* Fidelity of g against ref on --calib, or on seeded random inputs. */
static bool
measure(const args *a, ir_graph *ref, ir_graph *g, pass_fidelity *fid,
	char *note, size_t nn, nn_diag *d)
{
	nnrt_array x = {0};
	float *rnd = NULL;
	int64_t *labels = NULL, n, B;
	bool ok;

	B = ref->inputs[0]->shape.dim[0];
	if (a->calib) {
		if (!read_npy("--calib", a->calib, &x, d) ||
		    !check_calib(ref, &x, a->calib, d))
			goto fail;
		n = x.dim[0];
		snprintf(note, nn, "--calib %s", a->calib);
		if (a->labels && !(labels = read_labels(a->labels, n, d)))
			goto fail;
	} else {
		n = B * (a->report ? 64 : 16);
		rnd = pass_random_calib(ref, n, 1);
		snprintf(note, nn, "%lld seeded random batches (no --calib)",
			 (long long)(n / B));
	}
	ok = pass_measure_fidelity(ref, g, a->calib ? x.data : rnd, n, labels,
				   fid, d);
	nnrt_array_free(&x);
	free(rnd);
	free(labels);
	return ok;
fail:
	nnrt_array_free(&x);
	return false;
}

static const char *
method_of(const args *a, const ir_value *w)
{
	static char buf[96];
	const char *colon = a->prune ? strchr(a->prune, ':') : NULL;
	const char *p = a->prune_rules ? "rules" : colon ? colon + 1
		      : a->prune ? "magnitude" : NULL;

	/* "l1", "share16", "nm2:4+share16" */
	if (!p && !w->ncodes)
		return "-";
	snprintf(buf, sizeof buf, "%s%s", p ? p : "", p && w->ncodes ? "+" : "");
	if (w->ncodes)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "share%d",
			 w->ncodes);
	return buf;
}

/* The element count of the weight of the layer named `name` in g (the
 * uncompressed graph), or `dflt` if g has no layer of that name. */
static int64_t
params_before(ir_graph *g, const char *name, int64_t dflt)
{
	for (ir_node *n = g->first; n && name; n = n->next)
		if (n->name && strcmp(n->name, name) == 0 && n->nin > 1 &&
		    n->in[1])
			return ir_shape_numel(&n->in[1]->shape);
	return dflt;
}

/* One row per weight layer (to f, unless NULL); returns the bytes the
 * chosen kernels store. `params` is the layer's weight count in the
 * uncompressed model and sparsity the share of those gone, pruned or
 * physically removed with dead neurons. */
static int64_t
report_layers(FILE *f, const args *a, ir_graph *ref, ir_graph *g,
	      const cg_options *o)
{
	int64_t total = 0;

	if (f)
		fprintf(f, "%-24s %-15s %-16s %10s %10s %9s %12s %-8s\n",
			"layer", "op", "method", "params", "nnz", "sparsity",
			"object-bytes", "kernel");
	for (ir_node *n = g->first; n; n = n->next) {
		cg_kernel_choice c;
		const ir_value *w;
		if (cg_sparse_choose(n, o, &c) == CG_KERNEL_NONE)
			continue;
		w = n->in[1];
		total += c.bytes[c.kind];
		if (!f)
			continue;
		int64_t p = params_before(ref, n->name, c.params);
		fprintf(f, "%-24s %-15s %-16s %10lld %10lld %8.2f%% %12lld "
			"%-8s\n", n->name ? n->name : ir_value_label(w),
			ir_ops[n->op].name, method_of(a, w), (long long)p,
			(long long)c.nnz,
			p ? 100.0 * (1 - (double)c.nnz / (double)p) : 0.0,
			(long long)c.bytes[c.kind], cg_kernel_name(c.kind));
	}
	return total;
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

static void
print_fid(FILE *f, const pass_fidelity *fid, const char *note)
{
	fprintf(f, "fidelity on %lld samples (%s): max abs err %.3g, max rel "
		"err %.3g, top-1 agreement %.4f (%lld/%lld)\n",
		(long long)fid->nsamples, note, fid->max_abs, fid->max_rel,
		fid->top1_agree, (long long)fid->agree,
		(long long)fid->nsamples);
	if (fid->accuracy >= 0)
		fprintf(f, "accuracy: %.4f (%lld/%lld), uncompressed %.4f "
			"(%lld/%lld)\n", fid->accuracy, (long long)fid->correct,
			(long long)fid->nsamples, fid->ref_accuracy,
			(long long)fid->ref_correct, (long long)fid->nsamples);
}

/* --report (stdout, or stderr when the object goes to stdout), or the
 * one-line cost of the lossy passes; then --tolerance. */
static bool
account(const args *a, ir_graph *ref, ir_graph *g, const char *name,
	nn_diag *d)
{
	cg_options o = {name, a->opt, a->size, a->cpu, a->triple,
			output_kind(a), false, a->kernel};
	bool out_stdout = (a->out && !strcmp(a->out, "-")) ||
			  (a->emit_onnx && !strcmp(a->emit_onnx, "-"));
	FILE *f = out_stdout ? stderr : stdout;
	pass_fidelity fid;
	char note[512];
	const char *why = unmeasurable(ref);
	bool ok = !why && measure(a, ref, g, &fid, note, sizeof note, d);
	int64_t before = dense_weight_bytes(ref), after;

	/* a bad --calib/--labels is an error; a model fidelity cannot be
	 * measured on (several inputs, ...) only when --calib or --tolerance
	 * asks for it: else the build goes on, with a warning */
	if (why && (a->tolerance >= 0 || a->calib))
		nn_error(d, "%s: cannot measure fidelity: %s",
			 a->calib ? "--calib" : "--tolerance", why);
	else if (why)
		nn_warn(d, "fidelity not measured: %s", why);
	if (!ok && (a->tolerance >= 0 || a->calib || !why))
		return false;
	if (a->report) {
		after = report_layers(f, a, ref, g, &o);
		fprintf(f, "weights: %lld bytes dense f32 before, %lld bytes in "
			"the object after (%.2fx smaller)\n", (long long)before,
			(long long)after, after ? (double)before / (double)after
			: 0.0);
		if (ok)
			print_fid(f, &fid, note);
	} else if (ok) {
		after = report_layers(NULL, a, ref, g, &o);
		nn_note(d, "compression: weights %lld -> %lld bytes; on %lld "
			"samples (%s): max abs err %.3g, top-1 agreement %.4f",
			(long long)before, (long long)after,
			(long long)fid.nsamples, note, fid.max_abs,
			fid.top1_agree);
	}
	if (a->tolerance >= 0 && 1 - fid.top1_agree > a->tolerance + 1e-12) {
		nn_error(d, "top-1 agreement with the uncompressed model is "
			 "%.4f (%lld/%lld), below 1 - tolerance = %.4f; nothing "
			 "written", fid.top1_agree, (long long)fid.agree,
			 (long long)fid.nsamples, 1 - a->tolerance);
		return false;
	}
	return true;
}

static ir_graph *
load_optimized(const args *a, const char *spec, const pass_run_opts *ro,
	       nn_diag *d)
{
	fe_options fo = {a->shapes, a->nshapes};
	pass_pipeline *pl = pass_pipeline_parse(spec, d);
	ir_graph *g = pl ? fe_load_model(a->model, &fo, d) : NULL;

	if (pl && a->prune_rules)  /* the reference pipeline has no prune */
		pass_pipeline_add_opt(pl, "prune", "rules", a->prune_rules);

	if (g && !pass_pipeline_run(pl, g, ro, d)) {
		ir_graph_free(g);
		g = NULL;
	}
	if (pl)
		pass_pipeline_free(pl);
	return g;
}

/* The size that counts in the end: the whole object file as written. */
static void
report_object(const args *a)
{
	struct stat st;

	if (a->out && strcmp(a->out, "-") && stat(a->out, &st) == 0)
		printf("object: %s, %lld bytes (code, data and ELF overhead)\n",
		       a->out, (long long)st.st_size);
}

static int
compile(args *a)
{
	const char *ospec = pass_pipeline_for_level(a->opt, a->size);
	char spec[2048];
	pass_run_opts quiet = {0};
	char *name;
	nn_diag d;
	ir_graph *g, *ref = NULL;
	bool ok;

	nn_diag_init(&d, TOOL, a->model);
	if (lossy(a))
		lossy_spec(a, ospec, spec, sizeof spec);
	else
		snprintf(spec, sizeof spec, "%s", ospec);
	name = a->name ? nn_xstrdup(a->name)
		       : cg_default_name(a->out && strcmp(a->out, "-")
					 ? a->out : a->model);
	g = load_optimized(a, spec, &a->run, &d);
	ok = g != NULL;
	if (ok && (lossy(a) || a->report || a->tolerance >= 0)) {
		ref = load_optimized(a, ospec, &quiet, &d);
		ok = ref && account(a, ref, g, name, &d);
	}
	ok = ok && emit_all(a, g, name, &d);
	if (ok && a->report)
		report_object(a);
	if (g)
		ir_graph_free(g);
	if (ref)
		ir_graph_free(ref);
	free(name);
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	args a;
	int r;

	memset(&a, 0, sizeof a);
	a.opt = 2;
	a.tolerance = -1;
	r = parse_args(&a, argc, argv);
	if (r == 2) {
		usage(stdout);
		return 0;
	}
	if (r == 3) {
		printf(TOOL " " NNCC_VERSION "\n");
		return 0;
	}
	if (r != 0)
		return 1;
	r = compile(&a);
	free(a.shapes);
	return r;
}
