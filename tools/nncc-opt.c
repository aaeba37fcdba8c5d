/* nncc-opt: reads a model (ONNX or IR text), runs a pass pipeline on it and
 * prints the resulting IR. The workhorse of the lit tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "frontend.h"
#include "passes.h"

/* The value of option NAME at argv[*i] (cli_value), inside a parser with
 * argc, argv, i and a bool bad in scope. */
#define VALUE(name) cli_value(TOOL, argc, argv, i, name, &bad)

#define TOOL "nncc-opt"

typedef struct opt_args {
	const char *model, *passes, *out;
	bool print_weights, report, verbose;
	pass_run_opts run;
	fe_input_shape *shapes;
	int nshapes;
	fe_input_value *values; /* --input-value */
	int nvalues;
	/* data for the data-driven passes: one file per graph input */
	const char *calib[16], *eval[16], *labels;
	int ncalib, neval;
} opt_args;

static void
usage(FILE *f)
{
	int i;

	fprintf(f,
		"usage: " TOOL " MODEL [options]\n"
		"  MODEL                 ONNX or IR text, told apart by "
		"content; - for stdin\n"
		"  --passes=LIST         passes to run, comma-separated, each "
		"with optional {key=value,...}\n"
		"  -o FILE               write the IR to FILE (default: "
		"stdout)\n"
		"  --print-weights       print every constant in full\n"
		"  --print-after=PASS    dump the IR to stderr after each run "
		"of PASS\n"
		"  --print-after-all     dump the IR to stderr after every "
		"pass\n"
		"  --verify-each         verify the IR after every pass\n"
		"  --print-stats         per-pass statistics table on stderr\n"
		"  --input-shape N=DIMS  bind input N's shape, e.g. "
		"x=1x3x224x224, or symbolic\n"
		"                        dimension N in every input (N=8; "
		"repeatable)\n"
		"  --input-value N=V     freeze input N to a constant: a scalar "
		"or a .npy file\n"
		"                        (repeatable)\n"
		"  --calib FILE.npy      calibration samples of the data-driven "
		"passes, along\n"
		"                        dim 0; one file per graph input, in "
		"order (repeatable)\n"
		"  --eval FILE.npy       samples fidelity is measured on "
		"(default: --calib)\n"
		"  --labels FILE.npy     labels of --eval (else --calib)\n"
		"  --report              after each lossy pass, the fidelity "
		"against the\n"
		"                        model before the first (stderr)\n"
		"  --list-ops            the op table, one op a line: name, "
		"kind, flags,\n"
		"                        weight layout, export opset; then "
		"the names the\n"
		"                        importer reads as another op\n"
		"  -v                    print each phase and its time "
		"(stderr)\n"
		"  --                    the next argument is the model, even "
		"if it starts with -\n"
		"  --help, --version     this text; the versions of nncc and "
		"LLVM\n"
		"passes:\n");
	for (i = 0; i < pass_count; i++)
		fprintf(f, "  %-20s  %s\n", pass_table[i].name,
			pass_table[i].help);
}

/* --list-ops: every row of ops.def, then the importer's aliases. */
static void
list_ops(FILE *f)
{
	static const char *const forms[] = {
		[IR_W_NONE] = "-", [IR_W_OIHW] = "oihw", [IR_W_IOHW] = "iohw",
		[IR_W_KN] = "kn", [IR_W_GATES] = "gates"};
	const char *type;
	ir_op op;

	for (int i = 0; i < IR_NOPS; i++) {
		const ir_op_info *o = &ir_ops[i];
		int nf = 0;
		fprintf(f, "%-20s %-10s ", o->name, ir_kinds[o->kind].name);
		for (unsigned b = 1; ir_opf_name(b); b <<= 1)
			if (o->flags & b)
				fprintf(f, "%s%s", nf++ ? "," : "",
					ir_opf_name(b));
		fprintf(f, "%s %s %d\n", nf ? "" : "-", forms[o->weight],
			o->opset);
	}
	for (int i = 0; fe_import_alias(i, &type, &op); i++)
		fprintf(f, "%-20s alias      %s\n", type, ir_ops[op].name);
}

/* Handles argv[*i] if it is an option with a value; 1 handled, 0 not
 * this kind, -1 error. */
static int
parse_valued(opt_args *a, int argc, char **argv, int *i)
{
	bool bad = false;
	const char *v;

	if ((v = VALUE("--passes")))
		a->passes = v;
	else if (!bad && (v = VALUE("-o")))
		a->out = v;
	else if (!bad && (v = VALUE("--print-after")))
		a->run.print_after = v;
	else if (!bad && (v = VALUE("--input-shape")))
		return cli_add_input_shape(TOOL, &a->shapes, &a->nshapes, v) ? 1 : -1;
	else if (!bad && (v = VALUE("--input-value")))
		return cli_add_input_value(TOOL, &a->values, &a->nvalues, v)
			       ? 1 : -1;
	else if (!bad && (v = VALUE("--calib")))
		return cli_add_file(TOOL, a->calib, &a->ncalib, 16, "--calib",
				    v);
	else if (!bad && (v = VALUE("--eval")))
		return cli_add_file(TOOL, a->eval, &a->neval, 16, "--eval", v);
	else if (!bad && (v = VALUE("--labels")))
		a->labels = v;
	return bad ? -1 : v ? 1 : 0;
}

