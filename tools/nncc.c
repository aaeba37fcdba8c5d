/* nncc: the compiler driver. Loads a model (ONNX or IR text), runs the
 * pass pipeline of the -O level, then the lossy compression passes asked
 * for (measuring what they cost), and emits an object file (or assembly,
 * LLVM IR, bitcode) and optionally its C header. */
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "nncc.h"
#include "nnrt.h"

/* The value of option NAME at argv[*i] (cli_value), inside a parser with
 * argc, argv, i and a bool bad in scope. */
#define VALUE(name) cli_value(TOOL, argc, argv, i, name, &bad)

static void
usage(FILE *f)
{
	fputs("usage: " TOOL " MODEL [options] -o FILE\n"
	      "       " TOOL " MODEL [options] --emit-onnx FILE [-o FILE]\n"
	      "  MODEL                   ONNX or IR text, told apart by "
	      "content; - for stdin\n"
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
	      "  --no-static-arena       no NAME_run and no static arena (only "
	      "NAME_run_with_workspace)\n"
	      "  --weights-section NAME  put the weights in section NAME (flash, "
	      "external memory)\n"
	      "  --input-shape N=DIMS    bind input N's shape, e.g. "
	      "x=1x3x224x224, or symbolic\n"
	      "                          dimension N in every input (N=8; "
	      "repeatable)\n"
	      "  --input-value N=V       freeze input N to a constant (it "
	      "leaves the API):\n"
	      "                          a scalar or a .npy file "
	      "(repeatable)\n"
	      "  --emit-ir FILE          write the IR code generation receives\n"
	      "  --emit-dot FILE         write that graph as Graphviz DOT (weight"
	      " layers with\n"
	      "                          shape, sparsity and kernel)\n"
	      "  --print-after=PASS      dump the IR to stderr after PASS\n"
	      "  --print-after-all       dump the IR after every pass\n"
	      "  --print-stats           per-pass statistics on stderr\n", f);
	fputs("compression (lossy, only when asked; runs after the -O passes):\n"
	      "  --prune=SPARSITY[:METHOD]  prune weight layers to SPARSITY in "
	      "[0, 1];\n"
	      "                          METHOD: default (classifier at half "
	      "the sparsity;\n"
	      "                          wanda with --calib, else global), "
	      "magnitude, global,\n"
	      "                          random, l1, l2, nmN:M (e.g. nm2:4), "
	      "blockRxC (e.g.\n"
	      "                          block4x4), dense; with --calib: apoz, "
	      "activation, wanda\n"
	      "  --prune-rules FILE      per-layer rules (docs/compression.md)\n"
	      "  --prune=auto            per-layer sparsities chosen on --calib"
	      " data so that\n"
	      "                          --tolerance holds on the evaluation "
	      "set\n"
	      "  --emit-rules FILE       with --prune=auto: write its choice as"
	      " a rules file\n"
	      "  --share=K[:SCOPE]       k-means weight sharing, K in 2..256 "
	      "centroids;\n"
	      "                          SCOPE: layer (a codebook per layer, "
	      "default)\n"
	      "                          or global (one for all layers)\n"
	      "  --calib FILE.npy        calibration inputs, samples along dim 0, "
	      "one file per\n"
	      "                          graph input (repeatable): refit runs "
	      "after pruning\n"
	      "                          and sharing; fidelity is measured on "
	      "them (default:\n"
	      "                          seeded random inputs)\n"
	      "  --eval FILE.npy         evaluation inputs for fidelity, "
	      "--tolerance, searches\n"
	      "                          (default: --calib; repeatable like it)\n"
	      "  --labels FILE.npy       int labels of the evaluation set: "
	      "report accuracy\n"
	      "  --no-refit              with --calib: no least-squares refit\n"
	      "  --prune-steps=N         prune in N steps, refit after each "
	      "(default with\n"
	      "                          --calib: 4 up to 2M weights, else 1)\n"
	      "  --distill[=T]           tune the fully-connected head on the "
	      "teacher's\n"
	      "                          softened logits (KD loss, temperature "
	      "T, default 4)\n"
	      "  --slim                  with --calib and --tolerance: remove "
	      "residual blocks,\n"
	      "                          hidden layers, merge linear layers "
	      "(refit after each)\n"
	      "  --select-features=K|auto  with --calib: keep K input features "
	      "(auto: the\n"
	      "                          fewest within --tolerance) of a "
	      "fully-connected\n"
	      "                          first layer; the rest are never read\n"
	      "  --tolerance X           fail if top-1 agreement with the "
	      "uncompressed\n"
	      "                          model is below 1-X (with --labels: if"
	      " accuracy\n"
	      "                          drops by more than X)\n"
	      "  --report                per-layer table, sizes and fidelity "
	      "(stdout)\n"
	      "  --report=json FILE      the same figures as one JSON document"
	      " (- for stdout;\n"
	      "                          docs/report-json.md)\n"
	      "  --report=svg FILE       charts: per-layer sparsity and bytes,"
	      " accuracy\n"
	      "                          against size when a search ran\n"
	      "  --emit-onnx FILE        write the model after all passes as "
	      "plain ONNX\n"
	      "                          (without -o, only that file)\n"
	      "  --sparse-kernel=K       auto (cost model, default), dense, "
	      "unrolled or table\n"
	      "                          for every weight layer that can take "
	      "it (testing)\n"
	      "  -v                      print each phase and its time "
	      "(stderr)\n"
	      "  --progress, --no-progress  progress of the long stages on "
	      "stderr (default:\n"
	      "                          only when stderr is a terminal)\n"
	      "  --                      the next argument is the model, even"
	      " if it starts\n"
	      "                          with -\n"
	      "  --help, --version       this text; the versions of nncc and "
	      "LLVM, the default\n"
	      "                          target\n", f);
}

