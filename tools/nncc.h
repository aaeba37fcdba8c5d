/* The nncc driver's own pieces: its arguments (nncc.c) and the
 * compression side (nncc_compress.c: the lossy flags, calibration data,
 * the pipeline they make, what compression cost and --report). */
#ifndef NNCC_TOOLS_NNCC_H
#define NNCC_TOOLS_NNCC_H

#include "codegen.h"
#include "cli.h"
#include "frontend.h"
#include "passes.h"

#define TOOL "nncc"
#define NNCC_MAX_DATA 16 /* --calib / --eval files: one per graph input */

typedef struct args {
	const char *model, *out, *name, *header, *emit_ir, *cpu, *triple;
	const char *emit_onnx; /* --emit-onnx: the graph as plain ONNX */
	const char *emit_dot;  /* --emit-dot: the graph as Graphviz DOT */
	int opt;          /* 0..3 */
	bool size, asm_out, emit_llvm;
	bool verbose;     /* -v: phases and their times */
	bool no_static_arena;        /* --no-static-arena */
	const char *weights_section; /* --weights-section NAME */
	int argc;         /* the command line, for the provenance */
	char **argv;
	pass_run_opts run;
	fe_input_shape *shapes;
	int nshapes;
	fe_input_value *values; /* --input-value */
	int nvalues;
	/* compression (docs/compression.md); prune_spec is the pass text */
	char prune_spec[256];
	const char *prune, *prune_rules, *labels;
	const char *calib[NNCC_MAX_DATA], *eval[NNCC_MAX_DATA];
	int ncalib, neval;
	bool no_refit;    /* --no-refit */
	bool slim;        /* --slim: remove layers and blocks (--tolerance) */
	const char *select; /* --select-features: K or "auto"; NULL: none */
	int prune_steps;  /* --prune-steps; 0: nncc_choose_prune_steps */
	double distill;   /* --distill temperature; 0: none */
	int share;        /* 0: no sharing */
	bool share_global; /* one codebook across layers */
	double tolerance; /* < 0: none */
	bool report;
	int kernel;       /* --sparse-kernel: a cg_kernel, 0 = cost model */
	bool prune_auto;  /* --prune=auto: the pass prune-auto */
	const char *emit_rules; /* --emit-rules: its choices as rules */
} args;

/* nncc.c */
int nncc_err(const char *fmt, const char *a); /* prints, returns 1 */
cg_output nncc_output_kind(const args *a);

/* nncc_compress.c */
/* The compression flags at argv[*i]: 1 handled, 0 not one, -1 error. */
int nncc_parse_compression(args *a, int argc, char **argv, int *i);
/* Checks the compression flags together; 0 or 1 after an error. */
int nncc_check_compression(args *a);
bool nncc_lossy(const args *a);
/* Sets a->prune_steps (if 0) for a pruning build with refit: from the
 * model's weight count. */
void nncc_choose_prune_steps(args *a, nn_diag *d);
/* The pipeline when compressing: the head of ospec, the lossy passes,
 * then the rest of ospec. */
void nncc_lossy_spec(const args *a, const char *ospec, char *buf, size_t n);
/* The data-driven passes' environment: --calib, --eval and --labels
 * loaded (NULL after an error); free with cli_env_free. */
pass_env *nncc_env_new(const args *a, nn_diag *d);
/* --report (stdout, or stderr when the object goes to stdout), or the
 * one-line cost of the lossy passes; then --tolerance. ref is the
 * uncompressed optimized graph, g the compressed one. */
/* nncc_dot.c: g (after the passes) as Graphviz DOT, the weight layers
 * with the kernels code generation under o gives them. */
bool nncc_write_dot(const char *path, ir_graph *g, const cg_options *o,
		    nn_diag *d);
/* The code generation options of a (name: the symbol prefix). */
cg_options nncc_cg_options(const args *a, const char *name);
bool nncc_account(const args *a, pass_env *e, ir_graph *ref, ir_graph *g,
		  const char *name, nn_diag *d);

#endif