/* The flag s (an option without a value): false if it is none. */
static bool
parse_flag(opt_args *a, const char *s)
{
	if (!strcmp(s, "--print-weights"))
		a->print_weights = true;
	else if (!strcmp(s, "--print-after-all"))
		a->run.print_after_all = true;
	else if (!strcmp(s, "--verify-each"))
		a->run.verify_each = true;
	else if (!strcmp(s, "--report"))
		a->report = true;
	else if (!strcmp(s, "--print-stats"))
		a->run.print_stats = true;
	else if (!strcmp(s, "-v"))
		a->verbose = true;
	else
		return false;
	return true;
}

/* 0 ok, 1 error, 2 --help given, 3 --list-ops given, 4 --version.
 * After "--", the argument is the model whatever it starts with. */
static int
parse_args(opt_args *a, int argc, char **argv)
{
	bool options = true;
	int i, r;

	for (i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (options && !strcmp(s, "--")) {
			options = false;
			continue;
		}
		if (options && (!strcmp(s, "--help") || !strcmp(s, "-h")))
			return 2;
		if (options && !strcmp(s, "--list-ops"))
			return 3;
		if (options && !strcmp(s, "--version"))
			return 4;
		if (options && (r = parse_valued(a, argc, argv, &i)) != 0) {
			if (r < 0)
				return 1;
		} else if (options && s[0] == '-' && s[1] != 0) {
			if (!parse_flag(a, s))
				return cli_unknown_option(TOOL, s, usage);
		} else if (a->model) {
			fprintf(stderr, TOOL ": error: more than one model "
				"given ('%s' and '%s')\n", a->model, s);
			return 1;
		} else
			a->model = s;
	}
	if (!a->model) {
		fprintf(stderr, TOOL ": error: no model given (see --help)\n");
		return 1;
	}
	return 0;
}

static ir_graph *
load(const opt_args *a, nn_diag *d)
{
	fe_options fo = {.shapes = a->shapes, .nshapes = a->nshapes,
			 .values = a->values, .nvalues = a->nvalues};

	return fe_load_model(a->model, &fo, d);
}

/* Writes the IR to path (see nn_out_open: never a partial file). */
static bool
write_output(const char *path, ir_graph *g, const ir_print_opts *po,
	     nn_diag *d)
{
	nn_outfile o;
	FILE *f = nn_out_open(&o, path, d);

	if (!f)
		return false;
	ir_print(f, g, po);
	return nn_out_close(&o, true, d);
}

static int
run(opt_args *a)
{
	ir_print_opts po = { a->print_weights };
	pass_pipeline *pl;
	nn_diag pd, d;
	ir_graph *g;
	cli_timer t;
	bool ok;

	cli_timer_start(&t, TOOL, a->verbose);
	nn_diag_init(&pd, TOOL, NULL);
	pl = pass_pipeline_parse(a->passes ? a->passes : "", &pd);
	if (!pl)
		return 1;
	nn_diag_init(&d, TOOL, cli_model_name(a->model));
	ok = true;
	if (a->ncalib || a->neval) {
		a->run.env = cli_env_new(a->calib, a->ncalib, a->eval,
					 a->neval, a->labels, &d);
		ok = a->run.env != NULL;
	}
	if (a->run.env)
		a->run.env->stages = a->report;
	g = ok ? load(a, &d) : NULL;
	if (g)
		cli_phase(&t, "import");
	ok = g && pass_pipeline_run(pl, g, &a->run, &d);
	if (ok)
		cli_phase(&t, "passes");
	if (a->run.env && a->run.env->log)
		fputs(a->run.env->log, stderr);
	if (ok && a->out)
		ok = write_output(a->out, g, &po, &d);
	else if (ok)
		ok = write_output("-", g, &po, &d);
	if (ok) {
		cli_phase(&t, "print");
		cli_timer_end(&t);
	}
	pass_pipeline_free(pl);
	cli_env_free(a->run.env);
	if (g)
		ir_graph_free(g);
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	opt_args a;
	int r;

	memset(&a, 0, sizeof a);
	r = parse_args(&a, argc, argv);
	if (r == 2) {
		usage(stdout);
		r = 0;
	} else if (r == 3) {
		list_ops(stdout);
		r = 0;
	} else if (r == 4) {
		cli_version(TOOL);
		r = 0;
	} else if (r == 0) {
		/* the searches' progress, on a terminal only */
		nn_progress_init(TOOL, -1);
		r = run(&a);
		nn_progress_clear();
	}
	free(a.shapes);
	cli_free_input_values(a.values, a.nvalues);
	return r;
}