int
nncc_err(const char *fmt, const char *a)
{
	fprintf(stderr, TOOL ": error: ");
	fprintf(stderr, fmt, a);
	fputc('\n', stderr);
	return 1;
}


/* --report=text, or --report=json|svg FILE (the next argument). */
static bool
parse_report(args *a, int argc, char **argv, int *i)
{
	static const char *const fmt[] = {"text", "json", "svg"};
	const char *f = argv[*i] + 9, *near;

	if (!strcmp(f, "text")) {
		a->report = true;
		return true;
	}
	if (strcmp(f, "json") && strcmp(f, "svg")) {
		if ((near = cli_nearest(f, fmt, 3)))
			fprintf(stderr, TOOL ": error: --report: unknown format "
				"'%s' (did you mean '%s'?)\n", f, near);
		else
			fprintf(stderr, TOOL ": error: --report: unknown format "
				"'%s' (expected text, json or svg)\n", f);
		return false;
	}
	/* "--report=json -o m.o": the option is not the file */
	if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1])) {
		nncc_err("--report=%s needs a file (FILE, or - for stdout)", f);
		return false;
	}
	*(f[0] == 'j' ? &a->report_json : &a->report_svg) = argv[++*i];
	return true;
}

/* 1 handled, 0 not a valued option, -1 error. */
static int
parse_valued(args *a, int argc, char **argv, int *i)
{
	bool bad = false;
	const char *v;
	int r = nncc_parse_compression(a, argc, argv, i);

	if (r != 0)
		return r;
	if (!strncmp(argv[*i], "--report=", 9))
		return parse_report(a, argc, argv, i) ? 1 : -1;
	if ((v = VALUE("-o")))
		a->out = v;
	else if (!bad && (v = VALUE("--name")))
		a->name = v;
	else if (!bad && ((v = VALUE("-H")) ||
			  (!bad && (v = VALUE("--emit-header")))))
		a->header = v;
	else if (!bad && (v = VALUE("--emit-ir")))
		a->emit_ir = v;
	else if (!bad && (v = VALUE("--emit-dot")))
		a->emit_dot = v;
	else if (!bad && (v = VALUE("--weights-section")))
		a->weights_section = v;
	else if (!bad && (v = VALUE("--target")))
		a->triple = v;
	else if (!bad && (v = VALUE("--print-after")))
		a->run.print_after = v;
	else if (!bad && (v = VALUE("--input-shape")))
		return cli_add_input_shape(TOOL, &a->shapes, &a->nshapes, v) ? 1 : -1;
	else if (!bad && (v = VALUE("--input-value")))
		return cli_add_input_value(TOOL, &a->values, &a->nvalues, v)
			       ? 1 : -1;
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
	else if (!strcmp(s, "-v"))
		a->verbose = true;
	else if (!strcmp(s, "--progress"))
		a->progress = 1;
	else if (!strcmp(s, "--no-progress"))
		a->progress = 0;
	else if (!strcmp(s, "--no-static-arena"))
		a->no_static_arena = true;
	else
		return cli_unknown_option(TOOL, s, usage);
	return 0;
}

