/* nncc: the compiler driver. Loads a model (ONNX or IR text), runs the
 * pass pipeline of the -O level and emits an object file (or assembly,
 * LLVM IR, bitcode) and optionally its C header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "frontend.h"
#include "passes.h"

#define TOOL "nncc"
#define NNCC_VERSION "0.1.0"

typedef struct args {
	const char *model, *out, *name, *header, *emit_ir, *cpu, *triple;
	int opt;          /* 0..3 */
	bool size, asm_out, emit_llvm;
	pass_run_opts run;
	fe_input_shape *shapes;
	int nshapes;
} args;

static void
usage(FILE *f)
{
	fputs("usage: " TOOL " MODEL [options] -o FILE\n"
	      "  MODEL                   .onnx file or IR text (.nnir)\n"
	      "  -o FILE                 output (object by default; - for "
	      "stdout)\n"
	      "  -O0 -O1 -O2 -O3 -Os     optimization level (default -O2)\n"
	      "  -S                      emit assembly (with --emit-llvm: "
	      "LLVM IR text)\n"
	      "  --emit-llvm             emit LLVM bitcode (LLVM IR with -S)\n"
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
	      "  --prune=SPARSITY[:METHOD] --share=K --calib FILE.npy\n"
	      "  --labels FILE.npy --tolerance X --emit-onnx FILE --report\n"
	      "                          compression (not implemented yet)\n"
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

/* "--name=V" or "--name V" (when name is followed by '=' or nothing). */
static const char *
value(int argc, char **argv, int *i, const char *name, bool *bad)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != 0)
		return NULL;
	if (*i + 1 >= argc) {
		err("%s needs a value", name);
		*bad = true;
		return NULL;
	}
	return argv[++*i];
}

static const char *const compression[] = {
	"--prune", "--share", "--calib", "--labels", "--tolerance",
	"--emit-onnx", NULL,
};

static bool
add_shape(args *a, const char *v)
{
	a->shapes = nn_xrealloc(a->shapes, sizeof(fe_input_shape) *
					   (size_t)(a->nshapes + 1));
	if (!fe_parse_input_shape(v, &a->shapes[a->nshapes])) {
		err("malformed --input-shape '%s' (expected NAME=1x3x224x224)",
		    v);
		return false;
	}
	a->nshapes++;
	return true;
}

/* 1 handled, 0 not a valued option, -1 error. */
static int
parse_valued(args *a, int argc, char **argv, int *i)
{
	bool bad = false;
	const char *v;

	for (int k = 0; compression[k]; k++)
		if ((v = value(argc, argv, i, compression[k], &bad)) || bad) {
			if (!bad)
				err("%s is not implemented yet", compression[k]);
			return -1;
		}
	if ((v = value(argc, argv, i, "-o", &bad)))
		a->out = v;
	else if (!bad && (v = value(argc, argv, i, "--name", &bad)))
		a->name = v;
	else if (!bad && ((v = value(argc, argv, i, "-H", &bad)) ||
			  (!bad && (v = value(argc, argv, i, "--emit-header",
					      &bad)))))
		a->header = v;
	else if (!bad && (v = value(argc, argv, i, "--emit-ir", &bad)))
		a->emit_ir = v;
	else if (!bad && (v = value(argc, argv, i, "--target", &bad)))
		a->triple = v;
	else if (!bad && (v = value(argc, argv, i, "--print-after", &bad)))
		a->run.print_after = v;
	else if (!bad && (v = value(argc, argv, i, "--input-shape", &bad)))
		return add_shape(a, v) ? 1 : -1;
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
		return err("%s is not implemented yet", s);
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
	if (!a->out)
		return err("no output file given%s", " (-o FILE)");
	if (a->name && !cg_is_identifier(a->name))
		return err("--name '%s' is not a C identifier", a->name);
	return 0;
}

static bool
write_ir(const char *path, ir_graph *g, nn_diag *d)
{
	char *tmp = nn_xmalloc(strlen(path) + 16);
	FILE *f;
	bool ok;

	sprintf(tmp, "%s.tmp%ld", path, (long)rand());
	if (!(f = fopen(tmp, "w"))) {
		nn_error(d, "cannot write '%s'", path);
		free(tmp);
		return false;
	}
	ir_print(f, g, &(ir_print_opts){true});
	ok = !ferror(f) && fclose(f) == 0 && rename(tmp, path) == 0;
	if (!ok) {
		nn_error(d, "cannot write '%s'", path);
		remove(tmp);
	}
	free(tmp);
	return ok;
}

static cg_output
output_kind(const args *a)
{
	if (a->emit_llvm)
		return a->asm_out ? CG_OUT_LL : CG_OUT_BC;
	return a->asm_out ? CG_OUT_ASM : CG_OUT_OBJ;
}

/* Writes the requested files; on failure removes the ones written. */
static bool
emit_all(const args *a, ir_graph *g, const char *name, nn_diag *d)
{
	cg_options o = {name, a->opt, a->size, a->cpu, a->triple,
			output_kind(a)};

	if (a->emit_ir && !write_ir(a->emit_ir, g, d))
		return false;
	if (a->header && !cg_write_header(g, name, a->header, d)) {
		if (a->emit_ir)
			remove(a->emit_ir);
		return false;
	}
	if (!cg_compile(g, &o, a->out, d)) {
		if (a->emit_ir)
			remove(a->emit_ir);
		if (a->header && strcmp(a->header, "-"))
			remove(a->header);
		return false;
	}
	return true;
}

static int
compile(args *a)
{
	fe_options fo = {a->shapes, a->nshapes};
	const char *spec = pass_pipeline_for_level(a->opt, a->size);
	char *name;
	pass_pipeline *pl;
	nn_diag d;
	ir_graph *g;
	bool ok;

	nn_diag_init(&d, TOOL, a->model);
	pl = pass_pipeline_parse(spec, &d);
	if (!pl)
		return 1;
	name = a->name ? nn_xstrdup(a->name)
		       : cg_default_name(strcmp(a->out, "-") ? a->out
							     : a->model);
	g = fe_load_model(a->model, &fo, &d);
	ok = g && pass_pipeline_run(pl, g, &a->run, &d);
	ok = ok && emit_all(a, g, name, &d);
	pass_pipeline_free(pl);
	if (g)
		ir_graph_free(g);
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