/* 0 ok, 1 error, 2 --help, 3 --version. After "--", every argument is
 * the model, whatever it starts with. */
static int
parse_args(args *a, int argc, char **argv)
{
	bool options = true;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int r;
		if (options && !strcmp(s, "--")) {
			options = false;
			continue;
		}
		if (options && (!strcmp(s, "--help") || !strcmp(s, "-h")))
			return 2;
		if (options && !strcmp(s, "--version"))
			return 3;
		if (options && (r = parse_valued(a, argc, argv, &i)) != 0) {
			if (r < 0)
				return 1;
		} else if (options && s[0] == '-' && s[1]) {
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
		return nncc_err("no model given%s", " (see --help)");
	if (!a->out && !a->emit_onnx)
		return nncc_err("no output file given%s",
			   " (-o FILE, or --emit-onnx FILE)");
	const char *outs[4] = {a->out, a->emit_onnx, a->report_json,
			       a->report_svg};
	int nstdout = 0;
	for (int k = 0; k < 4; k++)
		nstdout += outs[k] && !strcmp(outs[k], "-");
	if (a->out && a->emit_onnx && !strcmp(a->out, "-") &&
	    !strcmp(a->emit_onnx, "-"))
		return nncc_err("-o and --emit-onnx cannot both be stdout%s", "");
	if (nstdout > 1)
		return nncc_err("-o, --emit-onnx and --report=json|svg: only "
				"one of them can be stdout%s", "");
	if (a->name && !cg_is_identifier(a->name))
		return nncc_err("--name '%s' is not a C identifier", a->name);
	return nncc_check_compression(a);
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

cg_output
nncc_output_kind(const args *a)
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

static void
codegen_phase(void *t, const char *name)
{
	cli_phase(t, name);
}

/* Whether argv[i] is (or carries) the value of an output option. */
static bool
output_path(const args *a, const char *s)
{
	const char *out[7] = {a->out, a->header, a->emit_ir, a->emit_onnx,
			      a->emit_dot, a->report_json, a->report_svg};
	for (int k = 0; k < 7; k++)
		if (out[k] && out[k] >= s && out[k] <= s + strlen(s))
			return true;
	return false;
}

/* Arguments that change nothing in the object: what the tool prints, and
 * the symbol prefix (which the object's symbols show anyway). */
static bool
no_effect(const char *s)
{
	static const char *const flags[] = {"-v", "--print-stats",
					    "--print-after-all", "--report",
					    "--progress", "--no-progress"};
	for (size_t k = 0; k < sizeof flags / sizeof *flags; k++)
		if (!strcmp(s, flags[k]))
			return true;
	return !strncmp(s, "--print-after=", 14) || !strncmp(s, "--name=", 7) ||
	       !strncmp(s, "--report=", 9);
}

/* The options of the command line, for the provenance: every argument
 * but the model, the output files (which name, not make, the model),
 * --name and the printing flags (no_effect), so that two builds of the
 * same object carry the same text. malloc'd. */
static char *
options_text(const args *a)
{
	size_t n = 1;
	for (int i = 1; i < a->argc; i++)
		n += strlen(a->argv[i]) + 1;
	char *t = nn_xmalloc(n), *p = t;
	*p = 0;
	for (int i = 1; i < a->argc; i++) {
		const char *s = a->argv[i];
		if (s == a->model || output_path(a, s) || no_effect(s) ||
		    !strcmp(s, "--"))
			continue;
		if (i + 1 < a->argc && s[0] == '-' && !strchr(s, '=') &&
		    ((output_path(a, a->argv[i + 1]) &&
		      a->argv[i + 1] != a->model) || !strcmp(s, "--name") ||
		     !strcmp(s, "--print-after"))) {
			i++; /* "-o FILE", "--name NAME" */
			continue;
		}
		p += sprintf(p, "%s%s", p == t ? "" : " ", s);
	}
	return t;
}

cg_options
nncc_cg_options(const args *a, const char *name)
{
	return (cg_options){.name = name, .opt_level = a->opt,
			    .size_level = a->size, .cpu = a->cpu,
			    .triple = a->triple,
			    .output = nncc_output_kind(a),
			    .force_kernel = a->kernel,
			    .no_static_arena = a->no_static_arena,
			    .weights_section = a->weights_section};
}

/* Writes the requested files; on failure removes the ones written. With
 * -v, code generation's phases are t's. */
static bool
emit_all(const args *a, ir_graph *g, const char *name, cli_timer *t,
	 nncc_report *rep, nn_diag *d)
{
	cg_options o = nncc_cg_options(a, name);
	cg_sizes sizes = {-1, -1, -1};
	char hash[17] = "?", *opts = options_text(a);
	const char *done[7];
	int n = 0;
	bool ok = true;

	o.print_stats = a->run.print_stats;
	o.phase = codegen_phase;
	o.phase_ctx = t;
	o.version = cli_nncc_version();
	o.options = opts;
	o.sizes = &sizes;
	if (fe_model_hash(a->model, hash))
		o.model_hash = hash;
	if (a->emit_onnx && (ok = fe_export_onnx(g, a->emit_onnx, d)))
		done[n++] = a->emit_onnx;
	if (ok && a->emit_ir && (ok = write_ir(a->emit_ir, g, d)))
		done[n++] = a->emit_ir;
	if (ok && a->emit_dot && (ok = nncc_write_dot(a->emit_dot, g, &o, d)))
		done[n++] = a->emit_dot;
	/* the object is built before the header, which gives its measured
	 * sizes, and written after it */
	cg_bytes obj = {NULL, 0};
	if (ok && a->out)
		ok = cg_compile_bytes(g, &o, &obj, d);
	if (ok && a->header && (ok = cg_write_header(g, &o, a->header, d)))
		done[n++] = a->header;
	if (ok && a->out && (ok = nn_out_write_file(a->out, obj.data, obj.len,
						    d)))
		done[n++] = a->out;
	/* the reports come last: they give the object's size */
	rep->sizes = sizes;
	rep->object_bytes = a->out && nncc_output_kind(a) == CG_OUT_OBJ
			    ? (int64_t)obj.len : -1;
	if (ok && a->report_json &&
	    (ok = nncc_write_report_json(a->report_json, a, rep, d)))
		done[n++] = a->report_json;
	if (ok && a->report_svg &&
	    (ok = nncc_write_report_svg(a->report_svg, a, rep, d)))
		done[n++] = a->report_svg;
	while (!ok && n-- > 0)
		nn_out_remove(done[n]);
	free(obj.data);
	free(opts);
	return ok;
}


/* The model through the pipeline spec; with t, "import" and "passes"
 * are its phases. */
static ir_graph *
load_optimized(const args *a, const char *spec, const pass_run_opts *ro,
	       cli_timer *t, nn_diag *d)
{
	fe_options fo = {.shapes = a->shapes, .nshapes = a->nshapes,
			 .values = a->values, .nvalues = a->nvalues};
	pass_pipeline *pl = pass_pipeline_parse(spec, d);
	ir_graph *g = NULL;

	nn_progress(t ? "import" : "reference", "reading %s",
		    cli_model_name(a->model));
	g = pl ? fe_load_model(a->model, &fo, d) : NULL;

	if (pl && a->prune_rules)  /* the reference pipeline has no prune */
		pass_pipeline_add_opt(pl, "prune", "rules", a->prune_rules);
	if (pl && a->emit_rules)
		pass_pipeline_add_opt(pl, "prune-auto", "emit", a->emit_rules);

	if (g && t)
		cli_phase(t, "import");
	if (g && !pass_pipeline_run(pl, g, ro, d)) {
		ir_graph_free(g);
		g = NULL;
	}
	if (pl)
		pass_pipeline_free(pl);
	if (g && t)
		cli_phase(t, "passes");
	return g;
}

/* The size that counts in the end: the whole object file as written. */
static void
report_object(const args *a)
{
	struct stat st;

	nn_progress_clear();
	if (a->out && strcmp(a->out, "-") && stat(a->out, &st) == 0)
		fprintf(nncc_report_stream(a), "object: %s, %lld bytes (code, "
			"data and ELF overhead)\n", a->out,
			(long long)st.st_size);
}

static int
compile(args *a)
{
	const char *ospec = pass_pipeline_for_level(a->opt, a->size);
	char spec[2048];
	pass_run_opts quiet = {0};
	char *name;
	nn_diag d;
	ir_graph *g = NULL, *ref = NULL;
	pass_env *env = NULL;
	nncc_report rep = {.object_bytes = -1};
	cli_timer t;
	bool ok = true;

	cli_timer_start(&t, TOOL, a->verbose);
	nn_diag_init(&d, TOOL, cli_model_name(a->model));
	nncc_choose_prune_steps(a, &d);
	if (nncc_lossy(a))
		nncc_lossy_spec(a, ospec, spec, sizeof spec);
	else
		snprintf(spec, sizeof spec, "%s", ospec);
	name = a->name ? nn_xstrdup(a->name)
		       : cg_default_name(a->out && strcmp(a->out, "-") ? a->out
					 : strcmp(a->model, "-") ? a->model
					 : "model");
	if (a->ncalib || a->neval) {
		nn_progress("data", "reading --calib and --eval");
		ok = (env = nncc_env_new(a, &d)) != NULL;
		cli_phase(&t, "data");
	}
	a->run.env = env;
	ok = ok && (g = load_optimized(a, spec, &a->run, &t, &d)) != NULL;
	if (ok && (nncc_lossy(a) || a->report || a->report_json ||
		   a->report_svg || a->tolerance >= 0)) {
		ref = load_optimized(a, ospec, &quiet, NULL, &d);
		cli_phase(&t, "reference");
		ok = ref && nncc_account(a, env, ref, g, name, &rep, &d);
		cli_phase(&t, "fidelity");
	}
	ok = ok && emit_all(a, g, name, &t, &rep, &d);
	if (ok) {
		cli_phase(&t, "emit");
		cli_timer_end(&t);
	}
	if (ok && a->report)
		report_object(a);
	if (g)
		ir_graph_free(g);
	if (ref)
		ir_graph_free(ref);
	cli_env_free(env);
	nncc_report_free(&rep);
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
	a.progress = -1;
	a.argc = argc;
	a.argv = argv;
	r = parse_args(&a, argc, argv);
	if (r == 2) {
		usage(stdout);
		return 0;
	}
	if (r == 3) {
		cli_version(TOOL);
		return 0;
	}
	if (r != 0)
		return 1;
	nn_progress_init(TOOL, a.progress);
	r = compile(&a);
	nn_progress_clear();
	free(a.shapes);
	cli_free_input_values(a.values, a.nvalues);
	return r;
}
